//! Signed-in sessions as the server records them. The cookie holds a random token; the
//! table holds its SHA-256, so a copy of the database cannot be turned into cookies.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::DbConnection;
use super::schema::sessions;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: i32,
    pub user_id: i32,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Why a session ended, as the table records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    SignOut,
    PasswordChanged,
    Deactivated,
    RoleChanged,
    EndedByAdmin,
    EndedByUser,
    Idle,
    Lifetime,
}

impl EndReason {
    pub fn code(self) -> &'static str {
        match self {
            EndReason::SignOut => "sign_out",
            EndReason::PasswordChanged => "password_changed",
            EndReason::Deactivated => "deactivated",
            EndReason::RoleChanged => "role_changed",
            EndReason::EndedByAdmin => "ended_by_admin",
            EndReason::EndedByUser => "ended_by_user",
            EndReason::Idle => "idle",
            EndReason::Lifetime => "lifetime",
        }
    }
}

pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct NewSession<'a> {
    pub token: &'a str,
    pub user_id: i32,
    pub now: NaiveDateTime,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

pub fn start(conn: &mut DbConnection, new: &NewSession) -> QueryResult<()> {
    // A browser's description is for the user's own list only; keep it short.
    let agent: Option<String> = new.user_agent.map(|a| a.chars().take(200).collect());
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(hash_token(new.token)),
            sessions::user_id.eq(new.user_id),
            sessions::created_at.eq(new.now),
            sessions::last_seen_at.eq(new.now),
            sessions::ip.eq(new.ip),
            sessions::user_agent.eq(agent),
        ))
        .execute(conn)?;
    Ok(())
}

/// The session a cookie's token names with its user and the user's scope, in one query
/// (the per-request load).
pub fn with_user(
    conn: &mut DbConnection,
    token: &str,
) -> QueryResult<
    Option<(
        SessionRow,
        super::users::User,
        Option<crate::domain::auth::Scope>,
    )>,
> {
    use super::schema::{areas, users};
    let row: Option<(SessionRow, super::users::User, Option<String>)> = sessions::table
        .inner_join(users::table.left_join(areas::table))
        .filter(sessions::token_hash.eq(hash_token(token)))
        .select((
            SessionRow::as_select(),
            super::users::User::as_select(),
            areas::kind.nullable(),
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(session, user, kind)| {
        let scope = super::users::scope_of(&user, kind.as_deref());
        (session, user, scope)
    }))
}

pub fn touch(conn: &mut DbConnection, id: i32, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Ends one session of a user (a forged id of another user's session changes nothing).
/// Returns whether it was live.
pub fn end(
    conn: &mut DbConnection,
    id: i32,
    user_id: i32,
    reason: EndReason,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::ended_at.is_null()),
    )
    .set((
        sessions::ended_at.eq(now),
        sessions::end_reason.eq(reason.code()),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Ends every live session of a user but `except`. Returns how many.
pub fn end_all(
    conn: &mut DbConnection,
    user_id: i32,
    except: Option<i32>,
    reason: EndReason,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::ended_at.is_null())
            .filter(sessions::id.ne(except.unwrap_or(0))),
    )
    .set((
        sessions::ended_at.eq(now),
        sessions::end_reason.eq(reason.code()),
    ))
    .execute(conn)
}

/// A user's sessions that have not ended, newest first (some may have expired without
/// being used since; the caller decides by the clock).
pub fn live_of(conn: &mut DbConnection, user_id: i32) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::ended_at.is_null())
        .order(sessions::last_seen_at.desc())
        .select(SessionRow::as_select())
        .load(conn)
}

/// Removes sessions that ended, or were last seen, before `cutoff`.
pub fn remove_older_than(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::ended_at
                .lt(cutoff)
                .or(sessions::last_seen_at.lt(cutoff)),
        ),
    )
    .execute(conn)
}
