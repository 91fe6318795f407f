//! Sign-in, sign-out and password change.

use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Duration, Utc};
use serde::Deserialize;

use super::AppState;
use super::csrf::CsrfForm;
use super::gate::see_other;
use super::session::{self, CurrentUser, Viewer};
use super::views;
use crate::db::audit::{self, Action};
use crate::db::sessions::{self, EndReason};
use crate::db::users;
use crate::domain::auth::{LockoutPolicy, check_password, normalize_login_id};
use crate::error::AppError;
use crate::password;

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

fn login_page(
    viewer: &Viewer,
    deployment: &super::cache::Deployment,
    login_id: &str,
    next: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> Result<String, AppError> {
    let mut ctx = views::page(viewer, deployment);
    ctx.insert("login_id", login_id);
    ctx.insert("next", next);
    ctx.insert("error", &error);
    ctx.insert("notice", &notice);
    Ok(views::render("login.html", &ctx)?)
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
    let deployment = state.deployment().await?;
    Ok(views::html(login_page(
        &viewer,
        &deployment,
        "",
        next,
        None,
        notice,
    )?))
}

enum Outcome {
    SignedIn { must_change: bool },
    Failed,
}

fn user_agent(req: &HttpRequest) -> Option<String> {
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
    let (token2, agent) = (token.clone(), user_agent(&req));
    // Signing in again in the same browser replaces the session it had.
    let replaced = viewer.session_id.zip(viewer.user.as_ref().map(|u| u.id));
    let typed = form.login_id.trim().chars().take(64).collect::<String>();
    let policy = LockoutPolicy {
        max_failures: state.settings.lockout_attempts as i32,
        lock_for: Duration::minutes(i64::from(state.settings.lockout_minutes)),
    };
    let ip = viewer.ip.clone();
    let password_typed = form.password.clone();
    // Hashing happens on the blocking pool with the database work, never on an async
    // worker, so other requests keep being served while argon2 runs.
    let outcome = state
        .db(move |conn| {
            let Ok(login_id) = normalize_login_id(&typed) else {
                password::verify_dummy(&password_typed);
                audit_failure(conn, None, &typed, ip, "invalid_id")?;
                return Ok(Outcome::Failed);
            };
            let Some(user) = users::by_login(conn, &login_id)? else {
                password::verify_dummy(&password_typed);
                audit_failure(conn, None, &login_id, ip, "unknown_id")?;
                return Ok(Outcome::Failed);
            };
            let now = Utc::now().naive_utc();
            let prefecture = users::with_scope(conn, user.id)?
                .map(|(_, scope)| scope)
                .map(|scope| users::prefecture_of(conn, scope))
                .transpose()?
                .flatten();
            if policy.is_locked(user.locked_until, now) {
                password::verify_dummy(&password_typed);
                audit_failure(conn, Some((&user, prefecture)), &login_id, ip, "locked")?;
                return Ok(Outcome::Failed);
            }
            let matches = password::verify(&password_typed, &user.password_hash);
            if !matches || !user.active {
                let reason = if matches {
                    "disabled"
                } else {
                    "wrong_password"
                };
                if !matches {
                    let (failed, locked) = policy.after_failure(user.failed_attempts, now);
                    users::record_failure(conn, user.id, failed, locked)?;
                    if locked.is_some() {
                        audit::record(
                            conn,
                            Action::Lockout,
                            audit::Entry {
                                actor_id: Some(user.id),
                                actor_login: Some(user.login_id.clone()),
                                target_type: Some("user"),
                                target_id: Some(user.id.to_string()),
                                prefecture_id: prefecture,
                                ip: ip.clone(),
                                detail: Some(serde_json::json!({ "until": locked })),
                            },
                        )?;
                    }
                }
                audit_failure(conn, Some((&user, prefecture)), &login_id, ip, reason)?;
                return Ok(Outcome::Failed);
            }
            users::record_success(conn, user.id)?;
            if let Some((old, old_user)) = replaced {
                sessions::end(conn, old, old_user, EndReason::SignOut, now)?;
            }
            sessions::start(
                conn,
                &sessions::NewSession {
                    token: &token2,
                    user_id: user.id,
                    now,
                    ip: ip.as_deref(),
                    user_agent: agent.as_deref(),
                },
            )?;
            audit::record(
                conn,
                Action::SignIn,
                audit::Entry {
                    actor_id: Some(user.id),
                    actor_login: Some(user.login_id.clone()),
                    target_type: Some("user"),
                    target_id: Some(user.id.to_string()),
                    prefecture_id: prefecture,
                    ip,
                    detail: None,
                },
            )?;
            Ok(Outcome::SignedIn {
                must_change: user.must_change_password,
            })
        })
        .await?;
    match outcome {
        Outcome::SignedIn { must_change } => {
            session::sign_in(&session, &token)?;
            let target = if must_change {
                "/account/password"
            } else {
                safe_next(&form.next)
            };
            Ok(see_other(target))
        }
        Outcome::Failed => {
            let deployment = state.deployment().await?;
            let body = login_page(
                &viewer,
                &deployment,
                form.login_id.trim(),
                safe_next(&form.next),
                Some(LOGIN_FAILED),
                None,
            )?;
            Ok(HttpResponse::Unauthorized()
                .content_type(actix_web::http::header::ContentType::html())
                .body(body))
        }
    }
}

fn audit_failure(
    conn: &mut crate::db::DbConnection,
    user: Option<(&users::User, Option<i32>)>,
    typed: &str,
    ip: Option<String>,
    reason: &str,
) -> Result<(), crate::db::DbError> {
    audit::record(
        conn,
        Action::SignInFailed,
        audit::Entry {
            actor_id: user.map(|(u, _)| u.id),
            actor_login: Some(typed.to_string()),
            target_type: user.map(|_| "user"),
            target_id: user.map(|(u, _)| u.id.to_string()),
            prefecture_id: user.and_then(|(_, p)| p),
            ip,
            detail: Some(serde_json::json!({ "reason": reason })),
        },
    )?;
    Ok(())
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn logout(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    session: Session,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let ip = viewer.ip.clone();
    let session_id = viewer.session_id;
    state
        .db(move |conn| {
            if let Some(id) = session_id {
                sessions::end(
                    conn,
                    id,
                    user.id,
                    EndReason::SignOut,
                    Utc::now().naive_utc(),
                )?;
            }
            let prefecture = users::prefecture_of(conn, user.scope)?;
            audit::record(
                conn,
                Action::SignOut,
                audit::Entry {
                    actor_id: Some(user.id),
                    actor_login: Some(user.login_id.clone()),
                    target_type: Some("user"),
                    target_id: Some(user.id.to_string()),
                    prefecture_id: prefecture,
                    ip,
                    detail: None,
                },
            )?;
            Ok(())
        })
        .await?;
    session::sign_out(&session);
    Ok(see_other("/login?signed_out=1"))
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

fn password_page(
    viewer: &Viewer,
    deployment: &super::cache::Deployment,
    min_length: u32,
    errors: &PasswordErrors,
    done: bool,
) -> Result<String, AppError> {
    let mut ctx = views::page(viewer, deployment);
    ctx.insert("min_length", &min_length);
    ctx.insert("errors", errors);
    ctx.insert("done", &done);
    ctx.insert(
        "forced",
        &viewer.user.as_ref().is_some_and(|u| u.must_change_password),
    );
    Ok(views::render("password.html", &ctx)?)
}

pub async fn password_form(
    state: web::Data<AppState>,
    viewer: Viewer,
) -> Result<HttpResponse, AppError> {
    let deployment = state.deployment().await?;
    Ok(views::html(password_page(
        &viewer,
        &deployment,
        state.settings.password_min_length,
        &PasswordErrors::default(),
        false,
    )?))
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
    let (token2, agent) = (token.clone(), user_agent(&req));
    let min = state.settings.password_min_length;
    let mut errors = PasswordErrors::default();
    let user_id = user.id;
    let personal = state
        .db(move |conn| {
            Ok(match users::by_id(conn, user_id)? {
                Some(row) => users::personal_words(conn, &row)?,
                None => Vec::new(),
            })
        })
        .await?;
    let personal: Vec<&str> = personal.iter().map(String::as_str).collect();
    if let Err(e) = check_password(&form.new_password, min as usize, &personal) {
        errors.new_password = Some(e.to_string());
    } else if form.new_password != form.confirm {
        errors.confirm = Some(crate::domain::auth::PasswordError::Mismatch.to_string());
    } else if form.new_password == form.current {
        errors.new_password = Some("今のパスワードとは違うものにしてください".into());
    }
    let ip = viewer.ip.clone();
    let result = if errors.new_password.is_none() && errors.confirm.is_none() {
        let current = form.current.clone();
        let new_password = form.new_password.clone();
        state
            .db(move |conn| {
                let Some(row) = users::by_id(conn, user_id)? else {
                    return Ok(None);
                };
                if !password::verify(&current, &row.password_hash) {
                    return Ok(Some(Err(())));
                }
                let hash = password::hash(&new_password)
                    .map_err(|e| crate::db::DbError::Task(e.to_string()))?;
                // Every session of the user ends, and this browser continues in a new one.
                users::set_password(conn, user_id, &hash, false)?;
                sessions::start(
                    conn,
                    &sessions::NewSession {
                        token: &token2,
                        user_id,
                        now: Utc::now().naive_utc(),
                        ip: ip.as_deref(),
                        user_agent: agent.as_deref(),
                    },
                )?;
                let prefecture = users::prefecture_of(conn, user.scope)?;
                audit::record(
                    conn,
                    Action::PasswordChange,
                    audit::Entry {
                        actor_id: Some(user_id),
                        actor_login: Some(row.login_id.clone()),
                        target_type: Some("user"),
                        target_id: Some(user_id.to_string()),
                        prefecture_id: prefecture,
                        ip,
                        detail: None,
                    },
                )?;
                Ok(Some(Ok(())))
            })
            .await?
    } else {
        None
    };
    match result {
        Some(Ok(())) => {
            session::sign_in(&session, &token)?;
            let mut viewer = viewer;
            if let Some(u) = viewer.user.as_mut() {
                u.must_change_password = false;
            }
            viewer.csrf = session::csrf_token(&session);
            let deployment = state.deployment().await?;
            Ok(views::html(password_page(
                &viewer,
                &deployment,
                min,
                &PasswordErrors::default(),
                true,
            )?))
        }
        other => {
            if matches!(other, Some(Err(()))) {
                errors.current = Some("今のパスワードが正しくありません".into());
            }
            let deployment = state.deployment().await?;
            let body = password_page(&viewer, &deployment, min, &errors, false)?;
            Ok(HttpResponse::UnprocessableEntity()
                .content_type(actix_web::http::header::ContentType::html())
                .body(body))
        }
    }
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
    let deployment = state.deployment().await?;
    let mut ctx = views::page(&viewer, &deployment);
    ctx.insert("sessions", &lines);
    ctx.insert("others", &others);
    ctx.insert("ended", &query.ended);
    ctx.insert("idle_minutes", &state.settings.session_idle_minutes);
    ctx.insert("max_hours", &state.settings.session_max_hours);
    Ok(views::html(views::render("account_sessions.html", &ctx)?))
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
    let current = viewer.session_id;
    let (user_id, login, scope, ip) = (user.id, user.login_id.clone(), user.scope, viewer.ip);
    let which = form.session.trim().to_string();
    let ended = state
        .db(move |conn| {
            let now = Utc::now().naive_utc();
            let ended = if which == "others" {
                sessions::end_all(conn, user_id, current, EndReason::EndedByUser, now)?
            } else {
                match which.parse::<i32>() {
                    // Never this session from here (signing out is the button for it);
                    // another user's id changes nothing.
                    Ok(id) if Some(id) != current => usize::from(sessions::end(
                        conn,
                        id,
                        user_id,
                        EndReason::EndedByUser,
                        now,
                    )?),
                    _ => 0,
                }
            };
            if ended > 0 {
                let prefecture = users::prefecture_of(conn, scope)?;
                audit::record(
                    conn,
                    Action::SessionsEnd,
                    audit::Entry {
                        actor_id: Some(user_id),
                        actor_login: Some(login),
                        target_type: Some("user"),
                        target_id: Some(user_id.to_string()),
                        prefecture_id: prefecture,
                        ip,
                        detail: Some(serde_json::json!({ "ended": ended, "by": "self" })),
                    },
                )?;
            }
            Ok(ended)
        })
        .await?;
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
