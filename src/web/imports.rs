//! Importing the institution master: upload → preview (nothing changed yet) → apply in
//! one transaction, or cancel.

use super::upload::{self, Refusal};
use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::csrf::{CsrfForm, Empty};
use super::error::AppError;
use super::gate::see_other;
use super::session::{CurrentUser, Viewer};
use super::views;
use crate::db::{areas, imports};
use crate::domain::auth::Scope;
use crate::domain::wareki;
use crate::import::Listed;
use crate::services::imports::By;
use crate::services::imports::institutions::{self, ImportError, Summary};

/// The prefecture whose master the user keeps: its own, or (system administrator) the
/// one chosen on the form. `None` when the user's scope is narrower than a prefecture.
fn prefecture_scope(user: &CurrentUser) -> Option<Option<i32>> {
    match user.scope {
        Scope::All => Some(None),
        Scope::Prefecture(id) => Some(Some(id)),
        _ => None,
    }
}

#[derive(Serialize)]
struct RecentImport {
    id: i32,
    file_name: String,
    layout: &'static str,
    created_at: String,
    status: &'static str,
}

fn layout_label(s: &str) -> &'static str {
    match s {
        "bureau" => "コード内容別医療機関一覧表",
        "template" => "取込用テンプレート",
        _ => "",
    }
}

async fn upload_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let Some(prefecture) = prefecture_scope(user) else {
        return Err(AppError::Forbidden);
    };
    let (recent, prefectures) = state
        .db(move |conn| {
            Ok((
                imports::recent(conn, institutions::KIND, prefecture, 20)?,
                areas::prefectures(conn)?,
            ))
        })
        .await?;
    let recent: Vec<RecentImport> = recent
        .into_iter()
        .map(|r| RecentImport {
            id: r.id,
            file_name: r.file_name,
            layout: layout_label(&r.layout),
            created_at: wareki::datetime_jst(r.created_at),
            status: imports::Stage::label_of(&r.status),
        })
        .collect();
    let prefectures: Vec<(String, String)> = prefectures
        .into_iter()
        .filter(|p| prefecture.is_none_or(|id| id == p.id))
        .map(|p| (p.code, p.name))
        .collect();
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("recent", &recent);
    ctx.insert("prefectures", &prefectures);
    ctx.insert("error", &error);
    ctx.insert("max_mb", &state.settings.max_upload_mb);
    ctx.html_status(status, "imports/upload.html")
}

pub async fn upload_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    upload_page(&state, &viewer, &user, None, StatusCode::OK).await
}

pub async fn upload(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let Some(prefecture) = prefecture_scope(&user) else {
        return Err(AppError::Forbidden);
    };
    match stage_upload(&state, &viewer, &user, prefecture, &req, payload).await {
        Ok(id) => Ok(see_other(&format!("/institutions/imports/{id}"))),
        Err(Refusal::Page(message, status)) => {
            upload_page(&state, &viewer, &user, Some(message), status).await
        }
        Err(Refusal::Error(e)) => Err(e),
    }
}

/// Receives the file and stores its preview (nothing changed yet): the import's id.
async fn stage_upload(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    prefecture: Option<i32>,
    req: &HttpRequest,
    payload: Multipart,
) -> Result<i32, Refusal> {
    let max_mb = state.settings.max_upload_mb;
    let upload = upload::receive(req, payload, &viewer.csrf, max_mb).await?;
    if upload.bytes.is_empty() {
        return Err(Refusal::unprocessable("ファイルを選んでください。"));
    }
    let (user_id, limits) = (user.id, state.settings.import_limits);
    let staged = state
        .try_run(move |conn| {
            let file = institutions::Upload {
                prefecture,
                chosen_code: upload.field("prefecture"),
                file_name: &upload.file_name,
                bytes: &upload.bytes,
                user_id,
            };
            institutions::preview_upload(conn, &file, &limits)
        })
        .await?;
    staged.map_err(|e| match e {
        ImportError::Db(e) => Refusal::Error(e.into()),
        e => Refusal::unprocessable(e.to_string()),
    })
}

#[derive(Serialize)]
struct Shown<'a, T: Serialize> {
    rows: &'a [T],
    more: usize,
}

#[derive(Deserialize)]
pub struct ShowQuery {
    retired: Option<usize>,
}

fn shown<T: Serialize + Clone>(listed: &Listed<T>) -> Shown<'_, T> {
    Shown {
        rows: &listed.first,
        more: listed.more(),
    }
}

pub async fn show(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, AppError> {
    let Some(prefecture) = prefecture_scope(&user) else {
        return Err(AppError::NotFound);
    };
    let id = path.into_inner();
    let row = state
        .db(move |conn| Ok(imports::find(conn, institutions::KIND, id, prefecture)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let plan: Summary = serde_json::from_str(&row.summary).map_err(AppError::internal)?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("id", &row.id);
    ctx.insert("file_name", &row.file_name);
    ctx.insert("file_layout", layout_label(&row.layout));
    ctx.insert("status", &row.status);
    ctx.insert("status_label", imports::Stage::label_of(&row.status));
    ctx.insert("created_at", &wareki::datetime_jst(row.created_at));
    ctx.insert("applied_at", &row.applied_at.map(wareki::datetime_jst));
    ctx.insert("added_count", &plan.added.total);
    ctx.insert("updated_count", &plan.updated.total);
    ctx.insert("unchanged", &plan.unchanged);
    ctx.insert("rejected_count", &plan.rejected_rows);
    ctx.insert("missing_count", &plan.not_in_file.len());
    ctx.insert("added", &shown(&plan.added));
    ctx.insert("updated", &shown(&plan.updated));
    ctx.insert("rejected", &shown(&plan.rejected));
    ctx.insert("missing", &shown(&Listed::of(&plan.not_in_file)));
    ctx.insert("unmatched", &shown(&plan.unmatched));
    ctx.insert("warnings", &shown(&plan.warnings));
    ctx.insert("retired", &query.retired);
    ctx.insert("shown_rows", &crate::import::PREVIEW_ROWS);
    ctx.html("imports/preview.html")
}

pub async fn apply(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let Some(prefecture) = prefecture_scope(&user) else {
        return Err(AppError::NotFound);
    };
    let id = path.into_inner();
    let (by, limits) = (By::user(&user.actor(&viewer)), state.settings.import_limits);
    state
        .run(move |conn| institutions::apply(conn, id, prefecture, &by, &limits))
        .await?;
    Ok(see_other(&format!("/institutions/imports/{id}")))
}

/// 「ファイルにない機関を廃止にする」 after an applied import.
pub async fn retire_missing(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let Some(prefecture) = prefecture_scope(&user) else {
        return Err(AppError::NotFound);
    };
    let id = path.into_inner();
    let by = By::user(&user.actor(&viewer));
    let retired = state
        .run(move |conn| institutions::retire_missing(conn, id, prefecture, &by))
        .await?;
    Ok(see_other(&format!(
        "/institutions/imports/{id}?retired={retired}"
    )))
}

pub async fn cancel(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let Some(prefecture) = prefecture_scope(&user) else {
        return Err(AppError::NotFound);
    };
    let id = path.into_inner();
    state
        .run(move |conn| institutions::cancel(conn, id, prefecture))
        .await?;
    Ok(see_other(&format!("/institutions/imports/{id}")))
}

/// Every row of a standing preview as CSV, group by group (the page shows the first).
pub async fn rows_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let Some(prefecture) = prefecture_scope(&user) else {
        return Err(AppError::NotFound);
    };
    let id = path.into_inner();
    let limits = state.settings.import_limits;
    let rows = state
        .run(move |conn| institutions::full_list(conn, id, prefecture, &limits))
        .await?;
    let rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
    let bytes =
        super::institutions::csv_bytes(&["区分", "行", "医療機関コード", "名称", "内容"], &rows)?;
    Ok(super::institutions::csv_response(
        &format!("import-{id}-rows.csv"),
        bytes,
    ))
}
