//! Loads the demo prefecture: the area tree and N synthetic institutions.

use std::time::Instant;

use chrono::Utc;

use crate::db::{self, DbConnection, areas, institutions, meta};
use crate::domain::area::{AreaKind, PrefectureDefinition, shipped_prefecture};
use crate::domain::auth::{Role, Scope};
use crate::domain::demo::DemoGenerator;
use crate::domain::institution::{TargetFacts, is_reporting_target};
use crate::services::accounts;

mod help;
mod season;

pub use season::{DemoReports, DemoSeason, add_reports, season};

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
    #[error("デモユーザを作成できません: {0}")]
    Users(String),
    #[error("デモの公表ができません: {0}")]
    Publication(String),
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
    /// (login ID, role label, scope name) of the demo users.
    pub users: Vec<(String, &'static str, String)>,
}

/// The demo users, one per role (login IDs fixed by the accounts issue).
const DEMO_USERS: &[(&str, &str, Role)] = &[
    ("demo-sysadmin", "デモ システム管理者", Role::SystemAdmin),
    ("demo-admin", "デモ 県管理者", Role::PrefectureAdmin),
    ("demo-officer", "デモ 県担当者", Role::PrefectureOfficer),
    ("demo-area", "デモ 姶良保健所担当者", Role::AreaOfficer),
    ("demo-clinic", "デモ 医療機関担当者", Role::Institution),
];

/// The jurisdiction of the demo area officer and of the demo clinic.
const DEMO_JURISDICTION: &str = "46-05";

fn create_demo_users(
    conn: &mut DbConnection,
    prefecture_id: i32,
    password_hash: &str,
) -> Result<Vec<(String, &'static str, String)>, DemoError> {
    let jurisdiction = areas::by_code(conn, DEMO_JURISDICTION, &[AreaKind::Jurisdiction])?
        .map(|(id, _)| id)
        .ok_or_else(|| DemoError::Users(format!("no area {DEMO_JURISDICTION}")))?;
    // A reporting-target clinic of that area, so that the clinic user has a report to file.
    let clinic = institutions::first_target_clinic(conn, jurisdiction)?;
    let mut created = Vec::new();
    for (login, name, role) in DEMO_USERS {
        let (scope, scope_name) = match role {
            Role::SystemAdmin => (Scope::All, "全体".to_string()),
            Role::PrefectureAdmin | Role::PrefectureOfficer => {
                (Scope::Prefecture(prefecture_id), "鹿児島県".to_string())
            }
            Role::AreaOfficer => (Scope::Jurisdiction(jurisdiction), "姶良保健所".to_string()),
            Role::Institution => match &clinic {
                Some((id, name)) => (Scope::Institution(*id), name.clone()),
                None => continue,
            },
        };
        accounts::create(
            conn,
            accounts::NewAccount {
                login_id: login,
                display_name: name,
                email: None,
                role: *role,
                scope,
                password_hash: password_hash.to_string(),
                must_change_password: false,
                by: accounts::By::System("demo"),
            },
        )
        .map_err(|e| DemoError::Users(e.to_string()))?;
        created.push((login.to_string(), role.label(), scope_name));
    }
    Ok(created)
}

/// Adds `count` more clinic users, `demo-clinic-0001`…, one per reporting-target
/// institution in code order, for load tests and training rooms where many clinics
/// file at once. Returns the login IDs.
pub fn add_clinic_users(
    conn: &mut DbConnection,
    count: usize,
    password: &str,
) -> Result<Vec<String>, DemoError> {
    let password_hash =
        crate::password::hash(password).map_err(|e| DemoError::Users(e.to_string()))?;
    let targets = institutions::first_targets(conn, count)?;
    let mut logins = Vec::new();
    db::write_transaction(conn, |conn| -> Result<(), DemoError> {
        for (n, (id, name)) in targets.iter().enumerate() {
            let login = format!("demo-clinic-{:04}", n + 1);
            accounts::create(
                conn,
                accounts::NewAccount {
                    login_id: &login,
                    display_name: name,
                    email: None,
                    role: Role::Institution,
                    scope: Scope::Institution(*id),
                    password_hash: password_hash.clone(),
                    must_change_password: false,
                    by: accounts::By::System("demo"),
                },
            )
            .map_err(|e| DemoError::Users(e.to_string()))?;
            logins.push(login);
        }
        Ok(())
    })?;
    Ok(logins)
}

pub fn kagoshima() -> Result<PrefectureDefinition, DemoError> {
    let text = shipped_prefecture("46").unwrap_or_default();
    Ok(PrefectureDefinition::parse(text)?)
}

/// Loads the demo in one transaction: either everything is there, or nothing changed.
/// `password` is the one password of every demo user (hashed once, before the
/// transaction, so the write lock is not held while argon2 runs).
pub fn load(
    conn: &mut DbConnection,
    count: usize,
    seed: u64,
    reset: bool,
    password: &str,
) -> Result<DemoReport, DemoError> {
    let started = Instant::now();
    let def = kagoshima()?;
    let password_hash =
        crate::password::hash(password).map_err(|e| DemoError::Users(e.to_string()))?;
    let (loaded, users) = db::write_transaction(conn, |conn| -> Result<_, DemoError> {
        if reset {
            db::wipe(conn)?;
        } else if !db::is_empty(conn)? {
            return Err(DemoError::NotEmpty);
        }
        let installed = areas::install_prefecture(conn, &def)?;
        // The shipped figures are approximate (thousands): labelled as demo figures.
        let populations: Vec<(i32, i64)> = installed
            .municipalities
            .iter()
            .zip(def.municipalities())
            .map(|((id, _), m)| (*id, (m.population * 1000.0).round() as i64))
            .collect();
        crate::services::publication::set_demo_populations(conn, &populations)
            .map_err(|e| DemoError::Publication(e.to_string()))?;
        // The national defaults, with the prefecture's page linked from the public pages.
        let rules = crate::domain::publication::PublicationRules {
            prefecture_url: "https://www.pref.kagoshima.jp/".into(),
            explanation: "デモのため、医療機関と数値はすべて架空のものです。".into(),
            ..Default::default()
        };
        crate::services::publication::save_rules(
            conn,
            crate::services::By::System {
                name: "kakari demo",
                scope: crate::domain::auth::Scope::Prefecture(installed.prefecture_id),
            },
            installed.prefecture_id,
            &crate::domain::publication::RulesInput::from(&rules),
        )
        .map_err(|e| DemoError::Publication(e.to_string()))?;
        let now = Utc::now().naive_utc();
        let mut batch = Vec::with_capacity(institutions::INSERT_BATCH * 4);
        let mut loaded = 0;
        for demo in DemoGenerator::new(&def, count, seed) {
            let (municipality_id, jurisdiction_id) =
                installed.municipalities[demo.municipality_index];
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
                name: demo.name.clone(),
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
                short_code: demo.code.as_str()[3..].to_string(),
                search_key: crate::domain::normalize::search_key(&demo.name),
            });
            if batch.len() == batch.capacity() {
                loaded += institutions::insert_many(conn, &batch)?;
                batch.clear();
            }
        }
        loaded += institutions::insert_many(conn, &batch)?;
        let users = create_demo_users(conn, installed.prefecture_id, &password_hash)?;
        open_demo_periods(conn, installed.prefecture_id)?;
        meta::set(conn, meta::DEMO, "true")?;
        meta::set(conn, meta::DEMO_SEED, &seed.to_string())?;
        Ok((loaded, users))
    })?;
    db::analyze(conn)?;
    Ok(DemoReport {
        institutions: loaded,
        seconds: started.elapsed().as_secs_f64(),
        users,
    })
}

/// The demo opens the current fiscal year's reporting period so that a demo clinic can
/// file at once (domain.md §4.1): from two weeks ago to the end of the real window.
/// The previous year's period, already closed, shows how a closed year looks.
fn open_demo_periods(conn: &mut DbConnection, prefecture_id: i32) -> Result<(), db::DbError> {
    use crate::domain::report::Period;
    use chrono::{Days, NaiveDate};
    let today = crate::domain::wareki::today_jst(Utc::now());
    // Reports of FY N are filed in January–March of N + 1.
    let fiscal_year = crate::domain::wareki::fiscal_year_of(today);
    let date = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(today);
    let current = Period {
        opens_on: today - Days::new(14),
        deadline: date(fiscal_year + 1, 2, 28).max(today + Days::new(30)),
        closes_on: date(fiscal_year + 1, 3, 31).max(today + Days::new(60)),
    };
    let previous = Period {
        opens_on: date(fiscal_year, 1, 1).min(current.opens_on - Days::new(60)),
        deadline: date(fiscal_year, 2, 28).min(current.opens_on - Days::new(30)),
        closes_on: date(fiscal_year, 3, 31).min(current.opens_on - Days::new(1)),
    };
    let now = Utc::now().naive_utc();
    let contact = "鹿児島県 くらし保健福祉部 保健医療福祉課（デモ） 099-000-0000";
    for (fy, period) in [(fiscal_year - 1, previous), (fiscal_year, current)] {
        crate::db::periods::set_period(conn, prefecture_id, fy, period, contact, now)?;
    }
    Ok(())
}
