//! Loads the demo prefecture: the area tree and N synthetic institutions.

use std::time::Instant;

use chrono::Utc;

use crate::db::{self, DbConnection, areas, institutions, meta};
use crate::domain::area::{PrefectureDefinition, shipped_prefecture};
use crate::domain::auth::{Role, Scope};
use crate::domain::demo::DemoGenerator;
use crate::domain::institution::{TargetFacts, is_reporting_target};
use crate::services::accounts;

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
    use crate::db::schema::{areas as area_t, institutions as inst_t};
    use diesel::prelude::*;
    let jurisdiction: i32 = area_t::table
        .filter(area_t::kind.eq("jurisdiction"))
        .filter(area_t::code.eq(DEMO_JURISDICTION))
        .select(area_t::id)
        .first(conn)?;
    // A reporting-target clinic of that area, so that the clinic user has a report to file.
    let clinic: Option<(i32, String)> = inst_t::table
        .filter(inst_t::jurisdiction_id.eq(jurisdiction))
        .filter(inst_t::is_target.eq(true))
        .filter(inst_t::category.eq("clinic"))
        .order(inst_t::code)
        .select((inst_t::id, inst_t::name))
        .first(conn)
        .optional()?;
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
    use crate::db::schema::institutions as inst_t;
    use diesel::prelude::*;
    let password_hash =
        crate::password::hash(password).map_err(|e| DemoError::Users(e.to_string()))?;
    let targets: Vec<(i32, String)> = inst_t::table
        .filter(inst_t::is_target.eq(true))
        .order(inst_t::code)
        .limit(count as i64)
        .select((inst_t::id, inst_t::name))
        .load(conn)?;
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
    // Fresh statistics for the planner after a bulk load, and on PostgreSQL a visibility
    // map so index-only scans need not visit the table (outside the transaction).
    {
        use diesel::connection::SimpleConnection;
        let sql = if matches!(conn, DbConnection::Pg(_)) {
            "VACUUM ANALYZE"
        } else {
            "ANALYZE"
        };
        conn.batch_execute(sql)?;
    }
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
        crate::db::reports::set_period(conn, prefecture_id, fy, period, contact, now)?;
    }
    Ok(())
}

/// One demo report to make: (institution, answers variant, status, versions,
/// submitted at, filed by proxy).
type Planned = (
    i32,
    usize,
    &'static str,
    i32,
    Option<chrono::NaiveDateTime>,
    bool,
);

/// What `add_reports` made.
#[derive(Debug, Clone, Default)]
pub struct DemoReports {
    pub reports: usize,
    pub versions: usize,
    pub seconds: f64,
}

/// Reports for the demo and the review benchmarks: last fiscal year confirmed for every
/// reporting target, and this fiscal year in every state (about 15 % 未報告, 10 %
/// 一時保存, 35 % 報告済, 5 % 差戻し, 5 % 再報告済, 30 % 確認済), submitted over the
/// open period up to today. Deterministic for the seed.
pub fn add_reports(
    conn: &mut DbConnection,
    fiscal_year: i32,
    seed: u64,
) -> Result<DemoReports, DemoError> {
    use crate::db::reports::{NewReport, NewVersion};
    use crate::db::schema::{institutions as inst_t, reports as rep_t};
    use crate::domain::catalog::{Catalog, shipped};
    use crate::domain::determination::determine;
    use diesel::prelude::*;
    use rand::{Rng, SeedableRng};

    let started = Instant::now();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_4E70);
    let catalog_of = |fy: i32| -> Result<Catalog, DemoError> {
        let text = shipped(fy).ok_or_else(|| DemoError::Users(format!("no catalog for {fy}")))?;
        Catalog::parse(text).map_err(|p| DemoError::Users(format!("{p:?}")))
    };
    // A few dozen documents, shared by many reports: generating 200,000 would only
    // make the load slower, not the data more useful.
    struct Variant {
        answers: String,
        determination: String,
        function1: bool,
        f2: [bool; 4],
    }
    let variants_of =
        |catalog: &Catalog, rng: &mut rand_chacha::ChaCha8Rng| -> Result<Vec<Variant>, DemoError> {
            (0..32)
                .map(|_| {
                    let a = crate::domain::demo::demo_answers(catalog, rng);
                    let d = determine(catalog, &a);
                    let f = &d.function2;
                    Ok(Variant {
                        answers: serde_json::to_string(&a)
                            .map_err(|e| DemoError::Users(e.to_string()))?,
                        determination: serde_json::to_string(&d)
                            .map_err(|e| DemoError::Users(e.to_string()))?,
                        function1: d.function1,
                        f2: [
                            f.after_hours,
                            f.admission_discharge,
                            f.home_care,
                            f.care_coordination,
                        ],
                    })
                })
                .collect()
        };
    let targets: Vec<i32> = inst_t::table
        .filter(inst_t::is_target.eq(true))
        .order(inst_t::id)
        .select(inst_t::id)
        .load(conn)?;
    let today = crate::domain::wareki::today_jst(Utc::now());
    let now = Utc::now().naive_utc();
    let mut made = DemoReports::default();
    for (fy, current) in [(fiscal_year - 1, false), (fiscal_year, true)] {
        let catalog = catalog_of(fy)?;
        let variants = variants_of(&catalog, &mut rng)?;
        let opens = if current {
            today - chrono::Days::new(14)
        } else {
            chrono::NaiveDate::from_ymd_opt(fy + 1, 1, 5).unwrap_or(today)
        };
        let span_days = if current { 14 } else { 80 };
        let mut plan: Vec<Planned> = Vec::with_capacity(targets.len());
        for &institution in &targets {
            let roll: u32 = rng.random_range(0..100);
            let status = if !current {
                "confirmed"
            } else {
                match roll {
                    0..15 => continue,
                    15..25 => "draft",
                    25..60 => "submitted",
                    60..65 => "returned",
                    65..70 => "resubmitted",
                    _ => "confirmed",
                }
            };
            let versions = match status {
                "draft" => 0,
                "resubmitted" => 2,
                _ => 1,
            };
            let at = (versions > 0).then(|| {
                let day = opens + chrono::Days::new(rng.random_range(0..span_days));
                day.and_hms_opt(rng.random_range(0..9), rng.random_range(0..60), 0)
                    .unwrap_or(now)
            });
            plan.push((
                institution,
                rng.random_range(0..variants.len()),
                status,
                versions,
                at,
                rng.random_ratio(1, 20),
            ));
        }
        db::write_transaction(conn, |conn| -> Result<(), DemoError> {
            for chunk in plan.chunks(500) {
                let rows: Vec<NewReport> = chunk
                    .iter()
                    .map(|(institution, v, status, _, _, proxy)| {
                        let variant = &variants[*v];
                        NewReport {
                            institution_id: *institution,
                            fiscal_year: fy,
                            cycle: 0,
                            kind: "periodic",
                            status,
                            catalog_version: &catalog.version,
                            answers: &variant.answers,
                            ndb: "{}",
                            sections: r#"{"1":"complete","2i":"complete","2ro":"complete","2ha":"complete","2ni":"complete","other":"complete"}"#,
                            checked_code: None,
                            function1: variant.function1,
                            after_hours: variant.f2[0],
                            admission_discharge: variant.f2[1],
                            home_care: variant.f2[2],
                            care_coordination: variant.f2[3],
                            proxy: *proxy,
                            created_at: now,
                            updated_at: now,
                            updated_by: None,
                        }
                    })
                    .collect();
                crate::per_backend!(&mut *conn, |c| {
                    diesel::insert_into(rep_t::table).values(&rows).execute(c)
                })?;
            }
            let ids: std::collections::HashMap<i32, i32> = rep_t::table
                .filter(rep_t::fiscal_year.eq(fy))
                .select((rep_t::institution_id, rep_t::id))
                .load::<(i32, i32)>(conn)?
                .into_iter()
                .collect();
            let mut versions = Vec::new();
            for (institution, v, _, count, at, proxy) in &plan {
                let Some(report) = ids.get(institution) else {
                    continue;
                };
                let Some(at) = at else { continue };
                let variant = &variants[*v];
                for number in 1..=*count {
                    versions.push(NewVersion {
                        report_id: *report,
                        number,
                        kind: "periodic",
                        answers: &variant.answers,
                        ndb: "{}",
                        determination: &variant.determination,
                        catalog_version: &catalog.version,
                        submitted_by: None,
                        submitted_login: if *proxy {
                            "demo-officer"
                        } else {
                            "demo-clinic"
                        },
                        proxy: *proxy,
                        submitted_at: *at + chrono::Duration::hours(i64::from(number - 1) * 30),
                    });
                }
            }
            for chunk in versions.chunks(1_000) {
                crate::per_backend!(&mut *conn, |c| {
                    diesel::insert_into(crate::db::schema::report_versions::table)
                        .values(chunk)
                        .execute(c)
                })?;
            }
            // Submitted reports carry their submission time and version count; returned
            // ones a reason.
            for (status, reason) in [
                ("returned", Some("デモ: 2号イの算定回数をご確認ください")),
                ("resubmitted", None),
            ] {
                diesel::update(
                    rep_t::table
                        .filter(rep_t::fiscal_year.eq(fy))
                        .filter(rep_t::status.eq(status)),
                )
                .set((
                    rep_t::was_returned.eq(true),
                    rep_t::return_reason.eq(reason),
                ))
                .execute(conn)?;
            }
            let mut by_time: Vec<(i32, chrono::NaiveDateTime, i32)> = plan
                .iter()
                .filter_map(|(i, _, _, n, at, _)| Some((*ids.get(i)?, (*at)?, *n)))
                .collect();
            by_time.sort_unstable_by_key(|t| (t.1, t.2));
            for group in by_time.chunk_by(|a, b| a.1 == b.1 && a.2 == b.2) {
                let ids: Vec<i32> = group.iter().map(|g| g.0).collect();
                let (_, at, n) = group[0];
                for chunk in ids.chunks(900) {
                    diesel::update(rep_t::table.filter(rep_t::id.eq_any(chunk)))
                        .set((
                            rep_t::submitted_at
                                .eq(at + chrono::Duration::hours(i64::from(n - 1) * 30)),
                            rep_t::versions.eq(n),
                            rep_t::confirmed_at.eq(None::<chrono::NaiveDateTime>),
                        ))
                        .execute(conn)?;
                }
            }
            diesel::update(
                rep_t::table
                    .filter(rep_t::fiscal_year.eq(fy))
                    .filter(rep_t::status.eq("confirmed")),
            )
            .set(rep_t::confirmed_at.eq(now))
            .execute(conn)?;
            made.reports += plan.len();
            made.versions += versions.len();
            Ok(())
        })?;
    }
    // The reports were written in bulk, past the per-report upkeep of the search table.
    crate::db::review_index::rebuild(conn)?;
    {
        use diesel::connection::SimpleConnection;
        let sql = if matches!(conn, DbConnection::Pg(_)) {
            "VACUUM ANALYZE"
        } else {
            "ANALYZE"
        };
        conn.batch_execute(sql).map_err(db::DbError::Query)?;
    }
    made.seconds = started.elapsed().as_secs_f64();
    Ok(made)
}
