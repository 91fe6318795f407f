//! Publication (issue 16): the prefecture's rules, the municipalities' populations, and
//! publishing a fiscal year: a snapshot of the confirmed reports with the summary
//! tables suppressed once, at publishing, and one row per institution for the public
//! search. Nothing public changes until the year is published again.

pub mod files;
pub mod public;
pub mod search;
mod snapshot;

use chrono::{NaiveDateTime, Utc};

use super::catalogs::Catalogs;
use super::{By, Failure, Kind};
use crate::db::audit::{self, Action};
use crate::db::publication as store;
use crate::db::{DbConnection, DbError};
use crate::domain::auth::Scope;
use crate::domain::publication::{FieldErrors, PublicationRules, RulesInput, SummaryTables};
use crate::services::reports::ReportError;

pub use files::{public_columns, write_public, write_tables};
pub use snapshot::Built;

#[derive(Debug, thiserror::Error)]
pub enum PublicationError {
    #[error("入力内容を確かめてください")]
    Fields(FieldErrors),
    #[error("{0}")]
    Invalid(String),
    #[error("見つかりません")]
    NotFound,
    #[error("人口のファイルに誤りがあります（取り込んでいません）")]
    Population(Vec<String>),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Report(#[from] ReportError),
    #[error("ファイルを書き出せませんでした: {0}")]
    Io(#[from] std::io::Error),
}

db_errors!(PublicationError);

impl Failure for PublicationError {
    fn kind(&self) -> Kind {
        match self {
            PublicationError::Fields(_)
            | PublicationError::Invalid(_)
            | PublicationError::Population(_) => Kind::Invalid,
            PublicationError::NotFound => Kind::NotFound,
            PublicationError::Db(e) => e.kind(),
            PublicationError::Report(e) => e.kind(),
            PublicationError::Io(_) => Kind::Internal,
        }
    }
}

/// Only an administrator of the whole deployment or of this prefecture publishes for it.
fn check_prefecture(by: By, prefecture_id: i32) -> Result<(), PublicationError> {
    match by.scope() {
        Scope::All => Ok(()),
        Scope::Prefecture(id) if id == prefecture_id => Ok(()),
        _ => Err(PublicationError::NotFound),
    }
}

/// The prefecture's rules: as saved, else domain.md §5's defaults.
pub fn rules(
    conn: &mut DbConnection,
    prefecture_id: i32,
) -> Result<PublicationRules, PublicationError> {
    Ok(store::rules(conn, prefecture_id)?.unwrap_or_default())
}

pub fn save_rules(
    conn: &mut DbConnection,
    by: By,
    prefecture_id: i32,
    input: &RulesInput,
) -> Result<PublicationRules, PublicationError> {
    check_prefecture(by, prefecture_id)?;
    let rules = input.read().map_err(PublicationError::Fields)?;
    crate::db::write_transaction(conn, |conn| {
        store::save_rules(conn, prefecture_id, &rules, by.user_id(), now())?;
        let detail = serde_json::to_value(&rules).unwrap_or_default();
        audit::record(
            conn,
            Action::PublicationRules,
            by.entry("prefecture", prefecture_id, prefecture_id, detail),
        )?;
        Ok::<_, PublicationError>(())
    })?;
    Ok(rules)
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// What the populations page and the preview say about them.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PopulationState {
    pub municipalities: usize,
    pub imported: usize,
    /// The shipped approximate figures (demo only).
    pub approximate: usize,
    pub missing: Vec<String>,
}

pub fn population_state(
    conn: &mut DbConnection,
    prefecture_id: i32,
) -> Result<PopulationState, PublicationError> {
    let known = store::populations(conn)?;
    let mut state = PopulationState::default();
    for m in crate::db::areas::municipalities_of(conn, prefecture_id)? {
        state.municipalities += 1;
        match known.get(&m.id).map(|p| p.source.as_str()) {
            Some("import") => state.imported += 1,
            Some(_) => state.approximate += 1,
            None => state.missing.push(m.name),
        }
    }
    Ok(state)
}

/// `kakari import population FILE`: municipality code (5 digits, or 6 with the check
/// digit) and population, one per row, a heading row allowed. All rows or none.
pub fn import_population(
    conn: &mut DbConnection,
    by: By,
    prefecture_id: i32,
    file_name: &str,
    bytes: &[u8],
) -> Result<usize, PublicationError> {
    check_prefecture(by, prefecture_id)?;
    let grid =
        crate::import::read_grid(file_name, bytes, &crate::import::limits::Limits::default())
            .map_err(|e| PublicationError::Population(vec![e.to_string()]))?;
    let prefecture_code = crate::db::areas::code_of(conn, prefecture_id)?;
    let known: std::collections::HashMap<String, i32> =
        crate::db::areas::within(conn, Scope::Prefecture(prefecture_id))?
            .into_iter()
            .filter(|a| a.kind == crate::domain::area::AreaKind::Municipality.code())
            .map(|a| (a.code, a.id))
            .collect();
    let (rows, problems) = snapshot::read_populations(&grid, &prefecture_code, &known);
    if !problems.is_empty() {
        return Err(PublicationError::Population(problems));
    }
    if rows.is_empty() {
        return Err(PublicationError::Population(vec![
            "市区町村コードと人口の行がありません".into(),
        ]));
    }
    crate::db::write_transaction(conn, |conn| {
        store::set_populations(conn, &rows, "import", now())?;
        audit::record(
            conn,
            Action::PopulationImport,
            by.entry(
                "prefecture",
                prefecture_id,
                prefecture_id,
                serde_json::json!({ "file": file_name, "rows": rows.len() }),
            ),
        )?;
        Ok::<_, PublicationError>(())
    })?;
    Ok(rows.len())
}

/// The demo's populations: the shipped area file's approximate figures, marked so.
pub fn set_demo_populations(
    conn: &mut DbConnection,
    rows: &[(i32, i64)],
) -> Result<(), PublicationError> {
    store::set_populations(conn, rows, "demo", now())?;
    Ok(())
}

/// What publishing would make public now, and what is public.
pub struct Preview {
    pub built: Built,
    pub rules: PublicationRules,
    pub populations: PopulationState,
    pub published: Option<store::Publication>,
}

pub fn preview(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    by: By,
    prefecture_id: i32,
    fiscal_year: i32,
) -> Result<Preview, PublicationError> {
    check_prefecture(by, prefecture_id)?;
    let rules = rules(conn, prefecture_id)?;
    let built = snapshot::build(conn, catalogs, prefecture_id, fiscal_year, &rules, None)?;
    Ok(Preview {
        built,
        populations: population_state(conn, prefecture_id)?,
        published: store::publication(conn, prefecture_id, fiscal_year)?,
        rules,
    })
}

/// Publishes the year: replaces any earlier snapshot in one transaction.
pub fn publish(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    by: By,
    prefecture_id: i32,
    fiscal_year: i32,
) -> Result<Built, PublicationError> {
    check_prefecture(by, prefecture_id)?;
    let rules = rules(conn, prefecture_id)?;
    crate::db::write_transaction(conn, |conn| {
        store::remove_publication(conn, prefecture_id, fiscal_year)?;
        let rules_json = serde_json::to_string(&rules).unwrap_or_default();
        let id = store::insert_publication(
            conn,
            &store::NewPublication {
                prefecture_id,
                fiscal_year,
                published_at: now(),
                published_by: by.user_id(),
                confirmed_until: None,
                institutions: 0,
                rules: &rules_json,
                tables: "{}",
                raw_tables: "{}",
            },
        )?;
        let built = snapshot::build(conn, catalogs, prefecture_id, fiscal_year, &rules, Some(id))?;
        let tables = serde_json::to_string(&built.tables.clone().published()).unwrap_or_default();
        let raw = serde_json::to_string(&built.tables).unwrap_or_default();
        store::complete_publication(
            conn,
            id,
            built.confirmed_until,
            built.institutions,
            &tables,
            &raw,
        )?;
        audit::record(
            conn,
            Action::Publish,
            by.entry(
                "publication",
                fiscal_year,
                prefecture_id,
                serde_json::json!({
                    "fiscal_year": fiscal_year,
                    "institutions": built.institutions,
                    "primaries": built.tables.primaries,
                    "complements": built.tables.complements,
                }),
            ),
        )?;
        Ok(built)
    })
}

/// Takes the year down; false when it was not published.
pub fn unpublish(
    conn: &mut DbConnection,
    by: By,
    prefecture_id: i32,
    fiscal_year: i32,
) -> Result<bool, PublicationError> {
    check_prefecture(by, prefecture_id)?;
    crate::db::write_transaction(conn, |conn| {
        let removed = store::remove_publication(conn, prefecture_id, fiscal_year)?;
        if removed {
            audit::record(
                conn,
                Action::Unpublish,
                by.entry(
                    "publication",
                    fiscal_year,
                    prefecture_id,
                    serde_json::json!({ "fiscal_year": fiscal_year }),
                ),
            )?;
        }
        Ok(removed)
    })
}

/// A published year's tables: masked, or (`raw`, administrators only, recorded in
/// 操作履歴) as they were before masking.
pub fn published_tables(
    conn: &mut DbConnection,
    by: By,
    prefecture_id: i32,
    fiscal_year: i32,
    raw: bool,
) -> Result<(store::Publication, SummaryTables, PublicationRules), PublicationError> {
    let publication =
        store::publication(conn, prefecture_id, fiscal_year)?.ok_or(PublicationError::NotFound)?;
    let text = if raw {
        check_prefecture(by, prefecture_id)?;
        &publication.raw_tables
    } else {
        &publication.tables
    };
    let tables: SummaryTables = serde_json::from_str(text)
        .map_err(|e| PublicationError::Invalid(format!("集計表を読めません: {e}")))?;
    let rules: PublicationRules = serde_json::from_str(&publication.rules).unwrap_or_default();
    if raw {
        audit::record(
            conn,
            Action::Export,
            by.entry(
                "export",
                "tables-raw",
                prefecture_id,
                serde_json::json!({ "what": "集計表（伏せ字なし）", "fiscal_year": fiscal_year }),
            ),
        )?;
    }
    Ok((publication, tables, rules))
}

/// The prefecture an administrator publishes for: its own, or for an administrator of
/// the whole deployment, the first one (a deployment holds one prefecture in practice).
pub fn prefecture_of(conn: &mut DbConnection, by: By) -> Result<(i32, String), PublicationError> {
    let prefectures = crate::db::areas::prefectures(conn)?;
    let found = match by.scope() {
        Scope::All => prefectures.into_iter().next(),
        Scope::Prefecture(id) => prefectures.into_iter().find(|p| p.id == id),
        _ => None,
    };
    found
        .map(|p| (p.id, p.name))
        .ok_or(PublicationError::NotFound)
}

/// A fiscal year on the publication page: its period, and what is public of it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct YearState {
    pub fiscal_year: i32,
    pub published_on: Option<String>,
    pub institutions: Option<i32>,
}

/// The years with a reporting period or a publication, newest first.
pub fn years(
    conn: &mut DbConnection,
    prefecture_id: i32,
) -> Result<Vec<YearState>, PublicationError> {
    let mut years: Vec<i32> = crate::db::periods::periods(conn, prefecture_id)?
        .into_iter()
        .map(|p| p.fiscal_year)
        .collect();
    let published: Vec<(i32, i32, NaiveDateTime, i32)> = store::publications(conn)?
        .into_iter()
        .filter(|p| p.0 == prefecture_id)
        .collect();
    years.extend(published.iter().map(|p| p.1));
    years.sort_unstable_by(|a, b| b.cmp(a));
    years.dedup();
    Ok(years
        .into_iter()
        .map(|fy| {
            let p = published.iter().find(|p| p.1 == fy);
            YearState {
                fiscal_year: fy,
                published_on: p.map(|p| crate::domain::wareki::datetime_jst(p.2)),
                institutions: p.map(|p| p.3),
            }
        })
        .collect())
}
