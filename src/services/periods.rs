//! Reporting periods (受付期間) per prefecture and fiscal year. Catalogs are loaded
//! through `services::catalogs::load_catalog`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Actor, Failure, Kind};
use crate::db::audit::{self, Action};
use crate::db::{self, DbConnection, DbError, areas};
use crate::domain::auth::Scope;
use crate::domain::report::Period;

/// The period form as typed, kept as strings so that a rejected form comes back.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PeriodInput {
    #[serde(default)]
    pub prefecture: String,
    #[serde(default)]
    pub fiscal_year: String,
    #[serde(default)]
    pub opens_on: String,
    #[serde(default)]
    pub deadline: String,
    #[serde(default)]
    pub closes_on: String,
    #[serde(default)]
    pub contact: String,
}

pub type FieldErrors = BTreeMap<&'static str, String>;

#[derive(Debug, thiserror::Error)]
pub enum PeriodError {
    #[error("入力内容を確かめてください")]
    Fields(FieldErrors),
    #[error("{0}")]
    Db(#[from] DbError),
}

db_errors!(PeriodError);

impl Failure for PeriodError {
    fn kind(&self) -> Kind {
        match self {
            PeriodError::Fields(_) => Kind::Invalid,
            PeriodError::Db(e) => e.kind(),
        }
    }
}

/// The prefectures an administrator sets periods for.
pub fn prefectures_in_scope(all: Vec<areas::Area>, scope: Scope) -> Vec<areas::Area> {
    match scope {
        Scope::All => all,
        Scope::Prefecture(id) => all.into_iter().filter(|p| p.id == id).collect(),
        _ => Vec::new(),
    }
}

/// A date typed as 2027-01-01, 令和9年1月1日, full-width digits and the like.
fn read_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .or_else(|| crate::domain::normalize::parse_date(text).ok())
}

/// The period the form gives, or the messages for its fields.
fn read_period(input: &PeriodInput, errors: &mut FieldErrors) -> Option<Period> {
    let mut date = |field: &'static str, text: &str| {
        let d = read_date(text);
        if d.is_none() {
            let message = "日付を 2027-01-01 や 令和9年1月1日 の形で入力してください";
            errors.insert(field, message.into());
        }
        d
    };
    let opens_on = date("opens_on", &input.opens_on);
    let deadline = date("deadline", &input.deadline);
    let closes_on = date("closes_on", &input.closes_on);
    let period = Period {
        opens_on: opens_on?,
        deadline: deadline?,
        closes_on: closes_on?,
    };
    for problem in period.check() {
        errors.insert("period", problem.to_string());
    }
    Some(period)
}

/// Creates or replaces the period of one prefecture (inside the actor's scope) and
/// fiscal year, with its audit entry.
pub fn set(conn: &mut DbConnection, actor: &Actor, input: &PeriodInput) -> Result<(), PeriodError> {
    let mut errors = FieldErrors::new();
    let fiscal_year: Option<i32> = crate::domain::normalize::digits(&input.fiscal_year)
        .and_then(|d| d.parse().ok())
        .filter(|y| (2024..=2100).contains(y));
    if fiscal_year.is_none() {
        errors.insert("fiscal_year", "年度を選んでください".into());
    }
    let period = read_period(input, &mut errors);
    let contact = input.contact.trim().to_string();
    if contact.chars().count() > 200 {
        errors.insert(
            "contact",
            "問い合わせ先は200文字以内で入力してください".into(),
        );
    }
    let mine = prefectures_in_scope(areas::prefectures(conn)?, actor.scope);
    let prefecture = match input.prefecture.parse::<i32>() {
        Ok(id) => mine.into_iter().find(|p| p.id == id),
        Err(_) if mine.len() == 1 => mine.into_iter().next(),
        Err(_) => None,
    };
    if prefecture.is_none() {
        errors.insert("prefecture", "都道府県を選んでください".into());
    }
    let (Some(period), Some(fiscal_year), Some(prefecture), true) =
        (period, fiscal_year, prefecture, errors.is_empty())
    else {
        return Err(PeriodError::Fields(errors));
    };
    db::write_transaction(conn, |conn| {
        let now = chrono::Utc::now().naive_utc();
        db::periods::set_period(conn, prefecture.id, fiscal_year, period, &contact, now)?;
        let detail = serde_json::json!({
            "opens_on": period.opens_on, "deadline": period.deadline,
            "closes_on": period.closes_on, "contact": contact,
        });
        let target = format!("{}:{fiscal_year}", prefecture.code);
        let entry = actor.entry("period", target, Some(prefecture.id), Some(detail));
        audit::record(conn, Action::PeriodSet, entry)?;
        Ok(())
    })
}
