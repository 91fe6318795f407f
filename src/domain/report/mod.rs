//! The report's life (domain.md §4.2–4.3), without IO: statuses and their transitions,
//! the reporting period, section states, and reading an entry form into answers.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::catalog::{Catalog, Function, Kind};
use super::determination::{self, AnswerProblem, Answers, condition_holds};

mod form;

pub use form::{FORM_FIELDS, FormValues, SectionInput, form_values, read_section};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 一時保存
    Draft,
    /// 報告済
    Submitted,
    /// 差戻し
    Returned,
    /// 再報告済
    Resubmitted,
    /// 確認済
    Confirmed,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Draft,
        Status::Submitted,
        Status::Returned,
        Status::Resubmitted,
        Status::Confirmed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Submitted => "submitted",
            Status::Returned => "returned",
            Status::Resubmitted => "resubmitted",
            Status::Confirmed => "confirmed",
        }
    }

    pub fn from_code(code: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "一時保存",
            Status::Submitted => "報告済",
            Status::Returned => "差戻し",
            Status::Resubmitted => "再報告済",
            Status::Confirmed => "確認済",
        }
    }

    /// Whether the answers may be edited (by the institution or by proxy).
    pub fn editable(self) -> bool {
        matches!(self, Status::Draft | Status::Returned)
    }
}

/// The label of "no report yet" (no row).
pub const NOT_REPORTED: &str = "未報告";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// 定期報告
    Periodic,
    /// 変更報告
    Change,
}

impl ReportKind {
    pub fn code(self) -> &'static str {
        match self {
            ReportKind::Periodic => "periodic",
            ReportKind::Change => "change",
        }
    }

    pub fn from_code(code: &str) -> Option<ReportKind> {
        [ReportKind::Periodic, ReportKind::Change]
            .into_iter()
            .find(|k| k.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            ReportKind::Periodic => "定期報告",
            ReportKind::Change => "変更報告",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// 報告 (the institution or an officer by proxy)
    Submit,
    /// 引き戻し
    PullBack,
    /// 確認
    Confirm,
    /// 差戻し
    SendBack,
}

impl Transition {
    pub fn label(self) -> &'static str {
        match self {
            Transition::Submit => "報告",
            Transition::PullBack => "引き戻し",
            Transition::Confirm => "確認",
            Transition::SendBack => "差戻し",
        }
    }
}

/// A transition the status does not allow, in words for the 409 page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("「{from}」の報告は{action}できません")]
pub struct IllegalTransition {
    pub from: &'static str,
    pub action: &'static str,
}

/// The status after `transition`. `was_returned` says whether this cycle was ever sent
/// back, so that a report pulled back after a resubmission is 再報告済 when sent again.
pub fn next_status(
    from: Status,
    transition: Transition,
    was_returned: bool,
) -> Result<Status, IllegalTransition> {
    use Status::*;
    use Transition::*;
    let to = match (from, transition) {
        (Draft, Submit) if was_returned => Some(Resubmitted),
        (Draft, Submit) => Some(Submitted),
        (Returned, Submit) => Some(Resubmitted),
        (Submitted | Resubmitted, PullBack) => Some(Draft),
        (Submitted | Resubmitted, Confirm) => Some(Confirmed),
        (Submitted | Resubmitted, SendBack) => Some(Returned),
        _ => None,
    };
    to.ok_or(IllegalTransition {
        from: from.label(),
        action: transition.label(),
    })
}

/// A prefecture's reporting period for one fiscal year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub opens_on: NaiveDate,
    pub deadline: NaiveDate,
    pub closes_on: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PeriodState {
    NotYet { opens_on: NaiveDate },
    Open { past_deadline: bool },
    Closed,
}

impl Period {
    /// Problems with the dates as an administrator typed them.
    pub fn check(&self) -> Vec<&'static str> {
        let mut problems = Vec::new();
        if self.deadline < self.opens_on {
            problems.push("期限は受付開始日以降にしてください");
        }
        if self.closes_on < self.deadline {
            problems.push("受付終了日は期限以降にしてください");
        }
        problems
    }

    pub fn state(&self, today: NaiveDate) -> PeriodState {
        if today < self.opens_on {
            PeriodState::NotYet {
                opens_on: self.opens_on,
            }
        } else if today > self.closes_on {
            PeriodState::Closed
        } else {
            PeriodState::Open {
                past_deadline: today > self.deadline,
            }
        }
    }
}

/// Who may file what, and when (domain.md §4.1): an institution files its 定期報告 only
/// while the period is open; officers enter by proxy at any time; a 変更報告 needs no
/// period.
pub fn may_file(kind: ReportKind, by_officer: bool, period: Option<PeriodState>) -> bool {
    by_officer || kind == ReportKind::Change || matches!(period, Some(PeriodState::Open { .. }))
}

/// What the overview shows for one section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionState {
    /// 未入力
    Empty,
    /// 一時保存
    Saved,
    /// 入力完了
    Complete,
    /// 対象外 (2号 sections while 1号 is 無)
    NotApplicable,
}

impl SectionState {
    pub fn label(self) -> &'static str {
        match self {
            SectionState::Empty => "未入力",
            SectionState::Saved => "一時保存",
            SectionState::Complete => "入力完了",
            SectionState::NotApplicable => "対象外",
        }
    }
}

/// What was last done to each section: "saved" or "complete".
pub type SectionMarks = BTreeMap<String, String>;

/// The problems of one section's items within the whole answers document.
pub fn section_problems(catalog: &Catalog, section: &str, answers: &Answers) -> Vec<AnswerProblem> {
    determination::validate(catalog, answers)
        .into_iter()
        .filter(|p| {
            let code = p.item.split(':').next().unwrap_or(&p.item);
            catalog.item(code).is_some_and(|i| i.section == section)
        })
        .collect()
}

/// The state of every section, in catalog order. A section marked complete that has
/// problems now (an answer elsewhere changed a condition) shows as saved again.
pub fn section_states(
    catalog: &Catalog,
    marks: &SectionMarks,
    answers: &Answers,
) -> Vec<(String, SectionState)> {
    let function1 = determination::determine(catalog, answers).function1;
    catalog
        .sections
        .iter()
        .map(|s| {
            let state = if Function::CATEGORIES.contains(&s.function) && !function1 {
                SectionState::NotApplicable
            } else {
                match marks.get(&s.id).map(String::as_str) {
                    None => SectionState::Empty,
                    Some("complete") if section_problems(catalog, &s.id, answers).is_empty() => {
                        SectionState::Complete
                    }
                    Some(_) => SectionState::Saved,
                }
            };
            (s.id.clone(), state)
        })
        .collect()
}

/// The first fiscal year of the かかりつけ医機能報告 (令和7年度).
pub const FIRST_FISCAL_YEAR: i32 = 2025;

/// Whether a report can be started for `fiscal_year` on `today`: from the first year of
/// the system to the year after the current one (filing opens in January).
pub fn is_reporting_year(fiscal_year: i32, today: chrono::NaiveDate) -> bool {
    (FIRST_FISCAL_YEAR..=crate::domain::wareki::fiscal_year_of(today) + 1).contains(&fiscal_year)
}

/// The draft with one section replaced by `section_answers`. Answers of items whose
/// condition no longer holds are dropped, so a hidden stale answer cannot count.
pub fn merge_section(
    catalog: &Catalog,
    draft: &Answers,
    section: &str,
    section_answers: &Answers,
) -> Answers {
    let mut merged: Answers = draft
        .iter()
        .filter(|(k, _)| {
            let base = k.split(':').next().unwrap_or(k);
            catalog.item(base).is_none_or(|i| i.section != section)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    merged.extend(section_answers.iter().map(|(k, v)| (k.clone(), v.clone())));
    drop_unmet_conditions(catalog, &mut merged);
    merged
}

fn drop_unmet_conditions(catalog: &Catalog, answers: &mut Answers) {
    loop {
        let unmet: Vec<String> = catalog
            .items
            .iter()
            .filter(|i| i.condition.is_some() && !condition_holds(i, answers))
            .flat_map(|i| [i.code.clone(), format!("{}:other", i.code)])
            .filter(|k| answers.contains_key(k))
            .collect();
        if unmet.is_empty() {
            return;
        }
        for k in unmet {
            answers.remove(&k);
        }
    }
}

/// The keys (item codes and `code:other`) whose answer differs between two documents,
/// in catalog order (差異表示).
pub fn changed_items(catalog: &Catalog, old: &Answers, new: &Answers) -> Vec<String> {
    let mut out = Vec::new();
    for item in &catalog.items {
        for key in [item.code.clone(), format!("{}:other", item.code)] {
            let (a, b) = (old.get(&key), new.get(&key));
            let empty = |v: Option<&Value>| v.is_none_or(Value::is_null);
            if a != b && !(empty(a) && empty(b)) {
                out.push(key);
            }
        }
    }
    out
}

/// How a pre-printed NDB value stands now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum NdbMark {
    /// Still the NDB value.
    Ndb { original: i64 },
    /// Changed by the institution; the NDB original is kept.
    Changed { original: i64 },
}

pub fn ndb_mark(ndb: &Map<String, Value>, answers: &Answers, item: &str) -> Option<NdbMark> {
    let original = ndb.get(item)?.as_i64()?;
    Some(
        if answers.get(item).and_then(Value::as_i64) == Some(original) {
            NdbMark::Ndb { original }
        } else {
            NdbMark::Changed { original }
        },
    )
}

/// Pre-prints NDB counts into the count items that have an NDB key, returning the
/// answers and the originals kept beside them.
pub fn preprint(
    catalog: &Catalog,
    answers: &Answers,
    counts: &BTreeMap<String, i64>,
) -> (Answers, Map<String, Value>) {
    let mut out = answers.clone();
    let mut originals = Map::new();
    for item in &catalog.items {
        let Some(key) = &item.ndb_key else { continue };
        if item.kind != Kind::Count {
            continue;
        }
        if let Some(n) = counts.get(key) {
            out.insert(item.code.clone(), Value::from(*n));
            originals.insert(item.code.clone(), Value::from(*n));
        }
    }
    (out, originals)
}

/// A new fiscal year's draft starts from the last confirmed answers, without the NDB
/// items (those come from the new year's NDB data) and without codes the new catalog
/// does not have.
pub fn carry_over(catalog: &Catalog, confirmed: &Answers) -> Answers {
    let mut out: Answers = confirmed
        .iter()
        .filter(|(k, _)| {
            let base = k.split(':').next().unwrap_or(k);
            catalog.item(base).is_some_and(|i| i.ndb_key.is_none())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // Values the new catalog would reject are dropped rather than carried as errors.
    let bad: Vec<String> = determination::validate(catalog, &out)
        .into_iter()
        .filter(|p| p.message != "未回答です")
        .map(|p| p.item)
        .collect();
    for k in bad {
        out.remove(&k);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::form::parse_decimal1;
    use super::*;
    use crate::domain::catalog::Item;
    use crate::domain::catalog::shipped;
    use serde_json::json;

    fn catalog() -> Catalog {
        Catalog::parse(shipped(2025).unwrap()).unwrap()
    }

    fn form(pairs: &[(&str, &str)]) -> FormValues {
        form_values(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn decimals_are_plain_digits() {
        assert_eq!(parse_decimal1("12.5"), Ok(12.5));
        assert_eq!(parse_decimal1("１２．５"), Ok(12.5));
        assert_eq!(parse_decimal1("1,000"), Ok(1000.0));
        for text in ["1e3", "1E3", "inf", "NaN", "1.2.3", ".", "0x10", "１ｅ３"] {
            assert!(parse_decimal1(text).is_err(), "{text}");
        }
    }

    #[test]
    fn reports_start_only_in_real_years() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert!(is_reporting_year(2025, today));
        assert!(is_reporting_year(2027, today));
        assert!(!is_reporting_year(2028, today));
        assert!(!is_reporting_year(2024, today));
        assert!(!is_reporting_year(-1, today));
    }

    #[test]
    fn every_status_and_transition() {
        use Status::*;
        use Transition::*;
        let expected = [
            (Draft, Submit, false, Some(Submitted)),
            (Draft, Submit, true, Some(Resubmitted)),
            (Draft, PullBack, false, None),
            (Draft, Confirm, false, None),
            (Draft, SendBack, false, None),
            (Submitted, Submit, false, None),
            (Submitted, PullBack, false, Some(Draft)),
            (Submitted, Confirm, false, Some(Confirmed)),
            (Submitted, SendBack, false, Some(Returned)),
            (Returned, Submit, true, Some(Resubmitted)),
            (Returned, PullBack, true, None),
            (Returned, Confirm, true, None),
            (Returned, SendBack, true, None),
            (Resubmitted, Submit, true, None),
            (Resubmitted, PullBack, true, Some(Draft)),
            (Resubmitted, Confirm, true, Some(Confirmed)),
            (Resubmitted, SendBack, true, Some(Returned)),
            (Confirmed, Submit, false, None),
            (Confirmed, PullBack, false, None),
            (Confirmed, Confirm, false, None),
            (Confirmed, SendBack, false, None),
        ];
        for (from, t, returned, to) in expected {
            assert_eq!(next_status(from, t, returned).ok(), to, "{from:?} {t:?}");
        }
        let e = next_status(Confirmed, SendBack, false).unwrap_err();
        assert_eq!(e.to_string(), "「確認済」の報告は差戻しできません");
        assert!(Draft.editable() && Returned.editable());
        assert!(!Submitted.editable() && !Confirmed.editable() && !Resubmitted.editable());
    }

    #[test]
    fn period_states_and_who_may_file() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let p = Period {
            opens_on: d(1, 1),
            deadline: d(2, 28),
            closes_on: d(3, 31),
        };
        assert!(p.check().is_empty());
        assert_eq!(
            p.state(d(1, 1)),
            PeriodState::Open {
                past_deadline: false
            }
        );
        assert_eq!(
            p.state(d(3, 1)),
            PeriodState::Open {
                past_deadline: true
            }
        );
        assert_eq!(p.state(d(4, 1)), PeriodState::Closed);
        assert!(matches!(
            p.state(d(1, 1) - chrono::Days::new(1)),
            PeriodState::NotYet { .. }
        ));
        let bad = Period {
            opens_on: d(3, 1),
            deadline: d(2, 1),
            closes_on: d(1, 1),
        };
        assert_eq!(bad.check().len(), 2);
        use ReportKind::*;
        assert!(!may_file(Periodic, false, None));
        assert!(!may_file(Periodic, false, Some(PeriodState::Closed)));
        assert!(may_file(
            Periodic,
            false,
            Some(PeriodState::Open {
                past_deadline: true
            })
        ));
        assert!(may_file(Periodic, true, Some(PeriodState::Closed)));
        assert!(may_file(Change, false, None));
    }

    #[test]
    fn forms_are_read_as_people_type() {
        let c = catalog();
        let counts: Vec<&Item> = c.items.iter().filter(|i| i.kind == Kind::Count).collect();
        let count = counts[0];
        let section = count.section.clone();
        let input = read_section(&c, &section, &form(&[(&count.code, "１，２３４")]));
        assert_eq!(
            input.answers[&count.code],
            json!(1234),
            "{:?}",
            input.errors
        );
        for (typed, message) in [
            ("-3", "0以上の整数で入力してください"),
            ("1.5", "小数ではなく整数で入力してください"),
            ("abc", "数字で入力してください"),
        ] {
            let input = read_section(&c, &section, &form(&[(&count.code, typed)]));
            assert_eq!(input.errors[&count.code], message, "{typed}");
            assert!(!input.answers.contains_key(&count.code));
        }
        let input = read_section(&c, &section, &form(&[("9-99", "1"), ("csrf", "x")]));
        assert_eq!(input.unknown, ["9-99"]);
    }

    #[test]
    fn choices_lists_and_limits() {
        let c = catalog();
        let input = read_section(&c, "1", &form(&[("1-1", "1"), ("1-4", "3"), ("1-4", "５")]));
        assert_eq!(input.answers["1-1"], json!(1));
        assert_eq!(input.answers["1-4"], json!([3, 5]));
        let input = read_section(&c, "1", &form(&[("1-1", "7")]));
        assert_eq!(input.errors["1-1"], "選択肢にない値です");
        let input = read_section(&c, "1", &form(&[("1-4", "0"), ("1-4", "3")]));
        assert!(input.errors["1-4"].contains("同時に選べません"));

        let names = c.items.iter().find(|i| i.kind == Kind::Names).unwrap();
        let nine: Vec<(&str, &str)> = (0..9).map(|_| (names.code.as_str(), "協力病院")).collect();
        let input = read_section(&c, &names.section, &form(&nine));
        assert_eq!(input.errors[&names.code], "名称は8件までです");
        let eight: Vec<(&str, &str)> = (0..8)
            .map(|_| (names.code.as_str(), " 協力病院 "))
            .collect();
        let input = read_section(&c, &names.section, &form(&eight));
        assert_eq!(input.answers[&names.code].as_array().unwrap().len(), 8);

        let text = c.items.iter().find(|i| i.kind == Kind::Text).unwrap();
        let long = "あ".repeat(100_000);
        let input = read_section(&c, &text.section, &form(&[(&text.code, &long)]));
        assert!(input.errors[&text.code].contains("文字以内"));
    }

    #[test]
    fn a_condition_that_stops_holding_drops_its_answers() {
        let c = catalog();
        let conditional = c.items.iter().find(|i| i.condition.is_some()).unwrap();
        let cond = conditional.condition.clone().unwrap();
        let trigger = c.item(&cond.item).unwrap();
        let no = trigger
            .choices
            .iter()
            .find(|ch| !cond.any_of.contains(&ch.code))
            .unwrap()
            .code;
        let mut draft = Answers::new();
        draft.insert(cond.item.clone(), json!(cond.any_of[0]));
        draft.insert(conditional.code.clone(), json!(1));
        let mut section = Answers::new();
        section.insert(cond.item.clone(), json!(no));
        let merged = merge_section(&c, &draft, &trigger.section, &section);
        assert!(!merged.contains_key(&conditional.code));
    }

    #[test]
    fn ndb_preprint_marks_and_carry_over() {
        let c = catalog();
        let item = c
            .items
            .iter()
            .find(|i| i.ndb_key.is_some() && i.kind == Kind::Count)
            .unwrap();
        let key = item.ndb_key.clone().unwrap();
        let counts = BTreeMap::from([(key, 12), ("unknown".to_string(), 3)]);
        let (answers, ndb) = preprint(&c, &Answers::new(), &counts);
        assert_eq!(answers[&item.code], json!(12));
        assert_eq!(
            ndb_mark(&ndb, &answers, &item.code),
            Some(NdbMark::Ndb { original: 12 })
        );
        let mut changed = answers.clone();
        changed.insert(item.code.clone(), json!(5));
        assert_eq!(
            ndb_mark(&ndb, &changed, &item.code),
            Some(NdbMark::Changed { original: 12 })
        );
        let mut confirmed = changed.clone();
        confirmed.insert("1-1".into(), json!(1));
        confirmed.insert("1-4".into(), json!([99]));
        let carried = carry_over(&c, &confirmed);
        assert_eq!(carried.get("1-1"), Some(&json!(1)));
        assert!(
            !carried.contains_key(&item.code),
            "NDB items come from new data"
        );
        assert!(
            !carried.contains_key("1-4"),
            "an invalid value is not carried"
        );
    }

    #[test]
    fn changed_items_in_catalog_order() {
        let c = catalog();
        let old: Answers =
            serde_json::from_value(json!({"1-1": 1, "1-4": [1, 2], "1-2": null})).unwrap();
        let new: Answers =
            serde_json::from_value(json!({"1-1": 0, "1-4": [1, 2], "1-5": [3], "1-5:other": "x"}))
                .unwrap();
        assert_eq!(changed_items(&c, &old, &new), ["1-1", "1-5", "1-5:other"]);
        assert!(changed_items(&c, &new, &new).is_empty());
    }

    #[test]
    fn second_functions_are_not_applicable_without_the_first() {
        let c = catalog();
        let states = section_states(&c, &SectionMarks::new(), &Answers::new());
        for (id, state) in states {
            let f = c.section(&id).unwrap().function;
            if Function::CATEGORIES.contains(&f) {
                assert_eq!(state, SectionState::NotApplicable);
            } else {
                assert_eq!(state, SectionState::Empty);
            }
        }
    }
}
