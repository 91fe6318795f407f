//! User administration and the audit log, for 管理者.
//!
//! An administrator sees and changes only users inside its own scope and never grants a
//! role above its own; anything else answers 404, as if it did not exist.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::csrf::CsrfForm;
use super::gate::see_other;
use super::session::{CurrentUser, Viewer};
use super::views;
use crate::db::audit::{self, Action};
use crate::db::schema::areas;
use crate::db::{DbConnection, DbError, institutions, users};
use crate::domain::auth::{Role, Scope, check_password, normalize_login_id, scope_fits_role};
use crate::domain::codes::InstitutionCode;
use crate::domain::wareki;
use crate::error::AppError;
use crate::password;

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
    let deployment = state.deployment().await?;
    let mut ctx = views::page(&viewer, &deployment);
    ctx.insert("users", &rows);
    Ok(views::html(views::render("admin_users.html", &ctx)?))
}

/// The user form as typed: kept as strings so that a rejected form comes back unchanged.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UserForm {
    #[serde(default)]
    login_id: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    area_id: String,
    #[serde(default)]
    institution_code: String,
    #[serde(default)]
    password: String,
}

type FieldErrors = BTreeMap<&'static str, String>;

#[derive(Serialize)]
struct AreaOption {
    id: i32,
    label: String,
}

#[derive(Serialize)]
struct RoleOption {
    code: &'static str,
    label: &'static str,
}

/// Area nodes inside the administrator's scope, in tree order, indented for the select.
fn area_options(conn: &mut DbConnection, scope: Scope) -> Result<Vec<AreaOption>, DbError> {
    let all: Vec<(i32, String, String, Option<i32>)> = {
        use diesel::prelude::*;
        areas::table
            .order((areas::sort_order, areas::code))
            .select((areas::id, areas::kind, areas::name, areas::parent_id))
            .load(conn)?
    };
    let children = |parent: i32| -> Vec<&(i32, String, String, Option<i32>)> {
        all.iter().filter(|a| a.3 == Some(parent)).collect()
    };
    let roots: Vec<i32> = match scope {
        Scope::All => all.iter().filter(|a| a.3.is_none()).map(|a| a.0).collect(),
        Scope::Prefecture(id) | Scope::Jurisdiction(id) | Scope::Municipality(id) => vec![id],
        Scope::Institution(_) => Vec::new(),
    };
    let mut out = Vec::new();
    let mut stack: Vec<(i32, usize)> = roots.into_iter().rev().map(|r| (r, 0)).collect();
    while let Some((id, depth)) = stack.pop() {
        if let Some(node) = all.iter().find(|a| a.0 == id) {
            out.push(AreaOption {
                id,
                label: format!("{}{}", "　".repeat(depth), node.2),
            });
        }
        for child in children(id).into_iter().rev() {
            stack.push((child.0, depth + 1));
        }
    }
    Ok(out)
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

/// Whether `scope` lies entirely inside the administrator's scope.
fn scope_within(conn: &mut DbConnection, admin: Scope, scope: Scope) -> Result<bool, DbError> {
    Ok(match scope {
        Scope::All => admin == Scope::All,
        Scope::Institution(id) => institutions::card_within(conn, admin, id)?.is_some(),
        Scope::Prefecture(id) | Scope::Jurisdiction(id) | Scope::Municipality(id) => {
            match users::area_scope(conn, id)? {
                Some((_, chain)) => admin.contains_area(chain),
                None => false,
            }
        }
    })
}

/// A user the administrator may see, or `None` (answered as 404).
fn target_in_scope(
    conn: &mut DbConnection,
    admin: &CurrentUser,
    id: i32,
) -> Result<Option<(users::User, Scope)>, DbError> {
    let Some((user, scope)) = users::with_scope(conn, id)? else {
        return Ok(None);
    };
    if user.role() > admin.role || !scope_within(conn, admin.scope, scope)? {
        return Ok(None);
    }
    Ok(Some((user, scope)))
}

struct ValidUser {
    login_id: String,
    display_name: String,
    email: Option<String>,
    role: Role,
    scope: Scope,
    password: Option<String>,
}

/// Parses the form into a user the administrator may create or save, or the messages to
/// show next to each field.
fn validate(
    conn: &mut DbConnection,
    admin: &CurrentUser,
    form: &UserForm,
    creating: bool,
    min_password: usize,
) -> Result<Result<ValidUser, FieldErrors>, DbError> {
    let mut errors = FieldErrors::new();
    let login_id = if creating {
        match normalize_login_id(&form.login_id) {
            Ok(id) => {
                if users::by_login(conn, &id)?.is_some() {
                    errors.insert("login_id", "このログインIDは既に使われています".into());
                }
                id
            }
            Err(e) => {
                errors.insert("login_id", e.to_string());
                String::new()
            }
        }
    } else {
        String::new()
    };
    let display_name = form.display_name.trim().to_string();
    if display_name.is_empty() || display_name.chars().count() > 100 {
        errors.insert("display_name", "氏名を100文字以内で入力してください".into());
    }
    let email = form.email.trim();
    let email = if email.is_empty() {
        None
    } else if email.len() > 254 || !email.contains('@') || email.contains(char::is_whitespace) {
        errors.insert("email", "メールアドレスの形式が正しくありません".into());
        None
    } else {
        Some(email.to_string())
    };
    let role = Role::from_code(&form.role).filter(|r| admin.role.may_grant(*r));
    if role.is_none() {
        errors.insert("role", "権限を選んでください".into());
    }
    let mut scope = None;
    match role {
        Some(Role::SystemAdmin) => scope = Some(Scope::All),
        Some(Role::Institution) => match InstitutionCode::parse(&form.institution_code) {
            Err(e) => {
                errors.insert("institution_code", e.to_string());
            }
            Ok(code) => match institutions::card_by_code(conn, code.as_str())? {
                Some(card) if admin.scope.covers(card.placement()) => {
                    scope = Some(Scope::Institution(card.id));
                }
                _ => {
                    errors.insert(
                        "institution_code",
                        "この医療機関コードは担当範囲の医療機関に見つかりません".into(),
                    );
                }
            },
        },
        Some(role) => {
            let area = form.area_id.trim().parse::<i32>().ok();
            let found = match area {
                Some(id) => users::area_scope(conn, id)?,
                None => None,
            };
            match found {
                Some((s, chain))
                    if admin.scope.contains_area(chain) && scope_fits_role(role, s) =>
                {
                    scope = Some(s);
                }
                _ => {
                    errors.insert("area_id", "この権限に合う担当地域を選んでください".into());
                }
            }
        }
        None => {}
    }
    let password = if creating {
        if form.password.is_empty() {
            Some(password::generate())
        } else {
            match check_password(
                &form.password,
                min_password,
                &[&login_id, form.institution_code.trim()],
            ) {
                Ok(()) => Some(form.password.clone()),
                Err(e) => {
                    errors.insert("password", e.to_string());
                    None
                }
            }
        }
    } else {
        None
    };
    match (role, scope) {
        (Some(role), Some(scope)) if errors.is_empty() => Ok(Ok(ValidUser {
            login_id,
            display_name,
            email,
            role,
            scope,
            password,
        })),
        _ => Ok(Err(errors)),
    }
}

#[derive(Serialize, Default)]
struct FormPage {
    creating: bool,
    user_id: Option<i32>,
    active: bool,
    locked: bool,
    form: UserForm,
    errors: FieldErrors,
    notice: Option<String>,
    temporary_password: Option<String>,
    /// Sessions of the user that are signed in now.
    live_sessions: usize,
}

async fn render_form(
    state: &AppState,
    viewer: &Viewer,
    admin: &CurrentUser,
    page: FormPage,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, AppError> {
    let scope = admin.scope;
    let options = state.db(move |conn| area_options(conn, scope)).await?;
    let deployment = state.deployment().await?;
    let mut ctx = views::page(viewer, &deployment);
    ctx.insert("page", &page);
    ctx.insert("areas", &options);
    ctx.insert("roles", &role_options(admin.role));
    ctx.insert("min_password", &state.settings.password_min_length);
    let body = views::render("admin_user_form.html", &ctx)?;
    Ok(HttpResponse::build(status)
        .content_type(actix_web::http::header::ContentType::html())
        .body(body))
}

pub async fn new_user_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let page = FormPage {
        creating: true,
        active: true,
        form: UserForm {
            role: Role::Institution.code().into(),
            ..UserForm::default()
        },
        ..FormPage::default()
    };
    render_form(
        &state,
        &viewer,
        &admin,
        page,
        actix_web::http::StatusCode::OK,
    )
    .await
}

fn entry(
    admin: &CurrentUser,
    viewer: &Viewer,
    target: i32,
    prefecture: Option<i32>,
) -> audit::Entry {
    audit::Entry {
        actor_id: Some(admin.id),
        actor_login: Some(admin.login_id.clone()),
        target_type: Some("user"),
        target_id: Some(target.to_string()),
        prefecture_id: prefecture,
        detail: None,
        ip: viewer.ip.clone(),
    }
}

fn scope_json(scope: Scope) -> serde_json::Value {
    serde_json::to_value(scope).unwrap_or_default()
}

pub async fn create_user(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
    CsrfForm(form): CsrfForm<UserForm>,
) -> Result<HttpResponse, AppError> {
    let min = state.settings.password_min_length as usize;
    let (admin2, viewer2, form2) = (admin.clone(), viewer.clone(), form.clone());
    let created = state
        .db(move |conn| {
            let valid = match validate(conn, &admin2, &form2, true, min)? {
                Ok(v) => v,
                Err(errors) => return Ok(Err(errors)),
            };
            let temporary = valid.password.clone().unwrap_or_default();
            let hash = password::hash(&temporary).map_err(|e| DbError::Task(e.to_string()))?;
            let (area_id, institution_id) = users::scope_columns(valid.scope);
            let now = Utc::now().naive_utc();
            let id = crate::db::write_transaction(conn, |conn| -> Result<i32, DbError> {
                let id = users::insert(
                    conn,
                    &users::NewUser {
                        login_id: valid.login_id.clone(),
                        display_name: valid.display_name.clone(),
                        email: valid.email.clone(),
                        role: valid.role.code().into(),
                        area_id,
                        institution_id,
                        active: true,
                        password_hash: hash,
                        must_change_password: true,
                        failed_attempts: 0,
                        locked_until: None,
                        last_login_at: None,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                let prefecture = users::prefecture_of(conn, valid.scope)?;
                let mut e = entry(&admin2, &viewer2, id, prefecture);
                e.detail = Some(serde_json::json!({
                    "login_id": valid.login_id,
                    "role": valid.role.code(),
                    "scope": scope_json(valid.scope),
                }));
                audit::record(conn, Action::UserCreate, e)?;
                Ok(id)
            })?;
            Ok(Ok((id, temporary)))
        })
        .await?;
    match created {
        Ok((id, temporary)) => {
            let page = FormPage {
                creating: false,
                user_id: Some(id),
                active: true,
                form: UserForm {
                    password: String::new(),
                    ..form
                },
                notice: Some("ユーザを作成しました。仮パスワードを本人に伝えてください（この画面を閉じると再表示できません）。初回ログイン時に変更が求められます。".into()),
                temporary_password: Some(temporary),
                ..FormPage::default()
            };
            render_form(
                &state,
                &viewer,
                &admin,
                page,
                actix_web::http::StatusCode::CREATED,
            )
            .await
        }
        Err(errors) => {
            let page = FormPage {
                creating: true,
                active: true,
                form: UserForm {
                    password: String::new(),
                    ..form
                },
                errors,
                ..FormPage::default()
            };
            render_form(
                &state,
                &viewer,
                &admin,
                page,
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

fn form_of(conn: &mut DbConnection, user: &users::User, scope: Scope) -> Result<UserForm, DbError> {
    let institution_code = match scope {
        Scope::Institution(id) => institutions::card_within(conn, Scope::All, id)?
            .map(|c| c.code)
            .unwrap_or_default(),
        _ => String::new(),
    };
    Ok(UserForm {
        login_id: user.login_id.clone(),
        display_name: user.display_name.clone(),
        email: user.email.clone().unwrap_or_default(),
        role: user.role.clone(),
        area_id: user.area_id.map(|a| a.to_string()).unwrap_or_default(),
        institution_code,
        password: String::new(),
    })
}

#[derive(Deserialize, Default)]
pub struct UserFormQuery {
    ended: Option<usize>,
}

pub async fn user_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
    path: web::Path<i32>,
    query: web::Query<UserFormQuery>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let admin2 = admin.clone();
    let found = state
        .db(move |conn| {
            let Some((user, scope)) = target_in_scope(conn, &admin2, id)? else {
                return Ok(None);
            };
            let sessions = crate::db::sessions::live_of(conn, id)?;
            Ok(Some((form_of(conn, &user, scope)?, user, sessions)))
        })
        .await?;
    let Some((form, user, sessions)) = found else {
        return Err(AppError::NotFound);
    };
    let now = Utc::now().naive_utc();
    let live = super::gate::SessionPolicy::of(&state.settings).live(sessions, now);
    let page = FormPage {
        creating: false,
        user_id: Some(id),
        active: user.active,
        locked: user.locked_until.is_some_and(|t| t > now),
        form,
        live_sessions: live.len(),
        notice: query
            .ended
            .map(|n| format!("ログイン中のセッション {n} 件を終了しました。")),
        ..FormPage::default()
    };
    render_form(
        &state,
        &viewer,
        &admin,
        page,
        actix_web::http::StatusCode::OK,
    )
    .await
}

pub async fn update_user(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<UserForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (admin2, viewer2, form2) = (admin.clone(), viewer.clone(), form.clone());
    let min = state.settings.password_min_length as usize;
    let outcome = state
        .db(move |conn| {
            let Some((user, old_scope)) = target_in_scope(conn, &admin2, id)? else {
                return Ok(None);
            };
            let valid = match validate(conn, &admin2, &form2, false, min)? {
                Ok(v) => v,
                Err(errors) => return Ok(Some((user, Err(errors)))),
            };
            if id == admin2.id && (valid.role != admin2.role || valid.scope != admin2.scope) {
                let mut errors = FieldErrors::new();
                errors.insert("role", "自分自身の権限と担当範囲は変更できません".into());
                return Ok(Some((user, Err(errors))));
            }
            crate::db::write_transaction(conn, |conn| -> Result<(), DbError> {
                users::update(
                    conn,
                    id,
                    &users::Changes {
                        display_name: valid.display_name.clone(),
                        email: valid.email.clone(),
                        role: valid.role,
                        scope: valid.scope,
                    },
                )?;
                let prefecture = users::prefecture_of(conn, valid.scope)?;
                let mut e = entry(&admin2, &viewer2, id, prefecture);
                e.detail = Some(serde_json::json!({
                    "before": {
                        "display_name": user.display_name,
                        "email": user.email,
                        "role": user.role,
                        "scope": scope_json(old_scope),
                    },
                    "after": {
                        "display_name": valid.display_name,
                        "email": valid.email,
                        "role": valid.role.code(),
                        "scope": scope_json(valid.scope),
                    },
                }));
                audit::record(conn, Action::UserUpdate, e)?;
                Ok(())
            })?;
            Ok(Some((user, Ok(()))))
        })
        .await?;
    let Some((user, result)) = outcome else {
        return Err(AppError::NotFound);
    };
    let login_id = user.login_id.clone();
    let (errors, notice, status) = match result {
        Ok(()) => (
            FieldErrors::new(),
            Some("変更を保存しました。".to_string()),
            actix_web::http::StatusCode::OK,
        ),
        Err(errors) => (
            errors,
            None,
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    let page = FormPage {
        creating: false,
        user_id: Some(id),
        active: user.active,
        form: UserForm { login_id, ..form },
        errors,
        notice,
        ..FormPage::default()
    };
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
    if id == admin.id && !active {
        return Err(AppError::Conflict(
            "自分自身を無効にすることはできません。".into(),
        ));
    }
    let found = state
        .db(move |conn| {
            let Some((_, scope)) = target_in_scope(conn, &admin, id)? else {
                return Ok(false);
            };
            crate::db::write_transaction(conn, |conn| -> Result<(), DbError> {
                users::set_active(conn, id, active)?;
                let prefecture = users::prefecture_of(conn, scope)?;
                let action = if active {
                    Action::UserEnable
                } else {
                    Action::UserDisable
                };
                audit::record(conn, action, entry(&admin, &viewer, id, prefecture))?;
                Ok(())
            })?;
            Ok(true)
        })
        .await?;
    if !found {
        return Err(AppError::NotFound);
    }
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
    let (admin2, viewer2) = (admin.clone(), viewer.clone());
    let outcome = state
        .db(move |conn| {
            let Some((user, scope)) = target_in_scope(conn, &admin2, id)? else {
                return Ok(None);
            };
            let temporary = if form.password.is_empty() {
                password::generate()
            } else if let Err(e) = check_password(
                &form.password,
                min,
                &users::personal_words(conn, &user)?
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            ) {
                return Ok(Some((user, scope, Err(e.to_string()))));
            } else {
                form.password.clone()
            };
            let hash = password::hash(&temporary).map_err(|e| DbError::Task(e.to_string()))?;
            crate::db::write_transaction(conn, |conn| -> Result<(), DbError> {
                users::set_password(conn, id, &hash, true)?;
                let prefecture = users::prefecture_of(conn, scope)?;
                audit::record(
                    conn,
                    Action::UserTemporaryPassword,
                    entry(&admin2, &viewer2, id, prefecture),
                )?;
                Ok(())
            })?;
            Ok(Some((user, scope, Ok(temporary))))
        })
        .await?;
    let Some((user, scope, result)) = outcome else {
        return Err(AppError::NotFound);
    };
    let form = state.db(move |conn| form_of(conn, &user, scope)).await?;
    let mut page = FormPage {
        creating: false,
        user_id: Some(id),
        active: true,
        form,
        ..FormPage::default()
    };
    let status = match result {
        Ok(temporary) => {
            page.notice = Some("仮パスワードを設定しました。本人に伝えてください（この画面を閉じると再表示できません）。次回ログイン時に変更が求められ、ロックも解除されています。".into());
            page.temporary_password = Some(temporary);
            actix_web::http::StatusCode::OK
        }
        Err(message) => {
            page.errors.insert("password", message);
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    render_form(&state, &viewer, &admin, page, status).await
}

/// 「ログアウトさせる」: ends every session of a user within the administrator's scope.
pub async fn end_sessions(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<super::auth::Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (admin2, viewer2) = (admin.clone(), viewer.clone());
    let ended = state
        .db(move |conn| {
            let Some((_, scope)) = target_in_scope(conn, &admin2, id)? else {
                return Ok(None);
            };
            crate::db::write_transaction(conn, |conn| -> Result<usize, DbError> {
                let now = chrono::Utc::now().naive_utc();
                let ended = crate::db::sessions::end_all(
                    conn,
                    id,
                    None,
                    crate::db::sessions::EndReason::EndedByAdmin,
                    now,
                )?;
                let prefecture = users::prefecture_of(conn, scope)?;
                let mut e = entry(&admin2, &viewer2, id, prefecture);
                e.detail = Some(serde_json::json!({ "ended": ended }));
                audit::record(conn, Action::SessionsEnd, e)?;
                Ok(ended)
            })
            .map(Some)
        })
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(see_other(&format!("/admin/users/{id}?ended={ended}")))
}

#[derive(Deserialize, Serialize, Default, Clone)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    page: Option<i64>,
}

#[derive(Serialize)]
struct AuditRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
    ip: String,
}

/// A JST calendar day typed as 2026-01-05 (full-width digits too) → its UTC start.
fn jst_day_start(text: &str) -> Option<chrono::NaiveDateTime> {
    let folded: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '／' | '/' | '－' => '-',
            _ => c,
        })
        .collect();
    let date = NaiveDate::parse_from_str(&folded, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)? - chrono::Duration::hours(9))
}

pub async fn audit_log(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let mut filter = audit::Filter {
        action: Action::from_code(&q.action).map(|a| a.code().to_string()),
        actor_login: Some(q.login.trim().to_string()).filter(|s| !s.is_empty()),
        from: jst_day_start(&q.from),
        until: jst_day_start(&q.to).map(|d| d + chrono::Duration::days(1)),
        ..audit::Filter::default()
    };
    let scope = admin.scope;
    let requested = q.page.unwrap_or(0);
    let (rows, total, page) = state
        .db(move |conn| {
            if scope != Scope::All {
                // Administrators of a prefecture see its entries only; entries that name
                // no prefecture (unknown login IDs) are for the system administrator.
                filter.prefecture_id = Some(users::prefecture_of(conn, scope)?.unwrap_or(-1));
            }
            Ok(audit::list(conn, &filter, requested)?)
        })
        .await?;
    let rows: Vec<AuditRow> = rows
        .into_iter()
        .map(|r| AuditRow {
            at: wareki::datetime_jst(r.at),
            actor: r.actor_login.unwrap_or_default(),
            action: Action::from_code(&r.action)
                .map(|a| a.label().to_string())
                .unwrap_or(r.action),
            target: match (r.target_type, r.target_id) {
                (Some(t), Some(id)) => format!("{t} #{id}"),
                _ => String::new(),
            },
            detail: r.detail.unwrap_or_default(),
            ip: r.ip.unwrap_or_default(),
        })
        .collect();
    let deployment = state.deployment().await?;
    let mut ctx = views::page(&viewer, &deployment);
    ctx.insert("rows", &rows);
    ctx.insert("total", &total);
    ctx.insert("page", &page);
    ctx.insert(
        "pages",
        &((total + audit::PAGE_SIZE - 1) / audit::PAGE_SIZE).max(1),
    );
    // The filter again for the page links (the template has no URL encoder).
    let filter_query = serde_urlencoded::to_string([
        ("action", q.action.as_str()),
        ("login", q.login.as_str()),
        ("from", q.from.as_str()),
        ("to", q.to.as_str()),
    ])
    .unwrap_or_default();
    ctx.insert("filter_query", &filter_query);
    ctx.insert("query", &q);
    let actions: Vec<(&str, &str)> = Action::ALL.iter().map(|a| (a.code(), a.label())).collect();
    ctx.insert("actions", &actions);
    Ok(views::html(views::render("audit.html", &ctx)?))
}
