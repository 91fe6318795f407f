//! Reading a filled Excel 調査票 (issue 18): which form it is (the hidden sheet, its
//! checksum checked; or the code cell when that sheet was lost) and its answer cells,
//! found by each row's item code and role, so blank rows people add change nothing.

use crate::domain::paper_form::{self, CellProblem, FilledCell, Role};
use crate::export::form_xlsx::{self, ANSWER_COL, CODE_CELL, CODE_COL, FIRST_ROW, ROLE_COL};
use crate::import::{FileError, Grid, Limits, read_named_sheet};

/// A filled form as read, before it is matched to an institution and a report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadForm {
    pub fiscal_year: i32,
    pub code: String,
    pub catalog_version: Option<String>,
    /// The hidden sheet was there (and its checksum right); else the code cell told.
    pub identified_by_hidden_sheet: bool,
    pub cells: Vec<FilledCell>,
    /// Answer cells whose value merging made unknowable.
    pub problems: Vec<CellProblem>,
}

/// Why a file is not a form that can be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormFileError {
    #[error("{0}")]
    File(String),
    #[error(
        "調査票のシート（{}）がありません。Kakari で作った調査票を使ってください",
        form_xlsx::SHEET
    )]
    NotAForm,
    #[error(
        "調査票の識別情報（非表示のシート）が書き換えられています。Kakari で作り直した調査票を使ってください"
    )]
    Tampered,
    #[error("{cell}: {message}")]
    Header { cell: &'static str, message: String },
}

impl From<FileError> for FormFileError {
    fn from(e: FileError) -> Self {
        FormFileError::File(e.to_string())
    }
}

/// The text of a cell; a number stored as text, full-width or not, is left for the
/// readers downstream, which take both.
fn text(grid: &Grid, row: u32, col: u16) -> String {
    grid.cell(row as usize, col as usize).trim().to_string()
}

/// The fiscal year in 「令和7年度（2025年度）」 (the form's B6).
fn year_in(label: &str) -> Option<i32> {
    let digits: Vec<char> = crate::domain::normalize::nfkc(label).chars().collect();
    digits
        .windows(6)
        .find(|w| w[0] == '(' && w[1..5].iter().all(char::is_ascii_digit) && w[5] == '年')
        .and_then(|w| w[1..5].iter().collect::<String>().parse().ok())
}

pub fn read(
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
    key: &[u8],
) -> Result<ReadForm, FormFileError> {
    let sheet = read_named_sheet(file_name, bytes, form_xlsx::SHEET, limits)?
        .ok_or(FormFileError::NotAForm)?;
    let hidden = read_named_sheet(file_name, bytes, form_xlsx::HIDDEN, limits)?;
    let identity = hidden.filter(|h| h.cell(0, 0) == form_xlsx::MARKER);
    let (fiscal_year, code, catalog_version, by_hidden) = match identity {
        Some(h) => {
            let fy: i32 = h
                .cell(1, 1)
                .trim()
                .parse()
                .map_err(|_| FormFileError::Tampered)?;
            let code = h.cell(2, 1).trim().to_string();
            let version = h.cell(3, 1).trim().to_string();
            if paper_form::checksum(key, fy, &code, &version) != h.cell(4, 1).trim() {
                return Err(FormFileError::Tampered);
            }
            (fy, code, Some(version), true)
        }
        None => {
            let code: String =
                crate::domain::normalize::nfkc(&text(&sheet, CODE_CELL.0, CODE_CELL.1))
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
            if code.len() != 10 {
                return Err(FormFileError::Header {
                    cell: "調査票!B3",
                    message: "医療機関コード（10桁）が読めません".into(),
                });
            }
            let fy = year_in(&text(&sheet, CODE_CELL.0 + 3, 1)).ok_or(FormFileError::Header {
                cell: "調査票!B6",
                message: "年度が読めません".into(),
            })?;
            (fy, code, None, false)
        }
    };
    let mut cells = Vec::new();
    for row in FIRST_ROW..sheet.height() as u32 {
        let item = text(&sheet, row, CODE_COL);
        let Some(role) = Role::from_code(&text(&sheet, row, ROLE_COL)) else {
            continue;
        };
        if item.is_empty() {
            continue;
        }
        cells.push(FilledCell {
            cell: form_xlsx::answer_cell(row),
            item,
            role,
            text: text(&sheet, row, ANSWER_COL),
        });
    }
    let problems = merged_answer_cells(&sheet, &cells);
    Ok(ReadForm {
        fiscal_year,
        code,
        catalog_version,
        identified_by_hidden_sheet: by_hidden,
        cells,
        problems,
    })
}

/// Merged cells over answer cells: harmless when the answer cell is the merged area's
/// top-left (its value is the answer, as when the answer is merged with the unit beside
/// it) or when the area holds nothing; otherwise the value of some answer cell is
/// hidden or shared (one ○ over two choices, a label over an answer, a value LibreOffice
/// kept under the merge), and is refused rather than guessed.
fn merged_answer_cells(sheet: &Grid, cells: &[FilledCell]) -> Vec<CellProblem> {
    let answer_rows: Vec<u32> = (FIRST_ROW..sheet.height() as u32)
        .filter(|&r| Role::from_code(&text(sheet, r, ROLE_COL)).is_some())
        .collect();
    let mut problems = Vec::new();
    for area in &sheet.merged {
        let covered: Vec<u32> = answer_rows
            .iter()
            .copied()
            .filter(|&r| area.contains(r, u32::from(ANSWER_COL)))
            .collect();
        let alone_at_top_left = covered == [area.top] && area.left == u32::from(ANSWER_COL);
        let empty = text(sheet, area.top, area.left as u16).is_empty()
            && covered
                .iter()
                .all(|&r| text(sheet, r, ANSWER_COL).is_empty());
        if covered.is_empty() || alone_at_top_left || empty {
            continue;
        }
        let cell = form_xlsx::answer_cell(covered[0]);
        problems.push(CellProblem {
            message: format!(
                "セルが結合されています（{}{}:{}{}）。結合を解除して、1つのセルに1つの回答を記入してください",
                form_xlsx::column_letters(area.left as u16),
                area.top + 1,
                form_xlsx::column_letters(area.right as u16),
                area.bottom + 1
            ),
            cell,
        });
    }
    // The reader's own problems come by cell; keep the same order.
    problems.sort_by_key(|p| cells.iter().position(|c| c.cell == p.cell));
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::{Catalog, Kind, shipped};
    use crate::domain::determination::Answers;
    use crate::domain::paper_form::FormRow;
    use crate::export::form_xlsx::FormHeader;
    use serde_json::{Map, Value};

    const KEY: &[u8] = b"deployment secret";

    fn workbook(rows: &[FormRow], code: &str, checksum_of: &str) -> Vec<u8> {
        let checksum = paper_form::checksum(KEY, 2025, checksum_of, "2025.1");
        let header = FormHeader {
            fiscal_year: 2025,
            code,
            name: "さくら内科",
            address: "鹿児島市",
            catalog_version: "2025.1",
            checksum: &checksum,
        };
        form_xlsx::workbook(&header, rows).unwrap()
    }

    #[test]
    fn a_form_filled_in_reads_back_as_the_answers_typed() {
        let catalog = Catalog::parse(shipped(2025).unwrap()).unwrap();
        let mut answers = Answers::new();
        answers.insert("2イ-5".into(), Value::from(7));
        let mut rows = paper_form::rows(&catalog, &answers, &Map::new());
        // What people type: a label from the list, full-width digits as text, ○.
        let choice = catalog
            .items
            .iter()
            .find(|i| i.kind == Kind::Choice)
            .unwrap();
        let multi = catalog
            .items
            .iter()
            .find(|i| i.kind == Kind::Multi)
            .unwrap();
        for row in &mut rows {
            if row.item == choice.code {
                row.value = choice.choices[1].label.clone();
            } else if row.item == "2イ-5" {
                row.value = "１，２０３".into();
            } else if row.item == multi.code && row.role == Role::Mark(multi.choices[0].code) {
                row.value = "○".into();
            }
        }
        let bytes = workbook(&rows, "4610100044", "4610100044");
        let form = read("filled.xlsx", &bytes, &Limits::default(), KEY).unwrap();
        assert_eq!((form.fiscal_year, form.code.as_str()), (2025, "4610100044"));
        assert_eq!(form.catalog_version.as_deref(), Some("2025.1"));
        assert!(form.identified_by_hidden_sheet);
        let (read_answers, problems) = paper_form::read(&catalog, &form.cells);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(read_answers["2イ-5"], Value::from(1203));
        assert_eq!(
            read_answers[&choice.code],
            Value::from(choice.choices[1].code)
        );
        assert_eq!(
            read_answers[&multi.code],
            Value::from(vec![multi.choices[0].code])
        );
        // A wrong value comes back with its cell.
        for row in &mut rows {
            if row.item == "2イ-5" {
                row.value = "たくさん".into();
            }
        }
        let bytes = workbook(&rows, "4610100044", "4610100044");
        let form = read("filled.xlsx", &bytes, &Limits::default(), KEY).unwrap();
        let (_, problems) = paper_form::read(&catalog, &form.cells);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].cell.starts_with("調査票!C"), "{problems:?}");
    }

    #[test]
    fn a_form_made_to_name_another_institution_or_no_form_is_refused() {
        let catalog = Catalog::parse(shipped(2025).unwrap()).unwrap();
        let rows = paper_form::rows(&catalog, &Answers::new(), &Map::new());
        let forged = workbook(&rows, "4610100051", "4610100044");
        assert_eq!(
            read("a.xlsx", &forged, &Limits::default(), KEY),
            Err(FormFileError::Tampered)
        );
        let other_key = workbook(&rows, "4610100044", "4610100044");
        assert_eq!(
            read(
                "a.xlsx",
                &other_key,
                &Limits::default(),
                b"another deployment"
            ),
            Err(FormFileError::Tampered)
        );
        assert!(matches!(
            read("a.xlsx", b"", &Limits::default(), KEY),
            Err(FormFileError::File(_))
        ));
        assert!(matches!(
            read("a.xlsx", b"PK\x03\x04garbage", &Limits::default(), KEY),
            Err(FormFileError::File(_))
        ));
    }

    #[test]
    fn merged_answer_cells_are_refused_unless_the_answer_is_their_top_left() {
        use crate::import::{Grid, MergedArea};
        // Rows 11–13 (zero-based 10–12): two choices of 1-4 and a count.
        let mut rows: Vec<Vec<&str>> = vec![vec![]; FIRST_ROW as usize];
        rows.push(vec!["1-4", "皮膚", "○", "", "", "mark:1"]);
        rows.push(vec!["1-4", "神経", "", "", "", "mark:2"]);
        rows.push(vec!["2イ-5", "時間外", "12", "回", "", "value"]);
        let mut sheet = Grid::from_rows(&rows);
        let area = |top, left, bottom, right| MergedArea {
            top,
            left,
            bottom,
            right,
        };
        let cells: Vec<FilledCell> = (FIRST_ROW..FIRST_ROW + 3)
            .map(|r| FilledCell {
                cell: form_xlsx::answer_cell(r),
                item: String::new(),
                role: Role::Value,
                text: String::new(),
            })
            .collect();
        // The count merged with its unit: the answer is the top-left, accepted.
        sheet.merged = vec![area(12, 2, 12, 3)];
        assert!(merged_answer_cells(&sheet, &cells).is_empty());
        // Two choices' cells merged under one ○: which was meant is unknown.
        sheet.merged = vec![area(10, 2, 11, 2)];
        let problems = merged_answer_cells(&sheet, &cells);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].cell, "調査票!C11");
        assert!(problems[0].message.contains("C11:C12"), "{problems:?}");
        // The label merged over the answer: the answer cell is not the top-left.
        sheet.merged = vec![area(12, 1, 12, 2)];
        assert_eq!(merged_answer_cells(&sheet, &cells)[0].cell, "調査票!C13");
        // A merged area whose cells are all empty hides nothing; one that keeps a value
        // in a lower cell (LibreOffice can keep the hidden contents) is refused.
        sheet.merged = vec![area(11, 2, 12, 2)];
        assert_eq!(merged_answer_cells(&sheet, &cells)[0].cell, "調査票!C12");
        rows[12][2] = "";
        let mut empty = Grid::from_rows(&rows);
        empty.merged = sheet.merged.clone();
        assert!(merged_answer_cells(&empty, &cells).is_empty());
    }

    #[test]
    fn the_year_is_read_from_the_label() {
        assert_eq!(year_in("令和7年度（2025年度）"), Some(2025));
        assert_eq!(year_in("令和8年度(2026年度)"), Some(2026));
        assert_eq!(year_in("令和8年度"), None);
    }
}
