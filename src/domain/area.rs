//! The area tree: prefecture → 保健所管轄 (jurisdiction) → 市区町村 (municipality), with
//! 二次医療圏 as an attribute of a municipality (domain.md §2). Area definitions are data
//! files under `reference/areas/`, embedded in the binary.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaKind {
    Prefecture,
    Jurisdiction,
    Municipality,
}

impl AreaKind {
    pub fn code(self) -> &'static str {
        match self {
            AreaKind::Prefecture => "prefecture",
            AreaKind::Jurisdiction => "jurisdiction",
            AreaKind::Municipality => "municipality",
        }
    }

    pub fn from_code(code: &str) -> Option<AreaKind> {
        [
            AreaKind::Prefecture,
            AreaKind::Jurisdiction,
            AreaKind::Municipality,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            AreaKind::Prefecture => "都道府県",
            AreaKind::Jurisdiction => "保健所管轄",
            AreaKind::Municipality => "市区町村",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefectureDefinition {
    /// True while the municipality codes have not been checked against the official list.
    #[serde(default)]
    pub provisional_codes: bool,
    pub prefecture: PrefectureHead,
    pub jurisdictions: Vec<JurisdictionDefinition>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefectureHead {
    pub code: String,
    pub name: String,
    pub contact_desk: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JurisdictionDefinition {
    pub code: String,
    pub name: String,
    pub contact_desk: String,
    pub municipalities: Vec<MunicipalityDefinition>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MunicipalityDefinition {
    pub code: String,
    pub name: String,
    pub district: Option<String>,
    pub secondary_area: String,
    /// Thousands of residents; weights synthetic data only.
    pub population: f64,
    /// First three digits of the postcodes used in the demo addresses.
    pub postcode: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AreaDataError {
    #[error("地域定義ファイルの書式が正しくありません: {0}")]
    Syntax(String),
    #[error("地域定義ファイルの内容が正しくありません: {0}")]
    Invalid(String),
}

/// The prefectures whose area trees ship with the product.
pub fn shipped_prefecture(code: &str) -> Option<&'static str> {
    match code {
        "46" => Some(include_str!("../../reference/areas/46.toml")),
        _ => None,
    }
}

impl PrefectureDefinition {
    pub fn parse(text: &str) -> Result<PrefectureDefinition, AreaDataError> {
        let def: PrefectureDefinition =
            toml::from_str(text).map_err(|e| AreaDataError::Syntax(e.message().to_string()))?;
        def.validate()?;
        Ok(def)
    }

    fn validate(&self) -> Result<(), AreaDataError> {
        let pref = &self.prefecture.code;
        if pref.len() != 2 || !pref.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AreaDataError::Invalid(format!(
                "都道府県コード {pref} は2桁の数字"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for m in self.municipalities() {
            if m.code.len() != 5 || !m.code.starts_with(pref.as_str()) {
                return Err(AreaDataError::Invalid(format!(
                    "市区町村コード {} は {pref} で始まる5桁",
                    m.code
                )));
            }
            if !seen.insert(m.code.as_str()) {
                return Err(AreaDataError::Invalid(format!(
                    "市区町村コード {} が重複",
                    m.code
                )));
            }
        }
        if seen.is_empty() {
            return Err(AreaDataError::Invalid("市区町村がありません".into()));
        }
        Ok(())
    }

    pub fn municipalities(&self) -> impl Iterator<Item = &MunicipalityDefinition> {
        self.jurisdictions
            .iter()
            .flat_map(|j| j.municipalities.iter())
    }

    pub fn prefecture_number(&self) -> u8 {
        self.prefecture.code.parse().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kagoshima_matches_the_seed_document() {
        let def = PrefectureDefinition::parse(shipped_prefecture("46").unwrap()).unwrap();
        assert_eq!(def.prefecture.name, "鹿児島県");
        let names: Vec<&str> = def.jurisdictions.iter().map(|j| j.name.as_str()).collect();
        for expected in [
            "伊集院保健所",
            "加世田保健所",
            "川薩保健所",
            "姶良保健所",
            "鹿屋保健所",
            "西之表保健所",
            "名瀬保健所",
        ] {
            assert!(names.contains(&expected), "{expected}");
        }
        assert_eq!(def.jurisdictions.len(), 8);
        // 19 cities and 24 towns and villages.
        assert_eq!(def.municipalities().count(), 43);
        let aira = def
            .jurisdictions
            .iter()
            .find(|j| j.name == "姶良保健所")
            .unwrap();
        let aira_names: Vec<&str> = aira
            .municipalities
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(aira_names, ["霧島市", "姶良市", "湧水町", "伊佐市"]);
    }

    #[test]
    fn bad_definitions_are_refused() {
        assert!(PrefectureDefinition::parse("nonsense = 1").is_err());
        let dup = r#"
            [prefecture]
            code = "46"
            name = "x"
            contact_desk = "y"
            [[jurisdictions]]
            code = "j"
            name = "j"
            contact_desk = "d"
            municipalities = [
              { code = "46201", name = "a", secondary_area = "s", population = 1, postcode = "890" },
              { code = "46201", name = "b", secondary_area = "s", population = 1, postcode = "890" },
            ]
        "#;
        assert!(matches!(
            PrefectureDefinition::parse(dup),
            Err(AreaDataError::Invalid(_))
        ));
    }
}

/// A municipality as the address matcher sees it.
#[derive(Debug, Clone)]
pub struct MunicipalityName {
    pub id: i32,
    pub name: String,
    pub district: Option<String>,
}

/// Finds the municipality an address lies in: the prefecture's name may lead, a town
/// may be written with or without its 郡, and the longest matching name wins (so that
/// a longer name is never shadowed by a shorter one it starts with).
pub fn match_municipality(
    address: &str,
    prefecture_name: &str,
    municipalities: &[MunicipalityName],
) -> Option<i32> {
    let folded = super::normalize::nfkc(address);
    let folded: String = folded.chars().filter(|c| !c.is_whitespace()).collect();
    let rest = folded.strip_prefix(prefecture_name).unwrap_or(&folded);
    municipalities
        .iter()
        .filter_map(|m| {
            let with_district = m.district.as_ref().map(|d| format!("{d}{}", m.name));
            let matched = with_district
                .filter(|full| rest.starts_with(full.as_str()))
                .or_else(|| rest.starts_with(m.name.as_str()).then(|| m.name.clone()))?;
            Some((matched.chars().count(), m.id))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, id)| id)
}

#[cfg(test)]
mod matching_tests {
    use super::*;

    fn names() -> Vec<MunicipalityName> {
        let def = PrefectureDefinition::parse(shipped_prefecture("46").unwrap()).unwrap();
        def.municipalities()
            .enumerate()
            .map(|(i, m)| MunicipalityName {
                id: i as i32,
                name: m.name.clone(),
                district: m.district.clone(),
            })
            .collect()
    }

    fn name_of(id: Option<i32>) -> Option<String> {
        let all = names();
        id.map(|i| all[i as usize].name.clone())
    }

    #[test]
    fn addresses_find_their_municipality() {
        let all = names();
        let cases = [
            ("鹿児島市山下町１１－１", Some("鹿児島市")),
            ("鹿児島県鹿児島市山下町11-1", Some("鹿児島市")),
            ("薩摩郡さつま町宮之城屋地１", Some("さつま町")),
            ("さつま町宮之城屋地１", Some("さつま町")),
            ("鹿児島郡三島村竹島", Some("三島村")),
            ("いちき串木野市昭和通", Some("いちき串木野市")),
            ("霧島市国分中央３丁目", Some("霧島市")),
            ("熊本市中央区千葉城町１－１", None),
            ("", None),
        ];
        for (address, expected) in cases {
            let got = name_of(match_municipality(address, "鹿児島県", &all));
            assert_eq!(got.as_deref(), expected, "{address}");
        }
    }
}
