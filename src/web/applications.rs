//! 利用申請: the public application form (`/register`) and the officers' review of
//! applications (list, one application beside its master record, approve or reject).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::domain::application::ApplicationInput;
use crate::services::accounts::applications::{self as service, ApplicationError};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

async fn register_page(
    state: &AppState,
    viewer: &Viewer,
    form: &ApplicationInput,
    errors: &BTreeMap<&'static str, String>,
    done: bool,
) -> Result<HttpResponse, AppError> {
    let mut page = views::Page::of(state, viewer).await?;
    page.insert("form", form);
    page.insert("errors", errors);
    page.insert("done", &done);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page.html_status(status, "accounts/register.html")
}

/// GET /register
pub async fn register_form(
    state: web::Data<AppState>,
    viewer: Viewer,
) -> Result<HttpResponse, AppError> {
    register_page(
        &state,
        &viewer,
        &ApplicationInput::default(),
        &BTreeMap::new(),
        false,
    )
    .await
}

/// POST /register: 「受け付けました」 for every well-formed application, whatever the
/// master holds; only a wrongly typed form comes back, with its messages.
pub async fn register(
    state: web::Data<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<ApplicationInput>,
) -> Result<HttpResponse, AppError> {
    let (input, ip) = (form.clone(), viewer.ip.clone());
    let applied = state
        .try_run(move |conn| service::apply(conn, &input, ip.as_deref(), Utc::now().naive_utc()))
        .await?;
    match applied {
        Ok(()) => register_page(&state, &viewer, &form, &BTreeMap::new(), true).await,
        Err(ApplicationError::Fields(errors)) => {
            register_page(&state, &viewer, &form, &errors, false).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Serialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    page: i64,
}

/// GET /accounts/applications
pub async fn list(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let shown = match query.state.as_str() {
        "approved" | "rejected" | "all" => query.state.clone(),
        _ => "pending".to_string(),
    };
    let (scope, filter, number) = (user.scope, shown.clone(), query.page.max(0));
    let (rows, more) = state
        .run(move |conn| {
            let state = (filter != "all").then_some(filter.as_str());
            service::list(conn, scope, state, number)
        })
        .await?;
    let mut page = views::Page::of(&state, &viewer).await?;
    page.insert("rows", &rows);
    page.insert("state", &shown);
    page.insert("page", &number);
    page.insert("more", &more);
    page.html("accounts/applications.html")
}

#[derive(Deserialize, Default)]
pub struct DetailQuery {
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    rejected: Option<String>,
}

/// GET /accounts/applications/{id}: the application beside its master record.
pub async fn detail(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    query: web::Query<DetailQuery>,
) -> Result<HttpResponse, AppError> {
    let notice = match (&query.login, &query.rejected) {
        (Some(login), _) => Some(format!(
            "承認しました。ログインID {login} を作り、パスワード設定用のURLを申請者にメールで送りました。"
        )),
        (None, Some(_)) => Some("却下し、理由を申請者にメールで送りました。".to_string()),
        _ => None,
    };
    detail_page(
        &state,
        &viewer,
        &user,
        path.into_inner(),
        notice,
        BTreeMap::new(),
    )
    .await
}

async fn detail_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    id: i32,
    notice: Option<String>,
    errors: BTreeMap<&'static str, String>,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope;
    let (app, master) = state
        .run(move |conn| {
            let app = service::one(conn, scope, id)?;
            let master = match app.row.institution_id {
                Some(i) => crate::db::institutions::card_within(conn, scope, i)?,
                None => None,
            };
            Ok::<_, ApplicationError>((app, master))
        })
        .await?;
    let mut page = views::Page::of(state, viewer).await?;
    page.insert("app", &app);
    page.insert("master", &master);
    page.insert("notice", &notice);
    page.insert("errors", &errors);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page.html_status(status, "accounts/application.html")
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    update_email: Option<String>,
    #[serde(default)]
    reason: String,
}

/// POST /accounts/applications/{id}/{decision}: approve or reject.
pub async fn decide(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, String)>,
    CsrfForm(form): CsrfForm<DecisionForm>,
) -> Result<HttpResponse, AppError> {
    let (id, decision) = path.into_inner();
    let (actor, hours) = (user.actor(&viewer), state.settings.link_hours);
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(AppError::NotFound),
    };
    let done = state
        .try_run(move |conn| {
            let now = Utc::now().naive_utc();
            if approve {
                let update = form.update_email.is_some();
                service::approve(conn, &actor, id, update, hours, now)
                    .map(|login| format!("login={login}"))
            } else {
                service::reject(conn, &actor, id, &form.reason, now).map(|()| "rejected=1".into())
            }
        })
        .await?;
    match done {
        Ok(query) => Ok(see_other(&format!("/accounts/applications/{id}?{query}"))),
        Err(ApplicationError::Fields(errors)) => {
            detail_page(&state, &viewer, &user, id, None, errors).await
        }
        Err(ApplicationError::Refused(message)) => {
            let mut errors = BTreeMap::new();
            errors.insert("decision", message);
            detail_page(&state, &viewer, &user, id, None, errors).await
        }
        Err(e) => Err(e.into()),
    }
}
