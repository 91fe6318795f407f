//! The upload of filled 調査票 in the staged flow of every import: the upload is read
//! and each workbook checked (stored with the file, nothing else written); applying
//! checks them again and writes every accepted form as a proxy draft in one
//! transaction, or nothing.

use serde::{Deserialize, Serialize};

use super::PaperError;
use super::imports::{self, ApplyOptions, FileOutcome, Written};
use crate::db::DbConnection;
use crate::db::audit::Action;
use crate::db::imports::ImportRow;
use crate::import::Limits;
use crate::services::Actor;
use crate::services::catalogs::Catalogs;
use crate::services::imports::{Applied, By, Preview, StageError, Staged};

pub const KIND: &str = "forms";

/// What a stored preview needs besides its file.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Stored {
    fiscal_year: i32,
    submit: bool,
    overwrite: bool,
}

/// One workbook's line on the preview and result pages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Line {
    pub file_name: String,
    pub code: Option<String>,
    pub institution: Option<String>,
    pub problems: Vec<String>,
    pub answers: usize,
    pub complete: bool,
    /// What applying will do, or (after applying) did.
    pub action: String,
    /// The report written, once applied.
    #[serde(default)]
    pub report_id: Option<i32>,
}

impl Line {
    fn of(o: &FileOutcome) -> Line {
        Line {
            file_name: o.file_name.clone(),
            code: o.code.clone(),
            institution: o.institution.clone(),
            problems: o.problems.clone(),
            answers: o.answers,
            complete: o.complete,
            action: o.action.unwrap_or("").to_string(),
            report_id: None,
        }
    }
}

/// Every workbook of an upload, checked; a file that is no workbook at all is one
/// refused line.
fn check_all(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    actor: &Actor,
    (fiscal_year, overwrite): (i32, bool),
    (file_name, bytes): (&str, &[u8]),
    limits: &Limits,
) -> Result<Vec<FileOutcome>, PaperError> {
    let books = match imports::workbooks(file_name, bytes, limits) {
        Ok(books) => books,
        Err(problem) => return Ok(vec![FileOutcome::refused(file_name, problem.to_string())]),
    };
    books
        .iter()
        .map(|(name, bytes)| {
            Ok(imports::check(
                conn,
                catalogs,
                actor.scope,
                fiscal_year,
                (name, bytes),
                (limits, overwrite),
            )?)
        })
        .collect()
}

/// An upload to preview.
pub struct Upload<'a> {
    pub fiscal_year: i32,
    pub submit: bool,
    pub overwrite: bool,
    pub file_name: &'a str,
    pub bytes: &'a [u8],
}

/// Reads and checks the upload and stores the preview; its id.
pub fn preview(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    actor: &Actor,
    upload: &Upload,
    limits: &Limits,
) -> Result<i32, PaperError> {
    if upload.bytes.is_empty() {
        return Err(PaperError::Invalid("ファイルを選んでください。".into()));
    }
    let outcomes = check_all(
        conn,
        catalogs,
        actor,
        (upload.fiscal_year, upload.overwrite),
        (upload.file_name, upload.bytes),
        limits,
    )?;
    let lines: Vec<Line> = outcomes.iter().map(Line::of).collect();
    let prefecture_id = crate::services::mail::prefecture_of(conn, actor.scope)
        .map_err(|e| PaperError::Invalid(e.to_string()))?;
    let stored = Stored {
        fiscal_year: upload.fiscal_year,
        submit: upload.submit,
        overwrite: upload.overwrite,
    };
    Ok(crate::services::imports::store(
        conn,
        &Preview {
            kind: KIND,
            file_name: upload.file_name,
            layout: "xlsx",
            prefecture_id,
            by: Some(actor.user_id),
            fingerprint: "",
            payload: &crate::services::to_json(&stored)?,
            summary: &crate::services::to_json(&lines)?,
            bytes: upload.bytes,
        },
    )?)
}

/// The lines of a stored import (its preview, or after applying what was done), and
/// its fiscal year.
pub fn lines(row: &ImportRow) -> (Vec<Line>, Option<i32>) {
    let lines = serde_json::from_str(&row.summary).unwrap_or_default();
    let fy = serde_json::from_str::<Stored>(&row.payload)
        .ok()
        .map(|s| s.fiscal_year);
    (lines, fy)
}

struct FormsImport<'a> {
    catalogs: &'a Catalogs,
    actor: &'a Actor,
    limits: &'a Limits,
}

impl Staged for FormsImport<'_> {
    const KIND: &'static str = KIND;
    const ACTION: Action = Action::PaperFormImport;
    const CHANGES: &'static [crate::db::changes::Counter] = &[crate::db::changes::Counter::Reports];
    type Read = (Stored, Vec<FileOutcome>);
    type Done = Vec<Line>;
    type Error = PaperError;

    fn read(
        &self,
        conn: &mut DbConnection,
        row: &ImportRow,
        bytes: &[u8],
    ) -> Result<Self::Read, PaperError> {
        let stored: Stored =
            serde_json::from_str(&row.payload).map_err(|_| StageError::FileGone)?;
        let outcomes = check_all(
            conn,
            self.catalogs,
            self.actor,
            (stored.fiscal_year, stored.overwrite),
            (&row.file_name, bytes),
            self.limits,
        )?;
        Ok((stored, outcomes))
    }

    fn write(
        &self,
        conn: &mut DbConnection,
        row: &ImportRow,
        (stored, outcomes): Self::Read,
        _by: &By,
    ) -> Result<Applied<Vec<Line>>, PaperError> {
        let options = ApplyOptions {
            overwrite_clinic_draft: stored.overwrite,
            submit: stored.submit,
        };
        let mut lines = Vec::new();
        for o in &outcomes {
            let mut line = Line::of(o);
            if o.accepted() {
                let (action, report_id) = match imports::apply(
                    conn,
                    self.catalogs,
                    self.actor,
                    stored.fiscal_year,
                    o,
                    options,
                )? {
                    Written::Draft { report_id } => {
                        ("下書きにしました（代理入力）".into(), report_id)
                    }
                    Written::Submitted { report_id, number } => {
                        (format!("報告しました（第{number}版）"), report_id)
                    }
                };
                line.action = action;
                line.report_id = Some(report_id);
            }
            lines.push(line);
        }
        let written = lines.iter().filter(|l| l.problems.is_empty()).count();
        Ok(Applied {
            summary: crate::services::to_json(&lines)?,
            detail: serde_json::json!({
                "file": row.file_name,
                "fiscal_year": stored.fiscal_year,
                "forms": outcomes.len(),
                "written": written,
                "submit": stored.submit,
                "overwrite": stored.overwrite,
            }),
            done: lines,
        })
    }
}

/// Applies a standing preview: every accepted form written, or (when one cannot be,
/// such as a draft changed since) nothing.
pub fn apply(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    actor: &Actor,
    id: i32,
    prefecture: Option<i32>,
    limits: &Limits,
) -> Result<Vec<Line>, PaperError> {
    let staged = FormsImport {
        catalogs,
        actor,
        limits,
    };
    crate::services::imports::apply(conn, &staged, id, prefecture, &By::user(actor))
}
