//! The prefecture's review (seed 003): 確認 with 体制確認, 一括確認 with a preview that
//! commits only reports unchanged since, 差戻し with a reason the institution sees, and
//! 疑義照会メモ. Status rules come from `domain::report`; every function is scoped.

use std::collections::{BTreeMap, HashSet};

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::audit::{self, Action};
use crate::db::review::{self as query, ReviewFilter, StatusFilter};
use crate::db::schema::{bulk_confirmations, memo_reads, report_memos, reports, users};
use crate::db::{self, DbConnection, DbError};
use crate::domain::auth::Scope;
use crate::domain::report::{self, Status, Transition};
use crate::reports::{Actor, Catalogs, ReportError, load};

/// The most a send-back reason or a memo may hold.
pub const TEXT_LIMIT: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A form problem, shown next to the field.
    #[error("{0}")]
    Invalid(String),
    /// The report changed since the page was shown.
    #[error("この画面を開いた後に報告が変わりました。開き直して確かめてください。")]
    Stale,
}

impl From<DbError> for ReviewError {
    fn from(e: DbError) -> Self {
        ReviewError::Report(ReportError::Db(e))
    }
}

impl From<diesel::result::Error> for ReviewError {
    fn from(e: diesel::result::Error) -> Self {
        ReviewError::Report(ReportError::from(e))
    }
}

fn any_function2(f2: &crate::domain::determination::Function2) -> bool {
    f2.after_hours || f2.admission_discharge || f2.home_care || f2.care_coordination
}

fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    action: Action,
    report_id: i32,
    prefecture_id: Option<i32>,
    detail: serde_json::Value,
) -> Result<(), DbError> {
    audit::record(
        conn,
        action,
        audit::Entry {
            actor_id: Some(actor.user_id),
            actor_login: Some(actor.login.clone()),
            target_type: Some("report"),
            target_id: Some(report_id.to_string()),
            prefecture_id,
            detail: Some(detail),
            ip: actor.ip.clone(),
        },
    )?;
    Ok(())
}

/// 確認 of one report. Reports with any 2号 function 有り also need 体制確認.
pub fn confirm(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    actor: &Actor,
    id: i32,
    revision: i32,
    structure_checked: bool,
) -> Result<(), ReviewError> {
    db::write_transaction(conn, |conn| {
        let loaded = load(conn, catalogs, actor.scope, id)?;
        let next = report::next_status(
            loaded.status,
            Transition::Confirm,
            loaded.report.was_returned,
        )
        .map_err(ReportError::from)?;
        let d = loaded.determination();
        let needs_structure = any_function2(&d.function2);
        if needs_structure && !structure_checked {
            return Err(ReviewError::Invalid(
                "2号機能が「有り」の報告です。体制を確認してから「体制確認」にチェックしてください"
                    .into(),
            ));
        }
        let now = Utc::now().naive_utc();
        let n = diesel::update(
            reports::table
                .filter(reports::id.eq(id))
                .filter(reports::revision.eq(revision))
                .filter(reports::status.eq(loaded.status.code())),
        )
        .set((
            reports::status.eq(next.code()),
            reports::revision.eq(revision + 1),
            reports::confirmed_at.eq(now),
            reports::confirmed_by.eq(actor.user_id),
            reports::structure_confirmed_at.eq(needs_structure.then_some(now)),
            reports::structure_confirmed_by.eq(needs_structure.then_some(actor.user_id)),
            reports::updated_at.eq(now),
            reports::updated_by.eq(actor.user_id),
        ))
        .execute(conn)?;
        if n != 1 {
            return Err(ReviewError::Stale);
        }
        db::review_index::refresh_report(conn, id)?;
        record(
            conn,
            actor,
            Action::ReportConfirm,
            id,
            Some(loaded.institution.prefecture_id),
            serde_json::json!({ "version": loaded.report.versions, "structure": needs_structure }),
        )?;
        Ok(())
    })
}

/// 差戻し with a reason the institution reads.
pub fn send_back(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    actor: &Actor,
    id: i32,
    revision: i32,
    reason: &str,
) -> Result<(), ReviewError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ReviewError::Invalid(
            "差戻しの理由を入力してください".into(),
        ));
    }
    if reason.chars().count() > TEXT_LIMIT {
        return Err(ReviewError::Invalid(format!(
            "理由は{TEXT_LIMIT}文字以内で入力してください"
        )));
    }
    db::write_transaction(conn, |conn| {
        let loaded = load(conn, catalogs, actor.scope, id)?;
        let next = report::next_status(
            loaded.status,
            Transition::SendBack,
            loaded.report.was_returned,
        )
        .map_err(ReportError::from)?;
        let now = Utc::now().naive_utc();
        let n = diesel::update(
            reports::table
                .filter(reports::id.eq(id))
                .filter(reports::revision.eq(revision))
                .filter(reports::status.eq(loaded.status.code())),
        )
        .set((
            reports::status.eq(next.code()),
            reports::revision.eq(revision + 1),
            reports::was_returned.eq(true),
            reports::return_reason.eq(reason),
            reports::returned_at.eq(now),
            reports::returned_by.eq(actor.user_id),
            reports::updated_at.eq(now),
            reports::updated_by.eq(actor.user_id),
        ))
        .execute(conn)?;
        if n != 1 {
            return Err(ReviewError::Stale);
        }
        db::review_index::refresh_report(conn, id)?;
        record(
            conn,
            actor,
            Action::ReportSendBack,
            id,
            Some(loaded.institution.prefecture_id),
            serde_json::json!({ "reason": reason }),
        )?;
        crate::notify::report_sent_back(conn, id, reason)?;
        Ok(())
    })
}

// ----- 一括確認 -----

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Snapshot {
    /// (report id, revision) as the officer saw them.
    reports: Vec<(i32, i32)>,
    /// Ticked ids that were not confirmable within the scope.
    ignored: Vec<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BulkPreview {
    pub id: i32,
    pub fiscal_year: i32,
    pub count: usize,
    pub ignored: Vec<i32>,
    pub status: String,
    pub result: Option<BulkResult>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BulkResult {
    pub confirmed: usize,
    pub with_structure: usize,
    /// Reports that changed after the preview (resubmitted, sent back, pulled back...).
    pub skipped: Vec<i32>,
    pub seconds: f64,
}

/// Records what a bulk confirmation would confirm: every 報告済/再報告済 report of the
/// search (or only the ticked ones). Ticked ids outside the scope or not confirmable
/// are listed as ignored.
pub fn bulk_preview(
    conn: &mut DbConnection,
    actor: &Actor,
    fiscal_year: i32,
    filter: &ReviewFilter,
    ticked: Option<&[i32]>,
) -> Result<i32, ReviewError> {
    let filter = ReviewFilter {
        status: Some(StatusFilter::AwaitingReview),
        ..filter.clone()
    };
    let rows = query::search_all(conn, actor.scope, fiscal_year, &filter)?;
    let mut reports: Vec<(i32, i32)> = rows
        .iter()
        .filter_map(|r| Some((r.report_id?, r.revision?)))
        .collect();
    let mut ignored = Vec::new();
    if let Some(ticked) = ticked {
        let wanted: HashSet<i32> = ticked.iter().copied().collect();
        let found: HashSet<i32> = reports.iter().map(|(id, _)| *id).collect();
        ignored = wanted.difference(&found).copied().collect();
        ignored.sort_unstable();
        reports.retain(|(id, _)| wanted.contains(id));
    }
    let snapshot = serde_json::to_string(&Snapshot { reports, ignored })
        .map_err(|e| DbError::Task(e.to_string()))?;
    crate::per_backend!(&mut *conn, |c| {
        diesel::insert_into(bulk_confirmations::table)
            .values((
                bulk_confirmations::user_id.eq(actor.user_id),
                bulk_confirmations::fiscal_year.eq(fiscal_year),
                bulk_confirmations::reports.eq(&snapshot),
                bulk_confirmations::status.eq("previewed"),
                bulk_confirmations::created_at.eq(Utc::now().naive_utc()),
            ))
            .execute(c)
    })?;
    Ok(bulk_confirmations::table
        .filter(bulk_confirmations::user_id.eq(actor.user_id))
        .order(bulk_confirmations::id.desc())
        .select(bulk_confirmations::id)
        .first(conn)?)
}

/// A bulk confirmation of this user.
pub fn bulk_find(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i32,
) -> Result<BulkPreview, ReviewError> {
    let (fiscal_year, snapshot, status, result): (i32, String, String, Option<String>) =
        bulk_confirmations::table
            .filter(bulk_confirmations::id.eq(id))
            .filter(bulk_confirmations::user_id.eq(actor.user_id))
            .select((
                bulk_confirmations::fiscal_year,
                bulk_confirmations::reports,
                bulk_confirmations::status,
                bulk_confirmations::result,
            ))
            .first(conn)
            .optional()?
            .ok_or(ReviewError::Report(ReportError::NotFound))?;
    let snapshot: Snapshot =
        serde_json::from_str(&snapshot).map_err(|e| DbError::Task(e.to_string()))?;
    Ok(BulkPreview {
        id,
        fiscal_year,
        count: snapshot.reports.len(),
        ignored: snapshot.ignored,
        status,
        result: result.and_then(|r| serde_json::from_str(&r).ok()),
    })
}

fn sql_timestamp(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

#[derive(QueryableByName)]
struct UpdatedId {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    id: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    institution_id: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    fiscal_year: i32,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    structure: bool,
}

/// Commits a previewed bulk confirmation in one transaction. Reports whose revision or
/// status changed since the preview are skipped and listed; one audit entry per report.
pub fn bulk_commit(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i32,
) -> Result<BulkResult, ReviewError> {
    let started = std::time::Instant::now();
    let snapshot: String = bulk_confirmations::table
        .filter(bulk_confirmations::id.eq(id))
        .filter(bulk_confirmations::user_id.eq(actor.user_id))
        .select(bulk_confirmations::reports)
        .first(conn)
        .optional()?
        .ok_or(ReviewError::Report(ReportError::NotFound))?;
    let snapshot: Snapshot =
        serde_json::from_str(&snapshot).map_err(|e| DbError::Task(e.to_string()))?;
    db::write_transaction(conn, |conn| {
        // At most once: a second click finds it committed.
        let claimed = diesel::update(
            bulk_confirmations::table
                .filter(bulk_confirmations::id.eq(id))
                .filter(bulk_confirmations::status.eq("previewed")),
        )
        .set(bulk_confirmations::status.eq("committing"))
        .execute(conn)?;
        if claimed != 1 {
            return Err(ReviewError::Report(ReportError::Closed(
                "この一括確認はすでに実行されています".into(),
            )));
        }
        let now = Utc::now().naive_utc();
        let mut confirmed: Vec<i32> = Vec::with_capacity(snapshot.reports.len());
        let mut with_structure = 0usize;
        // 2,000 reports a statement: PostgreSQL finds them by key (with 5,000 it chose
        // to scan every report, right after many were submitted: 59,981 reports 5.4 s
        // in chunks of 5,000, 3.6 s in chunks of 2,000); more round trips cost little.
        for chunk in snapshot.reports.chunks(2_000) {
            let updated = confirm_chunk(conn, actor, id, now, chunk)?;
            with_structure += updated.iter().filter(|u| u.structure).count();
            confirmed.extend(updated.into_iter().map(|u| u.id));
        }
        let done: HashSet<i32> = confirmed.iter().copied().collect();
        let mut skipped: Vec<i32> = snapshot
            .reports
            .iter()
            .map(|(i, _)| *i)
            .filter(|i| !done.contains(i))
            .collect();
        skipped.sort_unstable();
        let result = BulkResult {
            confirmed: confirmed.len(),
            with_structure,
            skipped,
            seconds: started.elapsed().as_secs_f64(),
        };
        diesel::update(bulk_confirmations::table.find(id))
            .set((
                bulk_confirmations::status.eq("committed"),
                bulk_confirmations::result
                    .eq(serde_json::to_string(&result).map_err(|e| DbError::Task(e.to_string()))?),
                bulk_confirmations::finished_at.eq(now),
            ))
            .execute(conn)?;
        Ok(result)
    })
}

/// Confirms the reports of `chunk` still at their previewed revision, with 体制確認 for
/// those with any 2号 function, their search-table rows and one audit entry each, and
/// returns them.
fn confirm_chunk(
    conn: &mut DbConnection,
    actor: &Actor,
    bulk_id: i32,
    now: NaiveDateTime,
    chunk: &[(i32, i32)],
) -> Result<Vec<UpdatedId>, ReviewError> {
    let at = sql_timestamp(now);
    let by = actor.user_id;
    // Ids, revisions, timestamps and the user id are numbers and a timestamp we made,
    // written inline so one statement serves both databases.
    let pairs: Vec<String> = chunk.iter().map(|(i, r)| format!("({i}, {r})")).collect();
    let two_go = "(after_hours OR admission_discharge OR home_care OR care_coordination)";
    let update = format!(
        "UPDATE reports SET status = 'confirmed', revision = revision + 1, \
         confirmed_at = '{at}', confirmed_by = {by}, updated_at = '{at}', updated_by = {by}, \
         structure_confirmed_at = CASE WHEN {two_go} THEN '{at}' ELSE structure_confirmed_at END, \
         structure_confirmed_by = CASE WHEN {two_go} THEN {by} ELSE structure_confirmed_by END \
         WHERE status IN ('submitted', 'resubmitted') AND (id, revision) IN (VALUES {}) \
         RETURNING id, institution_id, fiscal_year, {two_go} AS structure",
        pairs.join(", ")
    );
    let detail = serde_json::json!({ "bulk": bulk_id });
    match conn {
        // One statement: the search-table rows are found through the confirmed reports
        // by key (a separate UPDATE … IN (5,000 ids) scanned the whole table each time)
        // and the audit entries come from the same rows (110,000 institutions, 59,981
        // reports: 6.5 s in three statements per chunk).
        DbConnection::Pg(c) => {
            let sql = format!(
                "WITH confirmed AS ({update}), \
                 entries AS (UPDATE review_entries e SET status = 'confirmed' FROM confirmed c \
                   WHERE e.institution_id = c.institution_id AND e.fiscal_year = c.fiscal_year), \
                 audit AS (INSERT INTO audit_log (at, actor_id, actor_login, action, target_type, target_id, prefecture_id, detail, ip) \
                   SELECT CAST('{at}' AS TIMESTAMP), {by}, $1, '{action}', 'report', CAST(c.id AS TEXT), i.prefecture_id, $2, $3 \
                   FROM confirmed c JOIN institutions i ON i.id = c.institution_id) \
                 SELECT id, institution_id, fiscal_year, structure FROM confirmed",
                action = Action::ReportConfirm.code(),
            );
            Ok(diesel::sql_query(sql)
                .bind::<diesel::sql_types::Text, _>(&actor.login)
                .bind::<diesel::sql_types::Text, _>(detail.to_string())
                .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(&actor.ip)
                .load(c)?)
        }
        // SQLite has no writing WITH clauses; its statements cost no round trip.
        DbConnection::Sqlite(_) => {
            let updated: Vec<UpdatedId> = diesel::sql_query(update).load(conn)?;
            let rows: Vec<(i32, i32)> = updated
                .iter()
                .map(|u| (u.institution_id, u.fiscal_year))
                .collect();
            db::review_index::mark_confirmed(conn, &rows)?;
            // The prefecture of each report, so that its administrator's 操作履歴 shows
            // the confirmation as it shows a single 確認.
            let prefecture_of: std::collections::HashMap<i32, i32> = {
                use crate::db::schema::institutions;
                let ids: Vec<i32> = updated.iter().map(|u| u.institution_id).collect();
                let mut found = std::collections::HashMap::new();
                for part in ids.chunks(900) {
                    let pairs: Vec<(i32, i32)> = institutions::table
                        .filter(institutions::id.eq_any(part))
                        .select((institutions::id, institutions::prefecture_id))
                        .load(conn)?;
                    found.extend(pairs);
                }
                found
            };
            audit::record_many(
                conn,
                updated.iter().map(|u| {
                    (
                        Action::ReportConfirm,
                        audit::Entry {
                            actor_id: Some(by),
                            actor_login: Some(actor.login.clone()),
                            target_type: Some("report"),
                            target_id: Some(u.id.to_string()),
                            prefecture_id: prefecture_of.get(&u.institution_id).copied(),
                            detail: Some(detail.clone()),
                            ip: actor.ip.clone(),
                        },
                    )
                }),
            )?;
            Ok(updated)
        }
    }
}

// ----- 疑義照会メモ -----

#[derive(Debug, Clone, Queryable, Serialize)]
pub struct Memo {
    pub id: i32,
    pub author_name: String,
    pub from_institution: bool,
    pub internal: bool,
    pub body: String,
    pub created_at: NaiveDateTime,
}

/// The thread as this user may see it: institutions never see internal memos.
pub fn memos(
    conn: &mut DbConnection,
    report_id: i32,
    institution_view: bool,
) -> QueryResult<Vec<Memo>> {
    let mut q = report_memos::table
        .filter(report_memos::report_id.eq(report_id))
        .into_boxed();
    if institution_view {
        q = q.filter(report_memos::internal.eq(false));
    }
    q.order(report_memos::id)
        .select((
            report_memos::id,
            report_memos::author_name,
            report_memos::from_institution,
            report_memos::internal,
            report_memos::body,
            report_memos::created_at,
        ))
        .load(conn)
}

/// Adds a memo to a report the actor may see. Institutions write shared messages only.
pub fn add_memo(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    actor: &Actor,
    author_name: &str,
    report_id: i32,
    body: &str,
    internal: bool,
) -> Result<(), ReviewError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(ReviewError::Invalid("メモの内容を入力してください".into()));
    }
    if body.chars().count() > TEXT_LIMIT {
        return Err(ReviewError::Invalid(format!(
            "メモは{TEXT_LIMIT}文字以内で入力してください"
        )));
    }
    // Only a report the actor may see takes memos.
    load(conn, catalogs, actor.scope, report_id)?;
    let internal = internal && actor.officer;
    diesel::insert_into(report_memos::table)
        .values((
            report_memos::report_id.eq(report_id),
            report_memos::author_id.eq(actor.user_id),
            report_memos::author_name.eq(author_name),
            report_memos::from_institution.eq(!actor.officer),
            report_memos::internal.eq(internal),
            report_memos::body.eq(body),
            report_memos::created_at.eq(Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Remembers the newest memo the user has seen on a report.
pub fn mark_read(
    conn: &mut DbConnection,
    user_id: i32,
    report_id: i32,
    last: i32,
) -> QueryResult<()> {
    let n = diesel::update(
        memo_reads::table
            .filter(memo_reads::user_id.eq(user_id))
            .filter(memo_reads::report_id.eq(report_id)),
    )
    .set(memo_reads::last_seen_memo.eq(last))
    .execute(conn)?;
    if n == 0 {
        diesel::insert_into(memo_reads::table)
            .values((
                memo_reads::user_id.eq(user_id),
                memo_reads::report_id.eq(report_id),
                memo_reads::last_seen_memo.eq(last),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn last_seen(conn: &mut DbConnection, user_id: i32, report_id: i32) -> QueryResult<i32> {
    Ok(memo_reads::table
        .filter(memo_reads::user_id.eq(user_id))
        .filter(memo_reads::report_id.eq(report_id))
        .select(memo_reads::last_seen_memo)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Unread memos from the other side, per report, for reports in `report_ids`.
pub fn unread_counts(
    conn: &mut DbConnection,
    user_id: i32,
    institution_view: bool,
    report_ids: &[i32],
) -> QueryResult<BTreeMap<i32, i64>> {
    if report_ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let seen: BTreeMap<i32, i32> = memo_reads::table
        .filter(memo_reads::user_id.eq(user_id))
        .filter(memo_reads::report_id.eq_any(report_ids))
        .select((memo_reads::report_id, memo_reads::last_seen_memo))
        .load::<(i32, i32)>(conn)?
        .into_iter()
        .collect();
    let mut q = report_memos::table
        .filter(report_memos::report_id.eq_any(report_ids))
        // Only what the other side wrote is news.
        .filter(report_memos::from_institution.eq(!institution_view))
        .into_boxed();
    if institution_view {
        q = q.filter(report_memos::internal.eq(false));
    }
    let memos: Vec<(i32, i32)> = q
        .select((report_memos::report_id, report_memos::id))
        .load(conn)?;
    let mut out = BTreeMap::new();
    for (report, memo) in memos {
        if memo > seen.get(&report).copied().unwrap_or(0) {
            *out.entry(report).or_insert(0) += 1;
        }
    }
    Ok(out)
}

// ----- 新着 -----

#[derive(Debug, Clone, Serialize)]
pub struct News {
    pub since: Option<NaiveDateTime>,
    /// (report id, institution name, kind, submitted at)
    pub submitted: Vec<(i32, String, String, NaiveDateTime)>,
    /// (report id, institution name, memo body, at)
    pub messages: Vec<(i32, String, String, NaiveDateTime)>,
}

/// Reports submitted and messages from institutions since the officer last looked;
/// looking moves the mark.
pub fn news(conn: &mut DbConnection, actor: &Actor) -> Result<News, ReviewError> {
    use crate::db::schema::{institutions, report_versions};
    let since: Option<NaiveDateTime> = users::table
        .find(actor.user_id)
        .select(users::news_seen_at)
        .first(conn)?;
    let from = since.unwrap_or_else(|| Utc::now().naive_utc() - chrono::Duration::days(7));
    // The scope is a condition on the joined institution, like every list.
    macro_rules! in_scope {
        ($q:expr) => {
            match actor.scope {
                Scope::All => $q,
                Scope::Prefecture(id) => $q.filter(institutions::prefecture_id.eq(id)),
                Scope::Jurisdiction(id) => $q.filter(institutions::jurisdiction_id.eq(id)),
                Scope::Municipality(id) => $q.filter(institutions::municipality_id.eq(id)),
                Scope::Institution(id) => $q.filter(institutions::id.eq(id)),
            }
        };
    }
    let submitted: Vec<(i32, String, String, NaiveDateTime)> = in_scope!(
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
    let messages: Vec<(i32, String, String, NaiveDateTime)> = in_scope!(
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
    diesel::update(users::table.find(actor.user_id))
        .set(users::news_seen_at.eq(Utc::now().naive_utc()))
        .execute(conn)?;
    Ok(News {
        since,
        submitted,
        messages,
    })
}

/// The label of a status code, 未報告 when there is no report.
pub fn status_of(label: Option<&str>) -> &'static str {
    match label.and_then(Status::from_code) {
        Some(s) => s.label(),
        None => report::NOT_REPORTED,
    }
}
