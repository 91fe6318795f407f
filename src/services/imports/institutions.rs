//! The import as officers and the command line run it: read and preview (stored), then
//! apply in one transaction, or cancel.

use chrono::Utc;

use serde::{Deserialize, Serialize};

use crate::db::audit::{self, Action};
use crate::db::changes::Counter;
use crate::db::{self, DbConnection, DbError, imports};
use crate::import::institutions::{self, Parsed, Rejected};
use crate::import::plan::{
    self, Actor, Added, Missing, Plan, Target, TargetError, Unmatched, Updated, Warning,
};
use crate::import::{FileError, Limits, Listed, read_grid};

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
    #[error("取込が見つかりません")]
    NotFound,
    #[error("この取込はすでに反映または取消されています")]
    AlreadyFinished,
    #[error("この取込のファイルはもうありません（反映・取消の後や24時間後には消えます）")]
    FileGone,
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

/// Reads the file and compares it with the master, without changing the master.
pub fn read_and_plan(
    conn: &mut DbConnection,
    file_name: &str,
    bytes: &[u8],
    target: &Target,
    limits: &Limits,
) -> Result<(Parsed, Plan), ImportError> {
    let parsed = read(file_name, bytes, target, limits)?;
    let plan = plan::plan(conn, &parsed, target)?;
    Ok((parsed, plan))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ImportError> {
    serde_json::to_string(value).map_err(|e| ImportError::Db(DbError::Task(e.to_string())))
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
    let id = imports::insert(
        conn,
        &imports::NewImport {
            kind: KIND,
            file_name,
            layout: parsed.layout.code(),
            prefecture_id: target.prefecture_id,
            created_by: user_id,
            created_at: Utc::now().naive_utc(),
            status: "previewed",
            fingerprint: &plan.fingerprint(),
            payload: "",
            summary: &to_json(&Summary::of(&plan))?,
            applied_at: None,
            file_data: Some(bytes),
        },
    )?;
    Ok(id)
}

/// The stored file of a preview, read again.
fn reread(
    conn: &mut DbConnection,
    row: &imports::ImportRow,
    limits: &Limits,
) -> Result<(Parsed, Target), ImportError> {
    let bytes = imports::file_of(conn, row.id)?.ok_or(ImportError::FileGone)?;
    let code = db::areas::code_of(conn, row.prefecture_id)?;
    let target = plan::load_target(conn, &code)?;
    let parsed = read(&row.file_name, &bytes, &target, limits)?;
    Ok((parsed, target))
}

/// Every row of a standing preview, group by group, for the downloadable list:
/// (区分, 行, 医療機関コード, 名称, 内容).
pub fn full_list(
    conn: &mut DbConnection,
    import_id: i32,
    prefecture: Option<i32>,
    limits: &Limits,
) -> Result<Vec<[String; 5]>, ImportError> {
    let row = imports::find(conn, KIND, import_id, prefecture)?.ok_or(ImportError::NotFound)?;
    if row.status != "previewed" {
        return Err(ImportError::FileGone);
    }
    let (parsed, target) = reread(conn, &row, limits)?;
    let plan = plan::plan(conn, &parsed, &target)?;
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

/// Applies a stored preview in one transaction. Refuses when the master changed since
/// the preview (the officer would otherwise apply something other than what was shown).
/// The file is dropped with the preview; the result's summary stays until the cleanup.
pub fn apply(
    conn: &mut DbConnection,
    import_id: i32,
    prefecture: Option<i32>,
    actor: &Actor,
    limits: &Limits,
) -> Result<Plan, ImportError> {
    let row = imports::find(conn, KIND, import_id, prefecture)?.ok_or(ImportError::NotFound)?;
    if row.status != "previewed" {
        return Err(ImportError::AlreadyFinished);
    }
    let (parsed, target) = reread(conn, &row, limits)?;
    let done = db::write_transaction(conn, |conn| {
        let now = plan::plan(conn, &parsed, &target)?;
        if now.fingerprint() != row.fingerprint {
            return Err(ImportError::Stale);
        }
        let done = plan::apply(conn, &parsed, &target, actor, Some(import_id))?;
        if !imports::finish(
            conn,
            import_id,
            "applied",
            Some(&to_json(&Summary::of(&done))?),
        )? {
            return Err(ImportError::AlreadyFinished);
        }
        audit::record(
            conn,
            Action::ImportApply,
            audit::Entry {
                actor_id: actor.user_id,
                actor_login: Some(actor.login.to_string()),
                target_type: Some("import"),
                target_id: Some(import_id.to_string()),
                prefecture_id: Some(target.prefecture_id),
                detail: Some(serde_json::json!({
                    "file": row.file_name,
                    "added": done.added.len(),
                    "updated": done.updated.len(),
                    "unchanged": done.unchanged,
                    "rejected": done.rejected.iter().map(|r| r.rows).sum::<usize>(),
                })),
                ip: actor.ip.clone(),
            },
        )?;
        Ok(done)
    })?;
    crate::services::changed(conn, &[Counter::Master]);
    Ok(done)
}

pub fn cancel(
    conn: &mut DbConnection,
    import_id: i32,
    prefecture: Option<i32>,
) -> Result<(), ImportError> {
    imports::find(conn, KIND, import_id, prefecture)?.ok_or(ImportError::NotFound)?;
    if imports::finish(conn, import_id, "cancelled", None)? {
        Ok(())
    } else {
        Err(ImportError::AlreadyFinished)
    }
}

/// Marks the institutions an applied import did not contain as 廃止 (the officer's
/// choice after reading the list). Institutions already 廃止 are left as they are.
/// Returns how many changed.
pub fn retire_missing(
    conn: &mut DbConnection,
    import_id: i32,
    prefecture: Option<i32>,
    actor: &Actor,
) -> Result<usize, ImportError> {
    use crate::db::schema::institutions;
    use crate::domain::institution::{Category, Status, TargetFacts, is_reporting_target};
    use diesel::prelude::*;

    let row = imports::find(conn, KIND, import_id, prefecture)?.ok_or(ImportError::NotFound)?;
    if row.status != "applied" {
        return Err(ImportError::NotApplied);
    }
    let done: Summary = serde_json::from_str(&row.summary)
        .map_err(|e| ImportError::Db(DbError::Task(e.to_string())))?;
    let ids: Vec<i32> = done.not_in_file.iter().map(|m| m.id).collect();
    let done = db::write_transaction(conn, |conn| -> Result<_, ImportError> {
        let mut changed = Vec::new();
        for chunk in ids.chunks(900) {
            let rows: Vec<(i32, String, bool, bool, Option<bool>, String)> = institutions::table
                .filter(institutions::id.eq_any(chunk))
                .filter(institutions::prefecture_id.eq(row.prefecture_id))
                .filter(institutions::status.ne(Status::Abolished.code()))
                .select((
                    institutions::id,
                    institutions::category,
                    institutions::is_special_function,
                    institutions::is_correctional,
                    institutions::target_override,
                    institutions::status,
                ))
                .load(conn)?;
            changed.extend(rows);
        }
        let now = Utc::now().naive_utc();
        for (id, category, special, correctional, target_override, _) in &changed {
            let facts = TargetFacts {
                category: Category::from_code(category).unwrap_or(Category::Clinic),
                is_special_function: *special,
                is_correctional: *correctional,
                status: Status::Abolished,
            };
            diesel::update(institutions::table.find(id))
                .set((
                    institutions::status.eq(Status::Abolished.code()),
                    institutions::is_target.eq(is_reporting_target(facts, *target_override)),
                    institutions::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        let retired: Vec<i32> = changed.iter().map(|c| c.0).collect();
        crate::db::review_index::refresh_institutions(conn, &retired)?;
        audit::record_many(
            conn,
            changed.iter().map(|(id, _, _, _, _, old_status)| {
                (
                    Action::InstitutionUpdate,
                    audit::Entry {
                        actor_id: actor.user_id,
                        actor_login: Some(actor.login.to_string()),
                        target_type: Some("institution"),
                        target_id: Some(id.to_string()),
                        prefecture_id: Some(row.prefecture_id),
                        detail: Some(serde_json::json!({
                            "import": import_id,
                            "before": { "status": old_status },
                            "after": { "status": Status::Abolished.code() },
                            "reason": "取込ファイルにない機関を廃止に変更",
                        })),
                        ip: actor.ip.clone(),
                    },
                )
            }),
        )?;
        Ok(changed.len())
    })?;
    crate::services::changed(conn, &[Counter::Master]);
    Ok(done)
}
