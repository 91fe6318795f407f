//! Synthetic institutions for the demo prefecture and for every benchmark.
//!
//! Deterministic for a given seed (ChaCha8 is specified to give the same stream on every
//! platform and version), streamed as an iterator so that 110,000 institutions never sit
//! in memory at once.

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::area::PrefectureDefinition;
use super::codes::{FeeTable, InstitutionCode};
use super::institution::{Category, Status};

/// A plausible answers document for the demo: every required item answered (so the
/// document is complete), about one clinic in six without the 1号 function, counts and
/// choices varied. Deterministic for the generator's state.
pub fn demo_answers(
    catalog: &super::catalog::Catalog,
    rng: &mut ChaCha8Rng,
) -> super::determination::Answers {
    use super::catalog::Kind;
    use serde_json::Value;
    let mut answers = super::determination::Answers::new();
    let has_function1 = rng.random_ratio(5, 6);
    // Every item is answered, as a clinic must before 報告; answers under conditions that
    // do not hold are dropped below, as on a real save.
    for item in &catalog.items {
        let pick = |rng: &mut ChaCha8Rng| -> Option<i64> {
            let star_yes = item.star && has_function1;
            if star_yes || (!item.yes.is_empty() && rng.random_ratio(2, 3)) {
                item.yes
                    .first()
                    .copied()
                    .or(item.choices.first().map(|c| c.code))
            } else {
                let no: Vec<i64> = item
                    .choices
                    .iter()
                    .map(|c| c.code)
                    .filter(|c| !item.yes.contains(c) && Some(*c) != item.exclusive)
                    .collect();
                no.get(rng.random_range(0..no.len().max(1))).copied()
            }
        };
        let value = match item.kind {
            Kind::Choice => pick(rng).map(Value::from),
            Kind::Multi => {
                let first = pick(rng);
                let mut codes: Vec<i64> = first.into_iter().collect();
                if let Some(extra) = item.yes.get(rng.random_range(0..item.yes.len().max(1))) {
                    if !codes.contains(extra) && item.exclusive != Some(*extra) {
                        codes.push(*extra);
                    }
                }
                codes.sort_unstable();
                (!codes.is_empty()).then(|| Value::from(codes))
            }
            Kind::Count => Some(Value::from(if rng.random_ratio(1, 3) {
                0
            } else {
                rng.random_range(1..60)
            })),
            Kind::Decimal1 => Some(Value::from(f64::from(rng.random_range(0..200)) / 10.0)),
            Kind::Text => None,
            Kind::Names => {
                let n = rng.random_range(0..3);
                (n > 0).then(|| {
                    Value::from(
                        (0..n)
                            .map(|i| format!("協力医療機関{}", i + 1))
                            .collect::<Vec<_>>(),
                    )
                })
            }
        };
        if let Some(v) = value {
            answers.insert(item.code.clone(), v);
        }
    }
    // Answers under conditions that do not hold are not kept, as on a real save.
    let unmet: Vec<String> = catalog
        .items
        .iter()
        .filter(|i| !super::determination::condition_holds(i, &answers))
        .map(|i| i.code.clone())
        .collect();
    for code in unmet {
        answers.remove(&code);
    }
    answers
}

#[derive(Debug, Clone, PartialEq)]
pub struct DemoInstitution {
    pub code: InstitutionCode,
    pub category: Category,
    pub is_special_function: bool,
    pub is_correctional: bool,
    pub name: String,
    pub name_kana: Option<String>,
    pub postcode: String,
    pub address: String,
    pub phone: String,
    pub email: Option<String>,
    /// Index into `PrefectureDefinition::municipalities()`.
    pub municipality_index: usize,
    pub founder: String,
    pub manager: String,
    pub designated_on: NaiveDate,
    pub departments: String,
    pub status: Status,
    pub paper_report: bool,
}

const SURNAMES: &[(&str, &str)] = &[
    ("田中", "タナカ"),
    ("山下", "ヤマシタ"),
    ("中村", "ナカムラ"),
    ("前田", "マエダ"),
    ("池田", "イケダ"),
    ("浜田", "ハマダ"),
    ("川畑", "カワバタ"),
    ("有村", "アリムラ"),
    ("福永", "フクナガ"),
    ("松元", "マツモト"),
    ("上村", "ウエムラ"),
    ("今村", "イマムラ"),
    ("坂口", "サカグチ"),
    ("鮫島", "サメシマ"),
    ("吉永", "ヨシナガ"),
    ("久保", "クボ"),
    ("竹下", "タケシタ"),
    ("原田", "ハラダ"),
    ("永田", "ナガタ"),
    ("新村", "シンムラ"),
    ("宮原", "ミヤハラ"),
    ("岩切", "イワキリ"),
    ("吉田", "ヨシダ"),
    ("山口", "ヤマグチ"),
    ("内田", "ウチダ"),
    ("堀之内", "ホリノウチ"),
    ("下園", "シモゾノ"),
    ("西郷", "サイゴウ"),
    ("東", "ヒガシ"),
    ("森", "モリ"),
];

const GIVEN_NAMES: &[&str] = &[
    "太郎",
    "一郎",
    "健一",
    "誠",
    "浩二",
    "由美子",
    "恵子",
    "裕子",
    "大輔",
    "直樹",
    "美穂",
    "和也",
    "隆",
    "修",
    "真理子",
    "翔太",
    "智子",
    "博之",
];

/// (name suffix, kana suffix, departments) for clinics named after their doctor.
const CLINIC_KINDS: &[(&str, &str, &str)] = &[
    ("内科クリニック", "ナイカクリニック", "内科 循環器内科"),
    ("医院", "イイン", "内科 小児科"),
    ("整形外科", "セイケイゲカ", "整形外科 リハビリテーション科"),
    ("眼科", "ガンカ", "眼科"),
    ("皮膚科クリニック", "ヒフカクリニック", "皮膚科 形成外科"),
    ("耳鼻咽喉科医院", "ジビインコウカイイン", "耳鼻咽喉科"),
    ("産婦人科", "サンフジンカ", "産婦人科\n一般 12"),
    ("クリニック", "クリニック", "内科 消化器内科 外科"),
    (
        "こどもクリニック",
        "コドモクリニック",
        "小児科 アレルギー科",
    ),
    ("脳神経外科", "ノウシンケイゲカ", "脳神経外科 内科"),
    ("心療内科", "シンリョウナイカ", "心療内科 精神科"),
];

const TOWNS_KAGOSHIMA_CITY: &[&str] = &[
    "中央町",
    "山下町",
    "東千石町",
    "西千石町",
    "加治屋町",
    "与次郎",
    "宇宿",
    "谷山中央",
    "紫原",
    "吉野町",
    "伊敷",
    "武岡",
    "郡元",
    "荒田",
    "上荒田町",
    "下荒田",
    "田上",
    "城西",
];

const TOWNS_GENERIC: &[&str] = &[
    "本町",
    "中央",
    "東町",
    "西町",
    "南町",
    "北町",
    "新町",
    "栄町",
    "旭町",
    "港町",
    "朝日町",
    "若葉町",
    "緑町",
    "昭和町",
    "春日町",
];

pub struct DemoGenerator<'a> {
    rng: ChaCha8Rng,
    prefecture: &'a PrefectureDefinition,
    /// Cumulative population weights, one per municipality.
    cumulative: Vec<f64>,
    total: usize,
    remaining: usize,
    produced: usize,
    /// Next code position per fee table (medical, dental).
    next_code: [u32; 2],
    special_left: usize,
    correctional_left: usize,
}

/// How many institutions of `count` are 特定機能病院 and prison clinics: "a few".
fn special_counts(count: usize) -> (usize, usize) {
    let special = if count >= 50 { 1 + count / 20_000 } else { 0 };
    let correctional = if count >= 100 { 1 + count / 30_000 } else { 0 };
    (special, correctional)
}

impl<'a> DemoGenerator<'a> {
    pub fn new(prefecture: &'a PrefectureDefinition, count: usize, seed: u64) -> Self {
        let mut total = 0.0;
        let cumulative = prefecture
            .municipalities()
            .map(|m| {
                total += m.population.max(0.1);
                total
            })
            .collect();
        let (special_left, correctional_left) = special_counts(count);
        DemoGenerator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            prefecture,
            cumulative,
            total: count,
            remaining: count,
            produced: 0,
            next_code: [0, 0],
            special_left,
            correctional_left,
        }
    }

    fn pick<'s, T>(&mut self, items: &'s [T]) -> &'s T {
        &items[self.rng.random_range(0..items.len())]
    }

    fn pick_municipality(&mut self) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = self.rng.random_range(0.0..total);
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len() - 1)
    }

    /// Unique codes: positions advance by a small random stride, so codes look scattered
    /// but never repeat. 99 districts × 9,999 serials leave room for far more than
    /// 110,000 institutions per fee table.
    fn next_code(&mut self, fee_table: FeeTable) -> InstitutionCode {
        let slot = usize::from(fee_table == FeeTable::Dental);
        self.next_code[slot] += self.rng.random_range(1..=3);
        let position = self.next_code[slot];
        let district = 1 + (position / 9_999) % 99;
        let serial = 1 + position % 9_999;
        InstitutionCode::with_check_digit(
            self.prefecture.prefecture_number(),
            fee_table,
            district as u8,
            serial as u16,
        )
    }

    fn person(&mut self) -> String {
        let (surname, _) = *self.pick(SURNAMES);
        let given = *self.pick(GIVEN_NAMES);
        format!("{surname}　{given}")
    }
}

impl Iterator for DemoGenerator<'_> {
    type Item = DemoInstitution;

    fn next(&mut self) -> Option<DemoInstitution> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        self.produced += 1;

        let municipality_index = self.pick_municipality();
        let municipality = self
            .prefecture
            .municipalities()
            .nth(municipality_index)?
            .clone();
        let place = municipality
            .name
            .trim_end_matches(['市', '町', '村'])
            .to_string();
        let (surname, surname_kana) = *self.pick(SURNAMES);
        let manager = self.person();

        let is_special_function = self.special_left > 0 && self.produced % 997 == 3;
        let is_correctional =
            !is_special_function && self.correctional_left > 0 && self.produced % 1009 == 7;
        let roll: f64 = self.rng.random();
        let category = if is_special_function || is_correctional {
            if is_special_function {
                Category::Hospital
            } else {
                Category::Clinic
            }
        } else if roll < 0.11 {
            Category::Hospital
        } else if roll < 0.75 {
            Category::Clinic
        } else {
            Category::Dental
        };

        let (name, name_kana, departments, founder) = if is_special_function {
            let first = self.special_left == special_counts(self.total).0;
            self.special_left -= 1;
            let name = if first {
                format!(
                    "{}大学病院",
                    self.prefecture.prefecture.name.trim_end_matches('県')
                )
            } else {
                format!("{place}大学医学部附属病院")
            };
            let beds = 600 + self.rng.random_range(0..300);
            (
                name,
                None,
                format!("内科 外科 小児科 産婦人科 精神科 眼科 ほか\n一般 {beds} 精神 40"),
                "国立大学法人".to_string(),
            )
        } else if is_correctional {
            self.correctional_left -= 1;
            (
                format!("{place}刑務所医務部診療所"),
                None,
                "内科 外科 精神科".to_string(),
                "法務大臣".to_string(),
            )
        } else {
            match category {
                Category::Hospital => {
                    let beds = 20 + self.rng.random_range(0..380);
                    let (name, kana) = match self.rng.random_range(0..4) {
                        0 => (format!("{place}中央病院"), None),
                        1 => (
                            format!("{surname}病院"),
                            Some(format!("{surname_kana}ビョウイン")),
                        ),
                        2 => (format!("{place}記念病院"), None),
                        _ => (format!("{place}リハビリテーション病院"), None),
                    };
                    (
                        name,
                        kana,
                        format!(
                            "内科 外科 整形外科 リハビリテーション科\n一般 {beds} 療養 {}",
                            beds / 3
                        ),
                        format!("医療法人{surname}会"),
                    )
                }
                Category::Clinic => {
                    let (suffix, kana_suffix, departments) = *self.pick(CLINIC_KINDS);
                    let by_place = self.rng.random_bool(0.2);
                    let (name, kana) = if by_place {
                        (format!("{place}{suffix}"), None)
                    } else {
                        (
                            format!("{surname}{suffix}"),
                            Some(format!("{surname_kana}{kana_suffix}")),
                        )
                    };
                    let founder = if self.rng.random_bool(0.5) {
                        format!("医療法人{surname}会")
                    } else {
                        manager.clone()
                    };
                    (name, kana, departments.to_string(), founder)
                }
                Category::Dental => {
                    let (name, kana) = if self.rng.random_bool(0.7) {
                        (
                            format!("{surname}歯科医院"),
                            Some(format!("{surname_kana}シカイイン")),
                        )
                    } else {
                        (format!("{place}デンタルクリニック"), None)
                    };
                    (
                        name,
                        kana,
                        "歯科 小児歯科 矯正歯科".to_string(),
                        manager.clone(),
                    )
                }
            }
        };

        let fee_table = if category == Category::Dental {
            FeeTable::Dental
        } else {
            FeeTable::Medical
        };
        let code = self.next_code(fee_table);
        let town = if municipality.code.ends_with("201") {
            *self.pick(TOWNS_KAGOSHIMA_CITY)
        } else {
            *self.pick(TOWNS_GENERIC)
        };
        let address = format!(
            "{}{}{}{}{}丁目{}番{}号",
            self.prefecture.prefecture.name,
            municipality.district.as_deref().unwrap_or(""),
            municipality.name,
            town,
            self.rng.random_range(1..=5),
            self.rng.random_range(1..=30),
            self.rng.random_range(1..=20),
        );
        let postcode = format!(
            "{}-{:04}",
            municipality.postcode,
            self.rng.random_range(0..10_000)
        );
        let phone = format!(
            "099-{}-{:04}",
            self.rng.random_range(200..=299),
            self.rng.random_range(0..10_000)
        );
        let email =
            (!self.rng.random_bool(0.12)).then(|| format!("info-{}@example.jp", code.as_str()));
        let designated_on = NaiveDate::from_ymd_opt(
            self.rng.random_range(1965..=2025),
            self.rng.random_range(1..=12),
            self.rng.random_range(1..=28),
        )
        .unwrap_or(NaiveDate::MIN);
        let status = if !is_special_function && self.rng.random_bool(0.03) {
            Status::Suspended
        } else {
            Status::Active
        };
        let paper_report = self.rng.random_bool(0.04);

        Some(DemoInstitution {
            code,
            category,
            is_special_function,
            is_correctional,
            name,
            name_kana,
            postcode,
            address,
            phone,
            email,
            municipality_index,
            founder,
            manager,
            designated_on,
            departments,
            status,
            paper_report,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

#[cfg(test)]
mod answer_tests {
    use super::*;
    use crate::domain::catalog::{Catalog, shipped};

    /// Demo reports are filed as 報告済 or 確認済, so their answers pass every check a
    /// clinic's submission passes, completeness included (an officer's 差戻し must leave
    /// a report the clinic can resubmit as it is).
    #[test]
    fn demo_answers_are_complete_valid_and_varied() {
        let c = Catalog::parse(shipped(2025).unwrap()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut with_function1 = 0;
        for _ in 0..60 {
            let a = demo_answers(&c, &mut rng);
            let problems = crate::domain::determination::validate(&c, &a);
            assert!(problems.is_empty(), "{problems:?}");
            if crate::domain::determination::determine(&c, &a).function1 {
                with_function1 += 1;
            }
        }
        assert!((30..60).contains(&with_function1), "{with_function1} of 60");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::area::shipped_prefecture;
    use std::collections::HashSet;

    fn kagoshima() -> PrefectureDefinition {
        PrefectureDefinition::parse(shipped_prefecture("46").unwrap()).unwrap()
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let def = kagoshima();
        let a: Vec<_> = DemoGenerator::new(&def, 300, 7).collect();
        let b: Vec<_> = DemoGenerator::new(&def, 300, 7).collect();
        let c: Vec<_> = DemoGenerator::new(&def, 300, 8).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 300);
    }

    #[test]
    fn codes_are_valid_unique_and_match_the_kind() {
        let def = kagoshima();
        let mut seen = HashSet::new();
        for inst in DemoGenerator::new(&def, 110_000, 1) {
            assert!(InstitutionCode::parse(inst.code.as_str()).is_ok());
            assert_eq!(inst.code.prefecture(), "46");
            let expected = if inst.category == Category::Dental {
                FeeTable::Dental
            } else {
                FeeTable::Medical
            };
            assert_eq!(inst.code.fee_table(), Some(expected));
            assert!(seen.insert(inst.code.clone()), "duplicate {}", inst.code);
        }
        assert_eq!(seen.len(), 110_000);
    }

    #[test]
    fn the_mix_has_every_kind_of_institution() {
        let def = kagoshima();
        let all: Vec<_> = DemoGenerator::new(&def, 2_000, 42).collect();
        let count = |f: &dyn Fn(&DemoInstitution) -> bool| all.iter().filter(|i| f(i)).count();
        assert!(count(&|i| i.category == Category::Hospital) > 100);
        assert!(count(&|i| i.category == Category::Clinic) > 1_000);
        assert!(count(&|i| i.category == Category::Dental) > 300);
        assert!((1..=5).contains(&count(&|i| i.is_special_function)));
        assert!(count(&|i| i.is_correctional) >= 1);
        assert!(count(&|i| i.status == Status::Suspended) > 10);
        assert!(count(&|i| i.paper_report) > 10);
        assert!(count(&|i| i.email.is_none()) > 50);
        // Kagoshima city holds about a third of the population, so of the institutions.
        let city = count(&|i| i.municipality_index == 0);
        assert!((500..1_000).contains(&city), "{city}");
        // Addresses name the municipality the institution sits in.
        let names: Vec<String> = def.municipalities().map(|m| m.name.clone()).collect();
        assert!(
            all.iter()
                .all(|i| i.address.contains(&names[i.municipality_index]))
        );
        assert!(all.iter().all(|i| i.address.starts_with("鹿児島県")));
    }
}
