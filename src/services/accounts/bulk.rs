//! Accounts many at a time: 一括承認 of the applications that match the master in
//! every respect, and アカウントの一括発行 to reporting targets that have an e-mail in
//! the master and no account, as one campaign of setup links with its delivery history.
//! Both show a preview first and a result after.

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use serde::Serialize;

use super::applications::{self, ApplicationError};
use super::links;
use crate::db::applications as store;
use crate::db::audit::{self, Action};
use crate::db::mail::{NewCampaign, NewMessage};
use crate::db::{self, DbConnection};
use crate::domain::application::{self as rules, MasterFacts};
use crate::domain::auth::{Role, Scope};
use crate::domain::links::Purpose;
use crate::domain::mail::{Audience, CampaignState, RowState, TemplateKey, recipient_address};
use crate::services::Actor;
use crate::services::mail::{MailError, area_of, prefecture_of};

/// An application that may be approved with the others, beside its master record.
#[derive(Debug, Clone, Serialize)]
pub struct Matching {
    pub id: i32,
    pub code: String,
    pub name_typed: String,
    pub master_name: String,
    pub person: String,
    pub email: String,
    pub master_email: String,
}

/// The pending applications within the scope whose code, normalised name and e-mail
/// domain match the master, for a reporting target with no account and no other
/// application awaiting a decision; oldest first. Worked out afresh each time, so an
/// account made meanwhile takes an application out.
pub fn matching(conn: &mut DbConnection, scope: Scope) -> Result<Vec<Matching>, ApplicationError> {
    let pending = store::pending_beside_master(conn, scope)?;
    let ids: Vec<i32> = pending
        .iter()
        .filter_map(|(row, _)| row.institution_id)
        .collect();
    let with_account = store::with_accounts(conn, &ids)?;
    let mut per_institution: HashMap<i32, usize> = HashMap::new();
    for id in &ids {
        *per_institution.entry(*id).or_default() += 1;
    }
    Ok(pending
        .into_iter()
        .filter_map(|(row, (code, master_name, master_email, is_target))| {
            let institution = row.institution_id?;
            let facts = MasterFacts {
                name: master_name.clone(),
                email: master_email.clone(),
                is_target,
                has_account: with_account.contains(&institution),
                pending_applications: per_institution.get(&institution).copied()? - 1,
            };
            rules::approvable_in_bulk(&row.name_typed, &row.email, &facts).then(|| Matching {
                id: row.id,
                code,
                name_typed: row.name_typed,
                master_name,
                person: row.person,
                email: row.email,
                master_email: master_email.unwrap_or_default(),
            })
        })
        .collect())
}

/// What 一括承認 did, application by application.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Approved {
    /// Application id and the login ID made for it.
    pub approved: Vec<(i32, String)>,
    /// Application id and why it was not approved.
    pub refused: Vec<(i32, String)>,
}

/// Approves the applications the officer saw in the preview, each in its own
/// transaction (its account, decision, audit entry and mail together). One that no
/// longer matches, or that another officer decided meanwhile, is left as it is and
/// listed with the reason.
pub fn approve_matching(
    conn: &mut DbConnection,
    actor: &Actor,
    ids: &[i32],
    hours: u32,
    now: NaiveDateTime,
) -> Result<Approved, ApplicationError> {
    let still: std::collections::HashSet<i32> =
        matching(conn, actor.scope)?.iter().map(|m| m.id).collect();
    let mut out = Approved::default();
    for &id in ids {
        if !still.contains(&id) {
            out.refused
                .push((id, "一括承認の条件に合わなくなったか、処理済みです".into()));
            continue;
        }
        match applications::approve(conn, actor, id, false, hours, now) {
            Ok(login) => out.approved.push((id, login)),
            Err(ApplicationError::Db(e)) => return Err(ApplicationError::Db(e)),
            Err(e) => out.refused.push((id, e.to_string())),
        }
    }
    Ok(out)
}

/// A reporting target that would be given an account.
#[derive(Debug, Clone, Serialize)]
pub struct Invitee {
    pub institution_id: i32,
    pub code: String,
    pub name: String,
    pub email: String,
    pub prefecture_id: i32,
}

/// A target with no account that cannot be reached by mail.
#[derive(Debug, Clone, Serialize)]
pub struct Unreachable {
    pub code: String,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Invitees {
    pub reachable: Vec<Invitee>,
    pub unreachable: Vec<Unreachable>,
}

/// Reporting targets within the scope with no account: those whose master e-mail can
/// be written to, and the others with the reason (none, malformed, bounced before).
pub fn invitees(conn: &mut DbConnection, scope: Scope) -> Result<Invitees, MailError> {
    let mut out = Invitees::default();
    for (institution_id, code, name, email, bounced, prefecture_id) in
        store::targets_without_account(conn, scope)?
    {
        match recipient_address(email.as_deref()) {
            Ok(_) if bounced => out.unreachable.push(Unreachable {
                code,
                name,
                reason: "以前のメールが届きませんでした（不達）。アドレスを確かめてください".into(),
            }),
            Ok(email) => out.reachable.push(Invitee {
                institution_id,
                code,
                name,
                email,
                prefecture_id,
            }),
            Err(problem) => out.unreachable.push(Unreachable {
                code,
                name,
                reason: problem.to_string(),
            }),
        }
    }
    Ok(out)
}

/// アカウントの一括発行, in one transaction: an account per reachable target (login ID
/// `{code}-01`, no usable password), one campaign of `account_setup` mails through the
/// outbox, and a one-time link per mail derived from its row. The same `request_key`
/// (one per preview shown) yields the same campaign, so a double click makes nothing
/// more. `(campaign id, created)`.
pub fn invite_all(
    conn: &mut DbConnection,
    actor: &Actor,
    request_key: &str,
    fiscal_year: i32,
    hours: u32,
    now: NaiveDateTime,
) -> Result<(i32, bool), MailError> {
    if request_key.len() < 16 {
        return Err(MailError::Invalid(
            "一括発行の確認画面から操作してください".into(),
        ));
    }
    let prefecture_id = prefecture_of(conn, actor.scope)?;
    let expires_at = now + Duration::hours(i64::from(hours));
    db::write_transaction(conn, |conn| {
        db::plan_each_statement(conn)?;
        if let Some(id) = crate::db::mail::campaign_of_request(conn, request_key)? {
            return Ok((id, false));
        }
        let found = invitees(conn, actor.scope)?;
        if found.reachable.is_empty() {
            return Err(MailError::Invalid(
                "アカウントを発行できる医療機関がありません（アカウントがなく、マスタにメールアドレスのある報告対象がありません）".into(),
            ));
        }
        let (campaign_id, created) = crate::db::mail::insert_campaign(
            conn,
            &NewCampaign {
                prefecture_id,
                area_id: area_of(actor.scope),
                template_key: TemplateKey::AccountSetup.code(),
                fiscal_year,
                audience: Audience::Accounts.code(),
                audience_detail: "{}",
                state: CampaignState::Sending.code(),
                recipients: found.reachable.len() as i32,
                without_address: found.unreachable.len() as i32,
                scheduled_at: None,
                request_key,
                created_by: Some(actor.user_id),
                created_at: now,
                started_at: Some(now),
            },
        )?;
        if !created {
            return Ok((campaign_id, false));
        }
        let users = make_accounts(conn, actor, &found.reachable, now)?;
        let rows: Vec<NewMessage> = found
            .reachable
            .iter()
            .zip(&users)
            .map(|(invitee, (login, user_id))| NewMessage {
                campaign_id: Some(campaign_id),
                event_key: None,
                prefecture_id: invitee.prefecture_id,
                template_key: TemplateKey::AccountSetup.code().into(),
                institution_id: Some(invitee.institution_id),
                user_id: Some(*user_id),
                to_address: invitee.email.clone(),
                context: serde_json::json!({
                    "display_name": invitee.name,
                    "login_id": login,
                    "expires_at": crate::domain::wareki::datetime_jst(expires_at),
                })
                .to_string(),
                state: RowState::Queued.code().into(),
                next_attempt_at: now,
                created_at: now,
                updated_at: now,
            })
            .collect();
        crate::db::mail::insert_messages(conn, &rows)?;
        let key = db::links::key(conn)?;
        let hashes: Vec<(i32, i32, String)> =
            crate::db::mail::users_of_campaign(conn, campaign_id)?
                .into_iter()
                .filter_map(|(outbox_id, user_id)| {
                    let token = crate::domain::links::token_for_outbox(&key, outbox_id);
                    Some((
                        outbox_id,
                        user_id?,
                        crate::domain::links::token_hash(&token),
                    ))
                })
                .collect();
        let links: Vec<db::links::NewLink> = hashes
            .iter()
            .map(|(outbox_id, user_id, hash)| db::links::NewLink {
                user_id: *user_id,
                purpose: Purpose::Setup.code(),
                outbox_id: Some(*outbox_id),
                token_hash: hash,
                created_by: Some(actor.user_id),
                created_at: now,
                expires_at,
            })
            .collect();
        db::links::insert_many(conn, &links)?;
        let entry = actor.entry(
            "mail_campaign",
            campaign_id,
            Some(prefecture_id),
            Some(serde_json::json!({
                "template": TemplateKey::AccountSetup.code(),
                "audience": Audience::Accounts.code(),
                "accounts": rows.len(),
                "without_address": found.unreachable.len(),
            })),
        );
        audit::record(conn, Action::AccountsBulkIssue, entry)?;
        Ok((campaign_id, true))
    })
}

/// The accounts of a bulk issue, with multi-row INSERTs (one by one, 60,000 took 90 s
/// on PostgreSQL): login ID `{code}-01`, or the next suffix free; no usable password;
/// each in 操作履歴 as a user created. `(login ID, user id)` in the invitees' order.
fn make_accounts(
    conn: &mut DbConnection,
    actor: &Actor,
    invitees: &[Invitee],
    now: NaiveDateTime,
) -> Result<Vec<(String, i32)>, MailError> {
    let first: Vec<String> = invitees
        .iter()
        .map(|i| rules::login_id(&i.code, &[]))
        .collect();
    let refs: Vec<&str> = first.iter().map(String::as_str).collect();
    let taken = crate::db::users::ids_by_login(conn, &refs)?;
    let logins: Vec<String> = invitees
        .iter()
        .zip(first)
        .map(|(invitee, login)| {
            if taken.contains_key(&login) {
                let used: Vec<String> = taken.keys().cloned().collect();
                rules::login_id(&invitee.code, &used)
            } else {
                login
            }
        })
        .collect();
    let new: Vec<crate::db::users::NewUser> = invitees
        .iter()
        .zip(&logins)
        .map(|(invitee, login)| crate::db::users::NewUser {
            login_id: login.clone(),
            display_name: invitee.name.clone(),
            email: Some(invitee.email.clone()),
            role: Role::Institution.code().to_string(),
            area_id: None,
            institution_id: Some(invitee.institution_id),
            active: true,
            password_hash: crate::password::UNSET.to_string(),
            must_change_password: false,
            failed_attempts: 0,
            locked_until: None,
            last_login_at: None,
            created_at: now,
            updated_at: now,
        })
        .collect();
    let ids = crate::db::users::insert_many(conn, &new)?;
    let made: Vec<(String, i32)> = logins
        .into_iter()
        .filter_map(|login| ids.get(&login).map(|id| (login, *id)))
        .collect();
    if made.len() != invitees.len() {
        return Err(MailError::Invalid(
            "アカウントを作れない医療機関がありました。もう一度お試しください".into(),
        ));
    }
    audit::record_many(
        conn,
        made.iter().zip(invitees).map(|((login, id), invitee)| {
            let detail = serde_json::json!({
                "login_id": login,
                "role": Role::Institution.code(),
                "scope": Scope::Institution(invitee.institution_id),
                "bulk": true,
            });
            let entry = actor.entry("user", *id, Some(invitee.prefecture_id), Some(detail));
            (Action::UserCreate, entry)
        }),
    )?;
    Ok(made)
}

/// A fresh key for one preview shown, so that its confirmation sent twice makes one
/// campaign.
pub fn request_key() -> String {
    links::random_hex()
}
