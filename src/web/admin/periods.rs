//! Each fiscal year's reporting period (受付期間), per prefecture.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::db::{self, areas};
use crate::domain::wareki;
use crate::services::periods::{self, PeriodInput, prefectures_in_scope};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

#[derive(Serialize)]
struct PeriodRowView {
    prefecture: String,
    fiscal_year: i32,
    opens_on: String,
    deadline: String,
    closes_on: String,
    contact: String,
    state: &'static str,
}

async fn periods_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    form: Option<PeriodInput>,
    errors: BTreeMap<&'static str, String>,
    notice: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope;
    let today = wareki::today_jst(chrono::Utc::now());
    let (prefectures, rows) = state
        .db(move |conn| {
            let prefectures = prefectures_in_scope(areas::prefectures(conn)?, scope);
            let mut rows = Vec::new();
            for p in &prefectures {
                for r in db::periods::periods(conn, p.id)? {
                    rows.push(PeriodRowView {
                        prefecture: p.name.clone(),
                        fiscal_year: r.fiscal_year,
                        opens_on: r.opens_on.to_string(),
                        deadline: r.deadline.to_string(),
                        closes_on: r.closes_on.to_string(),
                        contact: r.contact.clone(),
                        state: match r.period().state(today) {
                            crate::domain::report::PeriodState::NotYet { .. } => "受付開始前",
                            crate::domain::report::PeriodState::Open {
                                past_deadline: false,
                            } => "受付中",
                            crate::domain::report::PeriodState::Open {
                                past_deadline: true,
                            } => "受付中（期限後）",
                            crate::domain::report::PeriodState::Closed => "受付終了",
                        },
                    });
                }
            }
            Ok((prefectures, rows))
        })
        .await?;
    let current = wareki::fiscal_year_of(today);
    let mut ctx = views::Page::of(state, viewer).await?;
    let failed = !errors.is_empty();
    ctx.insert(
        "form",
        &form.unwrap_or_else(|| PeriodInput {
            fiscal_year: current.to_string(),
            opens_on: format!("{}-01-01", current + 1),
            deadline: format!("{}-02-28", current + 1),
            closes_on: format!("{}-03-31", current + 1),
            ..PeriodInput::default()
        }),
    );
    ctx.insert(
        "prefectures",
        &prefectures
            .iter()
            .map(|p| (p.id, p.name.clone()))
            .collect::<Vec<_>>(),
    );
    ctx.insert("years", &(current - 1..=current + 1).collect::<Vec<_>>());
    ctx.insert("rows", &rows);
    ctx.insert("errors", &errors);
    ctx.insert("notice", &notice);
    let status = if failed {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    ctx.html_status(status, "admin/periods.html")
}

pub async fn periods(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    periods_page(&state, &viewer, &user, None, BTreeMap::new(), None).await
}

pub async fn set_period(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<PeriodInput>,
) -> Result<HttpResponse, AppError> {
    let (actor, input) = (user.actor(&viewer), form.clone());
    let saved = state
        .try_run(move |conn| periods::set(conn, &actor, &input))
        .await?;
    match saved {
        Ok(()) => {
            let notice = Some("報告期間を保存しました。");
            periods_page(&state, &viewer, &user, None, BTreeMap::new(), notice).await
        }
        Err(periods::PeriodError::Fields(errors)) => {
            periods_page(&state, &viewer, &user, Some(form), errors, None).await
        }
        Err(e) => Err(e.into()),
    }
}
