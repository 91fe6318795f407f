//! The use cases, one module per area. Every write is one function that owns its
//! transaction and writes its audit entry; the web handlers and the command line call
//! the same functions. Services read and write through `db` only (no SQL here) and keep
//! their rules in `domain`.

/// A service error that holds a [`DbError`] in its `Db` variant takes diesel's errors
/// through it, so `?` works on queries.
macro_rules! db_errors {
    ($($error:ty),* $(,)?) => {
        $(impl From<diesel::result::Error> for $error {
            fn from(e: diesel::result::Error) -> Self {
                <$error>::Db(crate::db::DbError::Query(e))
            }
        })*
    };
}

pub mod accounts;
pub mod auth;
pub mod catalogs;
pub mod exports;
pub mod help;
pub mod imports;
pub mod institutions;
pub mod mail;
pub mod notify;
pub mod paper;
pub mod periods;
pub mod publication;
pub mod reports;
pub mod review;

use crate::db::audit;
use crate::db::changes::{self, Counter};
use crate::db::{DbConnection, DbError};
use crate::domain::auth::Scope;

/// Who is acting, for versions, `updated_by` columns and the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i32,
    pub login: String,
    pub scope: Scope,
    /// An officer (entering on behalf of an institution when filing: 代理入力).
    pub officer: bool,
    pub ip: Option<String>,
}

/// Who acts: an officer on a page, or the command line for a scope (mail, exports).
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    Officer(&'a Actor),
    System { name: &'static str, scope: Scope },
}

impl By<'_> {
    pub fn scope(self) -> Scope {
        match self {
            By::Officer(actor) => actor.scope,
            By::System { scope, .. } => scope,
        }
    }

    pub(crate) fn user_id(self) -> Option<i32> {
        match self {
            By::Officer(actor) => Some(actor.user_id),
            By::System { .. } => None,
        }
    }

    pub(crate) fn entry(
        self,
        target_type: &'static str,
        target: impl ToString,
        prefecture_id: impl Into<Option<i32>>,
        detail: serde_json::Value,
    ) -> audit::Entry {
        let prefecture_id = prefecture_id.into();
        match self {
            By::Officer(actor) => actor.entry(target_type, target, prefecture_id, Some(detail)),
            By::System { name, .. } => audit::Entry {
                actor_login: Some(name.to_string()),
                target_type: Some(target_type),
                target_id: Some(target.to_string()),
                prefecture_id,
                detail: Some(detail),
                ..audit::Entry::default()
            },
        }
    }
}

impl Actor {
    /// An audit entry written by this actor about one record.
    pub fn entry(
        &self,
        target_type: &'static str,
        target_id: impl ToString,
        prefecture_id: Option<i32>,
        detail: Option<serde_json::Value>,
    ) -> audit::Entry {
        audit::Entry {
            actor_id: Some(self.user_id),
            actor_login: Some(self.login.clone()),
            target_type: Some(target_type),
            target_id: Some(target_id.to_string()),
            prefecture_id,
            detail,
            ip: self.ip.clone(),
        }
    }
}

/// Writes this actor's audit entry about a report (of the report's prefecture, so its
/// administrator's 操作履歴 shows it).
pub(crate) fn record_on_report(
    conn: &mut DbConnection,
    actor: &Actor,
    action: audit::Action,
    report_id: i32,
    prefecture_id: i32,
    detail: serde_json::Value,
) -> Result<(), DbError> {
    let entry = actor.entry("report", report_id, Some(prefecture_id), Some(detail));
    audit::record(conn, action, entry)?;
    Ok(())
}

/// How a service failure reaches a user: the web layer maps each kind to one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Missing or outside the actor's scope (never tells which).
    NotFound,
    /// The record moved on (stale page, finished import, closed period): a message.
    Conflict,
    /// The input is wrong: a message next to the field.
    Invalid,
    /// Our fault: logged with a reference number, never shown.
    Internal,
}

/// What every service error tells the web layer.
pub trait Failure: std::fmt::Display {
    fn kind(&self) -> Kind;
}

impl Failure for DbError {
    fn kind(&self) -> Kind {
        match self {
            DbError::Query(diesel::result::Error::NotFound) => Kind::NotFound,
            _ => Kind::Internal,
        }
    }
}

/// A value kept as JSON text in a column (summaries, snapshots).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, DbError> {
    serde_json::to_string(value).map_err(|e| DbError::Task(e.to_string()))
}

/// `db::write_transaction` for a change other processes' kept figures depend on: when
/// `changed` says the outcome changed something, the change counters advance with it
/// (inside the transaction on SQLite, just after the commit on PostgreSQL; see
/// `db::changes`).
pub(crate) fn write_counted<T, E>(
    conn: &mut DbConnection,
    counters: &[Counter],
    changed: impl Fn(&T) -> bool,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let done = crate::db::write_transaction(conn, |conn| -> Result<T, E> {
        let done = f(conn)?;
        if changed(&done) {
            changes::within_transaction(conn, counters)?;
        }
        Ok(done)
    })?;
    if changed(&done) {
        after_commit(conn, counters);
    }
    Ok(done)
}

/// A failure to advance a sequence after the commit is logged, not returned: the change
/// itself is committed, and kept figures expire within 30 s anyway.
fn after_commit(conn: &mut DbConnection, counters: &[Counter]) {
    if let Err(e) = changes::after_commit(conn, counters) {
        tracing::warn!(error = %e, ?counters, "change counters not advanced");
    }
}

/// After changes written outside any service transaction (the demo's bulk load, a
/// rebuilt search table): every process's kept figures of these kinds are stale now.
pub(crate) fn changed(conn: &mut DbConnection, counters: &[Counter]) -> Result<(), DbError> {
    changes::within_transaction(conn, counters)?;
    after_commit(conn, counters);
    Ok(())
}
