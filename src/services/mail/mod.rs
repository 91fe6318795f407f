//! Mail use cases: broadcasts (一括配信) from preview to campaign and what an officer
//! does to a running one (`campaigns`), template edits (`templates`), and the
//! transactional messages other services queue. Delivery itself is `mail::worker`'s.

pub mod bounces;
mod campaigns;
pub mod digest;
mod templates;

pub use campaigns::*;
pub use templates::*;

use chrono::Utc;

use super::{Failure, Kind};
use crate::db::mail::{self as store, ClaimedRow, NewMessage};
use crate::db::{DbConnection, DbError};
use crate::domain::auth::Scope;
use crate::domain::mail::{RowState, TemplateKey, recipient_address};
use crate::mail::templates::TemplateProblem;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Invalid(String),
    #[error("テンプレートに誤りがあります")]
    Template(Vec<TemplateProblem>),
    #[error("{0}")]
    Conflict(String),
    #[error("見つかりません")]
    NotFound,
}

db_errors!(MailError);

impl Failure for MailError {
    fn kind(&self) -> Kind {
        match self {
            MailError::Db(e) => e.kind(),
            MailError::Invalid(_) | MailError::Template(_) => Kind::Invalid,
            MailError::Conflict(_) => Kind::Conflict,
            MailError::NotFound => Kind::NotFound,
        }
    }
}

/// The prefecture an actor's mail belongs to: its own (or, for the whole deployment,
/// the first installed).
pub fn prefecture_of(conn: &mut DbConnection, scope: Scope) -> Result<i32, MailError> {
    let found = match scope {
        Scope::All => crate::db::areas::prefectures(conn)?.first().map(|p| p.id),
        scope => crate::db::users::prefecture_of(conn, scope)?,
    };
    found.ok_or(MailError::NotFound)
}

pub use crate::services::By;

/// The campaigns a scope sees: a health-center officer its area's own, everyone else
/// their prefecture's (the whole deployment for a system administrator).
pub fn visible(conn: &mut DbConnection, scope: Scope) -> Result<store::Visible, MailError> {
    Ok(match scope {
        Scope::All => store::Visible::All,
        Scope::Jurisdiction(id) | Scope::Municipality(id) => store::Visible::Area(id),
        Scope::Prefecture(_) | Scope::Institution(_) => {
            store::Visible::Prefecture(prefecture_of(conn, scope)?)
        }
    })
}

/// The area a campaign made in this scope belongs to (none: prefecture-wide).
pub(crate) fn area_of(scope: Scope) -> Option<i32> {
    match scope {
        Scope::Jurisdiction(id) | Scope::Municipality(id) => Some(id),
        _ => None,
    }
}

/// An unsaved row, for composing a preview.
pub(super) fn draft_row(
    prefecture_id: i32,
    key: TemplateKey,
    institution_id: i32,
    address: &str,
    context: &str,
) -> ClaimedRow {
    ClaimedRow {
        id: 0,
        campaign_id: None,
        prefecture_id,
        template_key: key.code().into(),
        institution_id: Some(institution_id),
        user_id: None,
        to_address: address.into(),
        context: context.into(),
        attempts: 0,
        created_at: Utc::now().naive_utc(),
        resent_after_crash: false,
    }
}

/// Queues one transactional message about an institution (inside the caller's
/// transaction). Nothing is queued without a usable address; the institution sees the
/// notice in Kakari anyway. Whether a message was queued.
pub fn queue_for_institution(
    conn: &mut DbConnection,
    key: TemplateKey,
    event_key: &str,
    institution_id: i32,
    fiscal_year: i32,
    context: serde_json::Value,
) -> Result<bool, DbError> {
    let Some(card) = crate::db::institutions::card_within(conn, Scope::All, institution_id)? else {
        return Ok(false);
    };
    let Ok(address) = recipient_address(card.email.as_deref()) else {
        return Ok(false);
    };
    let mut context = context;
    if let serde_json::Value::Object(map) = &mut context {
        map.insert("fiscal_year_number".into(), fiscal_year.into());
    }
    queue_event(
        conn,
        Event {
            key,
            event_key: event_key.into(),
            prefecture_id: card.prefecture_id,
            institution_id: Some(institution_id),
            user_id: None,
            address,
        },
        &context,
    )
}

/// One transactional message (no campaign).
pub(crate) struct Event {
    pub key: TemplateKey,
    /// Queued once per key, whatever the retries and processes.
    pub event_key: String,
    pub prefecture_id: i32,
    pub institution_id: Option<i32>,
    pub user_id: Option<i32>,
    pub address: String,
}

/// Queues a transactional message unless its event was queued before; whether it was
/// queued now.
pub(crate) fn queue_event(
    conn: &mut DbConnection,
    event: Event,
    context: &serde_json::Value,
) -> Result<bool, DbError> {
    let now = Utc::now().naive_utc();
    Ok(store::insert_event(
        conn,
        &NewMessage {
            campaign_id: None,
            event_key: Some(event.event_key),
            prefecture_id: event.prefecture_id,
            template_key: event.key.code().into(),
            institution_id: event.institution_id,
            user_id: event.user_id,
            to_address: event.address,
            context: context.to_string(),
            state: RowState::Queued.code().into(),
            next_attempt_at: now,
            created_at: now,
            updated_at: now,
        },
    )?)
}
