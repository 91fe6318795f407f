//! What an export holds and how its text is written (seed 003: 全項目CSV出力): the
//! columns of a fiscal year's catalog, a report's answers as cells, and text in
//! Shift_JIS (CP932) for Excel on Windows, counting what CP932 cannot hold.

use serde_json::Value;

use super::catalog::{Catalog, Item, Kind};
use super::determination::Answers;

/// The text encoding of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 with a byte-order mark: Excel then reads Japanese correctly.
    Utf8Bom,
    Utf8,
    /// Shift_JIS as Windows writes it (CP932, Windows-31J).
    Cp932,
}

impl TextEncoding {
    pub const ALL: [TextEncoding; 3] = [
        TextEncoding::Utf8Bom,
        TextEncoding::Utf8,
        TextEncoding::Cp932,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TextEncoding::Utf8Bom => "utf-8-bom",
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Cp932 => "cp932",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8Bom => "UTF-8（BOM付き・Excel向け）",
            TextEncoding::Utf8 => "UTF-8（BOMなし）",
            TextEncoding::Cp932 => "Shift_JIS（CP932・古いExcel向け）",
        }
    }

    pub fn from_code(code: &str) -> Option<TextEncoding> {
        let code = code.trim().to_ascii_lowercase().replace('_', "-");
        match code.as_str() {
            "shift-jis" | "sjis" | "windows-31j" => Some(TextEncoding::Cp932),
            _ => TextEncoding::ALL.into_iter().find(|e| e.code() == code),
        }
    }
}

/// The kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    pub fn code(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Xlsx => "xlsx",
        }
    }

    pub fn from_code(code: &str) -> Option<FileFormat> {
        match code.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(FileFormat::Csv),
            "xlsx" => Some(FileFormat::Xlsx),
            _ => None,
        }
    }
}

/// One cell: text stays text and numbers stay numbers in a spreadsheet.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Cell {
        let text = text.into();
        if text.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(text)
        }
    }

    /// 1 or 0, as analysts count flags.
    pub fn flag(yes: bool) -> Cell {
        Cell::Number(if yes { 1.0 } else { 0.0 })
    }

    /// The cell as CSV text (numbers without a needless `.0`).
    pub fn to_csv_text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) => t.clone(),
            Cell::Number(n) => number_text(*n),
        }
    }
}

fn number_text(n: f64) -> String {
    let mut out = String::new();
    write_number(&mut out, n);
    out
}

/// Appends a number as a spreadsheet shows it: `12`, not `12.0`.
pub fn write_number(out: &mut String, n: f64) {
    use std::fmt::Write;
    let _ = if n.fract() == 0.0 && n.abs() < 1e15 {
        write!(out, "{}", n as i64)
    } else {
        write!(out, "{n}")
    };
}

/// A column: its Japanese heading and its code (the optional second header row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub heading: String,
    pub code: String,
}

/// Where an item column's value comes from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// The answer itself: a choice's code, a count, a decimal, a text.
    Value(String),
    /// 1 when a multi-choice answer holds this code, else 0 (empty when unanswered).
    Choice(String, i64),
    /// The n-th (0-based) name of a names answer.
    Name(String, usize),
    /// The key `<code>:other`: the text of その他.
    Other(String),
}

/// The catalog's items as columns, in catalog order.
#[derive(Debug, Clone)]
pub struct ItemColumns {
    columns: Vec<(Column, Source)>,
    /// The columns each answer key fills: a row is filled by walking its answers (a
    /// few dozen) rather than looking up every column (well over a hundred).
    by_key: std::collections::HashMap<String, Vec<usize>>,
}

/// How many names columns an item without a stated limit gets (domain.md: up to 8).
const DEFAULT_NAMES: usize = 8;

impl ItemColumns {
    pub fn of(catalog: &Catalog) -> ItemColumns {
        Self::of_items(catalog.items.iter())
    }

    /// The columns of some of a catalog's items (the published ones, for the 公表用CSV).
    pub fn of_items<'a>(items: impl Iterator<Item = &'a Item>) -> ItemColumns {
        let mut columns = Vec::new();
        for item in items {
            let code = &item.code;
            let heading = format!("{code} {}", item.label);
            match item.kind {
                Kind::Multi => {
                    for choice in &item.choices {
                        columns.push((
                            Column {
                                heading: format!("{heading}：{}", choice.label),
                                code: format!("{code}:{}", choice.code),
                            },
                            Source::Choice(code.clone(), choice.code),
                        ));
                    }
                }
                Kind::Names => {
                    for n in 0..item.max_names.unwrap_or(DEFAULT_NAMES) {
                        columns.push((
                            Column {
                                heading: format!("{heading}（{}）", n + 1),
                                code: format!("{code}:{}", n + 1),
                            },
                            Source::Name(code.clone(), n),
                        ));
                    }
                }
                Kind::Choice | Kind::Count | Kind::Decimal1 | Kind::Text => {
                    columns.push((
                        Column {
                            heading,
                            code: code.clone(),
                        },
                        Source::Value(code.clone()),
                    ));
                }
            }
            if item.other_text {
                columns.push((
                    Column {
                        heading: format!("{code} {}：その他の内容", item.label),
                        code: format!("{code}:other"),
                    },
                    Source::Other(format!("{code}:other")),
                ));
            }
        }
        let mut by_key: std::collections::HashMap<String, Vec<usize>> =
            std::collections::HashMap::new();
        for (i, (_, source)) in columns.iter().enumerate() {
            let key = match source {
                Source::Value(k) | Source::Choice(k, _) | Source::Name(k, _) | Source::Other(k) => {
                    k.clone()
                }
            };
            by_key.entry(key).or_default().push(i);
        }
        ItemColumns { columns, by_key }
    }

    pub fn columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().map(|(c, _)| c)
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The answers as cells, one per column; an item not answered is empty.
    pub fn cells(&self, answers: &Answers, out: &mut Vec<Cell>) {
        let base = out.len();
        out.resize(base + self.columns.len(), Cell::Empty);
        for (key, value) in answers {
            let Some(columns) = self.by_key.get(key.as_str()) else {
                continue;
            };
            for &i in columns {
                out[base + i] = match &self.columns[i].1 {
                    Source::Value(_) | Source::Other(_) => value_cell(Some(value)),
                    Source::Choice(_, choice) => match value {
                        Value::Array(codes) => {
                            Cell::flag(codes.iter().any(|c| c.as_i64() == Some(*choice)))
                        }
                        Value::Number(n) => Cell::flag(n.as_i64() == Some(*choice)),
                        _ => Cell::Empty,
                    },
                    Source::Name(_, n) => match value {
                        Value::Array(names) => value_cell(names.get(*n)),
                        _ => Cell::Empty,
                    },
                };
            }
        }
    }
}

fn value_cell(value: Option<&Value>) -> Cell {
    match value {
        Some(Value::Number(n)) => n.as_f64().map_or(Cell::Empty, Cell::Number),
        Some(Value::String(s)) => Cell::text(s.as_str()),
        Some(Value::Bool(b)) => Cell::flag(*b),
        Some(Value::Array(items)) => Cell::text(
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("、"),
        ),
        _ => Cell::Empty,
    }
}

/// What an unmappable character becomes in CP932: the geta mark, which Japanese
/// typesetting uses for a character it cannot show.
pub const CP932_REPLACEMENT: char = '〓';

/// Characters that JIS-based input methods produce but CP932 holds under another
/// code point with the same glyph: written as Windows would show them, not replaced.
fn cp932_equivalent(c: char) -> char {
    match c {
        '\u{301C}' => '\u{FF5E}', // 〜 WAVE DASH → FULLWIDTH TILDE
        '\u{2016}' => '\u{2225}', // ‖ → ∥
        '\u{2212}' => '\u{FF0D}', // − MINUS SIGN → FULLWIDTH HYPHEN-MINUS
        '\u{00A2}' => '\u{FFE0}', // ¢
        '\u{00A3}' => '\u{FFE1}', // £
        '\u{00AC}' => '\u{FFE2}', // ¬
        '\u{2014}' => '\u{2015}', // — EM DASH → HORIZONTAL BAR
        other => other,
    }
}

/// Appends `text` in CP932 to `out`; returns how many characters CP932 cannot hold
/// (each written as [`CP932_REPLACEMENT`]).
pub fn encode_cp932(text: &str, out: &mut Vec<u8>) -> usize {
    if text.is_ascii() {
        out.extend_from_slice(text.as_bytes());
        return 0;
    }
    let mapped: std::borrow::Cow<str> = if text.chars().any(|c| cp932_equivalent(c) != c) {
        text.chars()
            .map(cp932_equivalent)
            .collect::<String>()
            .into()
    } else {
        text.into()
    };
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&mapped);
    if !unmappable {
        out.extend_from_slice(&bytes);
        return 0;
    }
    // Character by character only when something cannot be held.
    let mut replaced = 0;
    let mut buf = [0u8; 4];
    for c in mapped.chars() {
        let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(c.encode_utf8(&mut buf));
        if unmappable {
            replaced += 1;
            let (geta, _, _) =
                encoding_rs::SHIFT_JIS.encode(CP932_REPLACEMENT.encode_utf8(&mut buf));
            out.extend_from_slice(&geta);
        } else {
            out.extend_from_slice(&bytes);
        }
    }
    replaced
}

/// A sheet of address labels as the office buys them, in millimetres on A4 paper.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelSheet {
    pub columns: u32,
    pub rows: u32,
    pub width: f64,
    pub height: f64,
    /// From the paper's top and left edges to the first label.
    pub top: f64,
    pub left: f64,
    /// From one label's left (top) edge to the next one's.
    pub pitch_x: f64,
    pub pitch_y: f64,
}

pub const A4_WIDTH: f64 = 210.0;
pub const A4_HEIGHT: f64 = 297.0;

impl Default for LabelSheet {
    /// 12 labels (2 × 6) of 86.4 × 42.3 mm, the common 12面 sheet.
    fn default() -> Self {
        LabelSheet {
            columns: 2,
            rows: 6,
            width: 86.4,
            height: 42.3,
            top: 21.5,
            left: 18.6,
            pitch_x: 86.4,
            pitch_y: 42.3,
        }
    }
}

impl LabelSheet {
    pub fn per_sheet(&self) -> usize {
        (self.columns * self.rows) as usize
    }

    /// What does not fit, by field: labels that overlap or run off the paper.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(1..=10).contains(&self.columns) {
            out.push(("columns", "横の枚数は 1〜10 にしてください".to_string()));
        }
        if !(1..=20).contains(&self.rows) {
            out.push(("rows", "縦の枚数は 1〜20 にしてください".to_string()));
        }
        if self.width < 20.0 || self.height < 10.0 {
            out.push((
                "width",
                "ラベルは幅 20mm・高さ 10mm 以上にしてください".to_string(),
            ));
        }
        if self.pitch_x < self.width && self.columns > 1 {
            out.push((
                "pitch_x",
                "横の間隔はラベルの幅以上にしてください（重なります）".to_string(),
            ));
        }
        if self.pitch_y < self.height && self.rows > 1 {
            out.push((
                "pitch_y",
                "縦の間隔はラベルの高さ以上にしてください（重なります）".to_string(),
            ));
        }
        let right =
            self.left + f64::from(self.columns.saturating_sub(1)) * self.pitch_x + self.width;
        let bottom = self.top + f64::from(self.rows.saturating_sub(1)) * self.pitch_y + self.height;
        if self.left < 0.0 || right > A4_WIDTH + 0.05 {
            out.push((
                "left",
                format!("横に {right:.1}mm となり、A4 の幅 210mm に収まりません"),
            ));
        }
        if self.top < 0.0 || bottom > A4_HEIGHT + 0.05 {
            out.push((
                "top",
                format!("縦に {bottom:.1}mm となり、A4 の高さ 297mm に収まりません"),
            ));
        }
        out
    }

    /// The stylesheet that places labels `.c{column}` and `.r{row}` on a sheet.
    pub fn css(&self) -> String {
        let mut css = format!(
            "@page {{ size: A4 portrait; margin: 0; }}\n\
             .label {{ width: {w}mm; height: {h}mm; }}\n",
            w = self.width,
            h = self.height
        );
        for c in 0..self.columns {
            css.push_str(&format!(
                ".c{c} {{ left: {:.2}mm; }}\n",
                self.left + f64::from(c) * self.pitch_x
            ));
        }
        for r in 0..self.rows {
            css.push_str(&format!(
                ".r{r} {{ top: {:.2}mm; }}\n",
                self.top + f64::from(r) * self.pitch_y
            ));
        }
        css
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog() -> Catalog {
        Catalog::parse(crate::domain::catalog::shipped(2026).expect("shipped")).expect("parses")
    }

    #[test]
    fn every_item_gets_columns_in_catalog_order_with_one_per_choice_and_name() {
        let c = catalog();
        let cols = ItemColumns::of(&c);
        let codes: Vec<&str> = cols.columns().map(|c| c.code.as_str()).collect();
        let first = c.items.first().expect("items");
        assert_eq!(codes[0].split(':').next(), Some(first.code.as_str()));
        let multi = c
            .items
            .iter()
            .find(|i| i.kind == Kind::Multi)
            .expect("multi");
        for choice in &multi.choices {
            assert!(codes.contains(&format!("{}:{}", multi.code, choice.code).as_str()));
        }
        let names = c
            .items
            .iter()
            .find(|i| i.kind == Kind::Names)
            .expect("names");
        assert!(codes.contains(&format!("{}:1", names.code).as_str()));
        let other = c.items.iter().find(|i| i.other_text).expect("other");
        assert!(codes.contains(&format!("{}:other", other.code).as_str()));
        // Every heading is unique, so a spreadsheet's filter can tell them apart.
        let mut headings: Vec<&str> = cols.columns().map(|c| c.heading.as_str()).collect();
        headings.sort();
        headings.dedup();
        assert_eq!(headings.len(), cols.len());
    }

    #[test]
    fn answers_become_cells_and_unanswered_items_stay_empty() {
        let c = catalog();
        let cols = ItemColumns::of(&c);
        let multi = c
            .items
            .iter()
            .find(|i| i.kind == Kind::Multi)
            .expect("multi");
        let picked = multi.choices[1].code;
        let names = c
            .items
            .iter()
            .find(|i| i.kind == Kind::Names)
            .expect("names");
        let count = c
            .items
            .iter()
            .find(|i| i.kind == Kind::Count)
            .expect("count");
        let answers: Answers = serde_json::from_value(json!({
            multi.code.clone(): [picked],
            names.code.clone(): ["=はじめ病院", "次"],
            count.code.clone(): 12,
        }))
        .expect("answers");
        let mut cells = Vec::new();
        cols.cells(&answers, &mut cells);
        assert_eq!(cells.len(), cols.len());
        let at = |code: &str| {
            let i = cols.columns().position(|c| c.code == code).expect(code);
            cells[i].clone()
        };
        assert_eq!(at(&format!("{}:{picked}", multi.code)), Cell::Number(1.0));
        assert_eq!(
            at(&format!("{}:{}", multi.code, multi.choices[0].code)),
            Cell::Number(0.0)
        );
        assert_eq!(at(&format!("{}:1", names.code)), Cell::text("=はじめ病院"));
        assert_eq!(at(&format!("{}:3", names.code)), Cell::Empty);
        assert_eq!(at(&count.code), Cell::Number(12.0));
        assert_eq!(Cell::Number(12.0).to_csv_text(), "12");
        assert_eq!(Cell::Number(4.5).to_csv_text(), "4.5");
        let unanswered = c
            .items
            .iter()
            .find(|i| i.kind == Kind::Choice)
            .expect("choice");
        if !answers.contains_key(&unanswered.code) {
            assert_eq!(at(&unanswered.code), Cell::Empty);
        }
    }

    #[test]
    fn cp932_holds_japanese_maps_jis_variants_and_counts_what_it_cannot_hold() {
        let mut out = Vec::new();
        assert_eq!(encode_cp932("内科 ①髙﨑 ABC", &mut out), 0);
        let (back, _, bad) = encoding_rs::SHIFT_JIS.decode(&out);
        assert!(!bad);
        assert_eq!(back, "内科 ①髙﨑 ABC");
        // The wave dash typed on a Mac is Windows' full-width tilde, not a loss.
        out.clear();
        assert_eq!(encode_cp932("9時〜17時", &mut out), 0);
        assert_eq!(encoding_rs::SHIFT_JIS.decode(&out).0, "9時～17時");
        // 𠮷 (U+20BB7) and an emoji are outside CP932.
        out.clear();
        assert_eq!(encode_cp932("𠮷野家😀", &mut out), 2);
        assert_eq!(encoding_rs::SHIFT_JIS.decode(&out).0, "〓野家〓");
    }

    #[test]
    fn the_default_label_sheet_fits_a4_and_a_sheet_that_does_not_is_explained() {
        let sheet = LabelSheet::default();
        assert!(sheet.problems().is_empty(), "{:?}", sheet.problems());
        assert_eq!(sheet.per_sheet(), 12);
        let css = sheet.css();
        assert!(css.contains(".c1 { left: 105.00mm; }"), "{css}");
        assert!(css.contains(".r5 { top: 233.00mm; }"), "{css}");
        let wide = LabelSheet {
            columns: 3,
            ..sheet
        };
        assert!(wide.problems().iter().any(|(f, _)| *f == "left"));
        let overlapping = LabelSheet {
            pitch_y: 30.0,
            ..sheet
        };
        assert!(overlapping.problems().iter().any(|(f, _)| *f == "pitch_y"));
    }

    #[test]
    fn encodings_and_formats_read_their_codes() {
        for e in TextEncoding::ALL {
            assert_eq!(TextEncoding::from_code(e.code()), Some(e));
        }
        assert_eq!(
            TextEncoding::from_code("Shift_JIS"),
            Some(TextEncoding::Cp932)
        );
        assert_eq!(TextEncoding::from_code("latin1"), None);
        assert_eq!(FileFormat::from_code("XLSX"), Some(FileFormat::Xlsx));
        assert_eq!(FileFormat::from_code("pdf"), None);
    }
}
