//! The demo season (what `kakari demo` and `serve --demo` show by default) obeys the
//! rules a clinic's filing obeys, and kept figures agree across server processes.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use kakari::db::schema::{audit_log, institutions, ndb_counts, report_memos, reports};
use kakari::domain::catalog::{Catalog, shipped};
use kakari::domain::report::Status;
use reqwest::blocking::Client;

use crate::reports::{fiscal_year, location};
use crate::support::{DEMO_PASSWORD, TestApp, client, csrf_of};

pub(crate) fn with_season() -> TestApp {
    TestApp::spawn_with(|conn| {
        kakari::demo::load(conn, 400, 1, false, DEMO_PASSWORD).unwrap();
        kakari::demo::season(conn, fiscal_year(), 1).unwrap();
    })
}

/// Every demo report that was filed (報告済, 差戻し, 再報告済, 確認済) passes the checks
/// of 報告 with the catalog it was filed with, so an officer who sends one back leaves a
/// report the clinic can resubmit; every status occurs; NDB counts are there for both
/// years with a real spread, and each report carries its institution's as pre-printed.
#[test]
fn demo_season_obeys_the_filing_rules() {
    let app = with_season();
    let conn = &mut *app.db.conn();
    let fy = fiscal_year();
    let rows: Vec<(i32, i32, String, String, String, String)> = reports::table
        .inner_join(institutions::table)
        .select((
            reports::id,
            reports::fiscal_year,
            reports::status,
            reports::answers,
            reports::ndb,
            institutions::code,
        ))
        .load(conn)
        .unwrap();
    let catalogs: HashMap<i32, Catalog> = [fy - 1, fy]
        .into_iter()
        .map(|y| (y, Catalog::parse(shipped(y).unwrap()).unwrap()))
        .collect();
    let mut statuses: BTreeMap<(i32, String), usize> = BTreeMap::new();
    let mut checked = 0;
    for (id, year, status, answers, _, _) in &rows {
        *statuses.entry((*year, status.clone())).or_default() += 1;
        if status == Status::Draft.code() {
            continue;
        }
        let answers: kakari::domain::determination::Answers =
            serde_json::from_str(answers).unwrap();
        let problems = kakari::domain::determination::validate(&catalogs[year], &answers);
        assert!(problems.is_empty(), "report {id} ({status}): {problems:?}");
        checked += 1;
    }
    assert!(checked > 300, "{checked} filed reports checked");
    for status in Status::ALL {
        assert!(
            statuses.contains_key(&(fy, status.code().to_string())),
            "{status:?} missing this year: {statuses:?}"
        );
    }
    assert_eq!(
        statuses.keys().filter(|(y, _)| *y == fy - 1).count(),
        1,
        "last year all confirmed: {statuses:?}"
    );

    let counts: Vec<(i32, String, String, i64)> = ndb_counts::table
        .select((
            ndb_counts::fiscal_year,
            ndb_counts::institution_code,
            ndb_counts::item_key,
            ndb_counts::count,
        ))
        .load(conn)
        .unwrap();
    for year in [fy - 1, fy] {
        let of_year: Vec<i64> = counts.iter().filter(|c| c.0 == year).map(|c| c.3).collect();
        let zeros = of_year.iter().filter(|c| **c == 0).count();
        let small = of_year.iter().filter(|c| (1..10).contains(*c)).count();
        let large = of_year.iter().filter(|c| **c >= 100).count();
        assert!(
            zeros > of_year.len() / 4 && small > of_year.len() / 5 && large > 0,
            "FY{year}: {zeros} zeros, {small} 1–9, {large} ≥100 of {}",
            of_year.len()
        );
    }
    let mut by_institution: HashMap<(i32, &str), BTreeMap<&str, i64>> = HashMap::new();
    for (year, code, key, count) in &counts {
        by_institution
            .entry((*year, code.as_str()))
            .or_default()
            .insert(key.as_str(), *count);
    }
    // Pre-printed as a clinic's draft is: the item's answer is its NDB count, and the
    // report keeps the printed value (by item code) to show what the clinic changed.
    for (id, year, _, answers, ndb, code) in &rows {
        let carried: BTreeMap<String, i64> = serde_json::from_str(ndb).unwrap();
        let answers: BTreeMap<String, serde_json::Value> = serde_json::from_str(answers).unwrap();
        let counts = &by_institution[&(*year, code.as_str())];
        let expected: BTreeMap<String, i64> = catalogs[year]
            .items
            .iter()
            .filter(|i| i.kind == kakari::domain::catalog::Kind::Count)
            .filter_map(|i| Some((i.code.clone(), *counts.get(i.ndb_key.as_deref()?)?)))
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(carried, expected, "report {id}");
        for (item, count) in &expected {
            assert_eq!(
                answers.get(item).and_then(|v| v.as_i64()),
                Some(*count),
                "report {id}"
            );
        }
    }
}

/// The demo clinic's own report was filed, sent back and discussed through the same
/// services as a user's: the clinic sees the reason and two memos (not the officer's
/// internal one), and the prefecture administrator sees the send-back in 操作履歴.
#[test]
fn demo_clinic_report_is_sent_back_with_memos() {
    let app = with_season();
    let clinic = crate::reports::clinic_institution(&app);
    let conn = &mut *app.db.conn();
    let (id, status, reason): (i32, String, Option<String>) = reports::table
        .filter(reports::institution_id.eq(clinic))
        .filter(reports::fiscal_year.eq(fiscal_year()))
        .select((reports::id, reports::status, reports::return_reason))
        .first(conn)
        .unwrap();
    assert_eq!(status, Status::Returned.code());
    assert!(reason.unwrap_or_default().contains("連携する医療機関"));
    let memos: Vec<bool> = report_memos::table
        .filter(report_memos::report_id.eq(id))
        .select(report_memos::internal)
        .load(conn)
        .unwrap();
    assert_eq!(memos, vec![false, false, true]);

    let c = app.signed_in("demo-clinic");
    let (code, html) = crate::reports::page(&c, &app, &format!("/reports/{id}"));
    assert_eq!(code, 200);
    assert!(html.contains("連携する医療機関"), "{html}");
    assert!(html.contains("両方ご記入ください") && !html.contains("電話で確認済"));

    let admin = app.signed_in("demo-admin");
    let (code, html) = crate::reports::page(&admin, &app, "/admin/audit?action=report_send_back");
    assert_eq!(code, 200);
    assert!(html.contains(&format!("report #{id}")), "{html}");
    let entries: i64 = audit_log::table
        .filter(audit_log::action.eq("ndb_import"))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(entries, 2, "one NDB import a year");
}

fn sign_in(base: &str, login: &str) -> Client {
    let c = client();
    let page = c
        .get(format!("{base}/login"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let res = c
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("login_id", login),
            ("password", DEMO_PASSWORD),
            ("next", "/"),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    c
}

/// The count shown for a status on the review search.
fn shown_count(c: &Client, base: &str, status: &str) -> i64 {
    let fy = fiscal_year();
    let html = c
        .get(format!("{base}/review?fy={fy}&status=awaiting"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let marker = format!("id=\"count-{status}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let strong = html[start..].find("<strong>").unwrap() + start + "<strong>".len();
    let end = html[strong..].find("</strong>").unwrap() + strong;
    html[strong..end].replace(',', "").parse().unwrap()
}

/// 一括確認 of every report awaiting review this year, as an officer does it: preview,
/// then commit.
pub(crate) fn bulk_confirm_all(c: &Client, base: &str) {
    let fy = fiscal_year().to_string();
    let page = c
        .get(format!("{base}/review"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let res = c
        .post(format!("{base}/review/bulk"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("fy", fy.as_str()),
            ("status", "awaiting"),
            ("which", "all"),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    let bulk = location(&res);
    let page = c
        .get(format!("{base}{bulk}"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let res = c
        .post(format!("{base}{bulk}/commit"))
        .form(&[("csrf", csrf_of(&page).as_str())])
        .send()
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
}

/// 確認済 on the officer home page.
fn home_confirmed(c: &Client, base: &str) -> i64 {
    let html = c.get(format!("{base}/")).send().unwrap().text().unwrap();
    let marker = "id=\"home-confirmed\">";
    let start = html.find(marker).unwrap_or_else(|| panic!("{html}")) + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    html[start..end].replace(',', "").parse().unwrap()
}

/// Two server processes on one database: figures one keeps are dropped the moment a
/// change commits through the other (the change counters), not 30 s later.
#[test]
fn two_servers_show_the_same_counts_right_after_a_change() {
    let app = with_season();
    let other = app.sibling();
    let here = sign_in(&app.base, "demo-officer");
    let there = sign_in(&other.base, "demo-officer");
    let before = shown_count(&here, &app.base, "confirmed");
    assert_eq!(shown_count(&there, &other.base, "confirmed"), before);
    assert_eq!(home_confirmed(&here, &app.base), before);

    bulk_confirm_all(&there, &other.base);

    let after = shown_count(&there, &other.base, "confirmed");
    assert!(after > before, "{before} → {after}");
    assert_eq!(shown_count(&here, &app.base, "confirmed"), after);
    assert_eq!(shown_count(&here, &app.base, "submitted"), 0);
    assert_eq!(
        home_confirmed(&here, &app.base),
        after,
        "the officer home (件数集計)"
    );
}
