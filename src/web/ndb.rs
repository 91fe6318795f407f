//! NDB counts import for officers: upload (CSV or Excel, long or wide form) → preview
//! with every problem listed → apply in one transaction, or cancel.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::AppState;
use super::csrf::{CsrfForm, Empty};
use super::error::AppError;
use super::gate::see_other;
use super::session::{CurrentUser, Viewer};
use super::upload::{self, Refusal};
use super::views;
use crate::db::{self, imports};
use crate::domain::auth::Scope;
use crate::domain::wareki;
use crate::import::ndb::{Layout, Plan};
use crate::services::imports::{By, ndb};

/// (the prefecture filter for stored imports, the prefecture id to record).
async fn prefecture_of(
    state: &AppState,
    user: &CurrentUser,
) -> Result<(Option<i32>, i32), AppError> {
    match user.scope {
        Scope::Prefecture(id) => Ok((Some(id), id)),
        Scope::All => {
            let first = state
                .db(|conn| Ok(db::areas::prefectures(conn)?.first().map(|p| p.id)))
                .await?
                .ok_or_else(|| AppError::Conflict("都道府県が登録されていません".into()))?;
            Ok((None, first))
        }
        _ => Err(AppError::Forbidden),
    }
}

#[derive(Serialize)]
struct YearSummary {
    fiscal_year: i32,
    rows: i64,
    institutions: i64,
}

#[derive(Serialize)]
struct RecentRow {
    id: i32,
    file_name: String,
    status: &'static str,
    created_at: String,
}

async fn upload_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    fiscal_year: Option<i32>,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (filter, _) = prefecture_of(state, user).await?;
    let current = wareki::fiscal_year_of(wareki::today_jst(chrono::Utc::now()));
    let years: Vec<i32> = (current - 2..=current).rev().collect();
    let (summaries, recent) = {
        let years = years.clone();
        state
            .db(move |conn| {
                let mut summaries = Vec::new();
                for fy in years {
                    let (rows, institutions) = db::ndb::ndb_summary(conn, fy)?;
                    summaries.push(YearSummary {
                        fiscal_year: fy,
                        rows,
                        institutions,
                    });
                }
                let recent: Vec<RecentRow> = imports::recent(conn, ndb::KIND, filter, 10)?
                    .into_iter()
                    .map(|r| RecentRow {
                        id: r.id,
                        file_name: r.file_name,
                        status: imports::Stage::label_of(&r.status),
                        created_at: wareki::datetime_jst(r.created_at),
                    })
                    .collect();
                Ok((summaries, recent))
            })
            .await?
    };
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("years", &years);
    ctx.insert("selected", &fiscal_year.unwrap_or(current - 1));
    ctx.insert("summaries", &summaries);
    ctx.insert("recent", &recent);
    ctx.insert("error", &error);
    ctx.insert("max_upload_mb", &state.settings.max_upload_mb);
    ctx.html_status(status, "ndb/upload.html")
}

pub async fn upload_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    upload_page(&state, &viewer, &user, None, None, StatusCode::OK).await
}

pub async fn upload(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let max_mb = state.settings.max_upload_mb;
    let upload = match upload::receive(&req, payload, &viewer.csrf, max_mb).await {
        Ok(upload) => upload,
        Err(refusal) => return refused(&state, &viewer, &user, None, refusal).await,
    };
    let Some(fiscal_year) = fiscal_year_of(&upload) else {
        let refusal = Refusal::unprocessable("年度を選んでください。");
        return refused(&state, &viewer, &user, None, refusal).await;
    };
    match stage_upload(&state, &user, fiscal_year, upload).await {
        Ok(id) => Ok(see_other(&format!("/ndb/imports/{id}"))),
        Err(refusal) => refused(&state, &viewer, &user, Some(fiscal_year), refusal).await,
    }
}

/// The upload page again with the refusal's message, the chosen year kept.
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    fiscal_year: Option<i32>,
    refusal: Refusal,
) -> Result<HttpResponse, AppError> {
    match refusal {
        Refusal::Page(message, status) => {
            upload_page(state, viewer, user, fiscal_year, Some(message), status).await
        }
        Refusal::Error(e) => Err(e),
    }
}

/// The year chosen on the form, typed in any width; only years the reports can have.
fn fiscal_year_of(upload: &upload::Upload) -> Option<i32> {
    crate::domain::normalize::digits(upload.field("fiscal_year"))
        .and_then(|d| d.parse().ok())
        .filter(|fy| (2024..=2100).contains(fy))
}

/// Reads the file and stores its preview (nothing changed yet): the import's id.
async fn stage_upload(
    state: &AppState,
    user: &CurrentUser,
    fiscal_year: i32,
    upload: upload::Upload,
) -> Result<i32, Refusal> {
    if upload.bytes.is_empty() {
        return Err(Refusal::unprocessable("ファイルを選んでください。"));
    }
    let (_, prefecture_id) = prefecture_of(state, user).await?;
    let (scope, user_id) = (user.scope, user.id);
    let catalogs = state.catalogs.clone();
    let limits = state.settings.import_limits;
    let staged = state
        .try_run(move |conn| {
            let file = ndb::NdbFile {
                fiscal_year,
                file_name: &upload.file_name,
                bytes: &upload.bytes,
            };
            ndb::preview(
                conn,
                &catalogs,
                scope,
                prefecture_id,
                &file,
                Some(user_id),
                &limits,
            )
        })
        .await?;
    staged.map_err(|e| match e {
        ndb::NdbError::Db(e) => Refusal::Error(e.into()),
        e => Refusal::unprocessable(e.to_string()),
    })
}

pub async fn show(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let (filter, _) = prefecture_of(&state, &user).await?;
    let id = path.into_inner();
    let row = state
        .db(move |conn| Ok(imports::find(conn, ndb::KIND, id, filter)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let plan: Plan = serde_json::from_str(&row.summary).map_err(AppError::internal)?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("id", &row.id);
    ctx.insert("file_name", &row.file_name);
    ctx.insert("status", &row.status);
    ctx.insert("status_label", imports::Stage::label_of(&row.status));
    ctx.insert("layout_label", &plan.layout.map(Layout::label));
    ctx.insert("created_at", &wareki::datetime_jst(row.created_at));
    ctx.insert("applied_at", &row.applied_at.map(wareki::datetime_jst));
    ctx.insert("rejected_shown", &plan.rejected);
    ctx.insert("codes_shown", &plan.unknown_codes);
    ctx.insert(
        "rejected_more",
        &plan.rejected_total.saturating_sub(plan.rejected.len()),
    );
    ctx.insert(
        "codes_more",
        &plan
            .unknown_codes_total
            .saturating_sub(plan.unknown_codes.len()),
    );
    ctx.insert("shown_rows", &crate::import::PREVIEW_ROWS);
    ctx.insert("plan", &plan);
    ctx.html("ndb/preview.html")
}

pub async fn apply(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let (filter, _) = prefecture_of(&state, &user).await?;
    let id = path.into_inner();
    let (scope, by) = (user.scope, By::user(&user.actor(&viewer)));
    let catalogs = state.catalogs.clone();
    let limits = state.settings.import_limits;
    state
        .run(move |conn| ndb::apply(conn, &catalogs, scope, id, filter, &by, &limits))
        .await?;
    Ok(see_other(&format!("/ndb/imports/{id}")))
}

pub async fn cancel(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let (filter, _) = prefecture_of(&state, &user).await?;
    let id = path.into_inner();
    state.run(move |conn| ndb::cancel(conn, id, filter)).await?;
    Ok(see_other(&format!("/ndb/imports/{id}")))
}

/// Every rejected row and unknown code of a standing preview as CSV.
pub async fn rows_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let (filter, _) = prefecture_of(&state, &user).await?;
    let id = path.into_inner();
    let scope = user.scope;
    let catalogs = state.catalogs.clone();
    let limits = state.settings.import_limits;
    let rows = state
        .run(move |conn| ndb::full_list(conn, &catalogs, id, filter, scope, &limits))
        .await?;
    let rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
    let bytes = super::institutions::csv_bytes(&["区分", "行", "医療機関コード", "内容"], &rows)?;
    Ok(super::institutions::csv_response(
        &format!("ndb-{id}-rows.csv"),
        bytes,
    ))
}
