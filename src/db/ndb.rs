//! NDB counts (算定回数) per fiscal year, institution code and item key.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::DbConnection;
use super::schema::ndb_counts;

// ----- NDB counts -----

/// The NDB counts of one institution code: item key → count.
pub fn ndb_of(
    conn: &mut DbConnection,
    fiscal_year: i32,
    code: &str,
) -> QueryResult<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> = ndb_counts::table
        .filter(ndb_counts::fiscal_year.eq(fiscal_year))
        .filter(ndb_counts::institution_code.eq(code))
        .select((ndb_counts::item_key, ndb_counts::count))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

#[derive(Debug, Insertable)]
#[diesel(table_name = ndb_counts)]
pub struct NdbCount<'a> {
    pub fiscal_year: i32,
    pub institution_code: &'a str,
    pub item_key: &'a str,
    pub count: i64,
}

/// Replaces the counts of the given institution codes for a fiscal year.
pub fn replace_ndb(
    conn: &mut DbConnection,
    fiscal_year: i32,
    rows: &[NdbCount],
) -> QueryResult<usize> {
    let mut codes: Vec<&str> = rows.iter().map(|r| r.institution_code).collect();
    codes.sort_unstable();
    codes.dedup();
    for chunk in codes.chunks(900) {
        diesel::delete(
            ndb_counts::table
                .filter(ndb_counts::fiscal_year.eq(fiscal_year))
                .filter(ndb_counts::institution_code.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    let mut n = 0;
    for chunk in rows.chunks(5_000) {
        n += crate::per_backend!(&mut *conn, |c| {
            diesel::insert_into(ndb_counts::table)
                .values(chunk)
                .execute(c)
        })?;
    }
    Ok(n)
}

/// How many NDB rows a fiscal year has, and for how many codes.
pub fn ndb_summary(conn: &mut DbConnection, fiscal_year: i32) -> QueryResult<(i64, i64)> {
    let rows: i64 = ndb_counts::table
        .filter(ndb_counts::fiscal_year.eq(fiscal_year))
        .count()
        .get_result(conn)?;
    let codes: i64 = ndb_counts::table
        .filter(ndb_counts::fiscal_year.eq(fiscal_year))
        .select(diesel::dsl::count(ndb_counts::institution_code).aggregate_distinct())
        .first(conn)?;
    Ok((rows, codes))
}

/// Every institution's NDB counts of a fiscal year, by institution code.
pub fn ndb_of_year(
    conn: &mut DbConnection,
    fiscal_year: i32,
) -> QueryResult<std::collections::HashMap<String, BTreeMap<String, i64>>> {
    let rows: Vec<(String, String, i64)> = ndb_counts::table
        .filter(ndb_counts::fiscal_year.eq(fiscal_year))
        .select((
            ndb_counts::institution_code,
            ndb_counts::item_key,
            ndb_counts::count,
        ))
        .load(conn)?;
    let mut out: std::collections::HashMap<String, BTreeMap<String, i64>> =
        std::collections::HashMap::new();
    for (code, key, count) in rows {
        out.entry(code).or_default().insert(key, count);
    }
    Ok(out)
}

/// Which of `codes` already have NDB counts for the fiscal year.
pub fn counted_codes(
    conn: &mut DbConnection,
    fiscal_year: i32,
    codes: &[&str],
) -> QueryResult<std::collections::BTreeSet<String>> {
    let mut found = std::collections::BTreeSet::new();
    for chunk in codes.chunks(900) {
        let rows: Vec<String> = ndb_counts::table
            .filter(ndb_counts::fiscal_year.eq(fiscal_year))
            .filter(ndb_counts::institution_code.eq_any(chunk))
            .select(ndb_counts::institution_code)
            .distinct()
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}
