//! One-time links (issue 17): mailed through the outbox to set a new account's password
//! or reset a forgotten one, printed by `kakari user invite`, used once on
//! `/account/link/{token}`. A new link voids the user's earlier ones, even one whose
//! mail is still queued.

use chrono::{Duration, NaiveDateTime};

use crate::db::audit::{self, Action};
use crate::db::users::{self, User};
use crate::db::{self, DbConnection, DbError};
use crate::domain::auth::{PasswordError, check_password, normalize_login_id};
use crate::domain::links::{self, LinkState, Purpose};
use crate::domain::mail::{TemplateKey, recipient_address};
use crate::services::auth::{Browser, start_session};
use crate::services::mail::{Event, queue_event};
use crate::services::{Failure, Kind};

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("このURLは使えません。")]
    Invalid,
    #[error("{}", .0.message())]
    State(LinkState),
    #[error("{0}")]
    Password(#[from] PasswordError),
    #[error("このユーザにはメールアドレスが登録されていません。")]
    NoAddress,
    #[error(transparent)]
    Db(#[from] DbError),
}

db_errors!(LinkError);

impl Failure for LinkError {
    fn kind(&self) -> Kind {
        match self {
            LinkError::Invalid => Kind::NotFound,
            LinkError::State(_) => Kind::Conflict,
            LinkError::Password(_) | LinkError::NoAddress => Kind::Invalid,
            LinkError::Db(e) => e.kind(),
        }
    }
}

fn template(purpose: Purpose) -> TemplateKey {
    match purpose {
        Purpose::Setup => TemplateKey::AccountSetup,
        Purpose::Reset => TemplateKey::PasswordReset,
    }
}

/// 32 random bytes as hex: a token, or a password nobody knows.
pub(crate) fn random_hex() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The prefecture whose templates a user's mail uses.
fn prefecture_for(conn: &mut DbConnection, user: &User) -> Result<i32, DbError> {
    let scope = users::with_scope(conn, user.id)?.map(|(_, s)| s);
    if let Some(id) = scope
        .map(|s| users::prefecture_of(conn, s))
        .transpose()?
        .flatten()
    {
        return Ok(id);
    }
    let first = db::areas::prefectures(conn)?.into_iter().next();
    first
        .map(|p| p.id)
        .ok_or(DbError::Query(diesel::result::Error::NotFound))
}

/// A link that was mailed.
#[derive(Debug, Clone)]
pub struct Mailed {
    pub outbox_id: i32,
    pub expires_at: NaiveDateTime,
}

/// Queues a fresh link for `user` (voiding their open ones), in one transaction: the
/// mail is sent by the outbox worker, which derives the same token from the row.
pub fn mail_link(
    conn: &mut DbConnection,
    user: &User,
    purpose: Purpose,
    by: Option<(i32, &str)>,
    hours: u32,
    now: NaiveDateTime,
) -> Result<Mailed, LinkError> {
    let address = recipient_address(user.email.as_deref()).map_err(|_| LinkError::NoAddress)?;
    let prefecture_id = prefecture_for(conn, user)?;
    let expires_at = now + Duration::hours(i64::from(hours));
    let event_key = format!("link:{}:{}", user.id, random_hex());
    db::write_transaction(conn, |conn| {
        db::links::void_open(conn, user.id, now)?;
        let context = serde_json::json!({
            "display_name": user.display_name,
            "login_id": user.login_id,
            "expires_at": crate::domain::wareki::datetime_jst(expires_at),
        });
        let event = Event {
            key: template(purpose),
            event_key: event_key.clone(),
            prefecture_id,
            institution_id: user.institution_id,
            user_id: Some(user.id),
            address,
        };
        queue_event(conn, event, &context)?;
        let outbox_id = crate::db::mail::outbox_id_of_event(conn, &event_key)?;
        let key = db::links::key(conn)?;
        let token = links::token_for_outbox(&key, outbox_id);
        db::links::insert(
            conn,
            &db::links::NewLink {
                user_id: user.id,
                purpose: purpose.code(),
                outbox_id: Some(outbox_id),
                token_hash: &links::token_hash(&token),
                created_by: by.map(|(id, _)| id),
                created_at: now,
                expires_at,
            },
        )?;
        let entry = audit::Entry {
            actor_id: by.map(|(id, _)| id),
            actor_login: Some(
                by.map_or("（本人の申し出）", |(_, login)| login)
                    .to_string(),
            ),
            target_type: Some("user"),
            target_id: Some(user.id.to_string()),
            prefecture_id: Some(prefecture_id),
            detail: Some(serde_json::json!({
                "login_id": user.login_id,
                "purpose": purpose.code(),
                "outbox_id": outbox_id,
            })),
            ip: None,
        };
        audit::record(conn, Action::PasswordLinkSend, entry)?;
        Ok(Mailed {
            outbox_id,
            expires_at,
        })
    })
}

/// `kakari user invite`: a fresh setup link for the IT staff to hand over (voiding the
/// user's open ones); the token is returned once and only its hash is kept.
pub fn invite(
    conn: &mut DbConnection,
    user: &User,
    hours: u32,
    now: NaiveDateTime,
) -> Result<String, LinkError> {
    let token = random_hex();
    let expires_at = now + Duration::hours(i64::from(hours));
    db::write_transaction(conn, |conn| {
        db::links::void_open(conn, user.id, now)?;
        db::links::insert(
            conn,
            &db::links::NewLink {
                user_id: user.id,
                purpose: Purpose::Setup.code(),
                outbox_id: None,
                token_hash: &links::token_hash(&token),
                created_by: None,
                created_at: now,
                expires_at,
            },
        )?;
        Ok::<_, LinkError>(())
    })?;
    Ok(token)
}

/// The link and its user, if it can still be used.
pub fn open(
    conn: &mut DbConnection,
    token: &str,
    now: NaiveDateTime,
) -> Result<(db::links::LinkRow, User), LinkError> {
    if !links::well_formed(token) {
        return Err(LinkError::Invalid);
    }
    let link = db::links::by_hash(conn, &links::token_hash(token))?.ok_or(LinkError::Invalid)?;
    let user = users::by_id(conn, link.user_id)?
        .filter(|u| u.active)
        .ok_or(LinkError::Invalid)?;
    match LinkState::of(now, link.expires_at, link.used_at, link.voided_at) {
        LinkState::Open => Ok((link, user)),
        state => Err(LinkError::State(state)),
    }
}

/// Sets the password through the link (once), ends the user's other sessions and
/// signs this browser in.
pub fn set_password(
    conn: &mut DbConnection,
    token: &str,
    password: &str,
    confirm: &str,
    min_length: usize,
    browser: &Browser,
    now: NaiveDateTime,
) -> Result<User, LinkError> {
    let (link, user) = open(conn, token, now)?;
    let personal = users::personal_words(conn, &user)?;
    let personal: Vec<&str> = personal.iter().map(String::as_str).collect();
    check_password(password, min_length, &personal)?;
    if password != confirm {
        return Err(PasswordError::Mismatch.into());
    }
    let hash = crate::password::hash(password).map_err(|e| DbError::Task(e.to_string()))?;
    db::write_transaction(conn, |conn| {
        if !db::links::use_once(conn, link.id, now)? {
            return Err(LinkError::State(LinkState::Used));
        }
        users::set_password(conn, user.id, &hash, false)?;
        // The link signs the user in: a sign-in like any other.
        users::record_success(conn, user.id)?;
        start_session(conn, user.id, browser, now)?;
        let scope = users::with_scope(conn, user.id)?.map(|(_, s)| s);
        let prefecture_id = match scope {
            Some(s) => users::prefecture_of(conn, s)?,
            None => None,
        };
        let entry = audit::Entry {
            actor_id: Some(user.id),
            actor_login: Some(user.login_id.clone()),
            target_type: Some("user"),
            target_id: Some(user.id.to_string()),
            prefecture_id,
            detail: Some(serde_json::json!({ "purpose": link.purpose })),
            ip: browser.ip.map(str::to_string),
        };
        audit::record(conn, Action::PasswordLinkUse, entry)?;
        Ok(user.clone())
    })
}

const RESETS_PER_IP_HOUR: i64 = 10;

/// 「パスワードをお忘れの方」: the typed login ID or e-mail address. The same answer
/// and the same record whether or not it names an account; a reset link is mailed
/// only to an active account with an address.
pub fn forgot(
    conn: &mut DbConnection,
    typed: &str,
    hours: u32,
    ip: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), LinkError> {
    let typed: String = typed.trim().chars().take(254).collect();
    let by_login = match normalize_login_id(&typed) {
        Ok(login) => users::by_login(conn, &login)?,
        Err(_) => None,
    };
    let user = match by_login {
        Some(u) => Some(u),
        None if typed.contains('@') => users::only_one_with_email(conn, &typed)?,
        None => None,
    }
    .filter(|u| u.active);
    // Ten requests an hour from one address are plenty; beyond them the answer is the
    // same and nothing is mailed.
    let flooding = match ip {
        Some(ip) => {
            let since = now - Duration::hours(1);
            audit::count_from(conn, Action::PasswordResetAsk, ip, since)? >= RESETS_PER_IP_HOUR
        }
        None => false,
    };
    let mailed = match &user {
        _ if flooding => false,
        Some(u) if u.email.is_some() => {
            match mail_link(conn, u, Purpose::Reset, None, hours, now) {
                Ok(_) | Err(LinkError::NoAddress) => true,
                Err(e) => return Err(e),
            }
        }
        _ => false,
    };
    let entry = audit::Entry {
        actor_login: Some("（パスワードをお忘れの方）".into()),
        target_type: Some("user"),
        target_id: user.as_ref().map(|u| u.id.to_string()),
        detail: Some(serde_json::json!({ "mailed": mailed, "limited": flooding })),
        ip: ip.map(str::to_string),
        ..audit::Entry::default()
    };
    audit::record(conn, Action::PasswordResetAsk, entry)?;
    Ok(())
}

/// Where a user's latest link stands, and its mail's delivery, for 「ユーザ管理」.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkSummary {
    pub purpose: &'static str,
    pub state: &'static str,
    pub created_at: String,
    pub expires_at: String,
    /// The mail's state in the outbox and the mail server's last answer.
    pub mail: Option<String>,
}

pub fn latest(
    conn: &mut DbConnection,
    user_id: i32,
    now: NaiveDateTime,
) -> Result<Option<LinkSummary>, LinkError> {
    let Some((link, mail)) = db::links::latest(conn, user_id)? else {
        return Ok(None);
    };
    let purpose = match Purpose::from_code(&link.purpose) {
        Some(Purpose::Setup) => "アカウント設定",
        _ => "パスワード再設定",
    };
    let state = LinkState::of(now, link.expires_at, link.used_at, link.voided_at).label();
    let mail = match (link.outbox_id, mail) {
        (None, _) => Some("メールなし（コマンドで発行）".to_string()),
        (Some(_), Some((state, answer))) => Some(format!(
            "{}{}",
            crate::domain::mail::RowState::from_code(&state).map_or(state.as_str(), |s| s.label()),
            answer.map(|a| format!("（{a}）")).unwrap_or_default()
        )),
        (Some(_), None) => None,
    };
    Ok(Some(LinkSummary {
        purpose,
        state,
        created_at: crate::domain::wareki::datetime_jst(link.created_at),
        expires_at: crate::domain::wareki::datetime_jst(link.expires_at),
        mail,
    }))
}

/// 「パスワード設定URLをメールで送る」 by an administrator, for a user within reach: a
/// setup link if the user never signed in, else a reset link. Voids earlier links.
pub fn send_by_admin(
    conn: &mut DbConnection,
    admin: &super::Admin,
    user_id: i32,
    hours: u32,
    now: NaiveDateTime,
) -> Result<Mailed, LinkError> {
    let (user, _) = super::target(conn, admin, user_id).map_err(|e| match e {
        super::AccountError::Db(e) => LinkError::Db(e),
        _ => LinkError::Invalid,
    })?;
    let purpose = if user.last_login_at.is_none() {
        Purpose::Setup
    } else {
        Purpose::Reset
    };
    let by = (admin.actor.user_id, admin.actor.login.as_str());
    mail_link(conn, &user, purpose, Some(by), hours, now)
}
