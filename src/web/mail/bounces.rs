//! 不達メールの読込: an officer uploads bounce messages saved from the sender's mailbox
//! (.eml, or an mbox of many); the result lists what became 不達.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::services::mail::bounces::{self, BounceReport};
use crate::services::mail::{By, MailError};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::upload::{self, Refusal};
use crate::web::views;

async fn page(
    state: &AppState,
    viewer: &Viewer,
    report: Option<&BounceReport>,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("report", &report);
    ctx.insert("error", &error);
    ctx.insert("max_mb", &(bounces::MAX_BYTES / 1024 / 1024));
    ctx.html_status(status, "mail/bounces.html")
}

/// GET /mail/bounces
pub async fn form(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, AppError> {
    page(&state, &viewer, None, None, StatusCode::OK).await
}

/// POST /mail/bounces: nothing changes unless the file holds at least one bounce.
pub async fn upload(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let max_mb = (bounces::MAX_BYTES / 1024 / 1024) as u32;
    let file = match upload::receive(&req, payload, &viewer.csrf, max_mb).await {
        Ok(file) => file,
        Err(Refusal::Page(message, status)) => {
            return page(&state, &viewer, None, Some(message), status).await;
        }
        Err(Refusal::Error(e)) => return Err(e),
    };
    let actor = user.actor(&viewer);
    let applied = state
        .try_run(move |conn| {
            bounces::apply(conn, By::Officer(&actor), &file.file_name, &file.bytes)
        })
        .await?;
    match applied {
        Ok(report) => page(&state, &viewer, Some(&report), None, StatusCode::OK).await,
        Err(MailError::Invalid(message)) => {
            page(
                &state,
                &viewer,
                None,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
