//! 一括配信: who a broadcast reaches, its preview, the campaign made once per
//! confirmation, and what an officer does to it.

use chrono::{NaiveDateTime, Utc};
use serde::Serialize;

use super::{By, MailError, area_of, draft_row, prefecture_of, visible};
use crate::db::DbConnection;
use crate::db::audit::{self, Action};
use crate::db::mail::{self as store, NewCampaign, NewMessage};
use crate::db::review::{ReviewFilter, StatusFilter};
use crate::domain::auth::Scope;
use crate::domain::mail::{
    Audience, CampaignState, RowState, Tally, TemplateKey, recipient_address,
};
use crate::domain::report::Status;
use crate::mail::compose::{Composer, Prepared};
use crate::mail::templates::Rendered;

/// What a broadcast is asked to be.
#[derive(Debug, Clone)]
pub struct CampaignRequest {
    pub template: TemplateKey,
    pub audience: Audience,
    pub fiscal_year: i32,
    /// The review search behind `Audience::Search` (and `Chosen`, which ticks within it).
    pub filter: ReviewFilter,
    pub chosen: Vec<i32>,
    pub scheduled_at: Option<NaiveDateTime>,
}

/// An institution the broadcast cannot reach by mail.
#[derive(Debug, Clone, Serialize)]
pub struct NoAddress {
    pub institution_id: i32,
    pub code: String,
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Recipients {
    pub with_address: Vec<(i32, String)>,
    pub without: Vec<NoAddress>,
}

/// Who a request reaches, within the actor's scope, in code order.
pub fn recipients(
    conn: &mut DbConnection,
    scope: Scope,
    request: &CampaignRequest,
) -> Result<Recipients, MailError> {
    if !request.template.is_broadcast() {
        return Err(MailError::Invalid(
            "一括配信に使えるのは定期報告案内と督促のテンプレートです".into(),
        ));
    }
    let filter = match request.audience {
        Audience::Targets => ReviewFilter {
            target: Some(true),
            ..ReviewFilter::default()
        },
        Audience::Unreported => ReviewFilter {
            status: Some(StatusFilter::Unsubmitted),
            target: Some(true),
            ..ReviewFilter::default()
        },
        Audience::Returned => ReviewFilter {
            status: Some(StatusFilter::Is(Status::Returned)),
            ..ReviewFilter::default()
        },
        Audience::Search | Audience::Chosen => request.filter.clone(),
        Audience::Accounts => {
            return Err(MailError::Invalid(
                "アカウントの一括発行は「利用申請」の画面から行ってください".into(),
            ));
        }
    };
    let rows = crate::db::review::search_all(conn, scope, request.fiscal_year, &filter)?;
    let chosen: std::collections::HashSet<i32> = request.chosen.iter().copied().collect();
    if request.audience == Audience::Chosen && chosen.is_empty() {
        return Err(MailError::Invalid("送る医療機関を選んでください".into()));
    }
    let mut out = Recipients::default();
    for row in rows {
        if request.audience == Audience::Chosen && !chosen.contains(&row.institution_id) {
            continue;
        }
        match recipient_address(row.email.as_deref()) {
            Ok(address) => out.with_address.push((row.institution_id, address)),
            Err(problem) => out.without.push(NoAddress {
                institution_id: row.institution_id,
                code: row.code,
                name: row.name,
                reason: problem.to_string(),
            }),
        }
    }
    Ok(out)
}

/// What the officer sees before confirming.
#[derive(Debug, Clone)]
pub struct CampaignPreview {
    pub recipients: usize,
    pub without: Vec<NoAddress>,
    /// The first recipient's message as it would be sent now.
    pub first: Option<(String, Rendered)>,
    /// Why the first message could not be shown (broken template, reported already).
    pub first_problem: Option<String>,
}

pub fn preview(
    conn: &mut DbConnection,
    scope: Scope,
    public_url: &str,
    request: &CampaignRequest,
) -> Result<CampaignPreview, MailError> {
    let prefecture_id = prefecture_of(conn, scope)?;
    let found = recipients(conn, scope, request)?;
    let (mut first, mut first_problem) = (None, None);
    if let Some((institution_id, address)) = found.with_address.first() {
        let row = draft_row(
            prefecture_id,
            request.template,
            *institution_id,
            address,
            "{}",
        );
        match Composer::new(public_url).compose(conn, &row, Some(request.fiscal_year), false)? {
            Prepared::Send { to, rendered } => first = Some((to, rendered)),
            Prepared::Skip(reason) | Prepared::Fail(reason) => first_problem = Some(reason),
        }
    }
    Ok(CampaignPreview {
        recipients: found.with_address.len(),
        without: found.without,
        first,
        first_problem,
    })
}

/// Creates the campaign and its recipients in one transaction; the same `request_key`
/// (one per preview shown) always yields the same campaign, so a double click or a
/// resent form creates nothing more. `(id, created)`.
pub fn create(
    conn: &mut DbConnection,
    by: By,
    request: &CampaignRequest,
    request_key: &str,
    audience_detail: &serde_json::Value,
) -> Result<(i32, bool), MailError> {
    if request_key.len() < 16 {
        return Err(MailError::Invalid(
            "配信の確認画面から操作してください".into(),
        ));
    }
    let now = Utc::now().naive_utc();
    if request
        .scheduled_at
        .is_some_and(|at| at < now - chrono::Duration::minutes(1))
    {
        return Err(MailError::Invalid("予約日時が過ぎています".into()));
    }
    let prefecture_id = prefecture_of(conn, by.scope())?;
    crate::db::write_transaction(conn, |conn| {
        let found = recipients(conn, by.scope(), request)?;
        if found.with_address.is_empty() {
            return Err(MailError::Invalid(
                "メールを送れる医療機関がありません（メールアドレスの登録がありません）".into(),
            ));
        }
        let state = if request.scheduled_at.is_some() {
            CampaignState::Scheduled
        } else {
            CampaignState::Sending
        };
        let detail = crate::services::to_json(audience_detail)?;
        let (id, created) = store::insert_campaign(
            conn,
            &NewCampaign {
                prefecture_id,
                area_id: area_of(by.scope()),
                template_key: request.template.code(),
                fiscal_year: request.fiscal_year,
                audience: request.audience.code(),
                audience_detail: &detail,
                state: state.code(),
                recipients: found.with_address.len() as i32,
                without_address: found.without.len() as i32,
                scheduled_at: request.scheduled_at,
                request_key,
                created_by: by.user_id(),
                created_at: now,
                started_at: (state == CampaignState::Sending).then_some(now),
            },
        )?;
        if !created {
            return Ok((id, false));
        }
        let rows: Vec<NewMessage> = found
            .with_address
            .iter()
            .map(|(institution_id, address)| NewMessage {
                campaign_id: Some(id),
                event_key: None,
                prefecture_id,
                template_key: request.template.code().into(),
                institution_id: Some(*institution_id),
                user_id: None,
                to_address: address.clone(),
                context: "{}".into(),
                state: RowState::Queued.code().into(),
                next_attempt_at: request.scheduled_at.unwrap_or(now),
                created_at: now,
                updated_at: now,
            })
            .collect();
        store::insert_messages(conn, &rows)?;
        let entry = by.entry(
            "mail_campaign",
            id,
            prefecture_id,
            serde_json::json!({
                "template": request.template.code(),
                "audience": request.audience.code(),
                "fiscal_year": request.fiscal_year,
                "recipients": rows.len(),
                "without_address": found.without.len(),
                "scheduled_at": request.scheduled_at,
            }),
        );
        audit::record(conn, Action::MailCampaignCreate, entry)?;
        Ok((id, true))
    })
}

/// What an officer does to a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Pause,
    /// Also confirms an overdue scheduled campaign.
    Resume,
    Cancel,
    /// Queues the failed messages again (「失敗分を再送」).
    RetryFailed,
}

impl Change {
    pub fn label(self) -> &'static str {
        match self {
            Change::Pause => "一時停止",
            Change::Resume => "再開",
            Change::Cancel => "中止",
            Change::RetryFailed => "失敗分を再送",
        }
    }
}

/// Applies a change; a campaign of another prefecture is not found.
pub fn change(conn: &mut DbConnection, by: By, id: i32, what: Change) -> Result<(), MailError> {
    let seen = visible(conn, by.scope())?;
    crate::db::write_transaction(conn, |conn| {
        let campaign = store::campaign(conn, id, seen)?.ok_or(MailError::NotFound)?;
        let prefecture_id = campaign.prefecture_id;
        let state = CampaignState::from_code(&campaign.state).ok_or(MailError::NotFound)?;
        let now = Utc::now().naive_utc();
        let refused = || {
            MailError::Conflict(format!(
                "この配信は「{}」のため、{}できません。画面を開き直してください。",
                state.label(),
                what.label()
            ))
        };
        match what {
            Change::Pause if state.can_pause() => {
                store::set_campaign_state(
                    conn,
                    id,
                    &[state],
                    CampaignState::Paused,
                    Some("担当者が一時停止しました"),
                    now,
                )?;
            }
            Change::Resume if state.can_resume() => {
                store::set_campaign_state(conn, id, &[state], CampaignState::Sending, None, now)?;
            }
            Change::Cancel if state.can_cancel() => {
                store::set_campaign_state(
                    conn,
                    id,
                    &[state],
                    CampaignState::Cancelled,
                    Some("担当者が中止しました"),
                    now,
                )?;
                store::skip_waiting(conn, id, "配信が中止されたため送信しませんでした", now)?;
            }
            Change::RetryFailed if state != CampaignState::Cancelled => {
                let n = store::requeue_failed(conn, id, now)?;
                if n == 0 {
                    return Err(MailError::Conflict("再送する失敗分がありません".into()));
                }
                if state == CampaignState::Finished {
                    store::set_campaign_state(
                        conn,
                        id,
                        &[state],
                        CampaignState::Sending,
                        None,
                        now,
                    )?;
                }
            }
            _ => return Err(refused()),
        }
        let entry = by.entry(
            "mail_campaign",
            id,
            prefecture_id,
            serde_json::json!({ "change": what.label() }),
        );
        audit::record(conn, Action::MailCampaignChange, entry)?;
        Ok(())
    })
}

/// A campaign with its figures, for the history pages and `kakari mail status`.
#[derive(Debug, Clone)]
pub struct CampaignView {
    pub campaign: store::CampaignRow,
    pub tally: Tally,
}

pub fn campaigns(
    conn: &mut DbConnection,
    scope: Scope,
    limit: i64,
    offset: i64,
) -> Result<(Vec<CampaignView>, bool), MailError> {
    let seen = visible(conn, scope)?;
    let (rows, more) = store::campaigns(conn, seen, limit, offset)?;
    let ids: Vec<i32> = rows.iter().map(|c| c.id).collect();
    let counts = store::tallies(conn, &ids)?;
    let views = rows
        .into_iter()
        .map(|campaign| {
            let mine: Vec<(RowState, i64)> = counts
                .iter()
                .filter(|(c, _, _)| *c == campaign.id)
                .map(|(_, s, n)| (*s, *n))
                .collect();
            CampaignView {
                tally: Tally::of(&mine),
                campaign,
            }
        })
        .collect();
    Ok((views, more))
}

pub fn campaign(conn: &mut DbConnection, scope: Scope, id: i32) -> Result<CampaignView, MailError> {
    let seen = visible(conn, scope)?;
    let campaign = store::campaign(conn, id, seen)?.ok_or(MailError::NotFound)?;
    let counts: Vec<(RowState, i64)> = store::tallies(conn, &[id])?
        .into_iter()
        .map(|(_, s, n)| (s, n))
        .collect();
    Ok(CampaignView {
        tally: Tally::of(&counts),
        campaign,
    })
}

/// A page of a campaign's messages the scope sees (optionally of one state), and
/// whether more follow.
pub fn messages(
    conn: &mut DbConnection,
    scope: Scope,
    id: i32,
    state: Option<RowState>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<store::MessageRow>, bool), MailError> {
    let seen = visible(conn, scope)?;
    store::campaign(conn, id, seen)?.ok_or(MailError::NotFound)?;
    Ok(store::messages(conn, id, state, limit, offset)?)
}

/// A campaign's failed and bounced messages (the failures CSV).
pub fn failures(
    conn: &mut DbConnection,
    scope: Scope,
    id: i32,
) -> Result<Vec<store::MessageRow>, MailError> {
    let seen = visible(conn, scope)?;
    store::campaign(conn, id, seen)?.ok_or(MailError::NotFound)?;
    Ok(store::failures(conn, id)?)
}
