//! Signing in and out, changing one's password, ending one's own sessions. Each writes
//! its audit entry with the user's prefecture, so that the prefecture administrator's
//! 操作履歴 shows it.

use chrono::{NaiveDateTime, Utc};

use super::{Failure, Kind};
use crate::db::audit::{self, Action};
use crate::db::sessions::{self, EndReason};
use crate::db::{self, DbConnection, DbError, users};
use crate::domain::auth::Scope;
use crate::domain::auth::{LockoutPolicy, PasswordError, check_password, normalize_login_id};
use crate::password;

/// The browser a session is started for.
pub struct Browser<'a> {
    /// The new session's token (the cookie keeps it; the table keeps its hash).
    pub token: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// The session the browser had before, to end when it signs in again.
pub struct Replaced {
    pub session_id: i32,
    pub user_id: i32,
}

pub enum SignIn {
    SignedIn {
        must_change_password: bool,
    },
    /// Wrong ID, wrong password, locked or disabled: the page says the same for each.
    Failed,
}

/// Checks the password (argon2: call on a blocking thread), counts failures and locks,
/// and starts a session on success.
pub fn sign_in(
    conn: &mut DbConnection,
    typed_login: &str,
    typed_password: &str,
    policy: LockoutPolicy,
    browser: &Browser,
    replaced: Option<Replaced>,
) -> Result<SignIn, DbError> {
    let ip = browser.ip.map(str::to_string);
    let Ok(login_id) = normalize_login_id(typed_login) else {
        password::verify_dummy(typed_password);
        failure(conn, None, typed_login, ip, "invalid_id")?;
        return Ok(SignIn::Failed);
    };
    let Some(user) = users::by_login(conn, &login_id)? else {
        password::verify_dummy(typed_password);
        failure(conn, None, &login_id, ip, "unknown_id")?;
        return Ok(SignIn::Failed);
    };
    let now = Utc::now().naive_utc();
    let prefecture = match users::with_scope(conn, user.id)? {
        Some((_, scope)) => users::prefecture_of(conn, scope)?,
        None => None,
    };
    if policy.is_locked(user.locked_until, now) {
        password::verify_dummy(typed_password);
        failure(conn, Some((&user, prefecture)), &login_id, ip, "locked")?;
        return Ok(SignIn::Failed);
    }
    let matches = password::verify(typed_password, &user.password_hash);
    if !matches || !user.active {
        if matches {
            failure(conn, Some((&user, prefecture)), &login_id, ip, "disabled")?;
        } else {
            wrong_password(conn, &user, prefecture, policy, now, ip)?;
        }
        return Ok(SignIn::Failed);
    }
    db::write_transaction(conn, |conn| {
        users::record_success(conn, user.id)?;
        if let Some(old) = replaced {
            sessions::end(conn, old.session_id, old.user_id, EndReason::SignOut, now)?;
        }
        start_session(conn, user.id, browser, now)?;
        audit::record(
            conn,
            Action::SignIn,
            self_entry(&user, prefecture, ip, None),
        )?;
        Ok::<_, DbError>(())
    })?;
    Ok(SignIn::SignedIn {
        must_change_password: user.must_change_password,
    })
}

fn wrong_password(
    conn: &mut DbConnection,
    user: &users::User,
    prefecture: Option<i32>,
    policy: LockoutPolicy,
    now: NaiveDateTime,
    ip: Option<String>,
) -> Result<(), DbError> {
    let (failed, locked) = policy.after_failure(user.failed_attempts, now);
    db::write_transaction(conn, |conn| {
        users::record_failure(conn, user.id, failed, locked)?;
        if locked.is_some() {
            let detail = serde_json::json!({ "until": locked });
            audit::record(
                conn,
                Action::Lockout,
                self_entry(user, prefecture, ip.clone(), Some(detail)),
            )?;
        }
        failure(
            conn,
            Some((user, prefecture)),
            &user.login_id,
            ip,
            "wrong_password",
        )
    })
}

/// An entry about the user, written by the user.
fn self_entry(
    user: &users::User,
    prefecture: Option<i32>,
    ip: Option<String>,
    detail: Option<serde_json::Value>,
) -> audit::Entry {
    audit::Entry {
        actor_id: Some(user.id),
        actor_login: Some(user.login_id.clone()),
        target_type: Some("user"),
        target_id: Some(user.id.to_string()),
        prefecture_id: prefecture,
        ip,
        detail,
    }
}

fn failure(
    conn: &mut DbConnection,
    user: Option<(&users::User, Option<i32>)>,
    typed: &str,
    ip: Option<String>,
    reason: &str,
) -> Result<(), DbError> {
    audit::record(
        conn,
        Action::SignInFailed,
        audit::Entry {
            actor_id: user.map(|(u, _)| u.id),
            actor_login: Some(typed.to_string()),
            target_type: user.map(|_| "user"),
            target_id: user.map(|(u, _)| u.id.to_string()),
            prefecture_id: user.and_then(|(_, p)| p),
            ip,
            detail: Some(serde_json::json!({ "reason": reason })),
        },
    )?;
    Ok(())
}

pub(crate) fn start_session(
    conn: &mut DbConnection,
    user_id: i32,
    browser: &Browser,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    sessions::start(
        conn,
        &sessions::NewSession {
            token: browser.token,
            user_id,
            now,
            ip: browser.ip,
            user_agent: browser.user_agent,
        },
    )?;
    Ok(())
}

/// The signed-in user, as the sign-out and session pages know them.
pub struct SignedIn<'a> {
    pub user_id: i32,
    pub login: &'a str,
    pub scope: Scope,
    pub session_id: Option<i32>,
    pub ip: Option<&'a str>,
}

impl SignedIn<'_> {
    fn entry(
        &self,
        conn: &mut DbConnection,
        detail: Option<serde_json::Value>,
    ) -> Result<audit::Entry, DbError> {
        Ok(audit::Entry {
            actor_id: Some(self.user_id),
            actor_login: Some(self.login.to_string()),
            target_type: Some("user"),
            target_id: Some(self.user_id.to_string()),
            prefecture_id: users::prefecture_of(conn, self.scope)?,
            ip: self.ip.map(str::to_string),
            detail,
        })
    }
}

pub fn sign_out(conn: &mut DbConnection, user: &SignedIn) -> Result<(), DbError> {
    db::write_transaction(conn, |conn| {
        if let Some(id) = user.session_id {
            sessions::end(
                conn,
                id,
                user.user_id,
                EndReason::SignOut,
                Utc::now().naive_utc(),
            )?;
        }
        let entry = user.entry(conn, None)?;
        audit::record(conn, Action::SignOut, entry)?;
        Ok(())
    })
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("{0}")]
    Rule(#[from] PasswordError),
    #[error("今のパスワードとは違うものにしてください")]
    Unchanged,
    #[error("今のパスワードが正しくありません")]
    WrongCurrent,
    #[error("{0}")]
    Db(#[from] DbError),
}

db_errors!(PasswordChangeError);

impl Failure for PasswordChangeError {
    fn kind(&self) -> Kind {
        match self {
            PasswordChangeError::Db(e) => e.kind(),
            _ => Kind::Invalid,
        }
    }
}

pub struct PasswordChange<'a> {
    pub current: &'a str,
    pub new_password: &'a str,
    pub confirm: &'a str,
    pub min_length: usize,
}

/// Changes the user's own password: every session of theirs ends and this browser
/// continues in a new one (`browser`).
pub fn change_password(
    conn: &mut DbConnection,
    user: &SignedIn,
    change: &PasswordChange,
    browser: &Browser,
) -> Result<(), PasswordChangeError> {
    let row = users::by_id(conn, user.user_id)?.ok_or(DbError::Query(diesel::NotFound))?;
    let personal = users::personal_words(conn, &row)?;
    let personal: Vec<&str> = personal.iter().map(String::as_str).collect();
    check_password(change.new_password, change.min_length, &personal)?;
    if change.new_password != change.confirm {
        return Err(PasswordError::Mismatch.into());
    }
    if change.new_password == change.current {
        return Err(PasswordChangeError::Unchanged);
    }
    if !password::verify(change.current, &row.password_hash) {
        return Err(PasswordChangeError::WrongCurrent);
    }
    let hash = password::hash(change.new_password).map_err(|e| DbError::Task(e.to_string()))?;
    db::write_transaction(conn, |conn| {
        users::set_password(conn, user.user_id, &hash, false)?;
        start_session(conn, user.user_id, browser, Utc::now().naive_utc())?;
        let entry = user.entry(conn, None)?;
        audit::record(conn, Action::PasswordChange, entry)?;
        Ok::<_, PasswordChangeError>(())
    })
}

/// Which of their own sessions a user ends from 「ログイン中の端末」.
pub enum OwnSessions {
    /// Every session but the current one.
    Others,
    One(i32),
}

/// Ends the user's other sessions (never the current one: signing out is the button
/// for it; another user's session id changes nothing). Returns how many ended.
pub fn end_own_sessions(
    conn: &mut DbConnection,
    user: &SignedIn,
    which: OwnSessions,
) -> Result<usize, DbError> {
    let now = Utc::now().naive_utc();
    db::write_transaction(conn, |conn| {
        let ended = match which {
            OwnSessions::Others => sessions::end_all(
                conn,
                user.user_id,
                user.session_id,
                EndReason::EndedByUser,
                now,
            )?,
            OwnSessions::One(id) if Some(id) != user.session_id => usize::from(sessions::end(
                conn,
                id,
                user.user_id,
                EndReason::EndedByUser,
                now,
            )?),
            OwnSessions::One(_) => 0,
        };
        if ended > 0 {
            let entry = user.entry(
                conn,
                Some(serde_json::json!({ "ended": ended, "by": "self" })),
            )?;
            audit::record(conn, Action::SessionsEnd, entry)?;
        }
        Ok(ended)
    })
}
