//! The administrator's user pages: the form, its checks, and each change with its
//! audit entry.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{AccountError, By, FieldErrors, NewAccount, create};
use crate::db::audit::{self, Action};
use crate::db::{self, DbConnection, DbError, areas, institutions, sessions, users};
use crate::domain::auth::{Role, Scope, check_password, normalize_login_id, scope_fits_role};
use crate::domain::codes::InstitutionCode;
use crate::password;
use crate::services::Actor;

/// The user form as typed: kept as strings so that a rejected form comes back unchanged.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UserInput {
    #[serde(default)]
    pub login_id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub area_id: String,
    #[serde(default)]
    pub institution_code: String,
    #[serde(default)]
    pub password: String,
}

/// An area the administrator may assign, indented by its depth for a select.
#[derive(Debug, Clone, Serialize)]
pub struct AreaOption {
    pub id: i32,
    pub label: String,
}

/// Area nodes inside the administrator's scope, in tree order (each node followed by
/// its children).
pub fn area_options(conn: &mut DbConnection, scope: Scope) -> Result<Vec<AreaOption>, DbError> {
    let nodes = areas::within(conn, scope)?;
    let inside: std::collections::HashSet<i32> = nodes.iter().map(|a| a.id).collect();
    let mut out = Vec::with_capacity(nodes.len());
    let mut stack: Vec<(&areas::Area, usize)> = nodes
        .iter()
        .filter(|a| !a.parent_id.is_some_and(|p| inside.contains(&p)))
        .rev()
        .map(|a| (a, 0))
        .collect();
    while let Some((node, depth)) = stack.pop() {
        out.push(AreaOption {
            id: node.id,
            label: format!("{}{}", "　".repeat(depth), node.name),
        });
        let children = nodes.iter().filter(|a| a.parent_id == Some(node.id));
        stack.extend(children.rev().map(|c| (c, depth + 1)));
    }
    Ok(out)
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

/// The administrator as the user pages need them.
pub struct Admin {
    pub actor: Actor,
    pub role: Role,
}

/// A user the administrator may see, with its scope, or [`AccountError::NotFound`].
pub fn target(
    conn: &mut DbConnection,
    admin: &Admin,
    id: i32,
) -> Result<(users::User, Scope), AccountError> {
    let (user, scope) = users::with_scope(conn, id)?.ok_or(AccountError::NotFound)?;
    if user.role() > admin.role || !scope_within(conn, admin.actor.scope, scope)? {
        return Err(AccountError::NotFound);
    }
    Ok((user, scope))
}

/// A user as the form shows them.
pub fn input_of(
    conn: &mut DbConnection,
    user: &users::User,
    scope: Scope,
) -> Result<UserInput, DbError> {
    let institution_code = match scope {
        Scope::Institution(id) => institutions::card_within(conn, Scope::All, id)?
            .map(|c| c.code)
            .unwrap_or_default(),
        _ => String::new(),
    };
    Ok(UserInput {
        login_id: user.login_id.clone(),
        display_name: user.display_name.clone(),
        email: user.email.clone().unwrap_or_default(),
        role: user.role.clone(),
        area_id: user.area_id.map(|a| a.to_string()).unwrap_or_default(),
        institution_code,
        password: String::new(),
    })
}

struct ValidUser {
    login_id: String,
    display_name: String,
    email: Option<String>,
    role: Role,
    scope: Scope,
    password: Option<String>,
}

fn valid_login_id(
    conn: &mut DbConnection,
    typed: &str,
    errors: &mut FieldErrors,
) -> Result<String, DbError> {
    match normalize_login_id(typed) {
        Ok(id) => {
            if users::by_login(conn, &id)?.is_some() {
                errors.insert("login_id", "このログインIDは既に使われています".into());
            }
            Ok(id)
        }
        Err(e) => {
            errors.insert("login_id", e.to_string());
            Ok(String::new())
        }
    }
}

fn valid_email(typed: &str, errors: &mut FieldErrors) -> Option<String> {
    let email = typed.trim();
    if email.is_empty() {
        None
    } else if email.len() > 254 || !email.contains('@') || email.contains(char::is_whitespace) {
        errors.insert("email", "メールアドレスの形式が正しくありません".into());
        None
    } else {
        Some(email.to_string())
    }
}

/// The scope the form gives for `role`, if the administrator may grant it.
fn valid_scope(
    conn: &mut DbConnection,
    admin: &Admin,
    role: Role,
    input: &UserInput,
    errors: &mut FieldErrors,
) -> Result<Option<Scope>, DbError> {
    let within = admin.actor.scope;
    match role {
        Role::SystemAdmin => Ok(Some(Scope::All)),
        Role::Institution => {
            let code = match InstitutionCode::parse(&input.institution_code) {
                Ok(code) => code,
                Err(e) => {
                    errors.insert("institution_code", e.to_string());
                    return Ok(None);
                }
            };
            match institutions::card_by_code(conn, code.as_str())? {
                Some(card) if within.covers(card.placement()) => {
                    Ok(Some(Scope::Institution(card.id)))
                }
                _ => {
                    let message = "この医療機関コードは担当範囲の医療機関に見つかりません";
                    errors.insert("institution_code", message.into());
                    Ok(None)
                }
            }
        }
        role => {
            let found = match input.area_id.trim().parse::<i32>() {
                Ok(id) => users::area_scope(conn, id)?,
                Err(_) => None,
            };
            match found {
                Some((s, chain)) if within.contains_area(chain) && scope_fits_role(role, s) => {
                    Ok(Some(s))
                }
                _ => {
                    errors.insert("area_id", "この権限に合う担当地域を選んでください".into());
                    Ok(None)
                }
            }
        }
    }
}

/// The password of a new account: typed (checked against the policy) or generated.
fn valid_new_password(
    input: &UserInput,
    login_id: &str,
    min_password: usize,
    errors: &mut FieldErrors,
) -> Option<String> {
    if input.password.is_empty() {
        return Some(password::generate());
    }
    let personal = [login_id, input.institution_code.trim()];
    match check_password(&input.password, min_password, &personal) {
        Ok(()) => Some(input.password.clone()),
        Err(e) => {
            errors.insert("password", e.to_string());
            None
        }
    }
}

/// Parses the form into a user the administrator may create or save, or the messages
/// to show next to each field.
fn validate(
    conn: &mut DbConnection,
    admin: &Admin,
    input: &UserInput,
    creating: bool,
    min_password: usize,
) -> Result<ValidUser, AccountError> {
    let mut errors = FieldErrors::new();
    let login_id = if creating {
        valid_login_id(conn, &input.login_id, &mut errors)?
    } else {
        String::new()
    };
    let display_name = input.display_name.trim().to_string();
    if display_name.is_empty() || display_name.chars().count() > 100 {
        errors.insert("display_name", "氏名を100文字以内で入力してください".into());
    }
    let email = valid_email(&input.email, &mut errors);
    let role = Role::from_code(&input.role).filter(|r| admin.role.may_grant(*r));
    let scope = match role {
        Some(role) => valid_scope(conn, admin, role, input, &mut errors)?,
        None => {
            errors.insert("role", "権限を選んでください".into());
            None
        }
    };
    let password = if creating {
        valid_new_password(input, &login_id, min_password, &mut errors)
    } else {
        None
    };
    match (role, scope) {
        (Some(role), Some(scope)) if errors.is_empty() => Ok(ValidUser {
            login_id,
            display_name,
            email,
            role,
            scope,
            password,
        }),
        _ => Err(AccountError::Fields(errors)),
    }
}

/// Creates the user the administrator's form describes; returns its id and the
/// temporary password to hand over (changed at the first sign-in).
pub fn create_by_admin(
    conn: &mut DbConnection,
    admin: &Admin,
    input: &UserInput,
    min_password: usize,
) -> Result<(i32, String), AccountError> {
    let valid = validate(conn, admin, input, true, min_password)?;
    let temporary = valid.password.unwrap_or_default();
    let hash = password::hash(&temporary).map_err(|e| DbError::Task(e.to_string()))?;
    let id = create(
        conn,
        NewAccount {
            login_id: &valid.login_id,
            display_name: &valid.display_name,
            email: valid.email.as_deref(),
            role: valid.role,
            scope: valid.scope,
            password_hash: hash,
            must_change_password: true,
            by: By::Admin(&admin.actor),
        },
    )?;
    Ok((id, temporary))
}

/// Saves the administrator's changes to a user. Administrators cannot change their own
/// role or scope.
pub fn update(
    conn: &mut DbConnection,
    admin: &Admin,
    id: i32,
    input: &UserInput,
) -> Result<users::User, AccountError> {
    let (user, old_scope) = target(conn, admin, id)?;
    let valid = validate(conn, admin, input, false, 0)?;
    if id == admin.actor.user_id && (valid.role != admin.role || valid.scope != admin.actor.scope) {
        let mut errors = FieldErrors::new();
        errors.insert("role", "自分自身の権限と担当範囲は変更できません".into());
        return Err(AccountError::Fields(errors));
    }
    let detail = serde_json::json!({
        "before": {
            "display_name": user.display_name,
            "email": user.email,
            "role": user.role,
            "scope": old_scope,
        },
        "after": {
            "display_name": valid.display_name,
            "email": valid.email,
            "role": valid.role.code(),
            "scope": valid.scope,
        },
    });
    db::write_transaction(conn, |conn| {
        let changes = users::Changes {
            display_name: valid.display_name.clone(),
            email: valid.email.clone(),
            role: valid.role,
            scope: valid.scope,
        };
        users::update(conn, id, &changes)?;
        let prefecture = users::prefecture_of(conn, valid.scope)?;
        let entry = admin.actor.entry("user", id, prefecture, Some(detail));
        audit::record(conn, Action::UserUpdate, entry)?;
        Ok::<_, AccountError>(())
    })?;
    Ok(user)
}

/// Enables or disables a user (never oneself).
pub fn set_active(
    conn: &mut DbConnection,
    admin: &Admin,
    id: i32,
    active: bool,
) -> Result<(), AccountError> {
    if id == admin.actor.user_id && !active {
        return Err(AccountError::SelfDisable);
    }
    let (_, scope) = target(conn, admin, id)?;
    let action = if active {
        Action::UserEnable
    } else {
        Action::UserDisable
    };
    db::write_transaction(conn, |conn| {
        users::set_active(conn, id, active)?;
        let prefecture = users::prefecture_of(conn, scope)?;
        audit::record(
            conn,
            action,
            admin.actor.entry("user", id, prefecture, None),
        )?;
        Ok(())
    })
}

/// Sets a temporary password (typed, or generated when `typed` is empty), unlocks the
/// user and ends their sessions. Returns the user, its scope and the password.
pub fn temporary_password(
    conn: &mut DbConnection,
    admin: &Admin,
    id: i32,
    typed: &str,
    min_password: usize,
) -> Result<(users::User, Scope, String), AccountError> {
    let (user, scope) = target(conn, admin, id)?;
    let temporary = if typed.is_empty() {
        password::generate()
    } else {
        let personal = users::personal_words(conn, &user)?;
        let personal: Vec<&str> = personal.iter().map(String::as_str).collect();
        if let Err(e) = check_password(typed, min_password, &personal) {
            let mut errors = FieldErrors::new();
            errors.insert("password", e.to_string());
            return Err(AccountError::Fields(errors));
        }
        typed.to_string()
    };
    let hash = password::hash(&temporary).map_err(|e| DbError::Task(e.to_string()))?;
    db::write_transaction(conn, |conn| {
        users::set_password(conn, id, &hash, true)?;
        let prefecture = users::prefecture_of(conn, scope)?;
        let entry = admin.actor.entry("user", id, prefecture, None);
        audit::record(conn, Action::UserTemporaryPassword, entry)?;
        Ok::<_, AccountError>(())
    })?;
    Ok((user, scope, temporary))
}

/// 「ログアウトさせる」: ends every session of a user. Returns how many ended.
pub fn end_sessions(
    conn: &mut DbConnection,
    admin: &Admin,
    id: i32,
) -> Result<usize, AccountError> {
    let (_, scope) = target(conn, admin, id)?;
    db::write_transaction(conn, |conn| {
        let now = Utc::now().naive_utc();
        let reason = sessions::EndReason::EndedByAdmin;
        let ended = sessions::end_all(conn, id, None, reason, now)?;
        let prefecture = users::prefecture_of(conn, scope)?;
        let detail = serde_json::json!({ "ended": ended });
        let entry = admin.actor.entry("user", id, prefecture, Some(detail));
        audit::record(conn, Action::SessionsEnd, entry)?;
        Ok(ended)
    })
}
