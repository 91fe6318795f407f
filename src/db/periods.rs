//! Reporting periods (受付期間) per prefecture and fiscal year, and the report catalogs
//! administrators loaded.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConnection;
use super::review_index;
use super::schema::{catalogs, report_versions, reporting_periods, reports};

// ----- reporting periods -----

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = reporting_periods)]
pub struct PeriodRow {
    pub id: i32,
    pub prefecture_id: i32,
    pub fiscal_year: i32,
    pub opens_on: NaiveDate,
    pub deadline: NaiveDate,
    pub closes_on: NaiveDate,
    pub contact: String,
}

impl PeriodRow {
    pub fn period(&self) -> crate::domain::report::Period {
        crate::domain::report::Period {
            opens_on: self.opens_on,
            deadline: self.deadline,
            closes_on: self.closes_on,
        }
    }
}

pub fn periods(conn: &mut DbConnection, prefecture_id: i32) -> QueryResult<Vec<PeriodRow>> {
    reporting_periods::table
        .filter(reporting_periods::prefecture_id.eq(prefecture_id))
        .order(reporting_periods::fiscal_year.desc())
        .select(PeriodRow::as_select())
        .load(conn)
}

pub fn period(
    conn: &mut DbConnection,
    prefecture_id: i32,
    fiscal_year: i32,
) -> QueryResult<Option<PeriodRow>> {
    reporting_periods::table
        .filter(reporting_periods::prefecture_id.eq(prefecture_id))
        .filter(reporting_periods::fiscal_year.eq(fiscal_year))
        .select(PeriodRow::as_select())
        .first(conn)
        .optional()
}

/// Creates or replaces the period of one prefecture and fiscal year.
pub fn set_period(
    conn: &mut DbConnection,
    prefecture_id: i32,
    fiscal_year: i32,
    p: crate::domain::report::Period,
    contact: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let dates = (
        reporting_periods::opens_on.eq(p.opens_on),
        reporting_periods::deadline.eq(p.deadline),
        reporting_periods::closes_on.eq(p.closes_on),
        reporting_periods::contact.eq(contact),
        reporting_periods::updated_at.eq(at),
    );
    let changed = diesel::update(
        reporting_periods::table
            .filter(reporting_periods::prefecture_id.eq(prefecture_id))
            .filter(reporting_periods::fiscal_year.eq(fiscal_year)),
    )
    .set(dates)
    .execute(conn)?;
    if changed == 0 {
        diesel::insert_into(reporting_periods::table)
            .values((
                reporting_periods::prefecture_id.eq(prefecture_id),
                reporting_periods::fiscal_year.eq(fiscal_year),
                dates,
            ))
            .execute(conn)?;
    }
    review_index::add_year(conn, fiscal_year)
}

// ----- catalogs -----

/// The newest loaded catalog of a fiscal year: (version, body).
pub fn loaded_catalog(
    conn: &mut DbConnection,
    fiscal_year: i32,
) -> QueryResult<Option<(String, String)>> {
    catalogs::table
        .filter(catalogs::fiscal_year.eq(fiscal_year))
        .order(catalogs::id.desc())
        .select((catalogs::version, catalogs::body))
        .first(conn)
        .optional()
}

pub fn catalog_body(
    conn: &mut DbConnection,
    fiscal_year: i32,
    version: &str,
) -> QueryResult<Option<String>> {
    catalogs::table
        .filter(catalogs::fiscal_year.eq(fiscal_year))
        .filter(catalogs::version.eq(version))
        .select(catalogs::body)
        .first(conn)
        .optional()
}

#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct LoadedCatalog {
    pub id: i32,
    pub fiscal_year: i32,
    pub version: String,
    pub loaded_at: NaiveDateTime,
}

pub fn loaded_catalogs(conn: &mut DbConnection) -> QueryResult<Vec<LoadedCatalog>> {
    catalogs::table
        .order(catalogs::id.desc())
        .select((
            catalogs::id,
            catalogs::fiscal_year,
            catalogs::version,
            catalogs::loaded_at,
        ))
        .load(conn)
}

pub fn insert_catalog(
    conn: &mut DbConnection,
    fiscal_year: i32,
    version: &str,
    body: &str,
    by: Option<i32>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(catalogs::table)
        .values((
            catalogs::fiscal_year.eq(fiscal_year),
            catalogs::version.eq(version),
            catalogs::body.eq(body),
            catalogs::loaded_by.eq(by),
            catalogs::loaded_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Submitted versions of a fiscal year (a loaded catalog may only replace one before).
pub fn versions_in_year(conn: &mut DbConnection, fiscal_year: i32) -> QueryResult<i64> {
    report_versions::table
        .inner_join(reports::table)
        .filter(reports::fiscal_year.eq(fiscal_year))
        .count()
        .get_result(conn)
}
