//! The prefecture's view of reports: 報告状況検索 (institutions with the latest cycle of
//! their fiscal year's report, 未報告 included), counts per status, 件数集計 figures.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{institution_name_grams, institutions, reports, review_entries};
use crate::domain::auth::Scope;
use crate::domain::report::Status;

/// What the status filter asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// 未報告: no report row for the year.
    NotReported,
    Is(crate::domain::report::Status),
    /// Not yet submitted: 未報告, 一時保存, 差戻し (未報告機関一覧).
    Unsubmitted,
    /// Waiting for the prefecture: 報告済, 再報告済 (what bulk confirm acts on).
    AwaitingReview,
}

#[derive(Debug, Clone, Default)]
pub struct ReviewFilter {
    pub status: Option<StatusFilter>,
    pub kind: Option<String>,
    pub category: Option<String>,
    pub jurisdiction_id: Option<i32>,
    pub municipality_id: Option<i32>,
    pub function1: Option<bool>,
    /// after_hours, admission_discharge, home_care, care_coordination.
    pub function2: [Option<bool>; 4],
    pub proxy: Option<bool>,
    pub paper: Option<bool>,
    pub has_email: Option<bool>,
    /// Reporting targets only (the search table also holds non-targets with a report).
    pub target: Option<bool>,
    pub submitted_from: Option<NaiveDate>,
    pub submitted_to: Option<NaiveDate>,
    /// Already folded with `normalize::search_key`.
    pub name_key: Option<String>,
    /// 10 digits, or the bureau's 7.
    pub code: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewSort {
    Code,
    Name,
    Submitted,
    Status,
}

/// One line of the list.
#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct ReviewRow {
    pub institution_id: i32,
    pub code: String,
    pub name: String,
    pub category: String,
    pub jurisdiction_id: Option<i32>,
    pub municipality_id: Option<i32>,
    pub email: Option<String>,
    pub paper_report: bool,
    pub report_id: Option<i32>,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub submitted_at: Option<NaiveDateTime>,
    pub function1: Option<bool>,
    pub after_hours: Option<bool>,
    pub admission_discharge: Option<bool>,
    pub home_care: Option<bool>,
    pub care_coordination: Option<bool>,
    pub proxy: Option<bool>,
    pub revision: Option<i32>,
}

type Joined = diesel::helper_types::LeftJoinOn<
    diesel::helper_types::InnerJoinOn<
        review_entries::table,
        institutions::table,
        diesel::dsl::Eq<institutions::id, review_entries::institution_id>,
    >,
    reports::table,
    diesel::dsl::Eq<diesel::dsl::Nullable<reports::id>, review_entries::report_id>,
>;

/// Filters and orders run on the search table alone: joined first, a sort of every
/// match would drag 110,000 institution and report rows through the join (350 ms on
/// PostgreSQL for the 状態 order). The page's lines are read by id afterwards.
type Boxed = review_entries::BoxedQuery<'static, crate::db::MultiBackend>;

/// The search table with its institution and latest report, for the columns shown.
fn joined() -> Joined {
    review_entries::table
        .inner_join(institutions::table.on(institutions::id.eq(review_entries::institution_id)))
        .left_join(reports::table.on(reports::id.nullable().eq(review_entries::report_id)))
}

fn start_of_day_utc(d: NaiveDate) -> NaiveDateTime {
    // JST midnight is 15:00 UTC the day before.
    d.and_hms_opt(0, 0, 0).unwrap_or_default() - chrono::Duration::hours(9)
}

/// The filtered query (no order, no selection yet), on the search table's columns
/// only, so that each filter and sort can walk an index of its own. `gram` narrows a
/// name search.
fn filtered(
    scope: Scope,
    fiscal_year: i32,
    f: &ReviewFilter,
    gram: Option<&str>,
    postgres: bool,
) -> Boxed {
    use crate::domain::report::Status;
    use review_entries as e;
    let mut q = review_entries::table
        .filter(e::fiscal_year.eq(fiscal_year))
        .into_boxed();
    q = match scope {
        Scope::All => q,
        Scope::Prefecture(id) => q.filter(e::prefecture_id.eq(id)),
        Scope::Jurisdiction(id) => q.filter(e::jurisdiction_id.eq(id)),
        Scope::Municipality(id) => q.filter(e::municipality_id.eq(id)),
        Scope::Institution(id) => q.filter(e::institution_id.eq(id)),
    };
    match f.status {
        None => {}
        Some(StatusFilter::NotReported) => q = q.filter(e::status.eq(NOT_REPORTED)),
        Some(StatusFilter::Is(s)) => q = q.filter(e::status.eq(s.code())),
        Some(StatusFilter::Unsubmitted) => {
            q = q.filter(e::status.eq_any([
                NOT_REPORTED,
                Status::Draft.code(),
                Status::Returned.code(),
            ]))
        }
        Some(StatusFilter::AwaitingReview) => {
            q = q.filter(e::status.eq_any([Status::Submitted.code(), Status::Resubmitted.code()]))
        }
    }
    if let Some(k) = &f.kind {
        q = q.filter(e::kind.eq(k.clone()));
    }
    if let Some(c) = &f.category {
        q = q.filter(e::category.eq(c.clone()));
    }
    if let Some(j) = f.jurisdiction_id {
        q = q.filter(e::jurisdiction_id.eq(j));
    }
    if let Some(m) = f.municipality_id {
        q = q.filter(e::municipality_id.eq(m));
    }
    if let Some(v) = f.function1 {
        q = q.filter(e::function1.eq(v));
    }
    let [ah, ad, hc, cc] = f.function2;
    if let Some(v) = ah {
        q = q.filter(e::after_hours.eq(v));
    }
    if let Some(v) = ad {
        q = q.filter(e::admission_discharge.eq(v));
    }
    if let Some(v) = hc {
        q = q.filter(e::home_care.eq(v));
    }
    if let Some(v) = cc {
        q = q.filter(e::care_coordination.eq(v));
    }
    if let Some(v) = f.proxy {
        q = q.filter(e::proxy.eq(v));
    }
    if let Some(v) = f.paper {
        q = q.filter(e::paper_report.eq(v));
    }
    if let Some(v) = f.has_email {
        q = q.filter(e::has_email.eq(v));
    }
    if let Some(v) = f.target {
        q = q.filter(e::is_target.eq(v));
    }
    if let Some(d) = f.submitted_from {
        q = q.filter(e::submitted_at.ge(start_of_day_utc(d)));
    }
    if let Some(d) = f.submitted_to {
        q = q.filter(e::submitted_at.lt(start_of_day_utc(d + chrono::Days::new(1))));
    }
    if let Some(code) = &f.code {
        q = if code.len() == 7 {
            q.filter(e::short_code.eq(code.clone()))
        } else {
            q.filter(e::code.eq(code.clone()))
        };
    }
    if let Some(g) = gram {
        q = q.filter(
            e::institution_id.eq_any(
                institution_name_grams::table
                    .filter(institution_name_grams::gram.eq(g.to_string()))
                    .select(institution_name_grams::institution_id),
            ),
        );
    }
    if let Some(key) = &f.name_key {
        let position = if postgres { "strpos" } else { "instr" };
        q = q.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "{position}(review_entries.search_key, "
            ))
            .bind::<diesel::sql_types::Text, _>(key.clone())
            .sql(") > 0"),
        );
    }
    q
}

/// The status of an institution without a report, in the search table.
pub const NOT_REPORTED: &str = "none";

/// Orders that each follow one index of the search table, ties broken by code in the
/// same direction. 報告日時 puts unsubmitted lines first ascending and last descending
/// on both databases (SQLite's order for NULL, asked of PostgreSQL by name).
fn order(q: Boxed, sort: ReviewSort, descending: bool, postgres: bool) -> Boxed {
    use review_entries as e;
    match (sort, descending) {
        (ReviewSort::Code, false) => q.order(e::code.asc()),
        (ReviewSort::Code, true) => q.order(e::code.desc()),
        (ReviewSort::Name, false) => q.order((e::search_key.asc(), e::institution_id.asc())),
        (ReviewSort::Name, true) => q.order((e::search_key.desc(), e::institution_id.desc())),
        (ReviewSort::Submitted, descending) => {
            let nulls = match (postgres, descending) {
                (false, _) => "",
                (true, false) => " NULLS FIRST",
                (true, true) => " NULLS LAST",
            };
            let direction = if descending { "DESC" } else { "ASC" };
            q.order(diesel::dsl::sql::<diesel::sql_types::Text>(&format!(
                "review_entries.submitted_at {direction}{nulls}, review_entries.code {direction}"
            )))
        }
        (ReviewSort::Status, false) => q.order((e::status.asc(), e::code.asc())),
        (ReviewSort::Status, true) => q.order((e::status.desc(), e::code.desc())),
    }
}

type Selection = (
    institutions::id,
    institutions::code,
    institutions::name,
    institutions::category,
    institutions::jurisdiction_id,
    institutions::municipality_id,
    institutions::email,
    institutions::paper_report,
    diesel::dsl::Nullable<reports::id>,
    diesel::dsl::Nullable<reports::status>,
    diesel::dsl::Nullable<reports::kind>,
    diesel::dsl::Nullable<reports::submitted_at>,
    diesel::dsl::Nullable<reports::function1>,
    diesel::dsl::Nullable<reports::after_hours>,
    diesel::dsl::Nullable<reports::admission_discharge>,
    diesel::dsl::Nullable<reports::home_care>,
    diesel::dsl::Nullable<reports::care_coordination>,
    diesel::dsl::Nullable<reports::proxy>,
    diesel::dsl::Nullable<reports::revision>,
);

fn selection() -> Selection {
    (
        institutions::id,
        institutions::code,
        institutions::name,
        institutions::category,
        institutions::jurisdiction_id,
        institutions::municipality_id,
        institutions::email,
        institutions::paper_report,
        reports::id.nullable(),
        reports::status.nullable(),
        reports::kind.nullable(),
        reports::submitted_at.nullable(),
        reports::function1.nullable(),
        reports::after_hours.nullable(),
        reports::admission_discharge.nullable(),
        reports::home_care.nullable(),
        reports::care_coordination.nullable(),
        reports::proxy.nullable(),
        reports::revision.nullable(),
    )
}

/// A name query's rarest two-character piece, when it narrows enough.
fn gram_for(conn: &mut DbConnection, f: &ReviewFilter) -> QueryResult<Option<String>> {
    match &f.name_key {
        Some(key) if f.code.is_none() => super::institutions::rarest_gram(conn, key),
        _ => Ok(None),
    }
}

/// What a search asks for beyond the filter.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub sort: ReviewSort,
    pub descending: bool,
    pub page: i64,
    pub per_page: i64,
}

/// The lines of these institutions in this order (at most [`ID_CHUNK`] per statement).
fn lines(conn: &mut DbConnection, fiscal_year: i32, ids: &[i32]) -> QueryResult<Vec<ReviewRow>> {
    let mut rows: Vec<ReviewRow> = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ID_CHUNK) {
        rows.extend(
            joined()
                .filter(review_entries::fiscal_year.eq(fiscal_year))
                .filter(review_entries::institution_id.eq_any(chunk))
                .select(selection())
                .load::<ReviewRow>(conn)?,
        );
    }
    let rank: std::collections::HashMap<i32, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    rows.sort_by_key(|r| rank.get(&r.institution_id).copied().unwrap_or(usize::MAX));
    Ok(rows)
}

const ID_CHUNK: usize = 5_000;

/// One page of lines, and whether another follows. The number of matches comes from
/// [`status_counts`] (see [`matching`]), not from counting here.
pub fn search(
    conn: &mut DbConnection,
    scope: Scope,
    fiscal_year: i32,
    f: &ReviewFilter,
    page: PageRequest,
) -> QueryResult<(Vec<ReviewRow>, bool)> {
    let postgres = matches!(conn, DbConnection::Pg(_));
    super::review_index::prepare_year(conn, fiscal_year)?;
    let gram = gram_for(conn, f)?;
    let mut ids: Vec<i32> = order(
        filtered(scope, fiscal_year, f, gram.as_deref(), postgres),
        page.sort,
        page.descending,
        postgres,
    )
    .select(review_entries::institution_id)
    .limit(page.per_page + 1)
    .offset(page.page.max(0) * page.per_page)
    .load(conn)?;
    let has_next = ids.len() as i64 > page.per_page;
    ids.truncate(page.per_page.max(0) as usize);
    Ok((lines(conn, fiscal_year, &ids)?, has_next))
}

/// Every matching line in code order (CSV, bulk confirmation).
pub fn search_all(
    conn: &mut DbConnection,
    scope: Scope,
    fiscal_year: i32,
    f: &ReviewFilter,
) -> QueryResult<Vec<ReviewRow>> {
    let postgres = matches!(conn, DbConnection::Pg(_));
    super::review_index::prepare_year(conn, fiscal_year)?;
    let gram = gram_for(conn, f)?;
    let ids: Vec<i32> = order(
        filtered(scope, fiscal_year, f, gram.as_deref(), postgres),
        ReviewSort::Code,
        false,
        postgres,
    )
    .select(review_entries::institution_id)
    .load(conn)?;
    lines(conn, fiscal_year, &ids)
}

/// How many lines the status part of a filter matches, from the counts per status of
/// the rest of it.
pub fn matching(status: Option<StatusFilter>, counts: &BTreeMap<String, i64>) -> i64 {
    use crate::domain::report::Status;
    let n = |key: &str| counts.get(key).copied().unwrap_or(0);
    match status {
        None => counts.values().sum(),
        Some(StatusFilter::NotReported) => n(NOT_REPORTED),
        Some(StatusFilter::Is(s)) => n(s.code()),
        Some(StatusFilter::Unsubmitted) => {
            n(NOT_REPORTED) + n(Status::Draft.code()) + n(Status::Returned.code())
        }
        Some(StatusFilter::AwaitingReview) => {
            n(Status::Submitted.code()) + n(Status::Resubmitted.code())
        }
    }
}

/// Matches per status for the filter (its own status part ignored): key "none" is 未報告.
pub fn status_counts(
    conn: &mut DbConnection,
    scope: Scope,
    fiscal_year: i32,
    f: &ReviewFilter,
) -> QueryResult<BTreeMap<String, i64>> {
    let postgres = matches!(conn, DbConnection::Pg(_));
    let f = ReviewFilter {
        status: None,
        ..f.clone()
    };
    super::review_index::prepare_year(conn, fiscal_year)?;
    let gram = gram_for(conn, &f)?;
    // One pass with a sum per status (diesel cannot group a boxed query).
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    let keys = [
        NOT_REPORTED,
        Status::Draft.code(),
        Status::Submitted.code(),
        Status::Returned.code(),
        Status::Resubmitted.code(),
        Status::Confirmed.code(),
    ];
    let sum = |key: &str| {
        sql::<BigInt>(&format!(
            "COALESCE(SUM(CASE WHEN review_entries.status = '{key}' THEN 1 ELSE 0 END), 0)"
        ))
    };
    let counts: (i64, i64, i64, i64, i64, i64) =
        filtered(scope, fiscal_year, &f, gram.as_deref(), postgres)
            .select((
                sum(keys[0]),
                sum(keys[1]),
                sum(keys[2]),
                sum(keys[3]),
                sum(keys[4]),
                sum(keys[5]),
            ))
            .first(conn)?;
    let values = [counts.0, counts.1, counts.2, counts.3, counts.4, counts.5];
    Ok(keys
        .iter()
        .zip(values)
        .map(|(k, n)| (k.to_string(), n))
        .collect())
}

/// The scope as a condition on a table aliased `alias` with the institution in column
/// `institution` (ids are integers we hold, never text from a request).
fn scope_sql(scope: Scope, alias: &str, institution: &str) -> String {
    match scope {
        Scope::All => "1 = 1".into(),
        Scope::Prefecture(id) => format!("{alias}.prefecture_id = {id}"),
        Scope::Jurisdiction(id) => format!("{alias}.jurisdiction_id = {id}"),
        Scope::Municipality(id) => format!("{alias}.municipality_id = {id}"),
        Scope::Institution(id) => format!("{alias}.{institution} = {id}"),
    }
}

#[derive(QueryableByName)]
struct DayCount {
    #[diesel(sql_type = diesel::sql_types::Date)]
    day: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Versions submitted per JST day and kind within the scope (件数集計), all of them or
/// those of `since` (a JST day) and after.
pub fn submissions_per_day(
    conn: &mut DbConnection,
    scope: Scope,
    fiscal_year: i32,
    since: Option<NaiveDate>,
) -> QueryResult<Vec<(NaiveDate, String, i64)>> {
    // A cast, not to_char: formatting 140,000 timestamps cost PostgreSQL 100 ms.
    let day = match conn {
        DbConnection::Pg(_) => "CAST(v.submitted_at + interval '9 hours' AS date)",
        DbConnection::Sqlite(_) => "date(v.submitted_at, '+9 hours')",
    };
    let sql = format!(
        "SELECT {day} AS day, v.kind AS kind, COUNT(*) AS n \
         FROM report_versions v JOIN reports r ON r.id = v.report_id \
         JOIN institutions i ON i.id = r.institution_id \
         WHERE r.fiscal_year = {fiscal_year} AND {} {from} GROUP BY 1, 2 ORDER BY 1",
        scope_sql(scope, "i", "id"),
        // A timestamp we compute, never text from a request.
        from = since.map_or(String::new(), |d| format!(
            "AND v.submitted_at >= '{}'",
            start_of_day_utc(d).format("%Y-%m-%d %H:%M:%S")
        )),
    );
    let rows: Vec<DayCount> = diesel::sql_query(sql).load(conn)?;
    Ok(rows.into_iter().map(|r| (r.day, r.kind, r.n)).collect())
}

/// One 保健所's figures (jurisdiction id, or none): targets, submitted (報告済,
/// 再報告済 or 確認済), confirmed.
pub type AreaProgress = (Option<i32>, i64, i64, i64);

#[derive(QueryableByName)]
struct ProgressRow {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    jurisdiction_id: Option<i32>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    targets: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    submitted: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    confirmed: i64,
}

/// Targets, submitted and confirmed per 保健所, in one grouped pass over the search table.
pub fn progress_by_jurisdiction(
    conn: &mut DbConnection,
    scope: Scope,
    fiscal_year: i32,
) -> QueryResult<Vec<AreaProgress>> {
    super::review_index::prepare_year(conn, fiscal_year)?;
    let sql = format!(
        "SELECT e.jurisdiction_id AS jurisdiction_id, \
         COALESCE(SUM(CASE WHEN e.is_target THEN 1 ELSE 0 END), 0) AS targets, \
         COALESCE(SUM(CASE WHEN e.status IN ('{submitted}', '{resubmitted}', '{confirmed}') THEN 1 ELSE 0 END), 0) AS submitted, \
         COALESCE(SUM(CASE WHEN e.status = '{confirmed}' THEN 1 ELSE 0 END), 0) AS confirmed \
         FROM review_entries e WHERE e.fiscal_year = {fiscal_year} AND {} \
         GROUP BY e.jurisdiction_id ORDER BY e.jurisdiction_id",
        scope_sql(scope, "e", "institution_id"),
        submitted = Status::Submitted.code(),
        resubmitted = Status::Resubmitted.code(),
        confirmed = Status::Confirmed.code(),
    );
    let rows: Vec<ProgressRow> = diesel::sql_query(sql).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.jurisdiction_id, r.targets, r.submitted, r.confirmed))
        .collect())
}

// ----- 新着 -----

/// (report id, institution name, kind or memo body, at)
pub type NewsLine = (i32, String, String, NaiveDateTime);

/// Versions submitted and messages from institutions after `from`, within the scope,
/// newest first (500 of each at most).
pub fn news_since(
    conn: &mut DbConnection,
    scope: Scope,
    from: NaiveDateTime,
) -> QueryResult<(Vec<NewsLine>, Vec<NewsLine>)> {
    use super::schema::{institutions, report_memos, report_versions, reports};
    // The scope is a condition on the joined institution, like every list.
    macro_rules! in_scope {
        ($q:expr) => {
            match scope {
                Scope::All => $q,
                Scope::Prefecture(id) => $q.filter(institutions::prefecture_id.eq(id)),
                Scope::Jurisdiction(id) => $q.filter(institutions::jurisdiction_id.eq(id)),
                Scope::Municipality(id) => $q.filter(institutions::municipality_id.eq(id)),
                Scope::Institution(id) => $q.filter(institutions::id.eq(id)),
            }
        };
    }
    let submitted = in_scope!(
        report_versions::table
            .inner_join(reports::table.inner_join(institutions::table))
            .filter(report_versions::submitted_at.gt(from))
            .into_boxed()
    )
    .order(report_versions::submitted_at.desc())
    .limit(500)
    .select((
        reports::id,
        institutions::name,
        report_versions::kind,
        report_versions::submitted_at,
    ))
    .load(conn)?;
    let messages = in_scope!(
        report_memos::table
            .inner_join(reports::table.inner_join(institutions::table))
            .filter(report_memos::created_at.gt(from))
            .filter(report_memos::from_institution.eq(true))
            .into_boxed()
    )
    .order(report_memos::created_at.desc())
    .limit(500)
    .select((
        reports::id,
        institutions::name,
        report_memos::body,
        report_memos::created_at,
    ))
    .load(conn)?;
    Ok((submitted, messages))
}
