//! 紙報告 (issue 18): the paper reporters set and cleared in bulk from the institution
//! search, and counted per health center, as the officers who keep the list.

use diesel::prelude::*;
use kakari::db::schema::{audit_log, institutions, users};

use crate::support::{DEMO_PASSWORD, TestApp, csrf_of};

fn app() -> TestApp {
    TestApp::spawn_with(|conn| {
        kakari::demo::load(conn, 300, 1, false, DEMO_PASSWORD).unwrap();
    })
}

fn text(c: &reqwest::blocking::Client, app: &TestApp, path: &str) -> String {
    let res = c.get(app.url(path)).send().unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.text().unwrap()
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html.find(start).unwrap_or_else(|| panic!("{start}")) + start.len();
    let to = html[from..].find(end).unwrap() + from;
    &html[from..to]
}

fn paper_of(conn: &mut kakari::db::DbConnection, ids: &[i32]) -> Vec<bool> {
    ids.iter()
        .map(|id| {
            institutions::table
                .find(id)
                .select(institutions::paper_report)
                .first(conn)
                .unwrap()
        })
        .collect()
}

#[test]
fn a_health_center_ticks_its_paper_reporters_and_a_forged_id_is_dropped() {
    let app = app();
    let conn = &mut *app.db.conn();
    let area: i32 = demo_area(conn);
    let mine: Vec<i32> = institutions::table
        .filter(institutions::jurisdiction_id.eq(area))
        .filter(institutions::paper_report.eq(false))
        .select(institutions::id)
        .order(institutions::code)
        .limit(2)
        .load(conn)
        .unwrap();
    let other: i32 = institutions::table
        .filter(institutions::jurisdiction_id.ne(area))
        .filter(institutions::paper_report.eq(false))
        .select(institutions::id)
        .first(conn)
        .unwrap();
    let officer = app.signed_in("demo-area");
    let before = text(&officer, &app, "/paper");
    let before_total: i64 = between(&before, "id=\"paper-total\">", "<")
        .parse()
        .unwrap();
    let search = text(&officer, &app, "/institutions?target=1");
    assert!(search.contains("id=\"paper-set\""));
    let asked = format!(
        "/paper/flags?target=1&set=1&institution={}&institution={}&institution={other}",
        mine[0], mine[1]
    );
    let preview = text(&officer, &app, &asked);
    assert_eq!(between(&preview, "id=\"flag-count\">", " 件"), "2");
    assert!(preview.contains("担当範囲外か見つからない 1 件"));
    let mut form: Vec<(&str, String)> = vec![("csrf", csrf_of(&preview)), ("set", "1".into())];
    form.extend(
        [mine[0], mine[1], other]
            .iter()
            .map(|id| ("institution", id.to_string())),
    );
    let res = officer
        .post(app.url("/paper/flags"))
        .form(&form)
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let done = res.text().unwrap();
    assert!(done.contains("2 件を紙報告にしました"), "{done}");
    assert_eq!(paper_of(conn, &mine), [true, true]);
    assert_eq!(
        paper_of(conn, &[other]),
        [false],
        "another area's is untouched"
    );
    let audited: i64 = audit_log::table
        .filter(audit_log::action.eq("institution_update"))
        .filter(audit_log::detail.like("%\"bulk\":true%"))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(audited, 2);
    let after = text(&officer, &app, "/paper");
    let after_total: i64 = between(&after, "id=\"paper-total\">", "<").parse().unwrap();
    assert_eq!(after_total, before_total + 2);
    // The review search shows the flag at once.
    assert!(text(&officer, &app, "/review?paper=1").contains(&{
        let code: String = institutions::table
            .find(mine[0])
            .select(institutions::code)
            .first(conn)
            .unwrap();
        code
    }));
}

#[test]
fn every_result_of_a_search_is_flagged_only_if_the_search_still_finds_as_many() {
    let app = app();
    let conn = &mut *app.db.conn();
    let municipality: i32 = institutions::table
        .filter(institutions::is_target.eq(true))
        .select(institutions::municipality_id.assume_not_null())
        .first(conn)
        .unwrap();
    let ids: Vec<i32> = institutions::table
        .filter(institutions::municipality_id.eq(municipality))
        .filter(institutions::is_target.eq(true))
        .select(institutions::id)
        .load(conn)
        .unwrap();
    let officer = app.signed_in("demo-officer");
    let query = format!("municipality={municipality}&target=1");
    let preview = text(&officer, &app, &format!("/paper/flags?{query}&all=1&set=1"));
    assert_eq!(
        between(&preview, "id=\"flag-count\">", " 件"),
        ids.len().to_string()
    );
    let post = |expected: usize| {
        officer
            .post(app.url("/paper/flags"))
            .form(&[
                ("csrf", csrf_of(&preview)),
                ("set", "1".into()),
                ("all", "1".into()),
                ("expected", expected.to_string()),
                ("municipality", municipality.to_string()),
                ("target", "1".into()),
            ])
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    // The list changed since the preview (one more or one fewer): nothing changes.
    let before = paper_of(conn, &ids);
    let stale = post(ids.len() + 1);
    assert!(stale.contains("検索結果が変わりました"), "{stale}");
    assert_eq!(paper_of(conn, &ids), before, "nothing changed");
    let done = post(ids.len());
    assert!(done.contains("を紙報告にしました"));
    assert!(paper_of(conn, &ids).iter().all(|p| *p));
    // Cleared again the same way.
    let clear = text(&officer, &app, &format!("/paper/flags?{query}&all=1&set=0"));
    assert!(clear.contains("紙報告から外します"));
    // Nothing ticked: a message, not an error page.
    let nothing = text(&officer, &app, "/paper/flags?target=1&set=1");
    assert!(nothing.contains("医療機関を選んでください"));
}

/// The institution of the area with a confirmed report last year and NDB counts this
/// year, and one of another area.
/// The area of the demo's health-center officer (demo-area).
pub(crate) fn demo_area(conn: &mut kakari::db::DbConnection) -> i32 {
    users::table
        .filter(users::login_id.eq("demo-area"))
        .select(users::area_id.assume_not_null())
        .first(conn)
        .unwrap()
}

/// Makes `id` the area's one paper reporter.
fn only_paper_reporter(conn: &mut kakari::db::DbConnection, area: i32, id: i32) {
    diesel::update(institutions::table.filter(institutions::jurisdiction_id.eq(area)))
        .set(institutions::paper_report.eq(false))
        .execute(conn)
        .unwrap();
    diesel::update(institutions::table.find(id))
        .set(institutions::paper_report.eq(true))
        .execute(conn)
        .unwrap();
}

pub(crate) fn form_subjects(
    conn: &mut kakari::db::DbConnection,
    area: i32,
    fy: i32,
) -> (i32, String, i32) {
    use kakari::db::schema::{ndb_counts, reports};
    let confirmed_last_year: Vec<i32> = reports::table
        .filter(reports::fiscal_year.eq(fy - 1))
        .filter(reports::status.eq("confirmed"))
        .select(reports::institution_id)
        .load(conn)
        .unwrap();
    let with_ndb: Vec<String> = ndb_counts::table
        .filter(ndb_counts::fiscal_year.eq(fy))
        .filter(ndb_counts::count.gt(0))
        .select(ndb_counts::institution_code)
        .distinct()
        .load(conn)
        .unwrap();
    // Not filed this year (no report, or a draft): a form for it can still be entered.
    let filed: Vec<i32> = reports::table
        .filter(reports::fiscal_year.eq(fy))
        .filter(reports::status.ne("draft"))
        .select(reports::institution_id)
        .load(conn)
        .unwrap();
    let (id, code): (i32, String) = institutions::table
        .filter(institutions::jurisdiction_id.eq(area))
        .filter(institutions::is_target.eq(true))
        .filter(institutions::id.eq_any(&confirmed_last_year))
        .filter(institutions::id.ne_all(&filed))
        .filter(institutions::code.eq_any(&with_ndb))
        .select((institutions::id, institutions::code))
        .first(conn)
        .unwrap();
    let elsewhere: i32 = institutions::table
        .filter(institutions::jurisdiction_id.ne(area))
        .select(institutions::id)
        .first(conn)
        .unwrap();
    (id, code, elsewhere)
}

#[test]
fn paper_forms_print_pre_printed_one_institution_per_page_run() {
    let app = crate::season::with_season();
    let fy = crate::reports::fiscal_year();
    let conn = &mut *app.db.conn();
    let area: i32 = demo_area(conn);
    let (id, code, elsewhere) = form_subjects(conn, area, fy);
    only_paper_reporter(conn, area, id);
    let officer = app.signed_in("demo-area");
    let one = text(&officer, &app, &format!("/paper/forms/{id}"));
    assert!(one.contains(&format!("id=\"form-{code}\"")));
    assert!(one.contains("調査票"));
    assert!(
        one.contains("<span class=\"pre\">NDB</span>"),
        "NDB counts pre-printed"
    );
    assert!(
        one.contains("<span class=\"pre\">前回</span>"),
        "last answers pre-printed"
    );
    assert!(one.contains("☑"), "a pre-printed choice is ticked");
    assert!(one.contains(" 回"), "counts carry their unit");
    let all = text(&officer, &app, &format!("/paper/forms?jurisdiction={area}"));
    assert!(
        all.contains("1 医療機関分"),
        "only the area's paper reporter"
    );
    assert!(all.contains(&format!("id=\"form-{code}\"")));
    // Another area's institution is not found; the prefecture's officer sees it.
    let res = officer
        .get(app.url(&format!("/paper/forms/{elsewhere}")))
        .send()
        .unwrap();
    assert_eq!(res.status(), 404);
    let prefecture = app.signed_in("demo-officer");
    assert!(text(&prefecture, &app, &format!("/paper/forms/{elsewhere}")).contains("調査票"));
}

fn cell_text(range: &calamine::Range<calamine::Data>, row: u32, col: u32) -> String {
    range
        .get_value((row, col))
        .map(|v| v.to_string())
        .unwrap_or_default()
}

#[test]
fn excel_forms_carry_their_identity_and_every_item_for_one_or_an_area() {
    use calamine::Reader;
    let app = crate::season::with_season();
    let fy = crate::reports::fiscal_year();
    let conn = &mut *app.db.conn();
    let area: i32 = demo_area(conn);
    let (id, code, elsewhere) = form_subjects(conn, area, fy);
    only_paper_reporter(conn, area, id);
    let officer = app.signed_in("demo-area");
    let res = officer
        .get(app.url(&format!("/paper/forms/{id}/xlsx")))
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".xlsx")
    );
    let bytes = res.bytes().unwrap().to_vec();
    let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let names = book.sheet_names();
    assert_eq!(names, ["調査票", "_kakari"]);
    let hidden = book.worksheet_range("_kakari").unwrap();
    assert_eq!(cell_text(&hidden, 0, 0), "kakari-form");
    assert_eq!(cell_text(&hidden, 1, 1), fy.to_string());
    assert_eq!(cell_text(&hidden, 2, 1), code);
    assert_eq!(cell_text(&hidden, 4, 1).len(), 16, "checksum");
    let sheet = book.worksheet_range("調査票").unwrap();
    assert_eq!(cell_text(&sheet, 2, 1), code, "the code cell B3");
    let catalog =
        kakari::domain::catalog::Catalog::parse(kakari::domain::catalog::shipped(fy).unwrap())
            .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut ndb_rows = 0;
    for row in 10..sheet.height() as u32 {
        let item = cell_text(&sheet, row, 0);
        let role = cell_text(&sheet, row, 5);
        if item.is_empty() {
            continue;
        }
        assert!(
            kakari::domain::paper_form::Role::from_code(&role).is_some(),
            "row {row}: {role}"
        );
        if cell_text(&sheet, row, 4) == "NDB" {
            ndb_rows += 1;
            assert!(
                cell_text(&sheet, row, 2).parse::<f64>().is_ok(),
                "an NDB count is a number"
            );
            assert_eq!(cell_text(&sheet, row, 3), "回");
        }
        seen.insert(item);
    }
    let expected: std::collections::BTreeSet<String> =
        catalog.items.iter().map(|i| i.code.clone()).collect();
    assert_eq!(seen, expected, "every item of the catalog");
    assert!(ndb_rows > 0, "NDB counts pre-printed");
    // The area's paper reporters as a ZIP of one workbook; another area's: not found.
    let zip = officer
        .get(app.url(&format!("/paper/forms.zip?jurisdiction={area}")))
        .send()
        .unwrap();
    assert_eq!(zip.status(), 200);
    let archive =
        zip::ZipArchive::new(std::io::Cursor::new(zip.bytes().unwrap().to_vec())).unwrap();
    assert_eq!(archive.len(), 1);
    let name = archive.name_for_index(0).unwrap().unwrap().to_string();
    assert_eq!(name, format!("調査票_{fy}_{code}.xlsx"));
    let res = officer
        .get(app.url(&format!("/paper/forms/{elsewhere}/xlsx")))
        .send()
        .unwrap();
    assert_eq!(res.status(), 404);
    // The command line writes the same form for the IT staff.
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("form.xlsx");
    let run = |args: &[&str]| app.kakari(args);
    let fy_text = fy.to_string();
    let done = run(&[
        "forms",
        "xlsx",
        "--fy",
        &fy_text,
        "--institution",
        &code,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(std::fs::read(&out).unwrap().starts_with(b"PK"));
    let wrong = run(&[
        "forms",
        "xlsx",
        "--fy",
        &fy_text,
        "--paper",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains(".zip"));
}

#[test]
fn filled_forms_are_checked_file_by_file_with_a_clear_line_each() {
    let app = crate::season::with_season();
    let fy = crate::reports::fiscal_year();
    let code: String = {
        let conn = &mut *app.db.conn();
        let area: i32 = demo_area(conn);
        form_subjects(conn, area, fy).1
    };
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        let out = app.kakari(args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (fy_text, last_text) = (fy.to_string(), (fy - 1).to_string());
    let form = path("form.xlsx");
    let old = path("old.xlsx");
    for (year, file) in [(&fy_text, &form), (&last_text, &old)] {
        let (ok, _, err) = run(&[
            "forms",
            "xlsx",
            "--fy",
            year,
            "--institution",
            &code,
            "-o",
            file,
        ]);
        assert!(ok, "{err}");
    }
    std::fs::write(path("empty.xlsx"), b"").unwrap();
    std::fs::write(path("broken.zip"), b"PK\x03\x04not really a zip").unwrap();
    let bureau = format!(
        "{}/tests/fixtures/bureau/kagoshima_ika_small.xlsx",
        env!("CARGO_MANIFEST_DIR")
    );
    // The pre-printed form as it is: accepted, with what applying it would do.
    let (ok, out, err) = run(&["import", "forms", "--dry-run", "--fy", &fy_text, &form]);
    assert!(ok, "{out}{err}");
    assert!(
        out.starts_with("OK form.xlsx: ") && out.contains(&code),
        "{out}"
    );
    // Every kind of wrong file: one line each, nothing else, exit 1.
    let (ok, out, err) = run(&[
        "import",
        "forms",
        "--dry-run",
        "--fy",
        &fy_text,
        &form,
        &old,
        &path("empty.xlsx"),
        &path("broken.zip"),
        &bureau,
    ]);
    assert!(!ok);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0].starts_with("OK "), "{out}");
    assert!(
        lines[1].starts_with("NG old.xlsx") && lines[1].contains("の調査票です"),
        "{out}"
    );
    assert!(lines[2].starts_with("NG empty.xlsx"), "{out}");
    assert!(lines[3].starts_with("NG broken.zip"), "{out}");
    assert!(lines[4].contains("調査票のシート"), "{out}");
    assert!(err.contains("4 件の調査票を受け付けられません"), "{err}");
    assert!(!out.contains("panicked") && !err.contains("panicked"));
    // The demo clinic's own report (sent back to it) is not replaced unless asked.
    let clinic_code: String = {
        let conn = &mut *app.db.conn();
        institutions::table
            .inner_join(users::table.on(users::institution_id.eq(institutions::id.nullable())))
            .filter(users::login_id.eq("demo-clinic"))
            .select(institutions::code)
            .first(conn)
            .unwrap()
    };
    let clinic_form = path("clinic.xlsx");
    let (ok, _, err) = run(&[
        "forms",
        "xlsx",
        "--fy",
        &fy_text,
        "--institution",
        &clinic_code,
        "-o",
        &clinic_form,
    ]);
    assert!(ok, "{err}");
    let (ok, out, _) = run(&[
        "import",
        "forms",
        "--dry-run",
        "--fy",
        &fy_text,
        &clinic_form,
    ]);
    assert!(
        !ok && out.contains("医療機関が入力中の下書きがあります"),
        "{out}"
    );
    let (ok, out, err) = run(&[
        "import",
        "forms",
        "--dry-run",
        "--overwrite",
        "--fy",
        &fy_text,
        &clinic_form,
    ]);
    assert!(ok && out.contains("上書き"), "{out}{err}");
    // Writing needs the officer the drafts are entered as.
    let (ok, _, err) = run(&["import", "forms", &form]);
    assert!(!ok && err.contains("--as"), "{err}");
    let (ok, _, err) = run(&["import", "forms", "--as", "demo-clinic", &form]);
    assert!(
        !ok && err.contains("demo-clinic"),
        "a clinic is no officer: {err}"
    );

    // Applied: the institution's proxy draft holds exactly what the form says; again,
    // the same draft; with --submit, a complete form is reported.
    let expected = {
        let conn = &mut *app.db.conn();
        let key = kakari::db::links::key(conn).unwrap();
        let bytes = std::fs::read(&form).unwrap();
        let read = kakari::services::paper::read::read(
            "form.xlsx",
            &bytes,
            &kakari::import::Limits::default(),
            &key,
        )
        .unwrap();
        let catalog =
            kakari::domain::catalog::Catalog::parse(kakari::domain::catalog::shipped(fy).unwrap())
                .unwrap();
        kakari::domain::paper_form::read(&catalog, &read.cells).0
    };
    let draft = || {
        use kakari::db::schema::reports;
        let conn = &mut *app.db.conn();
        let id: i32 = institutions::table
            .filter(institutions::code.eq(&code))
            .select(institutions::id)
            .first(conn)
            .unwrap();
        reports::table
            .filter(reports::institution_id.eq(id))
            .filter(reports::fiscal_year.eq(fy))
            .select((
                reports::id,
                reports::status,
                reports::proxy,
                reports::answers,
            ))
            .load::<(i32, String, bool, String)>(conn)
            .unwrap()
    };
    for _ in 0..2 {
        let (ok, out, err) = run(&[
            "import",
            "forms",
            "--as",
            "demo-area",
            "--fy",
            &fy_text,
            &form,
        ]);
        assert!(ok, "{out}{err}");
        assert!(out.contains("下書きにしました"), "{out}");
        let rows = draft();
        assert_eq!(rows.len(), 1, "one report, however often imported");
        let (_, status, proxy, answers) = &rows[0];
        assert_eq!((status.as_str(), *proxy), ("draft", true));
        let answers: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(answers).unwrap();
        assert_eq!(answers, expected, "the draft equals the form");
    }
    let audited: i64 = {
        use kakari::db::schema::audit_log;
        audit_log::table
            .filter(audit_log::action.eq("paper_form_import"))
            .count()
            .get_result(&mut *app.db.conn())
            .unwrap()
    };
    assert_eq!(audited, 2);
    let (ok, out, err) = run(&[
        "import",
        "forms",
        "--as",
        "demo-area",
        "--fy",
        &fy_text,
        "--submit",
        &form,
    ]);
    assert!(ok, "{out}{err}");
    // Pre-printed from a confirmed report, the form is complete as it is.
    assert!(
        out.contains("すべて回答済") && out.contains("報告しました"),
        "{out}"
    );
    assert_eq!(draft()[0].1, "submitted");
    // Now the form is refused: the report was filed.
    let (ok, out, _) = run(&["import", "forms", "--as", "demo-area", &form]);
    assert!(
        !ok && out.contains("報告済です。変更報告として入力してください"),
        "{out}"
    );
}

fn upload_forms(
    app: &TestApp,
    c: &reqwest::blocking::Client,
    name: &str,
    bytes: Vec<u8>,
    fy: i32,
) -> reqwest::blocking::Response {
    use reqwest::blocking::multipart::{Form, Part};
    let page = text(c, app, "/paper/imports");
    let form = Form::new()
        .text("csrf", csrf_of(&page))
        .text("fiscal_year", fy.to_string())
        .part("file", Part::bytes(bytes).file_name(name.to_string()));
    c.post(app.url("/paper/imports"))
        .multipart(form)
        .send()
        .unwrap()
}

#[test]
fn an_officer_uploads_filled_forms_sees_each_file_then_applies_them_as_drafts() {
    use std::io::Write;
    let app = crate::season::with_season();
    let fy = crate::reports::fiscal_year();
    let (id, code) = {
        let conn = &mut *app.db.conn();
        let area: i32 = demo_area(conn);
        let (id, code, _) = form_subjects(conn, area, fy);
        (id, code)
    };
    let officer = app.signed_in("demo-area");
    let form = officer
        .get(app.url(&format!("/paper/forms/{id}/xlsx")))
        .send()
        .unwrap()
        .bytes()
        .unwrap()
        .to_vec();
    // A ZIP of the form and a workbook that is no form.
    let bureau = std::fs::read(format!(
        "{}/tests/fixtures/bureau/kagoshima_ika_small.xlsx",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in [("記入済み.xlsx", &form), ("一覧表.xlsx", &bureau)] {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    let zipped = zip.finish().unwrap().into_inner();
    let res = upload_forms(&app, &officer, "返送分.zip", zipped, fy);
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let preview = text(&officer, &app, &location);
    assert!(
        preview.contains("id=\"import-accepted\">1</strong> / 2 件"),
        "{preview}"
    );
    assert!(preview.contains(&code) && preview.contains("調査票のシート"));
    assert!(preview.contains("新しい下書き"));
    // Nothing is written before applying.
    let reports_of = || -> Vec<(String, bool)> {
        use kakari::db::schema::reports;
        reports::table
            .filter(reports::institution_id.eq(id))
            .filter(reports::fiscal_year.eq(fy))
            .select((reports::status, reports::proxy))
            .load(&mut *app.db.conn())
            .unwrap()
    };
    assert!(reports_of().is_empty());
    // The prefecture's officer sees the area's import; applying writes the draft.
    assert!(text(&app.signed_in("demo-officer"), &app, &location).contains("返送分.zip"));
    let apply = app.post_form(&officer, &location, &format!("{location}/apply"), &[]);
    assert_eq!(apply.status(), 303);
    let done = text(&officer, &app, &location);
    assert!(done.contains("下書きにしました"), "{done}");
    let report_id: i32 = {
        use kakari::db::schema::reports;
        reports::table
            .filter(reports::institution_id.eq(id))
            .filter(reports::fiscal_year.eq(fy))
            .select(reports::id)
            .first(&mut *app.db.conn())
            .unwrap()
    };
    assert!(
        done.contains(&format!("href=\"/reports/{report_id}\"")),
        "the result links the draft it wrote: {done}"
    );
    assert_eq!(reports_of(), [("draft".to_string(), true)]);
    // Applied once: a second apply is refused, nothing more written.
    let again = app.post_form(&officer, &location, &format!("{location}/apply"), &[]);
    assert_eq!(again.status(), 409);
    assert_eq!(reports_of().len(), 1);
    // An empty upload comes back with its message.
    let res = upload_forms(&app, &officer, "空.xlsx", Vec::new(), fy);
    assert_eq!(res.status(), 422);
    assert!(res.text().unwrap().contains("ファイルを選んでください"));
}
