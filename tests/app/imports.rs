//! The institution master import on real workbooks: the bureau layout as written by
//! openpyxl and by LibreOffice, legacy .xls, zipped, and broken files.

use diesel::prelude::*;
use kakari::db::schema::{audit_log, institutions};
use kakari::import::institutions::{Layout, LayoutError, parse};
use kakari::import::{FileError, Limits, read_grid};
use kakari::services::imports::By;
use kakari::services::imports::institutions as master;

use crate::support::TestDb;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/bureau/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn expected() -> Vec<serde_json::Value> {
    serde_json::from_slice(&fixture("kagoshima_ika_small.expected.json")).unwrap()
}

fn opt(v: &serde_json::Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

#[test]
fn every_writer_and_container_reads_the_same() {
    let want = expected();
    for file in [
        "kagoshima_ika_small.xlsx",
        "kagoshima_ika_small_lo.xlsx",
        "kagoshima_ika_small.xls",
        "kagoshima_ika_small.zip",
        "kagoshima_ika_jp_name.zip",
    ] {
        let grid = read_grid(file, &fixture(file), &Limits::default())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let parsed = parse(&grid, 46).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(parsed.layout, Layout::Bureau, "{file}");
        assert_eq!(
            parsed.prefecture_name.as_deref(),
            Some("鹿児島県"),
            "{file}"
        );
        assert!(parsed.rejected.is_empty(), "{file}: {:?}", parsed.rejected);
        assert_eq!(parsed.records.len(), want.len(), "{file}");
        for (got, want) in parsed.records.iter().zip(&want) {
            let ctx = format!("{file} serial {}", want["serial"]);
            assert_eq!(got.code.as_str(), want["code"].as_str().unwrap(), "{ctx}");
            assert_eq!(got.name, want["name"].as_str().unwrap(), "{ctx}");
            assert_eq!(got.postcode, opt(&want["postcode"]), "{ctx}");
            assert_eq!(got.address, want["address"].as_str().unwrap(), "{ctx}");
            assert_eq!(got.phone, opt(&want["phone"]), "{ctx}");
            assert_eq!(got.founder, opt(&want["founder"]), "{ctx}");
            assert_eq!(got.manager, opt(&want["manager"]), "{ctx}");
            assert_eq!(
                got.designated_on.map(|d| d.to_string()),
                opt(&want["designated_on"]),
                "{ctx}"
            );
            assert_eq!(got.departments, opt(&want["departments"]), "{ctx}");
            assert_eq!(
                got.category.label(),
                want["category"].as_str().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                got.status.label(),
                want["status"].as_str().unwrap(),
                "{ctx}"
            );
        }
    }
}

#[test]
fn broken_files_say_what_is_wrong() {
    assert_eq!(
        read_grid(
            "not_really.xlsx",
            &fixture("not_really.xlsx"),
            &Limits::default()
        ),
        Err(FileError::NotExcel("not_really.xlsx".into()))
    );
    let empty = read_grid("empty.xlsx", &fixture("empty.xlsx"), &Limits::default()).unwrap();
    assert_eq!(parse(&empty, 46), Err(LayoutError::Empty));
    let wrong = read_grid(
        "wrong_layout.xlsx",
        &fixture("wrong_layout.xlsx"),
        &Limits::default(),
    )
    .unwrap();
    let err = parse(&wrong, 46).unwrap_err();
    assert!(
        err.to_string().contains("コード内容別医療機関一覧表"),
        "{err}"
    );

    let bad = read_grid(
        "x.xlsx",
        &fixture("bad_check_digit.xlsx"),
        &Limits::default(),
    )
    .unwrap();
    let parsed = parse(&bad, 46).unwrap();
    assert_eq!(parsed.records.len(), 2);
    assert_eq!(parsed.rejected.len(), 1);
    assert!(parsed.rejected[0].reason.contains("検証番号"));

    let dup = read_grid(
        "x.xlsx",
        &fixture("duplicate_codes.xlsx"),
        &Limits::default(),
    )
    .unwrap();
    let parsed = parse(&dup, 46).unwrap();
    assert_eq!(parsed.records.len(), 2);
    // The repeated code is reported once, standing for both of its rows.
    assert_eq!(parsed.rejected.len(), 1);
    assert_eq!(parsed.rejected[0].rows, 2);
    assert!(parsed.rejected[0].reason.contains("2 行あります"));
}

#[test]
fn import_adds_then_finds_nothing_to_change_then_updates() {
    let db = TestDb::new();
    let mut conn = db.conn();
    // The demo prefecture's area tree with no institutions.
    kakari::demo::load(&mut conn, 0, 1, false, crate::support::DEMO_PASSWORD).unwrap();
    let target = master::load_target(&mut conn, "46").unwrap();
    let by = By::system("cli");
    let grid = read_grid(
        "a.xlsx",
        &fixture("kagoshima_ika_small.xlsx"),
        &Limits::default(),
    )
    .unwrap();
    let parsed = parse(&grid, 46).unwrap();

    let preview = master::plan_now(&mut conn, &parsed, &target).unwrap();
    assert_eq!(preview.added.len(), 45);
    assert_eq!(preview.unmatched.len(), 1, "the Kumamoto address");
    let n: i64 = institutions::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(n, 0, "a preview writes nothing");

    let done = master::apply_parsed(&mut conn, &parsed, &target, &by).unwrap();
    assert_eq!(done.added.len(), 45);
    let n: i64 = institutions::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(n, 45);
    let suspended: i64 = institutions::table
        .filter(institutions::status.eq("suspended"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(suspended, 3);
    let not_target: i64 = institutions::table
        .filter(institutions::is_target.eq(false))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(
        not_target, 3,
        "suspended institutions are not reporting targets"
    );
    let unplaced: i64 = institutions::table
        .filter(institutions::municipality_id.is_null())
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(unplaced, 1);
    let audited: i64 = audit_log::table
        .filter(audit_log::action.eq("institution_create"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(audited, 45);

    // The same file again: nothing to do. The LibreOffice copy reads the same.
    for file in ["kagoshima_ika_small.xlsx", "kagoshima_ika_small_lo.xlsx"] {
        let again = parse(
            &read_grid(file, &fixture(file), &Limits::default()).unwrap(),
            46,
        )
        .unwrap();
        let p = master::plan_now(&mut conn, &again, &target).unwrap();
        assert_eq!(
            (p.added.len(), p.updated.len(), p.unchanged),
            (0, 0, 45),
            "{file}"
        );
        assert!(p.not_in_file.is_empty());
    }

    // A later list: one name changed, one institution gone.
    let mut later = parsed.clone();
    later.records[0].name = "鹿児島中央病院".into();
    let gone = later.records.pop().unwrap();
    let p = master::plan_now(&mut conn, &later, &target).unwrap();
    assert_eq!(p.updated.len(), 1);
    assert_eq!(p.updated[0].changes[0].field, "名称");
    assert_eq!(p.updated[0].changes[0].old, "鹿児島病院");
    assert_eq!(p.updated[0].changes[0].new, "鹿児島中央病院");
    assert_eq!(p.not_in_file.len(), 1);
    assert_eq!(p.not_in_file[0].code, gone.code.as_str());
    master::apply_parsed(&mut conn, &later, &target, &by).unwrap();
    let name: String = institutions::table
        .filter(institutions::code.eq(parsed.records[0].code.as_str()))
        .select(institutions::name)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(name, "鹿児島中央病院");
    // The name index follows the new name: 「中央病」 finds it, while 「島病院」 (only in
    // the old name's windows 島病, 病院) no longer finds this institution.
    let find = |conn: &mut kakari::db::DbConnection, q: &str| -> Vec<String> {
        let filter = kakari::db::institutions::SearchFilter {
            name_key: Some(kakari::domain::normalize::search_key(q)),
            ..Default::default()
        };
        kakari::db::institutions::search_all(conn, kakari::domain::auth::Scope::All, &filter)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect()
    };
    assert!(find(&mut conn, "中央病").contains(&"鹿児島中央病院".to_string()));
    assert!(!find(&mut conn, "島病院").contains(&"鹿児島中央病院".to_string()));
    let grams: i64 = kakari::db::schema::institution_name_grams::table
        .filter(kakari::db::schema::institution_name_grams::gram.eq("島病"))
        .inner_join(institutions::table)
        .filter(institutions::name.eq("鹿児島中央病院"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(grams, 0, "the old name's windows are gone");
    // Not in the file is listed, never deleted.
    let n: i64 = institutions::table.count().get_result(&mut *conn).unwrap();
    assert_eq!(n, 45);
}

mod web {
    use diesel::prelude::*;
    use kakari::db::schema::{imports, institutions};
    use reqwest::blocking::multipart::{Form, Part};

    use super::fixture;
    use crate::support::{DEMO_PASSWORD, TestApp, csrf_of};

    fn demo_app() -> TestApp {
        TestApp::spawn_with(|conn| {
            kakari::demo::load(conn, 300, 1, false, DEMO_PASSWORD).unwrap();
        })
    }

    fn upload(
        app: &TestApp,
        c: &reqwest::blocking::Client,
        name: &str,
        bytes: Vec<u8>,
        with_csrf: bool,
    ) -> reqwest::blocking::Response {
        let page = c
            .get(app.url("/institutions/import"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        let mut form = Form::new();
        if with_csrf {
            form = form.text("csrf", csrf_of(&page));
        }
        let form = form.part("file", Part::bytes(bytes).file_name(name.to_string()));
        c.post(app.url("/institutions/import"))
            .multipart(form)
            .send()
            .unwrap()
    }

    fn count(app: &TestApp) -> i64 {
        institutions::table
            .count()
            .get_result(&mut *app.db.conn())
            .unwrap()
    }

    #[test]
    fn upload_preview_apply_then_reimport_changes_nothing() {
        let app = demo_app();
        let officer = app.signed_in("demo-officer");
        let res = upload(
            &app,
            &officer,
            "コード内容別医療機関一覧表.xlsx",
            fixture("kagoshima_ika_small.xlsx"),
            true,
        );
        assert_eq!(res.status(), 303);
        let preview_url = res.headers()["location"].to_str().unwrap().to_string();
        let page = officer
            .get(app.url(&preview_url))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(
            page.contains("id=\"count-added\">45<"),
            "45 to add: {}",
            &page[page.find("<main").unwrap_or(0)..]
        );
        assert!(
            page.contains("熊本市中央区"),
            "the unmatched address is listed"
        );
        assert!(
            page.contains("&lt;b&gt;ひまわり&lt;&#x2F;b&gt;")
                || page.contains("&lt;b&gt;ひまわり&lt;/b&gt;"),
            "names shown escaped"
        );
        assert_eq!(count(&app), 300, "a preview changes nothing");

        let res = app.post_form(&officer, &preview_url, &format!("{preview_url}/apply"), &[]);
        assert_eq!(res.status(), 303);
        let page = officer
            .get(app.url(&preview_url))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(page.contains("反映済み"));
        assert_eq!(count(&app), 345);
        // Applying twice is refused (a double click), and changes nothing.
        let res = app.post_form(
            &officer,
            "/institutions/import",
            &format!("{preview_url}/apply"),
            &[],
        );
        assert_eq!(res.status(), 409);
        assert_eq!(count(&app), 345);

        // The same file again, written by LibreOffice this time: nothing to change.
        let res = upload(
            &app,
            &officer,
            "again.xlsx",
            fixture("kagoshima_ika_small_lo.xlsx"),
            true,
        );
        let again = res.headers()["location"].to_str().unwrap().to_string();
        let page = officer.get(app.url(&again)).send().unwrap().text().unwrap();
        assert!(page.contains("id=\"count-added\">0<"));
        assert!(page.contains("id=\"count-unchanged\">45<"));
        // Cancelled: nothing changes, and it cannot be applied afterwards.
        let res = app.post_form(&officer, &again, &format!("{again}/cancel"), &[]);
        assert_eq!(res.status(), 303);
        let res = app.post_form(&officer, &again, &format!("{again}/apply"), &[]);
        assert_eq!(res.status(), 409);
        app.db.assert_review_index();
    }

    #[test]
    fn institutions_missing_from_an_applied_file_can_be_retired_and_new_names_are_found() {
        let app = demo_app();
        let officer = app.signed_in("demo-officer");
        let res = upload(
            &app,
            &officer,
            "list.xlsx",
            fixture("kagoshima_ika_small.xlsx"),
            true,
        );
        let preview_url = res.headers()["location"].to_str().unwrap().to_string();
        // Before the file is applied, nothing can be retired.
        let res = app.post_form(
            &officer,
            &preview_url,
            &format!("{preview_url}/retire"),
            &[],
        );
        assert_eq!(res.status(), 409);
        let res = app.post_form(&officer, &preview_url, &format!("{preview_url}/apply"), &[]);
        assert_eq!(res.status(), 303);
        let page = officer
            .get(app.url(&preview_url))
            .send()
            .unwrap()
            .text()
            .unwrap();
        let missing: usize = page
            .split("id=\"count-missing\">")
            .nth(1)
            .and_then(|t| t.split('<').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(
            missing > 100,
            "the demo institutions of the same kind: {missing}"
        );
        assert!(page.contains("id=\"retire-missing\""));

        let res = app.post_form(
            &officer,
            &preview_url,
            &format!("{preview_url}/retire"),
            &[],
        );
        assert_eq!(res.status(), 303);
        let page = officer
            .get(app.url(res.headers()["location"].to_str().unwrap()))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(
            page.contains(&format!("{missing} 機関を「廃止」にしました")),
            "{page}"
        );
        let abolished: i64 = institutions::table
            .filter(institutions::status.eq("abolished"))
            .count()
            .get_result(&mut *app.db.conn())
            .unwrap();
        let abolished_targets: i64 = institutions::table
            .filter(institutions::status.eq("abolished"))
            .filter(institutions::is_target.eq(true))
            .count()
            .get_result(&mut *app.db.conn())
            .unwrap();
        assert!(abolished >= missing as i64);
        assert_eq!(abolished_targets, 0, "a 廃止 institution reports nothing");
        // A second click changes nothing more.
        let res = app.post_form(
            &officer,
            &preview_url,
            &format!("{preview_url}/retire"),
            &[],
        );
        let page = officer
            .get(app.url(res.headers()["location"].to_str().unwrap()))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(page.contains("0 機関を「廃止」にしました"));

        // Imported names are in the name index: a three-character piece from the middle
        // of each finds it.
        let names: Vec<String> = institutions::table
            .filter(institutions::status.ne("abolished"))
            .select(institutions::name)
            .limit(5)
            .load(&mut *app.db.conn())
            .unwrap();
        assert!(!names.is_empty());
        for name in names {
            let chars: Vec<char> = name.chars().collect();
            let mid = chars.len() / 2;
            let piece: String = chars[mid.saturating_sub(1)..(mid + 2).min(chars.len())]
                .iter()
                .collect();
            let page = officer
                .get(app.url("/institutions"))
                .query(&[("q", piece.as_str()), ("status", "")])
                .send()
                .unwrap()
                .text()
                .unwrap();
            let shown = name.replace('<', "&lt;").replace('>', "&gt;");
            let shown = shown.split("&lt;").next().unwrap_or("").to_string();
            assert!(page.contains(&shown), "{piece} finds {name}");
        }
        app.db.assert_review_index();
    }

    #[test]
    fn a_preview_gone_stale_is_not_applied() {
        let app = demo_app();
        let officer = app.signed_in("demo-admin");
        let res = upload(
            &app,
            &officer,
            "a.xlsx",
            fixture("kagoshima_ika_small.xlsx"),
            true,
        );
        let first = res.headers()["location"].to_str().unwrap().to_string();
        let res = upload(
            &app,
            &officer,
            "b.xlsx",
            fixture("kagoshima_ika_small.xlsx"),
            true,
        );
        let second = res.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(
            app.post_form(&officer, &first, &format!("{first}/apply"), &[])
                .status(),
            303
        );
        // The second preview was computed before the first was applied.
        let res = app.post_form(&officer, &second, &format!("{second}/apply"), &[]);
        assert_eq!(res.status(), 409);
        assert!(res.text().unwrap().contains("やり直してください"));
        assert_eq!(count(&app), 345);
    }

    #[test]
    fn bad_uploads_are_refused_and_nothing_is_stored() {
        let app = TestApp::spawn_configured(
            |conn| {
                kakari::demo::load(conn, 50, 1, false, DEMO_PASSWORD).unwrap();
            },
            |s| s.max_upload_mb = 1,
        );
        let officer = app.signed_in("demo-officer");
        let res = upload(
            &app,
            &officer,
            "x.xlsx",
            fixture("kagoshima_ika_small.xlsx"),
            false,
        );
        assert_eq!(res.status(), 403, "no CSRF token");
        let res = upload(
            &app,
            &officer,
            "big.xlsx",
            vec![b'x'; 2 * 1024 * 1024],
            true,
        );
        assert_eq!(res.status(), 413);
        assert!(res.text().unwrap().contains("ファイルが大きすぎます"));
        let res = upload(
            &app,
            &officer,
            "not_really.xlsx",
            fixture("not_really.xlsx"),
            true,
        );
        assert_eq!(res.status(), 422);
        assert!(res.text().unwrap().contains("として読めません"));
        let res = upload(
            &app,
            &officer,
            "wrong.xlsx",
            fixture("wrong_layout.xlsx"),
            true,
        );
        assert_eq!(res.status(), 422);
        assert!(res.text().unwrap().contains("表の形式が分かりません"));
        let n: i64 = imports::table
            .count()
            .get_result(&mut *app.db.conn())
            .unwrap();
        assert_eq!(n, 0);
        assert_eq!(count(&app), 50);
        // Area officers do not keep the master.
        let area = app.signed_in("demo-area");
        assert_eq!(
            area.get(app.url("/institutions/import"))
                .send()
                .unwrap()
                .status(),
            403
        );
    }

    #[test]
    fn search_by_kana_code_and_flags_with_csv() {
        let app = demo_app();
        let officer = app.signed_in("demo-officer");
        use kakari::services::imports::{By, institutions as master};
        let target = master::load_target(&mut app.db.conn(), "46").unwrap();
        let grid = kakari::import::read_grid(
            "a.xlsx",
            &fixture("kagoshima_ika_small.xlsx"),
            &kakari::import::Limits::default(),
        )
        .unwrap();
        let parsed = kakari::import::institutions::parse(&grid, 46).unwrap();
        master::apply_parsed(&mut app.db.conn(), &parsed, &target, &By::system("cli")).unwrap();
        // 有村クリニック (serial 13) found by hiragana, and by its 7 printed digits.
        let page = officer
            .get(app.url("/institutions?q=有村+ｸﾘﾆｯｸ"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(
            page.contains("有村クリニック"),
            "half-width kana and a space find it"
        );
        let page = officer
            .get(app.url("/institutions?q=有村くりにっく"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(page.contains("有村クリニック"), "hiragana finds katakana");
        let page = officer
            .get(app.url("/institutions?code=16-5138-3"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(page.contains("id=\"result-count\">1<"), "7-digit code");
        assert!(page.contains("4611651383"));
        let res = officer
            .get(app.url("/institutions?code=12345"))
            .send()
            .unwrap();
        assert_eq!(res.status(), 422);
        assert!(res.text().unwrap().contains("7桁"));
        // The area officer's search stays inside 姶良保健所.
        let area = app.signed_in("demo-area");
        let page = area
            .get(app.url("/institutions?code=16-5138-3"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(
            page.contains("id=\"result-count\">0<"),
            "いちき串木野市 is not the area's"
        );

        let res = officer
            .get(app.url("/institutions.csv?q=HYPERLINK"))
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
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "BOM for Excel");
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert!(text.starts_with("医療機関コード,名称,"));
        assert!(text.contains("'=HYPERLINK"), "formula defused: {text}");
        let records = csv::Reader::from_reader(text.as_bytes()).records().count();
        assert_eq!(records, 1, "one institution matches");
    }

    #[test]
    fn officers_edit_contacts_and_override_the_target_with_a_reason() {
        let app = demo_app();
        let officer = app.signed_in("demo-officer");
        let id: i32 = institutions::table
            .filter(institutions::category.eq("dental"))
            .select(institutions::id)
            .first(&mut *app.db.conn())
            .unwrap();
        let path = format!("/institutions/{id}");
        let fields = |reason: &'static str| {
            vec![
                ("email", "shika@example.jp"),
                ("phone", "０９９－２２２－１１１１"),
                ("paper", "1"),
                ("status", "active"),
                ("municipality", ""),
                ("target_override", "1"),
                ("reason", reason),
            ]
        };
        let res = app.post_form(&officer, &path, &path, &fields(""));
        assert_eq!(res.status(), 422);
        let body = res.text().unwrap();
        assert!(body.contains("理由を入力してください"));
        assert!(
            body.contains("value=\"shika@example.jp\""),
            "typed values are kept"
        );
        let res = app.post_form(&officer, &path, &path, &fields("県の判断で対象とする"));
        assert_eq!(res.status(), 200);
        let body = res.text().unwrap();
        assert!(body.contains("保存しました"));
        assert!(
            body.contains("県の判断で対象とする"),
            "history shows the reason"
        );
        let (is_target, phone, paper): (bool, Option<String>, bool) = institutions::table
            .find(id)
            .select((
                institutions::is_target,
                institutions::phone,
                institutions::paper_report,
            ))
            .first(&mut *app.db.conn())
            .unwrap();
        assert!(is_target, "a dental clinic made a target by hand");
        assert_eq!(
            phone.as_deref(),
            Some("099-222-1111"),
            "full-width digits folded"
        );
        assert!(paper);
        // An area officer cannot reach an institution of another area.
        let area_id: Option<i32> = kakari::db::schema::users::table
            .filter(kakari::db::schema::users::login_id.eq("demo-area"))
            .select(kakari::db::schema::users::area_id)
            .first(&mut *app.db.conn())
            .unwrap();
        let other: i32 = institutions::table
            .filter(institutions::jurisdiction_id.ne(area_id))
            .select(institutions::id)
            .first(&mut *app.db.conn())
            .unwrap();
        let area = app.signed_in("demo-area");
        let p = format!("/institutions/{other}");
        let page = area
            .get(app.url("/institutions"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        let res = area
            .post(app.url(&p))
            .form(&[("csrf", csrf_of(&page).as_str()), ("status", "abolished")])
            .send()
            .unwrap();
        assert_eq!(res.status(), 404);
        app.db.assert_review_index();
    }
}
