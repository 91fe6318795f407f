//! Access control in one place: every route is wrapped in a [`Gate`] carrying the
//! [`Access`] it declares in the route table. The gate resolves the signed-in user once
//! (session cookie → user row, checked for being active, unlocked by a newer password or
//! a deactivation, and not idle too long), refuses what the route does not admit, and
//! hands handlers a [`Viewer`].

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_session::SessionExt;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::{Method, header};
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use futures_util::future::LocalBoxFuture;

use super::AppState;
use super::session::{self, CurrentUser, Viewer};
use crate::db::users;
use crate::domain::auth::Role;
use crate::error::AppError;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No session work at all: health checks and static files.
    Open,
    /// Anyone; the user is resolved when signed in (sign-in page, home page).
    Public,
    /// Any signed-in user, even one who must change a temporary password first.
    SignedIn,
    /// Signed-in users of these roles.
    Roles(&'static [Role]),
}

pub const ADMINS: &[Role] = &[Role::SystemAdmin, Role::PrefectureAdmin];
/// Prefecture-wide roles: they keep the institution master.
pub const MASTER: &[Role] = &[
    Role::SystemAdmin,
    Role::PrefectureAdmin,
    Role::PrefectureOfficer,
];
/// Everyone but clinic users.
pub const OFFICERS: &[Role] = &[
    Role::SystemAdmin,
    Role::PrefectureAdmin,
    Role::PrefectureOfficer,
    Role::AreaOfficer,
];

impl Access {
    pub fn admits(self, role: Option<Role>) -> bool {
        match (self, role) {
            (Access::Open | Access::Public, _) => true,
            (_, None) => false,
            (Access::SignedIn, Some(_)) => true,
            (Access::Roles(roles), Some(role)) => roles.contains(&role),
        }
    }
}

pub struct Gate(pub Access);

impl<S, B> Transform<S, ServiceRequest> for Gate
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = actix_web::Error;
    type Transform = GateService<S>;
    type InitError = ();
    type Future = Ready<Result<GateService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(GateService {
            service: Rc::new(service),
            access: self.0,
        }))
    }
}

pub struct GateService<S> {
    service: Rc<S>,
    access: Access,
}

impl<S, B> Service<ServiceRequest> for GateService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let access = self.access;
        Box::pin(async move {
            if access == Access::Open {
                return service
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_left_body);
            }
            let viewer = match resolve(&req).await {
                Ok(v) => v,
                Err(e) => return Ok(req.into_response(e.error_response()).map_into_right_body()),
            };
            if let Some(refusal) = refuse(access, &viewer, &req) {
                return Ok(req.into_response(refusal).map_into_right_body());
            }
            req.extensions_mut().insert(viewer);
            service
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        })
    }
}

/// Reads the session and loads the user it names, signing out sessions that no longer
/// hold: user gone or disabled, password changed since (epoch), or idle too long.
async fn resolve(req: &ServiceRequest) -> Result<Viewer, AppError> {
    let session = req.get_session();
    let csrf = session::csrf_token(&session);
    let ip = req.peer_addr().map(|a| a.ip().to_string());
    let Some(claims) = session::claims(&session) else {
        return Ok(Viewer {
            user: None,
            csrf,
            ip,
        });
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::Internal("no state".into()))?
        .clone();
    let now = chrono::Utc::now().timestamp();
    if idle_expired(claims.seen, now, state.settings.session_idle_minutes) {
        session::sign_out(&session);
        let csrf = session::csrf_token(&session);
        return Ok(Viewer {
            user: None,
            csrf,
            ip,
        });
    }
    let loaded = state
        .db(move |conn| Ok(users::with_scope(conn, claims.user_id)?))
        .await?;
    let user = match loaded {
        Some((user, scope)) if user.active && user.session_epoch == claims.epoch => CurrentUser {
            id: user.id,
            role: user.role(),
            role_label: user.role().label(),
            login_id: user.login_id,
            display_name: user.display_name,
            scope,
            must_change_password: user.must_change_password,
        },
        _ => {
            session::sign_out(&session);
            let csrf = session::csrf_token(&session);
            return Ok(Viewer {
                user: None,
                csrf,
                ip,
            });
        }
    };
    // Refresh the idle clock at most once a minute, to avoid a new cookie per request.
    if now - claims.seen > 60 {
        session::touch(&session, now);
    }
    Ok(Viewer {
        user: Some(user),
        csrf,
        ip,
    })
}

/// Whether a session last seen at `seen` (Unix seconds) has been idle too long at `now`.
pub fn idle_expired(seen: i64, now: i64, idle_minutes: u32) -> bool {
    now - seen > i64::from(idle_minutes) * 60
}

/// The answer when the route does not admit this viewer, or `None` to go on.
fn refuse(access: Access, viewer: &Viewer, req: &ServiceRequest) -> Option<HttpResponse> {
    let is_get = matches!(*req.method(), Method::GET | Method::HEAD);
    let role = viewer.user.as_ref().map(|u| u.role);
    if !access.admits(role) {
        if viewer.user.is_none() && is_get {
            return Some(redirect_to_login(req));
        }
        return Some(AppError::Forbidden.error_response());
    }
    // A temporary password must be replaced before anything else.
    let must_change = viewer.user.as_ref().is_some_and(|u| u.must_change_password);
    if must_change && access != Access::SignedIn {
        if is_get {
            return Some(see_other("/account/password"));
        }
        return Some(AppError::Forbidden.error_response());
    }
    None
}

fn redirect_to_login(req: &ServiceRequest) -> HttpResponse {
    let target = match req.query_string() {
        "" => req.path().to_string(),
        q => format!("{}?{q}", req.path()),
    };
    let encoded: String = serde_urlencoded::to_string([("next", target)]).unwrap_or_default();
    see_other(&format!("/login?{encoded}"))
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_sessions_expire_after_the_setting() {
        assert!(!idle_expired(1_000, 1_000 + 60 * 60, 60));
        assert!(idle_expired(1_000, 1_000 + 60 * 60 + 1, 60));
        assert!(!idle_expired(1_000, 1_000 + 299, 5));
        assert!(idle_expired(1_000, 1_000 + 301, 5));
    }

    #[test]
    fn access_rules() {
        assert!(Access::Public.admits(None));
        assert!(!Access::SignedIn.admits(None));
        assert!(Access::SignedIn.admits(Some(Role::Institution)));
        assert!(Access::Roles(ADMINS).admits(Some(Role::PrefectureAdmin)));
        assert!(!Access::Roles(ADMINS).admits(Some(Role::PrefectureOfficer)));
        assert!(!Access::Roles(ADMINS).admits(None));
    }
}
