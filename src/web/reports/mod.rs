//! Report entry for institutions and, by proxy (代理入力), for officers: the filings of
//! an institution and opening a report (`filing`), the overview, confirmation and
//! submission (`overview`), section screens made from the catalog (`entry`), and
//! versions, printouts and the answers document (`print`). Everything is scoped:
//! another institution's report answers 404.

pub mod entry;
pub mod filing;
pub mod overview;
pub mod print;

use serde::Serialize;

use super::AppState;
use super::session::CurrentUser;
use crate::domain::report::{self};
use crate::domain::wareki;
use crate::services::reports::{self as service, Loaded};
use crate::web::error::AppError;

pub(super) fn today() -> chrono::NaiveDate {
    wareki::today_jst(chrono::Utc::now())
}

#[derive(Serialize)]
pub(super) struct ReportHead {
    id: i32,
    fiscal_year: i32,
    cycle: i32,
    kind: &'static str,
    status: &'static str,
    status_code: &'static str,
    editable: bool,
    revision: i32,
    versions: i32,
    proxy: bool,
    return_reason: Option<String>,
    catalog_version: String,
    submitted_at: Option<String>,
    updated_at: String,
}

pub(super) fn head(l: &Loaded) -> ReportHead {
    let r = &l.report;
    ReportHead {
        id: r.id,
        fiscal_year: r.fiscal_year,
        cycle: r.cycle,
        kind: l.kind.label(),
        status: l.status.label(),
        status_code: l.status.code(),
        editable: l.status.editable(),
        revision: r.revision,
        versions: r.versions,
        proxy: r.proxy,
        return_reason: r.return_reason.clone(),
        catalog_version: l.catalog.version.clone(),
        submitted_at: r.submitted_at.map(wareki::datetime_jst),
        updated_at: wareki::datetime_jst(r.updated_at),
    }
}

pub(super) async fn load(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
) -> Result<Loaded, AppError> {
    let scope = user.scope;
    let catalogs = state.catalogs.clone();
    let loaded = state
        .run(move |conn| service::load(conn, &catalogs, scope, id))
        .await?;
    Ok(loaded)
}

#[derive(Serialize)]
pub(super) struct SectionRow {
    id: String,
    title: String,
    state: &'static str,
    state_code: report::SectionState,
}

pub(super) fn section_rows(l: &Loaded) -> Vec<SectionRow> {
    report::section_states(&l.catalog, &l.marks, &l.answers)
        .into_iter()
        .filter_map(|(id, state)| {
            let s = l.catalog.section(&id)?;
            Some(SectionRow {
                title: s.title.clone(),
                id,
                state: state.label(),
                state_code: state,
            })
        })
        .collect()
}
