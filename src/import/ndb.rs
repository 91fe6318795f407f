//! NDB counts (算定回数) per fiscal year (domain.md §5), from CSV or Excel in either
//! form MHLW's tables come in:
//! - long: one row per institution and item (医療機関コード, 項目, 算定回数);
//! - wide: one row per institution, one column per item key.
//!
//! Reading is pure ([`parse`]), and so is comparing with the master ([`plan`]); storing,
//! applying and cancelling are `services::imports::ndb`'s.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use super::Grid;
use crate::domain::codes::InstitutionCode;
use crate::domain::normalize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    Long,
    Wide,
}

impl Layout {
    pub fn label(self) -> &'static str {
        match self {
            Layout::Long => "縦持ち（コード・項目・回数）",
            Layout::Wide => "横持ち（項目ごとの列）",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub row: usize,
    pub code: String,
    pub key: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub row: usize,
    pub code: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parsed {
    pub layout: Layout,
    pub counts: Vec<Count>,
    pub rejected: Vec<Rejected>,
    /// Item keys the catalog does not know (with the rows or column they were on).
    pub unknown_keys: BTreeMap<String, usize>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LayoutError {
    #[error("ファイルが空です")]
    Empty,
    #[error(
        "見出し行が見つかりません。1行目に「医療機関コード」と、「項目」「算定回数」の列（縦持ち）または項目キーごとの列（横持ち）を置いてください"
    )]
    NoHeader,
}

const CODE_HEADERS: [&str; 5] = [
    "医療機関コード",
    "保険医療機関番号",
    "code",
    "institution_code",
    "コード",
];
const KEY_HEADERS: [&str; 5] = ["項目", "項目キー", "item", "item_key", "ndb_key"];
const COUNT_HEADERS: [&str; 5] = ["算定回数", "回数", "count", "件数", "value"];

fn header_matches(cell: &str, names: &[&str]) -> bool {
    let folded = normalize::nfkc(cell).trim().to_lowercase();
    names.iter().any(|n| folded == n.to_lowercase())
}

/// A count as people write it: full-width digits and thousands separators accepted.
fn read_count(text: &str) -> Result<i64, &'static str> {
    let folded: String = normalize::nfkc(text)
        .chars()
        .filter(|c| !matches!(c, ',' | ' '))
        .collect();
    if folded.starts_with('-') {
        return Err("回数が負の数です");
    }
    // Excel stores whole numbers as floats; "12.0" is 12, "12.5" is an error.
    if let Some((whole, fraction)) = folded.split_once('.') {
        if fraction.chars().all(|c| c == '0') {
            return whole.parse().map_err(|_| "回数が数字ではありません");
        }
        return Err("回数が整数ではありません");
    }
    folded.parse().map_err(|_| "回数が数字ではありません")
}

fn read_code(text: &str) -> Result<String, String> {
    InstitutionCode::parse(text)
        .map(|c| c.as_str().to_string())
        .map_err(|e| e.to_string())
}

/// Reads the grid. `known_keys` are the NDB keys of the fiscal year's catalog.
/// The row's institution code, or `None` with the row listed as rejected.
fn code_or_reject(parsed: &mut Parsed, row: usize, text: &str) -> Option<String> {
    match read_code(text) {
        Ok(code) => Some(code),
        Err(reason) => {
            parsed.rejected.push(Rejected {
                row,
                code: text.trim().to_string(),
                reason,
            });
            None
        }
    }
}

pub fn parse(grid: &Grid, known_keys: &BTreeSet<String>) -> Result<Parsed, LayoutError> {
    if grid.is_blank() {
        return Err(LayoutError::Empty);
    }
    let header_row = (0..grid.height().min(20))
        .find(|&r| grid.row(r).any(|(_, c)| header_matches(c, &CODE_HEADERS)))
        .ok_or(LayoutError::NoHeader)?;
    let header: Vec<(usize, &str)> = grid.row(header_row).collect();
    let find = |names: &[&str]| {
        header
            .iter()
            .find(|(_, c)| header_matches(c, names))
            .map(|(i, _)| *i)
    };
    let code_col = find(&CODE_HEADERS).ok_or(LayoutError::NoHeader)?;
    let mut parsed = Parsed {
        layout: Layout::Long,
        counts: Vec::new(),
        rejected: Vec::new(),
        unknown_keys: BTreeMap::new(),
    };
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut push =
        |parsed: &mut Parsed, row: usize, code: &str, key: &str, text: &str| match read_count(text)
        {
            Ok(count) => {
                if !seen.insert((code.to_string(), key.to_string())) {
                    parsed.rejected.push(Rejected {
                        row,
                        code: code.to_string(),
                        reason: format!("項目 {key} がファイル内で重複しています"),
                    });
                } else {
                    parsed.counts.push(Count {
                        row,
                        code: code.to_string(),
                        key: key.to_string(),
                        count,
                    });
                }
            }
            Err(reason) => parsed.rejected.push(Rejected {
                row,
                code: code.to_string(),
                reason: format!("{key}: {reason}（{}）", text.trim()),
            }),
        };
    let data_rows = (header_row + 1)..grid.height();
    match (find(&KEY_HEADERS), find(&COUNT_HEADERS)) {
        (Some(key_col), Some(count_col)) => {
            for r in data_rows {
                let row = r + 1;
                let code_text = grid.cell(r, code_col);
                let key = normalize::nfkc(grid.cell(r, key_col)).trim().to_string();
                let count = grid.cell(r, count_col);
                if code_text.trim().is_empty() && key.is_empty() && count.trim().is_empty() {
                    continue;
                }
                let Some(code) = code_or_reject(&mut parsed, row, code_text) else {
                    continue;
                };
                if !known_keys.contains(&key) {
                    *parsed.unknown_keys.entry(key).or_default() += 1;
                    continue;
                }
                push(&mut parsed, row, &code, &key, count);
            }
        }
        _ => {
            parsed.layout = Layout::Wide;
            let mut columns = Vec::new();
            for &(c, name) in &header {
                let key = normalize::nfkc(name).trim().to_string();
                if c == code_col || key.is_empty() {
                    continue;
                }
                if known_keys.contains(&key) {
                    columns.push((c, key));
                } else {
                    parsed.unknown_keys.insert(key, 1);
                }
            }
            for r in data_rows {
                let row = r + 1;
                let code_text = grid.cell(r, code_col);
                if grid.row_is_blank(r) {
                    continue;
                }
                let Some(code) = code_or_reject(&mut parsed, row, code_text) else {
                    continue;
                };
                for (c, key) in &columns {
                    let text = grid.cell(r, *c);
                    if text.trim().is_empty() {
                        continue;
                    }
                    push(&mut parsed, row, &code, key, text);
                }
            }
        }
    }
    Ok(parsed)
}

/// What applying would do.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Plan {
    pub fiscal_year: i32,
    pub layout: Option<Layout>,
    pub counts: usize,
    pub institutions: usize,
    /// Institutions whose earlier counts for the year are replaced.
    pub replaced: usize,
    /// Codes not in the master (within the importer's scope): not imported.
    pub unknown_codes: Vec<String>,
    pub unknown_keys: Vec<String>,
    pub rejected: Vec<Rejected>,
    /// The lengths of `unknown_codes` and `rejected` before a stored plan keeps only
    /// their first rows.
    #[serde(default)]
    pub unknown_codes_total: usize,
    #[serde(default)]
    pub rejected_total: usize,
}

impl Plan {
    /// The plan as a preview stores it: the counts and the first rows of each list.
    pub fn kept(mut self) -> Plan {
        self.unknown_codes.truncate(super::PREVIEW_ROWS);
        self.rejected.truncate(super::PREVIEW_ROWS);
        self
    }
}

/// Compares the parsed file with the master. `master` holds the codes the importer may
/// load counts for.
/// Compares a parsed file with the master codes (`master`, within the importer's
/// scope) and the codes that already have counts for the year (`counted`).
pub fn plan(
    fiscal_year: i32,
    parsed: &Parsed,
    master: &HashSet<String>,
    counted: &BTreeSet<String>,
) -> Plan {
    let codes: BTreeSet<&str> = parsed.counts.iter().map(|c| c.code.as_str()).collect();
    let (known, unknown): (Vec<&str>, Vec<&str>) = codes.iter().partition(|c| master.contains(**c));
    Plan {
        fiscal_year,
        layout: Some(parsed.layout),
        counts: parsed
            .counts
            .iter()
            .filter(|c| master.contains(&c.code))
            .count(),
        institutions: known.len(),
        replaced: known.iter().filter(|c| counted.contains(**c)).count(),
        unknown_keys: parsed.unknown_keys.keys().cloned().collect(),
        unknown_codes_total: unknown.len(),
        rejected_total: parsed.rejected.len(),
        unknown_codes: unknown.into_iter().map(str::to_string).collect(),
        rejected: parsed.rejected.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: &[&[&str]]) -> Grid {
        let rows: Vec<Vec<&str>> = rows.iter().map(|r| r.to_vec()).collect();
        Grid::from_rows(&rows)
    }

    fn keys() -> BTreeSet<String> {
        ["a_late_night", "c_house_call"]
            .into_iter()
            .map(String::from)
            .collect()
    }

    const CODE: &str = "4610100283";

    #[test]
    fn long_form_with_bad_rows_named() {
        let g = grid(&[
            &["医療機関コード", "項目", "算定回数"],
            &[CODE, "a_late_night", "１，２３４"],
            &[CODE, "c_house_call", "12.0"],
            &[CODE, "c_house_call", "3"],
            &[CODE, "unknown_key", "3"],
            &["4610100284", "a_late_night", "3"],
            &[CODE, "a_late_night", "-1"],
            &["", "", ""],
        ]);
        let p = parse(&g, &keys()).unwrap();
        assert_eq!(p.layout, Layout::Long);
        assert_eq!(p.counts.len(), 2);
        assert_eq!(p.counts[0].count, 1234);
        assert_eq!(p.counts[1].count, 12);
        assert_eq!(p.unknown_keys.get("unknown_key"), Some(&1));
        let reasons: Vec<(usize, &str)> = p
            .rejected
            .iter()
            .map(|r| (r.row, r.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert_eq!(reasons[0].0, 4);
        assert!(reasons[0].1.contains("重複"));
        assert_eq!(reasons[1].0, 6, "wrong check digit");
        assert!(reasons[2].1.contains("負の数"));
    }

    #[test]
    fn wide_form_skips_blank_cells() {
        let g = grid(&[
            &["医療機関コード", "a_late_night", "c_house_call", "x_other"],
            &["46-1-0100283", "5", "", "7"],
            &[CODE, "", "2.5", ""],
        ]);
        let p = parse(&g, &keys()).unwrap();
        assert_eq!(p.layout, Layout::Wide);
        assert_eq!(
            p.counts,
            vec![Count {
                row: 2,
                code: CODE.into(),
                key: "a_late_night".into(),
                count: 5
            }]
        );
        assert!(p.unknown_keys.contains_key("x_other"));
        assert!(
            p.rejected
                .iter()
                .any(|r| r.reason.contains("整数ではありません"))
        );
    }

    #[test]
    fn files_without_a_header_are_refused() {
        assert_eq!(parse(&grid(&[&[""]]), &keys()), Err(LayoutError::Empty));
        assert_eq!(
            parse(&grid(&[&["名称", "住所"], &["a", "b"]]), &keys()),
            Err(LayoutError::NoHeader)
        );
    }

    #[test]
    fn hostile_cells_never_panic() {
        let g = grid(&[
            &["code", "item", "count"],
            &["=cmd|' /C calc'!A0", "a_late_night", "1"],
            &[CODE, "a_late_night", "99999999999999999999999"],
            &[CODE],
        ]);
        let p = parse(&g, &keys()).unwrap();
        assert!(p.counts.is_empty());
        assert_eq!(p.rejected.len(), 2);
    }
}
