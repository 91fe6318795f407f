//! Loads the demo prefecture: the area tree and N synthetic institutions.

use std::time::Instant;

use chrono::Utc;

use crate::db::{self, DbConnection, areas, institutions, meta};
use crate::domain::area::{PrefectureDefinition, shipped_prefecture};
use crate::domain::demo::DemoGenerator;
use crate::domain::institution::{TargetFacts, is_reporting_target};

pub const DEFAULT_INSTITUTIONS: usize = 2_000;
pub const DEFAULT_SEED: u64 = 46;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "データベースには既にデータがあります。--reset を付けると全データを消去してデモを読み込みます (database is not empty; use --reset)"
    )]
    NotEmpty,
    #[error("{0}")]
    Area(#[from] crate::domain::area::AreaDataError),
    #[error("{0}")]
    Db(#[from] db::DbError),
}

impl From<diesel::result::Error> for DemoError {
    fn from(e: diesel::result::Error) -> Self {
        DemoError::Db(db::DbError::Query(e))
    }
}

#[derive(Debug, Clone)]
pub struct DemoReport {
    pub institutions: usize,
    pub seconds: f64,
}

pub fn kagoshima() -> Result<PrefectureDefinition, DemoError> {
    let text = shipped_prefecture("46").unwrap_or_default();
    Ok(PrefectureDefinition::parse(text)?)
}

/// Loads the demo in one transaction: either everything is there, or nothing changed.
pub fn load(
    conn: &mut DbConnection,
    count: usize,
    seed: u64,
    reset: bool,
) -> Result<DemoReport, DemoError> {
    let started = Instant::now();
    let def = kagoshima()?;
    let loaded = db::write_transaction(conn, |conn| -> Result<usize, DemoError> {
        if reset {
            db::wipe(conn)?;
        } else if !db::is_empty(conn)? {
            return Err(DemoError::NotEmpty);
        }
        let installed = areas::install_prefecture(conn, &def)?;
        let now = Utc::now().naive_utc();
        let mut batch = Vec::with_capacity(institutions::INSERT_BATCH * 4);
        let mut loaded = 0;
        for demo in DemoGenerator::new(&def, count, seed) {
            let (municipality_id, jurisdiction_id) = installed.municipalities[demo.municipality_index];
            let facts = TargetFacts {
                category: demo.category,
                is_special_function: demo.is_special_function,
                is_correctional: demo.is_correctional,
                status: demo.status,
            };
            batch.push(institutions::NewInstitution {
                prefecture_code: demo.code.prefecture().to_string(),
                fee_table: demo
                    .code
                    .fee_table()
                    .map(|f| f.digit().to_string())
                    .unwrap_or_default(),
                code: demo.code.as_str().to_string(),
                category: demo.category.code().to_string(),
                is_special_function: demo.is_special_function,
                is_correctional: demo.is_correctional,
                name: demo.name,
                name_kana: demo.name_kana,
                postcode: Some(demo.postcode),
                address: demo.address,
                phone: Some(demo.phone),
                email: demo.email,
                prefecture_id: installed.prefecture_id,
                jurisdiction_id: Some(jurisdiction_id),
                municipality_id: Some(municipality_id),
                founder: Some(demo.founder),
                manager: Some(demo.manager),
                designated_on: Some(demo.designated_on),
                departments: Some(demo.departments),
                status: demo.status.code().to_string(),
                paper_report: demo.paper_report,
                target_override: None,
                target_override_reason: None,
                is_target: is_reporting_target(facts, None),
                created_at: now,
                updated_at: now,
            });
            if batch.len() == batch.capacity() {
                loaded += institutions::insert_many(conn, &batch)?;
                batch.clear();
            }
        }
        loaded += institutions::insert_many(conn, &batch)?;
        meta::set(conn, meta::DEMO, "true")?;
        meta::set(conn, meta::DEMO_SEED, &seed.to_string())?;
        Ok(loaded)
    })?;
    Ok(DemoReport {
        institutions: loaded,
        seconds: started.elapsed().as_secs_f64(),
    })
}
