//! User accounts: creation (the administrator's page, `kakari user add` and the demo
//! through one function), changes, enabling, temporary passwords and ending a user's
//! sessions. An administrator reaches only users inside its own scope and never grants
//! a role above its own; anything else is "not found".

use std::collections::BTreeMap;

use chrono::Utc;

use super::{Actor, Failure, Kind};

mod admin;
pub mod applications;
pub mod bulk;
pub mod links;
pub mod state;

use crate::db::audit::{self, Action};
use crate::db::{self, DbConnection, DbError, areas, institutions, users};
use crate::domain::area::AreaKind;
use crate::domain::auth::{Role, Scope, check_password, normalize_login_id, scope_fits_role};
use crate::domain::codes::InstitutionCode;
use crate::password;
pub use admin::{
    Admin, AreaOption, UserInput, area_options, create_by_admin, end_sessions, input_of,
    set_active, target, temporary_password, update,
};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    LoginId(#[from] crate::domain::auth::LoginIdError),
    #[error("ログインID {0} は既に使われています (login ID exists)")]
    Exists(String),
    #[error(
        "権限 '{0}' はありません。sysadmin, admin, officer, area, institution のいずれかです (unknown role)"
    )]
    Role(String),
    #[error(
        "担当範囲 '{0}' が見つかりません。all, pref:46, area:<保健所または市区町村のコード>, inst:<医療機関コード10桁> の形で指定してください (scope not found)"
    )]
    Scope(String),
    #[error("権限 {role} に担当範囲 {scope} は使えません (scope does not fit the role)")]
    ScopeMismatch { role: &'static str, scope: String },
    #[error("{0}")]
    Password(#[from] crate::domain::auth::PasswordError),
    #[error("{0}")]
    Db(#[from] DbError),
    /// The target user is outside the administrator's reach (shown as 404).
    #[error("ユーザが見つかりません")]
    NotFound,
    /// The form's problems, by field.
    #[error("入力内容を確かめてください")]
    Fields(FieldErrors),
    #[error("自分自身を無効にすることはできません。")]
    SelfDisable,
}

db_errors!(AccountError);

impl Failure for AccountError {
    fn kind(&self) -> Kind {
        match self {
            AccountError::Db(e) => e.kind(),
            AccountError::NotFound => Kind::NotFound,
            AccountError::SelfDisable => Kind::Conflict,
            _ => Kind::Invalid,
        }
    }
}

/// Messages to show next to each field of the user form.
pub type FieldErrors = BTreeMap<&'static str, String>;

/// Resolves a scope written as `all`, `pref:46`, `area:46-05` / `area:46201`, or
/// `inst:4610000011`.
pub fn parse_scope(conn: &mut DbConnection, text: &str) -> Result<Scope, AccountError> {
    let not_found = || AccountError::Scope(text.to_string());
    let text = text.trim();
    if text == "all" {
        return Ok(Scope::All);
    }
    let (kind, value) = text.split_once(':').ok_or_else(not_found)?;
    let area = |conn: &mut DbConnection, kinds: &[AreaKind]| areas::by_code(conn, value, kinds);
    match kind {
        "pref" => area(conn, &[AreaKind::Prefecture])?
            .map(|(id, _)| Scope::Prefecture(id))
            .ok_or_else(not_found),
        "area" => match area(conn, &[AreaKind::Jurisdiction, AreaKind::Municipality])? {
            Some((id, k)) if k == AreaKind::Jurisdiction.code() => Ok(Scope::Jurisdiction(id)),
            Some((id, _)) => Ok(Scope::Municipality(id)),
            None => Err(not_found()),
        },
        "inst" => {
            let code = InstitutionCode::parse(value).map_err(|_| not_found())?;
            institutions::card_by_code(conn, code.as_str())?
                .map(|card| Scope::Institution(card.id))
                .ok_or_else(not_found)
        }
        _ => Err(not_found()),
    }
}

/// Who creates or changes an account, for the audit log.
#[derive(Clone, Copy)]
pub enum By<'a> {
    /// An administrator on the user pages.
    Admin(&'a Actor),
    /// The command line (`cli`) or the demo generator (`demo`).
    System(&'static str),
}

impl By<'_> {
    fn entry(
        self,
        target: i32,
        prefecture_id: Option<i32>,
        detail: Option<serde_json::Value>,
    ) -> audit::Entry {
        match self {
            By::Admin(actor) => actor.entry("user", target, prefecture_id, detail),
            By::System(name) => audit::Entry {
                actor_login: Some(name.to_string()),
                target_type: Some("user"),
                target_id: Some(target.to_string()),
                prefecture_id,
                detail,
                ..audit::Entry::default()
            },
        }
    }
}

pub struct NewAccount<'a> {
    pub login_id: &'a str,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    pub role: Role,
    pub scope: Scope,
    /// Argon2 hash of the password (callers hash once for many demo users).
    pub password_hash: String,
    pub must_change_password: bool,
    pub by: By<'a>,
}

/// Creates an account with its audit entry, in one transaction.
pub fn create(conn: &mut DbConnection, account: NewAccount) -> Result<i32, AccountError> {
    let login_id = normalize_login_id(account.login_id)?;
    if !scope_fits_role(account.role, account.scope) {
        return Err(AccountError::ScopeMismatch {
            role: account.role.label(),
            scope: format!("{:?}", account.scope),
        });
    }
    let (area_id, institution_id) = users::scope_columns(account.scope);
    let now = Utc::now().naive_utc();
    db::write_transaction(conn, |conn| {
        if users::by_login(conn, &login_id)?.is_some() {
            return Err(AccountError::Exists(login_id.clone()));
        }
        let id = users::insert(
            conn,
            &users::NewUser {
                login_id: login_id.clone(),
                display_name: account.display_name.trim().to_string(),
                email: account.email.map(str::to_string),
                role: account.role.code().to_string(),
                area_id,
                institution_id,
                active: true,
                password_hash: account.password_hash,
                must_change_password: account.must_change_password,
                failed_attempts: 0,
                locked_until: None,
                last_login_at: None,
                created_at: now,
                updated_at: now,
            },
        )?;
        let prefecture = users::prefecture_of(conn, account.scope)?;
        let detail = serde_json::json!({
            "login_id": login_id,
            "role": account.role.code(),
            "scope": account.scope,
        });
        audit::record(
            conn,
            Action::UserCreate,
            account.by.entry(id, prefecture, Some(detail)),
        )?;
        Ok(id)
    })
}

/// What `kakari user add` was given.
pub struct CliUser<'a> {
    pub login_id: &'a str,
    pub display_name: &'a str,
    pub email: Option<&'a str>,
    pub role: &'a str,
    pub scope: &'a str,
    pub password: &'a str,
}

/// `kakari user add`: validates the password against the policy, hashes it, creates.
pub fn add_from_cli(
    conn: &mut DbConnection,
    input: &CliUser,
    min_password: usize,
) -> Result<i32, AccountError> {
    let role =
        Role::from_code(input.role).ok_or_else(|| AccountError::Role(input.role.to_string()))?;
    let normalized = normalize_login_id(input.login_id)?;
    // `inst:4610000011`: the code must not be in the password either.
    let code = input.scope.strip_prefix("inst:").unwrap_or("");
    check_password(input.password, min_password, &[&normalized, code])?;
    let scope = parse_scope(conn, input.scope)?;
    let hash = password::hash(input.password).map_err(|e| DbError::Task(e.to_string()))?;
    let display_name = input.display_name;
    create(
        conn,
        NewAccount {
            login_id: &normalized,
            display_name: if display_name.trim().is_empty() {
                &normalized
            } else {
                display_name
            },
            email: input.email,
            role,
            scope,
            password_hash: hash,
            must_change_password: false,
            by: By::System("cli"),
        },
    )
}
