//! 全項目CSV: one row per report (定期報告 and 変更報告 apart, with a 種類 column), its
//! latest version or every version, with the institution, status, times, proxy flag,
//! determination and every catalog item of the fiscal year in catalog order. It holds
//! unmasked NDB counts: it is for the prefecture's own analysis, not for publication.

use chrono::NaiveDateTime;
use serde::Deserialize;

use super::{ExportError, Summary};
use crate::db::DbConnection;
use crate::db::exports::{self as store, ReportFilter, ReportLine};
use crate::domain::export::{Cell, Column, ItemColumns};
use crate::domain::institution::Category;
use crate::domain::report::{ReportKind, Status};
use crate::domain::wareki;
use crate::export::Sheet;
use crate::services::By;
use crate::services::catalogs::Catalogs;

/// Which reports, by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChoice {
    Confirmed,
    /// 報告済・再報告済: waiting for the prefecture.
    Awaiting,
    Returned,
    /// Every report with a submitted version.
    Submitted,
}

impl StatusChoice {
    pub const ALL: [StatusChoice; 4] = [
        StatusChoice::Confirmed,
        StatusChoice::Awaiting,
        StatusChoice::Returned,
        StatusChoice::Submitted,
    ];

    pub fn code(self) -> &'static str {
        match self {
            StatusChoice::Confirmed => "confirmed",
            StatusChoice::Awaiting => "awaiting",
            StatusChoice::Returned => "returned",
            StatusChoice::Submitted => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StatusChoice::Confirmed => "確認済",
            StatusChoice::Awaiting => "確認待ち（報告済・再報告済）",
            StatusChoice::Returned => "差戻し",
            StatusChoice::Submitted => "提出されたすべて（差戻し・確認待ち・確認済）",
        }
    }

    pub fn from_code(code: &str) -> Option<StatusChoice> {
        StatusChoice::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn statuses(self) -> Vec<&'static str> {
        match self {
            StatusChoice::Confirmed => vec![Status::Confirmed.code()],
            StatusChoice::Awaiting => vec![Status::Submitted.code(), Status::Resubmitted.code()],
            StatusChoice::Returned => vec![Status::Returned.code()],
            StatusChoice::Submitted => Vec::new(),
        }
    }
}

/// A 全項目CSV as asked.
#[derive(Debug, Clone)]
pub struct ReportExport {
    pub filter: ReportFilter,
    pub all_versions: bool,
    /// A second header row of item codes.
    pub codes: bool,
}

/// The columns before the items: (heading, code).
const FIXED: [(&str, &str); 22] = [
    ("医療機関コード", "institution_code"),
    ("名称", "name"),
    ("種別", "category"),
    ("郵便番号", "postcode"),
    ("所在地", "address"),
    ("電話番号", "phone"),
    ("メールアドレス", "email"),
    ("管理者", "manager"),
    ("保健所", "jurisdiction"),
    ("市区町村", "municipality"),
    ("種類", "kind"),
    ("状態", "status"),
    ("版", "version"),
    ("最新版", "latest"),
    ("報告日時", "submitted_at"),
    ("確認日時", "confirmed_at"),
    ("代理入力", "proxy"),
    ("1号機能", "function1"),
    ("2号イ", "after_hours"),
    ("2号ロ", "admission_discharge"),
    ("2号ハ", "home_care"),
    ("2号ニ", "care_coordination"),
];

/// Rows between two reports of progress.
const PROGRESS_EVERY: usize = 1000;

/// The determination as stored with a version (domain.md §4.5); the reasons are not
/// needed here.
#[derive(Deserialize)]
struct Decided {
    function1: bool,
    function2: Functions2,
}

#[derive(Deserialize)]
struct Functions2 {
    after_hours: bool,
    admission_discharge: bool,
    home_care: bool,
    care_coordination: bool,
}

/// Every column of the year's export: the fixed ones, then the catalog's items.
pub fn report_columns(items: &ItemColumns) -> Vec<Column> {
    FIXED
        .iter()
        .map(|(heading, code)| Column {
            heading: (*heading).into(),
            code: (*code).into(),
        })
        .chain(items.columns().cloned())
        .collect()
}

/// How many rows the export will have.
pub fn count_reports(
    conn: &mut DbConnection,
    by: By,
    request: &ReportExport,
) -> Result<i64, ExportError> {
    Ok(store::count_reports(
        conn,
        by.scope(),
        &request.filter,
        request.all_versions,
    )?)
}

/// A time as JST `2027-01-15 10:32`, which Excel reads as a date and time.
fn time_cell(at: Option<NaiveDateTime>) -> Cell {
    use chrono::{Datelike, Timelike};
    at.map_or(Cell::Empty, |t| {
        let j = wareki::to_jst(t);
        Cell::Text(format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            j.year(),
            j.month(),
            j.day(),
            j.hour(),
            j.minute()
        ))
    })
}

fn optional(text: &Option<String>) -> Cell {
    text.as_deref().map_or(Cell::Empty, Cell::text)
}

/// Writes the export; `progress` is told the rows written after each chunk.
pub fn write_reports(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    by: By,
    request: &ReportExport,
    mut sheet: Box<dyn Sheet + '_>,
    progress: &mut dyn FnMut(usize),
) -> Result<Summary, ExportError> {
    let fy = request.filter.fiscal_year;
    let catalog = catalogs.current(conn, fy)?;
    let items = ItemColumns::of(&catalog);
    let columns = report_columns(&items);
    let areas = store::area_names(conn)?;
    sheet.row(
        &columns
            .iter()
            .map(|c| Cell::text(&c.heading))
            .collect::<Vec<_>>(),
    )?;
    if request.codes {
        sheet.row(
            &columns
                .iter()
                .map(|c| Cell::text(&c.code))
                .collect::<Vec<_>>(),
        )?;
    }
    let area = |id: Option<i32>| {
        id.and_then(|i| areas.get(&i))
            .map_or(Cell::Empty, Cell::text)
    };
    let mut rows = 0;
    let mut cells = Vec::with_capacity(columns.len());
    store::each_report_line(
        conn,
        by.scope(),
        &request.filter,
        request.all_versions,
        |line| -> Result<(), ExportError> {
            cells.clear();
            fixed_cells(&line, &area, &mut cells);
            let answers: crate::domain::determination::Answers =
                serde_json::from_str(&line.answers).unwrap_or_default();
            items.cells(&answers, &mut cells);
            sheet.row(&cells)?;
            rows += 1;
            if rows % PROGRESS_EVERY == 0 {
                progress(rows);
            }
            Ok(())
        },
    )?;
    progress(rows);
    let replaced = sheet.finish()?;
    let summary = Summary {
        rows,
        columns: columns.len(),
        replaced,
    };
    super::record(
        conn,
        by,
        "reports",
        serde_json::json!({
            "what": "全項目CSV",
            "fiscal_year": fy,
            "statuses": request.filter.statuses,
            "all_versions": request.all_versions,
            "rows": rows,
        }),
    )?;
    Ok(summary)
}

fn fixed_cells(line: &ReportLine, area: &dyn Fn(Option<i32>) -> Cell, cells: &mut Vec<Cell>) {
    let decided: Option<Decided> = serde_json::from_str(&line.determination).ok();
    let latest = line.number == line.versions;
    cells.extend([
        Cell::text(&line.code),
        Cell::text(&line.name),
        Cell::text(
            Category::from_code(&line.category).map_or(line.category.as_str(), |c| c.label()),
        ),
        optional(&line.postcode),
        Cell::text(&line.address),
        optional(&line.phone),
        optional(&line.email),
        optional(&line.manager),
        area(line.jurisdiction_id),
        area(line.municipality_id),
        Cell::text(ReportKind::from_code(&line.kind).map_or(line.kind.as_str(), |k| k.label())),
        Cell::text(Status::from_code(&line.status).map_or(line.status.as_str(), |s| s.label())),
        Cell::Number(f64::from(line.number)),
        Cell::flag(latest),
        time_cell(Some(line.submitted_at)),
        time_cell(line.confirmed_at.filter(|_| latest)),
        Cell::flag(line.proxy),
    ]);
    match decided {
        Some(d) => cells.extend([
            Cell::flag(d.function1),
            Cell::flag(d.function2.after_hours),
            Cell::flag(d.function2.admission_discharge),
            Cell::flag(d.function2.home_care),
            Cell::flag(d.function2.care_coordination),
        ]),
        None => cells.extend(std::iter::repeat_n(Cell::Empty, 5)),
    }
}
