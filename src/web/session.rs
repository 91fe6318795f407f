//! The signed and encrypted session cookie (the server-side session's token and the CSRF
//! token), and the signed-in user.

use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::{Key, SameSite};
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};
use rand::Rng;
use serde::Serialize;

use crate::domain::auth::{Role, Scope};
use crate::web::error::AppError;

pub const COOKIE_NAME: &str = "kakari_session";
/// The random token of the server-side session (`sessions` table).
const TOKEN: &str = "sid";
const CSRF: &str = "csrf";

pub fn middleware(key: Key, secure: bool) -> SessionMiddleware<CookieSessionStore> {
    SessionMiddleware::builder(CookieSessionStore::default(), key)
        .cookie_name(COOKIE_NAME.to_string())
        .cookie_secure(secure)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(BrowserSession::default())
        .build()
}

/// The user behind a request, resolved once by the gate and read by handlers.
#[derive(Debug, Clone, Serialize)]
pub struct CurrentUser {
    pub id: i32,
    pub login_id: String,
    pub display_name: String,
    pub role: Role,
    pub role_label: &'static str,
    pub scope: Scope,
    pub must_change_password: bool,
}

impl CurrentUser {
    /// The signed-in user as the services see them.
    pub fn actor(&self, viewer: &Viewer) -> crate::services::Actor {
        crate::services::Actor {
            user_id: self.id,
            login: self.login_id.clone(),
            scope: self.scope,
            officer: self.role.is_officer(),
            ip: viewer.ip.clone(),
        }
    }
}

/// Present on every request that passed the gate: the user if signed in, and the CSRF
/// token of the session (created on first use).
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: Option<CurrentUser>,
    /// The server-side session of the signed-in user.
    pub session_id: Option<i32>,
    pub csrf: String,
    pub ip: Option<String>,
}

impl Viewer {
    /// The signed-in user; the gate guarantees one on every route that needs it.
    pub fn user(&self) -> Result<&CurrentUser, AppError> {
        self.user.as_ref().ok_or(AppError::Forbidden)
    }
}

impl FromRequest for Viewer {
    type Error = AppError;
    type Future = std::future::Ready<Result<Viewer, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<Viewer>()
                .cloned()
                .ok_or_else(|| AppError::Internal("route without gate".into())),
        )
    }
}

/// The signed-in user, for handlers of routes that admit only signed-in roles.
impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = std::future::Ready<Result<CurrentUser, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<Viewer>()
                .and_then(|v| v.user.clone())
                .ok_or(AppError::Forbidden),
        )
    }
}

pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session's CSRF token, created when missing.
pub fn csrf_token(session: &Session) -> String {
    if let Ok(Some(token)) = session.get::<String>(CSRF) {
        return token;
    }
    let token = random_token();
    let _ = session.insert(CSRF, &token);
    token
}

pub fn stored_csrf(session: &Session) -> Option<String> {
    session.get::<String>(CSRF).ok().flatten()
}

/// The token of the server-side session the cookie names, if any.
pub fn token(session: &Session) -> Option<String> {
    session.get::<String>(TOKEN).ok().flatten()
}

/// Starts a fresh cookie for a new server-side session: a new cookie and a new CSRF
/// token, so that nothing from before sign-in (session fixation) survives.
pub fn sign_in(session: &Session, token: &str) -> Result<(), AppError> {
    session.renew();
    session.clear();
    session
        .insert(TOKEN, token)
        .and_then(|_| session.insert(CSRF, random_token()))
        .map_err(AppError::internal)
}

pub fn sign_out(session: &Session) {
    session.purge();
}
