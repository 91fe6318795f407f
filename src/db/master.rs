//! The institution master as imports write it: the rows a file is compared with, the
//! changes an import makes, and 廃止 of institutions a full list no longer contains.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::institutions;

/// A master row as an import compares it with a file.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = institutions)]
pub struct MasterRow {
    pub id: i32,
    pub code: String,
    pub fee_table: String,
    pub category: String,
    pub is_special_function: bool,
    pub is_correctional: bool,
    pub name: String,
    pub name_kana: Option<String>,
    pub postcode: Option<String>,
    pub address: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub municipality_id: Option<i32>,
    pub founder: Option<String>,
    pub manager: Option<String>,
    pub designated_on: Option<NaiveDate>,
    pub departments: Option<String>,
    pub status: String,
    pub paper_report: bool,
    pub target_override: Option<bool>,
}

/// The master of a prefecture by institution code.
pub fn master_of(
    conn: &mut DbConnection,
    prefecture_id: i32,
) -> QueryResult<std::collections::HashMap<String, MasterRow>> {
    let rows: Vec<MasterRow> = institutions::table
        .filter(institutions::prefecture_id.eq(prefecture_id))
        .select(MasterRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(|e| (e.code.clone(), e)).collect())
}

/// What an import writes to an institution it updates.
#[derive(AsChangeset)]
#[diesel(table_name = institutions)]
pub struct ImportedChanges<'a> {
    pub category: &'a str,
    pub name: &'a str,
    pub name_kana: Option<&'a str>,
    pub postcode: Option<&'a str>,
    pub address: &'a str,
    pub phone: Option<&'a str>,
    pub email: Option<&'a str>,
    pub founder: Option<&'a str>,
    pub manager: Option<&'a str>,
    pub designated_on: Option<NaiveDate>,
    pub departments: Option<&'a str>,
    pub status: &'a str,
    pub paper_report: Option<bool>,
    pub is_special_function: Option<bool>,
    pub is_correctional: Option<bool>,
    pub municipality_id: Option<i32>,
    pub jurisdiction_id: Option<i32>,
    pub is_target: bool,
    pub search_key: &'a str,
    pub updated_at: NaiveDateTime,
}

pub fn save_imported(
    conn: &mut DbConnection,
    id: i32,
    changes: &ImportedChanges,
) -> QueryResult<()> {
    if let Some(email) = changes.email {
        // A new address has not bounced yet (the 不達 flag was about the old one).
        let flagged = institutions::table
            .find(id)
            .filter(institutions::email_bounced_at.is_not_null());
        let cleared = (
            institutions::email_bounced_at.eq(None::<NaiveDateTime>),
            institutions::email_bounce_reason.eq(None::<String>),
        );
        diesel::update(flagged.filter(institutions::email.ne(email)))
            .set(cleared.clone())
            .execute(conn)?;
        diesel::update(flagged.filter(institutions::email.is_null()))
            .set(cleared)
            .execute(conn)?;
    }
    diesel::update(institutions::table.find(id))
        .set(changes)
        .execute(conn)?;
    super::institutions::index_names(conn, &[(id, changes.search_key)])
}

/// Institutions of a prefecture among `ids` that are not 廃止 yet: (id, category,
/// special function, correctional, target override, status).
pub type RetireCandidate = (i32, String, bool, bool, Option<bool>, String);

pub fn not_abolished(
    conn: &mut DbConnection,
    prefecture_id: i32,
    ids: &[i32],
) -> QueryResult<Vec<RetireCandidate>> {
    let abolished = crate::domain::institution::Status::Abolished.code();
    let mut out = Vec::new();
    for chunk in ids.chunks(900) {
        let rows: Vec<RetireCandidate> = institutions::table
            .filter(institutions::id.eq_any(chunk))
            .filter(institutions::prefecture_id.eq(prefecture_id))
            .filter(institutions::status.ne(abolished))
            .select((
                institutions::id,
                institutions::category,
                institutions::is_special_function,
                institutions::is_correctional,
                institutions::target_override,
                institutions::status,
            ))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// Sets an institution's status and whether it is a reporting target.
pub fn set_status(
    conn: &mut DbConnection,
    id: i32,
    status: &str,
    is_target: bool,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(institutions::table.find(id))
        .set((
            institutions::status.eq(status),
            institutions::is_target.eq(is_target),
            institutions::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}
