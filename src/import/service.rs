//! The import as officers and the command line run it: read and preview (stored), then
//! apply in one transaction, or cancel.

use chrono::Utc;

use super::institutions::{self, Parsed};
use super::plan::{self, Actor, Plan, Target, TargetError};
use super::{FileError, read_grid};
use crate::db::audit::{self, Action};
use crate::db::{self, DbConnection, DbError, imports};

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
    #[error(
        "プレビューの後に医療機関マスタが変わりました。もう一度ファイルを取り込んでプレビューからやり直してください"
    )]
    Stale,
    #[error("{0}")]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ImportError {
    fn from(e: diesel::result::Error) -> Self {
        ImportError::Db(DbError::Query(e))
    }
}

/// Reads the file and compares it with the master, without changing the master.
pub fn read_and_plan(
    conn: &mut DbConnection,
    file_name: &str,
    bytes: &[u8],
    target: &Target,
) -> Result<(Parsed, Plan), ImportError> {
    let grid = read_grid(file_name, bytes)?;
    let parsed = institutions::parse(&grid, target.number())?;
    if let Some(named) = &parsed.prefecture_name
        && named != &target.prefecture_name
    {
        return Err(ImportError::OtherPrefecture {
            file: named.clone(),
            target: target.prefecture_name.clone(),
        });
    }
    let plan = plan::plan(conn, &parsed, target)?;
    Ok((parsed, plan))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ImportError> {
    serde_json::to_string(value).map_err(|e| ImportError::Db(DbError::Task(e.to_string())))
}

/// Stores a preview; returns its id.
pub fn preview(
    conn: &mut DbConnection,
    file_name: &str,
    bytes: &[u8],
    target: &Target,
    user_id: Option<i32>,
) -> Result<i32, ImportError> {
    let (parsed, plan) = read_and_plan(conn, file_name, bytes, target)?;
    let id = imports::insert(
        conn,
        &imports::NewImport {
            kind: "institutions",
            file_name,
            layout: parsed.layout.code(),
            prefecture_id: target.prefecture_id,
            created_by: user_id,
            created_at: Utc::now().naive_utc(),
            status: "previewed",
            fingerprint: &plan.fingerprint(),
            payload: &to_json(&parsed)?,
            summary: &to_json(&plan)?,
            applied_at: None,
        },
    )?;
    Ok(id)
}

/// Applies a stored preview in one transaction. Refuses when the master changed since
/// the preview (the officer would otherwise apply something other than what was shown).
pub fn apply(
    conn: &mut DbConnection,
    import_id: i32,
    prefecture: Option<i32>,
    actor: &Actor,
) -> Result<Plan, ImportError> {
    let row = imports::find(conn, import_id, prefecture)?.ok_or(ImportError::NotFound)?;
    if row.status != "previewed" {
        return Err(ImportError::AlreadyFinished);
    }
    let parsed: Parsed = serde_json::from_str(&row.payload)
        .map_err(|e| ImportError::Db(DbError::Task(e.to_string())))?;
    let code: String = {
        use crate::db::schema::areas;
        use diesel::prelude::*;
        areas::table
            .find(row.prefecture_id)
            .select(areas::code)
            .first(conn)?
    };
    let target = plan::load_target(conn, &code)?;
    db::write_transaction(conn, |conn| {
        let now = plan::plan(conn, &parsed, &target)?;
        if now.fingerprint() != row.fingerprint {
            return Err(ImportError::Stale);
        }
        let done = plan::apply(conn, &parsed, &target, actor, Some(import_id))?;
        if !imports::finish(conn, import_id, "applied", Some(&to_json(&done)?))? {
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
                    "rejected": done.rejected.len(),
                })),
                ip: actor.ip.clone(),
            },
        )?;
        Ok(done)
    })
}

pub fn cancel(
    conn: &mut DbConnection,
    import_id: i32,
    prefecture: Option<i32>,
) -> Result<(), ImportError> {
    imports::find(conn, import_id, prefecture)?.ok_or(ImportError::NotFound)?;
    if imports::finish(conn, import_id, "cancelled", None)? {
        Ok(())
    } else {
        Err(ImportError::AlreadyFinished)
    }
}
