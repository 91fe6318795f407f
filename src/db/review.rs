//! The prefecture's view of reports: 報告状況検索 (institutions with the latest cycle of
//! their fiscal year's report, 未報告 included), counts per status, 件数集計 figures.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{institution_name_grams, institutions, reports};
use crate::domain::auth::Scope;

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
    institutions::table,
    reports::table,
    diesel::dsl::And<
        diesel::dsl::And<
            diesel::dsl::Eq<reports::institution_id, institutions::id>,
            diesel::dsl::Eq<reports::fiscal_year, i32>,
        >,
        diesel::dsl::Eq<reports::is_latest, bool>,
    >,
>;

type Boxed = diesel::dsl::IntoBoxed<'static, Joined, crate::db::MultiBackend>;

fn joined(fiscal_year: i32) -> Joined {
    institutions::table.left_join(
        reports::table.on(reports::institution_id
            .eq(institutions::id)
            .and(reports::fiscal_year.eq(fiscal_year))
            .and(reports::is_latest.eq(true))),
    )
}

fn start_of_day_utc(d: NaiveDate) -> NaiveDateTime {
    // JST midnight is 15:00 UTC the day before.
    d.and_hms_opt(0, 0, 0).unwrap_or_default() - chrono::Duration::hours(9)
}

/// The filtered query (no order, no selection yet). `gram` narrows a name search.
fn filtered(
    scope: Scope,
    fiscal_year: i32,
    f: &ReviewFilter,
    gram: Option<&str>,
    postgres: bool,
) -> Boxed {
    use crate::domain::report::Status;
    let mut q = joined(fiscal_year).into_boxed();
    q = match scope {
        Scope::All => q,
        Scope::Prefecture(id) => q.filter(institutions::prefecture_id.eq(id)),
        Scope::Jurisdiction(id) => q.filter(institutions::jurisdiction_id.eq(id)),
        Scope::Municipality(id) => q.filter(institutions::municipality_id.eq(id)),
        Scope::Institution(id) => q.filter(institutions::id.eq(id)),
    };
    // Reporting targets, and anyone who filed anyway.
    q = q.filter(
        institutions::is_target
            .eq(true)
            .or(reports::id.is_not_null()),
    );
    match f.status {
        None => {}
        Some(StatusFilter::NotReported) => q = q.filter(reports::id.is_null()),
        Some(StatusFilter::Is(s)) => q = q.filter(reports::status.eq(s.code())),
        Some(StatusFilter::Unsubmitted) => {
            q = q.filter(
                reports::id
                    .is_null()
                    .or(reports::status.eq_any([Status::Draft.code(), Status::Returned.code()])),
            )
        }
        Some(StatusFilter::AwaitingReview) => {
            q = q.filter(
                reports::status.eq_any([Status::Submitted.code(), Status::Resubmitted.code()]),
            )
        }
    }
    if let Some(k) = &f.kind {
        q = q.filter(reports::kind.eq(k.clone()));
    }
    if let Some(c) = &f.category {
        q = q.filter(institutions::category.eq(c.clone()));
    }
    if let Some(j) = f.jurisdiction_id {
        q = q.filter(institutions::jurisdiction_id.eq(j));
    }
    if let Some(m) = f.municipality_id {
        q = q.filter(institutions::municipality_id.eq(m));
    }
    if let Some(v) = f.function1 {
        q = q.filter(reports::function1.eq(v));
    }
    let [ah, ad, hc, cc] = f.function2;
    if let Some(v) = ah {
        q = q.filter(reports::after_hours.eq(v));
    }
    if let Some(v) = ad {
        q = q.filter(reports::admission_discharge.eq(v));
    }
    if let Some(v) = hc {
        q = q.filter(reports::home_care.eq(v));
    }
    if let Some(v) = cc {
        q = q.filter(reports::care_coordination.eq(v));
    }
    if let Some(v) = f.proxy {
        q = q.filter(reports::proxy.eq(v));
    }
    if let Some(v) = f.paper {
        q = q.filter(institutions::paper_report.eq(v));
    }
    match f.has_email {
        Some(true) => q = q.filter(institutions::email.is_not_null()),
        Some(false) => q = q.filter(institutions::email.is_null()),
        None => {}
    }
    if let Some(d) = f.submitted_from {
        q = q.filter(reports::submitted_at.ge(start_of_day_utc(d)));
    }
    if let Some(d) = f.submitted_to {
        q = q.filter(reports::submitted_at.lt(start_of_day_utc(d + chrono::Days::new(1))));
    }
    if let Some(code) = &f.code {
        q = if code.len() == 7 {
            q.filter(institutions::short_code.eq(code.clone()))
        } else {
            q.filter(institutions::code.eq(code.clone()))
        };
    }
    if let Some(g) = gram {
        q = q.filter(
            institutions::id.eq_any(
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
                "{position}(institutions.search_key, "
            ))
            .bind::<diesel::sql_types::Text, _>(key.clone())
            .sql(") > 0"),
        );
    }
    q
}

fn order(q: Boxed, sort: ReviewSort, descending: bool) -> Boxed {
    match (sort, descending) {
        (ReviewSort::Code, false) => q.order(institutions::code.asc()),
        (ReviewSort::Code, true) => q.order(institutions::code.desc()),
        (ReviewSort::Name, false) => q.order((institutions::search_key.asc(), institutions::id)),
        (ReviewSort::Name, true) => q.order((institutions::search_key.desc(), institutions::id)),
        (ReviewSort::Submitted, false) => {
            q.order((reports::submitted_at.asc(), institutions::code))
        }
        (ReviewSort::Submitted, true) => {
            q.order((reports::submitted_at.desc(), institutions::code))
        }
        (ReviewSort::Status, false) => q.order((reports::status.asc(), institutions::code)),
        (ReviewSort::Status, true) => q.order((reports::status.desc(), institutions::code)),
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

/// Counting stops here, as in the institution search.
pub const COUNT_CAP: i64 = 2_000;

/// A name query's rarest two-character piece, when it narrows enough.
fn gram_for(conn: &mut DbConnection, f: &ReviewFilter) -> QueryResult<Option<String>> {
    match &f.name_key {
        Some(key) if f.code.is_none() => super::institutions::rarest_gram(conn, key),
        _ => Ok(None),
    }
}

/// One page and the number of matches up to [`COUNT_CAP`] + 1.
#[allow(clippy::too_many_arguments)]
pub fn search(
    conn: &mut DbConnection,
    scope: Scope,
    fiscal_year: i32,
    f: &ReviewFilter,
    sort: ReviewSort,
    descending: bool,
    page: i64,
    per_page: i64,
) -> QueryResult<(Vec<ReviewRow>, i64)> {
    let postgres = matches!(conn, DbConnection::Pg(_));
    let gram = gram_for(conn, f)?;
    let ids: Vec<i32> = order(
        filtered(scope, fiscal_year, f, gram.as_deref(), postgres),
        sort,
        descending,
    )
    .select(institutions::id)
    .limit(COUNT_CAP + 1)
    .load(conn)?;
    let total = ids.len() as i64;
    let start = (page.max(0) * per_page) as usize;
    let rows = if start < ids.len().min(COUNT_CAP as usize) {
        let page_ids: Vec<i32> = ids[start..ids.len().min(start + per_page as usize)].to_vec();
        let mut rows: Vec<ReviewRow> = joined(fiscal_year)
            .filter(institutions::id.eq_any(&page_ids))
            .select(selection())
            .load(conn)?;
        let rank: std::collections::HashMap<i32, usize> = page_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i))
            .collect();
        rows.sort_by_key(|r| rank.get(&r.institution_id).copied().unwrap_or(usize::MAX));
        rows
    } else {
        order(
            filtered(scope, fiscal_year, f, gram.as_deref(), postgres),
            sort,
            descending,
        )
        .select(selection())
        .limit(per_page)
        .offset(page.max(0) * per_page)
        .load(conn)?
    };
    Ok((rows, total))
}

/// Every matching line (CSV, bulk confirmation).
pub fn search_all(
    conn: &mut DbConnection,
    scope: Scope,
    fiscal_year: i32,
    f: &ReviewFilter,
) -> QueryResult<Vec<ReviewRow>> {
    let postgres = matches!(conn, DbConnection::Pg(_));
    let gram = gram_for(conn, f)?;
    order(
        filtered(scope, fiscal_year, f, gram.as_deref(), postgres),
        ReviewSort::Code,
        false,
    )
    .select(selection())
    .load(conn)
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
    let gram = gram_for(conn, &f)?;
    // One pass with a sum per status (diesel cannot group a boxed query).
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    let keys = [
        "none",
        "draft",
        "submitted",
        "returned",
        "resubmitted",
        "confirmed",
    ];
    let sum = |key: &str| {
        let test = if key == "none" {
            "reports.id IS NULL".to_string()
        } else {
            format!("reports.status = '{key}'")
        };
        sql::<BigInt>(&format!(
            "COALESCE(SUM(CASE WHEN {test} THEN 1 ELSE 0 END), 0)"
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

/// The scope as a condition on `institutions i` (ids are integers we hold, never text
/// from a request).
fn scope_sql(scope: Scope) -> String {
    match scope {
        Scope::All => "1 = 1".into(),
        Scope::Prefecture(id) => format!("i.prefecture_id = {id}"),
        Scope::Jurisdiction(id) => format!("i.jurisdiction_id = {id}"),
        Scope::Municipality(id) => format!("i.municipality_id = {id}"),
        Scope::Institution(id) => format!("i.id = {id}"),
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

/// Versions submitted per JST day and kind within the scope (件数集計).
pub fn submissions_per_day(
    conn: &mut DbConnection,
    scope: Scope,
    fiscal_year: i32,
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
         WHERE r.fiscal_year = {fiscal_year} AND {} GROUP BY 1, 2 ORDER BY 1",
        scope_sql(scope)
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

/// Targets, submitted and confirmed per 保健所, in one grouped pass.
pub fn progress_by_jurisdiction(
    conn: &mut DbConnection,
    scope: Scope,
    fiscal_year: i32,
) -> QueryResult<Vec<AreaProgress>> {
    let sql = format!(
        "SELECT i.jurisdiction_id AS jurisdiction_id, \
         COALESCE(SUM(CASE WHEN i.is_target THEN 1 ELSE 0 END), 0) AS targets, \
         COALESCE(SUM(CASE WHEN r.status IN ('submitted', 'resubmitted', 'confirmed') THEN 1 ELSE 0 END), 0) AS submitted, \
         COALESCE(SUM(CASE WHEN r.status = 'confirmed' THEN 1 ELSE 0 END), 0) AS confirmed \
         FROM institutions i LEFT JOIN reports r \
         ON r.institution_id = i.id AND r.fiscal_year = {fiscal_year} AND r.is_latest \
         WHERE {} AND (i.is_target OR r.id IS NOT NULL) \
         GROUP BY i.jurisdiction_id ORDER BY i.jurisdiction_id",
        scope_sql(scope)
    );
    let rows: Vec<ProgressRow> = diesel::sql_query(sql).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.jurisdiction_id, r.targets, r.submitted, r.confirmed))
        .collect())
}
