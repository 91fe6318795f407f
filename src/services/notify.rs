//! Notices to institutions about their reports. The institution already sees each
//! notice on its home page and in its report; this is the one place where the mail
//! issue will add the e-mail (queue a message in the outbox) without touching the
//! review code.

use crate::db::{DbConnection, DbError};

/// A report was sent back with `reason` (差戻し). Called inside the send-back
/// transaction, so a notice is queued exactly when the send-back commits.
pub fn report_sent_back(
    _conn: &mut DbConnection,
    _report_id: i32,
    _reason: &str,
) -> Result<(), DbError> {
    Ok(())
}
