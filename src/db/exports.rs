//! The rows of exports, read in chunks so that memory does not grow with them: the
//! reports of a season with their versions (全項目CSV), and the institutions' postal
//! details and accounts (宛先情報, 報告対象機関一覧).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{areas, institutions, report_versions, reports, users};
use crate::domain::auth::Scope;

/// Which reports a 全項目CSV holds.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub fiscal_year: i32,
    /// Report status codes; empty is every submitted report.
    pub statuses: Vec<&'static str>,
    pub kind: Option<String>,
    pub jurisdiction_id: Option<i32>,
    pub municipality_id: Option<i32>,
}

/// The scope and filter (but the fiscal year) on any query that joins reports with
/// their institutions.
macro_rules! within {
    ($q:expr, $scope:expr, $f:expr) => {{
        let (scope, f): (Scope, &ReportFilter) = ($scope, $f);
        let mut q = $q;
        q = match scope {
            Scope::All => q,
            Scope::Prefecture(id) => q.filter(institutions::prefecture_id.eq(id)),
            Scope::Jurisdiction(id) => q.filter(institutions::jurisdiction_id.eq(id)),
            Scope::Municipality(id) => q.filter(institutions::municipality_id.eq(id)),
            Scope::Institution(id) => q.filter(institutions::id.eq(id)),
        };
        if !f.statuses.is_empty() {
            q = q.filter(reports::status.eq_any(f.statuses.clone()));
        }
        if let Some(k) = &f.kind {
            q = q.filter(reports::kind.eq(k.clone()));
        }
        if let Some(j) = f.jurisdiction_id {
            q = q.filter(institutions::jurisdiction_id.eq(j));
        }
        if let Some(m) = f.municipality_id {
            q = q.filter(institutions::municipality_id.eq(m));
        }
        q
    }};
}

/// How many rows the export will have: reports with a submitted version, or their
/// versions.
pub fn count_reports(
    conn: &mut DbConnection,
    scope: Scope,
    f: &ReportFilter,
    all_versions: bool,
) -> QueryResult<i64> {
    let q = within!(
        reports::table
            .inner_join(institutions::table)
            .filter(reports::fiscal_year.eq(f.fiscal_year))
            .filter(reports::versions.gt(0))
            .into_boxed(),
        scope,
        f
    );
    if all_versions {
        let total: Option<i64> = q.select(diesel::dsl::sum(reports::versions)).first(conn)?;
        Ok(total.unwrap_or(0))
    } else {
        q.count().get_result(conn)
    }
}

/// Where the previous chunk ended: (institution code, report id, version number).
pub type Cursor = (String, i32, i32);

/// One row of a 全項目CSV: a report's version with its institution.
#[derive(Debug, Clone, Queryable)]
pub struct ReportLine {
    pub report_id: i32,
    pub kind: String,
    pub status: String,
    pub versions: i32,
    pub confirmed_at: Option<NaiveDateTime>,
    pub code: String,
    pub name: String,
    pub category: String,
    pub postcode: Option<String>,
    pub address: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub manager: Option<String>,
    pub jurisdiction_id: Option<i32>,
    pub municipality_id: Option<i32>,
    pub number: i32,
    pub answers: String,
    pub determination: String,
    pub submitted_at: NaiveDateTime,
    pub proxy: bool,
}

impl ReportLine {
    pub fn cursor(&self) -> Cursor {
        (self.code.clone(), self.report_id, self.number)
    }
}

type LinesQuery = diesel::helper_types::IntoBoxed<
    'static,
    diesel::helper_types::InnerJoin<
        report_versions::table,
        diesel::helper_types::InnerJoin<reports::table, institutions::table>,
    >,
    crate::db::MultiBackend,
>;

/// The rows of an export in (institution code, report, version) order, after `after`:
/// the latest version of each report, or every version.
fn lines_query(
    scope: Scope,
    f: &ReportFilter,
    all_versions: bool,
    after: Option<&Cursor>,
) -> LinesQuery {
    let mut q: LinesQuery = within!(
        report_versions::table
            .inner_join(reports::table.inner_join(institutions::table))
            .filter(reports::fiscal_year.eq(f.fiscal_year))
            .into_boxed(),
        scope,
        f
    );
    if !all_versions {
        q = q.filter(report_versions::number.eq(reports::versions));
    }
    if let Some((code, id, number)) = after {
        // Written so that the code index is walked from the cursor: the plain
        // `code > c OR (code = c AND …)` made SQLite scan it from its start for every
        // chunk.
        q = q.filter(institutions::code.ge(code.clone())).filter(
            institutions::code
                .gt(code.clone())
                .or(reports::id.gt(*id))
                .or(reports::id.eq(*id).and(report_versions::number.gt(*number))),
        );
    }
    q.order((
        institutions::code.asc(),
        reports::id.asc(),
        report_versions::number.asc(),
    ))
}

macro_rules! line_columns {
    ($q:expr) => {
        $q.select((
            reports::id,
            reports::kind,
            reports::status,
            reports::versions,
            reports::confirmed_at,
            institutions::code,
            institutions::name,
            institutions::category,
            institutions::postcode,
            institutions::address,
            institutions::phone,
            institutions::email,
            institutions::manager,
            institutions::jurisdiction_id,
            institutions::municipality_id,
            report_versions::number,
            report_versions::answers,
            report_versions::determination,
            report_versions::submitted_at,
            report_versions::proxy,
        ))
    };
}

/// The next `limit` rows after `after` (one chunk of [`each_report_line`] on
/// PostgreSQL).
pub fn report_lines(
    conn: &mut DbConnection,
    scope: Scope,
    f: &ReportFilter,
    all_versions: bool,
    after: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<ReportLine>> {
    line_columns!(lines_query(scope, f, all_versions, after))
        .limit(limit)
        .load(conn)
}

/// Rows per chunk on PostgreSQL.
const CHUNK: i64 = 1000;

/// Hands every row of an export to `each`, in order, holding one row (SQLite) or one
/// chunk (PostgreSQL) at a time. SQLite reads one statement row by row; re-planning a
/// query per chunk cost it more than the rows (its planner sorts the whole year again for
/// each). PostgreSQL hands over a whole result at once, so it is asked chunk by chunk,
/// each query starting where the last ended.
pub fn each_report_line<E: From<diesel::result::Error>>(
    conn: &mut DbConnection,
    scope: Scope,
    f: &ReportFilter,
    all_versions: bool,
    mut each: impl FnMut(ReportLine) -> Result<(), E>,
) -> Result<(), E> {
    if matches!(conn, DbConnection::Sqlite(_)) {
        let rows = line_columns!(lines_query(scope, f, all_versions, None))
            .load_iter::<ReportLine, diesel::connection::DefaultLoadingMode>(conn)?;
        for line in rows {
            each(line?)?;
        }
        return Ok(());
    }
    let mut after: Option<Cursor> = None;
    loop {
        let lines = report_lines(conn, scope, f, all_versions, after.as_ref(), CHUNK)?;
        let Some(last) = lines.last().map(ReportLine::cursor) else {
            return Ok(());
        };
        for line in lines {
            each(line)?;
        }
        after = Some(last);
    }
}

/// Every area's name by id (保健所 and 市区町村 columns): a few hundred rows.
pub fn area_names(conn: &mut DbConnection) -> QueryResult<HashMap<i32, String>> {
    Ok(areas::table
        .select((areas::id, areas::name))
        .load::<(i32, String)>(conn)?
        .into_iter()
        .collect())
}

/// An institution as the mail room and the target list need it.
#[derive(Debug, Clone, Queryable)]
pub struct PostalLine {
    pub institution_id: i32,
    pub code: String,
    pub name: String,
    pub category: String,
    pub postcode: Option<String>,
    pub address: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub manager: Option<String>,
    pub jurisdiction_id: Option<i32>,
    pub municipality_id: Option<i32>,
}

/// These institutions, in code order.
pub fn postal_lines(conn: &mut DbConnection, ids: &[i32]) -> QueryResult<Vec<PostalLine>> {
    let mut out = Vec::with_capacity(ids.len());
    // Bound parameters are limited per statement (SQLite: 32,766).
    for chunk in ids.chunks(10_000) {
        out.extend(
            institutions::table
                .filter(institutions::id.eq_any(chunk.to_vec()))
                .select((
                    institutions::id,
                    institutions::code,
                    institutions::name,
                    institutions::category,
                    institutions::postcode,
                    institutions::address,
                    institutions::phone,
                    institutions::email,
                    institutions::manager,
                    institutions::jurisdiction_id,
                    institutions::municipality_id,
                ))
                .load::<PostalLine>(conn)?,
        );
    }
    out.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(out)
}

/// An institution's login account.
#[derive(Debug, Clone, Queryable)]
pub struct AccountLine {
    pub institution_id: i32,
    pub login_id: String,
    pub display_name: String,
    pub email: Option<String>,
    pub active: bool,
    pub must_change_password: bool,
    pub locked_until: Option<NaiveDateTime>,
    pub last_login_at: Option<NaiveDateTime>,
}

/// The accounts of these institutions, by institution (each in login order).
pub fn accounts_of(
    conn: &mut DbConnection,
    ids: &[i32],
) -> QueryResult<HashMap<i32, Vec<AccountLine>>> {
    let mut out: HashMap<i32, Vec<AccountLine>> = HashMap::new();
    for chunk in ids.chunks(10_000) {
        let rows: Vec<(Option<i32>, AccountLine)> = users::table
            .filter(users::institution_id.eq_any(chunk.to_vec()))
            .order(users::login_id.asc())
            .select((
                users::institution_id,
                (
                    users::institution_id.assume_not_null(),
                    users::login_id,
                    users::display_name,
                    users::email,
                    users::active,
                    users::must_change_password,
                    users::locked_until,
                    users::last_login_at,
                ),
            ))
            .load(conn)?;
        for (id, line) in rows {
            if let Some(id) = id {
                out.entry(id).or_default().push(line);
            }
        }
    }
    Ok(out)
}
