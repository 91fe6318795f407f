//! かかりつけ医機能判別 (domain.md §4.5): a pure function of the catalog and the answers.
//!
//! - 1号 有り ⇔ every ★ item is answered with one of its yes-codes (1-4: any area 1–17).
//! - Without 1号, every 2号 function is 無.
//! - A 2号 category is 有り ⇔ 1号 有り and any of its items (whose condition holds, and
//!   that counts for the function) is a yes-code, a count > 0, or a non-empty list.

use serde::Serialize;
use serde_json::{Map, Value};

use super::catalog::{Catalog, Function, Item, Kind};

/// An answers document: item code → value (domain.md §4.6).
pub type Answers = Map<String, Value>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Function2 {
    pub after_hours: bool,
    pub admission_discharge: bool,
    pub home_care: bool,
    pub care_coordination: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub item: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reasons {
    /// ★ items not answered "yes" (why 1号 is 無).
    pub missing_star_items: Vec<Reason>,
    /// Per 2号 category, the items that made it 有り.
    pub after_hours: Vec<Reason>,
    pub admission_discharge: Vec<Reason>,
    pub home_care: Vec<Reason>,
    pub care_coordination: Vec<Reason>,
}

/// The JSON shape of domain.md §4.5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Determination {
    pub function1: bool,
    pub function2: Function2,
    pub reasons: Reasons,
}

fn codes(value: &Value) -> Vec<i64> {
    match value {
        Value::Number(n) => n.as_i64().into_iter().collect(),
        Value::Array(items) => items.iter().filter_map(Value::as_i64).collect(),
        _ => Vec::new(),
    }
}

/// Whether an item's condition holds for these answers (items without one always do).
pub fn condition_holds(item: &Item, answers: &Answers) -> bool {
    match &item.condition {
        None => true,
        Some(c) => answers
            .get(&c.item)
            .map(codes)
            .is_some_and(|given| given.iter().any(|g| c.any_of.contains(g))),
    }
}

/// Whether an answer means 「実施している／実績がある」.
fn is_yes(item: &Item, value: &Value) -> bool {
    match item.kind {
        Kind::Choice | Kind::Multi => codes(value).iter().any(|c| item.yes.contains(c)),
        Kind::Count => value.as_i64().is_some_and(|n| n > 0),
        Kind::Decimal1 => value.as_f64().is_some_and(|n| n > 0.0),
        Kind::Names => value.as_array().is_some_and(|names| {
            names
                .iter()
                .any(|n| n.as_str().is_some_and(|s| !s.trim().is_empty()))
        }),
        Kind::Text => false,
    }
}

fn reason(item: &Item) -> Reason {
    Reason {
        item: item.code.clone(),
        label: item.label.clone(),
    }
}

pub fn determine(catalog: &Catalog, answers: &Answers) -> Determination {
    let mut missing = Vec::new();
    for item in catalog.items.iter().filter(|i| i.star) {
        let satisfied = answers.get(&item.code).is_some_and(|v| is_yes(item, v));
        if !satisfied {
            missing.push(reason(item));
        }
    }
    let function1 = missing.is_empty();
    let mut made = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    if function1 {
        for item in &catalog.items {
            let Some(category) = catalog.function_of(item) else {
                continue;
            };
            let Some(slot) = Function::CATEGORIES.iter().position(|c| *c == category) else {
                continue;
            };
            if !item.counts_for_function || !condition_holds(item, answers) {
                continue;
            }
            if answers.get(&item.code).is_some_and(|v| is_yes(item, v)) {
                made[slot].push(reason(item));
            }
        }
    }
    let [
        after_hours,
        admission_discharge,
        home_care,
        care_coordination,
    ] = made;
    Determination {
        function1,
        function2: Function2 {
            after_hours: !after_hours.is_empty(),
            admission_discharge: !admission_discharge.is_empty(),
            home_care: !home_care.is_empty(),
            care_coordination: !care_coordination.is_empty(),
        },
        reasons: Reasons {
            missing_star_items: missing,
            after_hours,
            admission_discharge,
            home_care,
            care_coordination,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::shipped;
    use serde_json::json;

    fn catalog() -> Catalog {
        Catalog::parse(shipped(2025).unwrap()).unwrap()
    }

    fn answers(pairs: &[(&str, Value)]) -> Answers {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    /// The three ★ items satisfied.
    fn function1_base() -> Vec<(&'static str, Value)> {
        vec![("1-1", json!(1)), ("1-4", json!([6, 9])), ("1-6", json!(1))]
    }

    fn with(extra: &[(&'static str, Value)]) -> Answers {
        let mut all = function1_base();
        all.extend(extra.iter().cloned());
        answers(&all)
    }

    #[test]
    fn each_star_missing_alone_denies_function1() {
        let c = catalog();
        assert!(determine(&c, &with(&[])).function1);
        let cases: [(&str, Option<Value>); 6] = [
            ("1-1", None),
            ("1-1", Some(json!(0))),
            ("1-4", None),
            ("1-4", Some(json!([0]))),
            ("1-6", None),
            ("1-6", Some(json!(0))),
        ];
        for (code, value) in cases {
            let mut a = with(&[]);
            match &value {
                None => {
                    a.remove(code);
                }
                Some(v) => {
                    a.insert(code.to_string(), v.clone());
                }
            }
            let d = determine(&c, &a);
            assert!(!d.function1, "{code} = {value:?}");
            assert_eq!(d.reasons.missing_star_items.len(), 1);
            assert_eq!(d.reasons.missing_star_items[0].item, code);
        }
    }

    #[test]
    fn items_1_2_and_1_3_never_change_function1() {
        let c = catalog();
        for extra in [json!(0), json!(1)] {
            let d = determine(&c, &with(&[("1-2", extra.clone()), ("1-3", extra)]));
            assert!(d.function1);
        }
    }

    #[test]
    fn each_category_made_yes_by_each_kind_of_item() {
        let c = catalog();
        type Case = (&'static str, Value, fn(&Function2) -> bool);
        let cases: [Case; 9] = [
            ("2イ-1", json!(3), |f| f.after_hours),         // F8 yes-code
            ("2イ-5", json!(12), |f| f.after_hours),        // NDB count > 0
            ("2イ-4", json!(2), |f| f.after_hours),         // 加算2
            ("2ロ-1", json!(4), |f| f.admission_discharge), // B7 yes
            ("2ロ-2", json!(1), |f| f.admission_discharge), // count
            ("2ハ-1", json!(3), |f| f.home_care),           // 24時間
            ("2ハ-3", json!(40), |f| f.home_care),          // count
            ("2ニ-1", json!(2), |f| f.care_coordination),   // I3 yes
            (
                "2ニ-6",
                json!(["特別養護老人ホーム さくら苑"]),
                |f| f.care_coordination,
            ), // names
        ];
        for (code, value, pick) in cases {
            let d = determine(&c, &with(&[(code, value.clone())]));
            assert!(pick(&d.function2), "{code} = {value}");
            let all = [
                d.function2.after_hours,
                d.function2.admission_discharge,
                d.function2.home_care,
                d.function2.care_coordination,
            ];
            assert_eq!(
                all.iter().filter(|b| **b).count(),
                1,
                "{code}: only its own category"
            );
        }
    }

    #[test]
    fn no_codes_and_zero_counts_stay_no() {
        let c = catalog();
        let d = determine(
            &c,
            &with(&[
                ("2イ-1", json!(1)),
                ("2イ-3", json!(3)),
                ("2イ-5", json!(0)),
                ("2ロ-1", json!(2)),
                ("2ロ-7", json!(0)),
                ("2ハ-1", json!(1)),
                ("2ハ-2", json!(0)),
                ("2ニ-1", json!(1)),
                ("2ニ-6", json!([])),
                ("2イ-9", json!("夜間も電話で相談に応じている")),
            ]),
        );
        assert!(d.function1);
        assert_eq!(
            d.function2,
            Function2 {
                after_hours: false,
                admission_discharge: false,
                home_care: false,
                care_coordination: false
            }
        );
    }

    #[test]
    fn partner_names_alone_never_count() {
        let c = catalog();
        // 2イ-3 = 2 (no, intent with partners) shows 2イ-3a, but names do not make 有り.
        let d = determine(
            &c,
            &with(&[("2イ-3", json!(2)), ("2イ-3a", json!(["鹿児島中央病院"]))]),
        );
        assert!(!d.function2.after_hours);
    }

    #[test]
    fn without_function1_every_function2_is_no() {
        let c = catalog();
        let mut a = with(&[
            ("2イ-1", json!(7)),
            ("2ロ-2", json!(5)),
            ("2ハ-1", json!(5)),
            ("2ニ-1", json!(2)),
        ]);
        a.insert("1-6".into(), json!(0));
        let d = determine(&c, &a);
        assert!(!d.function1);
        assert!(!d.function2.after_hours && !d.function2.admission_discharge);
        assert!(!d.function2.home_care && !d.function2.care_coordination);
        assert!(d.reasons.after_hours.is_empty());
    }

    #[test]
    fn incomplete_and_empty_documents_still_get_a_determination() {
        let c = catalog();
        let d = determine(&c, &Answers::new());
        assert!(!d.function1);
        assert_eq!(d.reasons.missing_star_items.len(), 3);
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["function2"]["care_coordination"], json!(false));
        assert!(json["reasons"].is_object());
    }
}

/// One problem with an answers document, for people to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerProblem {
    pub item: String,
    pub message: String,
}

/// Checks an answers document against the catalog: unknown items, values of the wrong
/// kind or outside the choices, limits, and required items left empty (where their
/// condition holds). An empty result means valid and complete.
pub fn validate(catalog: &Catalog, answers: &Answers) -> Vec<AnswerProblem> {
    let mut problems = Vec::new();
    let mut bad = |item: &str, message: String| {
        problems.push(AnswerProblem {
            item: item.to_string(),
            message,
        })
    };
    for (key, value) in answers {
        let (code, is_other) = match key.strip_suffix(":other") {
            Some(base) => (base, true),
            None => (key.as_str(), false),
        };
        let Some(item) = catalog.item(code) else {
            bad(key, "この項目コードは報告項目にありません".into());
            continue;
        };
        if value.is_null() {
            continue;
        }
        if is_other {
            if !item.other_text {
                bad(key, "この項目に「その他」の記述欄はありません".into());
            } else if !value.is_string() {
                bad(key, "「その他」は文字で入力してください".into());
            }
            continue;
        }
        let in_choices = |c: i64| item.choices.iter().any(|ch| ch.code == c);
        match item.kind {
            Kind::Choice => match value.as_i64() {
                Some(c) if in_choices(c) => {}
                _ => bad(code, "選択肢にない値です".into()),
            },
            Kind::Multi => match value.as_array() {
                Some(list) => {
                    let picked: Vec<Option<i64>> = list.iter().map(Value::as_i64).collect();
                    if picked.iter().any(|c| !c.is_some_and(in_choices)) {
                        bad(code, "選択肢にない値が含まれています".into());
                    }
                    if let Some(x) = item.exclusive
                        && picked.contains(&Some(x))
                        && picked.len() > 1
                    {
                        let label = item
                            .choices
                            .iter()
                            .find(|c| c.code == x)
                            .map_or(String::new(), |c| c.label.clone());
                        bad(code, format!("「{label}」は他の選択肢と同時に選べません"));
                    }
                }
                None => bad(code, "選択肢の一覧（配列）で入力してください".into()),
            },
            Kind::Count => {
                if value.as_u64().is_none_or(|n| n > 100_000_000) {
                    bad(code, "0以上の整数で入力してください".into());
                }
            }
            Kind::Decimal1 => match value.as_f64() {
                Some(n) if n >= 0.0 && ((n * 10.0).round() - n * 10.0).abs() < 1e-9 => {}
                _ => bad(
                    code,
                    "0以上の数（小数点以下1桁まで）で入力してください".into(),
                ),
            },
            Kind::Text => match value.as_str() {
                Some(t) => {
                    let limit = item.max_length.unwrap_or(1_000);
                    if t.chars().count() > limit {
                        bad(code, format!("{limit}文字以内で入力してください"));
                    }
                }
                None => bad(code, "文字で入力してください".into()),
            },
            Kind::Names => match value.as_array() {
                Some(list) if list.iter().all(Value::is_string) => {
                    let limit = item.max_names.unwrap_or(8);
                    if list.len() > limit {
                        bad(code, format!("名称は{limit}件までです"));
                    }
                    if list
                        .iter()
                        .any(|n| n.as_str().is_some_and(|s| s.chars().count() > 200))
                    {
                        bad(code, "名称は200文字以内で入力してください".into());
                    }
                }
                _ => bad(code, "名称の一覧（文字の配列）で入力してください".into()),
            },
        }
    }
    for item in &catalog.items {
        let answered = answers.get(&item.code).is_some_and(|v| match v {
            Value::Null => false,
            Value::String(s) => !s.trim().is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        });
        if item.required
            && !answered
            && condition_holds(item, answers)
            && required_now(catalog, item, answers)
        {
            bad(&item.code, "未回答です".into());
        }
    }
    problems.sort_by(|a, b| {
        let pos = |code: &str| {
            catalog
                .items
                .iter()
                .position(|i| code.starts_with(i.code.as_str()))
        };
        pos(&a.item).cmp(&pos(&b.item))
    });
    problems
}

/// Without 1号, the 2号 part is not required (domain.md §4.5).
fn required_now(catalog: &Catalog, item: &Item, answers: &Answers) -> bool {
    match catalog.function_of(item) {
        Some(f) if Function::CATEGORIES.contains(&f) => determine(catalog, answers).function1,
        _ => true,
    }
}

#[cfg(test)]
mod validation_tests {
    use super::*;
    use crate::domain::catalog::shipped;
    use serde_json::json;

    fn catalog() -> Catalog {
        Catalog::parse(shipped(2025).unwrap()).unwrap()
    }

    fn doc(v: Value) -> Answers {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn hostile_and_wrong_values_are_named() {
        let c = catalog();
        let a = doc(json!({
            "1-1": 7,
            "1-4": [0, 3],
            "2イ-5": -1,
            "2ロ-2": 2.5,
            "1-3a": 1.25,
            "2イ-3a": ["a","b","c","d","e","f","g","h","i"],
            "2イ-9": "x".repeat(100_000),
            "9-99": 1,
            "1-5:other": "めまい",
            "1-6:other": "x",
        }));
        let problems = validate(&c, &a);
        let of = |code: &str| problems.iter().filter(|p| p.item == code).count();
        for code in [
            "1-1",
            "1-4",
            "2イ-5",
            "2ロ-2",
            "1-3a",
            "2イ-3a",
            "2イ-9",
            "9-99",
            "1-6:other",
        ] {
            assert!(of(code) >= 1, "{code}: {problems:?}");
        }
        assert_eq!(of("1-5:other"), 0, "1-5 accepts その他 text");
    }

    #[test]
    fn required_items_depend_on_conditions_and_function1() {
        let c = catalog();
        let mut a = doc(json!({
            "1-1": 1, "1-2": 0, "1-3": 1, "1-4": [1], "1-5": [2, 18], "1-6": 0,
        }));
        let problems = validate(&c, &a);
        assert!(
            problems.iter().any(|p| p.item == "1-3a"),
            "1-3 = 1 makes 1-3a required"
        );
        assert!(
            !problems.iter().any(|p| p.item == "1-2a"),
            "1-2 = 0 leaves 1-2a out"
        );
        assert!(
            !problems.iter().any(|p| p.item.starts_with('2')),
            "no 1号: 2号 not required"
        );
        a.insert("1-6".into(), json!(1));
        a.insert("1-3a".into(), json!(1.5));
        let problems = validate(&c, &a);
        assert!(
            problems.iter().any(|p| p.item == "2イ-1"),
            "with 1号 the 2号 choices are required"
        );
    }
}
