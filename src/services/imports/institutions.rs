//! The institution-master import: preview (stored), apply in one transaction or cancel,
//! and afterwards, at the officer's choice, 廃止 for institutions the file did not list.

use std::collections::HashMap;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{Applied, By, Preview, StageError, Staged};
use crate::db::audit::{self, Action};
use crate::db::changes::Counter;
use crate::db::imports::{ImportRow, Stage};
use crate::db::{self, DbConnection, DbError};
use crate::domain::area::{MunicipalityName, match_municipality};
use crate::domain::codes::FeeTable;
use crate::domain::institution::{Category, Status, TargetFacts, is_reporting_target};
use crate::domain::normalize::search_key;
use crate::import::institutions::{self, Parsed, Record, Rejected};
use crate::import::plan::{
    self, Added, Missing, Plan, Target, TargetError, Unmatched, Updated, Warning,
};
use crate::import::{FileError, Limits, Listed, read_grid};
use crate::services::{Failure, Kind};

/// The `imports.kind` of institution-master imports.
pub const KIND: &str = "institutions";

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    File(#[from] FileError),
    #[error("{0}")]
    Layout(#[from] institutions::LayoutError),
    #[error("このファイルは{file}の一覧です。{target}の一覧を選んでください")]
    OtherPrefecture { file: String, target: String },
    #[error("{0}")]
    Target(#[from] TargetError),
    #[error("{0}")]
    Stage(#[from] StageError),
    #[error("反映した取込についてだけ、ファイルにない機関を廃止にできます")]
    NotApplied,
    #[error(
        "プレビューの後に医療機関マスタが変わりました。もう一度ファイルを取り込んでプレビューからやり直してください"
    )]
    Stale,
    #[error("{0}")]
    Db(#[from] DbError),
}

db_errors!(ImportError);

impl Failure for ImportError {
    fn kind(&self) -> Kind {
        match self {
            ImportError::Stage(e) => e.kind(),
            ImportError::Db(e) | ImportError::Target(TargetError::Db(e)) => e.kind(),
            ImportError::NotApplied | ImportError::Stale => Kind::Conflict,
            _ => Kind::Invalid,
        }
    }
}

/// Loads the prefecture by its 2-digit code, or by its name (as a bureau heading
/// names it) when no code is given.
pub fn load_target(conn: &mut DbConnection, code: &str) -> Result<Target, TargetError> {
    let found = db::areas::prefecture_by_code_or_name(conn, code).map_err(DbError::from)?;
    let (prefecture_id, prefecture_code, prefecture_name) =
        found.ok_or_else(|| TargetError::UnknownPrefecture(code.to_string()))?;
    let rows = db::areas::municipality_names(conn, &prefecture_code).map_err(DbError::from)?;
    let jurisdiction_of = rows
        .iter()
        .filter_map(|(id, _, _, parent)| parent.map(|p| (*id, p)))
        .collect();
    let municipalities = rows
        .into_iter()
        .map(|(id, name, district, _)| MunicipalityName { id, name, district })
        .collect();
    Ok(Target {
        prefecture_id,
        prefecture_code,
        prefecture_name,
        municipalities,
        jurisdiction_of,
    })
}

/// Reads the file for the target prefecture (the sheet is dropped once parsed).
fn read(
    file_name: &str,
    bytes: &[u8],
    target: &Target,
    limits: &Limits,
) -> Result<Parsed, ImportError> {
    let parsed = {
        let grid = read_grid(file_name, bytes, limits)?;
        institutions::parse(&grid, target.number())?
    };
    if let Some(named) = &parsed.prefecture_name
        && named != &target.prefecture_name
    {
        return Err(ImportError::OtherPrefecture {
            file: named.clone(),
            target: target.prefecture_name.clone(),
        });
    }
    Ok(parsed)
}

/// Compares a parsed file with the target's master as it is now.
pub fn plan_now(
    conn: &mut DbConnection,
    parsed: &Parsed,
    target: &Target,
) -> Result<Plan, DbError> {
    let master = db::master::master_of(conn, target.prefecture_id)?;
    Ok(plan::plan(&master, parsed, target))
}

/// Reads the file and compares it with the master, without changing the master.
pub fn read_and_plan(
    conn: &mut DbConnection,
    file_name: &str,
    bytes: &[u8],
    target: &Target,
    limits: &Limits,
) -> Result<(Parsed, Plan), ImportError> {
    let parsed = read(file_name, bytes, target, limits)?;
    let plan = plan_now(conn, &parsed, target)?;
    Ok((parsed, plan))
}

/// What a stored preview or result keeps of a plan: the counts and the first rows of
/// each list, and every institution missing from the file (what 廃止 would change,
/// bounded by the master, not by the file).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub added: Listed<Added>,
    pub updated: Listed<Updated>,
    pub unchanged: usize,
    pub rejected: Listed<Rejected>,
    /// Rows the rejected entries stand for (a repeated code is one entry).
    pub rejected_rows: usize,
    pub not_in_file: Vec<Missing>,
    pub unmatched: Listed<Unmatched>,
    pub warnings: Listed<Warning>,
}

impl Summary {
    pub fn of(plan: &Plan) -> Summary {
        Summary {
            added: Listed::of(&plan.added),
            updated: Listed::of(&plan.updated),
            unchanged: plan.unchanged,
            rejected: Listed::of(&plan.rejected),
            rejected_rows: plan.rejected.iter().map(|r| r.rows).sum(),
            not_in_file: plan.not_in_file.clone(),
            unmatched: Listed::of(&plan.unmatched),
            warnings: Listed::of(&plan.warnings),
        }
    }
}

/// Stores a preview (the file itself and the summary); returns its id.
pub fn preview(
    conn: &mut DbConnection,
    file_name: &str,
    bytes: &[u8],
    target: &Target,
    user_id: Option<i32>,
    limits: &Limits,
) -> Result<i32, ImportError> {
    let (parsed, plan) = read_and_plan(conn, file_name, bytes, target, limits)?;
    let summary = crate::services::to_json(&Summary::of(&plan))?;
    Ok(super::store(
        conn,
        &Preview {
            kind: KIND,
            file_name,
            layout: parsed.layout.code(),
            prefecture_id: target.prefecture_id,
            by: user_id,
            fingerprint: &plan.fingerprint(),
            payload: "",
            summary: &summary,
            bytes,
        },
    )?)
}

/// Plans and writes a parsed file at once, in one transaction (for callers that already
/// hold the parsed file, such as tests and tools; no stored preview).
pub fn apply_parsed(
    conn: &mut DbConnection,
    parsed: &Parsed,
    target: &Target,
    by: &By,
) -> Result<Plan, ImportError> {
    let plan = crate::services::write_counted(
        conn,
        &[Counter::Master],
        |_| true,
        |conn| -> Result<Plan, ImportError> {
            let plan = plan_now(conn, parsed, target)?;
            write_plan(conn, parsed, target, &plan, by, None)?;
            Ok(plan)
        },
    )?;
    Ok(plan)
}

/// Previews an uploaded file for the user's prefecture (`prefecture`), or for the one
/// the system administrator chose by its code on the form.
pub struct Upload<'a> {
    pub prefecture: Option<i32>,
    pub chosen_code: &'a str,
    pub file_name: &'a str,
    pub bytes: &'a [u8],
    pub user_id: i32,
}

pub fn preview_upload(
    conn: &mut DbConnection,
    upload: &Upload,
    limits: &Limits,
) -> Result<i32, ImportError> {
    let code = match upload.prefecture {
        Some(id) => db::areas::code_of(conn, id)?,
        None => upload.chosen_code.to_string(),
    };
    let target = load_target(conn, &code)?;
    let by = Some(upload.user_id);
    preview(conn, upload.file_name, upload.bytes, &target, by, limits)
}

/// The master import in the staged flow.
struct MasterImport<'a> {
    limits: &'a Limits,
}

impl Staged for MasterImport<'_> {
    const KIND: &'static str = KIND;
    const ACTION: Action = Action::ImportApply;
    const CHANGES: &'static [Counter] = &[Counter::Master];
    type Read = (Parsed, Target);
    type Done = Plan;
    type Error = ImportError;

    fn read(
        &self,
        conn: &mut DbConnection,
        row: &ImportRow,
        bytes: &[u8],
    ) -> Result<(Parsed, Target), ImportError> {
        let code = db::areas::code_of(conn, row.prefecture_id)?;
        let target = load_target(conn, &code)?;
        let parsed = read(&row.file_name, bytes, &target, self.limits)?;
        Ok((parsed, target))
    }

    /// Refuses when the master changed since the preview (the officer would otherwise
    /// apply something other than what was shown).
    fn write(
        &self,
        conn: &mut DbConnection,
        row: &ImportRow,
        (parsed, target): (Parsed, Target),
        by: &By,
    ) -> Result<Applied<Plan>, ImportError> {
        let plan = plan_now(conn, &parsed, &target)?;
        if plan.fingerprint() != row.fingerprint {
            return Err(ImportError::Stale);
        }
        write_plan(conn, &parsed, &target, &plan, by, Some(row.id))?;
        Ok(Applied {
            summary: crate::services::to_json(&Summary::of(&plan))?,
            detail: serde_json::json!({
                "file": row.file_name,
                "added": plan.added.len(),
                "updated": plan.updated.len(),
                "unchanged": plan.unchanged,
                "rejected": plan.rejected.iter().map(|r| r.rows).sum::<usize>(),
            }),
            done: plan,
        })
    }
}

/// Applies a stored preview in one transaction. The file is dropped with the preview;
/// the result's summary stays until the cleanup.
pub fn apply(
    conn: &mut DbConnection,
    import_id: i32,
    prefecture: Option<i32>,
    by: &By,
    limits: &Limits,
) -> Result<Plan, ImportError> {
    super::apply(conn, &MasterImport { limits }, import_id, prefecture, by)
}

pub fn cancel(
    conn: &mut DbConnection,
    import_id: i32,
    prefecture: Option<i32>,
) -> Result<(), ImportError> {
    Ok(super::cancel(conn, KIND, import_id, prefecture)?)
}

/// Every row of a standing preview, group by group, for the downloadable list:
/// (区分, 行, 医療機関コード, 名称, 内容).
pub fn full_list(
    conn: &mut DbConnection,
    import_id: i32,
    prefecture: Option<i32>,
    limits: &Limits,
) -> Result<Vec<[String; 5]>, ImportError> {
    let (row, bytes) = match super::standing(conn, KIND, import_id, prefecture) {
        Err(StageError::AlreadyFinished) => return Err(StageError::FileGone.into()),
        other => other?,
    };
    let (parsed, target) = MasterImport { limits }.read(conn, &row, &bytes)?;
    let plan = plan_now(conn, &parsed, &target)?;
    let mut out = Vec::new();
    let number = |n: usize| n.to_string();
    for r in &plan.rejected {
        out.push([
            "エラー".into(),
            number(r.row),
            r.code.clone(),
            r.name.clone(),
            r.reason.clone(),
        ]);
    }
    for u in &plan.unmatched {
        out.push([
            "市区町村を判定できず".into(),
            number(u.row),
            u.code.clone(),
            u.name.clone(),
            u.address.clone(),
        ]);
    }
    for u in &plan.updated {
        let changes: Vec<String> = u
            .changes
            .iter()
            .map(|c| format!("{}: {} → {}", c.field, c.old, c.new))
            .collect();
        out.push([
            "変更".into(),
            number(u.row),
            u.code.clone(),
            u.name.clone(),
            changes.join(" / "),
        ]);
    }
    for a in &plan.added {
        out.push([
            "追加".into(),
            number(a.row),
            a.code.clone(),
            a.name.clone(),
            a.municipality.clone().unwrap_or_default(),
        ]);
    }
    for w in &plan.warnings {
        out.push([
            "注意".into(),
            number(w.row),
            w.code.clone(),
            String::new(),
            w.text.clone(),
        ]);
    }
    for m in &plan.not_in_file {
        out.push([
            "ファイルにない機関".into(),
            String::new(),
            m.code.clone(),
            m.name.clone(),
            String::new(),
        ]);
    }
    Ok(out)
}

/// Marks the institutions an applied import did not contain as 廃止 (the officer's
/// choice after reading the list). Institutions already 廃止 are left as they are.
/// Returns how many changed.
pub fn retire_missing(
    conn: &mut DbConnection,
    import_id: i32,
    prefecture: Option<i32>,
    by: &By,
) -> Result<usize, ImportError> {
    let row = db::imports::find(conn, KIND, import_id, prefecture)?.ok_or(StageError::NotFound)?;
    if row.status != Stage::Applied.code() {
        return Err(ImportError::NotApplied);
    }
    let done: Summary = serde_json::from_str(&row.summary)
        .map_err(|e| ImportError::Db(DbError::Task(e.to_string())))?;
    let ids: Vec<i32> = done.not_in_file.iter().map(|m| m.id).collect();
    let retired = crate::services::write_counted(
        conn,
        &[Counter::Master],
        |_| true,
        |conn| -> Result<usize, ImportError> {
            let changed = db::master::not_abolished(conn, row.prefecture_id, &ids)?;
            let now = Utc::now().naive_utc();
            let abolished = Status::Abolished;
            for (id, category, special, correctional, target_override, _) in &changed {
                let facts = TargetFacts {
                    category: Category::from_code(category).unwrap_or(Category::Clinic),
                    is_special_function: *special,
                    is_correctional: *correctional,
                    status: abolished,
                };
                let is_target = is_reporting_target(facts, *target_override);
                db::master::set_status(conn, *id, abolished.code(), is_target, now)?;
            }
            let retired: Vec<i32> = changed.iter().map(|c| c.0).collect();
            db::review_index::refresh_institutions(conn, &retired)?;
            audit::record_many(
                conn,
                changed.iter().map(|(id, _, _, _, _, old_status)| {
                    let detail = serde_json::json!({
                        "import": import_id,
                        "before": { "status": old_status },
                        "after": { "status": abolished.code() },
                        "reason": "取込ファイルにない機関を廃止に変更",
                    });
                    let entry = by.entry(
                        "institution",
                        Some(id.to_string()),
                        Some(row.prefecture_id),
                        detail,
                    );
                    (Action::InstitutionUpdate, entry)
                }),
            )?;
            Ok(changed.len())
        },
    )?;
    Ok(retired)
}

/// Writes `plan` (computed for `parsed` against the master as it is now, in the same
/// transaction), with one audit entry per institution.
fn write_plan(
    conn: &mut DbConnection,
    parsed: &Parsed,
    target: &Target,
    plan: &Plan,
    by: &By,
    import_id: Option<i32>,
) -> Result<(), DbError> {
    let records: HashMap<String, &Record> = parsed
        .records
        .iter()
        .map(|r| (r.code.to_string(), r))
        .collect();
    let now = Utc::now().naive_utc();
    let place = |r: &Record| {
        let m = match_municipality(&r.address, &target.prefecture_name, &target.municipalities);
        (m, m.and_then(|m| target.jurisdiction_of.get(&m).copied()))
    };
    let mut new_rows = Vec::with_capacity(plan.added.len());
    for added in &plan.added {
        let Some(r) = records.get(&added.code) else {
            continue;
        };
        let (municipality_id, jurisdiction_id) = place(r);
        let facts = TargetFacts {
            category: r.category,
            is_special_function: r.is_special_function.unwrap_or(false),
            is_correctional: r.is_correctional.unwrap_or(false),
            status: r.status,
        };
        new_rows.push(db::institutions::NewInstitution {
            code: added.code.clone(),
            prefecture_code: target.prefecture_code.clone(),
            fee_table: r
                .code
                .fee_table()
                .unwrap_or(FeeTable::Medical)
                .digit()
                .to_string(),
            category: r.category.code().to_string(),
            is_special_function: facts.is_special_function,
            is_correctional: facts.is_correctional,
            name: r.name.clone(),
            name_kana: r.name_kana.clone(),
            postcode: r.postcode.clone(),
            address: r.address.clone(),
            phone: r.phone.clone(),
            email: r.email.clone(),
            prefecture_id: target.prefecture_id,
            jurisdiction_id,
            municipality_id,
            founder: r.founder.clone(),
            manager: r.manager.clone(),
            designated_on: r.designated_on,
            departments: r.departments.clone(),
            status: r.status.code().to_string(),
            paper_report: r.paper_report.unwrap_or(false),
            target_override: None,
            target_override_reason: None,
            is_target: is_reporting_target(facts, None),
            created_at: now,
            updated_at: now,
            short_code: added.code[3..].to_string(),
            search_key: search_key(&r.name),
        });
    }
    db::institutions::insert_many(conn, &new_rows)?;

    let mut entries = Vec::with_capacity(plan.added.len() + plan.updated.len());
    let added_ids =
        db::institutions::ids_by_code(conn, plan.added.iter().map(|a| a.code.as_str()))?;
    for added in &plan.added {
        entries.push((
            Action::InstitutionCreate,
            added_ids.get(&added.code).copied(),
            serde_json::json!({ "import": import_id, "code": added.code, "name": added.name }),
        ));
    }

    // Stored flags the file may leave unsaid, and the officers' overrides.
    let stored: HashMap<i32, db::master::MasterRow> = if plan.updated.is_empty() {
        HashMap::new()
    } else {
        db::master::master_of(conn, target.prefecture_id)?
            .into_values()
            .map(|e| (e.id, e))
            .collect()
    };
    for updated in &plan.updated {
        let Some(r) = records.get(&updated.code) else {
            continue;
        };
        let (municipality_id, jurisdiction_id) = place(r);
        let old = stored.get(&updated.id);
        let facts = TargetFacts {
            category: r.category,
            is_special_function: r
                .is_special_function
                .unwrap_or_else(|| old.is_some_and(|o| o.is_special_function)),
            is_correctional: r
                .is_correctional
                .unwrap_or_else(|| old.is_some_and(|o| o.is_correctional)),
            status: r.status,
        };
        let is_target = is_reporting_target(facts, old.and_then(|o| o.target_override));
        let name_key = search_key(&r.name);
        let changes = db::master::ImportedChanges {
            category: r.category.code(),
            name: &r.name,
            name_kana: r.name_kana.as_deref(),
            postcode: r.postcode.as_deref(),
            address: &r.address,
            phone: r.phone.as_deref(),
            email: r.email.as_deref(),
            founder: r.founder.as_deref(),
            manager: r.manager.as_deref(),
            designated_on: r.designated_on,
            departments: r.departments.as_deref(),
            status: r.status.code(),
            paper_report: r.paper_report,
            is_special_function: r.is_special_function,
            is_correctional: r.is_correctional,
            municipality_id,
            jurisdiction_id,
            is_target,
            search_key: &name_key,
            updated_at: now,
        };
        db::master::save_imported(conn, updated.id, &changes)?;
        entries.push((
            Action::InstitutionUpdate,
            Some(updated.id),
            serde_json::json!({ "import": import_id, "changes": updated.changes }),
        ));
    }
    let updated: Vec<i32> = plan.updated.iter().map(|u| u.id).collect();
    crate::db::review_index::refresh_institutions(conn, &updated)?;
    audit::record_many(
        conn,
        entries.into_iter().map(|(action, id, detail)| {
            (
                action,
                by.entry(
                    "institution",
                    id.map(|i| i.to_string()),
                    Some(target.prefecture_id),
                    detail,
                ),
            )
        }),
    )?;
    Ok(())
}
