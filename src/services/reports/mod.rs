//! Filing a report (domain.md §4.3): start a cycle, save sections, submit versions,
//! pull back, open a 変更報告. Every function takes the caller's scope and answers
//! `NotFound` for reports outside it. Pure rules live in `domain::report`.

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use serde_json::{Map, Value};

pub use super::Actor;
use super::catalogs::Catalogs;
use super::{Failure, Kind};

mod entry;

use crate::db::audit::Action;
use crate::db::changes::Counter;
use crate::db::institutions::{self, InstitutionCard};
use crate::db::reports::{self as store, NewReport, NewVersion, ReportRow};
use crate::db::{DbConnection, DbError};
use crate::domain::auth::Scope;
use crate::domain::catalog::Catalog;
use crate::domain::codes::InstitutionCode;
use crate::domain::determination::{self, AnswerProblem, Answers, Determination};
use crate::domain::report::{
    self, IllegalTransition, PeriodState, ReportKind, SectionMarks, Status, Transition,
};
pub use entry::{SaveOutcome, SectionSave, Sent, save_section, section_answers};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("報告が見つかりません")]
    NotFound,
    #[error("{0}")]
    Illegal(#[from] IllegalTransition),
    #[error("{0}")]
    Closed(String),
    #[error("{fiscal_year}年度の報告項目カタログがありません。管理者に連絡してください")]
    NoCatalog { fiscal_year: i32 },
    #[error("報告項目カタログ {version} を読めません: {problem}")]
    BrokenCatalog { version: String, problem: String },
    #[error("{0}")]
    Code(String),
    #[error("{0}")]
    Db(#[from] DbError),
}

db_errors!(ReportError);

impl Failure for ReportError {
    fn kind(&self) -> Kind {
        match self {
            ReportError::NotFound => Kind::NotFound,
            ReportError::Db(e) => e.kind(),
            ReportError::BrokenCatalog { .. } => Kind::Internal,
            _ => Kind::Conflict,
        }
    }
}

/// A report with what its pages need.
pub struct Loaded {
    pub report: ReportRow,
    pub institution: InstitutionCard,
    pub catalog: Arc<Catalog>,
    pub answers: Answers,
    pub ndb: Map<String, Value>,
    pub marks: SectionMarks,
    pub status: Status,
    pub kind: ReportKind,
}

impl Loaded {
    pub fn determination(&self) -> Determination {
        determination::determine(&self.catalog, &self.answers)
    }
}

/// A stored JSON object (answers, NDB originals); empty if it cannot be read.
pub fn parse_map(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_default()
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ReportError> {
    serde_json::to_string(value).map_err(|e| ReportError::Db(DbError::Task(e.to_string())))
}

/// Loads a report within the scope. Editable drafts are shown with the fiscal year's
/// current catalog; submitted ones with the catalog they were filed with.
pub fn load(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    scope: Scope,
    id: i32,
) -> Result<Loaded, ReportError> {
    let (report, institution) =
        store::find_within(conn, scope, id)?.ok_or(ReportError::NotFound)?;
    let status = Status::from_code(&report.status).ok_or(ReportError::NotFound)?;
    let kind = ReportKind::from_code(&report.kind).ok_or(ReportError::NotFound)?;
    let catalog = if status.editable() {
        catalogs.current(conn, report.fiscal_year)?
    } else {
        catalogs.version(conn, report.fiscal_year, &report.catalog_version)?
    };
    Ok(Loaded {
        answers: parse_map(&report.answers),
        ndb: parse_map(&report.ndb),
        marks: serde_json::from_str(&report.sections).unwrap_or_default(),
        report,
        institution,
        catalog,
        status,
        kind,
    })
}

/// Where a prefecture's period stands today, if it set one for the year.
pub fn period_state(
    conn: &mut DbConnection,
    prefecture_id: i32,
    fiscal_year: i32,
    today: NaiveDate,
) -> Result<(Option<crate::db::periods::PeriodRow>, Option<PeriodState>), ReportError> {
    let row = crate::db::periods::period(conn, prefecture_id, fiscal_year)?;
    let state = row.as_ref().map(|p| p.period().state(today));
    Ok((row, state))
}

/// Why an institution cannot file now, in words with whom to call.
fn closed_message(
    row: Option<&crate::db::periods::PeriodRow>,
    state: Option<PeriodState>,
) -> String {
    let contact = row
        .map(|r| r.contact.trim())
        .filter(|c| !c.is_empty())
        .map(|c| format!("お問い合わせ: {c}"))
        .unwrap_or_else(|| "都道府県の担当窓口にお問い合わせください。".into());
    match state {
        Some(PeriodState::NotYet { opens_on }) => format!(
            "受付開始前です。{} から報告できます。{contact}",
            crate::domain::wareki::date_wareki(opens_on)
        ),
        Some(PeriodState::Closed) => {
            format!("この年度の報告の受付は終了しました。報告が必要な場合は、{contact}")
        }
        _ => format!("この年度の報告期間はまだ決まっていません。{contact}"),
    }
}

/// What the 保険医療機関番号確認 found.
#[derive(Debug, Clone)]
pub enum CodeCheck {
    Skipped,
    Matched { code: String },
}

/// Checks the code typed at 保険医療機関番号確認: a valid check digit, and a code the
/// master knows in the institution's prefecture (the institution's own code, or an
/// older code after a relocation).
pub fn check_code(
    conn: &mut DbConnection,
    institution: &InstitutionCard,
    typed: &str,
) -> Result<CodeCheck, ReportError> {
    if typed.trim().is_empty() {
        return Ok(CodeCheck::Skipped);
    }
    // The seven digits the bureau prints are completed with the institution's
    // prefecture and fee table.
    let digits: String = crate::domain::normalize::nfkc(typed)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let full = if digits.len() == 7 && institution.code.len() == 10 {
        format!("{}{digits}", &institution.code[..3])
    } else {
        typed.to_string()
    };
    let code = InstitutionCode::parse(&full).map_err(|e| ReportError::Code(e.to_string()))?;
    if code.as_str() == institution.code {
        return Ok(CodeCheck::Matched {
            code: institution.code.clone(),
        });
    }
    match institutions::card_by_code(conn, code.as_str())? {
        Some(other) if other.prefecture_id == institution.prefecture_id => Ok(CodeCheck::Matched {
            code: code.as_str().to_string(),
        }),
        _ => Err(ReportError::Code(
            "この番号は医療機関マスタにありません。番号を確かめるか、確認をとばして進んでください"
                .into(),
        )),
    }
}

/// What a user asked to start.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub institution_id: i32,
    pub fiscal_year: i32,
    pub kind: ReportKind,
    /// The code typed at 保険医療機関番号確認; empty when skipped.
    pub typed_code: String,
    pub today: NaiveDate,
}

/// Opens the 定期報告 of a fiscal year (or returns the one already open), or a 変更報告
/// after the year's latest cycle was confirmed. Returns the report id.
pub fn start(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    actor: &Actor,
    request: &StartRequest,
) -> Result<i32, ReportError> {
    let StartRequest {
        institution_id,
        fiscal_year,
        kind,
        today,
        ..
    } = *request;
    let typed_code = request.typed_code.as_str();
    let institution = institutions::card_within(conn, actor.scope, institution_id)?
        .ok_or(ReportError::NotFound)?;
    let catalog = catalogs.current(conn, fiscal_year)?;
    let checked = check_code(conn, &institution, typed_code)?;
    let done = crate::services::write_counted(
        conn,
        &[Counter::Reports],
        |_| true,
        |conn| {
            let latest = store::latest_cycle(conn, institution_id, fiscal_year)?;
            let (cycle, base_answers, base_ndb) = match (kind, &latest) {
                // One open report per institution, year and cycle: a second start (double
                // click, second tab) lands on the same report.
                (ReportKind::Periodic, Some(r)) => return Ok(r.id),
                (ReportKind::Change, Some(r)) if r.status != Status::Confirmed.code() => {
                    if r.kind == ReportKind::Change.code() {
                        return Ok(r.id);
                    }
                    return Err(IllegalTransition {
                        from: Status::from_code(&r.status).map_or("?", Status::label),
                        action: "変更報告",
                    }
                    .into());
                }
                (ReportKind::Change, None) => {
                    return Err(ReportError::Closed(
                        "変更報告は、都道府県が確認した報告についてできます。".into(),
                    ));
                }
                (ReportKind::Change, Some(r)) => {
                    let last = store::version(conn, r.id, r.versions)?;
                    let (answers, ndb) = last
                        .map(|v| (parse_map(&v.answers), parse_map(&v.ndb)))
                        .unwrap_or_default();
                    (r.cycle + 1, answers, ndb)
                }
                (ReportKind::Periodic, None) => {
                    let carried = store::last_confirmed_answers(conn, institution_id, fiscal_year)?
                        .map(|a| report::carry_over(&catalog, &parse_map(&a)))
                        .unwrap_or_default();
                    let (answers, ndb) = match &checked {
                        CodeCheck::Matched { code } => {
                            let counts = crate::db::ndb::ndb_of(conn, fiscal_year, code)?;
                            report::preprint(&catalog, &carried, &counts)
                        }
                        CodeCheck::Skipped => (carried, Map::new()),
                    };
                    (0, answers, ndb)
                }
            };
            let (period_row, state) =
                period_state(conn, institution.prefecture_id, fiscal_year, today)?;
            if !report::may_file(kind, actor.officer, state) {
                return Err(ReportError::Closed(closed_message(
                    period_row.as_ref(),
                    state,
                )));
            }
            let d = determination::determine(&catalog, &base_answers);
            let now = Utc::now().naive_utc();
            let answers = to_json(&base_answers)?;
            let ndb = to_json(&base_ndb)?;
            let checked_code = match &checked {
                CodeCheck::Matched { code } => Some(code.as_str()),
                CodeCheck::Skipped => None,
            };
            let id = store::insert(
                conn,
                &NewReport {
                    institution_id,
                    fiscal_year,
                    cycle,
                    kind: kind.code(),
                    status: Status::Draft.code(),
                    catalog_version: &catalog.version,
                    answers: &answers,
                    ndb: &ndb,
                    sections: "{}",
                    checked_code,
                    function1: d.function1,
                    after_hours: d.function2.after_hours,
                    admission_discharge: d.function2.admission_discharge,
                    home_care: d.function2.home_care,
                    care_coordination: d.function2.care_coordination,
                    proxy: actor.officer,
                    created_at: now,
                    updated_at: now,
                    updated_by: Some(actor.user_id),
                },
            )?;
            super::record_on_report(
                conn,
                actor,
                Action::ReportStart,
                id,
                institution.prefecture_id,
                serde_json::json!({
                    "fiscal_year": fiscal_year, "cycle": cycle, "kind": kind.code(),
                    "checked_code": checked_code, "proxy": actor.officer,
                }),
            )?;
            Ok(id)
        },
    )?;
    Ok(done)
}

/// What became of a submission.
#[derive(Debug)]
pub enum SubmitOutcome {
    /// A new version with this number.
    Submitted { number: i32 },
    /// The same form was sent twice (double click, second tab): nothing new.
    AlreadySubmitted { number: i32 },
    /// Not complete: nothing submitted.
    Incomplete(Vec<AnswerProblem>),
    /// The draft changed after the confirmation page was shown.
    Stale,
}

/// 報告: validates the whole draft and stores an immutable version.
pub fn submit(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    actor: &Actor,
    id: i32,
    revision: i32,
    today: NaiveDate,
) -> Result<SubmitOutcome, ReportError> {
    let done = crate::services::write_counted(
        conn,
        &[Counter::Reports],
        |done| matches!(done, SubmitOutcome::Submitted { .. }),
        |conn| {
            let loaded = load(conn, catalogs, actor.scope, id)?;
            let r = &loaded.report;
            if r.revision != revision {
                // The revision after this very form's submission: a repeat, not a change.
                if r.revision == revision + 1
                    && matches!(loaded.status, Status::Submitted | Status::Resubmitted)
                {
                    return Ok(SubmitOutcome::AlreadySubmitted { number: r.versions });
                }
                return Ok(SubmitOutcome::Stale);
            }
            let next = report::next_status(loaded.status, Transition::Submit, r.was_returned)?;
            let (period_row, state) =
                period_state(conn, loaded.institution.prefecture_id, r.fiscal_year, today)?;
            if !report::may_file(loaded.kind, actor.officer, state) {
                return Err(ReportError::Closed(closed_message(
                    period_row.as_ref(),
                    state,
                )));
            }
            let problems = determination::validate(&loaded.catalog, &loaded.answers);
            if !problems.is_empty() {
                return Ok(SubmitOutcome::Incomplete(problems));
            }
            let now = Utc::now().naive_utc();
            let guard = store::Guard {
                id,
                revision,
                from: loaded.status,
            };
            let change = store::Change::Submitted;
            if !store::transition(conn, guard, next, change, now, actor.user_id)? {
                return Ok(SubmitOutcome::Stale);
            }
            let number = r.versions + 1;
            let d = loaded.determination();
            store::insert_version(
                conn,
                &NewVersion {
                    report_id: id,
                    number,
                    kind: &r.kind,
                    answers: &r.answers,
                    ndb: &r.ndb,
                    determination: &to_json(&d)?,
                    catalog_version: &loaded.catalog.version,
                    submitted_by: Some(actor.user_id),
                    submitted_login: &actor.login,
                    proxy: actor.officer,
                    submitted_at: now,
                },
            )?;
            super::record_on_report(
                conn,
                actor,
                Action::ReportSubmit,
                id,
                loaded.institution.prefecture_id,
                serde_json::json!({
                    "version": number, "status": next.code(), "proxy": actor.officer,
                    "function1": d.function1,
                }),
            )?;
            super::notify::report_received(conn, r, number, now)?;
            Ok(SubmitOutcome::Submitted { number })
        },
    )?;
    Ok(done)
}

/// 引き戻し: a submitted report nobody has confirmed goes back to 一時保存.
pub fn pull_back(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    actor: &Actor,
    id: i32,
    revision: i32,
) -> Result<bool, ReportError> {
    let done = crate::services::write_counted(
        conn,
        &[Counter::Reports],
        |done| *done,
        |conn| -> Result<_, ReportError> {
            let loaded = load(conn, catalogs, actor.scope, id)?;
            let next = report::next_status(
                loaded.status,
                Transition::PullBack,
                loaded.report.was_returned,
            )?;
            let now = Utc::now().naive_utc();
            let guard = store::Guard {
                id,
                revision,
                from: loaded.status,
            };
            if !store::transition(conn, guard, next, store::Change::Plain, now, actor.user_id)? {
                return Ok(false);
            }
            super::record_on_report(
                conn,
                actor,
                Action::ReportPullBack,
                id,
                loaded.institution.prefecture_id,
                serde_json::json!({
                    "from": loaded.report.status,
                }),
            )?;
            Ok(true)
        },
    )?;
    Ok(done)
}
