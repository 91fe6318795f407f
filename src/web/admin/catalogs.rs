//! Report catalogs: the shipped ones and those loaded, and loading a corrected one
//! before a year's reports start.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::db::{self};
use crate::domain::catalog::{self, Catalog};
use crate::domain::wareki;
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::upload::{self, Refusal, UploadProblem};
use crate::web::views;

#[derive(Serialize)]
struct CatalogView {
    fiscal_year: i32,
    version: String,
    title: String,
    items: usize,
    provisional: Vec<String>,
    source: &'static str,
}

fn view_of(c: &Catalog, source: &'static str) -> CatalogView {
    CatalogView {
        fiscal_year: c.fiscal_year,
        version: c.version.clone(),
        title: c.title.clone(),
        items: c.items.len(),
        provisional: c
            .items
            .iter()
            .filter(|i| i.provisional)
            .map(|i| i.code.clone())
            .collect(),
        source,
    }
}

async fn catalogs_page(
    state: &AppState,
    viewer: &Viewer,
    problems: Vec<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let catalogs = state.catalogs.clone();
    let views_and_loaded = state
        .db(move |conn| {
            let mut out = Vec::new();
            for fy in [2025, 2026, 2027] {
                if let Ok(c) = catalogs.current(conn, fy) {
                    let loaded = db::periods::loaded_catalog(conn, fy)?.is_some();
                    out.push(view_of(&c, if loaded { "読込" } else { "同梱" }));
                }
            }
            let loaded = db::periods::loaded_catalogs(conn)?;
            Ok((out, loaded))
        })
        .await?;
    let (current, loaded) = views_and_loaded;
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("current", &current);
    ctx.insert(
        "loaded",
        &loaded
            .iter()
            .map(|l| {
                serde_json::json!({
                    "fiscal_year": l.fiscal_year, "version": l.version,
                    "loaded_at": wareki::datetime_jst(l.loaded_at),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert("problems", &problems);
    ctx.insert("notice", &notice);
    ctx.insert(
        "shipped_years",
        &[2025, 2026]
            .iter()
            .filter(|y| catalog::shipped(**y).is_some())
            .collect::<Vec<_>>(),
    );
    ctx.html_status(status, "admin/catalogs.html")
}

pub async fn catalogs(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<CatalogsQuery>,
) -> Result<HttpResponse, AppError> {
    let notice = query
        .loaded
        .as_ref()
        .map(|v| format!("カタログ {v} を読み込みました。"));
    catalogs_page(&state, &viewer, Vec::new(), notice, StatusCode::OK).await
}

pub async fn load_catalog(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let body = match catalog_text(&state, &viewer, &req, payload).await {
        Ok(body) => body,
        Err(Refusal::Page(message, status)) => {
            return catalogs_page(&state, &viewer, vec![message], None, status).await;
        }
        Err(Refusal::Error(e)) => return Err(e),
    };
    let user_id = user.id;
    let loaded = state
        .db(move |conn| {
            Ok(crate::services::catalogs::load_catalog(
                conn,
                &body,
                Some(user_id),
            ))
        })
        .await?;
    match loaded {
        Ok(c) => Ok(see_other(&format!(
            "/admin/catalogs?loaded={}",
            urlencode(&format!("{} {}", c.fiscal_year, c.version))
        ))),
        Err(problems) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            catalogs_page(&state, &viewer, problems, None, status).await
        }
    }
}

/// The uploaded catalog as text. A file this page could not receive, too large
/// included, answers 400: the page shows one list of problems, not a size limit.
async fn catalog_text(
    state: &AppState,
    viewer: &Viewer,
    req: &HttpRequest,
    payload: Multipart,
) -> Result<String, Refusal> {
    let max_mb = state.settings.max_upload_mb;
    let limit = max_mb as usize * 1024 * 1024;
    let upload = upload::read(req, payload, &viewer.csrf, limit)
        .await
        .map_err(|problem| match problem {
            UploadProblem::Csrf => Refusal::Error(AppError::Csrf),
            problem => Refusal::Page(problem.message(max_mb), StatusCode::BAD_REQUEST),
        })?;
    String::from_utf8(upload.bytes).map_err(|_| {
        Refusal::unprocessable("カタログは UTF-8 のテキスト（TOML）で保存してください")
    })
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|s| s.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct CatalogsQuery {
    loaded: Option<String>,
}
