//! Report entry over HTTP: the whole filing, bad input, periods, proxy entry, NDB
//! pre-print, conflicts, double submission, pull back and the 変更報告.

use diesel::prelude::*;
use kakari::db::schema::{institutions, ndb_counts, report_versions, reports, users};
use kakari::domain::catalog::{Catalog, Kind, shipped};
use kakari::domain::wareki;
use reqwest::blocking::Client;

use crate::support::{TestApp, csrf_of};

pub(crate) fn fiscal_year() -> i32 {
    wareki::fiscal_year_of(wareki::today_jst(chrono::Utc::now()))
}

pub(crate) fn catalog() -> Catalog {
    Catalog::parse(shipped(fiscal_year()).unwrap()).unwrap()
}

pub(crate) fn clinic_institution(app: &TestApp) -> i32 {
    users::table
        .filter(users::login_id.eq("demo-clinic"))
        .select(users::institution_id)
        .first::<Option<i32>>(&mut *app.db.conn())
        .unwrap()
        .unwrap()
}

pub(crate) fn page(c: &Client, app: &TestApp, path: &str) -> (u16, String) {
    let res = c.get(app.url(path)).send().unwrap();
    (res.status().as_u16(), res.text().unwrap())
}

pub(crate) fn rev_of(html: &str) -> String {
    let marker = "name=\"rev\" value=\"";
    let start = html.find(marker).expect("page has a revision") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

pub(crate) fn location(res: &reqwest::blocking::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

/// Starts the year's 定期報告 (skipping the code check) and returns the report path.
pub(crate) fn start(
    app: &TestApp,
    c: &Client,
    institution: i32,
    code: &str,
) -> reqwest::blocking::Response {
    let fy = fiscal_year();
    let path = format!("/institutions/{institution}/reports/{fy}/start");
    let mut fields = vec![("kind", "periodic"), ("code", code)];
    if code.is_empty() {
        fields.push(("skip", "1"));
    }
    app.post_form(c, &format!("{path}?kind=periodic"), &path, &fields)
}

/// Answers that make every function 有り: the first yes-code, counts of 12, a name.
pub(crate) fn full_answers(catalog: &Catalog, section: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for item in catalog.items.iter().filter(|i| i.section == section) {
        let code = item.code.clone();
        let yes = item
            .yes
            .first()
            .copied()
            .or(item.choices.first().map(|c| c.code));
        match item.kind {
            Kind::Choice | Kind::Multi => {
                if let Some(c) = yes {
                    out.push((code, c.to_string()));
                }
            }
            Kind::Count => out.push((code, "１２".into())),
            Kind::Decimal1 => out.push((code, "1.5".into())),
            Kind::Text => out.push((code, "テスト".into())),
            Kind::Names => out.push((code, "協力病院".into())),
        }
    }
    out
}

pub(crate) fn save(
    app: &TestApp,
    c: &Client,
    report: &str,
    section: &str,
    fields: &[(String, String)],
    action: &str,
) -> reqwest::blocking::Response {
    let path = format!("{report}/sections/{section}");
    let (_, html) = page(c, app, &path);
    let mut all: Vec<(String, String)> = vec![
        ("csrf".into(), csrf_of(&html)),
        ("rev".into(), rev_of(&html)),
        ("action".into(), action.into()),
    ];
    all.extend_from_slice(fields);
    c.post(app.url(&path)).form(&all).send().unwrap()
}

pub(crate) fn report_id(path: &str) -> i32 {
    path.trim_start_matches("/reports/")
        .split(['/', '?'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn stored_answers(app: &TestApp, id: i32) -> serde_json::Value {
    let text: String = reports::table
        .find(id)
        .select(reports::answers)
        .first(&mut *app.db.conn())
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

pub(crate) fn fill_everything(app: &TestApp, c: &Client, report: &str) {
    let cat = catalog();
    for s in &cat.sections {
        let res = save(
            app,
            c,
            report,
            &s.id,
            &full_answers(&cat, &s.id),
            "complete",
        );
        assert_eq!(
            res.status(),
            303,
            "section {}: {}",
            s.id,
            res.text().unwrap()
        );
    }
}

#[test]
fn a_clinic_files_prints_pulls_back_and_refiles() {
    let app = TestApp::with_demo();
    let clinic = app.signed_in("demo-clinic");
    let institution = clinic_institution(&app);
    let fy = fiscal_year();

    let (_, home) = page(&clinic, &app, "/");
    assert!(home.contains(&format!("/institutions/{institution}/reports")));
    let (status, filings) = page(
        &clinic,
        &app,
        &format!("/institutions/{institution}/reports"),
    );
    assert_eq!(status, 200);
    assert!(filings.contains(&format!("id=\"start-{fy}\"")), "{filings}");

    let res = start(&app, &clinic, institution, "");
    assert_eq!(res.status(), 303);
    let report = location(&res);
    // A second start (double click, second tab) opens the same report.
    let again = start(&app, &clinic, institution, "");
    assert_eq!(location(&again), report);

    let (_, overview) = page(&clinic, &app, &report);
    assert!(overview.contains("未入力"));
    assert!(overview.contains("1号機能: <strong>無し</strong>"));

    fill_everything(&app, &clinic, &report);
    let (_, overview) = page(&clinic, &app, &report);
    assert!(
        overview.contains("1号機能: <strong>有り</strong>"),
        "{overview}"
    );
    assert!(!overview.contains(">未入力<"));

    let (_, confirm) = page(&clinic, &app, &format!("{report}/submit"));
    assert!(confirm.contains("id=\"submit-report\""), "{confirm}");
    let rev = rev_of(&confirm);
    let submit = |rev: &str| {
        clinic
            .post(app.url(&format!("{report}/submit")))
            .form(&[("csrf", csrf_of(&confirm).as_str()), ("rev", rev)])
            .send()
            .unwrap()
    };
    assert_eq!(submit(&rev).status(), 303);
    // The same form again: no second version.
    assert_eq!(submit(&rev).status(), 303);
    let id = report_id(&report);
    let versions: i64 = report_versions::table
        .filter(report_versions::report_id.eq(id))
        .count()
        .get_result(&mut *app.db.conn())
        .unwrap();
    assert_eq!(versions, 1);
    let (_, overview) = page(&clinic, &app, &report);
    assert!(overview.contains("id=\"status\">報告済<"));

    // Submitted: the sections are read-only.
    let res = save(
        &app,
        &clinic,
        &report,
        "1",
        &[("1-1".into(), "1".into())],
        "save",
    );
    assert_eq!(res.status(), 409);

    // The printout, the poster and the answers document.
    let (status, print) = page(&clinic, &app, &format!("{report}/versions/1"));
    assert_eq!(status, 200);
    assert!(print.contains("報告内容帳票") && print.contains("第1版"));
    let (status, poster) = page(&clinic, &app, &format!("{report}/poster"));
    assert_eq!(status, 200);
    assert!(poster.contains("1号機能"));
    let res = clinic
        .get(app.url(&format!("{report}/versions/1/answers.json")))
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let bytes = res.bytes().unwrap();
    assert!(
        bytes.len() < 20 * 1024,
        "answers document is {} bytes",
        bytes.len()
    );
    eprintln!("complete answers document: {} bytes", bytes.len());
    let doc: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
    assert!(kakari::domain::determination::validate(&catalog(), &doc).is_empty());
    let stored: String = report_versions::table
        .filter(report_versions::report_id.eq(id))
        .select(report_versions::determination)
        .first(&mut *app.db.conn())
        .unwrap();
    assert!(stored.contains("\"function1\":true"));

    // Pull back, change, submit again: version 2.
    let (_, overview) = page(&clinic, &app, &report);
    let res = clinic
        .post(app.url(&format!("{report}/pullback")))
        .form(&[("csrf", csrf_of(&overview)), ("rev", rev_of(&overview))])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = save(
        &app,
        &clinic,
        &report,
        "1",
        &full_answers(&catalog(), "1"),
        "complete",
    );
    assert_eq!(res.status(), 303);
    let (_, confirm) = page(&clinic, &app, &format!("{report}/submit"));
    let res = clinic
        .post(app.url(&format!("{report}/submit")))
        .form(&[("csrf", csrf_of(&confirm)), ("rev", rev_of(&confirm))])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, overview) = page(&clinic, &app, &report);
    assert!(overview.contains("第2版"));

    // Versions cannot be edited, even in the database.
    let edited = diesel::update(report_versions::table.filter(report_versions::report_id.eq(id)))
        .set(report_versions::answers.eq("{}"))
        .execute(&mut *app.db.conn());
    assert!(edited.is_err(), "report versions are immutable");
    app.db.assert_review_index();
}

#[test]
fn bad_input_is_refused_with_messages_and_nothing_is_saved() {
    let app = TestApp::with_demo();
    let clinic = app.signed_in("demo-clinic");
    let institution = clinic_institution(&app);
    let report = location(&start(&app, &clinic, institution, ""));
    let id = report_id(&report);
    let cat = catalog();
    let res = save(
        &app,
        &clinic,
        &report,
        "1",
        &full_answers(&cat, "1"),
        "save",
    );
    assert_eq!(res.status(), 303);
    let before = stored_answers(&app, id);

    let count = cat.items.iter().find(|i| i.kind == Kind::Count).unwrap();
    let names = cat.items.iter().find(|i| i.kind == Kind::Names).unwrap();
    let text = cat.items.iter().find(|i| i.kind == Kind::Text).unwrap();
    let long = "あ".repeat(100_000);
    let nine: Vec<(String, String)> = (0..9)
        .map(|i| (names.code.clone(), format!("協力病院{i}")))
        .collect();
    type Fields = Vec<(String, String)>;
    let cases: Vec<(&str, Fields, &str)> = vec![
        ("1", vec![("1-1".into(), "9".into())], "選択肢にない値です"),
        (
            &count.section,
            vec![(count.code.clone(), "-3".into())],
            "0以上の整数で入力してください",
        ),
        (
            &count.section,
            vec![(count.code.clone(), "2.5".into())],
            "小数ではなく整数で入力してください",
        ),
        (
            &count.section,
            vec![(count.code.clone(), "たくさん".into())],
            "数字で入力してください",
        ),
        (&names.section, nine, "名称は8件までです"),
        (
            &text.section,
            vec![(text.code.clone(), long)],
            "文字以内で入力してください",
        ),
        (
            "1",
            vec![("9-99".into(), "1".into())],
            "報告項目にない項目「9-99」",
        ),
        (
            "1",
            vec![("2イ-1".into(), "1".into())],
            "報告項目にない項目「2イ-1」",
        ),
    ];
    for (section, fields, message) in cases {
        let res = save(&app, &clinic, &report, section, &fields, "save");
        assert_eq!(res.status(), 422, "{message}");
        let html = res.text().unwrap();
        assert!(
            html.contains(message),
            "{message}: {}",
            &html[html.find("<main").unwrap_or(0)..]
        );
        assert_eq!(
            stored_answers(&app, id),
            before,
            "nothing saved for {message}"
        );
    }
    // What was typed stays in the form.
    let res = save(
        &app,
        &clinic,
        &report,
        &count.section,
        &[(count.code.clone(), "-3".into())],
        "save",
    );
    assert!(res.text().unwrap().contains("value=\"-3\""));
    // 入力完了 with a required item missing saves nothing and names the item.
    let res = save(
        &app,
        &clinic,
        &report,
        "1",
        &[("1-1".into(), "1".into())],
        "complete",
    );
    assert_eq!(res.status(), 422);
    assert!(res.text().unwrap().contains("未回答です"));
    assert_eq!(stored_answers(&app, id), before);
    // 一時保存 with items missing is fine.
    let res = save(
        &app,
        &clinic,
        &report,
        "1",
        &[("1-1".into(), "1".into())],
        "save",
    );
    assert_eq!(res.status(), 303);
    assert_eq!(stored_answers(&app, id)["1-1"], 1);

    // Submitting an incomplete report is refused with the list.
    let (_, confirm) = page(&clinic, &app, &format!("{report}/submit"));
    assert!(confirm.contains("id=\"problems\""));
    let res = clinic
        .post(app.url(&format!("{report}/submit")))
        .form(&[("csrf", csrf_of(&confirm)), ("rev", rev_of(&confirm))])
        .send()
        .unwrap();
    assert_eq!(res.status(), 422);
    let n: i64 = report_versions::table
        .count()
        .get_result(&mut *app.db.conn())
        .unwrap();
    assert_eq!(n, 0);

    // Another institution's report, and a form for another institution: 404.
    let officer = app.signed_in("demo-officer");
    let other: i32 = institutions::table
        .filter(institutions::id.ne(institution))
        .filter(institutions::is_target.eq(true))
        .select(institutions::id)
        .first(&mut *app.db.conn())
        .unwrap();
    let other_report = location(&start(&app, &officer, other, ""));
    assert_eq!(page(&clinic, &app, &other_report).0, 404);
    assert_eq!(
        page(&clinic, &app, &format!("{other_report}/sections/1")).0,
        404
    );
    let (_, own) = page(&clinic, &app, &format!("{report}/sections/1"));
    let res = clinic
        .post(app.url(&format!("{other_report}/sections/1")))
        .form(&[
            ("csrf", csrf_of(&own)),
            ("rev", "0".into()),
            ("1-1", "1".into()),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 404);
    let fy = fiscal_year();
    assert_eq!(
        page(
            &clinic,
            &app,
            &format!("/institutions/{other}/reports/{fy}/start")
        )
        .0,
        404
    );
    let res = clinic
        .post(app.url(&format!("/institutions/{other}/reports/{fy}/start")))
        .form(&[("csrf", csrf_of(&own)), ("skip", "1".into())])
        .send()
        .unwrap();
    assert_eq!(res.status(), 404);
    // Without the CSRF token: 403.
    let res = clinic
        .post(app.url(&format!("{report}/sections/1")))
        .form(&[("rev", "0"), ("1-1", "1")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 403);
}

fn set_period(app: &TestApp, opens: i64, deadline: i64, closes: i64) {
    let today = wareki::today_jst(chrono::Utc::now());
    let day = |n: i64| today + chrono::Duration::days(n);
    let prefecture: i32 = institutions::table
        .select(institutions::prefecture_id)
        .first(&mut *app.db.conn())
        .unwrap();
    kakari::db::periods::set_period(
        &mut app.db.conn(),
        prefecture,
        fiscal_year(),
        kakari::domain::report::Period {
            opens_on: day(opens),
            deadline: day(deadline),
            closes_on: day(closes),
        },
        "保健医療福祉課 099-000-0000",
        chrono::Utc::now().naive_utc(),
    )
    .unwrap();
}

#[test]
fn periods_bind_institutions_but_not_proxy_entry() {
    let app = TestApp::with_demo();
    let clinic = app.signed_in("demo-clinic");
    let officer = app.signed_in("demo-officer");
    let institution = clinic_institution(&app);

    set_period(&app, 10, 40, 60);
    let res = start(&app, &clinic, institution, "");
    assert_eq!(res.status(), 409);
    let html = res.text().unwrap();
    assert!(html.contains("受付開始前です"), "{html}");
    assert!(html.contains("099-000-0000"), "whom to call");

    // An officer enters by proxy at any time; the version records the proxy.
    let res = start(&app, &officer, institution, "");
    assert_eq!(res.status(), 303);
    let report = location(&res);
    fill_everything(&app, &officer, &report);

    // Closed: the clinic cannot submit, the officer can.
    set_period(&app, -60, -30, -1);
    let (_, confirm) = page(&clinic, &app, &format!("{report}/submit"));
    let res = clinic
        .post(app.url(&format!("{report}/submit")))
        .form(&[("csrf", csrf_of(&confirm)), ("rev", rev_of(&confirm))])
        .send()
        .unwrap();
    assert_eq!(res.status(), 409);
    assert!(res.text().unwrap().contains("受付は終了しました"));
    let (_, confirm) = page(&officer, &app, &format!("{report}/submit"));
    let res = officer
        .post(app.url(&format!("{report}/submit")))
        .form(&[("csrf", csrf_of(&confirm)), ("rev", rev_of(&confirm))])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    let (proxy, login): (bool, String) = report_versions::table
        .select((report_versions::proxy, report_versions::submitted_login))
        .first(&mut *app.db.conn())
        .unwrap();
    assert!(proxy);
    assert_eq!(login, "demo-officer");
    let (_, print) = page(&clinic, &app, &format!("{report}/versions/1"));
    assert!(print.contains("代理入力"));

    // An area officer cannot open a report outside its area.
    let area = app.signed_in("demo-area");
    let (status, _) = page(&area, &app, &report);
    let inside: bool = {
        let jurisdiction: Option<i32> = institutions::table
            .find(institution)
            .select(institutions::jurisdiction_id)
            .first(&mut *app.db.conn())
            .unwrap();
        let area_id: Option<i32> = users::table
            .filter(users::login_id.eq("demo-area"))
            .select(users::area_id)
            .first(&mut *app.db.conn())
            .unwrap();
        jurisdiction == area_id
    };
    assert_eq!(status, if inside { 200 } else { 404 });
}

#[test]
fn ndb_counts_are_preprinted_and_changes_are_marked() {
    let app = TestApp::with_demo();
    let clinic = app.signed_in("demo-clinic");
    let institution = clinic_institution(&app);
    let code: String = institutions::table
        .find(institution)
        .select(institutions::code)
        .first(&mut *app.db.conn())
        .unwrap();
    let cat = catalog();
    let item = cat
        .items
        .iter()
        .find(|i| i.ndb_key.is_some() && i.kind == Kind::Count)
        .unwrap();
    diesel::insert_into(ndb_counts::table)
        .values((
            ndb_counts::fiscal_year.eq(fiscal_year()),
            ndb_counts::institution_code.eq(&code),
            ndb_counts::item_key.eq(item.ndb_key.clone().unwrap()),
            ndb_counts::count.eq(37_i64),
        ))
        .execute(&mut *app.db.conn())
        .unwrap();

    // A wrong check digit is refused with a message; nothing is created.
    let mut wrong = code.clone();
    let last = wrong.pop().unwrap().to_digit(10).unwrap();
    wrong.push(char::from_digit((last + 1) % 10, 10).unwrap());
    let res = start(&app, &clinic, institution, &wrong);
    assert_eq!(res.status(), 422);
    assert!(res.text().unwrap().contains("id=\"code-error\""));
    let n: i64 = reports::table
        .count()
        .get_result(&mut *app.db.conn())
        .unwrap();
    assert_eq!(n, 0);

    // The 7 digits the bureau prints, with a separator, match the master.
    let seven = format!("{}-{}", &code[3..5], &code[5..]);
    let res = start(&app, &clinic, institution, &seven);
    assert_eq!(res.status(), 303);
    let report = location(&res);
    assert_eq!(stored_answers(&app, report_id(&report))[&item.code], 37);
    let (_, html) = page(
        &clinic,
        &app,
        &format!("{report}/sections/{}", item.section),
    );
    assert!(html.contains("title=\"NDBデータから記入\""));
    let res = save(
        &app,
        &clinic,
        &report,
        &item.section,
        &[(item.code.clone(), "40".into())],
        "save",
    );
    assert_eq!(res.status(), 303);
    let (_, html) = page(
        &clinic,
        &app,
        &format!("{report}/sections/{}", item.section),
    );
    assert!(
        html.contains("NDB値から変更（NDB: 37）"),
        "the NDB original is kept"
    );
}

#[test]
fn a_stale_save_shows_both_values_and_lets_the_user_choose() {
    let app = TestApp::with_demo();
    let clinic = app.signed_in("demo-clinic");
    let officer = app.signed_in("demo-officer");
    let institution = clinic_institution(&app);
    let report = location(&start(&app, &clinic, institution, ""));
    let id = report_id(&report);

    // The clinic opens the screen; meanwhile the officer saves 1-1 = 1.
    let (_, form) = page(&clinic, &app, &format!("{report}/sections/1"));
    let res = save(
        &app,
        &officer,
        &report,
        "1",
        &[("1-1".into(), "1".into())],
        "save",
    );
    assert_eq!(res.status(), 303);
    // The clinic's save from the older screen: a conflict page, nothing overwritten.
    let res = clinic
        .post(app.url(&format!("{report}/sections/1")))
        .form(&[
            ("csrf", csrf_of(&form)),
            ("rev", rev_of(&form)),
            ("action", "save".into()),
            ("1-1", "0".into()),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 409);
    let conflict = res.text().unwrap();
    assert!(conflict.contains("id=\"conflicts\""));
    assert_eq!(stored_answers(&app, id)["1-1"], 1);
    // The clinic keeps the saved value for 1-1.
    let mine = conflict
        .split("name=\"mine\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .replace("&quot;", "\"");
    let theirs = conflict
        .split("name=\"theirs\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .replace("&quot;", "\"");
    let res = clinic
        .post(app.url(&format!("{report}/sections/1/resolve")))
        .form(&[
            ("csrf", csrf_of(&conflict)),
            ("rev", rev_of(&conflict)),
            ("action", "save".into()),
            ("mine", mine),
            ("theirs", theirs),
            ("pick:1-1", "theirs".into()),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(stored_answers(&app, id)["1-1"], 1);
    app.db.assert_review_index();
}

#[test]
fn a_change_report_starts_from_the_confirmed_version() {
    let app = TestApp::with_demo();
    let clinic = app.signed_in("demo-clinic");
    let institution = clinic_institution(&app);
    let fy = fiscal_year();
    let report = location(&start(&app, &clinic, institution, ""));
    fill_everything(&app, &clinic, &report);
    let (_, confirm) = page(&clinic, &app, &format!("{report}/submit"));
    clinic
        .post(app.url(&format!("{report}/submit")))
        .form(&[("csrf", csrf_of(&confirm)), ("rev", rev_of(&confirm))])
        .send()
        .unwrap();
    // Before confirmation a change report is refused.
    let path = format!("/institutions/{institution}/reports/{fy}/start");
    let res = app.post_form(
        &clinic,
        &format!("{path}?kind=change"),
        &path,
        &[("kind", "change"), ("skip", "1")],
    );
    assert_eq!(res.status(), 409);
    // The review issue confirms reports; here the status is set directly.
    diesel::update(reports::table.find(report_id(&report)))
        .set(reports::status.eq("confirmed"))
        .execute(&mut *app.db.conn())
        .unwrap();
    kakari::db::review_index::refresh_report(&mut app.db.conn(), report_id(&report)).unwrap();
    let res = app.post_form(
        &clinic,
        &format!("{path}?kind=change"),
        &path,
        &[("kind", "change"), ("skip", "1")],
    );
    assert_eq!(res.status(), 303);
    let change = location(&res);
    assert_ne!(change, report);
    let (_, overview) = page(&clinic, &app, &change);
    assert!(overview.contains("変更報告"));
    assert!(
        overview.contains("1号機能: <strong>有り</strong>"),
        "starts from the confirmed answers"
    );
    let (kind, cycle): (String, i32) = reports::table
        .find(report_id(&change))
        .select((reports::kind, reports::cycle))
        .first(&mut *app.db.conn())
        .unwrap();
    assert_eq!((kind.as_str(), cycle), ("change", 1));
    app.db.assert_review_index();
}

mod administration {
    use diesel::prelude::*;
    use kakari::db::schema::{ndb_counts, reporting_periods};
    use reqwest::blocking::multipart::{Form, Part};

    use super::{catalog, fiscal_year, location, page};
    use crate::support::{TestApp, csrf_of};

    #[test]
    fn administrators_set_periods_with_checked_dates() {
        let app = TestApp::with_demo();
        let admin = app.signed_in("demo-admin");
        let fy = fiscal_year().to_string();
        let res = app.post_form(
            &admin,
            "/admin/periods",
            "/admin/periods",
            &[
                ("fiscal_year", fy.as_str()),
                ("opens_on", "2027-03-01"),
                ("deadline", "2027-02-01"),
                ("closes_on", "あした"),
                ("contact", "保健医療福祉課"),
            ],
        );
        assert_eq!(res.status(), 422);
        let html = res.text().unwrap();
        assert!(html.contains("日付を 2027-01-01"));
        assert!(html.contains("value=\"2027-03-01\""), "typed values stay");
        let res = app.post_form(
            &admin,
            "/admin/periods",
            "/admin/periods",
            &[
                ("fiscal_year", fy.as_str()),
                ("opens_on", "2027-03-01"),
                ("deadline", "2027-02-01"),
                ("closes_on", "2027-03-31"),
            ],
        );
        assert_eq!(res.status(), 422);
        assert!(
            res.text()
                .unwrap()
                .contains("期限は受付開始日以降にしてください")
        );
        let res = app.post_form(
            &admin,
            "/admin/periods",
            "/admin/periods",
            &[
                ("fiscal_year", fy.as_str()),
                ("opens_on", "令和9年1月4日"),
                ("deadline", "2027-02-26"),
                ("closes_on", "2027-03-31"),
                ("contact", "<b>保健医療福祉課</b>"),
            ],
        );
        assert_eq!(res.status(), 200);
        let html = res.text().unwrap();
        assert!(html.contains("報告期間を保存しました"));
        assert!(html.contains("&lt;b&gt;保健医療福祉課"), "shown escaped");
        let opens: chrono::NaiveDate = reporting_periods::table
            .filter(reporting_periods::fiscal_year.eq(fiscal_year()))
            .select(reporting_periods::opens_on)
            .first(&mut *app.db.conn())
            .unwrap();
        assert_eq!(opens, chrono::NaiveDate::from_ymd_opt(2027, 1, 4).unwrap());
    }

    fn upload(
        app: &TestApp,
        c: &reqwest::blocking::Client,
        path: &str,
        fields: &[(&str, &str)],
        name: &str,
        bytes: Vec<u8>,
    ) -> reqwest::blocking::Response {
        let (_, html) = page(c, app, path);
        let mut form = Form::new().text("csrf", csrf_of(&html));
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let form = form.part("file", Part::bytes(bytes).file_name(name.to_string()));
        c.post(app.url(path)).multipart(form).send().unwrap()
    }

    #[test]
    fn a_corrected_catalog_loads_only_with_a_new_version_and_before_reports() {
        let app = TestApp::with_demo();
        let admin = app.signed_in("demo-admin");
        let fy = fiscal_year();
        let shipped = kakari::domain::catalog::shipped(fy).unwrap();
        let version = &catalog().version;
        // The same version again: refused.
        let res = upload(
            &app,
            &admin,
            "/admin/catalogs",
            &[],
            "same.toml",
            shipped.as_bytes().to_vec(),
        );
        assert_eq!(res.status(), 422);
        assert!(res.text().unwrap().contains("新しい版番号"));
        // A broken file: every problem with its line.
        let broken = shipped.replacen("code = \"1-2\"", "code = \"1-1\"", 1);
        let res = upload(
            &app,
            &admin,
            "/admin/catalogs",
            &[],
            "broken.toml",
            broken.into_bytes(),
        );
        assert_eq!(res.status(), 422);
        let html = res.text().unwrap();
        assert!(
            html.contains("行"),
            "names the line: {}",
            &html[html.find("problems").unwrap_or(0)..]
        );
        // A corrected catalog with a new version: loaded, and new drafts use it.
        let corrected = shipped
            .replacen(
                &format!("version = \"{version}\""),
                &format!("version = \"{version}-corrected\""),
                1,
            )
            .replacen("title = \"", "title = \"訂正 ", 1);
        let res = upload(
            &app,
            &admin,
            "/admin/catalogs",
            &[],
            "fixed.toml",
            corrected.clone().into_bytes(),
        );
        assert_eq!(res.status(), 303);
        let (_, html) = page(&admin, &app, &location(&res));
        assert!(html.contains("を読み込みました"));
        assert!(html.contains(&format!("{version}-corrected")));

        // Once a report of the year is submitted, no catalog replaces it.
        let clinic = app.signed_in("demo-clinic");
        let institution = super::clinic_institution(&app);
        let report = location(&super::start(&app, &clinic, institution, ""));
        super::fill_everything(&app, &clinic, &report);
        let (_, confirm) = page(&clinic, &app, &format!("{report}/submit"));
        clinic
            .post(app.url(&format!("{report}/submit")))
            .form(&[
                ("csrf", csrf_of(&confirm)),
                ("rev", super::rev_of(&confirm)),
            ])
            .send()
            .unwrap();
        let stored: String = kakari::db::schema::report_versions::table
            .select(kakari::db::schema::report_versions::catalog_version)
            .first(&mut *app.db.conn())
            .unwrap();
        assert_eq!(
            stored,
            format!("{version}-corrected"),
            "the version records its catalog"
        );
        let again = corrected.replacen("-corrected\"", "-corrected-2\"", 1);
        let res = upload(
            &app,
            &admin,
            "/admin/catalogs",
            &[],
            "again.toml",
            again.into_bytes(),
        );
        assert_eq!(res.status(), 422);
        assert!(res.text().unwrap().contains("すでに報告が提出されている"));
    }

    fn fixture() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ndb/ndb_wide.xlsx"
        ))
        .unwrap()
    }

    fn counts(app: &TestApp) -> i64 {
        ndb_counts::table
            .count()
            .get_result(&mut *app.db.conn())
            .unwrap()
    }

    #[test]
    fn ndb_counts_are_previewed_then_applied_once() {
        let app = TestApp::with_demo();
        let officer = app.signed_in("demo-officer");
        let fy = fiscal_year().to_string();
        let res = upload(
            &app,
            &officer,
            "/ndb/import",
            &[("fiscal_year", fy.as_str())],
            "ndb.xlsx",
            fixture(),
        );
        assert_eq!(res.status(), 303);
        let preview = location(&res);
        let (_, html) = page(&officer, &app, &preview);
        assert!(
            html.contains("id=\"count-values\">7<"),
            "{}",
            &html[html.find("<main").unwrap_or(0)..]
        );
        assert!(html.contains("id=\"count-institutions\">3<"));
        assert!(html.contains("id=\"count-unknown-codes\">1<"));
        assert!(html.contains("id=\"count-rejected\">2<"));
        assert!(html.contains("z_unknown_item"));
        assert_eq!(counts(&app), 0, "a preview writes nothing");
        let res = app.post_form(&officer, &preview, &format!("{preview}/apply"), &[]);
        assert_eq!(res.status(), 303);
        assert_eq!(counts(&app), 7);
        let res = app.post_form(&officer, &preview, &format!("{preview}/apply"), &[]);
        assert_eq!(res.status(), 409, "applied once");

        // Bad files: a message, nothing stored.
        for (name, bytes, message) in [
            (
                "fake.xlsx",
                b"not a workbook".to_vec(),
                "Excel ファイル（.xlsx &#x2F; .xls）として読めません",
            ),
            ("empty.csv", Vec::new(), "ファイルを選んでください"),
            (
                "names.csv",
                "名称,住所\na,b\n".as_bytes().to_vec(),
                "見出し行が見つかりません",
            ),
        ] {
            let res = upload(
                &app,
                &officer,
                "/ndb/import",
                &[("fiscal_year", fy.as_str())],
                name,
                bytes,
            );
            assert_eq!(res.status(), 422, "{name}");
            assert!(res.text().unwrap().contains(message), "{name}");
        }
        assert_eq!(counts(&app), 7);
        // A long-form CSV in Shift_JIS replaces one institution's counts.
        let (sjis, _, _) = encoding_rs::SHIFT_JIS
            .encode("医療機関コード,項目,算定回数\r\n4610100036,a_late_night,\"1,000\"\r\n");
        let res = upload(
            &app,
            &officer,
            "/ndb/import",
            &[("fiscal_year", fy.as_str())],
            "long.csv",
            sjis.into_owned(),
        );
        assert_eq!(res.status(), 303);
        let preview = location(&res);
        let res = app.post_form(&officer, &preview, &format!("{preview}/apply"), &[]);
        assert_eq!(res.status(), 303);
        let n: Vec<(String, i64)> = ndb_counts::table
            .filter(ndb_counts::institution_code.eq("4610100036"))
            .select((ndb_counts::item_key, ndb_counts::count))
            .load(&mut *app.db.conn())
            .unwrap();
        assert_eq!(
            n,
            vec![("a_late_night".to_string(), 1000)],
            "the institution's counts replaced"
        );
    }

    #[test]
    fn ndb_counts_from_the_command_line() {
        let app = TestApp::with_demo();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ndb.xlsx");
        std::fs::write(&file, fixture()).unwrap();
        let fy = fiscal_year().to_string();
        let run = |extra: &[&str]| {
            let mut args = vec!["import", "ndb", "--fy", fy.as_str(), file.to_str().unwrap()];
            args.extend_from_slice(extra);
            std::process::Command::new(env!("CARGO_BIN_EXE_kakari"))
                .args(&args)
                .env_remove("KAKARI_DATA_DIR")
                .env("DATABASE_URL", app.db.url.as_str())
                .output()
                .unwrap()
        };
        let out = run(&["--dry-run"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("確認のみ") && text.contains("件数 7"),
            "{text}"
        );
        assert!(text.contains("マスタにないコード 4619999990"));
        assert_eq!(counts(&app), 0);
        let out = run(&[]);
        assert!(out.status.success());
        assert_eq!(counts(&app), 7);
    }
}

#[test]
fn a_new_year_starts_from_last_years_confirmed_answers_with_new_ndb_counts() {
    let app = TestApp::with_demo();
    let officer = app.signed_in("demo-officer");
    let clinic = app.signed_in("demo-clinic");
    let institution = clinic_institution(&app);
    let last_year = fiscal_year() - 1;
    // Last year's report, filed by proxy and confirmed.
    let path = format!("/institutions/{institution}/reports/{last_year}/start");
    let res = app.post_form(
        &officer,
        &format!("{path}?kind=periodic"),
        &path,
        &[("skip", "1")],
    );
    assert_eq!(res.status(), 303);
    let old = location(&res);
    fill_everything(&app, &officer, &old);
    let (_, confirm) = page(&officer, &app, &format!("{old}/submit"));
    let res = officer
        .post(app.url(&format!("{old}/submit")))
        .form(&[("csrf", csrf_of(&confirm)), ("rev", rev_of(&confirm))])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    diesel::update(reports::table.find(report_id(&old)))
        .set(reports::status.eq("confirmed"))
        .execute(&mut *app.db.conn())
        .unwrap();
    kakari::db::review_index::refresh_report(&mut app.db.conn(), report_id(&old)).unwrap();

    // This year's NDB count for one item.
    let cat = catalog();
    let ndb_item = cat
        .items
        .iter()
        .find(|i| i.ndb_key.is_some() && i.kind == Kind::Count)
        .unwrap();
    let plain_count = cat
        .items
        .iter()
        .find(|i| i.ndb_key.is_none() && i.kind == Kind::Count)
        .map(|i| i.code.clone());
    let code: String = institutions::table
        .find(institution)
        .select(institutions::code)
        .first(&mut *app.db.conn())
        .unwrap();
    diesel::insert_into(ndb_counts::table)
        .values((
            ndb_counts::fiscal_year.eq(fiscal_year()),
            ndb_counts::institution_code.eq(&code),
            ndb_counts::item_key.eq(ndb_item.ndb_key.clone().unwrap()),
            ndb_counts::count.eq(99_i64),
        ))
        .execute(&mut *app.db.conn())
        .unwrap();

    let res = start(&app, &clinic, institution, &code);
    assert_eq!(res.status(), 303);
    let answers = stored_answers(&app, report_id(&location(&res)));
    assert_eq!(
        answers["1-1"], 1,
        "carried from last year's confirmed report"
    );
    assert_eq!(
        answers[&ndb_item.code], 99,
        "NDB items come from this year's data"
    );
    let other_ndb: Vec<&String> = cat
        .items
        .iter()
        .filter(|i| i.ndb_key.is_some() && i.code != ndb_item.code)
        .map(|i| &i.code)
        .filter(|c| answers.get(c.as_str()).is_some())
        .collect();
    assert!(
        other_ndb.is_empty(),
        "last year's NDB values are not carried: {other_ndb:?}"
    );
    if let Some(code) = plain_count {
        assert_eq!(answers[&code], 12, "counts without an NDB key are carried");
    }
    app.db.assert_review_index();
}
