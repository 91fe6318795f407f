//! User administration for 管理者. An administrator sees and changes only users inside
//! its own scope and never grants a role above its own; anything else answers 404, as
//! if it did not exist.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::db::sessions::SessionRow;
use crate::db::{DbConnection, users};
use crate::domain::auth::Role;
use crate::domain::wareki;
use crate::services::accounts::{self, FieldErrors, UserInput};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;
use actix_web::http::StatusCode;

#[derive(Serialize)]
struct UserRow {
    id: i32,
    login_id: String,
    display_name: String,
    email: Option<String>,
    role: &'static str,
    scope: String,
    active: bool,
    locked: bool,
    must_change_password: bool,
    last_login: Option<String>,
}

fn scope_label(listed: &users::ListedUser) -> String {
    match (
        &listed.institution_name,
        &listed.institution_code,
        &listed.area_name,
    ) {
        (Some(name), Some(code), _) => format!("{name}（{code}）"),
        (_, _, Some(area)) => area.clone(),
        _ => "全体".to_string(),
    }
}

pub async fn users(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let listed = state
        .db(move |conn| Ok(users::list_within(conn, admin.scope)?))
        .await?;
    let now = Utc::now().naive_utc();
    let rows: Vec<UserRow> = listed
        .iter()
        .map(|l| UserRow {
            id: l.user.id,
            login_id: l.user.login_id.clone(),
            display_name: l.user.display_name.clone(),
            email: l.user.email.clone(),
            role: l.user.role().label(),
            scope: scope_label(l),
            active: l.user.active,
            locked: l.user.locked_until.is_some_and(|t| t > now),
            must_change_password: l.user.must_change_password,
            last_login: l.user.last_login_at.map(wareki::datetime_jst),
        })
        .collect();
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("users", &rows);
    ctx.html("admin/users.html")
}

#[derive(Serialize)]
struct RoleOption {
    code: &'static str,
    label: &'static str,
}

fn role_options(admin: Role) -> Vec<RoleOption> {
    Role::ALL
        .into_iter()
        .filter(|r| admin.may_grant(*r))
        .map(|r| RoleOption {
            code: r.code(),
            label: r.label(),
        })
        .collect()
}

#[derive(Serialize, Default)]
struct FormPage {
    creating: bool,
    user_id: Option<i32>,
    active: bool,
    locked: bool,
    form: UserInput,
    errors: FieldErrors,
    notice: Option<String>,
    temporary_password: Option<String>,
    /// Sessions of the user that are signed in now.
    live_sessions: usize,
    /// The user's latest password link and its mail's delivery.
    link: Option<crate::services::accounts::links::LinkSummary>,
}

impl FormPage {
    fn of(form: UserInput, creating: bool) -> FormPage {
        FormPage {
            creating,
            active: true,
            form,
            ..FormPage::default()
        }
    }

    /// The form again with the service's messages next to the fields; any other error
    /// is the page's.
    fn with_errors(self, e: accounts::AccountError) -> Result<FormPage, AppError> {
        match e {
            accounts::AccountError::Fields(errors) => Ok(FormPage { errors, ..self }),
            other => Err(other.into()),
        }
    }

    /// The form after saving: with the notice, or with the service's messages (422).
    fn after_save<T>(
        self,
        saved: Result<T, accounts::AccountError>,
        notice: &str,
    ) -> Result<(FormPage, StatusCode), AppError> {
        match saved {
            Ok(_) => Ok((
                FormPage {
                    notice: Some(notice.into()),
                    ..self
                },
                StatusCode::OK,
            )),
            Err(e) => Ok((self.with_errors(e)?, StatusCode::UNPROCESSABLE_ENTITY)),
        }
    }
}

async fn render_form(
    state: &AppState,
    viewer: &Viewer,
    admin: &CurrentUser,
    page: FormPage,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let scope = admin.scope;
    let options = state
        .db(move |conn| accounts::area_options(conn, scope))
        .await?;
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("page", &page);
    ctx.insert("areas", &options);
    ctx.insert("roles", &role_options(admin.role));
    ctx.insert("min_password", &state.settings.password_min_length);
    ctx.html_status(status, "admin/user_form.html")
}

pub async fn new_user_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let form = UserInput {
        role: Role::Institution.code().into(),
        ..UserInput::default()
    };
    render_form(
        &state,
        &viewer,
        &admin,
        FormPage::of(form, true),
        StatusCode::OK,
    )
    .await
}

fn admin_of(user: &CurrentUser, viewer: &Viewer) -> accounts::Admin {
    accounts::Admin {
        actor: user.actor(viewer),
        role: user.role,
    }
}

pub async fn create_user(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
    CsrfForm(form): CsrfForm<UserInput>,
) -> Result<HttpResponse, AppError> {
    let min = state.settings.password_min_length as usize;
    let (by, input) = (admin_of(&admin, &viewer), form.clone());
    let created = state
        .try_run(move |conn| accounts::create_by_admin(conn, &by, &input, min))
        .await?;
    let form = UserInput {
        password: String::new(),
        ..form
    };
    let (page, status) = match created {
        Ok((id, temporary)) => (
            FormPage {
                user_id: Some(id),
                notice: Some("ユーザを作成しました。仮パスワードを本人に伝えてください（この画面を閉じると再表示できません）。初回ログイン時に変更が求められます。".into()),
                temporary_password: Some(temporary),
                ..FormPage::of(form, false)
            },
            StatusCode::CREATED,
        ),
        Err(e) => (FormPage::with_errors(FormPage::of(form, true), e)?, StatusCode::UNPROCESSABLE_ENTITY),
    };
    render_form(&state, &viewer, &admin, page, status).await
}

#[derive(Deserialize, Default)]
pub struct UserFormQuery {
    ended: Option<usize>,
    link: Option<String>,
}

pub async fn user_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
    path: web::Path<i32>,
    query: web::Query<UserFormQuery>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let by = admin_of(&admin, &viewer);
    let (form, user, sessions, link) = state.run(move |conn| stored_user(conn, &by, id)).await?;
    let now = Utc::now().naive_utc();
    let live = crate::web::gate::SessionPolicy::of(&state.settings).live(sessions, now);
    let page = FormPage {
        user_id: Some(id),
        active: user.active,
        locked: user.locked_until.is_some_and(|t| t > now),
        live_sessions: live.len(),
        notice: match (&query.ended, &query.link) {
            (Some(n), _) => Some(format!("ログイン中のセッション {n} 件を終了しました。")),
            (None, Some(_)) => Some(
                "パスワード設定用のURLをメールで送りました（送信の状況は下に表示されます）。前のURLは使えなくなりました。"
                    .into(),
            ),
            _ => None,
        },
        link,
        ..FormPage::of(form, false)
    };
    render_form(&state, &viewer, &admin, page, StatusCode::OK).await
}

type Stored = (
    UserInput,
    users::User,
    Vec<SessionRow>,
    Option<crate::services::accounts::links::LinkSummary>,
);

/// A user within the administrator's reach: its form as stored, the user, its sessions
/// not yet ended and its latest password link.
fn stored_user(
    conn: &mut DbConnection,
    admin: &accounts::Admin,
    id: i32,
) -> Result<Stored, AppError> {
    let (user, scope) = accounts::target(conn, admin, id)?;
    let sessions = crate::db::sessions::live_of(conn, id)?;
    let now = Utc::now().naive_utc();
    let link = crate::services::accounts::links::latest(conn, id, now)?;
    Ok((
        accounts::input_of(conn, &user, scope)?,
        user,
        sessions,
        link,
    ))
}

/// 「パスワード設定用のURLをメールで送る」: a setup link for a user who never signed in,
/// else a reset link; the earlier links stop working.
pub async fn send_link(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<crate::web::csrf::Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (by, hours) = (admin_of(&admin, &viewer), state.settings.link_hours);
    state
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            crate::services::accounts::links::send_by_admin(conn, &by, id, hours, now)
        })
        .await?;
    Ok(see_other(&format!("/admin/users/{id}?link=sent")))
}

pub async fn update_user(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<UserInput>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (by, input) = (admin_of(&admin, &viewer), form.clone());
    // The user as stored, for the login ID the form does not send: returned by the save,
    // looked up again only when the form comes back with messages.
    let (user, result) = state
        .run(move |conn| match accounts::update(conn, &by, id, &input) {
            Ok(user) => Ok((user, Ok(()))),
            Err(accounts::AccountError::Fields(errors)) => {
                let user = accounts::target(conn, &by, id)?.0;
                Ok((user, Err(accounts::AccountError::Fields(errors))))
            }
            Err(e) => Err(e),
        })
        .await?;
    let form = UserInput {
        login_id: user.login_id.clone(),
        ..form
    };
    let page = FormPage {
        user_id: Some(id),
        active: user.active,
        ..FormPage::of(form, false)
    };
    let (page, status) = page.after_save(result, "変更を保存しました。")?;
    render_form(&state, &viewer, &admin, page, status).await
}

#[derive(Deserialize)]
pub struct ActiveForm {
    active: String,
}

pub async fn set_active(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<ActiveForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let active = form.active == "1";
    let by = admin_of(&admin, &viewer);
    state
        .run(move |conn| accounts::set_active(conn, &by, id, active))
        .await?;
    Ok(see_other(&format!("/admin/users/{id}")))
}

#[derive(Deserialize)]
pub struct TemporaryPasswordForm {
    #[serde(default)]
    password: String,
}

pub async fn temporary_password(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<TemporaryPasswordForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let min = state.settings.password_min_length as usize;
    let by = admin_of(&admin, &viewer);
    let (form, result) = state
        .run(move |conn| set_temporary(conn, &by, id, &form.password, min))
        .await?;
    let page = FormPage {
        user_id: Some(id),
        active: true,
        ..FormPage::of(form, false)
    };
    let (page, status) = match result {
        Ok(temporary) => (
            FormPage {
                notice: Some("仮パスワードを設定しました。本人に伝えてください（この画面を閉じると再表示できません）。次回ログイン時に変更が求められ、ロックも解除されています。".into()),
                temporary_password: Some(temporary),
                ..page
            },
            StatusCode::OK,
        ),
        Err(e) => (FormPage::with_errors(page, e)?, StatusCode::UNPROCESSABLE_ENTITY),
    };
    render_form(&state, &viewer, &admin, page, status).await
}

/// Sets the temporary password; returns the user's form (looked up again only when the
/// typed password is refused) and the password or the field messages.
fn set_temporary(
    conn: &mut DbConnection,
    by: &accounts::Admin,
    id: i32,
    typed: &str,
    min: usize,
) -> Result<(UserInput, Result<String, accounts::AccountError>), accounts::AccountError> {
    let (user, scope, result) = match accounts::temporary_password(conn, by, id, typed, min) {
        Ok((user, scope, temporary)) => (user, scope, Ok(temporary)),
        Err(accounts::AccountError::Fields(errors)) => {
            let (user, scope) = accounts::target(conn, by, id)?;
            (user, scope, Err(accounts::AccountError::Fields(errors)))
        }
        Err(e) => return Err(e),
    };
    Ok((accounts::input_of(conn, &user, scope)?, result))
}

/// 「ログアウトさせる」: ends every session of a user within the administrator's scope.
pub async fn end_sessions(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<crate::web::csrf::Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let by = admin_of(&admin, &viewer);
    let ended = state
        .run(move |conn| accounts::end_sessions(conn, &by, id))
        .await?;
    Ok(see_other(&format!("/admin/users/{id}?ended={ended}")))
}
