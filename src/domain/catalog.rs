//! The report catalog of a fiscal year as data (domain.md §4.6): sections, items, answer
//! kinds, choices, conditions, ★ requirements, 2号 categories, yes-sets, NDB keys and the
//! `provisional` flag. Shipped in `reference/catalog/`, embedded in the binary, and
//! replaceable by a corrected file without a rebuild.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Which function a section's items decide (domain.md §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    Function1,
    AfterHours,
    AdmissionDischarge,
    HomeCare,
    CareCoordination,
    Other,
}

impl Function {
    /// The four 2号 categories イ, ロ, ハ, ニ.
    pub const CATEGORIES: [Function; 4] = [
        Function::AfterHours,
        Function::AdmissionDischarge,
        Function::HomeCare,
        Function::CareCoordination,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Function::Function1 => "1号機能",
            Function::AfterHours => "2号イ 通常の診療時間外の診療",
            Function::AdmissionDischarge => "2号ロ 入退院時の支援",
            Function::HomeCare => "2号ハ 在宅医療の提供",
            Function::CareCoordination => "2号ニ 介護サービス等と連携した医療提供",
            Function::Other => "その他の報告事項",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Choice,
    Multi,
    Count,
    Decimal1,
    Text,
    Names,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub code: i64,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    pub item: String,
    pub any_of: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    pub id: String,
    pub title: String,
    pub function: Function,
    pub intro: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub code: String,
    pub section: String,
    pub label: String,
    pub kind: Kind,
    pub choices: Vec<Choice>,
    /// Codes that mean 「実施している／実績がある」.
    pub yes: Vec<i64>,
    pub required: bool,
    pub star: bool,
    pub condition: Option<Condition>,
    /// A multi code that excludes every other (1-4: 0 該当無し).
    pub exclusive: Option<i64>,
    pub other_text: bool,
    pub max_length: Option<usize>,
    pub max_names: Option<usize>,
    pub ndb_key: Option<String>,
    pub ndb_probable: bool,
    /// False for partner-name lists, which never make a 2号 function 有り by themselves.
    pub counts_for_function: bool,
    pub provisional: bool,
    pub source: String,
    pub help: Option<String>,
    /// Shown on the public pages and in the 公表用CSV (a display attribute: it changes
    /// no answer, so a shipped catalog version may gain it).
    pub published: bool,
    /// A count published only under the small-count rules, like the NDB counts.
    pub sensitive: bool,
    /// What a count counts (回, 人, 件 …), shown beside it on every screen, print and
    /// form. A display attribute like `published`.
    pub unit: Option<String>,
}

impl Item {
    /// Counts whose 1–9 must never be published: NDB-derived ones, and those the
    /// catalog marks sensitive (domain.md §5).
    pub fn is_masked_count(&self) -> bool {
        self.kind == Kind::Count && (self.ndb_key.is_some() || self.sensitive)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Catalog {
    pub fiscal_year: i32,
    pub version: String,
    pub title: String,
    pub sections: Vec<Section>,
    pub items: Vec<Item>,
    #[serde(skip)]
    index: HashMap<String, usize>,
}

/// One problem in a catalog file, with the line it is on (1-based; 0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogProblem {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for CatalogProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}行目: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

// The file as written. Spans give line numbers for semantic problems.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    fiscal_year: i32,
    version: String,
    title: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    scales: Vec<RawScale>,
    sections: Vec<RawSection>,
    items: Vec<RawItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScale {
    id: String,
    yes: Vec<i64>,
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    id: String,
    title: String,
    function: Function,
    #[serde(default)]
    intro: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    item: toml::Spanned<String>,
    #[serde(rename = "in")]
    any_of: Vec<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    code: toml::Spanned<String>,
    section: String,
    label: String,
    kind: Kind,
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    scale: Option<toml::Spanned<String>>,
    #[serde(default)]
    yes: Option<Vec<i64>>,
    required: bool,
    #[serde(default)]
    star: bool,
    #[serde(default)]
    condition: Option<RawCondition>,
    #[serde(default)]
    exclusive: Option<i64>,
    #[serde(default)]
    other_text: bool,
    #[serde(default)]
    max_length: Option<usize>,
    #[serde(default)]
    max_names: Option<usize>,
    #[serde(default)]
    ndb_key: Option<String>,
    #[serde(default)]
    ndb_probable: bool,
    #[serde(default)]
    counts_for_function: Option<bool>,
    provisional: bool,
    source: String,
    #[serde(default)]
    help: Option<String>,
    #[serde(default = "published_by_default")]
    published: bool,
    #[serde(default)]
    sensitive: bool,
    #[serde(default)]
    unit: Option<String>,
}

fn published_by_default() -> bool {
    true
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The catalogs that ship with the product.
pub fn shipped(fiscal_year: i32) -> Option<&'static str> {
    match fiscal_year {
        2025 => Some(include_str!("../../reference/catalog/fy2025.toml")),
        2026 => Some(include_str!("../../reference/catalog/fy2026.toml")),
        _ => None,
    }
}

impl Catalog {
    /// Reads and checks a catalog file; every problem is reported with its line.
    pub fn parse(text: &str) -> Result<Catalog, Vec<CatalogProblem>> {
        let raw: RawCatalog = toml::from_str(text).map_err(|e| {
            vec![CatalogProblem {
                line: e.span().map_or(0, |s| line_of(text, s.start)),
                message: format!("書式の誤り: {}", e.message()),
            }]
        })?;
        let _ = raw.note;
        let mut problems = Vec::new();
        let mut problem = |offset: usize, message: String| {
            problems.push(CatalogProblem {
                line: line_of(text, offset),
                message,
            })
        };
        let scales: HashMap<&str, &RawScale> =
            raw.scales.iter().map(|s| (s.id.as_str(), s)).collect();
        let sections: Vec<Section> = raw
            .sections
            .iter()
            .map(|s| Section {
                id: s.id.clone(),
                title: s.title.clone(),
                function: s.function,
                intro: s.intro.clone(),
            })
            .collect();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut items: Vec<Item> = Vec::new();
        for raw_item in &raw.items {
            let code = raw_item.code.get_ref().clone();
            let at = raw_item.code.span().start;
            if index.contains_key(&code) {
                problem(at, format!("項目コード {code} が重複しています"));
                continue;
            }
            if !sections.iter().any(|s| s.id == raw_item.section) {
                problem(
                    at,
                    format!("{code}: 区分 {} がありません", raw_item.section),
                );
            }
            let (mut choices, scale_yes) = match (&raw_item.choices, &raw_item.scale) {
                (Some(c), None) => (c.clone(), None),
                (None, Some(name)) => match scales.get(name.get_ref().as_str()) {
                    Some(scale) => (scale.choices.clone(), Some(scale.yes.clone())),
                    None => {
                        problem(
                            name.span().start,
                            format!("{code}: 選択肢の尺度 {} がありません", name.get_ref()),
                        );
                        (Vec::new(), None)
                    }
                },
                (Some(_), Some(_)) => {
                    problem(
                        at,
                        format!("{code}: choices と scale は片方だけにしてください"),
                    );
                    (Vec::new(), None)
                }
                (None, None) => (Vec::new(), None),
            };
            let needs_choices = matches!(raw_item.kind, Kind::Choice | Kind::Multi);
            if needs_choices && choices.is_empty() {
                problem(at, format!("{code}: 選択肢がありません"));
            }
            if !needs_choices && !choices.is_empty() {
                problem(at, format!("{code}: この種類の項目に選択肢は使えません"));
                choices.clear();
            }
            let mut seen = std::collections::HashSet::new();
            for c in &choices {
                if !seen.insert(c.code) {
                    problem(
                        at,
                        format!("{code}: 選択肢コード {} が重複しています", c.code),
                    );
                }
            }
            let yes = raw_item.yes.clone().or(scale_yes).unwrap_or_default();
            for y in &yes {
                if !choices.iter().any(|c| c.code == *y) {
                    problem(at, format!("{code}: yes のコード {y} が選択肢にありません"));
                }
            }
            let condition = match &raw_item.condition {
                None => None,
                Some(c) => {
                    let target = c.item.get_ref();
                    match index.get(target) {
                        None => {
                            problem(
                                c.item.span().start,
                                format!(
                                    "{code}: 条件の項目 {target} がありません（前にある項目を指定してください）"
                                ),
                            );
                            None
                        }
                        Some(&i) => {
                            for v in &c.any_of {
                                if !items[i].choices.iter().any(|ch| ch.code == *v) {
                                    problem(
                                        c.item.span().start,
                                        format!(
                                            "{code}: 条件のコード {v} は {target} の選択肢にありません"
                                        ),
                                    );
                                }
                            }
                            Some(Condition {
                                item: target.clone(),
                                any_of: c.any_of.clone(),
                            })
                        }
                    }
                }
            };
            if let Some(unit) = &raw_item.unit
                && (raw_item.kind != Kind::Count
                    || unit.trim().is_empty()
                    || unit.chars().count() > 4)
            {
                problem(
                    at,
                    format!("{code}: unit は数値の項目に4文字以内で付けます（回・人・件など）"),
                );
            }
            if raw_item.sensitive && raw_item.kind != Kind::Count {
                problem(
                    at,
                    format!("{code}: sensitive は回数の項目にだけ付けられます"),
                );
            }
            if raw_item.star && !matches!(raw_item.kind, Kind::Choice | Kind::Multi) {
                problem(at, format!("{code}: ★ は選択式の項目にだけ付けられます"));
            }
            index.insert(code.clone(), items.len());
            items.push(Item {
                code,
                section: raw_item.section.clone(),
                label: raw_item.label.clone(),
                kind: raw_item.kind,
                choices,
                yes,
                required: raw_item.required,
                star: raw_item.star,
                condition,
                exclusive: raw_item.exclusive,
                other_text: raw_item.other_text,
                max_length: raw_item.max_length,
                max_names: raw_item.max_names,
                ndb_key: raw_item.ndb_key.clone(),
                ndb_probable: raw_item.ndb_probable,
                counts_for_function: raw_item
                    .counts_for_function
                    .unwrap_or(raw_item.condition.is_none() || raw_item.kind != Kind::Names),
                provisional: raw_item.provisional,
                source: raw_item.source.clone(),
                help: raw_item.help.clone(),
                published: raw_item.published,
                sensitive: raw_item.sensitive,
                unit: raw_item.unit.clone(),
            });
        }
        if problems.is_empty() {
            Ok(Catalog {
                fiscal_year: raw.fiscal_year,
                version: raw.version,
                title: raw.title,
                sections,
                items,
                index,
            })
        } else {
            Err(problems)
        }
    }

    pub fn item(&self, code: &str) -> Option<&Item> {
        self.index.get(code).map(|&i| &self.items[i])
    }

    pub fn section(&self, id: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.id == id)
    }

    pub fn function_of(&self, item: &Item) -> Option<Function> {
        self.section(&item.section).map(|s| s.function)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fy2025() -> Catalog {
        Catalog::parse(shipped(2025).unwrap()).unwrap_or_else(|p| panic!("{p:?}"))
    }

    #[test]
    fn the_shipped_catalog_is_complete() {
        let c = fy2025();
        assert_eq!(c.fiscal_year, 2025);
        assert_eq!(c.items.len(), 48);
        let stars: Vec<&str> = c
            .items
            .iter()
            .filter(|i| i.star)
            .map(|i| i.code.as_str())
            .collect();
        assert_eq!(stars, ["1-1", "1-4", "1-6"]);
        let areas = c.item("1-4").unwrap();
        assert_eq!(areas.choices.len(), 18);
        assert_eq!(areas.exclusive, Some(0));
        assert_eq!(c.item("1-5").unwrap().choices.len(), 40);
        assert_eq!(
            c.item("1-3a").unwrap().condition.as_ref().unwrap().item,
            "1-3"
        );
        assert!(!c.item("2イ-3a").unwrap().counts_for_function);
        assert!(c.item("2ニ-6").unwrap().counts_for_function);
        assert_eq!(
            c.item("2イ-1").unwrap().yes,
            vec![2, 3, 4, 5, 6, 7],
            "from the F8 scale"
        );
        for category in Function::CATEGORIES {
            assert!(
                c.items.iter().any(|i| c.function_of(i) == Some(category)),
                "{category:?}"
            );
        }
    }

    #[test]
    fn problems_name_their_line() {
        let base = shipped(2025).unwrap();
        // A duplicate code: the second "1-1" is reported on its own line.
        let dup = base.replacen("code = \"1-2\"", "code = \"1-1\"", 1);
        let problems = Catalog::parse(&dup).unwrap_err();
        let line = dup
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == "code = \"1-1\"")
            .nth(1)
            .unwrap()
            .0
            + 1;
        assert!(
            problems
                .iter()
                .any(|p| p.line == line && p.message.contains("重複")),
            "{problems:?}"
        );
        // A condition on an unknown item.
        let bad = base.replacen("item = \"1-3\"", "item = \"9-99\"", 1);
        let problems = Catalog::parse(&bad).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.message.contains("9-99") && p.line > 0),
            "{problems:?}"
        );
        // Plain syntax errors have a line too.
        let broken = format!("{base}\n[[items]]\ncode = \n");
        let problems = Catalog::parse(&broken).unwrap_err();
        assert!(problems[0].line > 0);
    }
}
