//! The home page, the health check and the stylesheet.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::AppState;
use super::session::Viewer;
use super::views;
use crate::db::{self, areas, institutions};
use crate::domain::auth::Scope;
use crate::domain::institution::{Category, Status};
use crate::domain::wareki;
use crate::web::error::AppError;

/// The home page: a sign-in invitation for visitors, the scope's figures for officers,
/// the institution's own card for clinic users.
pub async fn home(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, AppError> {
    let deployment = state.deployment().await?;
    let mut ctx = views::Page::new(&viewer, &deployment);
    let fiscal_year = wareki::fiscal_year_of(wareki::today_jst(chrono::Utc::now()));
    ctx.insert("fiscal_year", &fiscal_year);
    ctx.insert("prefectures", &deployment.prefectures);
    match viewer.user.as_ref().map(|u| u.scope) {
        None => ctx.html("pages/home.html"),
        Some(Scope::Institution(id)) => institution_home(&state, ctx, id, fiscal_year).await,
        Some(scope) => officer_home(&state, ctx, scope, fiscal_year).await,
    }
}

/// The institution's card and its reports of this year and the last.
async fn institution_home(
    state: &AppState,
    mut ctx: views::Page,
    id: i32,
    fiscal_year: i32,
) -> Result<HttpResponse, AppError> {
    let (card, filings) = state
        .db(move |conn| {
            let card = institutions::card_within(conn, Scope::Institution(id), id)?;
            let filings: Vec<serde_json::Value> = db::reports::of_institution(conn, id)?
                .into_iter()
                .filter(|r| r.fiscal_year >= fiscal_year - 1)
                .map(filing_line)
                .collect();
            Ok(card.map(|c| (c, filings)))
        })
        .await?
        .ok_or(AppError::NotFound)?;
    ctx.insert("filings", &filings);
    let notices = super::help::notices_for(state, Some(Scope::Institution(id))).await?;
    ctx.insert("notices", &notices);
    let category = Category::from_code(&card.category).map(Category::label);
    let status = Status::from_code(&card.status).map(Status::label);
    ctx.insert("institution", &card);
    ctx.insert("category", &category);
    ctx.insert("status", &status);
    ctx.html("pages/home_institution.html")
}

/// A report on the institution's home: its year, its state, and why it came back.
fn filing_line(r: db::reports::ReportRow) -> serde_json::Value {
    use crate::domain::report::Status as ReportStatus;
    let returned = r.status == ReportStatus::Returned.code();
    serde_json::json!({
        "fiscal_year": r.fiscal_year,
        "status": ReportStatus::from_code(&r.status).map_or("", ReportStatus::label),
        "return_reason": returned.then_some(r.return_reason).flatten(),
    })
}

/// The scope's institution counts (kept until something changes) and this year's
/// report figures.
async fn officer_home(
    state: &web::Data<AppState>,
    mut ctx: views::Page,
    scope: Scope,
    fiscal_year: i32,
) -> Result<HttpResponse, AppError> {
    let shared = state.clone();
    // The counters are read with the counts, in one trip to the pool.
    let (counts, stamp) = state
        .db(move |conn| {
            let stamp = db::changes::stamp(conn)?;
            let counts = shared.cache.counts_or(scope, stamp, || {
                let mut counts = institutions::scope_counts(conn, scope)?;
                counts.scope_name = areas::scope_name(conn, scope)?;
                Ok::<_, db::DbError>(counts)
            })?;
            Ok((counts, stamp))
        })
        .await?;
    let stats = super::review::stats::kept_stats(state, scope, fiscal_year, stamp).await?;
    ctx.insert("stats", stats.as_ref());
    let scope_name = counts.scope_name.clone();
    ctx.insert("counts", &counts);
    ctx.insert("scope_name", &scope_name);
    ctx.html("pages/home_officer.html")
}

#[derive(serde::Serialize)]
struct Health {
    status: &'static str,
    database: &'static str,
}

/// For load balancers and monitoring: 200 when the database answers, 503 otherwise.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let database = if state.database.is_sqlite() {
        "sqlite"
    } else {
        "postgresql"
    };
    let ok = state.db(|conn| Ok(db::ping(conn)?)).await.is_ok();
    let body = Health {
        status: if ok { "ok" } else { "unavailable" },
        database,
    };
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// The progress bar of a campaign page.
pub async fn mail_script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../static/mail.js"))
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../static/app.css"))
}
