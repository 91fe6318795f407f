//! Applications for an institution account (新規ユーザ登録申請, seed 004). Anyone may
//! apply; the answer is the same whatever the case, so nobody learns from it whether an
//! account exists. Officers see what to look at (flags), approve (the account is made
//! and its setup link mailed) or reject with a reason.

use chrono::{Duration, NaiveDateTime};

use super::links::{self, LinkError};
use super::{AccountError, NewAccount};
use crate::db::applications::{self as store, ApplicationRow};
use crate::db::audit::{self, Action};
use crate::db::{self, DbConnection, DbError};
use crate::domain::application::{self as rules, Application, ApplicationInput, Flag, TypedCode};
use crate::domain::auth::{Role, Scope};
use crate::domain::links::Purpose;
use crate::domain::mail::TemplateKey;
use crate::services::mail::{Event, queue_event};
use crate::services::{Actor, Failure, Kind};

#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    #[error("入力内容を確かめてください")]
    Fields(rules::FieldErrors),
    #[error("見つかりません")]
    NotFound,
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Account(#[from] AccountError),
    #[error("{0}")]
    Link(#[from] LinkError),
    #[error(transparent)]
    Db(#[from] DbError),
}

db_errors!(ApplicationError);

impl Failure for ApplicationError {
    fn kind(&self) -> Kind {
        match self {
            ApplicationError::Fields(_) => Kind::Invalid,
            ApplicationError::NotFound => Kind::NotFound,
            ApplicationError::Refused(_) => Kind::Conflict,
            ApplicationError::Account(e) => e.kind(),
            ApplicationError::Link(e) => e.kind(),
            ApplicationError::Db(e) => e.kind(),
        }
    }
}

/// Applications kept from one address, and for one e-mail address, per hour; more are
/// answered alike and kept nowhere.
const PER_IP_HOUR: i64 = 5;
const PER_EMAIL_HOUR: i64 = 3;

/// The institution an application names, and what the master says of it.
fn matched(
    conn: &mut DbConnection,
    a: &Application,
) -> Result<Option<(i32, i32, rules::MasterFacts)>, DbError> {
    let (full, printed) = match &a.code {
        TypedCode::Full(c) => (Some(c.as_str()), None),
        TypedCode::Printed(c) => (None, Some(c.as_str())),
    };
    let found = store::institutions_with_code(conn, full, printed)?;
    // The 7 printed digits may name a 医科 and a 歯科 institution: the one whose name
    // matches, else the first reporting target.
    let key = crate::domain::normalize::search_key(&a.name);
    let chosen = found
        .iter()
        .find(|f| crate::domain::normalize::search_key(&f.1) == key)
        .or_else(|| found.iter().find(|f| f.3))
        .or(found.first());
    let Some((id, name, email, is_target, prefecture_id)) = chosen.cloned() else {
        return Ok(None);
    };
    let facts = rules::MasterFacts {
        name,
        email,
        is_target,
        has_account: !store::accounts_of(conn, id)?.is_empty(),
        pending_applications: usize::try_from(store::pending_for(conn, id)?).unwrap_or(0),
    };
    Ok(Some((id, prefecture_id, facts)))
}

/// `/register`: checks the form; every well-formed application gets the same answer.
pub fn apply(
    conn: &mut DbConnection,
    input: &ApplicationInput,
    ip: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), ApplicationError> {
    let a = input.read().map_err(ApplicationError::Fields)?;
    if input.is_robot() {
        return Ok(());
    }
    let (from_ip, for_email) = store::recent(conn, ip, &a.email, now - Duration::hours(1))?;
    if from_ip >= PER_IP_HOUR || for_email >= PER_EMAIL_HOUR {
        tracing::warn!(ip, "application rate limit reached; not kept");
        return Ok(());
    }
    let found = matched(conn, &a)?;
    let flags = rules::flags(&a, found.as_ref().map(|(_, _, f)| f));
    let prefecture_id = match &found {
        Some((_, p, _)) => *p,
        None => match db::areas::prefectures(conn)?.into_iter().next() {
            Some(p) => p.id,
            None => return Ok(()),
        },
    };
    let flags_json = serde_json::to_string(&flags).unwrap_or_else(|_| "[]".into());
    db::write_transaction(conn, |conn| {
        let id = store::insert(
            conn,
            &store::NewApplication {
                code_typed: a.code.as_str(),
                institution_id: found.as_ref().map(|(id, _, _)| *id),
                name_typed: &a.name,
                person: &a.person,
                email: &a.email,
                phone: &a.phone,
                flags: &flags_json,
                ip,
                created_at: now,
            },
        )?;
        let context = serde_json::json!({
            "display_name": a.person,
            "institution_name": a.name,
            "institution_code": a.code.as_str(),
        });
        let event = Event {
            key: TemplateKey::ApplicationReceived,
            event_key: format!("application:{id}"),
            prefecture_id,
            institution_id: None,
            user_id: None,
            address: a.email.clone(),
        };
        queue_event(conn, event, &context)?;
        Ok::<_, ApplicationError>(())
    })
}

/// An application as officers see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    pub row: ApplicationRow,
    pub flags: Vec<(&'static str, bool)>,
    pub blocked: bool,
}

fn listed(row: ApplicationRow) -> Listed {
    let flags: Vec<Flag> = serde_json::from_str(&row.flags).unwrap_or_default();
    Listed {
        blocked: flags.iter().any(|f| f.blocks_approval()),
        flags: flags
            .iter()
            .map(|f| (f.label(), f.blocks_approval()))
            .collect(),
        row,
    }
}

pub const PER_PAGE: i64 = 50;

/// One page of applications, newest first, and whether another page follows.
pub fn list(
    conn: &mut DbConnection,
    scope: Scope,
    state: Option<&str>,
    page: i64,
) -> Result<(Vec<Listed>, bool), ApplicationError> {
    let page = page.clamp(0, crate::domain::paging::MAX_PAGE);
    let mut rows = store::within(conn, scope, state, None, (page * PER_PAGE, PER_PAGE + 1))?;
    let more = rows.len() as i64 > PER_PAGE;
    rows.truncate(PER_PAGE as usize);
    Ok((rows.into_iter().map(listed).collect(), more))
}

pub fn one(conn: &mut DbConnection, scope: Scope, id: i32) -> Result<Listed, ApplicationError> {
    store::within(conn, scope, None, Some(id), (0, 1))?
        .into_iter()
        .next()
        .map(listed)
        .ok_or(ApplicationError::NotFound)
}

/// Approves: makes the institution's account (`{code}-01`, or the next free suffix),
/// optionally puts the applicant's address in the master, and mails the setup link.
pub fn approve(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i32,
    update_master_email: bool,
    hours: u32,
    now: NaiveDateTime,
) -> Result<String, ApplicationError> {
    let app = one(conn, actor.scope, id)?;
    if app.row.state != "pending" {
        return Err(ApplicationError::Refused("この申請は処理済みです。".into()));
    }
    let Some(institution_id) = app.row.institution_id else {
        return Err(ApplicationError::Refused(
            "マスタにない医療機関の申請は承認できません。".into(),
        ));
    };
    // Checked again now: an account made since the application is never doubled.
    let taken = store::accounts_of(conn, institution_id)?;
    if !taken.is_empty() || app.blocked {
        return Err(ApplicationError::Refused(
            "この医療機関にはすでにアカウントがあるか、報告対象ではありません。承認できません。"
                .into(),
        ));
    }
    let code = crate::db::institutions::card_within(conn, Scope::All, institution_id)?
        .map(|c| c.code)
        .ok_or(ApplicationError::NotFound)?;
    let login = rules::login_id(&code, &taken);
    // All or nothing: the account, the decision, the master's address and the mail.
    db::write_transaction(conn, |conn| {
        let user_id = super::create(
            conn,
            NewAccount {
                login_id: &login,
                display_name: &app.row.person,
                email: Some(&app.row.email),
                role: Role::Institution,
                scope: Scope::Institution(institution_id),
                // Unusable until the link sets one.
                password_hash: crate::password::UNSET.to_string(),
                must_change_password: false,
                by: super::By::Admin(actor),
            },
        )?;
        if !store::decide(
            conn,
            id,
            "approved",
            None,
            actor.user_id,
            Some(user_id),
            now,
        )? {
            return Err(ApplicationError::Refused("この申請は処理済みです。".into()));
        }
        let detail = serde_json::json!({ "login_id": login, "institution_id": institution_id });
        audit::record(
            conn,
            Action::ApplicationApprove,
            actor.entry("application", id, None, Some(detail)),
        )?;
        if update_master_email {
            crate::db::institutions::set_email(conn, institution_id, &app.row.email, now)?;
            let entry = actor.entry(
                "institution",
                institution_id,
                None,
                Some(serde_json::json!({ "email": app.row.email, "from": "application" })),
            );
            audit::record(conn, Action::InstitutionUpdate, entry)?;
        }
        let user = crate::db::users::by_id(conn, user_id)?.ok_or(ApplicationError::NotFound)?;
        links::mail_link(
            conn,
            &user,
            Purpose::Setup,
            Some((actor.user_id, actor.login.as_str())),
            hours,
            now,
        )?;
        Ok::<_, ApplicationError>(())
    })?;
    Ok(login)
}

/// Rejects with a reason, which is mailed to the applicant.
pub fn reject(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i32,
    reason: &str,
    now: NaiveDateTime,
) -> Result<(), ApplicationError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        let mut errors = rules::FieldErrors::new();
        errors.insert("reason", "却下の理由を500文字以内で入力してください".into());
        return Err(ApplicationError::Fields(errors));
    }
    let app = one(conn, actor.scope, id)?;
    let prefecture_id = match app.row.institution_id {
        Some(inst) => {
            crate::db::institutions::card_within(conn, Scope::All, inst)?.map(|c| c.prefecture_id)
        }
        None => None,
    };
    let prefecture_id = match prefecture_id {
        Some(p) => p,
        None => db::areas::prefectures(conn)?
            .first()
            .map(|p| p.id)
            .ok_or(ApplicationError::NotFound)?,
    };
    db::write_transaction(conn, |conn| {
        if !store::decide(conn, id, "rejected", Some(reason), actor.user_id, None, now)? {
            return Err(ApplicationError::Refused("この申請は処理済みです。".into()));
        }
        let context = serde_json::json!({
            "display_name": app.row.person,
            "institution_name": app.row.name_typed,
            "institution_code": app.row.code_typed,
            "reason": reason,
        });
        let event = Event {
            key: TemplateKey::ApplicationRejected,
            event_key: format!("application_rejected:{id}"),
            prefecture_id,
            institution_id: None,
            user_id: None,
            address: app.row.email.clone(),
        };
        queue_event(conn, event, &context)?;
        let entry = actor.entry(
            "application",
            id,
            Some(prefecture_id),
            Some(serde_json::json!({ "reason": reason })),
        );
        audit::record(conn, Action::ApplicationReject, entry)?;
        Ok(())
    })
}
