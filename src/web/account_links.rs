//! 「パスワードをお忘れの方」 and the one-time links mailed to set or reset a password
//! (`/account/link/{token}`): no sign-in needed; the link signs the user in.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::domain::auth::PasswordError;
use crate::services::accounts::links::{self, LinkError};
use crate::services::auth::Browser;
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::session::{self, Viewer};
use crate::web::views;

/// GET /account/forgot
pub async fn forgot_form(
    state: web::Data<AppState>,
    viewer: Viewer,
) -> Result<HttpResponse, AppError> {
    let mut page = views::Page::of(&state, &viewer).await?;
    page.insert("done", &false);
    page.html("auth/forgot.html")
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    login: String,
}

/// POST /account/forgot: the same answer whether or not the typed ID or address names
/// an account.
pub async fn forgot(
    state: web::Data<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Result<HttpResponse, AppError> {
    let (hours, ip) = (state.settings.link_hours, viewer.ip.clone());
    state
        .run(move |conn| {
            links::forgot(
                conn,
                &form.login,
                hours,
                ip.as_deref(),
                Utc::now().naive_utc(),
            )
        })
        .await?;
    let mut page = views::Page::of(&state, &viewer).await?;
    page.insert("done", &true);
    page.insert("hours", &hours);
    page.html("auth/forgot.html")
}

#[derive(Serialize, Default)]
struct LinkPage {
    login_id: String,
    display_name: String,
    setup: bool,
    refused: Option<String>,
    errors: std::collections::BTreeMap<&'static str, String>,
}

async fn link_page(
    state: &AppState,
    viewer: &Viewer,
    shown: LinkPage,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut page = views::Page::of(state, viewer).await?;
    page.insert("link", &shown);
    page.insert("min_length", &state.settings.password_min_length);
    page.html_status(status, "auth/link.html")
}

/// A link that cannot be used: a made-up one is not found; a used, voided or expired
/// one says so (whoever holds it received it).
fn refused(e: LinkError) -> Result<(LinkPage, StatusCode), AppError> {
    match e {
        LinkError::State(state) => Ok((
            LinkPage {
                refused: Some(state.message().into()),
                ..LinkPage::default()
            },
            StatusCode::GONE,
        )),
        LinkError::Invalid => Err(AppError::NotFound),
        e => Err(e.into()),
    }
}

/// GET /account/link/{token}
pub async fn link_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let opened = state
        .try_run(move |conn| links::open(conn, &token, Utc::now().naive_utc()))
        .await?;
    let (shown, status) = match opened {
        Ok((link, user)) => (
            LinkPage {
                login_id: user.login_id,
                display_name: user.display_name,
                setup: link.purpose == "setup",
                ..LinkPage::default()
            },
            StatusCode::OK,
        ),
        Err(e) => refused(e)?,
    };
    link_page(&state, &viewer, shown, status).await
}

#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// What setting the password through a link came to.
enum Attempt {
    Done,
    /// The form again (422) or the refusal (410).
    Shown(Box<LinkPage>, StatusCode),
}

fn attempt(
    conn: &mut crate::db::DbConnection,
    token: &str,
    form: &LinkForm,
    min_length: usize,
    browser: &Browser,
) -> Result<Attempt, AppError> {
    let now = Utc::now().naive_utc();
    let typed = (form.password.as_str(), form.confirm.as_str());
    let failed = match links::set_password(conn, token, typed.0, typed.1, min_length, browser, now)
    {
        Ok(_) => return Ok(Attempt::Done),
        Err(e) => e,
    };
    let (shown, status) = match (failed, links::open(conn, token, now)) {
        (LinkError::Password(p), Ok((link, user))) => {
            let field = if p == PasswordError::Mismatch {
                "confirm"
            } else {
                "password"
            };
            let mut shown = LinkPage {
                login_id: user.login_id,
                display_name: user.display_name,
                setup: link.purpose == "setup",
                ..LinkPage::default()
            };
            shown.errors.insert(field, p.to_string());
            (shown, StatusCode::UNPROCESSABLE_ENTITY)
        }
        (e, _) => refused(e)?,
    };
    Ok(Attempt::Shown(Box::new(shown), status))
}

/// POST /account/link/{token}: sets the password once and signs this browser in.
pub async fn set_password(
    state: web::Data<AppState>,
    viewer: Viewer,
    session: Session,
    req: HttpRequest,
    path: web::Path<String>,
    CsrfForm(form): CsrfForm<LinkForm>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let session_token = session::random_token();
    let (agent, ip) = (crate::web::auth::user_agent(&req), viewer.ip.clone());
    let min = state.settings.password_min_length as usize;
    let kept = session_token.clone();
    let outcome = state
        .run(move |conn| {
            let browser = Browser {
                token: &kept,
                ip: ip.as_deref(),
                user_agent: agent.as_deref(),
            };
            attempt(conn, &token, &form, min, &browser)
        })
        .await?;
    match outcome {
        Attempt::Done => {
            session::sign_in(&session, &session_token)?;
            Ok(see_other("/?password=set"))
        }
        Attempt::Shown(shown, status) => link_page(&state, &viewer, *shown, status).await,
    }
}
