//! The filings of an institution and opening a report (保険医療機関番号確認).

use super::today;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::db::institutions::{self, InstitutionCard};
use crate::db::reports as store;
use crate::domain::report::{self, PeriodState, ReportKind, Status};
use crate::domain::wareki;
use crate::services::reports::{self as service, ReportError};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

// ----- the filings of an institution -----

#[derive(Serialize)]
struct FilingRow {
    fiscal_year: i32,
    period: Option<crate::db::periods::PeriodRow>,
    period_text: String,
    open_to_institution: bool,
    cycles: Vec<CycleRow>,
    can_start: bool,
    can_change: bool,
}

#[derive(Serialize)]
struct CycleRow {
    id: i32,
    kind: &'static str,
    status: &'static str,
    versions: i32,
    submitted_at: Option<String>,
}

fn period_text(period: Option<&crate::db::periods::PeriodRow>, today: chrono::NaiveDate) -> String {
    let Some(p) = period else {
        return "報告期間は未設定です".into();
    };
    let span = format!(
        "{} 〜 {}（期限 {}）",
        wareki::date_wareki(p.opens_on),
        wareki::date_wareki(p.closes_on),
        wareki::date_wareki(p.deadline)
    );
    match p.period().state(today) {
        PeriodState::NotYet { .. } => format!("受付開始前　{span}"),
        PeriodState::Open {
            past_deadline: false,
        } => format!("受付中　{span}"),
        PeriodState::Open {
            past_deadline: true,
        } => format!("受付中（期限を過ぎています）　{span}"),
        PeriodState::Closed => format!("受付終了　{span}"),
    }
}

pub async fn filings(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let institution_id = path.into_inner();
    let (scope, officer) = (user.scope, user.role.is_officer());
    let (card, rows) = state
        .db(move |conn| filings_of(conn, scope, institution_id, officer))
        .await?
        .ok_or(AppError::NotFound)?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("institution", &card);
    ctx.insert("rows", &rows);
    ctx.insert("officer", &officer);
    ctx.html("reports/filings.html")
}

/// The institution (within the scope) and one row per fiscal year that has a period or
/// a report, newest first, with what the user may do in it.
fn filings_of(
    conn: &mut crate::db::DbConnection,
    scope: crate::domain::auth::Scope,
    institution_id: i32,
    officer: bool,
) -> Result<Option<(InstitutionCard, Vec<FilingRow>)>, crate::db::DbError> {
    let Some(card) = institutions::card_within(conn, scope, institution_id)? else {
        return Ok(None);
    };
    let today = today();
    let periods = crate::db::periods::periods(conn, card.prefecture_id)?;
    let reports = store::of_institution(conn, institution_id)?;
    let loaded: Vec<i32> = crate::db::periods::loaded_catalogs(conn)?
        .into_iter()
        .map(|c| c.fiscal_year)
        .collect();
    let mut years: Vec<i32> = periods.iter().map(|p| p.fiscal_year).collect();
    years.extend(reports.iter().map(|r| r.fiscal_year));
    years.sort_unstable_by(|a, b| b.cmp(a));
    years.dedup();
    let row = |fy: i32| {
        let period = periods.iter().find(|p| p.fiscal_year == fy).cloned();
        let state = period.as_ref().map(|p| p.period().state(today));
        let cycles: Vec<&store::ReportRow> =
            reports.iter().filter(|r| r.fiscal_year == fy).collect();
        let has_catalog = crate::domain::catalog::shipped(fy).is_some() || loaded.contains(&fy);
        FilingRow {
            fiscal_year: fy,
            period_text: period_text(period.as_ref(), today),
            open_to_institution: report::may_file(ReportKind::Periodic, false, state),
            can_start: cycles.is_empty()
                && report::may_file(ReportKind::Periodic, officer, state)
                && has_catalog,
            can_change: cycles
                .first()
                .is_some_and(|r| r.status == Status::Confirmed.code()),
            cycles: cycles.iter().map(|r| cycle_row(r)).collect(),
            period,
        }
    };
    Ok(Some((card, years.into_iter().map(row).collect())))
}

fn cycle_row(r: &store::ReportRow) -> CycleRow {
    CycleRow {
        id: r.id,
        kind: ReportKind::from_code(&r.kind).map_or("", ReportKind::label),
        status: Status::from_code(&r.status).map_or("", Status::label),
        versions: r.versions,
        submitted_at: r.submitted_at.map(wareki::datetime_jst),
    }
}

// ----- start: 保険医療機関番号確認 -----

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    kind: String,
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    skip: Option<String>,
}

async fn start_page(
    state: &AppState,
    viewer: &Viewer,
    card: &InstitutionCard,
    (fiscal_year, kind, typed): (i32, ReportKind, &str),
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("institution", card);
    ctx.insert("fiscal_year", &fiscal_year);
    ctx.insert("kind", kind.code());
    ctx.insert("kind_label", kind.label());
    ctx.insert("typed", typed);
    ctx.insert("error", &error);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    ctx.html_status(status, "reports/start.html")
}

/// A year no report can exist for (`-1`, `9999`) is a page that does not exist.
fn reporting_year(fiscal_year: i32) -> Result<(), AppError> {
    let today = crate::domain::wareki::today_jst(chrono::Utc::now());
    if crate::domain::report::is_reporting_year(fiscal_year, today) {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

fn kind_of(text: &str) -> ReportKind {
    ReportKind::from_code(text).unwrap_or(ReportKind::Periodic)
}

async fn card(state: &AppState, user: &CurrentUser, id: i32) -> Result<InstitutionCard, AppError> {
    let scope = user.scope;
    state
        .db(move |conn| Ok(institutions::card_within(conn, scope, id)?))
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn start_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, i32)>,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, AppError> {
    let (institution_id, fiscal_year) = path.into_inner();
    reporting_year(fiscal_year)?;
    let card = card(&state, &user, institution_id).await?;
    let kind = kind_of(&query.kind);
    start_page(&state, &viewer, &card, (fiscal_year, kind, ""), None).await
}

pub async fn start(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, i32)>,
    CsrfForm(form): CsrfForm<StartForm>,
) -> Result<HttpResponse, AppError> {
    let (institution_id, fiscal_year) = path.into_inner();
    reporting_year(fiscal_year)?;
    let kind = kind_of(&form.kind);
    let request = service::StartRequest {
        institution_id,
        fiscal_year,
        kind,
        typed_code: if form.skip.is_some() {
            String::new()
        } else {
            form.code.clone()
        },
        today: today(),
    };
    let (actor, catalogs) = (user.actor(&viewer), state.catalogs.clone());
    let result = state
        .try_run(move |conn| service::start(conn, &catalogs, &actor, &request))
        .await?;
    match result {
        Ok(id) => Ok(see_other(&format!("/reports/{id}"))),
        Err(ReportError::Code(message)) => {
            let card = card(&state, &user, institution_id).await?;
            let asked = (fiscal_year, kind, form.code.as_str());
            start_page(&state, &viewer, &card, asked, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}
