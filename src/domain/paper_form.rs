//! The survey form as rows (調査票, issue 18): what each row of a printed or Excel form
//! asks, pre-printed with an institution's values, and the way a filled form's cells
//! are read back into answers. The rows hold no layout; the Excel writer and the
//! importer place them. Reading goes through the entry screen's own reader
//! ([`read_section`]), so a form accepts what the screen accepts, and nothing more.
//! Pure.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::catalog::{Catalog, Item, Kind};
use super::determination::Answers;
use super::normalize::nfkc;
use super::report::{FormValues, SectionInput, read_section};

/// What one row of the form asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A single choice: its label picked from the list.
    Choice,
    /// One choice of a multi-choice item: 「○」 when chosen.
    Mark(i64),
    /// A count, a decimal or a text.
    Value,
    /// The n-th (0-based) of a list of names.
    Name(usize),
    /// The text of 「その他」.
    Other,
}

impl Role {
    /// How the role is written in the form's hidden sheet, and read back.
    pub fn code(&self) -> String {
        match self {
            Role::Choice => "choice".into(),
            Role::Mark(c) => format!("mark:{c}"),
            Role::Value => "value".into(),
            Role::Name(n) => format!("name:{n}"),
            Role::Other => "other".into(),
        }
    }

    pub fn from_code(code: &str) -> Option<Role> {
        match code.split_once(':') {
            None => match code {
                "choice" => Some(Role::Choice),
                "value" => Some(Role::Value),
                "other" => Some(Role::Other),
                _ => None,
            },
            Some(("mark", c)) => c.parse().ok().map(Role::Mark),
            Some(("name", n)) => n.parse().ok().map(Role::Name),
            Some(_) => None,
        }
    }
}

/// One row: the item, what is asked, the text beside the answer cell, the value
/// pre-printed, and for a choice the labels the answer cell offers.
#[derive(Debug, Clone, PartialEq)]
pub struct FormRow {
    pub item: String,
    pub section: String,
    pub role: Role,
    /// The item's label on its first row; the choice's label or 「名称 n」 after.
    pub label: String,
    pub kind: Kind,
    pub unit: Option<String>,
    pub value: String,
    pub list: Vec<String>,
    /// 「NDB」 or 「前回」 on the first row of a pre-printed item.
    pub preprinted: Option<&'static str>,
    pub max_length: Option<usize>,
}

/// Names a form offers rows for when the catalog sets no limit (as many as the entry
/// screen takes).
const NAME_ROWS: usize = 8;

/// A mark people type for 「chosen」.
const MARKS: &[&str] = &["○", "〇", "◯", "o", "O", "1", "✓", "✔", "レ", "v", "V", "●"];

fn number_text(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// The rows of the form of a catalog, pre-printed with `answers` (`ndb` holds which of
/// them came from the NDB).
pub fn rows(catalog: &Catalog, answers: &Answers, ndb: &Map<String, Value>) -> Vec<FormRow> {
    let mut out = Vec::new();
    for item in &catalog.items {
        let answer = answers.get(&item.code).filter(|v| !v.is_null());
        let preprinted = if ndb.contains_key(&item.code) {
            Some("NDB")
        } else if answer.is_some() {
            Some("前回")
        } else {
            None
        };
        let row = |role: Role, label: String, value: String| FormRow {
            item: item.code.clone(),
            section: item.section.clone(),
            role,
            label,
            kind: item.kind,
            unit: item.unit.clone(),
            value,
            list: Vec::new(),
            preprinted: None,
            max_length: item.max_length,
        };
        let first = out.len();
        match item.kind {
            Kind::Choice => {
                let chosen = answer.and_then(Value::as_i64);
                let value = item
                    .choices
                    .iter()
                    .find(|c| Some(c.code) == chosen)
                    .map(|c| c.label.clone())
                    .unwrap_or_default();
                let mut r = row(Role::Choice, item.label.clone(), value);
                r.list = item.choices.iter().map(|c| c.label.clone()).collect();
                out.push(r);
            }
            Kind::Multi => {
                let chosen: Vec<i64> = answer
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default();
                for c in &item.choices {
                    let mark = if chosen.contains(&c.code) { "○" } else { "" };
                    let mut r = row(Role::Mark(c.code), c.label.clone(), mark.into());
                    r.list = vec!["○".into()];
                    out.push(r);
                }
            }
            Kind::Names => {
                let names: Vec<String> = answer
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                // A fixed number of rows per catalog: a form keeps its shape whatever
                // was pre-printed (the entry screen takes no more names than this).
                let count = item.max_names.unwrap_or(NAME_ROWS);
                for n in 0..count {
                    let label = format!("名称 {}", n + 1);
                    out.push(row(
                        Role::Name(n),
                        label,
                        names.get(n).cloned().unwrap_or_default(),
                    ));
                }
            }
            Kind::Count | Kind::Decimal1 | Kind::Text => {
                let value = answer.map(number_text).unwrap_or_default();
                out.push(row(Role::Value, item.label.clone(), value));
            }
        }
        let several = item.kind == Kind::Multi || item.kind == Kind::Names;
        if let Some(r) = out.get_mut(first) {
            r.preprinted = preprinted;
            if several {
                // The item's own label heads its rows of choices or names.
                r.label = format!("{}｜{}", item.label, r.label);
            }
        }
        if item.other_text {
            let other = answers
                .get(&format!("{}:other", item.code))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            out.push(row(Role::Other, "その他の内容".into(), other));
        }
    }
    out
}

/// A cell's text as read from a filled form: where it is, what its row asks.
#[derive(Debug, Clone, PartialEq)]
pub struct FilledCell {
    /// Where the answer is, for messages: `D14`.
    pub cell: String,
    pub item: String,
    pub role: Role,
    pub text: String,
}

/// A problem with one cell: its reference and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellProblem {
    pub cell: String,
    pub message: String,
}

/// The choice a typed label means: the exact label, a code, or a label's beginning
/// only when no other label starts the same way. Full-width and half-width alike.
pub fn choice_code(item: &Item, typed: &str) -> Result<i64, String> {
    let key = |s: &str| -> String { nfkc(s).chars().filter(|c| !c.is_whitespace()).collect() };
    let typed_key = key(typed);
    if let Some(c) = item.choices.iter().find(|c| key(&c.label) == typed_key) {
        return Ok(c.code);
    }
    if let Ok(code) = typed_key.parse::<i64>()
        && item.choices.iter().any(|c| c.code == code)
    {
        return Ok(code);
    }
    let starting: Vec<_> = item
        .choices
        .iter()
        .filter(|c| key(&c.label).starts_with(&typed_key))
        .collect();
    match starting.as_slice() {
        [only] => Ok(only.code),
        [] => Err(format!(
            "「{typed}」は選択肢にありません。一覧から選んでください"
        )),
        several => Err(format!(
            "「{typed}」では選択肢が決まりません（{}）。一覧から選んでください",
            several
                .iter()
                .map(|c| c.label.as_str())
                .collect::<Vec<_>>()
                .join("・")
        )),
    }
}

/// Reads a filled form into answers: each section's cells as the entry screen's fields,
/// read by the screen's own reader. Every cell that cannot be read has its problem;
/// nothing is guessed.
pub fn read(catalog: &Catalog, cells: &[FilledCell]) -> (Answers, Vec<CellProblem>) {
    let mut problems = Vec::new();
    let mut forms: BTreeMap<String, FormValues> = BTreeMap::new();
    // Where each field came from, for the reader's messages.
    let mut first_cell: BTreeMap<String, String> = BTreeMap::new();
    for cell in cells {
        let Some(item) = catalog.item(&cell.item) else {
            problems.push(CellProblem {
                cell: cell.cell.clone(),
                message: format!("項目 {} はこの年度の調査票にありません", cell.item),
            });
            continue;
        };
        let text = cell.text.trim();
        let field = match cell.role {
            Role::Other => format!("{}:other", item.code),
            _ => item.code.clone(),
        };
        first_cell
            .entry(field.clone())
            .or_insert_with(|| cell.cell.clone());
        if text.is_empty() {
            continue;
        }
        let value = match &cell.role {
            Role::Choice => match choice_code(item, text) {
                Ok(code) => code.to_string(),
                Err(message) => {
                    problems.push(CellProblem {
                        cell: cell.cell.clone(),
                        message,
                    });
                    continue;
                }
            },
            Role::Mark(code) => {
                if !MARKS.contains(&nfkc(text).as_str()) && !MARKS.contains(&text) {
                    problems.push(CellProblem {
                        cell: cell.cell.clone(),
                        message: "選ぶときは「○」を、選ばないときは空欄にしてください".into(),
                    });
                    continue;
                }
                code.to_string()
            }
            Role::Value | Role::Name(_) | Role::Other => text.to_string(),
        };
        forms
            .entry(item.section.clone())
            .or_default()
            .entry(field)
            .or_default()
            .push(value);
    }
    let mut answers = Answers::new();
    for (section, form) in &forms {
        let SectionInput {
            answers: read,
            errors,
            ..
        } = read_section(catalog, section, form);
        answers.extend(read);
        for (field, message) in errors {
            let cell = first_cell.get(&field).cloned().unwrap_or_default();
            problems.push(CellProblem { cell, message });
        }
    }
    (answers, problems)
}

/// The checksum a form carries of its fiscal year, institution and catalog version:
/// keyed with the deployment's secret, so a form edited to name another institution
/// (or copied from another deployment) is refused.
pub fn checksum(key: &[u8], fiscal_year: i32, code: &str, catalog_version: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(format!("kakari-form:{fiscal_year}:{code}:{catalog_version}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::shipped;

    fn catalog() -> Catalog {
        Catalog::parse(shipped(2025).unwrap()).unwrap()
    }

    fn cell(rows: &[FormRow], item: &str, role: Role, text: &str) -> FilledCell {
        let n = rows
            .iter()
            .position(|r| r.item == item && r.role == role)
            .unwrap_or_else(|| panic!("{item} {role:?}"));
        FilledCell {
            cell: format!("D{}", n + 10),
            item: item.into(),
            role,
            text: text.into(),
        }
    }

    #[test]
    fn the_checksum_names_year_institution_and_catalog() {
        let a = checksum(b"secret", 2025, "4610100044", "2025.1");
        assert_eq!(a.len(), 16);
        assert_eq!(a, checksum(b"secret", 2025, "4610100044", "2025.1"));
        assert_ne!(a, checksum(b"secret", 2026, "4610100044", "2025.1"));
        assert_ne!(a, checksum(b"secret", 2025, "4610100051", "2025.1"));
        assert_ne!(a, checksum(b"other", 2025, "4610100044", "2025.1"));
    }

    #[test]
    fn roles_are_written_and_read_back() {
        for role in [
            Role::Choice,
            Role::Mark(3),
            Role::Value,
            Role::Name(2),
            Role::Other,
        ] {
            assert_eq!(Role::from_code(&role.code()), Some(role));
        }
        assert_eq!(Role::from_code("mark:x"), None);
        assert_eq!(Role::from_code("bogus"), None);
    }

    #[test]
    fn rows_cover_every_item_and_carry_the_pre_printed_values() {
        let c = catalog();
        let mut answers = Answers::new();
        answers.insert("1-1".into(), Value::from(1));
        answers.insert("2イ-5".into(), Value::from(12));
        let mut ndb = Map::new();
        ndb.insert("2イ-5".into(), Value::from(12));
        let rows = rows(&c, &answers, &ndb);
        for item in &c.items {
            assert!(rows.iter().any(|r| r.item == item.code), "{}", item.code);
        }
        let count = rows.iter().find(|r| r.item == "2イ-5").unwrap();
        assert_eq!(
            (count.value.as_str(), count.preprinted),
            ("12", Some("NDB"))
        );
        assert_eq!(count.unit.as_deref(), Some("回"));
        let choice = rows.iter().find(|r| r.item == "1-1").unwrap();
        assert_eq!(choice.preprinted, Some("前回"));
        assert!(choice.list.contains(&choice.value), "{choice:?}");
        let multi = c.items.iter().find(|i| i.kind == Kind::Multi).unwrap();
        assert_eq!(
            rows.iter().filter(|r| r.item == multi.code).count(),
            multi.choices.len() + usize::from(multi.other_text)
        );
    }

    #[test]
    fn a_filled_form_reads_back_into_the_answers_it_shows() {
        let c = catalog();
        let rows = rows(&c, &Answers::new(), &Map::new());
        let multi = c
            .items
            .iter()
            .find(|i| i.kind == Kind::Multi && i.exclusive.is_none())
            .unwrap();
        let choice = c.items.iter().find(|i| i.kind == Kind::Choice).unwrap();
        let cells = vec![
            cell(&rows, &choice.code, Role::Choice, &choice.choices[0].label),
            cell(&rows, "2イ-5", Role::Value, "１，２３４"),
            cell(&rows, &multi.code, Role::Mark(multi.choices[0].code), "〇"),
            cell(&rows, &multi.code, Role::Mark(multi.choices[1].code), ""),
        ];
        let (answers, problems) = read(&c, &cells);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(answers["2イ-5"], Value::from(1234));
        assert_eq!(answers[&choice.code], Value::from(choice.choices[0].code));
        assert_eq!(
            answers[&multi.code],
            Value::from(vec![multi.choices[0].code])
        );
        // Shown again, the same answers come back.
        let shown = super::rows(&c, &answers, &Map::new());
        let again: Vec<FilledCell> = shown
            .iter()
            .enumerate()
            .map(|(n, r)| FilledCell {
                cell: format!("D{}", n + 10),
                item: r.item.clone(),
                role: r.role.clone(),
                text: r.value.clone(),
            })
            .collect();
        assert_eq!(read(&c, &again).0, answers);
    }

    #[test]
    fn what_is_ambiguous_or_wrong_is_refused_with_its_cell() {
        let c = catalog();
        let rows = rows(&c, &Answers::new(), &Map::new());
        // An item with several labels starting the same way.
        let (item, prefix) = c
            .items
            .iter()
            .filter(|i| i.kind == Kind::Choice)
            .find_map(|i| {
                i.choices.iter().find_map(|a| {
                    let head: String = a.label.chars().take(2).collect();
                    let n = i
                        .choices
                        .iter()
                        .filter(|b| b.label.starts_with(&head))
                        .count();
                    (n > 1).then_some((i, head))
                })
            })
            .expect("a choice item with two labels sharing a beginning");
        let multi = c.items.iter().find(|i| i.kind == Kind::Multi).unwrap();
        let cells = vec![
            cell(&rows, &item.code, Role::Choice, &prefix),
            cell(&rows, "2イ-5", Role::Value, "たくさん"),
            cell(
                &rows,
                &multi.code,
                Role::Mark(multi.choices[0].code),
                "はい",
            ),
        ];
        let (answers, problems) = read(&c, &cells);
        assert!(answers.is_empty(), "{answers:?}");
        let messages: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.cell, p.message))
            .collect();
        assert_eq!(problems.len(), 3, "{messages:?}");
        assert!(messages[0].contains("選択肢が決まりません"), "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("「○」")), "{messages:?}");
        assert!(
            messages.iter().any(|m| m.contains("数字で入力")),
            "{messages:?}"
        );
        assert!(problems.iter().all(|p| p.cell.starts_with('D')));
    }
}
