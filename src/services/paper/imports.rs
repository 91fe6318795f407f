//! Checking filled Excel 調査票 before anything is written (issue 18): each file — an
//! .xlsx, an .xls, or each workbook of a ZIP — read, identified, matched to an
//! institution within the officer's scope and to the fiscal year asked, and its cells
//! read against the catalog. The outcome of every file says what applying it would do,
//! or why it is refused, with cell references. Applying writes each accepted form as
//! the institution's proxy draft (or submits it), one transaction per form.

use serde::Serialize;

use super::read::{self, FormFileError};
use crate::db::{self, DbConnection};
use crate::domain::auth::Scope;
use crate::domain::determination;
use crate::domain::paper_form;
use crate::domain::report::Status;
use crate::import::{FileError, Limits, limits};
use crate::services::catalogs::Catalogs;

/// What became of one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileOutcome {
    pub file_name: String,
    pub code: Option<String>,
    pub institution: Option<String>,
    /// Refusals; empty when the file can be applied.
    pub problems: Vec<String>,
    /// Answers read (only when accepted).
    pub answers: usize,
    /// Nothing required is missing: it could be submitted as it is.
    pub complete: bool,
    /// What applying would do: 新しい下書き, 下書きを更新, …
    pub action: Option<&'static str>,
    #[serde(skip)]
    pub institution_id: Option<i32>,
    /// The answers read, for applying.
    #[serde(skip)]
    pub read: crate::domain::determination::Answers,
}

impl FileOutcome {
    pub(super) fn refused(file_name: &str, problem: impl Into<String>) -> FileOutcome {
        FileOutcome {
            file_name: file_name.to_string(),
            code: None,
            institution: None,
            problems: vec![problem.into()],
            answers: 0,
            complete: false,
            action: None,
            institution_id: None,
            read: Default::default(),
        }
    }

    pub fn accepted(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The workbooks an upload holds: itself, or each .xlsx/.xls of a ZIP (within the
/// import limits; a ZIP inside a ZIP is not opened).
pub fn workbooks(
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<(String, Vec<u8>)>, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    if !bytes.starts_with(b"PK\x03\x04") {
        return Ok(vec![(file_name.to_string(), bytes.to_vec())]);
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| FileError::Zip(e.to_string()))?;
    if archive.by_name("xl/workbook.xml").is_ok() {
        return Ok(vec![(file_name.to_string(), bytes.to_vec())]);
    }
    limits::inspect_archive(bytes, limits)?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let (is_file, name) = {
            let member = archive
                .by_index(i)
                .map_err(|e| FileError::Zip(e.to_string()))?;
            (member.is_file(), limits::member_name(&member))
        };
        let lower = name.to_lowercase();
        if is_file && (lower.ends_with(".xlsx") || lower.ends_with(".xls")) {
            out.push(limits::read_member(
                &mut archive,
                i,
                bytes.len() as u64,
                limits,
            )?);
        }
    }
    if out.is_empty() {
        return Err(FileError::EmptyZip);
    }
    Ok(out)
}

/// Checks one workbook. `overwrite`: a clinic's own draft may be replaced (else such a
/// form is refused here, so that applying never meets a refusal it did not show).
pub fn check(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    scope: Scope,
    fiscal_year: i32,
    (file_name, bytes): (&str, &[u8]),
    (limits, overwrite): (&Limits, bool),
) -> Result<FileOutcome, db::DbError> {
    let key = db::links::key(conn)?;
    let form = match read::read(file_name, bytes, limits, &key) {
        Ok(form) => form,
        Err(FormFileError::File(message)) => return Ok(FileOutcome::refused(file_name, message)),
        Err(e) => return Ok(FileOutcome::refused(file_name, e.to_string())),
    };
    let mut outcome = FileOutcome::refused(file_name, "");
    outcome.problems.clear();
    outcome.code = Some(form.code.clone());
    if form.fiscal_year != fiscal_year {
        outcome.problems.push(format!(
            "{}の調査票です。{}の取込には使えません",
            crate::domain::wareki::fiscal_year_label(form.fiscal_year),
            crate::domain::wareki::fiscal_year_label(fiscal_year)
        ));
        return Ok(outcome);
    }
    let found = db::institutions::card_by_code(conn, &form.code)?;
    let within = match found {
        Some(c) => db::institutions::card_within(conn, scope, c.id)?,
        None => None,
    };
    let Some(card) = within else {
        outcome.problems.push(format!(
            "医療機関コード {} は担当範囲の医療機関にありません",
            form.code
        ));
        return Ok(outcome);
    };
    outcome.institution = Some(card.name.clone());
    let catalog = match catalogs.current(conn, fiscal_year) {
        Ok(c) => c,
        Err(e) => {
            outcome.problems.push(e.to_string());
            return Ok(outcome);
        }
    };
    if let Some(version) = &form.catalog_version
        && version != &catalog.version
    {
        outcome.problems.push(format!(
            "報告項目のバージョン {version} の調査票です（現在は {}）。作り直した調査票で記入してください",
            catalog.version
        ));
        return Ok(outcome);
    }
    let (answers, problems) = paper_form::read(&catalog, &form.cells);
    outcome.problems.extend(
        form.problems
            .into_iter()
            .chain(problems)
            .map(|p| format!("{}: {}", p.cell, p.message)),
    );
    if !outcome.problems.is_empty() {
        return Ok(outcome);
    }
    outcome.answers = answers.len();
    outcome.complete = determination::validate(&catalog, &answers).is_empty();
    outcome.institution_id = Some(card.id);
    outcome.read = answers;
    let latest = db::reports::latest_cycle(conn, card.id, fiscal_year)?;
    outcome.action = match latest.as_ref().map(|r| (r.status.as_str(), r.proxy)) {
        None => Some("新しい下書き（代理入力）"),
        Some((s, true)) if s == Status::Draft.code() => Some("代理入力の下書きを更新"),
        Some((s, _))
            if (s == Status::Draft.code() || s == Status::Returned.code()) && overwrite =>
        {
            Some("医療機関の下書きを上書き")
        }
        Some((s, _)) if s == Status::Draft.code() || s == Status::Returned.code() => {
            outcome.problems.push(
                "医療機関が入力中の下書きがあります。上書きするときは「下書きを上書きする」を選んでください".into(),
            );
            None
        }
        Some(_) => {
            outcome
                .problems
                .push("報告済です。変更報告として入力してください".into());
            None
        }
    };
    Ok(outcome)
}

/// What applying one accepted form did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Written {
    Draft { report_id: i32 },
    Submitted { report_id: i32, number: i32 },
}

/// How to apply: whether a clinic's own draft may be replaced, whether a complete form
/// is submitted.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    pub overwrite_clinic_draft: bool,
    pub submit: bool,
}

/// Writes one accepted form as the institution's 定期報告 draft, entered by proxy: the
/// report started if there is none (pre-printed with the NDB like any start), its
/// answers made exactly the form's, each section marked; submitted when asked and
/// complete. One transaction: the form is written whole or not at all. Re-applying the
/// same form leaves the same draft.
pub fn apply(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    actor: &crate::services::Actor,
    fiscal_year: i32,
    outcome: &FileOutcome,
    options: ApplyOptions,
) -> Result<Written, super::PaperError> {
    use super::PaperError;
    use crate::services::reports::{self, StartRequest};
    let refused = |m: &str| PaperError::Invalid(format!("{}: {m}", outcome.file_name));
    let institution_id = outcome
        .institution_id
        .filter(|_| outcome.accepted())
        .ok_or_else(|| refused("受け付けられない調査票です"))?;
    let today = crate::domain::wareki::today_jst(chrono::Utc::now());
    crate::db::write_transaction(conn, |conn| {
        let latest = db::reports::latest_cycle(conn, institution_id, fiscal_year)?;
        match &latest {
            Some(r) if r.status != Status::Draft.code() && r.status != Status::Returned.code() => {
                return Err(refused("報告済です。変更報告として入力してください"));
            }
            Some(r) if !r.proxy && !options.overwrite_clinic_draft => {
                return Err(refused(
                    "医療機関が入力中の下書きがあります。上書きするときは「下書きを上書きする」を選んでください",
                ));
            }
            _ => {}
        }
        let report_id = match latest {
            Some(r) => r.id,
            None => reports::start(
                conn,
                catalogs,
                actor,
                &StartRequest {
                    institution_id,
                    fiscal_year,
                    kind: crate::domain::report::ReportKind::Periodic,
                    typed_code: outcome.code.clone().unwrap_or_default(),
                    today,
                },
            )
            .map_err(|e| refused(&e.to_string()))?,
        };
        let loaded = reports::load(conn, catalogs, actor.scope, report_id)
            .map_err(|e| refused(&e.to_string()))?;
        let catalog = &loaded.catalog;
        let marks: crate::domain::report::SectionMarks = catalog
            .sections
            .iter()
            .map(|s| {
                let complete =
                    crate::domain::report::section_problems(catalog, &s.id, &outcome.read)
                        .is_empty();
                (
                    s.id.clone(),
                    if complete { "complete" } else { "saved" }.to_string(),
                )
            })
            .collect();
        let d = determination::determine(catalog, &outcome.read);
        let saved = db::reports::save_draft(
            conn,
            report_id,
            loaded.report.revision,
            &db::reports::DraftUpdate {
                answers: &crate::services::to_json(&outcome.read)?,
                sections: &crate::services::to_json(&marks)?,
                catalog_version: &catalog.version,
                determination: &d,
                proxy: true,
                by: actor.user_id,
                at: chrono::Utc::now().naive_utc(),
            },
        )?;
        if !saved {
            return Err(refused(
                "ほかの人が同時に更新しました。もう一度取り込んでください",
            ));
        }
        let detail = serde_json::json!({
            "file": outcome.file_name,
            "code": outcome.code,
            "fiscal_year": fiscal_year,
            "answers": outcome.answers,
            "overwrote_clinic_draft": options.overwrite_clinic_draft && !loaded.report.proxy,
        });
        let entry = actor.entry(
            "report",
            report_id,
            Some(loaded.institution.prefecture_id),
            Some(detail),
        );
        crate::db::audit::record(conn, crate::db::audit::Action::PaperFormImport, entry)?;
        if options.submit && outcome.complete {
            let revision = loaded.report.revision + 1;
            match reports::submit(conn, catalogs, actor, report_id, revision, today)
                .map_err(|e| refused(&e.to_string()))?
            {
                reports::SubmitOutcome::Submitted { number }
                | reports::SubmitOutcome::AlreadySubmitted { number } => {
                    return Ok(Written::Submitted { report_id, number });
                }
                _ => return Err(refused("報告できませんでした（未回答の項目があります）")),
            }
        }
        Ok(Written::Draft { report_id })
    })
}
