//! What the public pages read: a published year, its search, one institution. Only
//! what publishing put in the snapshot is reachable from here.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::PublicationError;
use crate::db::DbConnection;
use crate::db::publication::{self as store, PublicRow};
use crate::domain::publication::PublicationRules;
use crate::domain::wareki;

/// A published year as the public pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    #[serde(skip)]
    pub publication_id: i32,
    #[serde(skip)]
    pub prefecture_id: i32,
    /// When it was published (seconds): names the kept files of this publication.
    #[serde(skip)]
    pub stamp: i64,
    pub prefecture_code: String,
    pub prefecture_name: String,
    pub fiscal_year: i32,
    pub fiscal_year_label: String,
    pub published_on: String,
    /// 「令和9年3月31日」: the latest confirmation in the snapshot.
    pub confirmed_until: Option<String>,
    pub institutions: i32,
    pub rules: PublicationRules,
    pub notes: Vec<String>,
}

fn date_of(t: NaiveDateTime) -> String {
    wareki::date_wareki(wareki::to_jst(t).date_naive())
}

/// The published year of a prefecture (by its two-digit code); not found when the
/// year is not published.
pub fn published(
    conn: &mut DbConnection,
    prefecture_code: &str,
    fiscal_year: i32,
) -> Result<Published, PublicationError> {
    let (prefecture_id, code, name) =
        crate::db::areas::prefecture_by_code_or_name(conn, prefecture_code)?
            .filter(|(_, code, _)| code == prefecture_code)
            .ok_or(PublicationError::NotFound)?;
    let head = store::publication_head(conn, prefecture_id, fiscal_year)?
        .ok_or(PublicationError::NotFound)?;
    let rules: PublicationRules = serde_json::from_str(&head.rules).unwrap_or_default();
    Ok(Published {
        publication_id: head.id,
        prefecture_id,
        stamp: head.published_at.and_utc().timestamp(),
        prefecture_code: code,
        prefecture_name: name,
        fiscal_year,
        fiscal_year_label: wareki::fiscal_year_label(fiscal_year),
        published_on: date_of(head.published_at),
        confirmed_until: head.confirmed_until.map(date_of),
        institutions: head.institutions,
        notes: rules.notes(),
        rules,
    })
}

/// Every published year: (prefecture code, prefecture name, fiscal year), newest first.
pub fn publications(
    conn: &mut DbConnection,
) -> Result<Vec<(String, String, i32)>, PublicationError> {
    let prefectures = crate::db::areas::prefectures(conn)?;
    Ok(store::publications(conn)?
        .into_iter()
        .filter_map(|(prefecture_id, fy, _, _)| {
            prefectures
                .iter()
                .find(|p| p.id == prefecture_id)
                .map(|p| (p.code.clone(), p.name.clone(), fy))
        })
        .collect())
}

/// One published institution and its published answers.
pub fn institution(
    conn: &mut DbConnection,
    published: &Published,
    code: &str,
) -> Result<(PublicRow, crate::domain::determination::Answers), PublicationError> {
    let row = store::public_institution(conn, published.publication_id, code)?
        .ok_or(PublicationError::NotFound)?;
    let details = store::details_of(conn, published.publication_id, &[row.institution_id])?;
    let answers = details
        .get(&row.institution_id)
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default();
    Ok((row, answers))
}

/// The published (masked) tables of the year.
pub fn tables(
    conn: &mut DbConnection,
    published: &Published,
) -> Result<crate::domain::publication::SummaryTables, PublicationError> {
    let text = store::published_tables(conn, published.publication_id)?;
    serde_json::from_str(&text)
        .map_err(|e| PublicationError::Invalid(format!("集計表を読めません: {e}")))
}
