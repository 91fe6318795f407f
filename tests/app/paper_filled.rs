//! Filled Excel 調査票 as they come back to the prefecture (issue 18): typed the way
//! people type (labels for codes, full-width digits, numbers stored as text, 〇 for ○),
//! with rows added and cells merged, re-saved by LibreOffice as .xlsx and as .xls, cut
//! from their hidden sheet, locked with a password. The forms are made by `kakari forms
//! xlsx`, edited by openpyxl (tests/fixtures/fill_form.py), converted by LibreOffice
//! headless and encrypted by msoffcrypto-tool, all installed by .ci/run, and read back
//! through `kakari import forms`.

use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::prelude::*;
use kakari::db::schema::{institutions, reports};
use serde_json::{Map, Value, json};

use crate::support::TestApp;

fn kakari(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = app.kakari(args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Edits a form with openpyxl; where each edited answer cell is (`"1-2a/value": "C14"`).
fn fill(src: &Path, out: &Path, edits: Value) -> Map<String, Value> {
    let spec = out.with_extension("json");
    std::fs::write(&spec, edits.to_string()).unwrap();
    let script = format!("{}/tests/fixtures/fill_form.py", env!("CARGO_MANIFEST_DIR"));
    let run = Command::new("python3")
        .arg(script)
        .args([src, out, &spec])
        .output()
        .expect("python3");
    assert!(
        run.status.success(),
        "fill_form.py (needs openpyxl, installed by .ci/run): {}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).unwrap()
}

/// The file as LibreOffice saves it again, in `format` (xlsx or xls).
fn resaved(src: &Path, format: &str, dir: &Path) -> PathBuf {
    let outdir = dir.join(format!("lo-{format}"));
    let run = Command::new("soffice")
        .args(["--headless", "--convert-to", format, "--outdir"])
        .arg(&outdir)
        .arg(src)
        .env("HOME", dir)
        .output()
        .expect("LibreOffice (soffice) is installed by .ci/run");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stem = src.file_stem().unwrap().to_str().unwrap();
    let path = outdir.join(format!("{stem}.{format}"));
    assert!(path.exists(), "LibreOffice wrote no {}", path.display());
    path
}

fn encrypted(src: &Path, out: &Path) {
    let run = Command::new("python3")
        .args([
            "-c",
            "import sys\nfrom msoffcrypto.format.ooxml import OOXMLFile\n\
             with open(sys.argv[1], 'rb') as i, open(sys.argv[2], 'wb') as o:\n\
             \x20   OOXMLFile(i).encrypt('himitsu', o)",
        ])
        .arg(src)
        .arg(out)
        .output()
        .expect("python3");
    assert!(
        run.status.success(),
        "msoffcrypto-tool (installed by .ci/run): {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// The institution's reports of the year: (status, proxy, answers).
fn reports_of(app: &TestApp, code: &str, fy: i32) -> Vec<(String, bool, Map<String, Value>)> {
    let conn = &mut *app.db.conn();
    let id: i32 = institutions::table
        .filter(institutions::code.eq(code))
        .select(institutions::id)
        .first(conn)
        .unwrap();
    reports::table
        .filter(reports::institution_id.eq(id))
        .filter(reports::fiscal_year.eq(fy))
        .select((reports::status, reports::proxy, reports::answers))
        .load::<(String, bool, String)>(conn)
        .unwrap()
        .into_iter()
        .map(|(s, p, a)| (s, p, serde_json::from_str(&a).unwrap()))
        .collect()
}

/// The answers a form holds as the importer reads them.
fn answers_in(app: &TestApp, path: &Path) -> Map<String, Value> {
    let conn = &mut *app.db.conn();
    let key = kakari::db::links::key(conn).unwrap();
    let bytes = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    let read =
        kakari::services::paper::read::read(name, &bytes, &kakari::import::Limits::default(), &key)
            .unwrap();
    let catalog = crate::reports::catalog();
    let (answers, problems) = kakari::domain::paper_form::read(&catalog, &read.cells);
    assert!(problems.is_empty(), "{problems:?}");
    answers
}

#[test]
fn forms_filled_by_hand_and_resaved_by_libreoffice_become_the_drafts_people_meant() {
    let app = crate::season::with_season();
    let fy = crate::reports::fiscal_year();
    let fy_text = fy.to_string();
    let code = {
        let conn = &mut *app.db.conn();
        let area = crate::paper::demo_area(conn);
        crate::paper::form_subjects(conn, area, fy).1
    };
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    let (ok, _, err) = kakari(
        &app,
        &[
            "forms",
            "xlsx",
            "--fy",
            &fy_text,
            "--institution",
            &code,
            "-o",
            at("form.xlsx").to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let pre_printed = answers_in(&app, &at("form.xlsx"));
    // `kakari import forms` as the area's officer, written unless refused.
    let import_forms = |path: &str| {
        kakari(
            &app,
            &[
                "import",
                "forms",
                "--as",
                "demo-area",
                "--fy",
                &fy_text,
                path,
            ],
        )
    };
    assert!(!pre_printed.is_empty(), "pre-printed from last year");

    // What a clinic does to the form: labels instead of codes, full-width digits,
    // numbers stored as text, another circle, HTML in a note, rows added, a merge.
    let catalog = crate::reports::catalog();
    let both = catalog
        .item("2ロ-1")
        .unwrap()
        .choices
        .iter()
        .find(|c| c.label.contains("及び"))
        .expect("B7 has 有り(自院及び連携)")
        .clone();
    let typed_both = both.label.replace('(', "（").replace(')', "）");
    let mut edits = vec![
        json!({"op": "insert_rows", "before": "2ロ-1", "count": 2}),
        json!({"op": "insert_rows", "before": "9-1", "count": 1}),
        json!({"op": "set", "item": "1-2", "role": "choice", "value": "有り"}),
        json!({"op": "set", "item": "1-2a", "role": "value", "value": "１２"}),
        json!({"op": "clear", "item": "1-4"}),
        json!({"op": "set", "item": "1-4", "role": "mark:1", "value": "〇"}),
        json!({"op": "set", "item": "1-4", "role": "mark:6", "value": "o"}),
        json!({"op": "set", "item": "2イ-5", "role": "value", "value": "34"}),
        json!({"op": "set", "item": "2イ-6", "role": "value", "value": 7}),
        json!({"op": "merge", "item": "2イ-6", "role": "value", "range": "C:D"}),
        json!({"op": "set", "item": "2イ-9", "role": "value", "value": "<b>夜間は電話で</b>"}),
        json!({"op": "set", "item": "2ロ-1", "role": "choice", "value": typed_both}),
        json!({"op": "clear", "item": "2ロ-1a"}),
        json!({"op": "set", "item": "2ロ-1a", "role": "name:0", "value": "田中医院"}),
        json!({"op": "set", "item": "2ロ-1a", "role": "name:1", "value": "鈴木ｸﾘﾆｯｸ"}),
    ];
    fill(&at("form.xlsx"), &at("filled.xlsx"), json!(edits));
    let mut meant = pre_printed.clone();
    for (item, value) in [
        ("1-2", json!(1)),
        ("1-2a", json!(12)),
        ("1-4", json!([1, 6])),
        ("2イ-5", json!(34)),
        ("2イ-6", json!(7)),
        ("2イ-9", json!("<b>夜間は電話で</b>")),
        ("2ロ-1", json!(both.code)),
        ("2ロ-1a", json!(["田中医院", "鈴木ｸﾘﾆｯｸ"])),
    ] {
        meant.insert(item.into(), value);
    }
    assert_ne!(meant, pre_printed);

    // Each way the file comes back reads as what was meant, and each becomes the same
    // proxy draft (importing again is harmless).
    let xlsx_again = resaved(&at("filled.xlsx"), "xlsx", dir.path());
    let xls = resaved(&at("filled.xlsx"), "xls", dir.path());
    fill(
        &at("filled.xlsx"),
        &at("no-hidden-sheet.xlsx"),
        json!([{"op": "drop_hidden_sheet"}]),
    );
    for file in [
        at("filled.xlsx"),
        xlsx_again,
        xls,
        at("no-hidden-sheet.xlsx"),
    ] {
        let path = file.to_str().unwrap();
        let (ok, out, err) = import_forms(path);
        assert!(ok, "{path}: {out}{err}");
        assert!(out.starts_with("OK ") && out.contains(&code), "{out}");
        let rows = reports_of(&app, &code, fy);
        assert_eq!(rows.len(), 1, "one report, however often imported");
        let (status, proxy, answers) = &rows[0];
        assert_eq!((status.as_str(), *proxy), ("draft", true));
        assert_eq!(answers, &meant, "{path}: the draft is what was meant");
    }

    // What cannot be read unambiguously is refused with its cell, after the rows the
    // clinic added, and nothing is written.
    edits = vec![
        json!({"op": "insert_rows", "before": "1-1", "count": 3}),
        json!({"op": "set", "item": "2ロ-1", "role": "choice", "value": "有り"}),
        json!({"op": "set", "item": "2イ-5", "role": "value", "value": "十二"}),
        json!({"op": "clear", "item": "1-4"}),
        json!({"op": "set", "item": "1-4", "role": "mark:2", "value": "○"}),
        json!({"op": "merge_down", "item": "1-4", "role": "mark:2", "rows": 2}),
    ];
    let cells = fill(&at("filled.xlsx"), &at("unclear.xlsx"), json!(edits));
    let cell = |key: &str| format!("調査票!{}", cells[key].as_str().unwrap());
    let (ok, out, _) = import_forms(at("unclear.xlsx").to_str().unwrap());
    assert!(!ok, "{out}");
    assert!(out.starts_with("NG unclear.xlsx"), "{out}");
    assert!(
        out.contains(&format!(
            "{}: 「有り」では選択肢が決まりません",
            cell("2ロ-1/choice")
        )),
        "{out}"
    );
    assert!(out.contains(&format!("{}: ", cell("2イ-5/value"))), "{out}");
    let merged_row: u32 = cells["1-4/mark:2"].as_str().unwrap()[1..].parse().unwrap();
    assert!(
        out.contains(&format!(
            "{}: セルが結合されています（C{merged_row}:C{}）",
            cell("1-4/mark:2"),
            merged_row + 1
        )),
        "{out}"
    );
    assert_eq!(reports_of(&app, &code, fy)[0].2, meant, "nothing changed");

    // A workbook locked with a password to open: a clear message, nothing changed.
    encrypted(&at("filled.xlsx"), &at("locked.xlsx"));
    let (ok, out, _) = import_forms(at("locked.xlsx").to_str().unwrap());
    assert!(!ok);
    assert!(
        out.starts_with("NG locked.xlsx")
            && out.contains("パスワードで保護されたファイルは読めません"),
        "{out}"
    );
    assert_eq!(reports_of(&app, &code, fy)[0].2, meant, "nothing changed");
}
