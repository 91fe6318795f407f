//! One-time links: their rows, and the key their tokens are derived with.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{account_links, mail_outbox};

/// The key links are derived with (made once, shared by every process).
pub fn key(conn: &mut DbConnection) -> QueryResult<Vec<u8>> {
    let hex = super::meta::get_or_insert(conn, super::meta::LINK_KEY, || {
        use rand::Rng;
        let bytes: [u8; 32] = rand::rng().random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    })?;
    Ok(hex.into_bytes())
}

pub struct NewLink<'a> {
    pub user_id: i32,
    pub purpose: &'a str,
    pub outbox_id: Option<i32>,
    pub token_hash: &'a str,
    pub created_by: Option<i32>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, l: &NewLink) -> QueryResult<()> {
    diesel::insert_into(account_links::table)
        .values((
            account_links::user_id.eq(l.user_id),
            account_links::purpose.eq(l.purpose),
            account_links::outbox_id.eq(l.outbox_id),
            account_links::token_hash.eq(l.token_hash),
            account_links::created_by.eq(l.created_by),
            account_links::created_at.eq(l.created_at),
            account_links::expires_at.eq(l.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Many links with multi-row INSERTs (inside the caller's transaction).
pub fn insert_many(conn: &mut DbConnection, links: &[NewLink]) -> QueryResult<()> {
    for chunk in links.chunks(3_000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|l| {
                (
                    account_links::user_id.eq(l.user_id),
                    account_links::purpose.eq(l.purpose),
                    account_links::outbox_id.eq(l.outbox_id),
                    account_links::token_hash.eq(l.token_hash),
                    account_links::created_by.eq(l.created_by),
                    account_links::created_at.eq(l.created_at),
                    account_links::expires_at.eq(l.expires_at),
                )
            })
            .collect();
        crate::per_backend!(&mut *conn, |c| diesel::insert_into(account_links::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// Voids the user's links not used yet (a new one replaces them).
pub fn void_open(conn: &mut DbConnection, user_id: i32, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        account_links::table
            .filter(account_links::user_id.eq(user_id))
            .filter(account_links::used_at.is_null())
            .filter(account_links::voided_at.is_null()),
    )
    .set(account_links::voided_at.eq(at))
    .execute(conn)
}

#[derive(Debug, Clone, Queryable)]
pub struct LinkRow {
    pub id: i32,
    pub user_id: i32,
    pub purpose: String,
    pub outbox_id: Option<i32>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub voided_at: Option<NaiveDateTime>,
}

type LinkColumns = (
    account_links::id,
    account_links::user_id,
    account_links::purpose,
    account_links::outbox_id,
    account_links::created_at,
    account_links::expires_at,
    account_links::used_at,
    account_links::voided_at,
);

const COLUMNS: LinkColumns = (
    account_links::id,
    account_links::user_id,
    account_links::purpose,
    account_links::outbox_id,
    account_links::created_at,
    account_links::expires_at,
    account_links::used_at,
    account_links::voided_at,
);

pub fn by_hash(conn: &mut DbConnection, token_hash: &str) -> QueryResult<Option<LinkRow>> {
    account_links::table
        .filter(account_links::token_hash.eq(token_hash))
        .select(COLUMNS)
        .first(conn)
        .optional()
}

/// Marks the link used if it still is open at `now`; false when it was not.
pub fn use_once(conn: &mut DbConnection, id: i32, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        account_links::table
            .filter(account_links::id.eq(id))
            .filter(account_links::used_at.is_null())
            .filter(account_links::voided_at.is_null())
            .filter(account_links::expires_at.gt(now)),
    )
    .set(account_links::used_at.eq(now))
    .execute(conn)?;
    Ok(changed == 1)
}

/// A mail's state in the outbox and the mail server's last answer.
pub type MailState = (String, Option<String>);

/// The user's latest link with the state of its mail (outbox), for the officers' pages.
pub fn latest(
    conn: &mut DbConnection,
    user_id: i32,
) -> QueryResult<Option<(LinkRow, Option<MailState>)>> {
    let Some(link) = account_links::table
        .filter(account_links::user_id.eq(user_id))
        .order(account_links::id.desc())
        .select(COLUMNS)
        .first::<LinkRow>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let mail = match link.outbox_id {
        Some(id) => mail_outbox::table
            .find(id)
            .select((mail_outbox::state, mail_outbox::last_answer))
            .first(conn)
            .optional()?,
        None => None,
    };
    Ok(Some((link, mail)))
}

/// An institution user: institution, user, login ID, active, locked until, last login.
pub type UserLine = (
    i32,
    i32,
    String,
    bool,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

/// What the account states of some institutions are made of.
pub struct InstitutionAccounts {
    pub users: Vec<UserLine>,
    /// Users with a link still open.
    pub open_links: std::collections::HashSet<i32>,
    /// Institutions with an application awaiting a decision.
    pub pending: std::collections::HashSet<i32>,
}

pub fn institution_accounts(
    conn: &mut DbConnection,
    ids: &[i32],
    now: NaiveDateTime,
) -> QueryResult<InstitutionAccounts> {
    use super::schema::{account_applications, users};
    let lines: Vec<UserLine> = users::table
        .filter(users::institution_id.eq_any(ids))
        .order(users::login_id)
        .select((
            users::institution_id.assume_not_null(),
            users::id,
            users::login_id,
            users::active,
            users::locked_until,
            users::last_login_at,
        ))
        .load(conn)?;
    let user_ids: Vec<i32> = lines.iter().map(|l| l.1).collect();
    let open_links = account_links::table
        .filter(account_links::user_id.eq_any(&user_ids))
        .filter(account_links::used_at.is_null())
        .filter(account_links::voided_at.is_null())
        .filter(account_links::expires_at.gt(now))
        .select(account_links::user_id)
        .load::<i32>(conn)?
        .into_iter()
        .collect();
    let pending = account_applications::table
        .filter(account_applications::institution_id.eq_any(ids))
        .filter(account_applications::state.eq("pending"))
        .select(account_applications::institution_id.assume_not_null())
        .load::<i32>(conn)?
        .into_iter()
        .collect();
    Ok(InstitutionAccounts {
        users: lines,
        open_links,
        pending,
    })
}
