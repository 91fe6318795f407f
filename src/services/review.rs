//! The prefecture's review (seed 003): 確認 with 体制確認, 一括確認 with a preview that
//! commits only reports unchanged since, 差戻し with a reason the institution sees, and
//! 疑義照会メモ. Status rules come from `domain::report`; every function is scoped.

use std::collections::HashSet;

use chrono::{NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::audit::Action;
use crate::db::changes::Counter;
use crate::db::reports::{Change, Guard};
use crate::db::review::{self as query, ReviewFilter, StatusFilter};
use crate::db::{self, DbConnection, DbError, bulk, memos, users};
use crate::domain::report::{self, Status, Transition};

use super::catalogs::Catalogs;
use super::reports::{Loaded, ReportError, load};
use super::{Actor, Failure, Kind};
pub use crate::db::memos::Memo;

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

impl Failure for ReviewError {
    fn kind(&self) -> Kind {
        match self {
            ReviewError::Report(e) => e.kind(),
            ReviewError::Invalid(_) => Kind::Invalid,
            ReviewError::Stale => Kind::Conflict,
        }
    }
}

fn any_function2(f2: &crate::domain::determination::Function2) -> bool {
    f2.after_hours || f2.admission_discharge || f2.home_care || f2.care_coordination
}

/// The report within the actor's scope and the status `transition` takes it to (an
/// illegal transition is refused).
fn moving(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    actor: &Actor,
    id: i32,
    transition: Transition,
) -> Result<(Loaded, Status), ReviewError> {
    let loaded = load(conn, catalogs, actor.scope, id)?;
    let next = report::next_status(loaded.status, transition, loaded.report.was_returned)
        .map_err(ReportError::from)?;
    Ok((loaded, next))
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
    super::write_counted(
        conn,
        &[Counter::Reports],
        |_| true,
        |conn| {
            let (loaded, next) = moving(conn, catalogs, actor, id, Transition::Confirm)?;
            let d = loaded.determination();
            let needs_structure = any_function2(&d.function2);
            if needs_structure && !structure_checked {
                return Err(ReviewError::Invalid(
                "2号機能が「有り」の報告です。体制を確認してから「体制確認」にチェックしてください"
                    .into(),
            ));
            }
            let guard = Guard {
                id,
                revision,
                from: loaded.status,
            };
            let change = Change::Confirmed {
                structure: needs_structure,
            };
            let now = Utc::now().naive_utc();
            if !db::reports::transition(conn, guard, next, change, now, actor.user_id)? {
                return Err(ReviewError::Stale);
            }
            super::record_on_report(
                conn,
                actor,
                Action::ReportConfirm,
                id,
                loaded.institution.prefecture_id,
                serde_json::json!({ "version": loaded.report.versions, "structure": needs_structure }),
            )?;
            Ok(())
        },
    )?;
    Ok(())
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
    super::write_counted(
        conn,
        &[Counter::Reports],
        |_| true,
        |conn| {
            let (loaded, next) = moving(conn, catalogs, actor, id, Transition::SendBack)?;
            let guard = Guard {
                id,
                revision,
                from: loaded.status,
            };
            let now = Utc::now().naive_utc();
            let change = Change::SentBack { reason };
            if !db::reports::transition(conn, guard, next, change, now, actor.user_id)? {
                return Err(ReviewError::Stale);
            }
            super::record_on_report(
                conn,
                actor,
                Action::ReportSendBack,
                id,
                loaded.institution.prefecture_id,
                serde_json::json!({ "reason": reason }),
            )?;
            crate::services::notify::report_sent_back(conn, &loaded.report, reason)?;
            Ok(())
        },
    )?;
    Ok(())
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
    let snapshot = super::to_json(&Snapshot { reports, ignored })?;
    let id = bulk::insert(
        conn,
        actor.user_id,
        fiscal_year,
        &snapshot,
        Utc::now().naive_utc(),
    )?;
    Ok(id)
}

/// A bulk confirmation of this user.
pub fn bulk_find(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i32,
) -> Result<BulkPreview, ReviewError> {
    let bulk::BulkRow {
        fiscal_year,
        snapshot,
        status,
        result,
    } = bulk::find(conn, actor.user_id, id)?.ok_or(ReviewError::Report(ReportError::NotFound))?;
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

/// Commits a previewed bulk confirmation in one transaction. Reports whose revision or
/// status changed since the preview are skipped and listed; one audit entry per report.
pub fn bulk_commit(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i32,
) -> Result<BulkResult, ReviewError> {
    let started = std::time::Instant::now();
    let row =
        bulk::find(conn, actor.user_id, id)?.ok_or(ReviewError::Report(ReportError::NotFound))?;
    let snapshot: Snapshot =
        serde_json::from_str(&row.snapshot).map_err(|e| DbError::Task(e.to_string()))?;
    let done = super::write_counted(
        conn,
        &[Counter::Reports],
        |_| true,
        |conn| {
            // At most once: a second click finds it committed.
            if !bulk::claim(conn, id)? {
                return Err(ReviewError::Report(ReportError::Closed(
                    "この一括確認はすでに実行されています".into(),
                )));
            }
            let now = Utc::now().naive_utc();
            let by = db::reports::BulkConfirmer {
                user_id: actor.user_id,
                login: &actor.login,
                ip: actor.ip.as_deref(),
                bulk_id: id,
            };
            let mut confirmed: Vec<i32> = Vec::with_capacity(snapshot.reports.len());
            let mut with_structure = 0usize;
            // 2,000 reports a statement: PostgreSQL finds them by key (with 5,000 it chose
            // to scan every report, right after many were submitted: 59,981 reports 5.4 s
            // in chunks of 5,000, 3.6 s in chunks of 2,000); more round trips cost little.
            for chunk in snapshot.reports.chunks(2_000) {
                let updated = db::reports::confirm_many(conn, chunk, &by, now)?;
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
            bulk::finish(conn, id, &super::to_json(&result)?, now)?;
            Ok(result)
        },
    )?;
    Ok(done)
}

// ----- 疑義照会メモ -----

/// The thread of a report as this user may see it (institutions never see internal
/// memos), with the newest memo the user had seen before; opening it marks it read.
pub fn read_thread(
    conn: &mut DbConnection,
    user_id: i32,
    report_id: i32,
    institution_view: bool,
) -> Result<(Vec<Memo>, i32), DbError> {
    let thread = memos::thread(conn, report_id, institution_view)?;
    let seen = memos::last_seen(conn, user_id, report_id)?;
    if let Some(last) = thread.last().filter(|m| m.id > seen) {
        memos::mark_read(conn, user_id, report_id, last.id)?;
    }
    Ok((thread, seen))
}

pub use crate::db::memos::unread_counts;

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
    let memo = memos::NewMemo {
        report_id,
        author_id: actor.user_id,
        author_name,
        from_institution: !actor.officer,
        internal,
        body,
        at: Utc::now().naive_utc(),
    };
    memos::insert(conn, &memo)?;
    Ok(())
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
    let since = users::news_seen_at(conn, actor.user_id)?;
    let from = since.unwrap_or_else(|| Utc::now().naive_utc() - chrono::Duration::days(7));
    let (submitted, messages) = query::news_since(conn, actor.scope, from)?;
    users::set_news_seen(conn, actor.user_id, Utc::now().naive_utc())?;
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

/// Rebuilds the review search table (`kakari reindex`, after changes made by hand in the
/// database); every process's kept figures are dropped. Returns the rows written.
pub fn reindex(conn: &mut DbConnection) -> Result<usize, DbError> {
    let rows = db::review_index::rebuild(conn)?;
    super::changed(conn, &[Counter::Reports, Counter::Master])?;
    Ok(rows)
}
