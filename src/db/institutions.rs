//! The institution master.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::institutions;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = institutions)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewInstitution {
    pub code: String,
    pub prefecture_code: String,
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
    pub prefecture_id: i32,
    pub jurisdiction_id: Option<i32>,
    pub municipality_id: Option<i32>,
    pub founder: Option<String>,
    pub manager: Option<String>,
    pub designated_on: Option<NaiveDate>,
    pub departments: Option<String>,
    pub status: String,
    pub paper_report: bool,
    pub target_override: Option<bool>,
    pub target_override_reason: Option<String>,
    pub is_target: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Rows per INSERT statement: 26 columns × 500 rows stays under both backends'
/// bound-parameter limits (SQLite 32,766; PostgreSQL 65,535).
pub const INSERT_BATCH: usize = 500;

/// Inserts many rows with multi-row INSERT statements.
pub fn insert_many(conn: &mut DbConnection, rows: &[NewInstitution]) -> QueryResult<usize> {
    let mut inserted = 0;
    for chunk in rows.chunks(INSERT_BATCH) {
        inserted += crate::per_backend!(&mut *conn, |c| {
            diesel::insert_into(institutions::table)
                .values(chunk)
                .execute(c)
        })?;
    }
    Ok(inserted)
}

/// Counts for the home page.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub institutions: i64,
    pub targets: i64,
}

pub fn summary(conn: &mut DbConnection) -> QueryResult<Summary> {
    let institutions = institutions::table.count().get_result(conn)?;
    let targets = institutions::table
        .filter(institutions::is_target.eq(true))
        .count()
        .get_result(conn)?;
    Ok(Summary {
        institutions,
        targets,
    })
}
