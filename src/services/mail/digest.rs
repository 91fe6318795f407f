//! The officers' daily digest (担当者向け新着まとめ): each morning, what the 新着 page
//! would show for the past day, mailed to every officer with an address, once a day
//! (the event key makes a second process or a restart queue nothing more).

use chrono::{Duration, NaiveDateTime, NaiveTime};

use super::MailError;
use crate::db::DbConnection;
use crate::db::mail as store;
use crate::domain::mail::{TemplateKey, recipient_address};
use crate::domain::wareki;

/// Queues today's digests once the morning has come (`hour` JST, the `digest_hour`
/// setting): how many were queued now. An officer with nothing new gets none.
pub fn queue_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    hour: u32,
) -> Result<usize, MailError> {
    let send_from = NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or(NaiveTime::MIN);
    let local = wareki::to_jst(now).naive_local();
    if local.time() < send_from {
        return Ok(0);
    }
    let today = local.date();
    // From yesterday's send time to today's, in UTC.
    let until = today.and_time(send_from) - Duration::hours(9);
    let from = until - Duration::days(1);
    let mut queued = 0;
    for (user, scope) in store::officers_with_email(conn)? {
        let Ok(address) = recipient_address(user.email.as_deref()) else {
            continue;
        };
        let (submitted, messages) = crate::db::review::news_since(conn, scope, from)?;
        let submitted: Vec<_> = submitted.into_iter().filter(|l| l.3 <= until).collect();
        let messages: Vec<_> = messages.into_iter().filter(|l| l.3 <= until).collect();
        if submitted.is_empty() && messages.is_empty() {
            continue;
        }
        let mut lines: Vec<String> = submitted
            .iter()
            .map(|(_, name, _, at)| format!("・報告 {} {name}", wareki::datetime_jst(*at)))
            .collect();
        lines.extend(messages.iter().map(|(_, name, body, at)| {
            let short: String = body.chars().take(40).collect();
            format!("・連絡 {} {name}: {short}", wareki::datetime_jst(*at))
        }));
        let context = serde_json::json!({
            "display_name": user.display_name,
            "date": wareki::date_wareki(today),
            "submissions": submitted.len(),
            "messages": messages.len(),
            "lines": lines.join("\n"),
        });
        let Ok(prefecture_id) = super::prefecture_of(conn, scope) else {
            continue;
        };
        let event = super::Event {
            key: TemplateKey::OfficerDigest,
            event_key: format!("digest:{}:{today}", user.id),
            prefecture_id,
            institution_id: None,
            user_id: Some(user.id),
            address,
        };
        let queued_now = super::queue_event(conn, event, &context)?;
        queued += usize::from(queued_now);
    }
    Ok(queued)
}
