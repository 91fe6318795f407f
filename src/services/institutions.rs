//! An officer's changes to one institution: contact, paper filing, status, municipality
//! and the manual 報告対象 decision (with its reason). The master import is in
//! `services::imports`.

use std::collections::BTreeMap;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{Actor, Failure, Kind};
use crate::db::audit::{self, Action};
use crate::db::changes::Counter;
use crate::db::{DbConnection, DbError, areas, institutions};
use crate::domain::auth::Scope;
use crate::domain::institution::{Category, Status, TargetFacts, is_reporting_target};
use crate::domain::normalize;

/// The edit form as typed, kept as strings so that a rejected form comes back unchanged.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct EditInput {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub paper: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub municipality: String,
    /// "" = follow the rule, "1" = target, "0" = not a target
    #[serde(default)]
    pub target_override: String,
    #[serde(default)]
    pub reason: String,
}

pub type FieldErrors = BTreeMap<&'static str, String>;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("医療機関が見つかりません")]
    NotFound,
    #[error("入力内容を確かめてください")]
    Fields(FieldErrors),
    #[error("{0}")]
    Db(#[from] DbError),
}

db_errors!(EditError);

impl Failure for EditError {
    fn kind(&self) -> Kind {
        match self {
            EditError::NotFound => Kind::NotFound,
            EditError::Fields(_) => Kind::Invalid,
            EditError::Db(e) => e.kind(),
        }
    }
}

struct ValidEdit {
    email: Option<String>,
    phone: Option<String>,
    paper: bool,
    status: Status,
    municipality: Option<i32>,
    target_override: Option<bool>,
    reason: String,
}

fn validate(input: &EditInput) -> Result<ValidEdit, EditError> {
    let mut errors = FieldErrors::new();
    let email = input.email.trim().to_string();
    if !email.is_empty()
        && (!email.contains('@') || email.contains(char::is_whitespace) || email.len() > 254)
    {
        errors.insert("email", "メールアドレスの形式が正しくありません".into());
    }
    let phone = normalize::tidy(&normalize::nfkc(&input.phone));
    if phone.chars().count() > 30 {
        errors.insert("phone", "電話番号は30文字以内で入力してください".into());
    }
    let status = Status::from_code(&input.status);
    if status.is_none() {
        errors.insert("status", "状態を選んでください".into());
    }
    let target_override = match input.target_override.as_str() {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    };
    let reason = input.reason.trim().to_string();
    if target_override.is_some() && reason.is_empty() {
        let message = "報告対象を手動で決めるときは理由を入力してください";
        errors.insert("reason", message.into());
    }
    if reason.chars().count() > 500 {
        errors.insert("reason", "理由は500文字以内で入力してください".into());
    }
    match status {
        Some(status) if errors.is_empty() => Ok(ValidEdit {
            email: Some(email).filter(|e| !e.is_empty()),
            phone: Some(phone).filter(|p| !p.is_empty()),
            paper: input.paper == "1",
            status,
            municipality: input.municipality.parse().ok(),
            target_override,
            reason,
        }),
        _ => Err(EditError::Fields(errors)),
    }
}

/// The jurisdiction of the chosen municipality, which must belong to the institution's
/// prefecture and, for area officers, to their own area.
fn jurisdiction_of(
    conn: &mut DbConnection,
    scope: Scope,
    prefecture_id: i32,
    municipality: Option<i32>,
) -> Result<Option<i32>, EditError> {
    let Some(m) = municipality else {
        return Ok(None);
    };
    let found = areas::municipalities_of(conn, prefecture_id)?
        .into_iter()
        .find(|x| x.id == m);
    let inside = found.as_ref().is_some_and(|found| match scope {
        Scope::Jurisdiction(j) => found.jurisdiction_id == j,
        Scope::Municipality(mm) => found.id == mm,
        _ => true,
    });
    match found {
        Some(found) if inside => Ok(Some(found.jurisdiction_id)),
        _ => {
            let mut errors = FieldErrors::new();
            errors.insert("municipality", "担当範囲の市区町村を選んでください".into());
            Err(EditError::Fields(errors))
        }
    }
}

/// Saves an officer's edit of an institution in the actor's scope, with its audit
/// entry (before and after).
pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i32,
    input: &EditInput,
) -> Result<(), EditError> {
    let valid = validate(input)?;
    crate::services::write_counted(
        conn,
        &[Counter::Master],
        |_| true,
        |conn| -> Result<_, EditError> {
            let (old, old_override, old_reason, prefecture_id) =
                institutions::full_within(conn, actor.scope, id)?.ok_or(EditError::NotFound)?;
            let jurisdiction =
                jurisdiction_of(conn, actor.scope, prefecture_id, valid.municipality)?;
            let facts = TargetFacts {
                category: Category::from_code(&old.category).unwrap_or(Category::Clinic),
                is_special_function: old.is_special_function,
                is_correctional: old.is_correctional,
                status: valid.status,
            };
            let edit = institutions::OfficerEdit {
                email: valid.email.clone(),
                phone: valid.phone.clone(),
                paper_report: valid.paper,
                status: valid.status.code().to_string(),
                municipality_id: valid.municipality,
                jurisdiction_id: jurisdiction,
                target_override: valid.target_override,
                target_override_reason: valid.target_override.map(|_| valid.reason.clone()),
                is_target: is_reporting_target(facts, valid.target_override),
                updated_at: Utc::now().naive_utc(),
            };
            institutions::save_edit(conn, id, &edit)?;
            if old.email != valid.email {
                // A new address has not bounced yet.
                crate::db::mail::clear_undeliverable(conn, id)?;
            }
            let detail = serde_json::json!({
                "before": {
                    "email": old.email, "phone": old.phone, "paper": old.paper_report,
                    "status": old.status, "municipality": old.municipality_id,
                    "target_override": old_override, "reason": old_reason,
                    "is_target": old.is_target,
                },
                "after": {
                    "email": edit.email, "phone": edit.phone, "paper": edit.paper_report,
                    "status": edit.status, "municipality": edit.municipality_id,
                    "target_override": edit.target_override, "reason": edit.target_override_reason,
                    "is_target": edit.is_target,
                },
            });
            let entry = actor.entry("institution", id, Some(prefecture_id), Some(detail));
            audit::record(conn, Action::InstitutionUpdate, entry)?;
            Ok(())
        },
    )?;
    Ok(())
}
