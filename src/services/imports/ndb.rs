//! NDB counts (算定回数) as the master administrator and the command line load them:
//! read and preview (stored), then apply in one transaction, or cancel. Counts replace
//! those of the file's institutions for the year, all or nothing.

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use super::{Applied, By, Preview, StageError, Staged};
use crate::db::audit::{self, Action};
use crate::db::imports::ImportRow;
use crate::db::{self, DbConnection, DbError};
use crate::domain::auth::Scope;
use crate::import::ndb::{Layout, LayoutError, Parsed, Plan, parse, plan};
use crate::import::{FileError, Limits, read_grid};
use crate::services::catalogs::Catalogs;
use crate::services::reports::ReportError;
use crate::services::{Failure, Kind};

/// The `imports.kind` of NDB imports.
pub const KIND: &str = "ndb";

#[derive(Debug, thiserror::Error)]
pub enum NdbError {
    #[error("{0}")]
    File(#[from] FileError),
    #[error("{0}")]
    Layout(#[from] LayoutError),
    #[error("{0}")]
    Report(#[from] ReportError),
    #[error("この年度の報告項目カタログにNDBの項目がありません")]
    NoKeys,
    #[error("{0}")]
    Stage(#[from] StageError),
    #[error("{0}")]
    Db(#[from] DbError),
}

db_errors!(NdbError);

impl Failure for NdbError {
    fn kind(&self) -> Kind {
        match self {
            NdbError::Stage(e) => e.kind(),
            NdbError::Report(e) => e.kind(),
            NdbError::Db(e) => e.kind(),
            _ => Kind::Invalid,
        }
    }
}

/// The item keys the year's catalog takes NDB counts for.
fn known_keys(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    fiscal_year: i32,
) -> Result<BTreeSet<String>, NdbError> {
    let catalog = catalogs.current(conn, fiscal_year)?;
    let keys: BTreeSet<String> = catalog
        .items
        .iter()
        .filter_map(|i| i.ndb_key.clone())
        .collect();
    if keys.is_empty() {
        return Err(NdbError::NoKeys);
    }
    Ok(keys)
}

/// Compares with the master (within `scope`) and the counts as they are now.
fn plan_now(
    conn: &mut DbConnection,
    scope: Scope,
    fiscal_year: i32,
    parsed: &Parsed,
) -> Result<(Plan, HashSet<String>), DbError> {
    let master: HashSet<String> = db::institutions::codes_within(conn, scope)?
        .into_iter()
        .collect();
    let known: Vec<&str> = parsed
        .counts
        .iter()
        .map(|c| c.code.as_str())
        .filter(|c| master.contains(*c))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let counted = db::ndb::counted_codes(conn, fiscal_year, &known)?;
    Ok((plan(fiscal_year, parsed, &master, &counted), master))
}

/// Replaces the counts of the file's known institutions.
fn write_counts(
    conn: &mut DbConnection,
    fiscal_year: i32,
    parsed: &Parsed,
    master: &HashSet<String>,
) -> Result<usize, DbError> {
    let rows: Vec<db::ndb::NdbCount> = parsed
        .counts
        .iter()
        .filter(|c| master.contains(&c.code))
        .map(|c| db::ndb::NdbCount {
            fiscal_year,
            institution_code: &c.code,
            item_key: &c.key,
            count: c.count,
        })
        .collect();
    Ok(db::ndb::replace_ndb(conn, fiscal_year, &rows)?)
}

fn read(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    fiscal_year: i32,
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Parsed, NdbError> {
    let keys = known_keys(conn, catalogs, fiscal_year)?;
    let grid = read_grid(file_name, bytes, limits)?;
    Ok(parse(&grid, &keys)?)
}

/// Reads the file and compares it with the master, without changing anything.
pub fn read_and_plan(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    scope: Scope,
    file: &NdbFile,
    limits: &Limits,
) -> Result<(Parsed, Plan), NdbError> {
    let parsed = read(
        conn,
        catalogs,
        file.fiscal_year,
        file.file_name,
        file.bytes,
        limits,
    )?;
    let (plan, _) = plan_now(conn, scope, file.fiscal_year, &parsed)?;
    Ok((parsed, plan))
}

/// What a stored NDB preview needs besides its file.
#[derive(Serialize, Deserialize)]
struct Stored {
    fiscal_year: i32,
}

pub struct NdbFile<'a> {
    pub fiscal_year: i32,
    pub file_name: &'a str,
    pub bytes: &'a [u8],
}

/// Stores a preview; returns its id.
pub fn preview(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    scope: Scope,
    prefecture_id: i32,
    file: &NdbFile,
    by: Option<i32>,
    limits: &Limits,
) -> Result<i32, NdbError> {
    let (parsed, plan) = read_and_plan(conn, catalogs, scope, file, limits)?;
    let layout = match parsed.layout {
        Layout::Long => "ndb_long",
        Layout::Wide => "ndb_wide",
    };
    drop(parsed);
    let payload = crate::services::to_json(&Stored {
        fiscal_year: file.fiscal_year,
    })?;
    let summary = crate::services::to_json(&plan.kept())?;
    Ok(super::store(
        conn,
        &Preview {
            kind: KIND,
            file_name: file.file_name,
            layout,
            prefecture_id,
            by,
            fingerprint: "",
            payload: &payload,
            summary: &summary,
            bytes: file.bytes,
        },
    )?)
}

/// The NDB import in the staged flow. Counts replace counts: applying a preview after
/// other counts were loaded writes what the file says, so there is nothing to go stale.
struct NdbImport<'a> {
    catalogs: &'a Catalogs,
    scope: Scope,
    limits: &'a Limits,
}

impl Staged for NdbImport<'_> {
    const KIND: &'static str = KIND;
    const ACTION: Action = Action::NdbImport;
    const CHANGES: &'static [crate::db::changes::Counter] = &[];
    type Read = (i32, Parsed);
    type Done = Plan;
    type Error = NdbError;

    fn read(
        &self,
        conn: &mut DbConnection,
        row: &ImportRow,
        bytes: &[u8],
    ) -> Result<(i32, Parsed), NdbError> {
        let stored: Stored =
            serde_json::from_str(&row.payload).map_err(|_| StageError::FileGone)?;
        let fy = stored.fiscal_year;
        let parsed = read(conn, self.catalogs, fy, &row.file_name, bytes, self.limits)?;
        Ok((fy, parsed))
    }

    fn write(
        &self,
        conn: &mut DbConnection,
        row: &ImportRow,
        (fiscal_year, parsed): (i32, Parsed),
        _by: &By,
    ) -> Result<Applied<Plan>, NdbError> {
        let (plan, master) = plan_now(conn, self.scope, fiscal_year, &parsed)?;
        let written = write_counts(conn, fiscal_year, &parsed, &master)?;
        Ok(Applied {
            summary: crate::services::to_json(&plan.clone().kept())?,
            detail: serde_json::json!({
                "file": row.file_name,
                "fiscal_year": fiscal_year,
                "counts": written,
                "institutions": plan.institutions,
            }),
            done: plan,
        })
    }
}

pub fn apply(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    scope: Scope,
    import_id: i32,
    prefecture: Option<i32>,
    by: &By,
    limits: &Limits,
) -> Result<Plan, NdbError> {
    let staged = NdbImport {
        catalogs,
        scope,
        limits,
    };
    super::apply(conn, &staged, import_id, prefecture, by)
}

pub fn cancel(
    conn: &mut DbConnection,
    import_id: i32,
    prefecture: Option<i32>,
) -> Result<(), NdbError> {
    Ok(super::cancel(conn, KIND, import_id, prefecture)?)
}

/// Every problem row of a standing preview for the downloadable list: (区分, 行, 医療機関
/// コード, 内容).
pub fn full_list(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    import_id: i32,
    prefecture: Option<i32>,
    scope: Scope,
    limits: &Limits,
) -> Result<Vec<[String; 4]>, NdbError> {
    let (row, bytes) = match super::standing(conn, KIND, import_id, prefecture) {
        Err(StageError::AlreadyFinished) => return Err(StageError::FileGone.into()),
        other => other?,
    };
    let staged = NdbImport {
        catalogs,
        scope,
        limits,
    };
    let (fiscal_year, parsed) = staged.read(conn, &row, &bytes)?;
    let (plan, _) = plan_now(conn, scope, fiscal_year, &parsed)?;
    let mut out: Vec<[String; 4]> = plan
        .rejected
        .iter()
        .map(|r| {
            [
                "エラー".to_string(),
                r.row.to_string(),
                r.code.clone(),
                r.reason.clone(),
            ]
        })
        .collect();
    out.extend(plan.unknown_codes.iter().map(|c| {
        [
            "医療機関マスタにないコード".to_string(),
            String::new(),
            c.clone(),
            String::new(),
        ]
    }));
    Ok(out)
}

/// `kakari import ndb` and the demo: read and apply at once, for every institution.
pub fn import_file(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    file: &NdbFile,
    by: &By,
    limits: &Limits,
) -> Result<Plan, NdbError> {
    let scope = Scope::All;
    let fiscal_year = file.fiscal_year;
    let parsed = read(
        conn,
        catalogs,
        fiscal_year,
        file.file_name,
        file.bytes,
        limits,
    )?;
    db::write_transaction(conn, |conn| {
        let (plan, master) = plan_now(conn, scope, fiscal_year, &parsed)?;
        let written = write_counts(conn, fiscal_year, &parsed, &master)?;
        let detail = serde_json::json!({
            "file": file.file_name, "counts": written, "institutions": plan.institutions,
        });
        let entry = by.entry("ndb", Some(fiscal_year.to_string()), None, detail);
        audit::record(conn, Action::NdbImport, entry)?;
        Ok(plan)
    })
}
