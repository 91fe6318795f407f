//! What several report pages show the same way: answers by section, the
//! determination, version rows and memo threads.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::db::reports as store;
use crate::domain::catalog::{Catalog, Function, Item, Kind};
use crate::domain::determination::{self, Answers, Determination, Reason, condition_holds};
use crate::domain::report::{self, FormValues, NdbMark, ReportKind};
use crate::domain::wareki;
use crate::web::views;

// ----- how answers are shown -----

/// One answer (or the text of its その他) as the difference views show it, 「（未回答）」
/// when there is none.
pub fn answer_or_blank(item: &Item, key: &str, answers: &Answers) -> String {
    answers.get(key).map_or_else(
        || "（未回答）".to_string(),
        |v| {
            if key.ends_with(":other") {
                v.as_str().unwrap_or_default().to_string()
            } else {
                answer_text(item, v)
            }
        },
    )
}

/// An answer in words: choice labels, numbers, names.
pub fn answer_text(item: &Item, value: &Value) -> String {
    let label = |code: i64| {
        item.choices
            .iter()
            .find(|c| c.code == code)
            .map_or_else(|| code.to_string(), |c| c.label.clone())
    };
    match (item.kind, value) {
        (_, Value::Null) => String::new(),
        (Kind::Choice, v) => v.as_i64().map(label).unwrap_or_default(),
        (Kind::Multi, Value::Array(codes)) => codes
            .iter()
            .filter_map(Value::as_i64)
            .map(label)
            .collect::<Vec<_>>()
            .join("、"),
        (Kind::Names, Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("、"),
        // A published count may be the mark that hides it.
        (Kind::Count, Value::String(mark)) => mark.clone(),
        (Kind::Count, v) => v
            .as_i64()
            .map(|n| match &item.unit {
                Some(unit) => format!("{} {unit}", views::group_digits(n)),
                None => views::group_digits(n),
            })
            .unwrap_or_default(),
        (_, Value::String(s)) => s.clone(),
        (_, v) => v.to_string(),
    }
}

#[derive(Serialize)]
pub struct ChoiceView {
    code: i64,
    label: String,
    checked: bool,
}

#[derive(Serialize)]
pub struct ItemView {
    code: String,
    label: String,
    kind: Kind,
    star: bool,
    required: bool,
    condition: Option<String>,
    applies: bool,
    choices: Vec<ChoiceView>,
    value: String,
    names: Vec<String>,
    other_text: bool,
    other_value: String,
    error: Option<String>,
    other_error: Option<String>,
    ndb: Option<NdbMark>,
    provisional: bool,
    source: String,
    help: Option<String>,
    max_length: Option<usize>,
    /// What a count counts (回, 人 …), beside its field.
    unit: Option<String>,
    /// The answer in words (confirmation and print pages).
    text: String,
}

impl ItemView {
    pub fn code(&self) -> &str {
        &self.code
    }
}

pub fn condition_text(catalog: &Catalog, item: &Item) -> Option<String> {
    let c = item.condition.as_ref()?;
    let trigger = catalog.item(&c.item)?;
    let labels: Vec<String> = c
        .any_of
        .iter()
        .map(|code| {
            trigger
                .choices
                .iter()
                .find(|ch| ch.code == *code)
                .map_or_else(|| code.to_string(), |ch| ch.label.clone())
        })
        .collect();
    Some(format!(
        "{} で「{}」の場合に回答",
        c.item,
        labels.join("」「")
    ))
}

pub fn value_strings(item: &Item, value: Option<&Value>) -> Vec<String> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(v) if item.kind == Kind::Count => {
            vec![v.as_i64().map_or_else(|| v.to_string(), |n| n.to_string())]
        }
        Some(v) => vec![v.to_string()],
    }
}

/// The items of a section as the form shows them. `typed` (a form sent back with
/// errors) wins over the stored answers, so nothing typed is lost.
pub fn item_views(
    catalog: &Catalog,
    section: &str,
    answers: &Answers,
    typed: Option<&FormValues>,
    errors: &BTreeMap<String, String>,
    ndb: &Map<String, Value>,
) -> Vec<ItemView> {
    catalog
        .items
        .iter()
        .filter(|i| i.section == section)
        .map(|item| {
            let values: Vec<String> = match typed {
                Some(form) => form.get(&item.code).cloned().unwrap_or_default(),
                None => value_strings(item, answers.get(&item.code)),
            };
            let other_key = format!("{}:other", item.code);
            let other_value = match typed {
                Some(form) => form
                    .get(&other_key)
                    .and_then(|v| v.first().cloned())
                    .unwrap_or_default(),
                None => answers
                    .get(&other_key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            };
            let max_names = item.max_names.unwrap_or(8);
            let mut names: Vec<String> = if item.kind == Kind::Names {
                values.clone()
            } else {
                Vec::new()
            };
            if item.kind == Kind::Names {
                names.resize(names.len().max(max_names), String::new());
            }
            ItemView {
                code: item.code.clone(),
                label: item.label.clone(),
                kind: item.kind,
                star: item.star,
                required: item.required,
                condition: condition_text(catalog, item),
                applies: condition_holds(item, answers),
                choices: item
                    .choices
                    .iter()
                    .map(|c| ChoiceView {
                        code: c.code,
                        label: c.label.clone(),
                        checked: values.iter().any(|v| v.trim() == c.code.to_string()),
                    })
                    .collect(),
                value: values.first().cloned().unwrap_or_default(),
                names,
                other_text: item.other_text,
                other_value,
                error: errors.get(&item.code).cloned(),
                other_error: errors.get(&other_key).cloned(),
                ndb: report::ndb_mark(ndb, answers, &item.code),
                provisional: item.provisional,
                source: item.source.clone(),
                help: item.help.clone(),
                max_length: item.max_length,
                unit: item.unit.clone(),
                text: answers
                    .get(&item.code)
                    .map(|v| answer_text(item, v))
                    .unwrap_or_default(),
            }
        })
        .collect()
}

#[derive(Serialize)]
pub struct CategoryView {
    label: &'static str,
    yes: bool,
    reasons: Vec<Reason>,
}

#[derive(Serialize)]
pub struct DeterminationView {
    function1: bool,
    missing: Vec<Reason>,
    categories: Vec<CategoryView>,
}

pub fn determination_view(d: &Determination) -> DeterminationView {
    let r = &d.reasons;
    let f = &d.function2;
    let cat = |function: Function, yes: bool, reasons: &Vec<Reason>| CategoryView {
        label: function.label(),
        yes,
        reasons: reasons.clone(),
    };
    DeterminationView {
        function1: d.function1,
        missing: r.missing_star_items.clone(),
        categories: vec![
            cat(Function::AfterHours, f.after_hours, &r.after_hours),
            cat(
                Function::AdmissionDischarge,
                f.admission_discharge,
                &r.admission_discharge,
            ),
            cat(Function::HomeCare, f.home_care, &r.home_care),
            cat(
                Function::CareCoordination,
                f.care_coordination,
                &r.care_coordination,
            ),
        ],
    }
}

/// One version as the pages list it.
#[derive(Serialize)]
pub struct VersionLine {
    number: i32,
    kind: &'static str,
    submitted_at: String,
    login: String,
    proxy: bool,
}

/// The version history as the pages list it.
pub fn version_rows(versions: &[store::VersionRow]) -> Vec<VersionLine> {
    versions
        .iter()
        .map(|v| VersionLine {
            number: v.number,
            kind: ReportKind::from_code(&v.kind).map_or("", ReportKind::label),
            submitted_at: wareki::datetime_jst(v.submitted_at),
            login: v.submitted_login.clone(),
            proxy: v.proxy,
        })
        .collect()
}

/// A memo thread as the pages show it. A memo is unread when the other side wrote it
/// after the newest one this user has seen.
pub fn memo_rows(
    memos: &[crate::services::review::Memo],
    seen: i32,
    for_officer: bool,
) -> Vec<MemoLine> {
    memos
        .iter()
        .map(|m| MemoLine {
            author: m.author_name.clone(),
            from_institution: m.from_institution,
            internal: m.internal,
            body: m.body.clone(),
            at: wareki::datetime_jst(m.created_at),
            unread: m.from_institution == for_officer && m.id > seen,
        })
        .collect()
}

/// One memo as the pages show it.
#[derive(Serialize)]
pub struct MemoLine {
    author: String,
    from_institution: bool,
    internal: bool,
    body: String,
    at: String,
    unread: bool,
}

#[derive(Serialize)]
pub struct SectionAnswers {
    id: String,
    title: String,
    not_applicable: bool,
    items: Vec<ItemView>,
}

pub fn all_sections(
    catalog: &Catalog,
    answers: &Answers,
    ndb: &Map<String, Value>,
) -> Vec<SectionAnswers> {
    let function1 = determination::determine(catalog, answers).function1;
    catalog
        .sections
        .iter()
        .map(|s| SectionAnswers {
            id: s.id.clone(),
            title: s.title.clone(),
            not_applicable: Function::CATEGORIES.contains(&s.function) && !function1,
            items: item_views(catalog, &s.id, answers, None, &BTreeMap::new(), ndb),
        })
        .collect()
}
