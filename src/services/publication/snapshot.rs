//! Building a snapshot: the confirmed reports of a year, read a chunk at a time, into
//! the public rows (when publishing) and the counts of the summary tables.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde_json::Value;

use super::PublicationError;
use crate::db::DbConnection;
use crate::db::publication::{self as store, PublicDetail, PublicRow};
use crate::domain::area::AreaKind;
use crate::domain::auth::Scope;
use crate::domain::catalog::Function;
use crate::domain::determination::Answers;
use crate::domain::publication::{
    self as rules_of, ColumnSum, MunicipalityCounts, PublicationRules, SummaryTables, TableColumn,
    public_answers,
};
use crate::import::Grid;
use crate::services::catalogs::Catalogs;

/// What a snapshot holds: the tables before masking is applied to values (masks are
/// set), how many institutions, and the latest confirmation in it.
#[derive(Debug, Clone)]
pub struct Built {
    pub tables: SummaryTables,
    pub institutions: usize,
    pub confirmed_until: Option<NaiveDateTime>,
}

/// The plain columns: counts of institutions, never masked.
fn plain_columns() -> Vec<TableColumn> {
    let mut labels = vec![
        "報告対象の医療機関".to_string(),
        "報告（確認済）".to_string(),
        "1号機能あり".to_string(),
    ];
    labels.extend(
        Function::CATEGORIES
            .iter()
            .map(|f| format!("{}あり", f.label().split(' ').next().unwrap_or_default())),
    );
    labels
        .into_iter()
        .map(|label| TableColumn {
            label,
            masked: false,
        })
        .collect()
}

/// The rows of the tables, and where each institution's municipality sits.
struct Layout {
    areas: Vec<String>,
    medical_areas: Vec<String>,
    counts: Vec<MunicipalityCounts>,
    index: HashMap<Option<i32>, usize>,
    plain: usize,
    masked: usize,
}

impl Layout {
    fn of(
        conn: &mut DbConnection,
        prefecture_id: i32,
        plain: usize,
        masked: usize,
    ) -> Result<Layout, PublicationError> {
        let tree = crate::db::areas::within(conn, Scope::Prefecture(prefecture_id))?;
        let populations = store::populations(conn)?;
        let mut layout = Layout {
            areas: Vec::new(),
            medical_areas: Vec::new(),
            counts: Vec::new(),
            index: HashMap::new(),
            plain,
            masked,
        };
        let mut area_index = HashMap::new();
        for a in tree
            .iter()
            .filter(|a| a.kind == AreaKind::Jurisdiction.code())
        {
            area_index.insert(a.id, layout.areas.len());
            layout.areas.push(a.name.clone());
        }
        for m in tree
            .iter()
            .filter(|a| a.kind == AreaKind::Municipality.code())
        {
            let jurisdiction = match m.parent_id.and_then(|p| area_index.get(&p)) {
                Some(j) => *j,
                None => layout.unknown_area(),
            };
            let medical = m
                .secondary_area
                .clone()
                .unwrap_or_else(|| "（未設定）".into());
            let population = populations
                .get(&m.id)
                .and_then(|p| u64::try_from(p.population).ok());
            layout.add(
                Some(m.id),
                m.name.clone(),
                jurisdiction,
                &medical,
                population,
            );
        }
        Ok(layout)
    }

    fn unknown_area(&mut self) -> usize {
        let name = "（保健所不明）";
        match self.areas.iter().position(|a| a == name) {
            Some(i) => i,
            None => {
                self.areas.push(name.into());
                self.areas.len() - 1
            }
        }
    }

    fn add(
        &mut self,
        id: Option<i32>,
        name: String,
        jurisdiction: usize,
        medical: &str,
        population: Option<u64>,
    ) -> usize {
        let medical_area = match self.medical_areas.iter().position(|m| m == medical) {
            Some(i) => i,
            None => {
                self.medical_areas.push(medical.to_string());
                self.medical_areas.len() - 1
            }
        };
        self.counts.push(MunicipalityCounts {
            name,
            jurisdiction,
            medical_area,
            population,
            plain: vec![0; self.plain],
            sums: vec![ColumnSum::default(); self.masked],
        });
        self.index.insert(id, self.counts.len() - 1);
        self.counts.len() - 1
    }

    /// The row of a municipality; institutions without one (or with one from outside
    /// the prefecture) share a row of their own.
    fn row(&mut self, municipality: Option<i32>) -> &mut MunicipalityCounts {
        let i = match self.index.get(&municipality) {
            Some(i) => *i,
            None => match self.index.get(&None) {
                Some(i) => *i,
                None => {
                    let area = self.unknown_area();
                    self.add(None, "（市区町村不明）".into(), area, "（未設定）", None)
                }
            },
        };
        &mut self.counts[i]
    }
}

const CHUNK: usize = 500;

pub(super) fn build(
    conn: &mut DbConnection,
    catalogs: &Catalogs,
    prefecture_id: i32,
    fiscal_year: i32,
    rules: &PublicationRules,
    publication_id: Option<i32>,
) -> Result<Built, PublicationError> {
    let catalog = catalogs.current(conn, fiscal_year)?;
    let masked_items: Vec<&crate::domain::catalog::Item> = catalog
        .items
        .iter()
        .filter(|i| i.published && i.is_masked_count())
        .collect();
    let mut columns = plain_columns();
    columns.extend(masked_items.iter().map(|i| TableColumn {
        label: format!("{} {}（合計）", i.code, i.label),
        masked: true,
    }));
    let plain = columns.len() - masked_items.len();
    let mut layout = Layout::of(conn, prefecture_id, plain, masked_items.len())?;
    for (municipality, n) in store::targets_per_municipality(conn, prefecture_id)? {
        layout.row(municipality).plain[0] += n;
    }
    let report_ids = store::confirmed_reports(conn, prefecture_id, fiscal_year)?;
    let mut confirmed_until: Option<NaiveDateTime> = None;
    for chunk in report_ids.chunks(CHUNK) {
        let mut public = Vec::with_capacity(chunk.len());
        let mut details = Vec::with_capacity(chunk.len());
        for r in store::source_rows(conn, chunk)? {
            let answers: Answers = serde_json::from_str(&r.answers).unwrap_or_default();
            let m = layout.row(r.municipality_id);
            let flags = [
                true,
                r.function1,
                r.after_hours,
                r.admission_discharge,
                r.home_care,
                r.care_coordination,
            ];
            for (k, flag) in flags.into_iter().enumerate() {
                m.plain[k + 1] += u64::from(flag);
            }
            for (k, item) in masked_items.iter().enumerate() {
                if let Some(v) = answers.get(&item.code).and_then(Value::as_u64) {
                    m.sums[k].add(v, rules);
                }
            }
            confirmed_until = confirmed_until.max(r.confirmed_at);
            if let Some(publication_id) = publication_id {
                let detail = public_answers(&catalog, &answers, rules);
                details.push(PublicDetail {
                    publication_id,
                    institution_id: r.institution_id,
                    detail: serde_json::to_string(&detail).unwrap_or_default(),
                });
                public.push(PublicRow {
                    publication_id,
                    institution_id: r.institution_id,
                    primary_areas: rules_of::chosen_bits(&answers, rules_of::PRIMARY_AREAS_ITEM),
                    diseases: rules_of::chosen_bits(&answers, rules_of::DISEASES_ITEM),
                    code: r.code,
                    name: r.name,
                    search_key: r.search_key,
                    category: r.category,
                    jurisdiction_id: r.jurisdiction_id,
                    municipality_id: r.municipality_id,
                    postcode: r.postcode,
                    address: r.address,
                    phone: r.phone,
                    function1: r.function1,
                    after_hours: r.after_hours,
                    admission_discharge: r.admission_discharge,
                    home_care: r.home_care,
                    care_coordination: r.care_coordination,
                    confirmed_at: r.confirmed_at,
                });
            }
        }
        store::insert_public_rows(conn, &public, &details)?;
    }
    let tables = rules_of::summary_tables(
        rules,
        columns,
        &layout.areas,
        &layout.medical_areas,
        &layout.counts,
    );
    Ok(Built {
        tables,
        institutions: report_ids.len(),
        confirmed_until,
    })
}

/// The rows of a population file: (municipality id, population), or the problems by
/// line. A first row that is not a code is a heading.
pub(super) fn read_populations(
    grid: &Grid,
    prefecture_code: &str,
    known: &HashMap<String, i32>,
) -> (Vec<(i32, i64)>, Vec<String>) {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut seen = HashMap::new();
    for r in 0..grid.height() {
        if grid.row_is_blank(r) {
            continue;
        }
        let line = r + 1;
        let code = crate::domain::normalize::nfkc(grid.cell(r, 0))
            .trim()
            .to_string();
        if r == 0 && !code.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let code = match code.len() {
            5 => code,
            6 if code.bytes().all(|b| b.is_ascii_digit()) => code[..5].to_string(),
            _ => {
                problems.push(format!("{line}行目: 市区町村コード「{code}」は5桁（または検査数字つきの6桁）の数字にしてください"));
                continue;
            }
        };
        let Some(id) = known.get(&code) else {
            problems.push(format!(
                "{line}行目: 市区町村コード {code} はこの都道府県（{prefecture_code}）の市区町村にありません"
            ));
            continue;
        };
        let Some(population) =
            rules_of::read_number(grid.cell(r, 1)).and_then(|n| i64::try_from(n).ok())
        else {
            problems.push(format!(
                "{line}行目: 人口「{}」を数字で入力してください",
                grid.cell(r, 1)
            ));
            continue;
        };
        if let Some(first) = seen.insert(code.clone(), line) {
            problems.push(format!(
                "{line}行目: 市区町村コード {code} は{first}行目にもあります"
            ));
            continue;
        }
        rows.push((*id, population));
    }
    (rows, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_files_are_read_all_or_nothing_with_lines() {
        let known = HashMap::from([("46201".to_string(), 1), ("46303".to_string(), 2)]);
        let grid = Grid::from_rows(&[
            vec!["市区町村コード", "人口"],
            vec!["462012", "593,128"],
            vec!["４６３０３", "３８３"],
        ]);
        let (rows, problems) = read_populations(&grid, "46", &known);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(rows, [(1, 593_128), (2, 383)]);
        let grid = Grid::from_rows(&[
            vec!["46201", "abc"],
            vec!["13101", "100"],
            vec!["46303", "10"],
            vec!["46303", "11"],
        ]);
        let (_, problems) = read_populations(&grid, "46", &known);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("1行目"));
        assert!(problems[1].contains("13101"));
        assert!(problems[2].contains("3行目にも"));
    }
}
