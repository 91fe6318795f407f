//! What a prefecture publishes and how (domain.md §5): its publication rules, an
//! institution's own values under the 1–9 rule, and the summary tables (集計表) per
//! 市区町村, 保健所 and 二次医療圏 with a prefecture total, their count columns
//! suppressed jointly through [`suppression`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::catalog::Catalog;
use super::determination::Answers;
use super::suppression::{self, Leaf, Mask, MaskedOwn, Place};

/// The rules a prefecture publishes by; the defaults are domain.md §5's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationRules {
    /// A count from 1 to `threshold − 1` is never shown (0 is).
    pub threshold: u64,
    /// A municipality under this many people uses `small_threshold` for its own cells.
    pub small_population: u64,
    pub small_threshold: u64,
    /// A municipality under this many people has none of its counts shown.
    pub hidden_below: u64,
    /// The thresholds of 保健所, 二次医療圏 and prefecture sums.
    pub area_threshold: u64,
    pub medical_area_threshold: u64,
    pub total_threshold: u64,
    /// 0: off. Otherwise a non-zero aggregated cell of fewer institutions is masked.
    pub min_institutions: u64,
    /// What stands in a masked cell.
    pub mark: String,
    /// The prefecture's own page about the report, linked from the public pages.
    pub prefecture_url: String,
    /// Said to readers above the rules on the public page.
    pub explanation: String,
}

impl Default for PublicationRules {
    fn default() -> Self {
        PublicationRules {
            threshold: 10,
            small_population: 25_000,
            small_threshold: 20,
            hidden_below: 2_000,
            area_threshold: 10,
            medical_area_threshold: 10,
            total_threshold: 10,
            min_institutions: 0,
            mark: "*".into(),
            prefecture_url: String::new(),
            explanation: String::new(),
        }
    }
}

/// A published value: the number, or the mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shown {
    Value(u64),
    Masked,
}

pub type FieldErrors = BTreeMap<&'static str, String>;

/// The rules form as typed, kept as text so that a refused form comes back as it was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesInput {
    #[serde(default)]
    pub threshold: String,
    #[serde(default)]
    pub small_population: String,
    #[serde(default)]
    pub small_threshold: String,
    #[serde(default)]
    pub hidden_below: String,
    #[serde(default)]
    pub area_threshold: String,
    #[serde(default)]
    pub medical_area_threshold: String,
    #[serde(default)]
    pub total_threshold: String,
    #[serde(default)]
    pub min_institutions: String,
    #[serde(default)]
    pub mark: String,
    #[serde(default)]
    pub prefecture_url: String,
    #[serde(default)]
    pub explanation: String,
}

impl From<&PublicationRules> for RulesInput {
    fn from(r: &PublicationRules) -> Self {
        RulesInput {
            threshold: r.threshold.to_string(),
            small_population: r.small_population.to_string(),
            small_threshold: r.small_threshold.to_string(),
            hidden_below: r.hidden_below.to_string(),
            area_threshold: r.area_threshold.to_string(),
            medical_area_threshold: r.medical_area_threshold.to_string(),
            total_threshold: r.total_threshold.to_string(),
            min_institutions: r.min_institutions.to_string(),
            mark: r.mark.clone(),
            prefecture_url: r.prefecture_url.clone(),
            explanation: r.explanation.clone(),
        }
    }
}

/// A whole number as people type it: full-width digits and thousands separators too.
pub fn read_number(text: &str) -> Option<u64> {
    let plain: String = super::normalize::nfkc(text)
        .chars()
        .filter(|c| !matches!(c, ',' | ' '))
        .collect();
    if plain.is_empty() || !plain.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    plain.parse().ok()
}

impl RulesInput {
    /// The rules, or a message per field. The NDB rule (threshold 10) is the floor: a
    /// prefecture may be stricter, never looser.
    pub fn read(&self) -> Result<PublicationRules, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut number =
            |field: &'static str, text: &str, least: u64, most: u64| match read_number(text) {
                Some(n) if (least..=most).contains(&n) => n,
                Some(_) => {
                    errors.insert(field, format!("{least}〜{most} の数で入力してください"));
                    0
                }
                None => {
                    errors.insert(field, "数字で入力してください".into());
                    0
                }
            };
        let threshold = number("threshold", &self.threshold, 10, 1000);
        let small_population = number("small_population", &self.small_population, 0, 10_000_000);
        let small_threshold = number("small_threshold", &self.small_threshold, 10, 1000);
        let hidden_below = number("hidden_below", &self.hidden_below, 0, 10_000_000);
        let area_threshold = number("area_threshold", &self.area_threshold, 10, 1000);
        let medical_area_threshold = number(
            "medical_area_threshold",
            &self.medical_area_threshold,
            10,
            1000,
        );
        let total_threshold = number("total_threshold", &self.total_threshold, 10, 1000);
        let min_institutions = number("min_institutions", &self.min_institutions, 0, 100);
        let mark = self.mark.trim().to_string();
        if mark.is_empty() || mark.chars().count() > 4 || mark.chars().any(|c| c.is_ascii_digit()) {
            errors.insert("mark", "数字を含まない4文字以内の記号にしてください".into());
        }
        if !errors.contains_key("small_threshold") && small_threshold < threshold {
            errors.insert(
                "small_threshold",
                "小規模な市区町村の閾値は、基本の閾値以上にしてください".into(),
            );
        }
        if !errors.contains_key("hidden_below")
            && !errors.contains_key("small_population")
            && hidden_below > small_population
        {
            errors.insert(
                "hidden_below",
                "表示しない人口の上限は、閾値20を使う人口の上限以下にしてください".into(),
            );
        }
        let url = self.prefecture_url.trim();
        if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://"))
            || url.chars().any(char::is_whitespace)
            || url.len() > 500
        {
            errors.insert(
                "prefecture_url",
                "https:// で始まるアドレスを入力してください".into(),
            );
        }
        if self.explanation.chars().count() > 2000 {
            errors.insert("explanation", "2000文字以内にしてください".into());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(PublicationRules {
            threshold,
            small_population,
            small_threshold,
            hidden_below,
            area_threshold,
            medical_area_threshold,
            total_threshold,
            min_institutions,
            mark,
            prefecture_url: url.to_string(),
            explanation: self.explanation.trim().to_string(),
        })
    }
}

impl PublicationRules {
    pub fn suppression(&self) -> suppression::Rules {
        suppression::Rules {
            threshold: self.threshold,
            small_population: self.small_population,
            small_threshold: self.small_threshold,
            hidden_below: self.hidden_below,
        }
    }

    /// One institution's own count: the 1–9 rule only (the population and
    /// fewer-than-3 rules are for aggregated cells).
    pub fn own_value(&self, value: u64) -> Shown {
        if (1..self.threshold).contains(&value) {
            Shown::Masked
        } else {
            Shown::Value(value)
        }
    }

    pub fn show(&self, shown: Shown) -> String {
        match shown {
            Shown::Value(v) => v.to_string(),
            Shown::Masked => self.mark.clone(),
        }
    }

    fn sums_note(&self) -> String {
        let (a, m, t) = (
            self.area_threshold,
            self.medical_area_threshold,
            self.total_threshold,
        );
        let which = if a == m && m == t {
            format!("保健所、二次医療圏、県全体の欄は{a}未満")
        } else {
            format!("保健所の欄は{a}未満、二次医療圏の欄は{m}未満、県全体の欄は{t}未満")
        };
        format!(
            "{which}を伏せています。合計から引き算で伏せた値がわからないよう、他の欄もあわせて伏せています。"
        )
    }

    /// The thresholds of the sums, as the suppression takes them.
    pub fn sum_thresholds(&self) -> suppression::SumThresholds {
        suppression::SumThresholds {
            area: self.area_threshold,
            medical_area: self.medical_area_threshold,
            total: self.total_threshold,
        }
    }

    /// The rules in words, for readers: under each table and on the public page.
    pub fn notes(&self) -> Vec<String> {
        let mark = &self.mark;
        let mut notes = vec![
            format!(
                "「{mark}」は、NDB（レセプト情報・特定健診等情報データベース）に由来する回数などが1〜{}であるか、他の欄から計算できないよう伏せた欄です。0 はそのまま表示しています。",
                self.threshold - 1
            ),
            format!(
                "市区町村の欄は、人口{}人未満では{}未満を伏せ、人口{}人未満の市区町村は回数を表示しません（人口が登録されていない市区町村は{}未満を伏せます）。",
                group(self.small_population),
                self.small_threshold,
                group(self.hidden_below),
                self.small_threshold
            ),
            self.sums_note(),
        ];
        if self.min_institutions > 0 {
            notes.push(format!(
                "{}機関未満の医療機関から集計した欄（0 を除く）も伏せています。",
                self.min_institutions
            ));
        }
        notes
    }
}

fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The counts of one municipality, from the published snapshot.
#[derive(Debug, Clone, Default)]
pub struct MunicipalityCounts {
    pub name: String,
    /// Index of its 保健所 and of its 二次医療圏 in the tables' rows.
    pub jurisdiction: usize,
    pub medical_area: usize,
    pub population: Option<u64>,
    /// Institution counts (報告対象, 報告, 1号, 2号イ〜ニ): never masked.
    pub plain: Vec<u64>,
    /// Per masked column: the sum and what it is built from.
    pub sums: Vec<ColumnSum>,
}

/// A municipality's sum of one masked column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColumnSum {
    pub value: u64,
    /// Institutions whose report gives the item.
    pub institutions: u64,
    /// Those whose own row shows the value masked (1 to threshold − 1), and their sum.
    pub masked_own: MaskedOwn,
}

impl ColumnSum {
    /// Adds one institution's value, as its own row publishes it under `rules`.
    pub fn add(&mut self, value: u64, rules: &PublicationRules) {
        self.value += value;
        self.institutions += 1;
        if rules.own_value(value) == Shown::Masked {
            self.masked_own.count += 1;
            self.masked_own.sum += value;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableColumn {
    pub label: String,
    /// Suppressed under the rules (an NDB or sensitive count).
    pub masked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellMask {
    Shown,
    Primary,
    Complement,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCell {
    pub value: u64,
    pub mask: CellMask,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRow {
    pub name: String,
    /// For a municipality: its 保健所.
    pub group: Option<String>,
    pub cells: Vec<TableCell>,
}

/// Which grouping a table is by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableBy {
    Area,
    Municipality,
    MedicalArea,
}

impl TableBy {
    pub const ALL: [TableBy; 3] = [TableBy::Municipality, TableBy::Area, TableBy::MedicalArea];

    pub fn code(self) -> &'static str {
        match self {
            TableBy::Area => "area",
            TableBy::Municipality => "municipality",
            TableBy::MedicalArea => "medical-area",
        }
    }

    pub fn from_code(code: &str) -> Option<TableBy> {
        TableBy::ALL.into_iter().find(|b| b.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            TableBy::Area => "保健所別",
            TableBy::Municipality => "市区町村別",
            TableBy::MedicalArea => "二次医療圏別",
        }
    }

    pub fn heading(self) -> &'static str {
        match self {
            TableBy::Area => "保健所",
            TableBy::Municipality => "市区町村",
            TableBy::MedicalArea => "二次医療圏",
        }
    }
}

/// The three linked tables and their total, with what was hidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryTables {
    pub columns: Vec<TableColumn>,
    pub by_municipality: Vec<TableRow>,
    pub by_area: Vec<TableRow>,
    pub by_medical_area: Vec<TableRow>,
    pub total: TableRow,
    /// Cells masked for their own value or by the rules, and for protection.
    pub primaries: usize,
    pub complements: usize,
}

impl SummaryTables {
    pub fn rows(&self, by: TableBy) -> &[TableRow] {
        match by {
            TableBy::Area => &self.by_area,
            TableBy::Municipality => &self.by_municipality,
            TableBy::MedicalArea => &self.by_medical_area,
        }
    }

    /// The tables with every masked value erased: what is stored and published.
    pub fn published(mut self) -> SummaryTables {
        let rows = self
            .by_municipality
            .iter_mut()
            .chain(self.by_area.iter_mut())
            .chain(self.by_medical_area.iter_mut())
            .chain(std::iter::once(&mut self.total));
        for row in rows {
            for cell in &mut row.cells {
                if cell.mask != CellMask::Shown {
                    cell.value = 0;
                }
            }
        }
        self
    }
}

/// Builds the tables and suppresses each masked column jointly over the three
/// groupings and the total. `areas` and `medical_areas` name the rows; every
/// municipality's `plain` and `sums` follow `columns` (plain ones first).
pub fn summary_tables(
    rules: &PublicationRules,
    columns: Vec<TableColumn>,
    areas: &[String],
    medical_areas: &[String],
    municipalities: &[MunicipalityCounts],
) -> SummaryTables {
    let plain_count = columns.iter().filter(|c| !c.masked).count();
    let shown = |value| TableCell {
        value,
        mask: CellMask::Shown,
    };
    let empty_row = |name: &String| TableRow {
        name: name.clone(),
        group: None,
        cells: Vec::with_capacity(columns.len()),
    };
    let mut by_municipality: Vec<TableRow> = municipalities
        .iter()
        .map(|m| TableRow {
            name: m.name.clone(),
            group: areas.get(m.jurisdiction).cloned(),
            cells: Vec::with_capacity(columns.len()),
        })
        .collect();
    let mut by_area: Vec<TableRow> = areas.iter().map(empty_row).collect();
    let mut by_medical_area: Vec<TableRow> = medical_areas.iter().map(empty_row).collect();
    let mut total = empty_row(&"県全体".to_string());
    for k in 0..plain_count {
        let mut area_sums = vec![0; areas.len()];
        let mut medical_sums = vec![0; medical_areas.len()];
        for (m, row) in municipalities.iter().zip(&mut by_municipality) {
            let v = m.plain.get(k).copied().unwrap_or(0);
            area_sums[m.jurisdiction] += v;
            medical_sums[m.medical_area] += v;
            row.cells.push(shown(v));
        }
        for (row, v) in by_area.iter_mut().zip(&area_sums) {
            row.cells.push(shown(*v));
        }
        for (row, v) in by_medical_area.iter_mut().zip(&medical_sums) {
            row.cells.push(shown(*v));
        }
        total.cells.push(shown(area_sums.iter().sum()));
    }
    let (mut primaries, mut complements) = (0, 0);
    let suppression_rules = rules.suppression();
    for k in 0..columns.len() - plain_count {
        let leaves: Vec<Leaf> = municipalities
            .iter()
            .map(|m| {
                let sum = m.sums.get(k).copied().unwrap_or_default();
                let (threshold, always_hidden) = suppression_rules.for_municipality(m.population);
                Leaf {
                    row: m.jurisdiction,
                    column: m.medical_area,
                    value: sum.value,
                    threshold,
                    always_hidden,
                    institutions: sum.institutions,
                    masked_own: sum.masked_own,
                }
            })
            .collect();
        let cells = suppression::linked_cells(
            areas.len(),
            medical_areas.len(),
            &leaves,
            rules.sum_thresholds(),
            rules.min_institutions,
            rules.threshold - 1,
        );
        let outcome = suppression::suppress(areas.len(), medical_areas.len(), &cells);
        complements += outcome.complements;
        for (i, (cell, mask)) in cells.iter().zip(&outcome.masks).enumerate() {
            let mask = match mask {
                Mask::Shown => CellMask::Shown,
                Mask::Primary => CellMask::Primary,
                Mask::Complement => CellMask::Complement,
            };
            primaries += usize::from(mask == CellMask::Primary);
            let out = TableCell {
                value: cell.value,
                mask,
            };
            let row = match cell.place {
                // linked_cells puts the municipalities first, in the order given.
                Place::Municipality { .. } => &mut by_municipality[i],
                Place::RowTotal(r) => &mut by_area[r],
                Place::ColumnTotal(c) => &mut by_medical_area[c],
                Place::Total => &mut total,
            };
            row.cells.push(out);
        }
    }
    SummaryTables {
        columns,
        by_municipality,
        by_area,
        by_medical_area,
        total,
        primaries,
        complements,
    }
}

/// The item whose choices are the 一次診療の対応領域, and the one of the diseases.
pub const PRIMARY_AREAS_ITEM: &str = "1-4";
pub const DISEASES_ITEM: &str = "1-5";

/// The codes chosen in a multi item as bits (bit n for code n, 1–62), for the search.
pub fn chosen_bits(answers: &Answers, item: &str) -> i64 {
    answers
        .get(item)
        .and_then(Value::as_array)
        .map_or(0, |codes| {
            codes
                .iter()
                .filter_map(Value::as_i64)
                .filter(|c| (1..63).contains(c))
                .fold(0i64, |bits, c| bits | (1 << c))
        })
}

/// What the public sees of one confirmed report: the published items it answers, with
/// each masked count replaced by the mark (a string where a number would be).
pub fn public_answers(catalog: &Catalog, answers: &Answers, rules: &PublicationRules) -> Answers {
    let mut out = Answers::new();
    for item in catalog.items.iter().filter(|i| i.published) {
        if let Some(value) = answers.get(&item.code).filter(|v| !v.is_null()) {
            let shown = match (item.is_masked_count(), value.as_u64()) {
                (true, Some(n)) => match rules.own_value(n) {
                    Shown::Value(v) => Value::from(v),
                    Shown::Masked => Value::from(rules.mark.clone()),
                },
                _ => value.clone(),
            };
            out.insert(item.code.clone(), shown);
        }
        let other = format!("{}:other", item.code);
        if let Some(text) = answers.get(&other).filter(|v| !v.is_null()) {
            out.insert(other, text.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> PublicationRules {
        PublicationRules::default()
    }

    fn input() -> RulesInput {
        RulesInput::from(&rules())
    }

    #[test]
    fn rules_are_read_as_typed_and_never_looser_than_the_ndb_rule() {
        let mut i = input();
        i.threshold = "１５".into();
        i.small_population = "25,000".into();
        assert_eq!(i.read().map(|r| r.threshold), Ok(15));
        i.threshold = "9".into();
        let errors = i.read().unwrap_err();
        assert!(errors["threshold"].contains("10〜1000"));
        // With threshold 15, a small municipality's 10 would be looser.
        let mut i = input();
        i.threshold = "15".into();
        i.small_threshold = "12".into();
        assert!(i.read().unwrap_err().contains_key("small_threshold"));
        let mut i = input();
        i.mark = "1".into();
        i.prefecture_url = "javascript:alert(1)".into();
        i.hidden_below = "abc".into();
        let errors = i.read().unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["hidden_below", "mark", "prefecture_url"]
        );
        assert_eq!(input().read(), Ok(rules()));
    }

    #[test]
    fn an_institutions_own_count_hides_one_to_nine_only() {
        let r = rules();
        assert_eq!(r.own_value(0), Shown::Value(0));
        assert_eq!(r.own_value(1), Shown::Masked);
        assert_eq!(r.own_value(9), Shown::Masked);
        assert_eq!(r.own_value(10), Shown::Value(10));
        assert_eq!(r.show(Shown::Masked), "*");
        assert!(r.notes()[0].contains("1〜9"));
        assert_eq!(
            r.notes().len(),
            3,
            "the fewer-than-3 rule is off by default"
        );
    }

    #[test]
    fn public_answers_keep_published_items_and_mask_small_counts() {
        let mut catalog = Catalog::parse(crate::domain::catalog::shipped(2026).unwrap()).unwrap();
        let ndb_item = catalog
            .items
            .iter()
            .find(|i| i.ndb_key.is_some())
            .unwrap()
            .code
            .clone();
        let plain_count = catalog
            .items
            .iter()
            .find(|i| i.kind == crate::domain::catalog::Kind::Count && i.ndb_key.is_none())
            .unwrap()
            .code
            .clone();
        let hidden = catalog.items.iter_mut().find(|i| i.code == "1-6").unwrap();
        hidden.published = false;
        let answers: Answers = serde_json::from_value(serde_json::json!({
            "1-4": [1, 3, 17], "1-5": [2], "1-5:other": "花粉症", "1-6": 1,
            ndb_item.clone(): 7, plain_count.clone(): 3,
        }))
        .unwrap();
        let out = public_answers(&catalog, &answers, &rules());
        assert_eq!(out[&ndb_item], Value::from("*"));
        assert_eq!(out[&plain_count], Value::from(3), "not an NDB count");
        assert!(!out.contains_key("1-6"), "not published");
        assert_eq!(out["1-5:other"], Value::from("花粉症"));
        assert_eq!(chosen_bits(&answers, PRIMARY_AREAS_ITEM), 2 | 8 | (1 << 17));
        assert_eq!(chosen_bits(&answers, "9-9"), 0);
    }

    fn municipality(
        name: &str,
        area: usize,
        medical: usize,
        pop: u64,
        v: u64,
    ) -> MunicipalityCounts {
        MunicipalityCounts {
            name: name.into(),
            jurisdiction: area,
            medical_area: medical,
            population: Some(pop),
            plain: vec![10, 8],
            sums: vec![ColumnSum {
                value: v,
                institutions: 4,
                masked_own: MaskedOwn::default(),
            }],
        }
    }

    #[test]
    fn the_tables_add_up_and_mask_jointly() {
        let columns = vec![
            TableColumn {
                label: "報告対象".into(),
                masked: false,
            },
            TableColumn {
                label: "報告".into(),
                masked: false,
            },
            TableColumn {
                label: "時間外加算".into(),
                masked: true,
            },
        ];
        let areas = ["A保健所".to_string(), "B保健所".to_string()];
        let medical = ["東".to_string(), "西".to_string()];
        let ms = [
            municipality("一市", 0, 0, 50_000, 3),
            municipality("二町", 0, 1, 30_000, 40),
            municipality("三市", 1, 1, 80_000, 55),
            municipality("四村", 1, 0, 1_500, 30),
        ];
        let t = summary_tables(&rules(), columns, &areas, &medical, &ms);
        assert_eq!(t.total.cells[0].value, 40);
        assert_eq!(t.by_area[0].cells[1].value, 16);
        assert_eq!(t.by_medical_area[1].cells[2].value, 95);
        assert_eq!(t.by_municipality[0].cells[2].mask, CellMask::Primary);
        assert_eq!(
            t.by_municipality[3].cells[2].mask,
            CellMask::Primary,
            "under 2,000"
        );
        assert_eq!(t.by_municipality[0].group.as_deref(), Some("A保健所"));
        assert!(t.complements >= 1);
        assert_eq!(t.primaries, 2);
        let published = t.clone().published();
        assert_eq!(published.by_municipality[0].cells[2].value, 0);
        assert_eq!(
            published.by_municipality[1].cells[0].value, 10,
            "plain counts stay"
        );
        assert_eq!(
            TableBy::from_code("medical-area"),
            Some(TableBy::MedicalArea)
        );
    }
}
