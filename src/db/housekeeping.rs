//! Removing what the database need not keep: import previews and results a day after
//! they were made (their audit entries stay), and sessions a month after they ended or
//! were last used (sign-ins stay in the audit log).

use chrono::{Duration, NaiveDateTime};

use super::{DbConnection, DbError, imports, sessions};

/// How long an import (its preview, file and result) is kept.
pub const IMPORT_KEEP: Duration = Duration::hours(24);
/// How long a finished session's row is kept.
pub const SESSION_KEEP: Duration = Duration::days(30);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub imports: usize,
    pub sessions: usize,
}

pub fn clean(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Removed, DbError> {
    Ok(Removed {
        imports: imports::remove_older_than(conn, now - IMPORT_KEEP)?,
        sessions: sessions::remove_older_than(conn, now - SESSION_KEEP)?,
    })
}
