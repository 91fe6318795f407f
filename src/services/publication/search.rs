//! The public search, in memory. A publication never changes once made, so its search
//! fields (about 100 bytes an institution) are read once and filtered in memory: any
//! combination of filters costs one pass over the year's institutions, with no table
//! scan per search. Each index is named by the publication's id and time, read from the
//! database on every request, so a year published again by any process is read afresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::PublicationError;
use super::public::Published;
use crate::db::DbConnection;
use crate::db::publication::{self as store, PublicRow, SearchFields};

/// What a resident searches by: codes and bits are ours; the name is a search key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicFilter {
    pub municipality_id: Option<i32>,
    pub name_key: Option<String>,
    pub function1: bool,
    /// 2号 categories that must all be 有り: イ, ロ, ハ, ニ.
    pub functions2: [bool; 4],
    /// Bit of an 一次診療の対応領域 and of a disease.
    pub primary_area_bit: Option<i64>,
    pub disease_bit: Option<i64>,
}

impl PublicFilter {
    fn admits(&self, f: &SearchFields) -> bool {
        let has = [
            f.after_hours,
            f.admission_discharge,
            f.home_care,
            f.care_coordination,
        ];
        self.municipality_id
            .is_none_or(|m| f.municipality_id == Some(m))
            && (!self.function1 || f.function1)
            && self
                .functions2
                .iter()
                .zip(has)
                .all(|(asked, has)| !asked || has)
            && self
                .primary_area_bit
                .is_none_or(|b| f.primary_areas & b != 0)
            && self.disease_bit.is_none_or(|b| f.diseases & b != 0)
            && self
                .name_key
                .as_deref()
                .is_none_or(|k| f.search_key.contains(k))
    }
}

/// One publication's search fields, in the order results are shown: by municipality
/// (institutions without one last), then code.
pub struct SearchIndex {
    stamp: i64,
    entries: Vec<SearchFields>,
}

/// The indexes of the publications searched lately (a few years at most).
#[derive(Default)]
pub struct SearchIndexes {
    kept: Mutex<HashMap<i32, Arc<SearchIndex>>>,
}

const KEPT: usize = 4;

impl SearchIndexes {
    fn index(
        &self,
        conn: &mut DbConnection,
        published: &Published,
    ) -> Result<Arc<SearchIndex>, PublicationError> {
        let id = published.publication_id;
        if let Some(index) = self.kept.lock().ok().and_then(|k| k.get(&id).cloned()) {
            if index.stamp == published.stamp {
                return Ok(index);
            }
        }
        let mut entries = store::search_fields(conn, id)?;
        entries.sort_by(|a, b| {
            (a.municipality_id.is_none(), a.municipality_id, &a.code).cmp(&(
                b.municipality_id.is_none(),
                b.municipality_id,
                &b.code,
            ))
        });
        let index = Arc::new(SearchIndex {
            stamp: published.stamp,
            entries,
        });
        if let Ok(mut kept) = self.kept.lock() {
            if kept.len() >= KEPT && !kept.contains_key(&id) {
                kept.clear();
            }
            kept.insert(id, index.clone());
        }
        Ok(index)
    }
}

pub const PER_PAGE: i64 = 20;

/// One page of a search: the rows, how many match, the page shown (a page past the end
/// shows the last).
pub fn search(
    conn: &mut DbConnection,
    indexes: &SearchIndexes,
    published: &Published,
    filter: &PublicFilter,
    page: i64,
) -> Result<(Vec<PublicRow>, i64, i64), PublicationError> {
    let index = indexes.index(conn, published)?;
    let matching: Vec<i32> = index
        .entries
        .iter()
        .filter(|e| filter.admits(e))
        .map(|e| e.institution_id)
        .collect();
    let total = i64::try_from(matching.len()).unwrap_or(i64::MAX);
    let page = crate::domain::paging::within(page, total, PER_PAGE);
    let start = usize::try_from(page * PER_PAGE).unwrap_or(0);
    let ids: Vec<i32> = matching
        .into_iter()
        .skip(start)
        .take(PER_PAGE as usize)
        .collect();
    let mut rows = store::public_rows(conn, published.publication_id, &ids)?;
    rows.sort_by_key(|r| ids.iter().position(|id| *id == r.institution_id));
    Ok((rows, total, page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(
        municipality: Option<i32>,
        key: &str,
        f1: bool,
        home: bool,
        areas: i64,
    ) -> SearchFields {
        SearchFields {
            institution_id: 1,
            municipality_id: municipality,
            code: "4610100001".into(),
            search_key: key.into(),
            function1: f1,
            after_hours: false,
            admission_discharge: false,
            home_care: home,
            care_coordination: false,
            primary_areas: areas,
            diseases: 1 << 8,
        }
    }

    #[test]
    fn every_filter_must_hold() {
        let clinic = fields(Some(3), "よしだないかくりにっく", true, true, 1 << 9);
        let all = PublicFilter::default();
        assert!(all.admits(&clinic));
        let asked = PublicFilter {
            municipality_id: Some(3),
            name_key: Some("ないか".into()),
            function1: true,
            functions2: [false, false, true, false],
            primary_area_bit: Some(1 << 9),
            disease_bit: Some(1 << 8),
        };
        assert!(asked.admits(&clinic));
        for other in [
            PublicFilter {
                municipality_id: Some(4),
                ..asked.clone()
            },
            PublicFilter {
                name_key: Some("げか".into()),
                ..asked.clone()
            },
            PublicFilter {
                functions2: [true, false, true, false],
                ..asked.clone()
            },
            PublicFilter {
                primary_area_bit: Some(1 << 3),
                ..asked.clone()
            },
            PublicFilter {
                disease_bit: Some(1 << 2),
                ..asked.clone()
            },
        ] {
            assert!(!other.admits(&clinic), "{other:?}");
        }
        assert!(!asked.admits(&fields(None, "よしだないか", true, true, 1 << 9)));
        assert!(!asked.admits(&fields(Some(3), "よしだないか", false, true, 1 << 9)));
    }
}
