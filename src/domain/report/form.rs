//! Reading a section's entry form into answers, with a Japanese message per field that
//! could not be read (full-width digits, commas and the like are accepted).

use std::collections::BTreeMap;

use serde_json::Value;

use super::super::catalog::{Catalog, Item, Kind};
use super::super::determination::Answers;
use super::super::normalize;

/// One section's form as posted: field name → every value given (checkboxes and name
/// lists repeat their name).
pub type FormValues = BTreeMap<String, Vec<String>>;

/// Fields every entry form carries besides the items.
pub const FORM_FIELDS: [&str; 3] = ["csrf", "rev", "action"];

pub fn form_values(pairs: Vec<(String, String)>) -> FormValues {
    let mut out = FormValues::new();
    for (k, v) in pairs {
        out.entry(k).or_default().push(v);
    }
    out
}

/// A section's form read into answers, with a message per field that could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SectionInput {
    pub answers: Answers,
    /// Field (item code, or `code:other`) → message.
    pub errors: BTreeMap<String, String>,
    /// Fields posted that are not items of this section.
    pub unknown: Vec<String>,
}

fn first_nonempty(values: Option<&Vec<String>>) -> Option<String> {
    values
        .into_iter()
        .flatten()
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

/// Reads a number as people type it: full-width digits, commas and spaces accepted.
pub(super) fn parse_count(text: &str) -> Result<u64, &'static str> {
    let folded: String = normalize::nfkc(text)
        .chars()
        .filter(|c| !matches!(c, ',' | ' '))
        .collect();
    if folded.starts_with('-') {
        return Err("0以上の整数で入力してください");
    }
    if folded.contains('.') {
        return Err("小数ではなく整数で入力してください");
    }
    match folded.parse::<u64>() {
        Ok(n) if n <= 100_000_000 => Ok(n),
        Ok(_) => Err("値が大きすぎます"),
        Err(_) => Err("数字で入力してください"),
    }
}

pub(super) fn parse_decimal1(text: &str) -> Result<f64, &'static str> {
    let folded: String = normalize::nfkc(text)
        .chars()
        .filter(|c| !matches!(c, ',' | ' '))
        .collect();
    if folded.starts_with('-') {
        return Err("0以上の数で入力してください");
    }
    // Only digits and one decimal point: Rust would also read "1e3", "inf" or "NaN".
    let digits_and_point = folded.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && folded.matches('.').count() <= 1
        && folded.bytes().any(|b| b.is_ascii_digit());
    if !digits_and_point {
        return Err("数字で入力してください（例: 12.5）");
    }
    if folded.split('.').nth(1).is_some_and(|d| d.len() > 1) {
        return Err("小数点以下は1桁までで入力してください");
    }
    match folded.parse::<f64>() {
        Ok(n) if n.is_finite() && n <= 100_000_000.0 => Ok((n * 10.0).round() / 10.0),
        _ => Err("数字で入力してください"),
    }
}

fn parse_code(item: &Item, text: &str) -> Option<i64> {
    let code: i64 = normalize::nfkc(text).trim().parse().ok()?;
    item.choices.iter().any(|c| c.code == code).then_some(code)
}

/// Reads the posted form of one section. Values that cannot be read are not in
/// `answers` and have a message in `errors`; nothing is guessed.
pub fn read_section(catalog: &Catalog, section: &str, form: &FormValues) -> SectionInput {
    let mut input = SectionInput::default();
    let items: Vec<&Item> = catalog
        .items
        .iter()
        .filter(|i| i.section == section)
        .collect();
    for key in form.keys() {
        let base = key.strip_suffix(":other").unwrap_or(key);
        let known = FORM_FIELDS.contains(&key.as_str())
            || items
                .iter()
                .any(|i| i.code == base && (base == key || i.other_text));
        if !known {
            input.unknown.push(key.clone());
        }
    }
    for item in items {
        let values = form.get(&item.code);
        let code = item.code.clone();
        match item.kind {
            Kind::Choice => {
                if let Some(v) = first_nonempty(values) {
                    match parse_code(item, &v) {
                        Some(c) => {
                            input.answers.insert(code, Value::from(c));
                        }
                        None => {
                            input.errors.insert(code, "選択肢にない値です".into());
                        }
                    }
                }
            }
            Kind::Multi => {
                let picked: Vec<&String> = values
                    .into_iter()
                    .flatten()
                    .filter(|v| !v.trim().is_empty())
                    .collect();
                let codes: Vec<Option<i64>> = picked.iter().map(|v| parse_code(item, v)).collect();
                if codes.iter().any(Option::is_none) {
                    input
                        .errors
                        .insert(code, "選択肢にない値が含まれています".into());
                } else if !codes.is_empty() {
                    let mut codes: Vec<i64> = codes.into_iter().flatten().collect();
                    codes.sort_unstable();
                    codes.dedup();
                    if let Some(x) = item.exclusive
                        && codes.contains(&x)
                        && codes.len() > 1
                    {
                        let label = item
                            .choices
                            .iter()
                            .find(|c| c.code == x)
                            .map_or("", |c| c.label.as_str());
                        input
                            .errors
                            .insert(code, format!("「{label}」は他の選択肢と同時に選べません"));
                    } else {
                        input.answers.insert(code, Value::from(codes));
                    }
                }
            }
            Kind::Count => {
                if let Some(v) = first_nonempty(values) {
                    match parse_count(&v) {
                        Ok(n) => {
                            input.answers.insert(code, Value::from(n));
                        }
                        Err(m) => {
                            input.errors.insert(code, m.into());
                        }
                    }
                }
            }
            Kind::Decimal1 => {
                if let Some(v) = first_nonempty(values) {
                    match parse_decimal1(&v) {
                        Ok(n) => {
                            input.answers.insert(code, Value::from(n));
                        }
                        Err(m) => {
                            input.errors.insert(code, m.into());
                        }
                    }
                }
            }
            Kind::Text => {
                if let Some(v) = first_nonempty(values) {
                    let limit = item.max_length.unwrap_or(1_000);
                    if v.chars().count() > limit {
                        input
                            .errors
                            .insert(code, format!("{limit}文字以内で入力してください"));
                    } else {
                        input.answers.insert(code, Value::from(v));
                    }
                }
            }
            Kind::Names => {
                let names: Vec<String> = values
                    .into_iter()
                    .flatten()
                    .map(|v| normalize::tidy(v))
                    .filter(|v| !v.is_empty())
                    .collect();
                let limit = item.max_names.unwrap_or(8);
                if names.len() > limit {
                    input
                        .errors
                        .insert(code, format!("名称は{limit}件までです"));
                } else if names.iter().any(|n| n.chars().count() > 200) {
                    input
                        .errors
                        .insert(code, "名称は200文字以内で入力してください".into());
                } else if !names.is_empty() {
                    input.answers.insert(code, Value::from(names));
                }
            }
        }
        if item.other_text {
            let key = format!("{}:other", item.code);
            if let Some(v) = first_nonempty(form.get(&key)) {
                if v.chars().count() > 500 {
                    input
                        .errors
                        .insert(key, "500文字以内で入力してください".into());
                } else {
                    input.answers.insert(key, Value::from(v));
                }
            }
        }
    }
    input
}
