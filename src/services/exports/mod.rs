//! Exports (seed 003: 全項目CSV出力, 宛先情報ダウンロード, 報告対象機関一覧表示): what each
//! holds, within the asker's scope (an area officer gets its area only), written row
//! by row through [`crate::export`], and every download recorded in 操作履歴.

pub mod lists;
mod reports;

use chrono::NaiveDateTime;

use crate::db::audit::{self, Action};
use crate::db::{DbConnection, DbError};
use crate::domain::wareki;
use crate::services::By;
use crate::services::reports::ReportError;

pub use reports::{ReportExport, StatusChoice, count_reports, report_columns, write_reports};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Report(#[from] ReportError),
    #[error("ファイルを書き出せませんでした: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

impl From<diesel::result::Error> for ExportError {
    fn from(e: diesel::result::Error) -> Self {
        ExportError::Db(e.into())
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub rows: usize,
    pub columns: usize,
    /// Characters the encoding could not hold (CP932 only).
    pub replaced: usize,
}

/// The download's name: the scope's name (the prefecture, or the area), the fiscal
/// year, what it is and the JST date: `鹿児島県_令和8年度_全項目_20270401.csv`.
pub fn file_name(
    conn: &mut DbConnection,
    by: By,
    fiscal_year: Option<i32>,
    what: &str,
    extension: &str,
    now: NaiveDateTime,
) -> Result<String, ExportError> {
    let scope = match by.scope() {
        crate::domain::auth::Scope::All => "全体".to_string(),
        scope => crate::db::areas::scope_name(conn, scope)?,
    };
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_whitespace() || "/\\:*?\"<>|".contains(c) {
                    '_'
                } else {
                    c
                }
            })
            .collect()
    };
    let year = fiscal_year
        .map(|fy| format!("_{}", wareki::fiscal_year_label(fy)))
        .unwrap_or_default();
    let date = wareki::to_jst(now).format("%Y%m%d");
    Ok(format!(
        "{}{year}_{}_{date}.{extension}",
        clean(&scope),
        clean(what)
    ))
}

/// Records a download in 操作履歴, for the scope's prefecture.
pub(crate) fn record(
    conn: &mut DbConnection,
    by: By,
    what: &str,
    detail: serde_json::Value,
) -> Result<(), ExportError> {
    let prefecture = crate::db::users::prefecture_of(conn, by.scope())?;
    let entry = by.entry("export", what, prefecture, detail);
    audit::record(conn, Action::Export, entry)?;
    Ok(())
}

/// A 全項目CSV to write in the background, its progress kept in its record.
pub struct Job {
    pub pool: crate::db::Pool,
    pub catalogs: std::sync::Arc<crate::services::catalogs::Catalogs>,
    pub data_dir: std::path::PathBuf,
    pub actor: crate::services::Actor,
    pub request: ReportExport,
    pub encoding: crate::domain::export::TextEncoding,
    pub format: crate::domain::export::FileFormat,
    pub prepared: crate::export::files::Prepared,
}

/// Starts the job on a thread of its own (at a lower priority, like the mail threads,
/// so officers' pages keep the CPU first).
pub fn start(job: Job) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("export".into())
        .spawn(move || run(job))
        .map(|_| ())
}

fn run(job: Job) {
    crate::app::lower_thread_priority();
    let Job {
        pool,
        catalogs,
        data_dir,
        actor,
        request,
        encoding,
        format,
        mut prepared,
    } = job;
    let path = crate::export::files::data_path(&data_dir, &prepared);
    let partial = path.with_extension("partial");
    let outcome = (|| -> Result<Summary, ExportError> {
        let mut conn = pool
            .get()
            .map_err(|e| ExportError::Invalid(e.to_string()))?;
        let file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
        let sheet: Box<dyn crate::export::Sheet> = match format {
            crate::domain::export::FileFormat::Csv => {
                Box::new(crate::export::CsvSheet::new(file, encoding)?)
            }
            crate::domain::export::FileFormat::Xlsx => Box::new(crate::export::XlsxSheet::new(
                file,
                "全項目",
                if request.codes { 2 } else { 1 },
            )?),
        };
        let mut shown = prepared.clone();
        let mut last_saved = std::time::Instant::now();
        let mut progress = |rows: usize| {
            if last_saved.elapsed() >= std::time::Duration::from_millis(500) {
                shown.written = rows;
                let _ = crate::export::files::save(&data_dir, &shown);
                last_saved = std::time::Instant::now();
            }
        };
        let summary = write_reports(
            &mut conn,
            &catalogs,
            By::Officer(&actor),
            &request,
            sheet,
            &mut progress,
        )?;
        std::fs::rename(&partial, &path)?;
        Ok(summary)
    })();
    match outcome {
        Ok(summary) => {
            prepared.written = summary.rows;
            prepared.total = summary.rows;
            prepared.columns = summary.columns;
            prepared.replaced = summary.replaced;
        }
        Err(e) => {
            tracing::error!(error = %e, "export");
            let _ = std::fs::remove_file(&partial);
            prepared.error = Some(e.to_string());
        }
    }
    prepared.done = true;
    if let Err(e) = crate::export::files::save(&data_dir, &prepared) {
        tracing::error!(error = %e, "export record");
    }
}

impl crate::services::Failure for ExportError {
    fn kind(&self) -> crate::services::Kind {
        use crate::services::Kind;
        match self {
            ExportError::Db(e) => e.kind(),
            ExportError::Report(e) => e.kind(),
            ExportError::Io(_) => Kind::Internal,
            ExportError::Invalid(_) => Kind::Invalid,
        }
    }
}
