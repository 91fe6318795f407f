//! The review screens' search table, `review_entries`: one row per institution and
//! fiscal year (every reporting target, and anyone who filed anyway) holding the latest
//! report's status, type, flags and submission time beside the institution's filter
//! columns. 報告状況検索 and its counts read it alone, without joining 110,000
//! institutions to their reports on every request.
//!
//! Every write of an institution or a report calls one of the functions here in the
//! same transaction, so the table never disagrees with its sources; [`drift`] proves it
//! in the tests and `kakari reindex` rebuilds it after hand-made changes.
//!
//! A fiscal year gets rows once it is listed in `review_years`: when its reporting
//! period is set, when its first report starts, or when someone first searches it.

use diesel::prelude::*;

use super::DbConnection;
use super::schema::review_years;

const COLUMNS: &str = "institution_id, fiscal_year, prefecture_id, jurisdiction_id, \
    municipality_id, code, short_code, search_key, category, is_target, paper_report, \
    has_email, report_id, status, kind, submitted_at, function1, after_hours, \
    admission_discharge, home_care, care_coordination, proxy";

/// What each row should hold, for every listed year (the caller adds `AND …`).
fn source() -> String {
    format!(
        "SELECT i.id, y.fiscal_year, i.prefecture_id, i.jurisdiction_id, \
         i.municipality_id, i.code, i.short_code, i.search_key, i.category, i.is_target, \
         i.paper_report, i.email IS NOT NULL, r.id, COALESCE(r.status, '{none}'), r.kind, \
         r.submitted_at, r.function1, r.after_hours, r.admission_discharge, r.home_care, \
         r.care_coordination, r.proxy \
         FROM review_years y CROSS JOIN institutions i \
         LEFT JOIN reports r ON r.institution_id = i.id AND r.fiscal_year = y.fiscal_year \
         AND r.is_latest \
         WHERE (i.is_target OR r.id IS NOT NULL)",
        none = super::review::NOT_REPORTED
    )
}

/// Ids per statement: numbers we hold, written inline so one statement serves both
/// databases.
const CHUNK: usize = 5_000;

fn id_list(ids: &[i32]) -> String {
    ids.iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the rows the condition selects. An upsert, not a plain insert: two
/// transactions refreshing the same row at once (an officer editing an institution while
/// its clinic saves) both delete it, and the second insert must then update what the
/// first one wrote instead of failing on the key.
fn insert_where(conn: &mut DbConnection, condition: &str) -> QueryResult<usize> {
    let updates: Vec<String> = COLUMNS
        .split(',')
        .map(str::trim)
        .filter(|c| !matches!(*c, "institution_id" | "fiscal_year"))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    diesel::sql_query(format!(
        "INSERT INTO review_entries ({COLUMNS}) {source} AND ({condition}) \
         ON CONFLICT (institution_id, fiscal_year) DO UPDATE SET {}",
        updates.join(", "),
        source = source()
    ))
    .execute(conn)
}

/// Lists the year and fills its rows, inside the caller's transaction. Cheap when the
/// year is already listed.
pub fn add_year(conn: &mut DbConnection, fiscal_year: i32) -> QueryResult<()> {
    if year_listed(conn, fiscal_year)? {
        return Ok(());
    }
    // A concurrent writer that listed it first wins; its rows are the same.
    let added = diesel::sql_query(format!(
        "INSERT INTO review_years (fiscal_year) VALUES ({fiscal_year}) ON CONFLICT DO NOTHING"
    ))
    .execute(conn)?;
    if added == 1 {
        insert_where(conn, &format!("y.fiscal_year = {fiscal_year}"))?;
    }
    Ok(())
}

/// [`add_year`] in a transaction of its own, for readers (the first search of a year).
pub fn prepare_year(conn: &mut DbConnection, fiscal_year: i32) -> QueryResult<()> {
    if year_listed(conn, fiscal_year)? {
        return Ok(());
    }
    super::write_transaction(conn, |conn| add_year(conn, fiscal_year))
}

fn year_listed(conn: &mut DbConnection, fiscal_year: i32) -> QueryResult<bool> {
    let n: i64 = review_years::table
        .filter(review_years::fiscal_year.eq(fiscal_year))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Rewrites the rows of these institutions in every listed year (after an import, an
/// edit, a retirement).
pub fn refresh_institutions(conn: &mut DbConnection, ids: &[i32]) -> QueryResult<()> {
    for chunk in ids.chunks(CHUNK) {
        let list = id_list(chunk);
        diesel::sql_query(format!(
            "DELETE FROM review_entries WHERE institution_id IN ({list})"
        ))
        .execute(conn)?;
        insert_where(conn, &format!("i.id IN ({list})"))?;
    }
    Ok(())
}

/// Rewrites the row of the report's institution and year (after any change to the
/// report). The year is listed first, so a report always has its row.
pub fn refresh_report(conn: &mut DbConnection, report_id: i32) -> QueryResult<()> {
    use super::schema::reports;
    let (institution_id, fiscal_year): (i32, i32) = reports::table
        .find(report_id)
        .select((reports::institution_id, reports::fiscal_year))
        .first(conn)?;
    add_year(conn, fiscal_year)?;
    diesel::sql_query(format!(
        "DELETE FROM review_entries WHERE institution_id = {institution_id} \
         AND fiscal_year = {fiscal_year}"
    ))
    .execute(conn)?;
    insert_where(
        conn,
        &format!("i.id = {institution_id} AND y.fiscal_year = {fiscal_year}"),
    )?;
    Ok(())
}

/// The bulk confirmation's share: the latest reports of these (institution, fiscal
/// year) rows became 確認済 and nothing else moved. Status is in no index of the table,
/// so on PostgreSQL the change stays on its page and touches no index.
pub fn mark_confirmed(conn: &mut DbConnection, rows: &[(i32, i32)]) -> QueryResult<()> {
    let mut by_year: std::collections::BTreeMap<i32, Vec<i32>> = Default::default();
    for (institution_id, fiscal_year) in rows {
        by_year
            .entry(*fiscal_year)
            .or_default()
            .push(*institution_id);
    }
    for (fiscal_year, ids) in by_year {
        for chunk in ids.chunks(CHUNK) {
            diesel::sql_query(format!(
                "UPDATE review_entries SET status = '{}' \
                 WHERE fiscal_year = {fiscal_year} AND institution_id IN ({})",
                crate::domain::report::Status::Confirmed.code(),
                id_list(chunk)
            ))
            .execute(conn)?;
        }
    }
    Ok(())
}

/// Throws the rows away and fills them again: every year with a period or a report.
/// Then fresh planner statistics, and on PostgreSQL the dead rows cleared (outside
/// the transaction, as VACUUM requires).
pub fn rebuild(conn: &mut DbConnection) -> QueryResult<usize> {
    let rows = super::write_transaction(conn, |conn| {
        diesel::sql_query("DELETE FROM review_entries").execute(conn)?;
        diesel::sql_query(
            "INSERT INTO review_years (fiscal_year) SELECT fiscal_year FROM \
             (SELECT fiscal_year FROM reporting_periods UNION SELECT fiscal_year FROM reports) AS y \
             WHERE fiscal_year NOT IN (SELECT fiscal_year FROM review_years)",
        )
        .execute(conn)?;
        insert_where(conn, "1 = 1")
    })?;
    let tidy = match conn {
        DbConnection::Pg(_) => "VACUUM ANALYZE review_entries",
        DbConnection::Sqlite(_) => "ANALYZE review_entries",
    };
    diesel::sql_query(tidy).execute(conn)?;
    Ok(rows)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Rows that differ from what the sources say (missing, extra or changed); zero when
/// the table is right.
pub fn drift(conn: &mut DbConnection) -> QueryResult<i64> {
    let count = |conn: &mut DbConnection, sql: String| -> QueryResult<i64> {
        let rows: Vec<Count> = diesel::sql_query(sql).load(conn)?;
        Ok(rows.first().map_or(0, |c| c.n))
    };
    let expected = format!("{} AND 1 = 1", source());
    let stored = format!("SELECT {COLUMNS} FROM review_entries");
    let missing = count(
        conn,
        format!("SELECT COUNT(*) AS n FROM ({expected} EXCEPT {stored}) AS d"),
    )?;
    let extra = count(
        conn,
        format!("SELECT COUNT(*) AS n FROM ({stored} EXCEPT {expected}) AS d"),
    )?;
    Ok(missing + extra)
}
