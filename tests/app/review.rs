//! The prefecture's review over HTTP: every status × action, scope, bulk confirmation
//! with a resubmission between preview and commit, memos, counts and charts.

use diesel::prelude::*;
use kakari::db::schema::{audit_log, institutions, report_memos, reports, users};
use reqwest::blocking::Client;

use crate::reports::{
    clinic_institution, fill_everything, location, page, report_id, rev_of, start,
};
use crate::support::{TestApp, csrf_of};

/// Files and submits a complete report for `institution` as `who`; returns its path.
pub(crate) fn submitted(app: &TestApp, who: &Client, institution: i32) -> String {
    let report = location(&start(app, who, institution, ""));
    fill_everything(app, who, &report);
    let (_, confirm) = page(who, app, &format!("{report}/submit"));
    let res = who
        .post(app.url(&format!("{report}/submit")))
        .form(&[("csrf", csrf_of(&confirm)), ("rev", rev_of(&confirm))])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    report
}

/// The first `n` reporting targets of the demo, by id.
fn first_targets(app: &TestApp, n: i64) -> Vec<i32> {
    institutions::table
        .filter(institutions::is_target.eq(true))
        .order(institutions::id)
        .limit(n)
        .select(institutions::id)
        .load(&mut *app.db.conn())
        .unwrap()
}

fn status(app: &TestApp, id: i32) -> String {
    reports::table
        .find(id)
        .select(reports::status)
        .first(&mut *app.db.conn())
        .unwrap()
}

fn post(
    app: &TestApp,
    c: &Client,
    page_path: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::blocking::Response {
    app.post_form(c, page_path, action, fields)
}

/// The report's current revision (what a freshly opened page carries).
fn review_rev(app: &TestApp, _c: &Client, id: i32) -> String {
    let rev: i32 = reports::table
        .find(id)
        .select(reports::revision)
        .first(&mut *app.db.conn())
        .unwrap();
    rev.to_string()
}

#[test]
fn confirm_send_back_resubmit_and_illegal_transitions() {
    let app = TestApp::with_demo();
    let clinic = app.signed_in("demo-clinic");
    let officer = app.signed_in("demo-officer");
    let institution = clinic_institution(&app);
    let draft = location(&start(&app, &clinic, institution, ""));
    let id = report_id(&draft);
    let detail = format!("/review/reports/{id}");

    // A draft can be neither confirmed nor sent back.
    let (_, html) = page(&officer, &app, &detail);
    assert!(html.contains("確認・差戻しできません"));
    let res = post(
        &app,
        &officer,
        &detail,
        &format!("{detail}/confirm"),
        &[("rev", "0"), ("structure", "1")],
    );
    assert_eq!(res.status(), 409);
    assert!(
        res.text()
            .unwrap()
            .contains("「一時保存」の報告は確認できません")
    );
    let res = post(
        &app,
        &officer,
        &detail,
        &format!("{detail}/sendback"),
        &[("rev", "0"), ("reason", "x")],
    );
    assert_eq!(res.status(), 409);
    assert_eq!(status(&app, id), "draft");

    // Submitted: send back needs a reason; HTML in it is shown as text.
    fill_everything(&app, &clinic, &draft);
    let (_, confirm) = page(&clinic, &app, &format!("{draft}/submit"));
    clinic
        .post(app.url(&format!("{draft}/submit")))
        .form(&[("csrf", csrf_of(&confirm)), ("rev", rev_of(&confirm))])
        .send()
        .unwrap();
    assert_eq!(status(&app, id), "submitted");
    let rev = review_rev(&app, &officer, id);
    let res = post(
        &app,
        &officer,
        &detail,
        &format!("{detail}/sendback"),
        &[("rev", &rev), ("reason", "  ")],
    );
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .unwrap()
            .contains("差戻しの理由を入力してください")
    );
    let reason = "<b>2イ-5</b> の回数をご確認ください";
    let res = post(
        &app,
        &officer,
        &detail,
        &format!("{detail}/sendback"),
        &[("rev", &rev), ("reason", reason)],
    );
    assert_eq!(res.status(), 303);
    assert_eq!(status(&app, id), "returned");
    // The same form again (stale revision, and no longer 報告済): refused.
    let res = post(
        &app,
        &officer,
        &detail,
        &format!("{detail}/sendback"),
        &[("rev", &rev), ("reason", reason)],
    );
    assert_eq!(res.status(), 409);

    // The clinic sees the reason on its home page and in its report, escaped.
    let (_, home) = page(&clinic, &app, "/");
    assert!(
        home.contains("&lt;b&gt;2イ-5&lt;&#x2F;b&gt;") || home.contains("&lt;b&gt;2イ-5&lt;/b&gt;"),
        "{home}"
    );
    let (_, overview) = page(&clinic, &app, &draft);
    assert!(overview.contains("id=\"return-reason\""));
    // A returned report cannot be confirmed or pulled back; the clinic edits and resubmits.
    let rev = review_rev(&app, &officer, id);
    let res = post(
        &app,
        &officer,
        &detail,
        &format!("{detail}/confirm"),
        &[("rev", &rev), ("structure", "1")],
    );
    assert_eq!(res.status(), 409);
    let res = post(
        &app,
        &clinic,
        &draft,
        &format!("{draft}/pullback"),
        &[("rev", &rev)],
    );
    assert_eq!(res.status(), 409);
    let res = crate::reports::save(
        &app,
        &clinic,
        &draft,
        "1",
        &crate::reports::full_answers(&crate::reports::catalog(), "1"),
        "complete",
    );
    assert_eq!(res.status(), 303);
    let (_, confirm) = page(&clinic, &app, &format!("{draft}/submit"));
    clinic
        .post(app.url(&format!("{draft}/submit")))
        .form(&[("csrf", csrf_of(&confirm)), ("rev", rev_of(&confirm))])
        .send()
        .unwrap();
    assert_eq!(status(&app, id), "resubmitted");

    // 2号 有り: confirming needs 体制確認.
    let rev = review_rev(&app, &officer, id);
    let res = post(
        &app,
        &officer,
        &detail,
        &format!("{detail}/confirm"),
        &[("rev", &rev)],
    );
    assert_eq!(res.status(), 422);
    assert!(res.text().unwrap().contains("体制確認"));
    let res = post(
        &app,
        &officer,
        &detail,
        &format!("{detail}/confirm"),
        &[("rev", &rev), ("structure", "1")],
    );
    assert_eq!(res.status(), 303);
    assert_eq!(status(&app, id), "confirmed");
    let structure: Option<chrono::NaiveDateTime> = reports::table
        .find(id)
        .select(reports::structure_confirmed_at)
        .first(&mut *app.db.conn())
        .unwrap();
    assert!(structure.is_some());
    // Confirmed: no send-back, no pull-back, no second confirmation.
    let rev = review_rev(&app, &officer, id);
    for (who, action, fields) in [
        (
            &officer,
            format!("{detail}/sendback"),
            vec![("rev", rev.as_str()), ("reason", "x")],
        ),
        (
            &officer,
            format!("{detail}/confirm"),
            vec![("rev", rev.as_str()), ("structure", "1")],
        ),
        (
            &clinic,
            format!("{draft}/pullback"),
            vec![("rev", rev.as_str())],
        ),
    ] {
        let res = post(&app, who, "/", &action, &fields);
        assert_eq!(res.status(), 409, "{action}");
    }
    let audited: i64 = audit_log::table
        .filter(audit_log::action.eq_any(["report_confirm", "report_send_back"]))
        .count()
        .get_result(&mut *app.db.conn())
        .unwrap();
    assert_eq!(audited, 2);
    app.db.assert_review_index();
}

#[test]
fn scope_is_enforced_and_forged_ids_are_ignored() {
    let app = TestApp::with_demo();
    let officer = app.signed_in("demo-officer");
    let area = app.signed_in("demo-area");
    let clinic = app.signed_in("demo-clinic");
    let area_id: Option<i32> = users::table
        .filter(users::login_id.eq("demo-area"))
        .select(users::area_id)
        .first(&mut *app.db.conn())
        .unwrap();
    let outside: i32 = institutions::table
        .filter(institutions::is_target.eq(true))
        .filter(institutions::jurisdiction_id.ne(area_id.unwrap()))
        .select(institutions::id)
        .first(&mut *app.db.conn())
        .unwrap();
    let report = submitted(&app, &officer, outside);
    let id = report_id(&report);
    let detail = format!("/review/reports/{id}");
    assert_eq!(page(&area, &app, &detail).0, 404);
    let res = post(
        &app,
        &area,
        "/review",
        &format!("{detail}/confirm"),
        &[("rev", "1"), ("structure", "1")],
    );
    assert_eq!(res.status(), 404);
    let res = post(
        &app,
        &area,
        "/review",
        &format!("{detail}/sendback"),
        &[("rev", "1"), ("reason", "x")],
    );
    assert_eq!(res.status(), 404);
    assert_eq!(page(&clinic, &app, "/review").0, 403);
    assert_eq!(page(&clinic, &app, &detail).0, 403);
    assert_eq!(status(&app, id), "submitted");

    // Bulk confirm with a forged id from outside the area: ignored and reported.
    let fy = crate::reports::fiscal_year().to_string();
    let id_text = id.to_string();
    let res = post(
        &app,
        &area,
        "/review",
        "/review/bulk",
        &[
            ("fy", fy.as_str()),
            ("which", "ticked"),
            ("report", id_text.as_str()),
            ("report", "999999"),
        ],
    );
    assert_eq!(res.status(), 303);
    let (_, html) = page(&area, &app, &location(&res));
    assert!(html.contains("id=\"bulk-count\">0 件"), "{html}");
    assert!(html.contains(&id_text) && html.contains("999999"));
    // Another officer's bulk confirmation is not found.
    assert_eq!(page(&officer, &app, &location(&res)).0, 404);
    // Without CSRF: 403.
    let res = area
        .post(app.url("/review/bulk"))
        .form(&[("fy", fy.as_str()), ("which", "all")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 403);
    app.db.assert_review_index();
}

#[test]
fn bulk_confirm_skips_a_report_resubmitted_after_the_preview() {
    let app = TestApp::with_demo();
    let officer = app.signed_in("demo-officer");
    let targets = first_targets(&app, 3);
    let paths: Vec<String> = targets
        .iter()
        .map(|t| submitted(&app, &officer, *t))
        .collect();
    let fy = crate::reports::fiscal_year().to_string();
    let res = post(
        &app,
        &officer,
        "/review",
        "/review/bulk",
        &[
            ("fy", fy.as_str()),
            ("status", "awaiting"),
            ("which", "all"),
        ],
    );
    assert_eq!(res.status(), 303);
    let bulk = location(&res);
    let (_, html) = page(&officer, &app, &bulk);
    assert!(html.contains("id=\"bulk-count\">3 件"), "{html}");

    // Between preview and commit, one report is pulled back and submitted again.
    let changed = &paths[1];
    let (_, overview) = page(&officer, &app, changed);
    let res = officer
        .post(app.url(&format!("{changed}/pullback")))
        .form(&[("csrf", csrf_of(&overview)), ("rev", rev_of(&overview))])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, confirm) = page(&officer, &app, &format!("{changed}/submit"));
    officer
        .post(app.url(&format!("{changed}/submit")))
        .form(&[("csrf", csrf_of(&confirm)), ("rev", rev_of(&confirm))])
        .send()
        .unwrap();

    let res = post(&app, &officer, &bulk, &format!("{bulk}/commit"), &[]);
    assert_eq!(res.status(), 303);
    let (_, html) = page(&officer, &app, &bulk);
    assert!(html.contains("2 件を確認済にしました"), "{html}");
    assert!(html.contains("id=\"bulk-skipped\""));
    assert_eq!(status(&app, report_id(&paths[0])), "confirmed");
    assert_eq!(status(&app, report_id(&paths[1])), "submitted");
    assert_eq!(status(&app, report_id(&paths[2])), "confirmed");
    // One audit entry per confirmed report, the same on both databases (PostgreSQL
    // writes them in the confirming statement).
    type AuditLine = (Option<String>, Option<String>, Option<String>, Option<i32>);
    let mut audited: Vec<AuditLine> = audit_log::table
        .filter(audit_log::action.eq("report_confirm"))
        .select((
            audit_log::target_id,
            audit_log::actor_login,
            audit_log::detail,
            audit_log::actor_id,
        ))
        .load(&mut *app.db.conn())
        .unwrap();
    audited.sort();
    let officer_id: i32 = users::table
        .filter(users::login_id.eq("demo-officer"))
        .select(users::id)
        .first(&mut *app.db.conn())
        .unwrap();
    let bulk_id = bulk.rsplit('/').next().unwrap();
    let mut expected: Vec<_> = [&paths[0], &paths[2]]
        .iter()
        .map(|p| {
            (
                Some(report_id(p).to_string()),
                Some("demo-officer".to_string()),
                Some(format!("{{\"bulk\":{bulk_id}}}")),
                Some(officer_id),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(audited, expected);
    // Each entry names the report's prefecture, as a single 確認 does …
    let prefectures: Vec<Option<i32>> = audit_log::table
        .filter(audit_log::action.eq("report_confirm"))
        .select(audit_log::prefecture_id)
        .load(&mut *app.db.conn())
        .unwrap();
    assert!(prefectures.iter().all(Option::is_some), "{prefectures:?}");
    // … so the prefecture administrator's 操作履歴 lists both confirmations.
    let admin = app.signed_in("demo-admin");
    let (_, log) = page(&admin, &app, "/admin/audit?action=report_confirm");
    for p in [&paths[0], &paths[2]] {
        assert!(
            log.contains(&format!("report #{}", report_id(p))),
            "the administrator sees report {}",
            report_id(p)
        );
    }
    // Committing twice is refused.
    let res = post(&app, &officer, &bulk, &format!("{bulk}/commit"), &[]);
    assert_eq!(res.status(), 409);
    app.db.assert_review_index();
}

#[test]
fn memos_are_shared_or_internal_with_unread_markers() {
    let app = TestApp::with_demo();
    let clinic = app.signed_in("demo-clinic");
    let officer = app.signed_in("demo-officer");
    let institution = clinic_institution(&app);
    let report = submitted(&app, &clinic, institution);
    let id = report_id(&report);
    let detail = format!("/review/reports/{id}");
    let memos = format!("/reports/{id}/memos");
    let res = post(
        &app,
        &officer,
        &detail,
        &memos,
        &[("body", "内部: 前年と比べて確認"), ("internal", "1")],
    );
    assert_eq!(res.status(), 303);
    let res = post(
        &app,
        &officer,
        &detail,
        &memos,
        &[("body", "<script>x</script>2イ-5 は正しいですか")],
    );
    assert_eq!(res.status(), 303);
    let (_, html) = page(&clinic, &app, &report);
    assert!(
        !html.contains("内部: 前年と比べて確認"),
        "internal memos stay internal"
    );
    assert!(
        html.contains("&lt;script&gt;x&lt;&#x2F;script&gt;")
            || html.contains("&lt;script&gt;x&lt;/script&gt;")
    );
    assert!(html.contains("未読"), "new to the clinic");
    let (_, again) = page(&clinic, &app, &report);
    assert!(!again.contains("class=\"memo unread\""), "read once opened");
    // The clinic cannot make an internal memo; its reply is shared.
    let res = post(
        &app,
        &clinic,
        &report,
        &memos,
        &[("body", "正しいです"), ("internal", "1")],
    );
    assert_eq!(res.status(), 303);
    let internal: bool = report_memos::table
        .order(report_memos::id.desc())
        .select(report_memos::internal)
        .first(&mut *app.db.conn())
        .unwrap();
    assert!(!internal);
    // The officer sees the reply as unread, in the list and on the detail page.
    let fy = crate::reports::fiscal_year();
    let (_, list) = page(&officer, &app, &format!("/review?fy={fy}"));
    assert!(list.contains("未読 1"), "unread marker in the list");
    let (_, html) = page(&officer, &app, &detail);
    assert!(html.contains("正しいです") && html.contains("未読"));
    // Empty memos are refused; a memo on another institution's report is 404.
    let res = post(&app, &officer, &detail, &memos, &[("body", " ")]);
    assert_eq!(res.status(), 422);
    let other: i32 = institutions::table
        .filter(institutions::id.ne(institution))
        .filter(institutions::is_target.eq(true))
        .select(institutions::id)
        .first(&mut *app.db.conn())
        .unwrap();
    let other_report = report_id(&location(&start(&app, &officer, other, "")));
    let res = post(
        &app,
        &clinic,
        &report,
        &format!("/reports/{other_report}/memos"),
        &[("body", "x")],
    );
    assert_eq!(res.status(), 404);
    // 新着 lists the report and the message.
    let (_, news) = page(&officer, &app, "/review/news");
    assert!(news.contains("正しいです"));
    app.db.assert_review_index();
}

#[test]
fn search_counts_csv_and_charts_match_a_hand_made_fixture() {
    let app = TestApp::with_demo();
    let officer = app.signed_in("demo-officer");
    let fy = crate::reports::fiscal_year();
    let targets = first_targets(&app, 4);
    let total_targets: i64 = institutions::table
        .filter(institutions::is_target.eq(true))
        .count()
        .get_result(&mut *app.db.conn())
        .unwrap();
    // Two submitted, one confirmed, one draft.
    submitted(&app, &officer, targets[0]);
    submitted(&app, &officer, targets[1]);
    let c = submitted(&app, &officer, targets[2]);
    location(&start(&app, &officer, targets[3], ""));
    diesel::update(reports::table.find(report_id(&c)))
        .set(reports::status.eq("confirmed"))
        .execute(&mut *app.db.conn())
        .unwrap();
    // Changed behind the application's back, the search table disagrees until refreshed.
    let drift = kakari::db::review_index::drift(&mut app.db.conn()).unwrap();
    assert_eq!(drift, 2, "one row missing and one row extra");
    kakari::db::review_index::refresh_report(&mut app.db.conn(), report_id(&c)).unwrap();
    app.db.assert_review_index();
    let (status_code, html) = page(&officer, &app, &format!("/review?fy={fy}"));
    assert_eq!(status_code, 200);
    let count_of = |html: &str, code: &str| -> i64 {
        html.split(&format!("id=\"count-{code}\">"))
            .nth(1)
            .and_then(|t| t.split("<strong>").nth(1))
            .and_then(|t| t.split('<').next())
            .and_then(|n| n.replace(',', "").parse().ok())
            .unwrap()
    };
    assert_eq!(count_of(&html, "submitted"), 2);
    assert_eq!(count_of(&html, "confirmed"), 1);
    assert_eq!(count_of(&html, "draft"), 1);
    assert_eq!(count_of(&html, "none"), total_targets - 4);
    let (_, awaiting) = page(&officer, &app, &format!("/review?fy={fy}&status=awaiting"));
    assert!(awaiting.contains("id=\"result-count\">2<"));
    let (_, unreported) = page(&officer, &app, &format!("/review/unreported?fy={fy}"));
    // 報告日時, newest first: the three submitted first; oldest first: unsubmitted first
    // (the same order on both databases).
    let codes: Vec<String> = institutions::table
        .filter(institutions::id.eq_any(&targets[..3]))
        .select(institutions::code)
        .load(&mut *app.db.conn())
        .unwrap();
    let (_, newest) = page(
        &officer,
        &app,
        &format!("/review?fy={fy}&sort=submitted&dir=desc"),
    );
    let (_, oldest) = page(&officer, &app, &format!("/review?fy={fy}&sort=submitted"));
    let first_row = |html: &str| -> String {
        html.split("<tbody>")
            .nth(1)
            .unwrap()
            .split("</tr>")
            .next()
            .unwrap()
            .to_string()
    };
    assert!(
        codes
            .iter()
            .any(|c| first_row(&newest).contains(c.as_str()))
    );
    assert!(
        !codes
            .iter()
            .any(|c| first_row(&oldest).contains(c.as_str()))
    );
    assert!(unreported.contains(&format!("id=\"result-count\">{}<", total_targets - 3)));
    // CSV: BOM, header and one line per match.
    let res = officer
        .get(app.url(&format!("/review.csv?fy={fy}&status=submitted")))
        .send()
        .unwrap();
    let bytes = res.bytes().unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8_lossy(&bytes[3..]).to_string();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.lines()
            .next()
            .unwrap()
            .starts_with("医療機関コード,名称")
    );

    // 件数集計: the figures and the charts.
    let (status_code, stats) = page(&officer, &app, &format!("/review/stats?fy={fy}"));
    assert_eq!(status_code, 200);
    assert!(
        stats.contains(&format!("id=\"stat-submitted\">{}<", 3)),
        "two 報告済 and one 確認済"
    );
    assert!(stats.contains("id=\"stat-confirmed\">1<"));
    assert!(stats.contains("<svg") && stats.contains("■ 報告済 3"));
    let (_, home) = page(&officer, &app, "/");
    assert!(home.contains("id=\"home-submitted\">"));
    assert!(home.contains("<svg"));
    // A bad filter gets a message, not a crash.
    let (status_code, html) = page(
        &officer,
        &app,
        &format!("/review?fy={fy}&code=123&from=きのう"),
    );
    assert_eq!(status_code, 422);
    assert!(html.contains("7桁か10桁") && html.contains("日付を"));
    app.db.assert_review_index();
}

#[test]
fn two_refreshes_of_one_search_row_at_once_both_succeed() {
    use kakari::db::{self, review_index};
    let app = TestApp::with_demo();
    let officer = app.signed_in("demo-officer");
    let report = submitted(&app, &officer, clinic_institution(&app));
    let id = report_id(&report);
    let pool = app.db.pool();
    let mut first = pool.get().unwrap();
    let mut second = pool.get().unwrap();
    // The first transaction rewrites the row and stays open while the second starts the
    // same rewrite (on PostgreSQL it waits on the row; on SQLite for the write lock).
    let (started, ready) = std::sync::mpsc::channel();
    let mut waiting = None;
    db::write_transaction(&mut first, |conn| -> diesel::QueryResult<()> {
        review_index::refresh_report(conn, id)?;
        waiting = Some(std::thread::spawn(move || {
            started.send(()).unwrap();
            db::write_transaction(&mut second, |conn| review_index::refresh_report(conn, id))
        }));
        ready.recv().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        Ok(())
    })
    .unwrap();
    waiting.unwrap().join().unwrap().unwrap();
    app.db.assert_review_index();
}

#[test]
fn per_day_figures_count_past_days_once_and_today_on_every_request() {
    use chrono::{Duration, Utc};
    use kakari::db::reports::{NewVersion, insert_version};
    use kakari::domain::wareki;
    let app = TestApp::with_demo();
    let officer = app.signed_in("demo-officer");
    let fy = crate::reports::fiscal_year();
    let targets = first_targets(&app, 2);
    let first = report_id(&submitted(&app, &officer, targets[0]));
    // A second version dated yesterday (JST): submitted yesterday, pulled back and
    // submitted again today, as far as the figures can tell.
    let yesterday_utc = Utc::now().naive_utc() - Duration::hours(24);
    insert_version(
        &mut app.db.conn(),
        &NewVersion {
            report_id: first,
            number: 0,
            kind: "periodic",
            answers: "{}",
            ndb: "{}",
            determination: "{}",
            catalog_version: "test",
            submitted_by: None,
            submitted_login: "test",
            proxy: false,
            submitted_at: yesterday_utc,
        },
    )
    .unwrap();
    let today = wareki::today_jst(Utc::now());
    let yesterday = today - Duration::days(1);
    // The 定期 cell of a day's row in the per-day table ("" when the day has no row).
    let periodic = |html: &str, day| -> String {
        let row_start = format!(
            "<tr><td>{}</td><td class=\"num\">",
            wareki::date_wareki(day)
        );
        html.split(row_start.as_str())
            .nth(1)
            .and_then(|t| t.split('<').next())
            .unwrap_or_default()
            .to_string()
    };
    let (_, stats) = page(&officer, &app, &format!("/review/stats?fy={fy}"));
    assert_eq!(periodic(&stats, yesterday), "1", "{stats}");
    assert_eq!(periodic(&stats, today), "1");
    // Yesterday now comes from the kept figures, today's from the database: a second
    // submission today adds to today and leaves yesterday as it was.
    submitted(&app, &officer, targets[1]);
    let (_, stats) = page(&officer, &app, &format!("/review/stats?fy={fy}"));
    assert_eq!(periodic(&stats, yesterday), "1");
    assert_eq!(periodic(&stats, today), "2");
}
