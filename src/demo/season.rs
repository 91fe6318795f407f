//! A season in progress: NDB counts, last year confirmed, this year's reports in every
//! state, and the demo clinic's report filed, sent back and discussed.

use std::time::Instant;

use chrono::Utc;

use super::DemoError;
use crate::db::changes::Counter;
use crate::db::{self, DbConnection, institutions};
use crate::domain::auth::Scope;
use crate::domain::report::Status;

/// One demo report to make.
struct Planned {
    institution: i32,
    variant: usize,
    status: Status,
    versions: i32,
    submitted_at: Option<chrono::NaiveDateTime>,
    proxy: bool,
}

/// What `add_reports` made.
#[derive(Debug, Clone, Default)]
pub struct DemoReports {
    pub reports: usize,
    pub versions: usize,
    pub seconds: f64,
}

/// A few dozen answer documents shared by many reports (generating 200,000 would make
/// the load slower, not the data more useful); each report gets its institution's NDB
/// counts pre-printed into them, as a clinic's draft does.
fn variants_of(
    catalog: &crate::domain::catalog::Catalog,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Vec<crate::domain::determination::Answers> {
    (0..32)
        .map(|_| crate::domain::demo::demo_answers(catalog, rng))
        .collect()
}

/// One filed document: answers with the NDB counts pre-printed, the pre-printed
/// originals, and the determination.
struct Filed {
    answers: String,
    ndb: String,
    determination: String,
    function1: bool,
    f2: [bool; 4],
}

fn filed(
    catalog: &crate::domain::catalog::Catalog,
    answers: &crate::domain::determination::Answers,
    counts: Option<&std::collections::BTreeMap<String, i64>>,
) -> Result<Filed, DemoError> {
    let empty = std::collections::BTreeMap::new();
    let (answers, ndb) =
        crate::domain::report::preprint(catalog, answers, counts.unwrap_or(&empty));
    let d = crate::domain::determination::determine(catalog, &answers);
    let f = &d.function2;
    Ok(Filed {
        answers: json(&answers)?,
        ndb: json(&ndb)?,
        determination: json(&d)?,
        function1: d.function1,
        f2: [
            f.after_hours,
            f.admission_discharge,
            f.home_care,
            f.care_coordination,
        ],
    })
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, DemoError> {
    serde_json::to_string(value).map_err(|e| DemoError::Users(e.to_string()))
}

/// The status of one institution's report this year (None: 未報告), about 15 % 未報告,
/// 10 % 一時保存, 35 % 報告済, 5 % 差戻し, 5 % 再報告済, 30 % 確認済; last year all 確認済.
fn planned_status(current: bool, roll: u32) -> Option<Status> {
    if !current {
        return Some(Status::Confirmed);
    }
    match roll {
        0..15 => None,
        15..25 => Some(Status::Draft),
        25..60 => Some(Status::Submitted),
        60..65 => Some(Status::Returned),
        65..70 => Some(Status::Resubmitted),
        _ => Some(Status::Confirmed),
    }
}

/// Reports for the demo and the review benchmarks: last fiscal year confirmed for every
/// reporting target, and this fiscal year in every state ([`planned_status`]), submitted
/// over the open period up to today, each carrying its institution's NDB counts as
/// pre-printed. Deterministic for the seed.
pub fn add_reports(
    conn: &mut DbConnection,
    fiscal_year: i32,
    seed: u64,
) -> Result<DemoReports, DemoError> {
    add_reports_except(conn, fiscal_year, seed, None)
}

/// [`add_reports`], leaving this year's report of `except` (the demo clinic's, filed
/// through the services) to be made otherwise.
fn add_reports_except(
    conn: &mut DbConnection,
    fiscal_year: i32,
    seed: u64,
    except: Option<i32>,
) -> Result<DemoReports, DemoError> {
    use rand::{Rng, SeedableRng};

    let started = Instant::now();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_4E70);
    let catalogs = crate::services::catalogs::Catalogs::default();
    let targets = institutions::targets(conn)?;
    let today = crate::domain::wareki::today_jst(Utc::now());
    let now = Utc::now().naive_utc();
    let mut made = DemoReports::default();
    for (fy, current) in [(fiscal_year - 1, false), (fiscal_year, true)] {
        let catalog = catalogs
            .current(conn, fy)
            .map_err(|e| DemoError::Users(e.to_string()))?;
        let variants = variants_of(&catalog, &mut rng);
        let opens = if current {
            today - chrono::Days::new(14)
        } else {
            chrono::NaiveDate::from_ymd_opt(fy + 1, 1, 5).unwrap_or(today)
        };
        let span_days = if current { 14 } else { 80 };
        let mut plan: Vec<Planned> = Vec::with_capacity(targets.len());
        for (institution, _) in &targets {
            let roll: u32 = rng.random_range(0..100);
            let Some(status) = planned_status(current, roll) else {
                continue;
            };
            if current && except == Some(*institution) {
                continue;
            }
            let versions = match status {
                Status::Draft => 0,
                Status::Resubmitted => 2,
                _ => 1,
            };
            let submitted_at = (versions > 0).then(|| {
                let day = opens + chrono::Days::new(rng.random_range(0..span_days));
                day.and_hms_opt(rng.random_range(0..9), rng.random_range(0..60), 0)
                    .unwrap_or(now)
            });
            plan.push(Planned {
                institution: *institution,
                variant: rng.random_range(0..variants.len()),
                status,
                versions,
                submitted_at,
                proxy: rng.random_ratio(1, 20),
            });
        }
        // Each institution's NDB counts, pre-printed as a clinic's report has them.
        let by_code = crate::db::ndb::ndb_of_year(conn, fy)?;
        let codes: std::collections::HashMap<i32, &str> = targets
            .iter()
            .map(|(id, code)| (*id, code.as_str()))
            .collect();
        let counts = |institution: i32| codes.get(&institution).and_then(|c| by_code.get(*c));
        let year = Year {
            fiscal_year: fy,
            catalog: &catalog,
            variants: &variants,
            counts: &counts,
        };
        let written = db::write_transaction(conn, |conn| write_planned(conn, &year, &plan, now))?;
        made.reports += plan.len();
        made.versions += written;
    }
    // The reports were written in bulk, past the per-report upkeep of the search table.
    crate::db::review_index::rebuild(conn)?;
    db::analyze(conn)?;
    crate::services::changed(conn, &[Counter::Reports])?;
    made.seconds = started.elapsed().as_secs_f64();
    Ok(made)
}

/// What one year's demo reports are made of.
struct Year<'a> {
    fiscal_year: i32,
    catalog: &'a crate::domain::catalog::Catalog,
    variants: &'a [crate::domain::determination::Answers],
    counts: &'a dyn Fn(i32) -> Option<&'a std::collections::BTreeMap<String, i64>>,
}

impl Year<'_> {
    fn filed(&self, p: &Planned) -> Result<Filed, DemoError> {
        filed(
            self.catalog,
            &self.variants[p.variant],
            (self.counts)(p.institution),
        )
    }
}

/// Writes one year's planned reports and their versions, 500 at a time (each report's
/// documents are made when written, so memory stays flat); returns the versions written.
fn write_planned(
    conn: &mut DbConnection,
    year: &Year,
    plan: &[Planned],
    now: chrono::NaiveDateTime,
) -> Result<usize, DemoError> {
    use crate::db::reports::{self as store, NewReport, NewVersion};
    const ALL_COMPLETE: &str = r#"{"1":"complete","2i":"complete","2ro":"complete","2ha":"complete","2ni":"complete","other":"complete"}"#;
    let kind = crate::domain::report::ReportKind::Periodic.code();
    let fiscal_year = year.fiscal_year;
    let version = year.catalog.version.as_str();
    for chunk in plan.chunks(500) {
        let docs = chunk
            .iter()
            .map(|p| year.filed(p))
            .collect::<Result<Vec<_>, _>>()?;
        let rows: Vec<NewReport> = chunk
            .iter()
            .zip(&docs)
            .map(|(p, doc)| NewReport {
                institution_id: p.institution,
                fiscal_year,
                cycle: 0,
                kind,
                status: p.status.code(),
                catalog_version: version,
                answers: &doc.answers,
                ndb: &doc.ndb,
                sections: ALL_COMPLETE,
                checked_code: None,
                function1: doc.function1,
                after_hours: doc.f2[0],
                admission_discharge: doc.f2[1],
                home_care: doc.f2[2],
                care_coordination: doc.f2[3],
                proxy: p.proxy,
                created_at: now,
                updated_at: now,
                updated_by: None,
            })
            .collect();
        store::insert_many(conn, &rows)?;
    }
    let ids = store::ids_of_year(conn, fiscal_year)?;
    let mut written = 0;
    for chunk in plan.chunks(500) {
        let mut docs = Vec::new();
        for p in chunk.iter().filter(|p| p.submitted_at.is_some()) {
            docs.push((p, year.filed(p)?));
        }
        let mut versions = Vec::new();
        for (p, doc) in &docs {
            let (Some(report), Some(at)) = (ids.get(&p.institution), p.submitted_at) else {
                continue;
            };
            for number in 1..=p.versions {
                versions.push(NewVersion {
                    report_id: *report,
                    number,
                    kind,
                    answers: &doc.answers,
                    ndb: &doc.ndb,
                    determination: &doc.determination,
                    catalog_version: version,
                    submitted_by: None,
                    submitted_login: if p.proxy {
                        "demo-officer"
                    } else {
                        "demo-clinic"
                    },
                    proxy: p.proxy,
                    submitted_at: at + chrono::Duration::hours(i64::from(number - 1) * 30),
                });
            }
        }
        written += store::insert_versions(conn, &versions)?;
    }
    // Returned and resubmitted reports were sent back once, the returned ones with a
    // reason the clinic reads.
    let reason = "デモ: 2号イの算定回数をご確認ください";
    store::mark_returned(conn, fiscal_year, Status::Returned, Some(reason))?;
    store::mark_returned(conn, fiscal_year, Status::Resubmitted, None)?;
    // Submitted reports carry their (latest) submission time and version count.
    let mut by_time: Vec<(i32, chrono::NaiveDateTime, i32)> = plan
        .iter()
        .filter_map(|p| Some((*ids.get(&p.institution)?, p.submitted_at?, p.versions)))
        .collect();
    by_time.sort_unstable_by_key(|t| (t.1, t.2));
    for group in by_time.chunk_by(|a, b| a.1 == b.1 && a.2 == b.2) {
        let ids: Vec<i32> = group.iter().map(|g| g.0).collect();
        let (_, at, n) = group[0];
        let latest = at + chrono::Duration::hours(i64::from(n - 1) * 30);
        store::set_submitted(conn, &ids, latest, n)?;
    }
    store::set_confirmed_at(conn, fiscal_year, now)?;
    Ok(written)
}

/// What [`season`] made.
#[derive(Debug, Default)]
pub struct DemoSeason {
    pub ndb_counts: usize,
    pub reports: DemoReports,
    pub seconds: f64,
}

/// A season in progress, the demo's default: NDB counts for last year and this year
/// (loaded through the NDB import), last year confirmed, this year's reports in every
/// state carrying their institution's NDB counts as pre-printed, and the demo clinic's
/// own report filed, sent back and discussed through the same services as a user's.
pub fn season(
    conn: &mut DbConnection,
    fiscal_year: i32,
    seed: u64,
) -> Result<DemoSeason, DemoError> {
    let started = Instant::now();
    let catalogs = crate::services::catalogs::Catalogs::default();
    let mut made = DemoSeason::default();
    for fy in [fiscal_year - 1, fiscal_year] {
        made.ndb_counts += add_ndb_counts(conn, &catalogs, fy, seed)?;
    }
    let clinic = demo_user(conn, "demo-clinic")?;
    let own = match clinic.as_ref().map(|a| a.scope) {
        Some(Scope::Institution(id)) => Some(id),
        _ => None,
    };
    made.reports = add_reports_except(conn, fiscal_year, seed, own)?;
    if let (Some(clinic), Some(officer)) = (clinic, demo_user(conn, "demo-officer")?) {
        file_and_send_back(conn, &catalogs, fiscal_year, seed, &clinic, &officer)?;
    }
    super::help::add(conn, fiscal_year)?;
    // The previous year, complete and confirmed, is published as a prefecture would.
    for prefecture in crate::db::areas::prefectures(conn)? {
        let by = crate::services::By::System {
            name: "kakari demo",
            scope: Scope::Prefecture(prefecture.id),
        };
        crate::services::publication::publish(conn, &catalogs, by, prefecture.id, fiscal_year - 1)
            .map_err(|e| DemoError::Publication(e.to_string()))?;
    }
    crate::services::changed(conn, &[Counter::Reports, Counter::Master])?;
    made.seconds = started.elapsed().as_secs_f64();
    Ok(made)
}

pub(super) fn demo_user(
    conn: &mut DbConnection,
    login: &str,
) -> Result<Option<crate::services::Actor>, DemoError> {
    let Some(user) = db::users::by_login(conn, login)? else {
        return Ok(None);
    };
    let Some((user, scope)) = db::users::with_scope(conn, user.id)? else {
        return Ok(None);
    };
    Ok(Some(crate::services::Actor {
        user_id: user.id,
        login: user.login_id.clone(),
        scope,
        officer: user.role().is_officer(),
        ip: None,
    }))
}

/// NDB counts of every reporting target for a fiscal year, with the spread real counts
/// have (many zeros, many 1–9, some large), written as a CSV and loaded through the NDB
/// import. Returns how many counts were loaded.
fn add_ndb_counts(
    conn: &mut DbConnection,
    catalogs: &crate::services::catalogs::Catalogs,
    fiscal_year: i32,
    seed: u64,
) -> Result<usize, DemoError> {
    use rand::{Rng, SeedableRng};
    let catalog = catalogs
        .current(conn, fiscal_year)
        .map_err(|e| DemoError::Users(e.to_string()))?;
    let keys: Vec<&str> = catalog
        .items
        .iter()
        .filter_map(|i| i.ndb_key.as_deref())
        .collect();
    if keys.is_empty() {
        return Ok(0);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ (0x4E_D8 + fiscal_year as u64));
    let mut csv = String::from("医療機関コード,項目,算定回数\n");
    for (_, code) in db::institutions::targets(conn)? {
        for key in &keys {
            let count: u32 = match rng.random_range(0..100) {
                0..45 => 0,
                45..75 => rng.random_range(1..10),
                75..95 => rng.random_range(10..100),
                _ => rng.random_range(100..2_000),
            };
            csv.push_str(&format!("{code},{key},{count}\n"));
        }
    }
    let file_name = format!("demo-ndb-{fiscal_year}.csv");
    let file = crate::services::imports::ndb::NdbFile {
        fiscal_year,
        file_name: &file_name,
        bytes: csv.as_bytes(),
    };
    let by = crate::services::imports::By::system("demo");
    let limits = crate::import::Limits::default();
    let plan = crate::services::imports::ndb::import_file(conn, catalogs, &file, &by, &limits)
        .map_err(|e| DemoError::Users(e.to_string()))?;
    Ok(plan.counts)
}

/// The demo clinic files this year's report through the report services (NDB counts
/// pre-printed, every section 入力完了, 報告), the demo officer sends it back with a
/// reason, and both write a memo: what a newcomer signed in as either sees first.
fn file_and_send_back(
    conn: &mut DbConnection,
    catalogs: &crate::services::catalogs::Catalogs,
    fiscal_year: i32,
    seed: u64,
    clinic: &crate::services::Actor,
    officer: &crate::services::Actor,
) -> Result<(), DemoError> {
    use crate::services::reports::{self as filing, SaveOutcome, SectionSave, Sent, StartRequest};
    use crate::services::review;
    use rand::SeedableRng;
    let Scope::Institution(institution_id) = clinic.scope else {
        return Ok(());
    };
    let failed = |e: &dyn std::fmt::Display| DemoError::Users(e.to_string());
    let today = crate::domain::wareki::today_jst(Utc::now());
    // The clinic types its code at 保険医療機関番号確認, so its NDB counts are pre-printed.
    let code = institutions::card_within(conn, clinic.scope, institution_id)?
        .map(|card| card.code)
        .unwrap_or_default();
    let request = StartRequest {
        institution_id,
        fiscal_year,
        kind: crate::domain::report::ReportKind::Periodic,
        typed_code: code,
        today,
    };
    let id = filing::start(conn, catalogs, clinic, &request).map_err(|e| failed(&e))?;
    let loaded = filing::load(conn, catalogs, clinic.scope, id).map_err(|e| failed(&e))?;
    let catalog = loaded.catalog.clone();
    // Answers with 1号 有り, so that every section is part of the report; the pre-printed
    // NDB counts are kept as printed.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let answers = loop {
        let mut a = crate::domain::demo::demo_answers(&catalog, &mut rng);
        a.extend(loaded.ndb.clone());
        if crate::domain::determination::determine(&catalog, &a).function1 {
            break a;
        }
    };
    let mut revision = loaded.report.revision;
    for section in &catalog.sections {
        let save = SectionSave {
            report_id: id,
            section: section.id.clone(),
            sent: Sent::Answers(filing::section_answers(&catalog, &answers, &section.id)),
            revision,
            complete: true,
        };
        match filing::save_section(conn, catalogs, clinic, save).map_err(|e| failed(&e))? {
            SaveOutcome::Saved { .. } => revision += 1,
            other => {
                return Err(DemoError::Users(format!(
                    "demo section {}: {other:?}",
                    section.id
                )));
            }
        }
    }
    match filing::submit(conn, catalogs, clinic, id, revision, today).map_err(|e| failed(&e))? {
        filing::SubmitOutcome::Submitted { .. } => {}
        other => return Err(DemoError::Users(format!("demo submission: {other:?}"))),
    }
    let reason = "デモ: 2号（ロ）入退院時の支援の「連携する医療機関」を確認し、記入してから再度報告してください。";
    review::send_back(conn, catalogs, officer, id, revision + 1, reason).map_err(|e| failed(&e))?;
    let clinic_name = "デモ 医療機関担当者";
    let question = "差戻しの件、承知しました。連携先は2か所ですが、両方書けばよいでしょうか。";
    review::add_memo(conn, catalogs, clinic, clinic_name, id, question, false)
        .map_err(|e| failed(&e))?;
    let answer = "両方ご記入ください。記入後に「報告する」で再報告となります。";
    review::add_memo(conn, catalogs, officer, "デモ 県担当者", id, answer, false)
        .map_err(|e| failed(&e))?;
    let note = "（内部）電話で確認済。週内に再報告の見込み。";
    review::add_memo(conn, catalogs, officer, "デモ 県担当者", id, note, true)
        .map_err(|e| failed(&e))?;
    Ok(())
}
