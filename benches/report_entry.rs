//! Load benchmark of report entry (issue: annual report entry): many clinics saving
//! sections and submitting at once against a running server.
//!
//! Run through `scripts/bench-reports`, which builds the data (demo generator with
//! clinic users), starts `kakari serve` and passes:
//!   KAKARI_BENCH_URL   base URL of the server
//!   KAKARI_BENCH_USERS number of concurrent clinics (demo-clinic-0001…)
//!   KAKARI_BENCH_PASSWORD, KAKARI_BENCH_SECONDS
//!   KAKARI_BENCH_THINK_MS  pause of each clinic after each save or submit (0: flat out)
//! Each clinic signs in, starts its report, then loops: every section saved with
//! 入力完了, the report submitted, pulled back. Only the save and submit POSTs are
//! timed (the GETs that read the form's token and revision are not).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark stops when its setup fails"
)]

use std::time::{Duration, Instant};

use kakari::domain::catalog::{Catalog, Kind, shipped};
use reqwest::blocking::Client;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    let to = html[from..].find(end)? + from;
    Some(&html[from..to])
}

fn form_state(html: &str) -> (String, String) {
    (
        between(html, "name=\"csrf\" value=\"", "\"")
            .unwrap_or_default()
            .to_string(),
        between(html, "name=\"rev\" value=\"", "\"")
            .unwrap_or_default()
            .to_string(),
    )
}

fn answers(catalog: &Catalog, section: &str) -> Vec<(String, String)> {
    catalog
        .items
        .iter()
        .filter(|i| i.section == section)
        .filter_map(|item| {
            let yes = item
                .yes
                .first()
                .copied()
                .or(item.choices.first().map(|c| c.code));
            let value = match item.kind {
                Kind::Choice | Kind::Multi => yes?.to_string(),
                Kind::Count => "12".into(),
                Kind::Decimal1 => "1.5".into(),
                Kind::Text => "ベンチマーク".into(),
                Kind::Names => "協力病院".into(),
            };
            Some((item.code.clone(), value))
        })
        .collect()
}

struct Timings {
    saves: Vec<f64>,
    submits: Vec<f64>,
    errors: usize,
}

fn clinic(
    think: Duration,
    base: &str,
    login: &str,
    password: &str,
    fy: i32,
    until: Instant,
    catalog: &Catalog,
) -> Timings {
    let mut t = Timings {
        saves: Vec::new(),
        submits: Vec::new(),
        errors: 0,
    };
    let c = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let get = |path: &str| {
        c.get(format!("{base}{path}"))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default()
    };
    let login_page = get("/login");
    let (csrf, _) = form_state(&login_page);
    let res = c
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login_id", login),
            ("password", password),
            ("next", "/"),
        ])
        .send();
    if res.map(|r| r.status().as_u16()).ok() != Some(303) {
        eprintln!("{login}: sign-in failed");
        t.errors += 1;
        return t;
    }
    let home = get("/");
    let Some(institution) = between(&home, "/institutions/", "/reports").map(str::to_string) else {
        t.errors += 1;
        return t;
    };
    let start = format!("/institutions/{institution}/reports/{fy}/start");
    let (csrf, _) = form_state(&get(&format!("{start}?kind=periodic")));
    let report = c
        .post(format!("{base}{start}"))
        .form(&[("csrf", csrf.as_str()), ("kind", "periodic"), ("skip", "1")])
        .send()
        .ok()
        .and_then(|r| {
            r.headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .map(str::to_string)
        });
    let Some(report) = report else {
        t.errors += 1;
        return t;
    };
    while Instant::now() < until {
        for section in &catalog.sections {
            let path = format!("{report}/sections/{}", section.id);
            let (csrf, rev) = form_state(&get(&path));
            let mut fields = vec![
                ("csrf".to_string(), csrf),
                ("rev".to_string(), rev),
                ("action".to_string(), "complete".to_string()),
            ];
            fields.extend(answers(catalog, &section.id));
            let started = Instant::now();
            let ok = c
                .post(format!("{base}{path}"))
                .form(&fields)
                .send()
                .map(|r| r.status().as_u16() == 303);
            t.saves.push(started.elapsed().as_secs_f64() * 1000.0);
            std::thread::sleep(think);
            if ok.ok() != Some(true) {
                t.errors += 1;
            }
        }
        let (csrf, rev) = form_state(&get(&format!("{report}/submit")));
        let started = Instant::now();
        let ok = c
            .post(format!("{base}{report}/submit"))
            .form(&[("csrf", csrf.as_str()), ("rev", rev.as_str())])
            .send()
            .map(|r| r.status().as_u16() == 303);
        t.submits.push(started.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(think);
        if ok.ok() != Some(true) {
            t.errors += 1;
        }
        let (csrf, rev) = form_state(&get(&report));
        let _ = c
            .post(format!("{base}{report}/pullback"))
            .form(&[("csrf", csrf.as_str()), ("rev", rev.as_str())])
            .send();
    }
    t
}

fn summary(name: &str, mut v: Vec<f64>) {
    if v.is_empty() {
        println!("{name}: no samples");
        return;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    println!(
        "{name}: n={} median {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        v.len(),
        at(0.5),
        at(0.95),
        at(0.99),
        v[v.len() - 1]
    );
}

fn main() {
    // `cargo bench` passes --bench; without the server settings there is nothing to do.
    let Ok(base) = std::env::var("KAKARI_BENCH_URL") else {
        println!("report_entry: set KAKARI_BENCH_URL (run scripts/bench-reports)");
        return;
    };
    let users: usize = env("KAKARI_BENCH_USERS", "50").parse().unwrap_or(50);
    let seconds: u64 = env("KAKARI_BENCH_SECONDS", "30").parse().unwrap_or(30);
    let password = env("KAKARI_BENCH_PASSWORD", "");
    let fy: i32 = env("KAKARI_BENCH_FY", "2026").parse().unwrap_or(2026);
    let catalog = Catalog::parse(shipped(fy).expect("catalog")).expect("catalog");
    let think = Duration::from_millis(env("KAKARI_BENCH_THINK_MS", "0").parse().unwrap_or(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let results: Vec<Timings> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..=users)
            .map(|n| {
                let (base, password, catalog) = (&base, &password, &catalog);
                s.spawn(move || {
                    clinic(
                        think,
                        base,
                        &format!("demo-clinic-{n:04}"),
                        password,
                        fy,
                        until,
                        catalog,
                    )
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let errors: usize = results.iter().map(|r| r.errors).sum();
    let saves: Vec<f64> = results.iter().flat_map(|r| r.saves.clone()).collect();
    let submits: Vec<f64> = results.iter().flat_map(|r| r.submits.clone()).collect();
    println!(
        "{users} concurrent clinics, {seconds} s, think {} ms, errors {errors}",
        think.as_millis()
    );
    summary("section save (入力完了)", saves);
    summary("submit (報告)", submits);
}
