//! Mail storage: templates a prefecture edited, campaigns (一括配信) and the outbox,
//! one row per message. A worker's claim is one statement that commits before any SMTP
//! is spoken; on PostgreSQL it skips rows other workers hold.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{institutions, mail_campaigns, mail_outbox, mail_templates, review_entries};
use crate::domain::mail::{CampaignState, RowState};

/// Rows a multi-row insert carries (SQLite allows 32,766 bound values).
const INSERT_CHUNK: usize = 1_000;

#[derive(Debug, Clone, Queryable)]
pub struct TemplateRow {
    pub subject: String,
    pub body: String,
    pub revision: i32,
    pub updated_at: NaiveDateTime,
}

/// The prefecture's own version of a template, if it edited one.
pub fn template(
    conn: &mut DbConnection,
    prefecture_id: i32,
    key: &str,
) -> QueryResult<Option<TemplateRow>> {
    mail_templates::table
        .filter(mail_templates::prefecture_id.eq(prefecture_id))
        .filter(mail_templates::template_key.eq(key))
        .select((
            mail_templates::subject,
            mail_templates::body,
            mail_templates::revision,
            mail_templates::updated_at,
        ))
        .first(conn)
        .optional()
}

/// Stores an edited template (inside the caller's transaction); its new revision.
pub fn save_template(
    conn: &mut DbConnection,
    prefecture_id: i32,
    key: &str,
    subject: &str,
    body: &str,
    by: i32,
    now: NaiveDateTime,
) -> QueryResult<i32> {
    let current = template(conn, prefecture_id, key)?;
    let target = mail_templates::table
        .filter(mail_templates::prefecture_id.eq(prefecture_id))
        .filter(mail_templates::template_key.eq(key));
    let values = (
        mail_templates::subject.eq(subject),
        mail_templates::body.eq(body),
        mail_templates::updated_by.eq(Some(by)),
        mail_templates::updated_at.eq(now),
    );
    match current {
        Some(row) => {
            diesel::update(target)
                .set((values, mail_templates::revision.eq(row.revision + 1)))
                .execute(conn)?;
            Ok(row.revision + 1)
        }
        None => {
            diesel::insert_into(mail_templates::table)
                .values((
                    mail_templates::prefecture_id.eq(prefecture_id),
                    mail_templates::template_key.eq(key),
                    values,
                    mail_templates::revision.eq(1),
                ))
                .execute(conn)?;
            Ok(1)
        }
    }
}

/// Drops a prefecture's edit: the shipped default applies again.
pub fn reset_template(conn: &mut DbConnection, prefecture_id: i32, key: &str) -> QueryResult<bool> {
    let n = diesel::delete(
        mail_templates::table
            .filter(mail_templates::prefecture_id.eq(prefecture_id))
            .filter(mail_templates::template_key.eq(key)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mail_campaigns)]
pub struct NewCampaign<'a> {
    pub prefecture_id: i32,
    pub area_id: Option<i32>,
    pub template_key: &'a str,
    pub fiscal_year: i32,
    pub audience: &'a str,
    pub audience_detail: &'a str,
    pub state: &'a str,
    pub recipients: i32,
    pub without_address: i32,
    pub scheduled_at: Option<NaiveDateTime>,
    pub request_key: &'a str,
    pub created_by: Option<i32>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
}

/// Inserts a campaign unless one with its request key exists: `(id, created)`.
pub fn insert_campaign(conn: &mut DbConnection, new: &NewCampaign) -> QueryResult<(i32, bool)> {
    let inserted: Option<i32> = crate::per_backend!(&mut *conn, |c| {
        diesel::insert_into(mail_campaigns::table)
            .values(new)
            .on_conflict(mail_campaigns::request_key)
            .do_nothing()
            .returning(mail_campaigns::id)
            .get_result(c)
            .optional()
    })?;
    match inserted {
        Some(id) => Ok((id, true)),
        None => {
            let id = mail_campaigns::table
                .filter(mail_campaigns::request_key.eq(new.request_key))
                .select(mail_campaigns::id)
                .first(conn)?;
            Ok((id, false))
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail_campaigns)]
pub struct CampaignRow {
    pub id: i32,
    pub prefecture_id: i32,
    pub area_id: Option<i32>,
    pub template_key: String,
    pub fiscal_year: i32,
    pub audience: String,
    pub audience_detail: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub recipients: i32,
    pub without_address: i32,
    pub scheduled_at: Option<NaiveDateTime>,
    pub created_by: Option<i32>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
}

/// Which campaigns a user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visible {
    /// The whole deployment (a system administrator, the worker, the command line).
    All,
    /// A prefecture's, its areas' included.
    Prefecture(i32),
    /// A health-center officer's area's own.
    Area(i32),
}

fn visible(v: Visible) -> mail_campaigns::BoxedQuery<'static, crate::db::MultiBackend> {
    let q = mail_campaigns::table.into_boxed();
    match v {
        Visible::All => q,
        Visible::Prefecture(p) => q.filter(mail_campaigns::prefecture_id.eq(p)),
        Visible::Area(a) => q.filter(mail_campaigns::area_id.eq(a)),
    }
}

/// A campaign, if the user sees it.
pub fn campaign(conn: &mut DbConnection, id: i32, v: Visible) -> QueryResult<Option<CampaignRow>> {
    visible(v)
        .filter(mail_campaigns::id.eq(id))
        .select(CampaignRow::as_select())
        .first(conn)
        .optional()
}

/// Campaigns, newest first, and whether more follow.
pub fn campaigns(
    conn: &mut DbConnection,
    v: Visible,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<CampaignRow>, bool)> {
    let q = visible(v)
        .select(CampaignRow::as_select())
        .order(mail_campaigns::id.desc())
        .limit(limit + 1)
        .offset(offset);
    let mut rows = q.load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    Ok((rows, more))
}

/// Moves a campaign from one of `from` to `to`; false when it was in none of them.
pub fn set_campaign_state(
    conn: &mut DbConnection,
    id: i32,
    from: &[CampaignState],
    to: CampaignState,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let codes: Vec<&str> = from.iter().map(|s| s.code()).collect();
    let target = mail_campaigns::table
        .filter(mail_campaigns::id.eq(id))
        .filter(mail_campaigns::state.eq_any(codes));
    let n = match to {
        CampaignState::Sending => diesel::update(target)
            .set((
                mail_campaigns::state.eq(to.code()),
                mail_campaigns::state_reason.eq(reason),
                mail_campaigns::started_at.eq(Some(now)),
            ))
            .execute(conn)?,
        CampaignState::Finished | CampaignState::Cancelled => diesel::update(target)
            .set((
                mail_campaigns::state.eq(to.code()),
                mail_campaigns::state_reason.eq(reason),
                mail_campaigns::finished_at.eq(Some(now)),
            ))
            .execute(conn)?,
        _ => diesel::update(target)
            .set((
                mail_campaigns::state.eq(to.code()),
                mail_campaigns::state_reason.eq(reason),
            ))
            .execute(conn)?,
    };
    Ok(n > 0)
}

/// Campaigns in a state: `(id, scheduled_at)`.
pub fn campaigns_in(
    conn: &mut DbConnection,
    state: CampaignState,
) -> QueryResult<Vec<(i32, Option<NaiveDateTime>)>> {
    mail_campaigns::table
        .filter(mail_campaigns::state.eq(state.code()))
        .select((mail_campaigns::id, mail_campaigns::scheduled_at))
        .order(mail_campaigns::id)
        .load(conn)
}

/// Rows per state of each campaign asked for.
pub fn tallies(
    conn: &mut DbConnection,
    campaign_ids: &[i32],
) -> QueryResult<Vec<(i32, RowState, i64)>> {
    let rows: Vec<(Option<i32>, String, i64)> = mail_outbox::table
        .filter(mail_outbox::campaign_id.eq_any(campaign_ids))
        .group_by((mail_outbox::campaign_id, mail_outbox::state))
        .select((
            mail_outbox::campaign_id,
            mail_outbox::state,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(c, s, n)| Some((c?, RowState::from_code(&s)?, n)))
        .collect())
}

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

/// The report status of an institution's fiscal year as the search table has it
/// (`review::NOT_REPORTED` when it has no report), for the re-check before a reminder.
pub fn report_status(
    conn: &mut DbConnection,
    institution_id: i32,
    fiscal_year: i32,
) -> QueryResult<Option<String>> {
    review_entries::table
        .filter(review_entries::institution_id.eq(institution_id))
        .filter(review_entries::fiscal_year.eq(fiscal_year))
        .select(review_entries::status)
        .first(conn)
        .optional()
}
