//! `kakari export reports …`: the 全項目CSV (or xlsx) from the command line, to a file
//! or to standard output, through the same service as the page.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Subcommand;

use crate::db::Pool;
use crate::db::exports::ReportFilter;
use crate::domain::auth::Scope;
use crate::domain::export::{FileFormat, TextEncoding};
use crate::domain::report::ReportKind;
use crate::export::{CsvSheet, Sheet, XlsxSheet};
use crate::services::By;
use crate::services::catalogs::Catalogs;
use crate::services::exports::{self as service, ReportExport, StatusChoice};

#[derive(Subcommand)]
pub enum ExportAction {
    /// 全項目CSV: every report of a fiscal year with every item (unmasked NDB counts:
    /// not for publication).
    Reports {
        /// Fiscal year (2026 for 令和8年度).
        #[arg(long)]
        fy: i32,
        /// confirmed (確認済, the default), awaiting, returned or all.
        #[arg(long, default_value = "confirmed")]
        status: String,
        /// periodic (定期報告) or change (変更報告); default both.
        #[arg(long)]
        kind: Option<String>,
        /// Every version of each report, not only the latest.
        #[arg(long)]
        all_versions: bool,
        /// utf-8-bom (default), utf-8 or cp932 (Shift_JIS).
        #[arg(long, default_value = "utf-8-bom")]
        encoding: String,
        /// csv (default) or xlsx.
        #[arg(long, default_value = "csv")]
        format: String,
        /// A second header row of item codes.
        #[arg(long)]
        codes: bool,
        /// Prefecture code (2 digits); default: the only prefecture.
        #[arg(long)]
        prefecture: Option<String>,
        /// The file to write; `-` is standard output.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// 集計表 of the published year: per 保健所 (area), 市区町村 (municipality) or
    /// 二次医療圏 (medical-area), small counts masked as published.
    Tables {
        #[arg(long)]
        fy: i32,
        /// area, municipality or medical-area.
        #[arg(long)]
        by: String,
        /// The same table unmasked, for checking (recorded in 操作履歴; never publish it).
        #[arg(long)]
        raw: bool,
        #[arg(long, default_value = "utf-8-bom")]
        encoding: String,
        #[arg(long, default_value = "csv")]
        format: String,
        #[arg(long)]
        prefecture: Option<String>,
        #[arg(long, short)]
        output: PathBuf,
    },
    /// 公表用CSV: one row per institution of the published year, the published items,
    /// small counts masked.
    Public {
        #[arg(long)]
        fy: i32,
        #[arg(long, default_value = "utf-8-bom")]
        encoding: String,
        #[arg(long, default_value = "csv")]
        format: String,
        #[arg(long)]
        prefecture: Option<String>,
        #[arg(long, short)]
        output: PathBuf,
    },
}

pub fn run(action: ExportAction, pool: &Pool) -> Result<(), String> {
    match action {
        ExportAction::Tables { .. } | ExportAction::Public { .. } => {
            crate::cli::publication::export(action, pool)
        }
        reports => run_reports(reports, pool),
    }
}

fn run_reports(action: ExportAction, pool: &Pool) -> Result<(), String> {
    let ExportAction::Reports {
        fy,
        status,
        kind,
        all_versions,
        encoding,
        format,
        codes,
        prefecture,
        output,
    } = action
    else {
        return Err("unreachable export".into());
    };
    let status = StatusChoice::from_code(&status).ok_or_else(|| {
        format!("--status {status}: confirmed, awaiting, returned, all のいずれか")
    })?;
    let kind = match kind {
        Some(k) => Some(
            ReportKind::from_code(&k)
                .ok_or_else(|| format!("--kind {k}: periodic または change"))?
                .code()
                .to_string(),
        ),
        None => None,
    };
    let encoding = TextEncoding::from_code(&encoding)
        .ok_or_else(|| format!("--encoding {encoding}: utf-8-bom, utf-8, cp932 のいずれか"))?;
    let format = FileFormat::from_code(&format)
        .ok_or_else(|| format!("--format {format}: csv または xlsx"))?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let scope = Scope::Prefecture(crate::cli::prefecture_id(&mut conn, prefecture.as_deref())?);
    let by = By::System {
        name: "kakari export",
        scope,
    };
    let request = ReportExport {
        filter: ReportFilter {
            fiscal_year: fy,
            statuses: status.statuses(),
            kind,
            ..ReportFilter::default()
        },
        all_versions,
        codes,
    };
    let catalogs = Catalogs::default();
    let header_rows = if codes { 2 } else { 1 };
    let summary = with_sheet(
        &output,
        format,
        encoding,
        "全項目",
        header_rows,
        |sheet| {
            service::write_reports(&mut conn, &catalogs, by, &request, sheet, &mut |_| {})
                .map_err(|e| e.to_string())
        },
    )?;
    let replaced = if summary.replaced > 0 {
        format!(
            "、Shift_JIS にない文字 {} 字を「{}」に置き換えました",
            summary.replaced,
            crate::domain::export::CP932_REPLACEMENT
        )
    } else {
        String::new()
    };
    eprintln!(
        "{} 行 × {} 列を書き出しました{replaced}（NDB の件数を伏せていません。公表には使わないでください）",
        summary.rows, summary.columns
    );
    Ok(())
}

/// Opens the sheet `write` fills: CSV or xlsx, to a file or to standard output.
pub(crate) fn with_sheet<F>(
    output: &std::path::Path,
    format: FileFormat,
    encoding: TextEncoding,
    sheet_name: &str,
    header_rows: usize,
    write: F,
) -> Result<service::Summary, String>
where
    F: for<'a> FnOnce(Box<dyn Sheet + 'a>) -> Result<service::Summary, String>,
{
    let to_stdout = output.as_os_str() == "-";
    let csv = |out: Box<dyn Write>| -> Result<Box<dyn Sheet>, String> {
        Ok(Box::new(
            CsvSheet::new(out, encoding).map_err(|e| e.to_string())?,
        ))
    };
    match (format, to_stdout) {
        (FileFormat::Csv, true) => write(csv(Box::new(BufWriter::new(std::io::stdout())))?),
        (FileFormat::Csv, false) => write(csv(Box::new(BufWriter::new(create(output)?)))?),
        (FileFormat::Xlsx, false) => {
            let out = BufWriter::new(create(output)?);
            let sheet = XlsxSheet::new(out, sheet_name, header_rows).map_err(|e| e.to_string())?;
            write(Box::new(sheet))
        }
        (FileFormat::Xlsx, true) => {
            // A zip needs to seek: written to a temporary file, then copied out.
            let tmp = TempFile::new()?;
            let file = tmp.reopen().map_err(|e| e.to_string())?;
            let sheet = XlsxSheet::new(BufWriter::new(file), sheet_name, header_rows)
                .map_err(|e| e.to_string())?;
            let summary = write(Box::new(sheet))?;
            let mut from = tmp.reopen().map_err(|e| e.to_string())?;
            let mut out = std::io::stdout().lock();
            std::io::copy(&mut from, &mut out).map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
            Ok(summary)
        }
    }
}

fn create(path: &std::path::Path) -> Result<std::fs::File, String> {
    std::fs::File::create(path).map_err(|e| format!("{} を作成できません: {e}", path.display()))
}

/// A file removed when dropped (the xlsx on its way to standard output).
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn new() -> Result<TempFile, String> {
        let path = std::env::temp_dir().join(format!(
            "kakari-export-{}.xlsx",
            crate::export::files::new_token()
        ));
        std::fs::File::create(&path).map_err(|e| e.to_string())?;
        Ok(TempFile { path })
    }

    fn reopen(&self) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
