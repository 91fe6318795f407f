//! The outbox: one row per message, claimed by a worker in one statement that commits
//! before any SMTP is spoken (on PostgreSQL skipping rows other workers hold), and
//! marked with the server's answer after.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::INSERT_CHUNK;
use crate::db::DbConnection;
use crate::db::schema::{institutions, mail_outbox};
use crate::domain::mail::RowState;

/// Whether a campaign still has rows a worker will touch.
pub fn has_open_rows(conn: &mut DbConnection, campaign_id: i32) -> QueryResult<bool> {
    let open = [
        RowState::Queued.code(),
        RowState::Retry.code(),
        RowState::Sending.code(),
    ];
    diesel::select(diesel::dsl::exists(
        mail_outbox::table
            .filter(mail_outbox::campaign_id.eq(campaign_id))
            .filter(mail_outbox::state.eq_any(open)),
    ))
    .get_result(conn)
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mail_outbox)]
pub struct NewMessage {
    pub campaign_id: Option<i32>,
    pub event_key: Option<String>,
    pub prefecture_id: i32,
    pub template_key: String,
    pub institution_id: Option<i32>,
    pub user_id: Option<i32>,
    pub to_address: String,
    pub context: String,
    pub state: String,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Inserts messages in chunks (inside the caller's transaction).
pub fn insert_messages(conn: &mut DbConnection, rows: &[NewMessage]) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in rows.chunks(INSERT_CHUNK) {
        n += crate::per_backend!(&mut *conn, |c| diesel::insert_into(mail_outbox::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(n)
}

/// Queues one transactional message unless its event key was queued before; whether
/// it was queued now.
pub fn insert_event(conn: &mut DbConnection, row: &NewMessage) -> QueryResult<bool> {
    let n = crate::per_backend!(&mut *conn, |c| diesel::insert_into(mail_outbox::table)
        .values(row)
        .on_conflict(mail_outbox::event_key)
        .do_nothing()
        .execute(c))?;
    Ok(n > 0)
}

/// A message a worker holds.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = mail_outbox)]
pub struct ClaimedRow {
    pub id: i32,
    pub campaign_id: Option<i32>,
    pub prefecture_id: i32,
    pub template_key: String,
    pub institution_id: Option<i32>,
    pub user_id: Option<i32>,
    pub to_address: String,
    pub context: String,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
    pub resent_after_crash: bool,
}

/// Where a claim looks: one campaign's rows, or the transactional ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Campaign(i32),
    Transactional,
}

/// Takes up to `limit` due rows of a source for `worker` until `lease_until`, and
/// commits that before the caller speaks SMTP. A row whose claim ran out (its worker
/// died) is due again; it may have reached the server, so it is marked resent.
pub fn claim(
    conn: &mut DbConnection,
    source: Source,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<ClaimedRow>> {
    use diesel::sql_types::{BigInt, Integer, Text, Timestamp};
    // Diesel cannot put LIMIT and a locking clause into an IN subquery of an UPDATE, so
    // the statement is written out; only the placeholders differ between the backends.
    let source_filter = match source {
        Source::Campaign(_) => "campaign_id = {CAMPAIGN}",
        // Every placeholder must be used on both backends.
        Source::Transactional => "campaign_id IS NULL AND {CAMPAIGN} = 0",
    };
    let campaign = match source {
        Source::Campaign(id) => id,
        Source::Transactional => 0,
    };
    let sql = |p: &dyn Fn(usize) -> String, lock: &str| {
        format!(
            "UPDATE mail_outbox SET state = 'sending', claimed_by = {w}, lease_until = {l}, \
             next_attempt_at = {l}, attempts = attempts + 1, updated_at = {now}, \
             resent_after_crash = (resent_after_crash OR state = 'sending') \
             WHERE id IN (SELECT id FROM mail_outbox WHERE {source} \
             AND state IN ('queued', 'retry', 'sending') AND next_attempt_at <= {now} \
             ORDER BY next_attempt_at, id LIMIT {limit}{lock}) \
             RETURNING id, campaign_id, prefecture_id, template_key, institution_id, user_id, \
             to_address, context, attempts, created_at, resent_after_crash",
            w = p(1),
            l = p(2),
            now = p(3),
            limit = p(4),
            source = source_filter.replace("{CAMPAIGN}", &p(5)),
        )
    };
    macro_rules! run {
        ($c:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(worker)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .bind::<Integer, _>(campaign)
                .load::<ClaimedRow>($c)
        };
    }
    let mut rows = match conn {
        // SQLite numbers its placeholders ?1, ?2 … and may reuse them.
        DbConnection::Sqlite(c) => run!(c, sql(&|n| format!("?{n}"), "")),
        DbConnection::Pg(c) => run!(c, sql(&|n| format!("${n}"), " FOR UPDATE SKIP LOCKED")),
    }?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// What became of a claimed row.
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    pub state: RowState,
    pub answer: &'a str,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub subject: Option<&'a str>,
}

/// Records an outcome if `worker` still holds the row; false when another worker took
/// it back after the lease ran out.
pub fn record(
    conn: &mut DbConnection,
    id: i32,
    worker: &str,
    outcome: &Outcome,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    use mail_outbox as o;
    let sent_at = (outcome.state == RowState::Sent).then_some(now);
    let n = diesel::update(
        o::table
            .filter(o::id.eq(id))
            .filter(o::state.eq(RowState::Sending.code()))
            .filter(o::claimed_by.eq(worker)),
    )
    .set((
        o::state.eq(outcome.state.code()),
        o::last_answer.eq(Some(outcome.answer)),
        o::next_attempt_at.eq(outcome.next_attempt_at.unwrap_or(now)),
        o::sent_at.eq(sent_at),
        o::subject.eq(outcome.subject),
        o::claimed_by.eq(None::<&str>),
        o::lease_until.eq(None::<NaiveDateTime>),
        o::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

/// Records the outcomes of a claim in one transaction; how many the worker still held.
pub fn record_many(
    conn: &mut DbConnection,
    worker: &str,
    outcomes: &[(i32, Outcome)],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    if outcomes.is_empty() {
        return Ok(0);
    }
    crate::db::write_transaction(conn, |conn| {
        let mut kept = 0;
        for (id, outcome) in outcomes {
            if record(conn, *id, worker, outcome, now)? {
                kept += 1;
            }
        }
        Ok(kept)
    })
}

/// Gives back rows a worker holds without having tried them (its campaign was paused):
/// due at once for whoever resumes it, the claim's attempt not counted.
pub fn release(
    conn: &mut DbConnection,
    ids: &[i32],
    worker: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use mail_outbox as o;
    diesel::update(
        o::table
            .filter(o::id.eq_any(ids))
            .filter(o::state.eq(RowState::Sending.code()))
            .filter(o::claimed_by.eq(worker)),
    )
    .set((
        o::state.eq(RowState::Queued.code()),
        o::attempts.eq(o::attempts - 1),
        o::next_attempt_at.eq(now),
        o::claimed_by.eq(None::<&str>),
        o::lease_until.eq(None::<NaiveDateTime>),
        o::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Marks a campaign's waiting rows skipped (it was cancelled); rows a worker holds
/// finish as they go.
pub fn skip_waiting(
    conn: &mut DbConnection,
    campaign_id: i32,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use mail_outbox as o;
    diesel::update(
        o::table
            .filter(o::campaign_id.eq(campaign_id))
            .filter(o::state.eq_any([RowState::Queued.code(), RowState::Retry.code()])),
    )
    .set((
        o::state.eq(RowState::Skipped.code()),
        o::last_answer.eq(Some(reason)),
        o::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Queues a campaign's failed rows again (「失敗分を再送」): how many.
pub fn requeue_failed(
    conn: &mut DbConnection,
    campaign_id: i32,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use mail_outbox as o;
    diesel::update(
        o::table
            .filter(o::campaign_id.eq(campaign_id))
            .filter(o::state.eq(RowState::Failed.code())),
    )
    .set((
        o::state.eq(RowState::Queued.code()),
        o::attempts.eq(0),
        o::next_attempt_at.eq(now),
        o::updated_at.eq(now),
    ))
    .execute(conn)
}

/// One message as the delivery history shows it.
#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct MessageRow {
    pub id: i32,
    pub institution_id: Option<i32>,
    pub code: Option<String>,
    pub name: Option<String>,
    pub to_address: String,
    pub state: String,
    pub attempts: i32,
    pub last_answer: Option<String>,
    pub subject: Option<String>,
    pub resent_after_crash: bool,
    pub sent_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

type MessageColumns = (
    mail_outbox::id,
    mail_outbox::institution_id,
    diesel::dsl::Nullable<institutions::code>,
    diesel::dsl::Nullable<institutions::name>,
    mail_outbox::to_address,
    mail_outbox::state,
    mail_outbox::attempts,
    mail_outbox::last_answer,
    mail_outbox::subject,
    mail_outbox::resent_after_crash,
    mail_outbox::sent_at,
    mail_outbox::updated_at,
);

fn message_columns() -> MessageColumns {
    (
        mail_outbox::id,
        mail_outbox::institution_id,
        institutions::code.nullable(),
        institutions::name.nullable(),
        mail_outbox::to_address,
        mail_outbox::state,
        mail_outbox::attempts,
        mail_outbox::last_answer,
        mail_outbox::subject,
        mail_outbox::resent_after_crash,
        mail_outbox::sent_at,
        mail_outbox::updated_at,
    )
}

/// A page of a campaign's messages in id order (optionally of one state), and whether
/// more follow.
pub fn messages(
    conn: &mut DbConnection,
    campaign_id: i32,
    state: Option<RowState>,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<MessageRow>, bool)> {
    let mut q = mail_outbox::table
        .left_join(institutions::table)
        .filter(mail_outbox::campaign_id.eq(campaign_id))
        .select(message_columns())
        .order(mail_outbox::id)
        .limit(limit + 1)
        .offset(offset)
        .into_boxed();
    if let Some(s) = state {
        q = q.filter(mail_outbox::state.eq(s.code()));
    }
    let mut rows = q.load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    Ok((rows, more))
}

/// A campaign's failed and bounced messages, in code order (the failures CSV).
pub fn failures(conn: &mut DbConnection, campaign_id: i32) -> QueryResult<Vec<MessageRow>> {
    mail_outbox::table
        .left_join(institutions::table)
        .filter(mail_outbox::campaign_id.eq(campaign_id))
        .filter(mail_outbox::state.eq_any([RowState::Failed.code(), RowState::Bounced.code()]))
        .select(message_columns())
        .order((institutions::code, mail_outbox::id))
        .load(conn)
}

/// The outbox row of a transactional event.
/// The rows of a campaign and the user each is for (the links of アカウントの一括発行).
pub fn users_of_campaign(
    conn: &mut DbConnection,
    campaign_id: i32,
) -> QueryResult<Vec<(i32, Option<i32>)>> {
    mail_outbox::table
        .filter(mail_outbox::campaign_id.eq(campaign_id))
        .select((mail_outbox::id, mail_outbox::user_id))
        .order(mail_outbox::id)
        .load(conn)
}

pub fn outbox_id_of_event(conn: &mut DbConnection, event_key: &str) -> QueryResult<i32> {
    mail_outbox::table
        .filter(mail_outbox::event_key.eq(event_key))
        .select(mail_outbox::id)
        .first(conn)
}
