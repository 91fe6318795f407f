//! Notices to institutions about their reports. The institution already sees each
//! notice on its home page and in its report; these also queue an e-mail in the
//! outbox, inside the transaction of the change, so a mail is queued exactly when the
//! change commits (and once: each event has its own key).

use crate::db::reports::ReportRow;
use crate::db::{DbConnection, DbError};
use crate::domain::mail::TemplateKey;
use crate::domain::wareki;
use crate::services::mail::queue_for_institution;

/// A report was sent back with `reason` (差戻し).
pub fn report_sent_back(
    conn: &mut DbConnection,
    report: &ReportRow,
    reason: &str,
) -> Result<(), DbError> {
    let context = serde_json::json!({ "reason": reason, "report_id": report.id });
    queue_for_institution(
        conn,
        TemplateKey::SentBack,
        &format!("sent_back:{}:{}", report.id, report.revision),
        report.institution_id,
        report.fiscal_year,
        context,
    )?;
    Ok(())
}

/// A report was submitted (受付完了), as its version `number`.
pub fn report_received(
    conn: &mut DbConnection,
    report: &ReportRow,
    number: i32,
    submitted_at: chrono::NaiveDateTime,
) -> Result<(), DbError> {
    let context = serde_json::json!({
        "submitted_at": wareki::datetime_jst(submitted_at),
        "report_id": report.id,
    });
    queue_for_institution(
        conn,
        TemplateKey::Receipt,
        &format!("receipt:{}:{number}", report.id),
        report.institution_id,
        report.fiscal_year,
        context,
    )?;
    Ok(())
}
