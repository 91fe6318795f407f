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
use chrono::NaiveDateTime;

use crate::db::sessions;
use crate::domain::auth::Role;
use crate::web::error::AppError;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No session work at all: health checks and static files.
    Open,
    /// Anyone; the user is resolved when signed in (sign-in page, home page).
    Public,
    /// Any signed-in user who has replaced any temporary password.
    SignedIn,
    /// Any signed-in user, even one who must change a temporary password first: the
    /// password form and signing out, nothing else.
    PasswordChange,
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
            (Access::SignedIn | Access::PasswordChange, Some(_)) => true,
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

/// Reads the session cookie and loads the server-side session and the user it names.
/// A session that ended (signed out, password changed, deactivated, ended by an
/// administrator), sat idle too long or outlived its lifetime signs the cookie out.
async fn resolve(req: &ServiceRequest) -> Result<Viewer, AppError> {
    let session = req.get_session();
    let ip = req.peer_addr().map(|a| a.ip().to_string());
    let anonymous = |session: &actix_session::Session, ip: Option<String>| Viewer {
        user: None,
        session_id: None,
        csrf: session::csrf_token(session),
        ip,
    };
    let Some(token) = session::token(&session) else {
        return Ok(anonymous(&session, ip));
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::Internal("no state".into()))?
        .clone();
    let policy = SessionPolicy::of(&state.settings);
    let loaded = state
        .db(move |conn| {
            let now = chrono::Utc::now().naive_utc();
            let Some((row, user, scope)) = sessions::with_user(conn, &token)? else {
                return Ok(None);
            };
            if row.ended_at.is_some() {
                return Ok(None);
            }
            if let Some(reason) = policy.expired(row.created_at, row.last_seen_at, now) {
                sessions::end(conn, row.id, row.user_id, reason, now)?;
                return Ok(None);
            }
            let Some(scope) = scope else {
                return Ok(None);
            };
            if !user.active {
                return Ok(None);
            }
            // SQLite has one writer: the last-seen time is written at most once a minute.
            if now - row.last_seen_at > chrono::Duration::seconds(60) {
                sessions::touch(conn, row.id, now)?;
            }
            Ok(Some((row.id, user, scope)))
        })
        .await?;
    let Some((session_id, user, scope)) = loaded else {
        session::sign_out(&session);
        return Ok(anonymous(&session, ip));
    };
    Ok(Viewer {
        user: Some(CurrentUser {
            id: user.id,
            role: user.role(),
            role_label: user.role().label(),
            login_id: user.login_id,
            display_name: user.display_name,
            scope,
            must_change_password: user.must_change_password,
        }),
        session_id: Some(session_id),
        csrf: session::csrf_token(&session),
        ip,
    })
}

/// How long a session may sit idle, and live at all.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: chrono::Duration,
    pub lifetime: chrono::Duration,
}

impl SessionPolicy {
    pub fn of(settings: &crate::config::Settings) -> SessionPolicy {
        SessionPolicy {
            idle: chrono::Duration::minutes(i64::from(settings.session_idle_minutes)),
            lifetime: chrono::Duration::hours(i64::from(settings.session_max_hours)),
        }
    }

    /// The sessions among `rows` that are still usable at `now`.
    pub fn live(
        &self,
        rows: Vec<sessions::SessionRow>,
        now: NaiveDateTime,
    ) -> Vec<sessions::SessionRow> {
        rows.into_iter()
            .filter(|r| r.ended_at.is_none())
            .filter(|r| self.expired(r.created_at, r.last_seen_at, now).is_none())
            .collect()
    }

    /// Why a session created at `created` and last seen at `seen` is over at `now`.
    pub fn expired(
        &self,
        created: NaiveDateTime,
        seen: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Option<sessions::EndReason> {
        if now - created > self.lifetime {
            Some(sessions::EndReason::Lifetime)
        } else if now - seen > self.idle {
            Some(sessions::EndReason::Idle)
        } else {
            None
        }
    }
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
    // A temporary password must be replaced before anything else: only the password
    // form and signing out stay open.
    let must_change = viewer.user.as_ref().is_some_and(|u| u.must_change_password);
    if must_change && access != Access::PasswordChange {
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
    fn sessions_end_when_idle_or_too_old() {
        use chrono::{Duration, NaiveDate};
        let t0 = NaiveDate::from_ymd_opt(2027, 1, 4)
            .and_then(|d| d.and_hms_opt(9, 0, 0))
            .unwrap();
        let policy = SessionPolicy {
            idle: Duration::minutes(5),
            lifetime: Duration::hours(12),
        };
        assert_eq!(policy.expired(t0, t0, t0 + Duration::seconds(299)), None);
        assert_eq!(
            policy.expired(t0, t0, t0 + Duration::seconds(301)),
            Some(sessions::EndReason::Idle)
        );
        // Active all along, but past the absolute lifetime.
        let late = t0 + Duration::hours(12) + Duration::seconds(1);
        assert_eq!(
            policy.expired(t0, late - Duration::seconds(10), late),
            Some(sessions::EndReason::Lifetime)
        );
        assert_eq!(
            policy.expired(
                t0,
                late - Duration::seconds(10),
                late - Duration::seconds(2)
            ),
            None
        );
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
