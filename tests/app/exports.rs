//! データ出力 as officers use it, every file read back by other programs: Python's csv
//! module (utf-8-sig and cp932), calamine and LibreOffice for xlsx, field by field
//! against the database; formula cells, CP932 replacements, scopes and refusals.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use calamine::{Data, Reader, Xlsx};
use diesel::prelude::*;
use kakari::db::schema::{institutions, report_versions, reports};
use kakari::domain::catalog::{Catalog, Kind};
use reqwest::blocking::Client;
use serde_json::Value;

use crate::reports::{fiscal_year, location};
use crate::support::{TestApp, csrf_of};

/// Asks for a 全項目CSV on the page, follows its progress and downloads it: the result
/// page and the file.
fn export(app: &TestApp, c: &Client, fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let fy = fiscal_year().to_string();
    let page = c
        .get(app.url(&format!("/exports/reports?fy={fy}&status=all")))
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().unwrap();
    assert!(page.contains("id=\"not-for-publication\""));
    let csrf = csrf_of(&page);
    let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf), ("fy", &fy)];
    form.extend_from_slice(fields);
    let res = c
        .post(app.url("/exports/reports"))
        .form(&form)
        .send()
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().unwrap_or_default());
    let at = location(&res);
    assert!(at.starts_with("/exports/files/"), "{at}");
    let start = Instant::now();
    let result = loop {
        let text = c.get(app.url(&at)).send().unwrap().text().unwrap();
        if text.contains("id=\"export-done\"") || text.contains("id=\"export-error\"") {
            break text;
        }
        assert!(
            text.contains("http-equiv=\"refresh\""),
            "the page follows the work"
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "not done: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(result.contains("id=\"export-done\""), "{result}");
    let file = c.get(app.url(&format!("{at}/download"))).send().unwrap();
    assert_eq!(file.status(), 200);
    let disposition = file.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
    (result, file.bytes().unwrap().to_vec())
}

/// The rows of a CSV as Python's csv module reads them in `encoding`.
fn python_csv(bytes: &[u8], encoding: &str) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import csv, json, sys\n\
             with open(sys.argv[1], encoding=sys.argv[2], newline='') as f:\n\
             \x20   json.dump(list(csv.reader(f)), sys.stdout, ensure_ascii=False)",
        )
        .arg(&path)
        .arg(encoding)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A stored report version as the test reads it from the database.
struct Stored {
    name: String,
    kind: String,
    versions: i32,
    answers: serde_json::Map<String, Value>,
}

/// The latest version of every filed report of the year, by (code, kind).
fn stored(app: &TestApp) -> HashMap<(String, String), Stored> {
    let conn = &mut *app.db.conn();
    let rows: Vec<(String, String, String, i32, String)> = report_versions::table
        .inner_join(reports::table.inner_join(institutions::table))
        .filter(reports::fiscal_year.eq(fiscal_year()))
        .filter(report_versions::number.eq(reports::versions))
        .select((
            institutions::code,
            institutions::name,
            reports::kind,
            reports::versions,
            report_versions::answers,
        ))
        .load(conn)
        .unwrap();
    rows.into_iter()
        .map(|(code, name, kind, versions, answers)| {
            let kind_label = kakari::domain::report::ReportKind::from_code(&kind)
                .unwrap()
                .label()
                .to_string();
            (
                (code, kind_label.clone()),
                Stored {
                    name,
                    kind: kind_label,
                    versions,
                    answers: serde_json::from_str(&answers).unwrap(),
                },
            )
        })
        .collect()
}

fn catalog() -> Catalog {
    Catalog::parse(kakari::domain::catalog::shipped(fiscal_year()).unwrap()).unwrap()
}

/// Checks every data row against the database, by the item codes of the second
/// header row; returns how many rows were checked.
fn check_rows(
    rows: &[Vec<String>],
    db: &HashMap<(String, String), Stored>,
    unguard: bool,
) -> usize {
    let codes = &rows[1];
    let col = |code: &str| {
        codes
            .iter()
            .position(|c| c == code)
            .unwrap_or_else(|| panic!("{code}"))
    };
    let catalog = catalog();
    let text = |cell: &str| -> String {
        match (unguard, cell.strip_prefix('\'')) {
            (true, Some(rest)) if rest.starts_with(['=', '+', '-', '@', '＝']) => rest.to_string(),
            _ => cell.to_string(),
        }
    };
    for row in &rows[2..] {
        let key = (
            row[col("institution_code")].clone(),
            row[col("kind")].clone(),
        );
        let s = db
            .get(&key)
            .unwrap_or_else(|| panic!("{key:?} not in the database"));
        assert_eq!(text(&row[col("name")]), s.name);
        assert_eq!(row[col("kind")], s.kind);
        assert_eq!(row[col("version")], s.versions.to_string());
        for (key, value) in &s.answers {
            if let Some(code) = key.strip_suffix(":other") {
                assert_eq!(
                    text(&row[col(&format!("{code}:other"))]),
                    value.as_str().unwrap()
                );
                continue;
            }
            let item = catalog.item(key).unwrap_or_else(|| panic!("item {key}"));
            match (item.kind, value) {
                (Kind::Multi, Value::Array(chosen)) => {
                    for choice in &item.choices {
                        let on = chosen.iter().any(|c| c.as_i64() == Some(choice.code));
                        let cell = &row[col(&format!("{key}:{}", choice.code))];
                        assert_eq!(cell, if on { "1" } else { "0" }, "{key}:{}", choice.code);
                    }
                }
                (Kind::Names, Value::Array(names)) => {
                    for (i, n) in names.iter().enumerate() {
                        assert_eq!(
                            text(&row[col(&format!("{key}:{}", i + 1))]),
                            n.as_str().unwrap()
                        );
                    }
                }
                (_, Value::Number(n)) => {
                    let cell: f64 = row[col(key)].parse().unwrap_or_else(|_| panic!("{key}"));
                    assert_eq!(cell, n.as_f64().unwrap(), "{key}");
                }
                (_, Value::String(t)) => assert_eq!(text(&row[col(key)]), *t, "{key}"),
                other => panic!("unexpected answer {other:?}"),
            }
        }
    }
    rows.len() - 2
}

/// Gives a filed institution a name that is a formula and holds characters outside
/// CP932 (𠮷) and one CP932 writes differently (〜); returns its code and the name.
fn hostile_name(app: &TestApp) -> (String, String) {
    let conn = &mut *app.db.conn();
    let (id, code): (i32, String) = reports::table
        .inner_join(institutions::table)
        .filter(reports::fiscal_year.eq(fiscal_year()))
        .filter(reports::versions.gt(0))
        .select((institutions::id, institutions::code))
        .order(institutions::code)
        .first(conn)
        .unwrap();
    let name = "=HYPERLINK(\"http://x\")𠮷田〜内科".to_string();
    diesel::update(institutions::table.find(id))
        .set(institutions::name.eq(&name))
        .execute(conn)
        .unwrap();
    (code, name)
}

#[test]
fn the_full_export_reads_back_in_python_as_utf8_and_cp932_field_by_field() {
    let app = crate::season::with_season();
    let (code, name) = hostile_name(&app);
    let c = app.signed_in("demo-officer");
    let db = stored(&app);
    // UTF-8 with a BOM, every filed report, a second row of codes.
    let (result, bytes) = export(
        &app,
        &c,
        &[
            ("status", "all"),
            ("codes", "1"),
            ("format", "csv"),
            ("encoding", "utf-8-bom"),
        ],
    );
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let rows = python_csv(&bytes, "utf-8-sig");
    assert_eq!(rows[0][0], "医療機関コード");
    assert_eq!(rows[1][0], "institution_code");
    assert!(
        rows.iter().all(|r| r.len() == rows[0].len()),
        "every row has every column"
    );
    let checked = check_rows(&rows, &db, true);
    assert_eq!(checked, db.len(), "every filed report, one row each");
    assert!(
        result.contains(&format!("<strong id=\"export-rows\">{checked}</strong>")),
        "{result}"
    );
    let formula = rows.iter().find(|r| r[0] == code).unwrap();
    assert_eq!(
        formula[1],
        format!("'{name}"),
        "the formula cannot run in Excel"
    );
    // Shift_JIS: 𠮷 is replaced and counted; the wave dash becomes Windows' tilde.
    let (result, bytes) = export(
        &app,
        &c,
        &[("status", "all"), ("codes", "1"), ("encoding", "cp932")],
    );
    let rows = python_csv(&bytes, "cp932");
    let formula = rows.iter().find(|r| r[0] == code).unwrap();
    assert_eq!(formula[1], "'=HYPERLINK(\"http://x\")〓田～内科");
    assert!(result.contains("id=\"export-replaced\""), "{result}");
    // Only confirmed reports by default.
    let (_, bytes) = export(&app, &c, &[("codes", "1")]);
    let rows = python_csv(&bytes, "utf-8-sig");
    assert!(rows.len() > 2);
    let status = rows[1].iter().position(|c| c == "status").unwrap();
    assert!(rows[2..].iter().all(|r| r[status] == "確認済"));
}

/// Cell (row, column) of a sheet as text, the way a person reads it.
fn cell_text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

fn xlsx_rows(path: &Path) -> Vec<Vec<String>> {
    let mut book: Xlsx<_> = calamine::open_workbook(path).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    range
        .rows()
        .map(|r| r.iter().map(cell_text).collect())
        .collect()
}

#[test]
fn the_xlsx_export_opens_in_calamine_and_libreoffice_with_text_as_text() {
    let app = crate::season::with_season();
    let (code, name) = hostile_name(&app);
    let c = app.signed_in("demo-officer");
    let db = stored(&app);
    let (_, bytes) = export(
        &app,
        &c,
        &[("status", "all"), ("codes", "1"), ("format", "xlsx")],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.xlsx");
    std::fs::write(&path, &bytes).unwrap();
    let rows = xlsx_rows(&path);
    assert_eq!(check_rows(&rows, &db, false), db.len());
    let row = rows.iter().find(|r| r[0] == code).unwrap();
    assert_eq!(
        row[1], name,
        "xlsx text is never a formula: nothing is added"
    );
    // LibreOffice (headless) converts it to CSV: the same cells.
    let out = Command::new("soffice")
        .args([
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",
        ])
        .arg("--outdir")
        .arg(dir.path())
        .arg(&path)
        .env("HOME", dir.path())
        .output()
        .expect("LibreOffice (soffice) is installed by .ci/run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let converted = std::fs::read(dir.path().join("export.csv")).unwrap();
    let rows = python_csv(&converted, "utf-8-sig");
    assert_eq!(check_rows(&rows, &db, false), db.len());
    assert_eq!(rows.iter().find(|r| r[0] == code).unwrap()[1], name);
}

#[test]
fn an_area_officer_exports_its_area_only_and_clinics_and_other_users_get_nothing() {
    let app = crate::season::with_season();
    let area = app.signed_in("demo-area");
    let (_, bytes) = export(&app, &area, &[("status", "all"), ("codes", "1")]);
    let rows = python_csv(&bytes, "utf-8-sig");
    let conn = &mut *app.db.conn();
    let jurisdiction: i32 = kakari::db::schema::users::table
        .filter(kakari::db::schema::users::login_id.eq("demo-area"))
        .select(kakari::db::schema::users::area_id.assume_not_null())
        .first(conn)
        .unwrap();
    let own: Vec<String> = institutions::table
        .filter(institutions::jurisdiction_id.eq(jurisdiction))
        .select(institutions::code)
        .load(conn)
        .unwrap();
    assert!(rows.len() > 2, "the area has filed reports");
    assert!(
        rows[2..].iter().all(|r| own.contains(&r[0])),
        "only its own area"
    );
    // Another area's id in the filter finds nothing rather than another area's rows.
    let other: i32 = institutions::table
        .filter(institutions::jurisdiction_id.ne(jurisdiction))
        .select(institutions::jurisdiction_id.assume_not_null())
        .first(conn)
        .unwrap();
    let page = area
        .get(app.url(&format!(
            "/exports/reports?fy={}&status=all&jurisdiction={other}",
            fiscal_year()
        )))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("<strong>0</strong> 行"), "{page}");
    // 「件数を確かめる」 on the form counts and makes no file.
    let csrf = csrf_of(&page);
    let counted = area
        .post(app.url("/exports/reports"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("fy", &fiscal_year().to_string()),
            ("status", "all"),
            ("step", "count"),
        ])
        .send()
        .unwrap();
    assert_eq!(counted.status(), 200);
    assert!(counted.text().unwrap().contains("id=\"export-rows\""));
    // A clinic cannot export at all; nobody else can open this officer's file.
    let clinic = app.signed_in("demo-clinic");
    for path in [
        "/exports",
        "/exports/reports",
        "/exports/addresses.csv",
        "/exports/targets.csv",
    ] {
        assert_eq!(
            clinic.get(app.url(path)).send().unwrap().status(),
            403,
            "{path}"
        );
    }
    let officer = app.signed_in("demo-officer");
    let token = {
        let fields = [("status", "all")];
        let fy = fiscal_year().to_string();
        let page = area
            .get(app.url("/exports/reports"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        let csrf = csrf_of(&page);
        let mut form = vec![("csrf", csrf.as_str()), ("fy", fy.as_str())];
        form.extend_from_slice(&fields);
        let res = area
            .post(app.url("/exports/reports"))
            .form(&form)
            .send()
            .unwrap();
        location(&res)
    };
    assert_eq!(officer.get(app.url(&token)).send().unwrap().status(), 404);
    assert_eq!(
        officer
            .get(app.url(&format!("{token}/download")))
            .send()
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        area.get(app.url("/exports/files/0123456789abcdef0123456789abcdef"))
            .send()
            .unwrap()
            .status(),
        404
    );
    // Without the token the form is refused.
    let res = area
        .post(app.url("/exports/reports"))
        .form(&[("fy", fiscal_year().to_string())])
        .send()
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[test]
fn addresses_labels_and_the_target_list_hold_what_the_database_holds() {
    let app = crate::season::with_season();
    let c = app.signed_in("demo-officer");
    let fy = fiscal_year();
    let conn = &mut *app.db.conn();
    let paper_clinics: Vec<(String, Option<String>, String)> = institutions::table
        .filter(institutions::is_target.eq(true))
        .filter(institutions::paper_report.eq(true))
        .filter(institutions::category.eq("clinic"))
        .order(institutions::code)
        .select((
            institutions::code,
            institutions::postcode,
            institutions::address,
        ))
        .load(conn)
        .unwrap();
    assert!(!paper_clinics.is_empty(), "the demo has paper reporters");
    let query = format!("fy={fy}&who=paper&category=clinic");
    let page = c
        .get(app.url(&format!("/exports/addresses?{query}")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains(&format!("<strong>{}</strong> 機関", paper_clinics.len())),
        "{page}"
    );
    let bytes = c
        .get(app.url(&format!("/exports/addresses.csv?{query}")))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let rows = python_csv(&bytes, "utf-8-sig");
    assert_eq!(rows[0][1], "郵便番号");
    assert_eq!(rows.len(), paper_clinics.len() + 1);
    for (row, (code, postcode, address)) in rows[1..].iter().zip(&paper_clinics) {
        assert_eq!(&row[0], code);
        assert_eq!(row[1], postcode.clone().unwrap_or_default());
        assert_eq!(&row[2], address);
    }
    // Labels: 12 a sheet by default, placed by a stylesheet; a sheet that does not fit
    // A4 is explained next to the field and the typed value kept.
    let labels = c
        .get(app.url(&format!("/exports/labels?{query}&print=1")))
        .send()
        .unwrap();
    assert_eq!(labels.status(), 200);
    let labels = labels.text().unwrap();
    assert_eq!(
        labels.matches("class=\"label-sheet\"").count(),
        paper_clinics.len().div_ceil(12)
    );
    assert_eq!(
        labels.matches("class=\"label c").count(),
        paper_clinics.len()
    );
    let css = c
        .get(app.url(&format!("/exports/labels.css?{query}")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(css.contains(".c1 { left: 105.00mm; }"), "{css}");
    let wrong = c
        .get(app.url(&format!("/exports/labels?{query}&columns=３")))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 422);
    let wrong = wrong.text().unwrap();
    assert!(wrong.contains("A4 の幅 210mm に収まりません"), "{wrong}");
    assert!(wrong.contains("value=\"３\""), "what was typed is kept");
    // 報告対象機関一覧: every target, with the demo clinic's login.
    let targets: i64 = institutions::table
        .filter(institutions::is_target.eq(true))
        .count()
        .get_result(conn)
        .unwrap();
    let page = c
        .get(app.url(&format!("/exports/targets?fy={fy}")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains(&format!("<strong>{targets}</strong> 機関")),
        "{page}"
    );
    let bytes = c
        .get(app.url(&format!("/exports/targets.csv?fy={fy}&encoding=cp932")))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let rows = python_csv(&bytes, "cp932");
    assert_eq!(rows[0][6], "ログインID");
    let codes: std::collections::HashSet<&String> = rows[1..].iter().map(|r| &r[0]).collect();
    assert_eq!(codes.len() as i64, targets);
    let clinic = rows
        .iter()
        .find(|r| r[6] == "demo-clinic")
        .expect("the demo clinic's login");
    assert!(
        ["利用中", "発行済（未ログイン）"].contains(&clinic[7].as_str()),
        "{clinic:?}"
    );
    assert!(rows.iter().any(|r| r[7] == "アカウントなし"));
    // Every download is in the prefecture administrator's 操作履歴.
    let admin = app.signed_in("demo-admin");
    let audit = admin
        .get(app.url("/admin/audit"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(audit.contains("データ出力"), "{audit}");
}

#[test]
fn the_command_line_writes_csv_to_a_file_and_xlsx_to_standard_output() {
    let app = crate::season::with_season();
    let db = stored(&app);
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("all.csv");
    let fy = fiscal_year().to_string();
    let run = |args: &[&str]| app.kakari(args);
    let out = run(&[
        "export",
        "reports",
        "--fy",
        &fy,
        "--status",
        "all",
        "--codes",
        "--encoding",
        "cp932",
        "--output",
        csv_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains(&format!("{} 行", db.len())), "{said}");
    let rows = python_csv(&std::fs::read(&csv_path).unwrap(), "cp932");
    assert_eq!(check_rows(&rows, &db, true), db.len());
    let out = run(&[
        "export", "reports", "--fy", &fy, "--status", "all", "--codes", "--format", "xlsx",
        "--output", "-",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xlsx = dir.path().join("all.xlsx");
    std::fs::write(&xlsx, &out.stdout).unwrap();
    assert_eq!(check_rows(&xlsx_rows(&xlsx), &db, false), db.len());
    let out = run(&[
        "export",
        "reports",
        "--fy",
        &fy,
        "--encoding",
        "latin1",
        "--output",
        "-",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cp932"));
}

#[test]
fn chunks_of_the_export_join_up_to_exactly_the_whole_in_order() {
    use kakari::db::exports::{ReportFilter, report_lines};
    use kakari::domain::auth::Scope;
    let app = crate::season::with_season();
    let conn = &mut *app.db.conn();
    let prefecture = kakari::db::areas::prefectures(conn).unwrap()[0].id;
    let filter = ReportFilter {
        fiscal_year: fiscal_year(),
        ..ReportFilter::default()
    };
    for all_versions in [false, true] {
        let scope = Scope::Prefecture(prefecture);
        let whole = report_lines(conn, scope, &filter, all_versions, None, 1_000_000).unwrap();
        let mut pieces = Vec::new();
        let mut after = None;
        loop {
            let chunk =
                report_lines(conn, scope, &filter, all_versions, after.as_ref(), 7).unwrap();
            let Some(last) = chunk.last() else { break };
            after = Some(last.cursor());
            pieces.extend(chunk);
        }
        let key = |l: &kakari::db::exports::ReportLine| (l.code.clone(), l.report_id, l.number);
        assert!(whole.len() > 20, "several chunks");
        assert_eq!(
            pieces.iter().map(key).collect::<Vec<_>>(),
            whole.iter().map(key).collect::<Vec<_>>(),
            "all_versions: {all_versions}"
        );
        if all_versions {
            assert!(
                whole.iter().any(|l| l.number > 1),
                "some reports have several versions"
            );
        }
    }
}
