//! 不達: bounce messages saved from the sender's mailbox (.eml or mbox) matched to the
//! outbox by our Message-ID, or by the envelope (the latest message accepted for the
//! address); the message becomes 不達 and the institution's address is flagged.

use chrono::Utc;
use serde::Serialize;

use super::{By, MailError, prefecture_of};
use crate::db::DbConnection;
use crate::db::audit::{self, Action};
use crate::db::mail as store;
use crate::domain::auth::Scope;
use crate::domain::bounce::{self, Bounce};
use crate::domain::mail::row_of_message_id;

/// Files larger than this are not read (a mailbox export of bounces is far smaller).
pub const MAX_BYTES: usize = 20 * 1024 * 1024;

#[derive(Debug, Clone, Default, Serialize)]
pub struct BounceReport {
    pub messages: usize,
    /// Messages marked 不達: (institution code, name, address, reason).
    pub bounced: Vec<BouncedLine>,
    /// Bounces that match no message of ours, with what they name.
    pub unmatched: Vec<String>,
    /// Messages that are not bounces, with why (numbered from 1 in the file).
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BouncedLine {
    pub institution_id: Option<i32>,
    pub code: String,
    pub name: String,
    pub address: String,
    pub reason: String,
}

/// Reads a file of bounces and applies them in one transaction. A file with no bounce
/// in it is refused with the reason, and nothing changes.
pub fn apply(
    conn: &mut DbConnection,
    by: By,
    file_name: &str,
    bytes: &[u8],
) -> Result<BounceReport, MailError> {
    if bytes.len() > MAX_BYTES {
        return Err(MailError::Invalid(format!(
            "ファイルが大きすぎます（{} MB まで）",
            MAX_BYTES / 1024 / 1024
        )));
    }
    let prefecture = match by.scope() {
        Scope::All => None,
        scope => Some(prefecture_of(conn, scope)?),
    };
    let mut report = BounceReport::default();
    let mut found: Vec<Bounce> = Vec::new();
    for (n, message) in bounce::split_mailbox(bytes).into_iter().enumerate() {
        report.messages += 1;
        match bounce::read(message) {
            Ok(bounces) => found.extend(bounces),
            Err(why) => report.skipped.push(format!("{}通目: {why}", n + 1)),
        }
    }
    if found.is_empty() {
        return Err(MailError::Invalid(format!(
            "不達のお知らせが見つかりません（{} 通を読みました。{}）",
            report.messages,
            report.skipped.join("、")
        )));
    }
    crate::db::write_transaction(conn, |conn| {
        let now = Utc::now().naive_utc();
        for b in &found {
            let Some((id, institution, address)) = matching_row(conn, b, prefecture)? else {
                report.unmatched.push(describe(b));
                continue;
            };
            let reason = b.reason();
            store::mark_bounced(conn, id, &reason, now)?;
            let names = match institution {
                Some(i) => {
                    store::flag_undeliverable(conn, i, &address, &reason, now)?;
                    store::institution_names(conn, &[i])?.remove(&i)
                }
                None => None,
            };
            let (code, name) = names.unwrap_or_default();
            report.bounced.push(BouncedLine {
                institution_id: institution,
                code,
                name,
                address,
                reason,
            });
        }
        let entry = by.entry(
            "mail_bounces",
            file_name,
            prefecture.unwrap_or_default(),
            serde_json::json!({
                "messages": report.messages,
                "bounced": report.bounced.len(),
                "unmatched": report.unmatched.len(),
            }),
        );
        audit::record(conn, Action::MailBounces, entry)?;
        Ok(report)
    })
}

/// The outbox row a bounce is about: our Message-ID first, then the envelope.
fn matching_row(
    conn: &mut DbConnection,
    b: &Bounce,
    prefecture: Option<i32>,
) -> Result<Option<store::BouncedRow>, MailError> {
    if let Some(id) = b.message_id.as_deref().and_then(row_of_message_id)
        && let Ok(id) = i32::try_from(id)
        && let Some(row) = store::row_for_bounce(conn, id, prefecture)?
    {
        return Ok(Some(row));
    }
    match &b.recipient {
        Some(address) => Ok(store::latest_sent_to(conn, address, prefecture)?),
        None => Ok(None),
    }
}

fn describe(b: &Bounce) -> String {
    format!(
        "{}（{}）",
        b.recipient.as_deref().unwrap_or("宛先不明"),
        b.message_id.as_deref().unwrap_or("Message-ID なし")
    )
}
