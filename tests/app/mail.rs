//! Mail against a real SMTP server process on loopback (tests/smtp/sink.py, aiosmtpd):
//! what arrives, retries, refusals, the re-check before a reminder, the rate, the pause
//! after a run of transient failures, a server that drops the line, one that never
//! answers, a killed server process, and two worker processes at once.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use kakari::config::Settings;
use kakari::db::schema::{institutions, mail_campaigns, mail_outbox, reports, users};
use kakari::db::{DbConnection, Pool};
use kakari::domain::auth::Scope;
use kakari::domain::mail::{Audience, RowState, TemplateKey};
use kakari::mail::transport::Transport;
use kakari::mail::worker::Worker;
use kakari::services::mail::{self as service, By, CampaignRequest, Change};

use crate::reports::fiscal_year;
use crate::support::{DEMO_PASSWORD, TestDb};

/// The SMTP server of one test; killed when dropped.
pub(crate) struct Sink {
    pub port: u16,
    out: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Sink {
    pub(crate) fn start(args: &[&str]) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("received.jsonl");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--out")
            .arg(&out)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 (the test SMTP server needs aiosmtpd: pip install aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!("the SMTP sink did not start (is aiosmtpd installed?): {line:?}")
        });
        Sink {
            port,
            out,
            child,
            _dir: dir,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message accepted so far. The sink may be writing a line while it is read:
    /// only lines that are complete (ended by a newline) count.
    pub(crate) fn received(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The messages of a campaign's rows (the demo's own notices go to the same server).
    fn of_rows(&self, rows: &[Row]) -> Vec<serde_json::Value> {
        let ids: std::collections::HashSet<i64> = rows.iter().map(|r| i64::from(r.id)).collect();
        self.received()
            .into_iter()
            .filter(|m| {
                m["message_id"]
                    .as_str()
                    .and_then(kakari::domain::mail::row_of_message_id)
                    .is_some_and(|id| ids.contains(&id))
            })
            .collect()
    }

    /// Messages per Message-ID, of a campaign's rows.
    fn per_message_id(&self, rows: &[Row]) -> HashMap<String, usize> {
        let mut n = HashMap::new();
        for m in self.of_rows(rows) {
            *n.entry(m["message_id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        n
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A demo prefecture with its season, and settings that send to `sink`.
struct Setup {
    db: TestDb,
    pool: Pool,
    settings: Settings,
}

fn setup(institutions: usize, sink: Option<&Sink>) -> Setup {
    let db = TestDb::new();
    let pool = db.pool();
    {
        let conn = &mut *pool.get().unwrap();
        kakari::demo::load(conn, institutions, 1, false, DEMO_PASSWORD).unwrap();
        kakari::demo::season(conn, fiscal_year(), 1).unwrap();
    }
    let mut settings = db.settings();
    settings.public_url = Some("https://kakari.pref.example.jp".into());
    settings.mail.from = "鹿児島県 保健医療福祉課 <iryo@pref.example.jp>".into();
    settings.mail.smtp_url = sink.map(Sink::url);
    settings.mail.rate = 0;
    settings.mail.timeout = chrono::Duration::seconds(2);
    settings.mail.retry_base = chrono::Duration::seconds(1);
    Setup { db, pool, settings }
}

fn prefecture(conn: &mut DbConnection) -> Scope {
    Scope::Prefecture(kakari::db::areas::prefectures(conn).unwrap()[0].id)
}

fn broadcast(setup: &Setup, template: TemplateKey, audience: Audience, chosen: Vec<i32>) -> i32 {
    broadcast_at(setup, template, audience, chosen, None)
}

fn broadcast_at(
    setup: &Setup,
    template: TemplateKey,
    audience: Audience,
    chosen: Vec<i32>,
    scheduled_at: Option<chrono::NaiveDateTime>,
) -> i32 {
    let conn = &mut *setup.pool.get().unwrap();
    let scope = prefecture(conn);
    let request = CampaignRequest {
        template,
        audience,
        fiscal_year: fiscal_year(),
        filter: Default::default(),
        chosen,
        scheduled_at,
    };
    let key = format!("test-request-key-{}", rand_suffix());
    let by = By::System {
        name: "test",
        scope,
    };
    let (id, created) = service::create(conn, by, &request, &key, &serde_json::json!({})).unwrap();
    assert!(created);
    // The same preview confirmed twice makes no second campaign.
    let (again, created) =
        service::create(conn, by, &request, &key, &serde_json::json!({})).unwrap();
    assert_eq!((again, created), (id, false));
    id
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

#[derive(Debug, Queryable)]
struct Row {
    id: i32,
    institution_id: Option<i32>,
    to_address: String,
    state: String,
    attempts: i32,
    last_answer: Option<String>,
    resent_after_crash: bool,
}

fn rows(conn: &mut DbConnection, campaign: i32) -> Vec<Row> {
    mail_outbox::table
        .filter(mail_outbox::campaign_id.eq(campaign))
        .order(mail_outbox::id)
        .select((
            mail_outbox::id,
            mail_outbox::institution_id,
            mail_outbox::to_address,
            mail_outbox::state,
            mail_outbox::attempts,
            mail_outbox::last_answer,
            mail_outbox::resent_after_crash,
        ))
        .load(conn)
        .unwrap()
}

fn campaign_state(conn: &mut DbConnection, id: i32) -> (String, Option<String>) {
    mail_campaigns::table
        .find(id)
        .select((mail_campaigns::state, mail_campaigns::state_reason))
        .first(conn)
        .unwrap()
}

/// Runs worker rounds in this thread until `done` holds (or fails after `limit`).
fn drain(setup: &Setup, limit: Duration, done: impl Fn(&mut DbConnection) -> bool) {
    let worker = Worker::new(setup.pool.clone(), &setup.settings);
    let transport =
        Transport::from_settings(&setup.settings.mail, &setup.settings.data_dir).unwrap();
    let conn = &mut *setup.pool.get().unwrap();
    let start = Instant::now();
    while !done(conn) {
        assert!(start.elapsed() < limit, "not done after {limit:?}");
        if worker.step(conn, &transport, "test-worker").unwrap() == 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn finished(id: i32) -> impl Fn(&mut DbConnection) -> bool {
    move |conn| campaign_state(conn, id).0 == "finished"
}

#[test]
fn a_broadcast_reaches_every_target_with_an_encoded_japanese_subject_and_the_contact() {
    let sink = Sink::start(&[]);
    let setup = setup(60, Some(&sink));
    let id = broadcast(&setup, TemplateKey::Guidance, Audience::Targets, vec![]);
    drain(&setup, Duration::from_secs(60), finished(id));
    let conn = &mut *setup.pool.get().unwrap();
    let rows = rows(conn, id);
    assert!(rows.len() > 20, "{} recipients", rows.len());
    let received = sink.of_rows(&rows);
    assert_eq!(received.len(), rows.len());
    let by_id: HashMap<String, &serde_json::Value> = received
        .iter()
        .map(|m| (m["message_id"].as_str().unwrap().to_string(), m))
        .collect();
    for row in &rows {
        assert_eq!(row.state, "sent", "{row:?}");
        assert!(
            row.last_answer.as_deref().unwrap().starts_with("250"),
            "{row:?}"
        );
        let (name, email): (String, Option<String>) = institutions::table
            .find(row.institution_id.unwrap())
            .select((institutions::name, institutions::email))
            .first(conn)
            .unwrap();
        assert_eq!(Some(row.to_address.clone()), email);
        let message = by_id
            .iter()
            .find(|(mid, _)| {
                kakari::domain::mail::row_of_message_id(mid) == Some(i64::from(row.id))
            })
            .map(|(_, m)| *m)
            .unwrap_or_else(|| panic!("no message for row {}", row.id));
        assert_eq!(message["rcpt_tos"][0], row.to_address.as_str());
        let subject = message["subject"].as_str().unwrap();
        assert!(
            subject.contains("かかりつけ医機能報告のお願い"),
            "{subject}"
        );
        assert!(subject.contains(&name), "{subject}");
        let raw = message["subject_raw"].as_str().unwrap();
        assert!(raw.starts_with("=?utf-8?"), "encoded: {raw}");
        assert!(
            message["content_type"]
                .as_str()
                .unwrap()
                .contains("text/plain")
        );
        let body = message["body"].as_str().unwrap();
        assert!(body.contains("https://kakari.pref.example.jp/"), "{body}");
        assert!(body.contains("099-000-0000"), "contact footer: {body}");
        assert!(message["from"].as_str().unwrap().contains("鹿児島県"));
    }
    let view = service::campaign(conn, Scope::All, id).unwrap();
    assert_eq!(view.tally.sent as usize, rows.len());
    assert_eq!(view.tally.recipients, i64::from(view.campaign.recipients));
    assert!(
        view.campaign.without_address > 0,
        "the demo has institutions without e-mail"
    );
}

#[test]
fn a_transient_refusal_is_retried_and_a_permanent_one_fails_with_its_text() {
    let sink_holder;
    let mut setup = setup(60, None);
    let (deferred, refused, chosen) = {
        let conn = &mut *setup.pool.get().unwrap();
        let picked: Vec<(i32, String)> = institutions::table
            .filter(institutions::is_target.eq(true))
            .filter(institutions::email.is_not_null())
            .order(institutions::id)
            .select((institutions::id, institutions::email.assume_not_null()))
            .limit(4)
            .load(conn)
            .unwrap();
        (
            picked[0].1.clone(),
            picked[1].1.clone(),
            picked.iter().map(|p| p.0).collect::<Vec<_>>(),
        )
    };
    sink_holder = Sink::start(&["--defer-first", &deferred, "--reject", &refused]);
    setup.settings.mail.smtp_url = Some(sink_holder.url());
    let id = broadcast(
        &setup,
        TemplateKey::Guidance,
        Audience::Chosen,
        chosen.clone(),
    );
    drain(&setup, Duration::from_secs(60), finished(id));
    let conn = &mut *setup.pool.get().unwrap();
    let sent = rows(conn, id);
    assert_eq!(sent.len(), 4);
    let by_address: HashMap<&str, &Row> = sent.iter().map(|r| (r.to_address.as_str(), r)).collect();
    let d = by_address[deferred.as_str()];
    assert_eq!((d.state.as_str(), d.attempts), ("sent", 2), "{d:?}");
    let r = by_address[refused.as_str()];
    assert_eq!((r.state.as_str(), r.attempts), ("failed", 1), "{r:?}");
    let answer = r.last_answer.as_deref().unwrap();
    assert!(
        answer.contains("550") && answer.contains("mailbox unavailable"),
        "{answer}"
    );
    assert_eq!(sink_holder.of_rows(&sent).len(), 3);
    let view = service::campaign(conn, Scope::All, id).unwrap();
    assert_eq!((view.tally.sent, view.tally.failed), (3, 1));
    // 「失敗分を再送」 queues the failed one again; it fails again, with the same text.
    let scope = prefecture(conn);
    service::change(
        conn,
        By::System {
            name: "test",
            scope,
        },
        id,
        Change::RetryFailed,
    )
    .unwrap();
    assert_eq!(campaign_state(conn, id).0, "sending");
    drain(&setup, Duration::from_secs(30), finished(id));
    let conn = &mut *setup.pool.get().unwrap();
    let again = rows(conn, id);
    assert_eq!(again.iter().filter(|r| r.state == "failed").count(), 1);
}

/// The demo clinic's user and institution.
fn demo_clinic(conn: &mut DbConnection) -> (i32, i32) {
    users::table
        .filter(users::login_id.eq("demo-clinic"))
        .select((users::id, users::institution_id.assume_not_null()))
        .first(conn)
        .unwrap()
}

/// The demo clinic resubmits its sent-back report this year: the report's id.
fn resubmit_demo_clinic(conn: &mut DbConnection, user: i32, institution: i32) -> i32 {
    let (report, revision): (i32, i32) = reports::table
        .filter(reports::institution_id.eq(institution))
        .filter(reports::fiscal_year.eq(fiscal_year()))
        .select((reports::id, reports::revision))
        .first(conn)
        .unwrap();
    let clinic = kakari::services::Actor {
        user_id: user,
        login: "demo-clinic".into(),
        scope: Scope::Institution(institution),
        officer: false,
        ip: None,
    };
    let today = kakari::domain::wareki::today_jst(chrono::Utc::now());
    let outcome = kakari::services::reports::submit(
        conn,
        &Default::default(),
        &clinic,
        report,
        revision,
        today,
    )
    .unwrap();
    assert!(
        matches!(
            outcome,
            kakari::services::reports::SubmitOutcome::Submitted { .. }
        ),
        "{outcome:?}"
    );
    report
}

#[test]
fn a_reminder_is_not_sent_to_an_institution_that_reported_meanwhile() {
    let sink = Sink::start(&[]);
    let setup = setup(60, Some(&sink));
    let conn = &mut *setup.pool.get().unwrap();
    // The demo clinic's report was sent back; give it an address so the reminder goes.
    let (clinic_user, institution) = demo_clinic(conn);
    diesel::update(institutions::table.find(institution))
        .set(institutions::email.eq("clinic@demo.example.jp"))
        .execute(conn)
        .unwrap();
    let id = broadcast(&setup, TemplateKey::Reminder, Audience::Unreported, vec![]);
    let queued = rows(conn, id);
    assert!(queued.iter().any(|r| r.institution_id == Some(institution)));
    // The clinic resubmits before the worker reaches it.
    let report = resubmit_demo_clinic(conn, clinic_user, institution);
    drain(&setup, Duration::from_secs(60), finished(id));
    let rows = rows(conn, id);
    let clinic = rows
        .iter()
        .find(|r| r.institution_id == Some(institution))
        .unwrap();
    assert_eq!(clinic.state, "skipped");
    assert!(
        clinic.last_answer.as_deref().unwrap().contains("再報告済"),
        "{clinic:?}"
    );
    assert!(
        !sink
            .received()
            .iter()
            .any(|m| m["rcpt_tos"][0] == "clinic@demo.example.jp"
                && m["subject"].as_str().unwrap().contains("督促"))
    );
    assert_eq!(sink.of_rows(&rows).len(), rows.len() - 1);
    // The resubmission queued its receipt. An officer sends the report back: the
    // notice carries the reason and a link to the report.
    let (officer, revision): (i32, i32) = (
        users::table
            .filter(users::login_id.eq("demo-officer"))
            .select(users::id)
            .first(conn)
            .unwrap(),
        reports::table
            .find(report)
            .select(reports::revision)
            .first(conn)
            .unwrap(),
    );
    let officer = kakari::services::Actor {
        user_id: officer,
        login: "demo-officer".into(),
        scope: prefecture(conn),
        officer: true,
        ip: None,
    };
    let reason = "2号機能の体制の記載を確認させてください。";
    kakari::services::review::send_back(
        conn,
        &Default::default(),
        &officer,
        report,
        revision,
        reason,
    )
    .unwrap();
    drain(&setup, Duration::from_secs(30), |conn| {
        mail_outbox::table
            .filter(mail_outbox::campaign_id.is_null())
            .filter(mail_outbox::state.ne("sent"))
            .count()
            .get_result::<i64>(conn)
            .unwrap()
            == 0
    });
    let to_clinic: Vec<serde_json::Value> = sink
        .received()
        .into_iter()
        .filter(|m| m["rcpt_tos"][0] == "clinic@demo.example.jp")
        .collect();
    let subjects: Vec<&str> = to_clinic
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects[0].contains("【受付】"), "{subjects:?}");
    assert!(subjects[1].contains("【差戻し】"), "{subjects:?}");
    let body = to_clinic[1]["body"].as_str().unwrap();
    assert!(body.contains(reason), "{body}");
    assert!(
        body.contains(&format!("https://kakari.pref.example.jp/reports/{report}")),
        "{body}"
    );
}

#[test]
fn the_rate_is_kept() {
    let sink = Sink::start(&[]);
    let mut setup = setup(60, Some(&sink));
    setup.settings.mail.rate = 10;
    let chosen: Vec<i32> = {
        let conn = &mut *setup.pool.get().unwrap();
        institutions::table
            .filter(institutions::is_target.eq(true))
            .filter(institutions::email.is_not_null())
            .order(institutions::id)
            .select(institutions::id)
            .limit(11)
            .load(conn)
            .unwrap()
    };
    let id = broadcast(&setup, TemplateKey::Guidance, Audience::Chosen, chosen);
    let start = Instant::now();
    drain(&setup, Duration::from_secs(30), finished(id));
    let elapsed = start.elapsed();
    let received = sink.of_rows(&rows(&mut setup.pool.get().unwrap(), id));
    assert_eq!(received.len(), 11);
    let first = received[0]["at"].as_f64().unwrap();
    let last = received[10]["at"].as_f64().unwrap();
    // Ten intervals of 100 ms between the first and the last.
    assert!(
        last - first >= 0.95,
        "{:.3} s between first and last",
        last - first
    );
    assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
}

#[test]
fn a_run_of_transient_failures_pauses_the_campaign_and_resume_sends_each_once() {
    let broken = Sink::start(&["--defer-all"]);
    let mut setup = setup(60, Some(&broken));
    setup.settings.mail.pause_after = 3;
    let id = broadcast(&setup, TemplateKey::Guidance, Audience::Targets, vec![]);
    drain(&setup, Duration::from_secs(30), |conn| {
        campaign_state(conn, id).0 == "paused"
    });
    let conn = &mut *setup.pool.get().unwrap();
    let (_, reason) = campaign_state(conn, id);
    assert!(reason.unwrap().contains("一時停止"));
    let after_pause = rows(conn, id);
    assert_eq!(after_pause.iter().filter(|r| r.state == "retry").count(), 3);
    assert_eq!(
        after_pause
            .iter()
            .filter(|r| r.state == "failed" || r.state == "sent")
            .count(),
        0
    );
    assert_eq!(
        after_pause.iter().filter(|r| r.state == "sending").count(),
        0,
        "claimed rows were given back"
    );
    assert!(broken.of_rows(&after_pause).is_empty());
    // The server is mended: resume, and every recipient gets one message.
    let good = Sink::start(&[]);
    setup.settings.mail.smtp_url = Some(good.url());
    let scope = prefecture(conn);
    service::change(
        conn,
        By::System {
            name: "test",
            scope,
        },
        id,
        Change::Resume,
    )
    .unwrap();
    drain(&setup, Duration::from_secs(60), finished(id));
    let conn = &mut *setup.pool.get().unwrap();
    let all = rows(conn, id);
    assert!(all.iter().all(|r| r.state == "sent"));
    let per_id = good.per_message_id(&all);
    assert_eq!(per_id.len(), all.len());
    assert!(per_id.values().all(|n| *n == 1));
}

#[test]
fn a_server_that_drops_the_line_after_acknowledging_skips_nobody_and_mails_nobody_twice() {
    let sink = Sink::start(&["--drop-every", "7"]);
    let setup = setup(120, Some(&sink));
    let id = broadcast(&setup, TemplateKey::Guidance, Audience::Targets, vec![]);
    let checked_early = std::cell::Cell::new(false);
    drain(&setup, Duration::from_secs(90), |conn| {
        let (state, _) = campaign_state(conn, id);
        let open = rows(conn, id)
            .iter()
            .filter(|r| !RowState::from_code(&r.state).unwrap().is_final())
            .count();
        if open > 0 {
            assert_ne!(state, "finished", "finished with {open} rows open");
            checked_early.set(true);
        }
        state == "finished"
    });
    assert!(checked_early.get());
    let conn = &mut *setup.pool.get().unwrap();
    let all = rows(conn, id);
    assert!(
        all.iter().all(|r| r.state == "sent"),
        "{:?}",
        all.iter().find(|r| r.state != "sent")
    );
    let per_id = sink.per_message_id(&all);
    assert_eq!(per_id.len(), all.len(), "nobody skipped");
    assert!(per_id.values().all(|n| *n == 1), "nobody mailed twice");
}

/// The `kakari` binary on the test's database, sending to the sink.
fn kakari_process(setup: &Setup, args: &[&str], extra_env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kakari"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KAKARI_DATA_DIR", &setup.settings.data_dir)
        .env("DATABASE_URL", &setup.db.url)
        .env("KAKARI_LOG", "warn")
        .env("KAKARI_PUBLIC_URL", "https://kakari.pref.example.jp")
        .env("KAKARI_MAIL_FROM", "鹿児島県 <iryo@pref.example.jp>")
        .env("KAKARI_MAIL_RATE", "0")
        .env("KAKARI_MAIL_TIMEOUT_SECONDS", "1")
        .env("KAKARI_MAIL_RETRY_SECONDS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = &setup.settings.mail.smtp_url {
        cmd.env("KAKARI_SMTP_URL", url);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "not done after {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every row reached the server at least once; a second copy only where the row says
/// it was resent after a crash.
fn assert_nobody_skipped_and_duplicates_marked(
    conn: &mut DbConnection,
    sink: &Sink,
    id: i32,
) -> usize {
    let all = rows(conn, id);
    let per_id = sink.per_message_id(&all);
    let mut duplicates = 0;
    for row in &all {
        assert_eq!(row.state, "sent", "{row:?}");
        let n = per_id
            .iter()
            .filter(|(mid, _)| {
                kakari::domain::mail::row_of_message_id(mid) == Some(i64::from(row.id))
            })
            .map(|(_, n)| *n)
            .sum::<usize>();
        assert!(n >= 1, "row {} never reached the server", row.id);
        if n > 1 {
            assert!(
                row.resent_after_crash,
                "row {} sent {n} times but not marked",
                row.id
            );
            duplicates += n - 1;
        }
    }
    duplicates
}

#[test]
fn killing_the_server_mid_campaign_skips_nobody_and_marks_the_only_duplicates() {
    let sink = Sink::start(&["--delay", "0.02"]);
    let setup = setup(300, Some(&sink));
    let id = broadcast(&setup, TemplateKey::Guidance, Audience::Targets, vec![]);
    let total = rows(&mut setup.pool.get().unwrap(), id).len();
    assert!(total > 150, "{total}");
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut first = kakari_process(&setup, &["serve", "--bind", &bind], &[]);
    wait_until(Duration::from_secs(60), || {
        sink.received().len() >= total / 3
    });
    first.kill().unwrap();
    first.wait().unwrap();
    let conn = &mut *setup.pool.get().unwrap();
    let in_flight = rows(conn, id)
        .iter()
        .filter(|r| r.state == "sending")
        .count();
    let before = sink.received().len();
    assert!(before < total, "killed before the end");
    let mut second = kakari_process(&setup, &["serve", "--bind", &bind], &[]);
    wait_until(Duration::from_secs(120), || {
        campaign_state(conn, id).0 == "finished"
    });
    second.kill().unwrap();
    second.wait().unwrap();
    let duplicates = assert_nobody_skipped_and_duplicates_marked(conn, &sink, id);
    assert!(in_flight > 0, "the kill left rows claimed");
    // Exactly the rows held at the kill were taken back, and only they may be doubled.
    let marked = rows(conn, id)
        .iter()
        .filter(|r| r.resent_after_crash)
        .count();
    assert_eq!(marked, in_flight);
    assert!(
        duplicates <= in_flight,
        "{duplicates} duplicates, {in_flight} rows were in flight"
    );
}

#[test]
fn two_worker_processes_never_send_a_row_twice() {
    let sink = Sink::start(&["--delay", "0.005"]);
    let setup = setup(300, Some(&sink));
    let id = broadcast(&setup, TemplateKey::Guidance, Audience::Targets, vec![]);
    let total = rows(&mut setup.pool.get().unwrap(), id).len();
    let mut workers = [
        kakari_process(&setup, &["mail", "worker"], &[]),
        kakari_process(&setup, &["mail", "worker"], &[]),
    ];
    let conn = &mut *setup.pool.get().unwrap();
    wait_until(Duration::from_secs(120), || {
        campaign_state(conn, id).0 == "finished"
    });
    for w in &mut workers {
        w.kill().unwrap();
        w.wait().unwrap();
    }
    let per_id = sink.per_message_id(&rows(conn, id));
    assert_eq!(per_id.len(), total);
    assert!(per_id.values().all(|n| *n == 1), "a row was sent twice");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_server_that_never_answers_times_out_and_the_web_stays_responsive() {
    let sink = Sink::start(&["--hang"]);
    let mut setup = setup(60, Some(&sink));
    setup.settings.mail.timeout = chrono::Duration::seconds(1);
    let chosen: Vec<i32> = {
        let conn = &mut *setup.pool.get().unwrap();
        institutions::table
            .filter(institutions::is_target.eq(true))
            .filter(institutions::email.is_not_null())
            .select(institutions::id)
            .limit(2)
            .load(conn)
            .unwrap()
    };
    let id = broadcast(&setup, TemplateKey::Guidance, Audience::Chosen, chosen);
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut server = kakari_process(&setup, &["serve", "--bind", &bind], &[]);
    let conn = &mut *setup.pool.get().unwrap();
    let health = format!("http://{bind}/health");
    wait_until(Duration::from_secs(30), || {
        reqwest::blocking::get(&health).is_ok()
    });
    // While the worker waits on the silent server, pages answer at once.
    wait_until(Duration::from_secs(30), || {
        let start = Instant::now();
        let ok = reqwest::blocking::get(format!("http://{bind}/login"))
            .unwrap()
            .status()
            == 200;
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        ok && rows(conn, id).iter().any(|r| r.state == "retry")
    });
    server.kill().unwrap();
    server.wait().unwrap();
    let retried = rows(conn, id)
        .into_iter()
        .find(|r| r.state == "retry")
        .unwrap();
    let answer = retried.last_answer.unwrap();
    assert!(answer.contains("タイムアウト"), "{answer}");
}

/// A bounce as Postfix writes it; `headers` returns the original's headers (with our
/// Message-ID) or, when false, only the envelope.
fn dsn(message_id: &str, recipient: &str, headers: bool) -> String {
    let returned = if headers {
        format!(
            "--B1\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {message_id}\r\nTo: {recipient}\r\n\r\n"
        )
    } else {
        String::new()
    };
    format!(
        "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.jp\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\r\n\r\n\
         --B1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system.\r\n\r\n\
         --B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.jp\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown\r\n\r\n\
         {returned}--B1--\r\n"
    )
}

#[test]
fn bounces_mark_the_message_and_flag_the_address_and_a_stray_file_changes_nothing() {
    let sink = Sink::start(&[]);
    let setup = setup(60, Some(&sink));
    let chosen: Vec<i32> = {
        let conn = &mut *setup.pool.get().unwrap();
        institutions::table
            .filter(institutions::is_target.eq(true))
            .filter(institutions::email.is_not_null())
            .order(institutions::id)
            .select(institutions::id)
            .limit(3)
            .load(conn)
            .unwrap()
    };
    let id = broadcast(&setup, TemplateKey::Guidance, Audience::Chosen, chosen);
    drain(&setup, Duration::from_secs(30), finished(id));
    let conn = &mut *setup.pool.get().unwrap();
    let sent = rows(conn, id);
    let received = sink.of_rows(&sent);
    let by_id = |row: &Row| {
        received
            .iter()
            .find(|m| {
                kakari::domain::mail::row_of_message_id(m["message_id"].as_str().unwrap())
                    == Some(i64::from(row.id))
            })
            .unwrap()["message_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // An mbox: one bounce naming our Message-ID, one naming only the address, and an
    // ordinary message.
    let mbox = format!(
        "From MAILER-DAEMON Sun Jan 10 09:00:00 2027\n{}\nFrom MAILER-DAEMON Sun Jan 10 09:01:00 2027\n{}\nFrom someone Sun Jan 10 09:02:00 2027\nFrom: a@b.jp\r\nSubject: hi\r\n\r\nhello\r\n",
        dsn(&by_id(&sent[0]), &sent[0].to_address, true),
        dsn("<unknown@elsewhere>", &sent[1].to_address, false),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bounces.mbox");
    std::fs::write(&file, &mbox).unwrap();
    let out = kakari_process(&setup, &["mail", "bounces", file.to_str().unwrap()], &[])
        .wait_with_output()
        .unwrap();
    assert!(out.status.success());
    let after = rows(conn, id);
    for row in &after[..2] {
        assert_eq!(row.state, "bounced", "{row:?}");
        let answer = row.last_answer.as_deref().unwrap();
        assert!(
            answer.contains("宛先のメールアドレスがありません") && answer.contains("User unknown"),
            "{answer}"
        );
        let reason: Option<String> = institutions::table
            .find(row.institution_id.unwrap())
            .select(institutions::email_bounce_reason)
            .first(conn)
            .unwrap();
        assert!(reason.unwrap().contains("5.1.1"));
    }
    assert_eq!(after[2].state, "sent");
    let view = service::campaign(conn, Scope::All, id).unwrap();
    assert_eq!((view.tally.sent, view.tally.bounced), (1, 2));
    // A file with no bounce in it is refused with the reason and changes nothing.
    let stray = dir.path().join("note.eml");
    std::fs::write(&stray, "From: a@b.jp\r\nSubject: hi\r\n\r\nhello\r\n").unwrap();
    let by = By::System {
        name: "test",
        scope: prefecture(conn),
    };
    let refused = kakari::services::mail::bounces::apply(
        conn,
        by,
        "note.eml",
        &std::fs::read(&stray).unwrap(),
    );
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains("不達のお知らせが見つかりません"),
        "{message}"
    );
    assert_eq!(rows(conn, id)[2].state, "sent");
}

#[test]
fn officers_get_one_morning_digest_of_what_came_in() {
    let sink = Sink::start(&[]);
    let setup = setup(60, Some(&sink));
    let conn = &mut *setup.pool.get().unwrap();
    diesel::update(users::table.filter(users::login_id.eq("demo-officer")))
        .set(users::email.eq("officer@pref.example.jp"))
        .execute(conn)
        .unwrap();
    // The demo clinic resubmits its sent-back report now.
    let (clinic_user, institution) = demo_clinic(conn);
    resubmit_demo_clinic(conn, clinic_user, institution);
    let name: String = institutions::table
        .find(institution)
        .select(institutions::name)
        .first(conn)
        .unwrap();
    // The first morning after the submission: before eight (JST) nothing is queued;
    // after it, one digest a day.
    let submitted_jst =
        kakari::domain::wareki::to_jst(chrono::Utc::now().naive_utc()).naive_local();
    let morning = if submitted_jst.time() < chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap() {
        submitted_jst.date()
    } else {
        submitted_jst.date() + chrono::Days::new(1)
    };
    let at = |h: u32| morning.and_hms_opt(h, 30, 0).unwrap() - chrono::Duration::hours(9);
    use kakari::services::mail::digest::queue_due;
    assert_eq!(queue_due(conn, at(7), 8).unwrap(), 0);
    assert_eq!(queue_due(conn, at(8), 8).unwrap(), 1);
    assert_eq!(queue_due(conn, at(9), 8).unwrap(), 0, "once a day");
    drain(&setup, Duration::from_secs(30), |conn| {
        mail_outbox::table
            .filter(mail_outbox::template_key.eq("officer_digest"))
            .filter(mail_outbox::state.eq("sent"))
            .count()
            .get_result::<i64>(conn)
            .unwrap()
            == 1
    });
    let digest = sink
        .received()
        .into_iter()
        .find(|m| m["rcpt_tos"][0] == "officer@pref.example.jp")
        .unwrap();
    let subject = digest["subject"].as_str().unwrap();
    // The demo season's own activity of that day is in it too.
    assert!(subject.contains("の新着（報告 "), "{subject}");
    let body = digest["body"].as_str().unwrap();
    assert!(body.contains(&name), "{body}");
    assert!(
        body.contains("https://kakari.pref.example.jp/review/news"),
        "{body}"
    );
}

#[test]
fn a_scheduled_campaign_waits_for_its_time_and_one_long_overdue_waits_for_an_officer() {
    let sink = Sink::start(&[]);
    let setup = setup(20, Some(&sink));
    let now = chrono::Utc::now().naive_utc();
    let later = now + chrono::Duration::hours(2);
    let on_time = broadcast_at(
        &setup,
        TemplateKey::Guidance,
        Audience::Targets,
        vec![],
        Some(later),
    );
    let missed = broadcast_at(
        &setup,
        TemplateKey::Reminder,
        Audience::Unreported,
        vec![],
        Some(later),
    );
    let conn = &mut *setup.pool.get().unwrap();
    assert_eq!(campaign_state(conn, on_time).0, "scheduled");
    // Before its time nothing goes out.
    let worker = Worker::new(setup.pool.clone(), &setup.settings);
    let transport =
        Transport::from_settings(&setup.settings.mail, &setup.settings.data_dir).unwrap();
    // (A step may send the officers' morning digest; the campaigns' rows stay queued.)
    worker.step(conn, &transport, "test-worker").unwrap();
    assert_eq!(campaign_state(conn, on_time).0, "scheduled");
    let queued = |rows: Vec<Row>| rows.iter().all(|r| r.state == RowState::Queued.code());
    assert!(queued(rows(conn, on_time)));
    // No worker ran while the times passed: one by ten minutes (within the 30-minute
    // grace), the other by three hours.
    let set_time = |conn: &mut DbConnection, id: i32, at: chrono::NaiveDateTime| {
        diesel::update(mail_campaigns::table.find(id))
            .set(mail_campaigns::scheduled_at.eq(at))
            .execute(conn)
            .unwrap();
        diesel::update(mail_outbox::table.filter(mail_outbox::campaign_id.eq(id)))
            .set(mail_outbox::next_attempt_at.eq(at))
            .execute(conn)
            .unwrap();
    };
    set_time(conn, on_time, now - chrono::Duration::minutes(10));
    set_time(conn, missed, now - chrono::Duration::hours(3));
    worker.step(conn, &transport, "test-worker").unwrap();
    let (state, reason) = campaign_state(conn, missed);
    assert_eq!(state, "overdue");
    assert!(reason.unwrap().contains("担当者の確認を待っています"));
    drain(&setup, Duration::from_secs(30), finished(on_time));
    let sent = |rows: Vec<Row>| rows.iter().all(|r| r.state == RowState::Sent.code());
    assert!(sent(rows(conn, on_time)));
    worker.step(conn, &transport, "test-worker").unwrap();
    assert!(
        queued(rows(conn, missed)),
        "the overdue one sends nothing by itself"
    );
    // An officer confirms it (「今から配信する」) and it goes out.
    let scope = prefecture(conn);
    let by = By::System {
        name: "test",
        scope,
    };
    service::change(conn, by, missed, Change::Resume).unwrap();
    drain(&setup, Duration::from_secs(30), finished(missed));
    assert!(sent(rows(conn, missed)));
    let campaigns = rows(conn, on_time).len() + rows(conn, missed).len();
    assert!(sink.received().len() >= campaigns);
}
