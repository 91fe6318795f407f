//! メール: 一括配信 (broadcast: form, preview, confirm), 配信履歴 (campaigns with live
//! progress, per-recipient state, failures CSV, pause/resume/cancel/resend) and
//! メールテンプレート (edit with variables, preview for an institution, checks on save).

pub mod bounces;
pub mod broadcast;
pub mod history;
pub mod templates;

use serde::Serialize;

use crate::domain::mail::{CampaignState, Tally, TemplateKey};
use crate::domain::wareki;
use crate::services::mail::CampaignView;

/// A campaign as the pages and the progress JSON show it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct CampaignLine {
    id: i32,
    template: &'static str,
    fiscal_year: i32,
    audience: &'static str,
    state: String,
    state_label: &'static str,
    state_reason: Option<String>,
    recipients: i32,
    without_address: i32,
    scheduled_at: Option<String>,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    tally: Tally,
    percent: i64,
    can_pause: bool,
    can_resume: bool,
    can_cancel: bool,
    live: bool,
}

impl CampaignLine {
    pub(super) fn of(view: &CampaignView) -> CampaignLine {
        let c = &view.campaign;
        let state = CampaignState::from_code(&c.state);
        CampaignLine {
            id: c.id,
            template: TemplateKey::from_code(&c.template_key).map_or("", |k| k.label()),
            fiscal_year: c.fiscal_year,
            audience: crate::domain::mail::Audience::from_code(&c.audience)
                .map_or("", |a| a.label()),
            state: c.state.clone(),
            state_label: state.map_or("", |s| s.label()),
            state_reason: c.state_reason.clone(),
            recipients: c.recipients,
            without_address: c.without_address,
            scheduled_at: c.scheduled_at.map(wareki::datetime_jst),
            created_at: wareki::datetime_jst(c.created_at),
            started_at: c.started_at.map(wareki::datetime_jst),
            finished_at: c.finished_at.map(wareki::datetime_jst),
            percent: view.tally.percent(),
            tally: view.tally.clone(),
            can_pause: state.is_some_and(CampaignState::can_pause),
            can_resume: state.is_some_and(CampaignState::can_resume),
            can_cancel: state.is_some_and(CampaignState::can_cancel),
            live: matches!(
                state,
                Some(CampaignState::Sending | CampaignState::Scheduled)
            ),
        }
    }
}
