//! 一括確認: the stored preview of a bulk confirmation (its snapshot of report ids and
//! revisions), claimed once by the commit and finished with its result.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::bulk_confirmations;

/// The stages of a bulk confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Previewed,
    Committing,
    Committed,
}

impl Stage {
    pub fn code(self) -> &'static str {
        match self {
            Stage::Previewed => "previewed",
            Stage::Committing => "committing",
            Stage::Committed => "committed",
        }
    }
}

/// Stores a preview; returns its id.
pub fn insert(
    conn: &mut DbConnection,
    user_id: i32,
    fiscal_year: i32,
    snapshot: &str,
    at: NaiveDateTime,
) -> QueryResult<i32> {
    let row = (
        bulk_confirmations::user_id.eq(user_id),
        bulk_confirmations::fiscal_year.eq(fiscal_year),
        bulk_confirmations::reports.eq(snapshot),
        bulk_confirmations::status.eq(Stage::Previewed.code()),
        bulk_confirmations::created_at.eq(at),
    );
    crate::per_backend!(&mut *conn, |c| {
        diesel::insert_into(bulk_confirmations::table)
            .values(row)
            .returning(bulk_confirmations::id)
            .get_result(c)
    })
}

/// A bulk confirmation as stored.
#[derive(Debug, Clone, Queryable)]
pub struct BulkRow {
    pub fiscal_year: i32,
    pub snapshot: String,
    pub status: String,
    pub result: Option<String>,
}

/// A bulk confirmation of this user (another user's answers `None`).
pub fn find(conn: &mut DbConnection, user_id: i32, id: i32) -> QueryResult<Option<BulkRow>> {
    bulk_confirmations::table
        .filter(bulk_confirmations::id.eq(id))
        .filter(bulk_confirmations::user_id.eq(user_id))
        .select((
            bulk_confirmations::fiscal_year,
            bulk_confirmations::reports,
            bulk_confirmations::status,
            bulk_confirmations::result,
        ))
        .first(conn)
        .optional()
}

/// Takes a previewed bulk confirmation for committing; false when it was already taken
/// (a second click, another tab).
pub fn claim(conn: &mut DbConnection, id: i32) -> QueryResult<bool> {
    let n = diesel::update(
        bulk_confirmations::table
            .filter(bulk_confirmations::id.eq(id))
            .filter(bulk_confirmations::status.eq(Stage::Previewed.code())),
    )
    .set(bulk_confirmations::status.eq(Stage::Committing.code()))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn finish(
    conn: &mut DbConnection,
    id: i32,
    result: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(bulk_confirmations::table.find(id))
        .set((
            bulk_confirmations::status.eq(Stage::Committed.code()),
            bulk_confirmations::result.eq(result),
            bulk_confirmations::finished_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}
