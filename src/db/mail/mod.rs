//! Mail storage: templates a prefecture edited, campaigns (一括配信), and (in
//! `outbox`) one row per message.

mod outbox;
pub use outbox::*;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{institutions, mail_campaigns, mail_outbox, mail_templates, review_entries};
use crate::domain::mail::{CampaignState, RowState};

/// Rows a multi-row insert carries (SQLite allows 32,766 bound values).
pub(crate) const INSERT_CHUNK: usize = 1_000;

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

/// The campaign a confirmation already made, if any.
pub fn campaign_of_request(conn: &mut DbConnection, request_key: &str) -> QueryResult<Option<i32>> {
    mail_campaigns::table
        .filter(mail_campaigns::request_key.eq(request_key))
        .select(mail_campaigns::id)
        .first(conn)
        .optional()
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

/// The institution a template preview is shown for: the one with this code
/// (10 digits, or the bureau's 7) within a scope.
pub fn id_by_code_within(
    conn: &mut DbConnection,
    scope: crate::domain::auth::Scope,
    code: &str,
) -> QueryResult<Option<i32>> {
    super::institutions::within(scope)
        .filter(
            institutions::code
                .eq(code)
                .or(institutions::short_code.eq(code)),
        )
        .select(institutions::id)
        .first(conn)
        .optional()
}

/// The first reporting target with an e-mail address within a scope, by code.
pub fn first_target_within(
    conn: &mut DbConnection,
    scope: crate::domain::auth::Scope,
) -> QueryResult<Option<i32>> {
    super::institutions::within(scope)
        .filter(institutions::is_target.eq(true))
        .filter(institutions::email.is_not_null())
        .order(institutions::code)
        .select(institutions::id)
        .first(conn)
        .optional()
}

/// Code and name of institutions, by id (the names a claim's messages need).
pub fn institution_names(
    conn: &mut DbConnection,
    ids: &[i32],
) -> QueryResult<std::collections::HashMap<i32, (String, String)>> {
    let rows: Vec<(i32, String, String)> = institutions::table
        .filter(institutions::id.eq_any(ids))
        .select((institutions::id, institutions::code, institutions::name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, code, name)| (id, (code, name)))
        .collect())
}

/// An outbox row a bounce may be about: `(id, institution, address)`.
pub type BouncedRow = (i32, Option<i32>, String);

/// Outbox rows a bounce may be about, within a prefecture (`None`: any).
fn bounce_candidates(
    prefecture_id: Option<i32>,
) -> mail_outbox::BoxedQuery<'static, crate::db::MultiBackend> {
    let q = mail_outbox::table.into_boxed();
    match prefecture_id {
        Some(p) => q.filter(mail_outbox::prefecture_id.eq(p)),
        None => q,
    }
}

/// The row with this id.
pub fn row_for_bounce(
    conn: &mut DbConnection,
    id: i32,
    prefecture_id: Option<i32>,
) -> QueryResult<Option<BouncedRow>> {
    bounce_candidates(prefecture_id)
        .filter(mail_outbox::id.eq(id))
        .select((
            mail_outbox::id,
            mail_outbox::institution_id,
            mail_outbox::to_address,
        ))
        .first(conn)
        .optional()
}

/// The latest message accepted for an address (the envelope match, for a bounce that
/// does not return our Message-ID).
pub fn latest_sent_to(
    conn: &mut DbConnection,
    address: &str,
    prefecture_id: Option<i32>,
) -> QueryResult<Option<BouncedRow>> {
    bounce_candidates(prefecture_id)
        .filter(mail_outbox::to_address.eq(address))
        .filter(mail_outbox::state.eq_any([RowState::Sent.code(), RowState::Bounced.code()]))
        .order(mail_outbox::id.desc())
        .select((
            mail_outbox::id,
            mail_outbox::institution_id,
            mail_outbox::to_address,
        ))
        .first(conn)
        .optional()
}

/// Marks a sent (or failed) message bounced with the reason.
pub fn mark_bounced(
    conn: &mut DbConnection,
    id: i32,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(mail_outbox::table.filter(mail_outbox::id.eq(id)).filter(
        mail_outbox::state.eq_any([
            RowState::Sent.code(),
            RowState::Failed.code(),
            RowState::Bounced.code(),
        ]),
    ))
    .set((
        mail_outbox::state.eq(RowState::Bounced.code()),
        mail_outbox::last_answer.eq(Some(reason)),
        mail_outbox::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

/// Flags an institution's address as undeliverable (不達) while it is still `address`.
pub fn flag_undeliverable(
    conn: &mut DbConnection,
    institution_id: i32,
    address: &str,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        institutions::table
            .filter(institutions::id.eq(institution_id))
            .filter(institutions::email.eq(address)),
    )
    .set((
        institutions::email_bounced_at.eq(Some(now)),
        institutions::email_bounce_reason.eq(Some(reason)),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

/// Clears the 不達 flag (the address changed).
pub fn clear_undeliverable(conn: &mut DbConnection, institution_id: i32) -> QueryResult<()> {
    diesel::update(institutions::table.filter(institutions::id.eq(institution_id)))
        .set((
            institutions::email_bounced_at.eq(None::<NaiveDateTime>),
            institutions::email_bounce_reason.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Active officers with an address, for the daily digest: the user and its scope.
pub fn officers_with_email(
    conn: &mut DbConnection,
) -> QueryResult<Vec<(super::users::User, crate::domain::auth::Scope)>> {
    use super::schema::{areas, users};
    let rows: Vec<(super::users::User, Option<String>)> = users::table
        .left_join(areas::table)
        .filter(users::active.eq(true))
        .filter(users::email.is_not_null())
        .filter(users::role.ne(crate::domain::auth::Role::Institution.code()))
        .select((super::users::User::as_select(), areas::kind.nullable()))
        .order(users::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(user, kind)| {
            let scope = super::users::scope_of(&user, kind.as_deref())?;
            Some((user, scope))
        })
        .collect())
}
