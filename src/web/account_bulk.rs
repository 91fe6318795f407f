//! Accounts many at a time (利用申請 → 一括承認, アカウントの一括発行): a preview of
//! exactly what will be done, then the result.

use actix_web::{HttpResponse, web};
use chrono::Utc;

use crate::services::accounts::bulk as service;
use crate::services::mail::MailError;
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::review::current_fiscal_year;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

/// GET /accounts/bulk-approval: the applications that match the master in every respect.
pub async fn approval_preview(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope;
    let rows = state
        .run(move |conn| service::matching(conn, scope))
        .await?;
    let mut page = views::Page::of(&state, &viewer).await?;
    page.insert("rows", &rows);
    page.html("accounts/bulk_approval.html")
}

/// POST /accounts/bulk-approval: approves the applications the preview listed (the
/// form carries their ids; each is checked again), then shows what was done.
pub async fn approve(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let ids: Vec<i32> = pairs
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let (actor, hours) = (user.actor(&viewer), state.settings.link_hours);
    let result = state
        .run(move |conn| {
            service::approve_matching(conn, &actor, &ids, hours, Utc::now().naive_utc())
        })
        .await?;
    let mut page = views::Page::of(&state, &viewer).await?;
    page.insert("result", &result);
    page.html("accounts/bulk_approval.html")
}

/// GET /accounts/invitations: the reporting targets that would be given an account.
pub async fn invitations_preview(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    invitations_page(&state, &viewer, &user, None).await
}

/// Rows the preview lists of each kind; the counts tell the rest.
const SHOWN: usize = 200;

async fn invitations_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    problem: Option<String>,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope;
    let found = state
        .run(move |conn| service::invitees(conn, scope))
        .await?;
    let mut page = views::Page::of(state, viewer).await?;
    let (count, unreachable) = (found.reachable.len(), found.unreachable.len());
    page.insert("count", &count);
    page.insert(
        "shown",
        &found.reachable.iter().take(SHOWN).collect::<Vec<_>>(),
    );
    page.insert("more", &count.saturating_sub(SHOWN));
    page.insert("unreachable_count", &unreachable);
    page.insert("unreachable_more", &unreachable.saturating_sub(SHOWN));
    page.insert(
        "unreachable",
        &found.unreachable.iter().take(SHOWN).collect::<Vec<_>>(),
    );
    page.insert("request_key", &service::request_key());
    page.insert("hours", &state.settings.link_hours);
    page.insert("problem", &problem);
    page.html("accounts/invitations.html")
}

#[derive(serde::Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    request_key: String,
}

/// POST /accounts/invitations: the accounts and one campaign of setup links; on to the
/// campaign's page, where each mail's delivery shows.
pub async fn invite(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Result<HttpResponse, AppError> {
    let (actor, hours) = (user.actor(&viewer), state.settings.link_hours);
    let done = state
        .try_run(move |conn| {
            let now = Utc::now().naive_utc();
            let fy = current_fiscal_year();
            service::invite_all(conn, &actor, &form.request_key, fy, hours, now)
        })
        .await?;
    match done {
        Ok((id, _)) => Ok(see_other(&format!("/mail/campaigns/{id}?created=1"))),
        Err(MailError::Invalid(message)) => {
            invitations_page(&state, &viewer, &user, Some(message)).await
        }
        Err(e) => Err(e.into()),
    }
}
