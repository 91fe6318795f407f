//! The institution master's two input layouts, read from a [`Grid`]:
//!
//! - the regional bureau's 「コード内容別医療機関一覧表」: headings and a header block
//!   repeated per printed page, each institution a block of 2–6 rows starting where
//!   column A holds the serial number (domain.md §3);
//! - our own template: one header row naming the columns ([`TEMPLATE_COLUMNS`]).
//!
//! Parsing is pure: rows become [`Record`]s or [`Rejected`] rows with the reason.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::Grid;
use crate::domain::codes::{FeeTable, InstitutionCode};
use crate::domain::institution::{Category, Status};
use crate::domain::normalize::{self, nfkc, parse_date, split_postcode};

/// One institution as the file describes it. `None` means "the file does not say":
/// an existing value is then kept.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// 1-based row number in the sheet, as Excel shows it.
    pub row: usize,
    pub code: InstitutionCode,
    pub category: Category,
    pub name: String,
    pub name_kana: Option<String>,
    pub postcode: Option<String>,
    pub address: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub founder: Option<String>,
    pub manager: Option<String>,
    pub designated_on: Option<NaiveDate>,
    pub departments: Option<String>,
    pub status: Status,
    pub paper_report: Option<bool>,
    pub is_special_function: Option<bool>,
    pub is_correctional: Option<bool>,
    /// Problems that did not stop the row (an unreadable date, say).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rejected {
    pub row: usize,
    pub code: String,
    pub name: String,
    pub reason: String,
    /// How many rows this entry stands for (a repeated code is one entry).
    #[serde(default = "one")]
    pub rows: usize,
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Layout {
    Bureau,
    Template,
}

impl Layout {
    pub fn label(self) -> &'static str {
        match self {
            Layout::Bureau => "地方厚生局「コード内容別医療機関一覧表」",
            Layout::Template => "取込用テンプレート",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Layout::Bureau => "bureau",
            Layout::Template => "template",
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Parsed {
    pub layout: Layout,
    /// 2-digit prefecture code named by the file (bureau heading), if any.
    pub prefecture_name: Option<String>,
    pub fee_table: FeeTable,
    pub records: Vec<Record>,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("シートが空です")]
    Empty,
    #[error(
        "表の形式が分かりません。地方厚生局の「コード内容別医療機関一覧表」（見出しに「コード内容別医療機関一覧表」、A列に項番、B列に医療機関番号）か、取込用テンプレート（1行目に「{columns}」などの列名）を選んでください"
    )]
    Unknown { columns: String },
    #[error("薬局の一覧は取り込みません（医科または歯科の一覧を選んでください）")]
    Pharmacy,
    #[error("取込用テンプレートの1行目に必須の列「{0}」がありません")]
    MissingColumn(String),
}

/// Column names of our template, in the order of the downloadable file.
pub const TEMPLATE_COLUMNS: &[&str] = &[
    "医療機関コード",
    "名称",
    "名称カナ",
    "種別",
    "郵便番号",
    "所在地",
    "電話番号",
    "メールアドレス",
    "開設者",
    "管理者",
    "指定年月日",
    "診療科・病床",
    "状態",
    "紙報告",
    "特定機能病院",
    "刑事施設等",
];
const REQUIRED_COLUMNS: &[&str] = &["医療機関コード", "名称", "所在地"];

const BUREAU_TITLE: &str = "コード内容別医療機関一覧表";

/// Reads a grid in whichever layout it has. `prefecture` is the 2-digit code to build
/// 10-digit codes from 7-digit ones (the bureau file prints 7 digits).
pub fn parse(grid: &Grid, prefecture: u8) -> Result<Parsed, LayoutError> {
    if grid.is_blank() {
        return Err(LayoutError::Empty);
    }
    let top: Vec<&str> = (0..grid.height().min(30))
        .flat_map(|r| grid.row(r).map(|(_, c)| c))
        .collect();
    if top.iter().any(|c| c.contains(BUREAU_TITLE)) {
        return parse_bureau(grid, prefecture);
    }
    if let Some(header_row) = (0..grid.height().min(5))
        .find(|&r| grid.row(r).any(|(_, c)| nfkc(c.trim()) == "医療機関コード"))
    {
        return parse_template(grid, header_row, prefecture);
    }
    Err(LayoutError::Unknown {
        columns: REQUIRED_COLUMNS.join("」「"),
    })
}

fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

fn optional(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The prefecture named by a heading cell like 「[鹿児島県]」.
fn bureau_prefecture(cells: &[&str]) -> Option<String> {
    cells.iter().find_map(|c| {
        let t = nfkc(c.trim());
        let inner = t.strip_prefix('[')?.strip_suffix(']')?;
        inner
            .ends_with(['都', '道', '府', '県'])
            .then(|| inner.trim().to_string())
    })
}

fn bureau_fee_table(cells: &[&str]) -> Result<FeeTable, LayoutError> {
    for c in cells {
        let t = nfkc(c);
        if t.starts_with('[') && t.contains("現在") {
            if t.contains("薬局") {
                return Err(LayoutError::Pharmacy);
            }
            if t.contains("歯科") {
                return Ok(FeeTable::Dental);
            }
            return Ok(FeeTable::Medical);
        }
    }
    Ok(FeeTable::Medical)
}

fn is_serial(text: &str) -> Option<u64> {
    let t = nfkc(text.trim());
    (!t.is_empty() && t.len() <= 7 && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse().ok())
        .flatten()
}

/// True on rows that belong to a page heading or header block, which end a block.
fn is_heading_row(grid: &Grid, row: usize) -> bool {
    grid.row(row).any(|(_, c)| {
        let t = c.trim();
        t.contains(BUREAU_TITLE) || t == "項番" || t.contains("作成") && t.contains('頁')
    })
}

fn parse_bureau(grid: &Grid, prefecture: u8) -> Result<Parsed, LayoutError> {
    let top: Vec<&str> = (0..grid.height().min(30))
        .flat_map(|r| grid.row(r).map(|(_, c)| c))
        .collect();
    let fee_table = bureau_fee_table(&top)?;
    let prefecture_name = bureau_prefecture(&top);
    let starts: Vec<usize> = (0..grid.height())
        .filter(|&r| is_serial(grid.cell(r, 0)).is_some() && !grid.cell(r, 1).trim().is_empty())
        .collect();
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    for (i, &start) in starts.iter().enumerate() {
        let limit = starts.get(i + 1).copied().unwrap_or(grid.height());
        let end = (start + 1..limit)
            .find(|&r| is_heading_row(grid, r))
            .unwrap_or(limit);
        match bureau_block(grid, start, end, prefecture, fee_table) {
            Ok(record) => records.push(record),
            Err(reason) => rejected.push(Rejected {
                row: start + 1,
                code: first_line(grid.cell(start, 1)).to_string(),
                name: first_line(grid.cell(start, 2)).to_string(),
                reason,
                rows: 1,
            }),
        }
    }
    reject_duplicates(&mut records, &mut rejected);
    Ok(Parsed {
        layout: Layout::Bureau,
        prefecture_name,
        fee_table,
        records,
        rejected,
    })
}

fn category_of(text: &str, fee_table: FeeTable) -> Result<Category, String> {
    let t = nfkc(text.trim());
    match t.as_str() {
        "病院" => Ok(Category::Hospital),
        "診療所" => Ok(Category::Clinic),
        "歯科" | "歯科診療所" => Ok(Category::Dental),
        "" if fee_table == FeeTable::Dental => Ok(Category::Dental),
        "" => Err("種別（病院・診療所）が空です".into()),
        "薬局" => Err("薬局は取り込みません".into()),
        other => Err(format!(
            "種別「{other}」が分かりません（病院・診療所・歯科）"
        )),
    }
}

fn status_of(text: &str) -> Option<Status> {
    match nfkc(text.trim()).as_str() {
        "現存" | "" => Some(Status::Active),
        "休止" | "休院" => Some(Status::Suspended),
        "廃止" => Some(Status::Abolished),
        _ => None,
    }
}

fn bureau_block(
    grid: &Grid,
    start: usize,
    end: usize,
    prefecture: u8,
    fee_table: FeeTable,
) -> Result<Record, String> {
    let code_text = first_line(grid.cell(start, 1));
    let code = InstitutionCode::from_bureau_parts(prefecture, fee_table, code_text)
        .map_err(|e| format!("医療機関番号「{code_text}」: {e}"))?;
    let name = first_line(grid.cell(start, 2)).to_string();
    if name.is_empty() {
        return Err("名称が空です".into());
    }
    let category = if fee_table == FeeTable::Dental {
        Category::Dental
    } else {
        category_of(grid.cell(start, 9), fee_table)?
    };
    let (postcode, address) = split_postcode(grid.cell(start, 3));
    let mut warnings = Vec::new();
    let designated_on = match grid.cell(start, 7).trim() {
        "" => None,
        text => match parse_date(first_line(text)) {
            Ok(d) => Some(d),
            Err(e) => {
                warnings.push(e.to_string());
                None
            }
        },
    };
    // The status 現存/休止 stands in column J of a later row of the block.
    let mut status = Status::Active;
    for r in start + 1..end {
        let j = grid.cell(r, 9).trim();
        if j.is_empty() {
            continue;
        }
        match status_of(j) {
            Some(s) => {
                status = s;
                break;
            }
            None => warnings.push(format!("状態「{j}」が分からないため現存として扱います")),
        }
    }
    Ok(Record {
        row: start + 1,
        code,
        category,
        name,
        name_kana: None,
        postcode,
        address,
        phone: optional(first_line(grid.cell(start, 4))),
        email: None,
        founder: optional(grid.cell(start, 5)),
        manager: optional(grid.cell(start, 6)),
        designated_on,
        departments: optional(grid.cell(start, 8)),
        status,
        paper_report: None,
        is_special_function: None,
        is_correctional: None,
        warnings,
    })
}

/// A code that appears twice in one file is ambiguous: every occurrence is rejected,
/// rather than one silently winning. Each code is reported once, with its first row
/// numbers and how many rows hold it, so the work and the report stay linear in the
/// rows however many repeat.
fn reject_duplicates(records: &mut Vec<Record>, rejected: &mut Vec<Rejected>) {
    /// Row numbers named in a duplicate's reason.
    const NAMED: usize = 5;
    // Codes borrowed from the records: one small entry per distinct code.
    let mut count_of: HashMap<&str, u32> = HashMap::with_capacity(records.len());
    for r in records.iter() {
        *count_of.entry(r.code.as_str()).or_default() += 1;
    }
    let mut groups: HashMap<String, (usize, Vec<usize>)> = HashMap::new();
    for r in records.iter() {
        let n = count_of[r.code.as_str()] as usize;
        if n > 1 {
            let (_, rows) = groups
                .entry(r.code.to_string())
                .or_insert_with(|| (n, Vec::new()));
            if rows.len() < NAMED {
                rows.push(r.row);
            }
        }
    }
    drop(count_of);
    if groups.is_empty() {
        return;
    }
    let mut reported: std::collections::HashSet<String> = std::collections::HashSet::new();
    records.retain(|r| {
        let Some((n, rows)) = groups.remove(r.code.as_str()) else {
            // Not repeated, or a later row of a code already reported.
            return !reported.contains(r.code.as_str());
        };
        reported.insert(r.code.to_string());
        let mut named: Vec<String> = rows.iter().map(|n| format!("{n}行目")).collect();
        if n > NAMED {
            named.push("…".into());
        }
        rejected.push(Rejected {
            row: r.row,
            code: r.code.to_string(),
            name: r.name.clone(),
            reason: format!(
                "同じ医療機関コードがファイル内に {n} 行あります（{}）。どの行も取り込みません",
                named.join("・")
            ),
            rows: n,
        });
        false
    });
    rejected.sort_by_key(|r| r.row);
}

fn yes_no(text: &str) -> Result<Option<bool>, String> {
    match nfkc(text.trim()).to_lowercase().as_str() {
        "" => Ok(None),
        "1" | "はい" | "○" | "◯" | "有" | "あり" | "true" | "yes" | "対象" => {
            Ok(Some(true))
        }
        "0" | "いいえ" | "×" | "無" | "なし" | "false" | "no" | "対象外" => {
            Ok(Some(false))
        }
        other => Err(format!(
            "「{other}」は はい／いいえ（1／0）で入力してください"
        )),
    }
}

fn parse_template(grid: &Grid, header_row: usize, prefecture: u8) -> Result<Parsed, LayoutError> {
    let mut columns: HashMap<&'static str, usize> = HashMap::new();
    for (i, caption) in grid.row(header_row) {
        let caption = nfkc(caption.trim());
        if let Some(known) = TEMPLATE_COLUMNS.iter().find(|k| nfkc(k) == caption) {
            columns.entry(known).or_insert(i);
        }
    }
    for required in REQUIRED_COLUMNS {
        if !columns.contains_key(required) {
            return Err(LayoutError::MissingColumn(required.to_string()));
        }
    }
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    for r in header_row + 1..grid.height() {
        if grid.row_is_blank(r) {
            continue;
        }
        let get = |name: &str| -> String {
            columns
                .get(name)
                .map_or(String::new(), |&c| grid.cell(r, c).to_string())
        };
        match template_row(&get, r + 1, prefecture) {
            Ok(record) => records.push(record),
            Err(reason) => rejected.push(Rejected {
                row: r + 1,
                code: get("医療機関コード").trim().to_string(),
                name: get("名称").trim().to_string(),
                reason,
                rows: 1,
            }),
        }
    }
    reject_duplicates(&mut records, &mut rejected);
    let fee_table = if !records.is_empty() && records.iter().all(|r| r.category == Category::Dental)
    {
        FeeTable::Dental
    } else {
        FeeTable::Medical
    };
    Ok(Parsed {
        layout: Layout::Template,
        prefecture_name: None,
        fee_table,
        records,
        rejected,
    })
}

fn template_row(
    get: &dyn Fn(&str) -> String,
    row: usize,
    prefecture: u8,
) -> Result<Record, String> {
    let code_cell = get("医療機関コード");
    let code_text = code_cell.trim();
    let code = match normalize::digits(&code_text.replace(['-', '－', '.'], "")) {
        Some(d) if d.len() == 7 => {
            InstitutionCode::from_bureau_parts(prefecture, FeeTable::Medical, &d)
        }
        _ => InstitutionCode::parse(code_text),
    }
    .map_err(|e| format!("医療機関コード「{code_text}」: {e}"))?;
    let name = get("名称").trim().to_string();
    if name.is_empty() {
        return Err("名称が空です".into());
    }
    if name.chars().count() > 200 {
        return Err("名称が長すぎます（200文字まで）".into());
    }
    let fee_table = code.fee_table().unwrap_or(FeeTable::Medical);
    if fee_table == FeeTable::Pharmacy {
        return Err("薬局のコードは取り込みません".into());
    }
    let category = match get("種別").trim() {
        "" if fee_table == FeeTable::Dental => Category::Dental,
        "" => Category::Clinic,
        text => category_of(text, fee_table)?,
    };
    let address_text = get("所在地");
    if address_text.trim().is_empty() {
        return Err("所在地が空です".into());
    }
    let (postcode_in_address, address) = split_postcode(&address_text);
    let postcode = match get("郵便番号").trim() {
        "" => postcode_in_address,
        text => match normalize::digits(&text.replace(['-', '－', '〒'], "")) {
            Some(d) if d.len() == 7 => Some(format!("{}-{}", &d[..3], &d[3..])),
            _ => return Err(format!("郵便番号「{text}」は7桁で入力してください")),
        },
    };
    let email = optional(&get("メールアドレス"));
    if let Some(e) = &email
        && (!e.contains('@') || e.contains(char::is_whitespace) || e.len() > 254)
    {
        return Err(format!("メールアドレス「{e}」の形式が正しくありません"));
    }
    let mut warnings = Vec::new();
    let designated_on = match get("指定年月日").trim() {
        "" => None,
        text => match parse_date(text) {
            Ok(d) => Some(d),
            Err(e) => {
                warnings.push(e.to_string());
                None
            }
        },
    };
    let status_text = get("状態");
    let status = status_of(&status_text).ok_or_else(|| {
        format!(
            "状態「{}」は 現存・休止・廃止 のいずれかです",
            status_text.trim()
        )
    })?;
    Ok(Record {
        row,
        code,
        category,
        name,
        name_kana: optional(&get("名称カナ")),
        postcode,
        address,
        phone: optional(&get("電話番号")),
        email,
        founder: optional(&get("開設者")),
        manager: optional(&get("管理者")),
        designated_on,
        departments: optional(&get("診療科・病床")),
        status,
        paper_report: yes_no(&get("紙報告")).map_err(|e| format!("紙報告: {e}"))?,
        is_special_function: yes_no(&get("特定機能病院"))
            .map_err(|e| format!("特定機能病院: {e}"))?,
        is_correctional: yes_no(&get("刑事施設等")).map_err(|e| format!("刑事施設等: {e}"))?,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: &[&[&str]]) -> Grid {
        let rows: Vec<Vec<&str>> = rows.iter().map(|r| r.to_vec()).collect();
        Grid::from_rows(&rows)
    }

    /// A valid printed code for prefecture 46, 医科.
    fn seven(district: u8, serial: u16) -> String {
        let full = InstitutionCode::with_check_digit(46, FeeTable::Medical, district, serial);
        full.bureau_form()
    }

    fn bureau_sheet() -> Grid {
        let a = format!("{}  ", seven(1, 1047));
        let b = format!("{}\n01-0000-0", seven(2, 40));
        let c = seven(3, 1857).replace('-', ".");
        let heading: &[&str] = &["", "", "コード内容別医療機関一覧表", "", "[鹿児島県]"];
        let scope: &[&str] = &[
            "",
            "",
            "[令和 8年 7月 1日現在 医科 現存/休止]",
            "",
            "",
            "",
            "",
            "",
            "令和 8年 7月 1日作成 1頁",
        ];
        let header: &[&str] = &[
            "項番",
            "医療機関番号",
            "医療機関名称",
            "医療機関所在地",
            "電話番号",
            "開設者氏名",
            "管理者氏名",
            "指定年月日",
            "病床数",
            "備考",
        ];
        // Column J holds 種別 on a block's first row and 現存/休止 on a later one.
        let later = |h: &'static str, j: &'static str| -> Vec<&'static str> {
            vec!["", "", "", "", "", "", "", h, "", j]
        };
        let (r1, r2, r3) = (
            later("新規", "現存"),
            later("移転", "休止"),
            later("令 5. 4. 1", ""),
        );
        let r4 = later("", "現存");
        grid(&[
            heading,
            scope,
            header,
            &[
                "1",
                &a,
                "さくら　内科",
                "〒892－0844鹿児島市山之口町１－１０",
                "099-222-3333",
                "医療法人　桜会",
                "田中　太郎",
                "昭38. 5. 1",
                "内科\n小児科",
                "診療所",
            ],
            &r1,
            heading,
            header,
            &[
                "2",
                &b,
                "<b>ひまわり</b>病院",
                "〒899－4332\n霧島市国分中央３丁目４５番１号",
                "",
                "",
                "",
                "令元. 5. 1",
                "一般　120",
                "病院",
            ],
            &r2,
            &r3,
            &[
                "3",
                &c,
                "=HYPERLINK(\"x\")",
                "鹿屋市",
                "",
                "",
                "",
                "不明",
                "",
                "診療所",
            ],
            &r4,
            &["4", "01-1047-9", "検証番号違い", "鹿屋市"],
        ])
    }

    #[test]
    fn bureau_blocks_become_records() {
        let parsed = parse(&bureau_sheet(), 46).unwrap();
        assert_eq!(parsed.layout, Layout::Bureau);
        assert_eq!(parsed.prefecture_name.as_deref(), Some("鹿児島県"));
        assert_eq!(parsed.fee_table, FeeTable::Medical);
        assert_eq!(parsed.records.len(), 3, "{:?}", parsed.rejected);
        let first = &parsed.records[0];
        assert_eq!(first.code.bureau_form(), seven(1, 1047));
        assert_eq!(first.name, "さくら　内科");
        assert_eq!(first.postcode.as_deref(), Some("892-0844"));
        assert_eq!(first.address, "鹿児島市山之口町１－１０");
        assert_eq!(first.designated_on, NaiveDate::from_ymd_opt(1963, 5, 1));
        assert_eq!(first.departments.as_deref(), Some("内科\n小児科"));
        assert_eq!(first.status, Status::Active);
        assert_eq!(first.category, Category::Clinic);
        assert_eq!(first.row, 4);
        let second = &parsed.records[1];
        assert_eq!(
            second.code.bureau_form(),
            seven(2, 40),
            "first line of a two-line code"
        );
        assert_eq!(second.status, Status::Suspended);
        assert_eq!(second.category, Category::Hospital);
        assert_eq!(second.address, "霧島市国分中央３丁目４５番１号");
        assert_eq!(second.designated_on, NaiveDate::from_ymd_opt(2019, 5, 1));
        let third = &parsed.records[2];
        assert_eq!(
            third.name, "=HYPERLINK(\"x\")",
            "kept as text, never evaluated"
        );
        assert_eq!(third.warnings.len(), 1, "an unreadable date is a warning");
        assert_eq!(parsed.rejected.len(), 1);
        assert_eq!(parsed.rejected[0].row, 13);
        assert!(parsed.rejected[0].reason.contains("検証番号"));
    }

    #[test]
    fn duplicate_codes_reject_every_occurrence() {
        let code = InstitutionCode::with_check_digit(46, FeeTable::Medical, 1, 1).to_string();
        let other = InstitutionCode::with_check_digit(46, FeeTable::Medical, 1, 9).to_string();
        let g = grid(&[
            &["医療機関コード", "名称", "所在地"],
            &[&code, "A", "鹿児島市"],
            &[&other, "B", "鹿児島市"],
            &[&code, "C", "鹿児島市"],
        ]);
        let parsed = parse(&g, 46).unwrap();
        assert_eq!(parsed.layout, Layout::Template);
        assert_eq!(parsed.records.len(), 1, "{:?}", parsed.rejected);
        // One entry for the code, standing for both rows.
        assert_eq!(parsed.rejected.len(), 1);
        assert_eq!(parsed.rejected[0].rows, 2);
        assert!(parsed.rejected[0].reason.contains("2 行"));
        assert!(parsed.rejected[0].reason.contains("2行目・4行目"));
    }

    #[test]
    fn many_copies_of_one_code_are_one_entry_and_linear_work() {
        let code = InstitutionCode::with_check_digit(46, FeeTable::Medical, 1, 1).to_string();
        let mut rows: Vec<Vec<String>> = vec![vec![
            "医療機関コード".into(),
            "名称".into(),
            "所在地".into(),
        ]];
        for _ in 0..20_000 {
            rows.push(vec![code.clone(), "医院".into(), "鹿児島市".into()]);
        }
        let parsed = parse(&Grid::from_rows(&rows), 46).unwrap();
        assert!(parsed.records.is_empty());
        assert_eq!(parsed.rejected.len(), 1);
        assert_eq!(parsed.rejected[0].rows, 20_000);
        // The reason names the first rows only, not 20,000 of them.
        assert!(
            parsed.rejected[0].reason.len() < 300,
            "{}",
            parsed.rejected[0].reason
        );
        assert!(
            parsed.rejected[0]
                .reason
                .contains("2行目・3行目・4行目・5行目・6行目・…")
        );
    }

    #[test]
    fn template_rows_are_checked_field_by_field() {
        let ok = InstitutionCode::with_check_digit(46, FeeTable::Medical, 1, 2).to_string();
        let ok2 = InstitutionCode::with_check_digit(46, FeeTable::Medical, 1, 3).to_string();
        let ok3 = InstitutionCode::with_check_digit(46, FeeTable::Medical, 1, 4).to_string();
        let g = grid(&[
            &[
                "医療機関コード",
                "名称",
                "所在地",
                "メールアドレス",
                "紙報告",
                "状態",
                "郵便番号",
            ],
            &[
                &ok,
                "Ａ医院",
                "〒892-0001 鹿児島市",
                "a@example.jp",
                "はい",
                "",
                "",
            ],
            &[&ok2, "B", "鹿児島市", "not-an-address", "", "", ""],
            &[&ok3, "C", "鹿児島市", "", "maybe", "", ""],
            &["4610000010", "D", "鹿児島市", "", "", "", ""],
            &[&ok3.replace('4', "９"), "E", "", "", "", "", ""],
        ]);
        let parsed = parse(&g, 46).unwrap();
        assert_eq!(parsed.records.len(), 1);
        let r = &parsed.records[0];
        assert_eq!(r.postcode.as_deref(), Some("892-0001"));
        assert_eq!(r.paper_report, Some(true));
        assert_eq!(r.email.as_deref(), Some("a@example.jp"));
        let reasons: Vec<&str> = parsed.rejected.iter().map(|x| x.reason.as_str()).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].contains("メールアドレス"));
        assert!(reasons[1].contains("紙報告"));
        assert!(reasons[2].contains("検証番号"));
    }

    #[test]
    fn unknown_layouts_say_what_was_expected() {
        let g = grid(&[&["日付", "品名", "数量"], &["2026-01-01", "りんご", "3"]]);
        let err = parse(&g, 46).unwrap_err();
        assert!(err.to_string().contains("コード内容別医療機関一覧表"));
        assert_eq!(parse(&Grid::default(), 46), Err(LayoutError::Empty));
        let g = grid(&[&["医療機関コード", "名称"]]);
        assert_eq!(
            parse(&g, 46),
            Err(LayoutError::MissingColumn("所在地".into()))
        );
        let g = grid(&[
            &["コード内容別医療機関一覧表"],
            &["[令和 8年 7月 1日現在 薬局 現存/休止]"],
        ]);
        assert_eq!(parse(&g, 46), Err(LayoutError::Pharmacy));
    }

    #[test]
    fn random_grids_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let pieces = [
            "",
            "1",
            "２",
            "01-1047-8",
            "〒",
            "〒892－",
            "昭",
            "令元.",
            "現存",
            "休止",
            "病院",
            "コード内容別医療機関一覧表",
            "項番",
            "医療機関コード",
            "名称",
            "所在地",
            "\n",
            "=A1",
            "4610000011",
            "ｱ",
            "[鹿児島県]",
            "[令和 8年 7月 1日現在 医科 現存/休止]",
        ];
        for _ in 0..2_000 {
            let rows = rng.random_range(0..12);
            let cells: Vec<Vec<String>> = (0..rows)
                .map(|_| {
                    (0..rng.random_range(0..12))
                        .map(|_| {
                            let n = rng.random_range(0..3);
                            (0..n)
                                .map(|_| pieces[rng.random_range(0..pieces.len())])
                                .collect()
                        })
                        .collect()
                })
                .collect();
            let g = Grid::from_rows(&cells);
            let _ = parse(&g, rng.random_range(0..60));
        }
    }
}
