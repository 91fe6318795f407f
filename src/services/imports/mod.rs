//! Staged imports: a file is read and previewed (stored with the file itself, nothing
//! else written), then applied in one transaction or cancelled. A stale preview (the
//! data moved since) or a second apply is refused. The institution master and the NDB
//! counts use this flow; the import of filled paper forms will too.

pub mod institutions;
pub mod ndb;

use chrono::Utc;

use super::{Actor, Failure, Kind};
use crate::db::audit::{self, Action};
use crate::db::changes::Counter;
use crate::db::imports::{self as stored, ImportRow, Stage};
use crate::db::{DbConnection, DbError};

/// Who imports: a signed-in user, or the command line or the demo (no user).
#[derive(Debug, Clone)]
pub struct By {
    pub user_id: Option<i32>,
    pub login: String,
    pub ip: Option<String>,
}

impl By {
    pub fn user(actor: &Actor) -> By {
        By {
            user_id: Some(actor.user_id),
            login: actor.login.clone(),
            ip: actor.ip.clone(),
        }
    }

    /// `cli` or `demo`.
    pub fn system(name: &str) -> By {
        By {
            user_id: None,
            login: name.to_string(),
            ip: None,
        }
    }

    pub(crate) fn entry(
        &self,
        target_type: &'static str,
        target_id: Option<String>,
        prefecture_id: Option<i32>,
        detail: serde_json::Value,
    ) -> audit::Entry {
        audit::Entry {
            actor_id: self.user_id,
            actor_login: Some(self.login.clone()),
            target_type: Some(target_type),
            target_id,
            prefecture_id,
            detail: Some(detail),
            ip: self.ip.clone(),
        }
    }
}

/// Where a stored import cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("取込が見つかりません")]
    NotFound,
    #[error("この取込はすでに反映または取消されています")]
    AlreadyFinished,
    #[error("この取込のファイルはもうありません（反映・取消の後や24時間後には消えます）")]
    FileGone,
    #[error("{0}")]
    Db(#[from] DbError),
}

db_errors!(StageError);

impl Failure for StageError {
    fn kind(&self) -> Kind {
        match self {
            StageError::NotFound => Kind::NotFound,
            StageError::AlreadyFinished | StageError::FileGone => Kind::Conflict,
            StageError::Db(e) => e.kind(),
        }
    }
}

/// What an apply wrote: the summary kept with the import, the audit entry's detail, and
/// what the caller gets back.
pub struct Applied<T> {
    pub summary: String,
    pub detail: serde_json::Value,
    pub done: T,
}

/// One kind of staged import.
pub trait Staged {
    /// `imports.kind`.
    const KIND: &'static str;
    /// The audit action of an apply.
    const ACTION: Action;
    /// The kept figures an apply changes.
    const CHANGES: &'static [Counter];
    /// The stored file as read again, with what writing it needs.
    type Read;
    type Done;
    type Error: From<StageError> + From<DbError> + From<diesel::result::Error>;

    /// Reads the stored file again, before the transaction (parsing is the slow part).
    fn read(
        &self,
        conn: &mut DbConnection,
        row: &ImportRow,
        bytes: &[u8],
    ) -> Result<Self::Read, Self::Error>;

    /// Writes it, inside the apply's transaction; refuses when the data moved since the
    /// preview in a way that would make it write something other than what was shown.
    fn write(
        &self,
        conn: &mut DbConnection,
        row: &ImportRow,
        read: Self::Read,
        by: &By,
    ) -> Result<Applied<Self::Done>, Self::Error>;
}

/// A standing preview (not yet applied or cancelled) with its file.
pub fn standing(
    conn: &mut DbConnection,
    kind: &str,
    id: i32,
    prefecture: Option<i32>,
) -> Result<(ImportRow, Vec<u8>), StageError> {
    let row = stored::find(conn, kind, id, prefecture)?.ok_or(StageError::NotFound)?;
    if row.status != Stage::Previewed.code() {
        return Err(StageError::AlreadyFinished);
    }
    let bytes = stored::file_of(conn, id)?.ok_or(StageError::FileGone)?;
    Ok((row, bytes))
}

/// Stores a preview: the file and what reading it showed (nothing else is written).
pub struct Preview<'a> {
    pub kind: &'static str,
    pub file_name: &'a str,
    pub layout: &'a str,
    pub prefecture_id: i32,
    pub by: Option<i32>,
    /// A digest of what applying would write, to refuse a stale apply.
    pub fingerprint: &'a str,
    /// What the apply needs besides the file (JSON).
    pub payload: &'a str,
    pub summary: &'a str,
    pub bytes: &'a [u8],
}

pub fn store(conn: &mut DbConnection, preview: &Preview) -> Result<i32, DbError> {
    Ok(stored::insert(
        conn,
        &stored::NewImport {
            kind: preview.kind,
            file_name: preview.file_name,
            layout: preview.layout,
            prefecture_id: preview.prefecture_id,
            created_by: preview.by,
            created_at: Utc::now().naive_utc(),
            status: Stage::Previewed.code(),
            fingerprint: preview.fingerprint,
            payload: preview.payload,
            summary: preview.summary,
            applied_at: None,
            file_data: Some(preview.bytes),
        },
    )?)
}

/// Applies a standing preview in one transaction: the kind's write, the import marked
/// applied (at most once), one audit entry; then every process's kept figures of
/// [`Staged::CHANGES`] are dropped.
pub fn apply<S: Staged>(
    conn: &mut DbConnection,
    staged: &S,
    id: i32,
    prefecture: Option<i32>,
    by: &By,
) -> Result<S::Done, S::Error> {
    let (row, bytes) = standing(conn, S::KIND, id, prefecture)?;
    let read = staged.read(conn, &row, &bytes)?;
    drop(bytes);
    let applied = crate::services::write_counted(
        conn,
        S::CHANGES,
        |_| true,
        |conn| -> Result<_, S::Error> {
            let applied = staged.write(conn, &row, read, by)?;
            if !stored::finish(conn, id, Stage::Applied, Some(&applied.summary))? {
                return Err(StageError::AlreadyFinished.into());
            }
            let entry = by.entry(
                "import",
                Some(id.to_string()),
                Some(row.prefecture_id),
                applied.detail.clone(),
            );
            audit::record(conn, S::ACTION, entry)?;
            Ok(applied)
        },
    )?;
    Ok(applied.done)
}

/// Cancels a standing preview (its file is dropped).
pub fn cancel(
    conn: &mut DbConnection,
    kind: &str,
    id: i32,
    prefecture: Option<i32>,
) -> Result<(), StageError> {
    stored::find(conn, kind, id, prefecture)?.ok_or(StageError::NotFound)?;
    if stored::finish(conn, id, Stage::Cancelled, None)? {
        Ok(())
    } else {
        Err(StageError::AlreadyFinished)
    }
}
