//! Sign-in, sign-out and password change.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Duration, Utc};
use serde::Deserialize;

use super::AppState;
use super::csrf::{CsrfForm, Empty};
use super::error::AppError;
use super::gate::see_other;
use super::session::{self, CurrentUser, Viewer};
use super::views;
use crate::db::sessions;
use crate::domain::auth::{LockoutPolicy, PasswordError};
use crate::services::auth;
use actix_web::http::StatusCode;

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login_id: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// The same words for every failure, so that the page never tells whether an ID exists
/// or is locked.
const LOGIN_FAILED: &str = "ログインIDまたはパスワードが正しくありません。続けて間違えると、しばらくログインできなくなります。";

/// Only same-site paths: an attacker's `next=https://evil` must not send users away.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/"
    }
}

/// What the sign-in page shows besides the form.
struct LoginPage<'a> {
    login_id: &'a str,
    next: &'a str,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

async fn login_page(
    state: &AppState,
    viewer: &Viewer,
    shown: LoginPage<'_>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("login_id", shown.login_id);
    ctx.insert("next", shown.next);
    ctx.insert("error", &shown.error);
    ctx.insert("notice", &shown.notice);
    ctx.insert("notices", &super::help::notices_for(state, None).await?);
    ctx.html_status(status, "auth/login.html")
}

pub async fn login_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref().unwrap_or("/"));
    if viewer.user.is_some() {
        return Ok(see_other(next));
    }
    let notice = query.signed_out.as_ref().map(|_| "ログアウトしました。");
    let shown = LoginPage {
        login_id: "",
        next,
        error: None,
        notice,
    };
    login_page(&state, &viewer, shown, StatusCode::OK).await
}

pub(crate) fn user_agent(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub async fn login(
    state: web::Data<AppState>,
    viewer: Viewer,
    session: Session,
    req: HttpRequest,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let token = session::random_token();
    let outcome = check_sign_in(&state, &viewer, &req, &form, token.clone()).await?;
    let auth::SignIn::SignedIn {
        must_change_password,
    } = outcome
    else {
        let shown = LoginPage {
            login_id: form.login_id.trim(),
            next: safe_next(&form.next),
            error: Some(LOGIN_FAILED),
            notice: None,
        };
        return login_page(&state, &viewer, shown, StatusCode::UNAUTHORIZED).await;
    };
    session::sign_in(&session, &token)?;
    Ok(see_other(if must_change_password {
        "/account/password"
    } else {
        safe_next(&form.next)
    }))
}

/// Checks the typed ID and password and records the outcome: the new session under
/// `token` on success, the failure (and any lock) otherwise.
async fn check_sign_in(
    state: &AppState,
    viewer: &Viewer,
    req: &HttpRequest,
    form: &LoginForm,
    token: String,
) -> Result<auth::SignIn, AppError> {
    let (agent, ip) = (user_agent(req), viewer.ip.clone());
    // Signing in again in the same browser replaces the session it had.
    let replaced = viewer.session_id.zip(viewer.user.as_ref().map(|u| u.id));
    let typed = form.login_id.trim().chars().take(64).collect::<String>();
    let password_typed = form.password.clone();
    let policy = LockoutPolicy {
        max_failures: state.settings.lockout_attempts as i32,
        lock_for: Duration::minutes(i64::from(state.settings.lockout_minutes)),
    };
    // Hashing happens on the blocking pool with the database work, never on an async
    // worker, so other requests keep being served while argon2 runs.
    state
        .run(move |conn| {
            let browser = auth::Browser {
                token: &token,
                ip: ip.as_deref(),
                user_agent: agent.as_deref(),
            };
            let replaced = replaced.map(|(session_id, user_id)| auth::Replaced {
                session_id,
                user_id,
            });
            auth::sign_in(conn, &typed, &password_typed, policy, &browser, replaced)
        })
        .await
}

pub async fn logout(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    session: Session,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    state
        .run(move |conn| auth::sign_out(conn, &signed_in(&user, &viewer)))
        .await?;
    session::sign_out(&session);
    Ok(see_other("/login?signed_out=1"))
}

/// The signed-in user as the account services know them.
fn signed_in<'a>(user: &'a CurrentUser, viewer: &'a Viewer) -> auth::SignedIn<'a> {
    auth::SignedIn {
        user_id: user.id,
        login: &user.login_id,
        scope: user.scope,
        session_id: viewer.session_id,
        ip: viewer.ip.as_deref(),
    }
}

#[derive(Deserialize, Default)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm: String,
}

#[derive(Default, serde::Serialize)]
struct PasswordErrors {
    current: Option<String>,
    new_password: Option<String>,
    confirm: Option<String>,
}

impl PasswordErrors {
    /// The refusal's message next to the field it is about; a database failure is
    /// the page's error.
    fn of(e: auth::PasswordChangeError) -> Result<PasswordErrors, AppError> {
        let mut errors = PasswordErrors::default();
        match e {
            auth::PasswordChangeError::Db(e) => return Err(e.into()),
            e @ auth::PasswordChangeError::WrongCurrent => errors.current = Some(e.to_string()),
            e @ auth::PasswordChangeError::Rule(PasswordError::Mismatch) => {
                errors.confirm = Some(e.to_string())
            }
            e => errors.new_password = Some(e.to_string()),
        }
        Ok(errors)
    }
}

async fn password_page(
    state: &AppState,
    viewer: &Viewer,
    errors: &PasswordErrors,
    done: bool,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let min_length = state.settings.password_min_length;
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("min_length", &min_length);
    ctx.insert("errors", errors);
    ctx.insert("done", &done);
    ctx.insert(
        "forced",
        &viewer.user.as_ref().is_some_and(|u| u.must_change_password),
    );
    ctx.html_status(status, "auth/password.html")
}

pub async fn password_form(
    state: web::Data<AppState>,
    viewer: Viewer,
) -> Result<HttpResponse, AppError> {
    let errors = PasswordErrors::default();
    password_page(&state, &viewer, &errors, false, StatusCode::OK).await
}

pub async fn change_password(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    session: Session,
    req: HttpRequest,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let token = session::random_token();
    let result = save_password(&state, &viewer, user, &req, form, token.clone()).await?;
    let errors = match result {
        Ok(()) => {
            session::sign_in(&session, &token)?;
            let mut viewer = viewer;
            if let Some(u) = viewer.user.as_mut() {
                u.must_change_password = false;
            }
            viewer.csrf = session::csrf_token(&session);
            let errors = PasswordErrors::default();
            return password_page(&state, &viewer, &errors, true, StatusCode::OK).await;
        }
        Err(e) => PasswordErrors::of(e)?,
    };
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    password_page(&state, &viewer, &errors, false, status).await
}

/// Changes the password and moves the user to a new session under `token`; a refused
/// change is the form's to show.
async fn save_password(
    state: &AppState,
    viewer: &Viewer,
    user: CurrentUser,
    req: &HttpRequest,
    form: PasswordForm,
    token: String,
) -> Result<Result<(), auth::PasswordChangeError>, AppError> {
    let agent = user_agent(req);
    let min = state.settings.password_min_length;
    let viewer = viewer.clone();
    state
        .try_run(move |conn| {
            let change = auth::PasswordChange {
                current: &form.current,
                new_password: &form.new_password,
                confirm: &form.confirm,
                min_length: min as usize,
            };
            let browser = auth::Browser {
                token: &token,
                ip: viewer.ip.as_deref(),
                user_agent: agent.as_deref(),
            };
            auth::change_password(conn, &signed_in(&user, &viewer), &change, &browser)
        })
        .await
}

/// A browser's name from its User-Agent, as people call it.
fn browser_name(agent: Option<&str>) -> &'static str {
    let Some(agent) = agent else { return "不明" };
    if agent.contains("Edg/") {
        "Microsoft Edge"
    } else if agent.contains("Chrome/") || agent.contains("Chromium/") {
        "Google Chrome"
    } else if agent.contains("Firefox/") {
        "Firefox"
    } else if agent.contains("Safari/") {
        "Safari"
    } else {
        "その他"
    }
}

#[derive(serde::Serialize)]
struct SessionLine {
    id: i32,
    created_at: String,
    last_seen_at: String,
    ip: String,
    browser: &'static str,
    current: bool,
}

#[derive(Deserialize, Default)]
pub struct SessionsQuery {
    ended: Option<usize>,
}

/// 「ログイン中の端末」: the user's own live sessions, with a way to end the others.
pub async fn sessions_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<SessionsQuery>,
) -> Result<HttpResponse, AppError> {
    let user_id = user.id;
    let rows = state
        .db(move |conn| Ok(sessions::live_of(conn, user_id)?))
        .await?;
    let policy = super::gate::SessionPolicy::of(&state.settings);
    let lines: Vec<SessionLine> = policy
        .live(rows, Utc::now().naive_utc())
        .into_iter()
        .map(|r| SessionLine {
            id: r.id,
            created_at: crate::domain::wareki::datetime_jst(r.created_at),
            last_seen_at: crate::domain::wareki::datetime_jst(r.last_seen_at),
            ip: r.ip.clone().unwrap_or_default(),
            browser: browser_name(r.user_agent.as_deref()),
            current: Some(r.id) == viewer.session_id,
        })
        .collect();
    let others = lines.iter().filter(|l| !l.current).count();
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("sessions", &lines);
    ctx.insert("others", &others);
    ctx.insert("ended", &query.ended);
    ctx.insert("idle_minutes", &state.settings.session_idle_minutes);
    ctx.insert("max_hours", &state.settings.session_max_hours);
    ctx.html("auth/sessions.html")
}

#[derive(Deserialize)]
pub struct EndSessionsForm {
    /// A session id of the user's, or `others` for every session but this one.
    #[serde(default)]
    session: String,
}

pub async fn end_sessions(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<EndSessionsForm>,
) -> Result<HttpResponse, AppError> {
    let which = match form.session.trim() {
        "others" => Some(auth::OwnSessions::Others),
        id => id.parse().ok().map(auth::OwnSessions::One),
    };
    let ended = match which {
        Some(which) => {
            state
                .run(move |conn| auth::end_own_sessions(conn, &signed_in(&user, &viewer), which))
                .await?
        }
        None => 0,
    };
    Ok(see_other(&format!("/account/sessions?ended={ended}")))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_site() {
        assert_eq!(safe_next("/admin/users"), "/admin/users");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
    }
}
