//! Reports, their versions, reporting periods, loaded catalogs and NDB counts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{report_versions, reports};
use super::{DbConnection, audit, review_index};
use crate::domain::report::Status;

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = reports)]
pub struct ReportRow {
    pub id: i32,
    pub institution_id: i32,
    pub fiscal_year: i32,
    pub cycle: i32,
    pub kind: String,
    pub status: String,
    pub catalog_version: String,
    pub answers: String,
    pub ndb: String,
    pub sections: String,
    pub checked_code: Option<String>,
    pub revision: i32,
    pub was_returned: bool,
    pub return_reason: Option<String>,
    pub versions: i32,
    pub function1: bool,
    pub proxy: bool,
    pub submitted_at: Option<NaiveDateTime>,
    pub confirmed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = reports)]
pub struct NewReport<'a> {
    pub institution_id: i32,
    pub fiscal_year: i32,
    pub cycle: i32,
    pub kind: &'a str,
    pub status: &'a str,
    pub catalog_version: &'a str,
    pub answers: &'a str,
    pub ndb: &'a str,
    pub sections: &'a str,
    pub checked_code: Option<&'a str>,
    pub function1: bool,
    pub after_hours: bool,
    pub admission_discharge: bool,
    pub home_care: bool,
    pub care_coordination: bool,
    pub proxy: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub updated_by: Option<i32>,
}

/// A report with the institution facts its pages show; only within the user's scope.
pub fn find_within(
    conn: &mut DbConnection,
    scope: crate::domain::auth::Scope,
    id: i32,
) -> QueryResult<Option<(ReportRow, super::institutions::InstitutionCard)>> {
    let Some(report) = reports::table
        .filter(reports::id.eq(id))
        .select(ReportRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let card = super::institutions::card_within(conn, scope, report.institution_id)?;
    Ok(card.map(|c| (report, c)))
}

/// Every cycle of an institution, newest fiscal year and cycle first.
pub fn of_institution(conn: &mut DbConnection, institution_id: i32) -> QueryResult<Vec<ReportRow>> {
    reports::table
        .filter(reports::institution_id.eq(institution_id))
        .order((reports::fiscal_year.desc(), reports::cycle.desc()))
        .select(ReportRow::as_select())
        .load(conn)
}

/// The latest cycle of an institution's fiscal year.
pub fn latest_cycle(
    conn: &mut DbConnection,
    institution_id: i32,
    fiscal_year: i32,
) -> QueryResult<Option<ReportRow>> {
    reports::table
        .filter(reports::institution_id.eq(institution_id))
        .filter(reports::fiscal_year.eq(fiscal_year))
        .order(reports::cycle.desc())
        .select(ReportRow::as_select())
        .first(conn)
        .optional()
}

/// The answers of the institution's most recent confirmed version before `fiscal_year`.
pub fn last_confirmed_answers(
    conn: &mut DbConnection,
    institution_id: i32,
    before_fiscal_year: i32,
) -> QueryResult<Option<String>> {
    report_versions::table
        .inner_join(reports::table)
        .filter(reports::institution_id.eq(institution_id))
        .filter(reports::fiscal_year.lt(before_fiscal_year))
        .filter(reports::status.eq(Status::Confirmed.code()))
        .order((
            reports::fiscal_year.desc(),
            reports::cycle.desc(),
            report_versions::number.desc(),
        ))
        .select(report_versions::answers)
        .first(conn)
        .optional()
}

/// Inserts a cycle; it becomes the latest of its institution and fiscal year.
pub fn insert(conn: &mut DbConnection, new: &NewReport) -> QueryResult<i32> {
    diesel::update(
        reports::table
            .filter(reports::institution_id.eq(new.institution_id))
            .filter(reports::fiscal_year.eq(new.fiscal_year))
            .filter(reports::cycle.lt(new.cycle)),
    )
    .set(reports::is_latest.eq(false))
    .execute(conn)?;
    crate::per_backend!(&mut *conn, |c| {
        diesel::insert_into(reports::table).values(new).execute(c)
    })?;
    let id = reports::table
        .filter(reports::institution_id.eq(new.institution_id))
        .filter(reports::fiscal_year.eq(new.fiscal_year))
        .filter(reports::cycle.eq(new.cycle))
        .select(reports::id)
        .first(conn)?;
    review_index::refresh_report(conn, id)?;
    Ok(id)
}

/// The draft's answers after a save, with the live determination for search.
pub struct DraftUpdate<'a> {
    pub answers: &'a str,
    pub sections: &'a str,
    pub catalog_version: &'a str,
    pub determination: &'a crate::domain::determination::Determination,
    pub proxy: bool,
    pub by: i32,
    pub at: NaiveDateTime,
}

/// Saves the draft only if nobody saved since `revision` was read and it is still
/// editable. False means the caller's copy is stale.
pub fn save_draft(
    conn: &mut DbConnection,
    id: i32,
    revision: i32,
    update: &DraftUpdate,
) -> QueryResult<bool> {
    let f2 = &update.determination.function2;
    let n = diesel::update(
        reports::table
            .filter(reports::id.eq(id))
            .filter(reports::revision.eq(revision))
            .filter(reports::status.eq_any([Status::Draft.code(), Status::Returned.code()])),
    )
    .set((
        reports::answers.eq(update.answers),
        reports::sections.eq(update.sections),
        reports::catalog_version.eq(update.catalog_version),
        reports::function1.eq(update.determination.function1),
        reports::after_hours.eq(f2.after_hours),
        reports::admission_discharge.eq(f2.admission_discharge),
        reports::home_care.eq(f2.home_care),
        reports::care_coordination.eq(f2.care_coordination),
        reports::proxy.eq(update.proxy),
        reports::revision.eq(revision + 1),
        reports::updated_at.eq(update.at),
        reports::updated_by.eq(update.by),
    ))
    .execute(conn)?;
    if n == 1 {
        review_index::refresh_report(conn, id)?;
    }
    Ok(n == 1)
}

/// The report as the user saw it: a status change applies only if nobody changed the
/// report since (same revision, same status).
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    pub id: i32,
    pub revision: i32,
    pub from: Status,
}

/// What a status change writes besides the status, revision and `updated_*`.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// 引き戻し and the like: nothing more.
    Plain,
    /// 報告 / 再報告: the submission time and one more version.
    Submitted,
    /// 確認, with 体制確認 when the report has any 2号 function.
    Confirmed { structure: bool },
    /// 差戻し with the reason the institution reads.
    SentBack { reason: &'a str },
}

/// The one guarded status change of a report. False means the caller's copy is stale
/// (nothing written). The review search table follows in the same transaction.
pub fn transition(
    conn: &mut DbConnection,
    guard: Guard,
    to: Status,
    change: Change,
    at: NaiveDateTime,
    by: i32,
) -> QueryResult<bool> {
    let target = || {
        reports::table
            .filter(reports::id.eq(guard.id))
            .filter(reports::revision.eq(guard.revision))
            .filter(reports::status.eq(guard.from.code()))
    };
    let common = (
        reports::status.eq(to.code()),
        reports::revision.eq(guard.revision + 1),
        reports::updated_at.eq(at),
        reports::updated_by.eq(by),
    );
    let n = match change {
        Change::Plain => diesel::update(target()).set(common).execute(conn)?,
        Change::Submitted => diesel::update(target())
            .set((
                common,
                reports::submitted_at.eq(at),
                reports::versions.eq(reports::versions + 1),
            ))
            .execute(conn)?,
        Change::Confirmed { structure } => diesel::update(target())
            .set((
                common,
                reports::confirmed_at.eq(at),
                reports::confirmed_by.eq(by),
                reports::structure_confirmed_at.eq(structure.then_some(at)),
                reports::structure_confirmed_by.eq(structure.then_some(by)),
            ))
            .execute(conn)?,
        Change::SentBack { reason } => diesel::update(target())
            .set((
                common,
                reports::was_returned.eq(true),
                reports::return_reason.eq(reason),
                reports::returned_at.eq(at),
                reports::returned_by.eq(by),
            ))
            .execute(conn)?,
    };
    if n == 1 {
        review_index::refresh_report(conn, guard.id)?;
    }
    Ok(n == 1)
}

/// A report confirmed by [`confirm_many`].
#[derive(Debug, QueryableByName)]
pub struct Confirmed {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub id: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub institution_id: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub fiscal_year: i32,
    /// 体制確認 was recorded with it (any 2号 function 有り).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub structure: bool,
}

/// Who confirms in bulk, for the reports' columns and the audit entries.
pub struct BulkConfirmer<'a> {
    pub user_id: i32,
    pub login: &'a str,
    pub ip: Option<&'a str>,
    pub bulk_id: i32,
}

/// The set form of [`transition`] for 一括確認: confirms the reports of `chunk` (id,
/// revision as previewed) still awaiting review at that revision, with 体制確認 for those
/// with any 2号 function, their search-table rows and one audit entry each (with the
/// report's prefecture), and returns them.
pub fn confirm_many(
    conn: &mut DbConnection,
    chunk: &[(i32, i32)],
    by: &BulkConfirmer,
    at: NaiveDateTime,
) -> QueryResult<Vec<Confirmed>> {
    if chunk.is_empty() {
        return Ok(Vec::new());
    }
    let at_sql = at.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    let user = by.user_id;
    // Ids, revisions, the user id and a timestamp we made are written inline, so one
    // statement serves both databases; text from users is bound.
    let pairs: Vec<String> = chunk.iter().map(|(i, r)| format!("({i}, {r})")).collect();
    let two_go = "(after_hours OR admission_discharge OR home_care OR care_coordination)";
    let confirmed = Status::Confirmed.code();
    let update = format!(
        "UPDATE reports SET status = '{confirmed}', revision = revision + 1, \
         confirmed_at = '{at_sql}', confirmed_by = {user}, updated_at = '{at_sql}', updated_by = {user}, \
         structure_confirmed_at = CASE WHEN {two_go} THEN '{at_sql}' ELSE structure_confirmed_at END, \
         structure_confirmed_by = CASE WHEN {two_go} THEN {user} ELSE structure_confirmed_by END \
         WHERE status IN ('{submitted}', '{resubmitted}') AND (id, revision) IN (VALUES {pairs}) \
         RETURNING id, institution_id, fiscal_year, {two_go} AS structure",
        pairs = pairs.join(", "),
        submitted = Status::Submitted.code(),
        resubmitted = Status::Resubmitted.code(),
    );
    // PostgreSQL needs the text typed; SQLite keeps timestamps as this very text.
    let entries = |at: &str| {
        audit::insert_select_sql(&audit::SelectedEntries {
            action: audit::Action::ReportConfirm,
            at,
            actor_id: user,
            target_type: "report",
            target_id: "CAST(c.id AS TEXT)",
            prefecture_id: "i.prefecture_id",
            from: "confirmed c JOIN institutions i ON i.id = c.institution_id",
        })
    };
    let detail = serde_json::json!({ "bulk": by.bulk_id }).to_string();
    match conn {
        // One statement: the search-table rows are found through the confirmed reports
        // by key (a separate UPDATE … IN (5,000 ids) scanned the whole table each time)
        // and the audit entries come from the same rows (110,000 institutions, 59,981
        // reports: 6.5 s in three statements per chunk).
        DbConnection::Pg(c) => {
            let entries = entries(&format!("CAST('{at_sql}' AS TIMESTAMP)"));
            let sql = format!(
                "WITH confirmed AS ({update}), \
                 entries AS (UPDATE review_entries e SET status = '{confirmed}' FROM confirmed c \
                   WHERE e.institution_id = c.institution_id AND e.fiscal_year = c.fiscal_year), \
                 audit AS ({entries}) \
                 SELECT id, institution_id, fiscal_year, structure FROM confirmed",
            );
            diesel::sql_query(sql)
                .bind::<diesel::sql_types::Text, _>(by.login)
                .bind::<diesel::sql_types::Text, _>(&detail)
                .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(by.ip)
                .load(c)
        }
        // SQLite has no writing WITH clauses; its statements cost no round trip. The
        // audit entries are the same INSERT … SELECT, over the confirmed ids.
        DbConnection::Sqlite(_) => {
            let done: Vec<Confirmed> = diesel::sql_query(update).load(conn)?;
            if done.is_empty() {
                return Ok(done);
            }
            let rows: Vec<(i32, i32)> = done
                .iter()
                .map(|u| (u.institution_id, u.fiscal_year))
                .collect();
            review_index::mark_confirmed(conn, &rows)?;
            let ids: Vec<String> = done.iter().map(|c| c.id.to_string()).collect();
            let sql = format!(
                "WITH confirmed AS (SELECT id, institution_id FROM reports WHERE id IN ({})) {}",
                ids.join(", "),
                entries(&format!("'{at_sql}'"))
            );
            diesel::sql_query(sql)
                .bind::<diesel::sql_types::Text, _>(by.login)
                .bind::<diesel::sql_types::Text, _>(&detail)
                .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(by.ip)
                .execute(conn)?;
            Ok(done)
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = report_versions)]
pub struct NewVersion<'a> {
    pub report_id: i32,
    pub number: i32,
    pub kind: &'a str,
    pub answers: &'a str,
    pub ndb: &'a str,
    pub determination: &'a str,
    pub catalog_version: &'a str,
    pub submitted_by: Option<i32>,
    pub submitted_login: &'a str,
    pub proxy: bool,
    pub submitted_at: NaiveDateTime,
}

pub fn insert_version(conn: &mut DbConnection, v: &NewVersion) -> QueryResult<()> {
    crate::per_backend!(&mut *conn, |c| {
        diesel::insert_into(report_versions::table)
            .values(v)
            .execute(c)
    })?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = report_versions)]
pub struct VersionRow {
    pub id: i32,
    pub report_id: i32,
    pub number: i32,
    pub kind: String,
    pub answers: String,
    pub ndb: String,
    pub determination: String,
    pub catalog_version: String,
    pub submitted_by: Option<i32>,
    pub submitted_login: String,
    pub proxy: bool,
    pub submitted_at: NaiveDateTime,
}

pub fn versions(conn: &mut DbConnection, report_id: i32) -> QueryResult<Vec<VersionRow>> {
    report_versions::table
        .filter(report_versions::report_id.eq(report_id))
        .order(report_versions::number.desc())
        .select(VersionRow::as_select())
        .load(conn)
}

pub fn version(
    conn: &mut DbConnection,
    report_id: i32,
    number: i32,
) -> QueryResult<Option<VersionRow>> {
    report_versions::table
        .filter(report_versions::report_id.eq(report_id))
        .filter(report_versions::number.eq(number))
        .select(VersionRow::as_select())
        .first(conn)
        .optional()
}

// ----- many at once (the demo season and the benchmarks' data) -----

pub fn insert_many(conn: &mut DbConnection, rows: &[NewReport]) -> QueryResult<usize> {
    let mut inserted = 0;
    for chunk in rows.chunks(500) {
        inserted += crate::per_backend!(&mut *conn, |c| {
            diesel::insert_into(reports::table).values(chunk).execute(c)
        })?;
    }
    Ok(inserted)
}

pub fn insert_versions(conn: &mut DbConnection, rows: &[NewVersion]) -> QueryResult<usize> {
    let mut inserted = 0;
    for chunk in rows.chunks(1_000) {
        inserted += crate::per_backend!(&mut *conn, |c| {
            diesel::insert_into(report_versions::table)
                .values(chunk)
                .execute(c)
        })?;
    }
    Ok(inserted)
}

/// Report ids of a fiscal year's cycle 0 by institution.
pub fn ids_of_year(
    conn: &mut DbConnection,
    fiscal_year: i32,
) -> QueryResult<std::collections::HashMap<i32, i32>> {
    Ok(reports::table
        .filter(reports::fiscal_year.eq(fiscal_year))
        .filter(reports::cycle.eq(0))
        .select((reports::institution_id, reports::id))
        .load::<(i32, i32)>(conn)?
        .into_iter()
        .collect())
}

/// Marks the reports of a year in `status` as sent back once, with `reason`.
pub fn mark_returned(
    conn: &mut DbConnection,
    fiscal_year: i32,
    status: Status,
    reason: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(
        reports::table
            .filter(reports::fiscal_year.eq(fiscal_year))
            .filter(reports::status.eq(status.code())),
    )
    .set((
        reports::was_returned.eq(true),
        reports::return_reason.eq(reason),
    ))
    .execute(conn)
}

/// Sets the submission time and version count of many reports at once.
pub fn set_submitted(
    conn: &mut DbConnection,
    ids: &[i32],
    at: NaiveDateTime,
    versions: i32,
) -> QueryResult<()> {
    for chunk in ids.chunks(900) {
        diesel::update(reports::table.filter(reports::id.eq_any(chunk)))
            .set((
                reports::submitted_at.eq(at),
                reports::versions.eq(versions),
                reports::confirmed_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Sets the confirmation time of a year's confirmed reports.
pub fn set_confirmed_at(
    conn: &mut DbConnection,
    fiscal_year: i32,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        reports::table
            .filter(reports::fiscal_year.eq(fiscal_year))
            .filter(reports::status.eq(Status::Confirmed.code())),
    )
    .set(reports::confirmed_at.eq(at))
    .execute(conn)
}
