//! 公表: publishing a year, what residents see without signing in, and that no public
//! page or file shows a small count (1 to threshold − 1) of an NDB-derived item.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use kakari::db::schema::{institutions, public_institutions, publications, reports};
use kakari::domain::catalog::Catalog;
use kakari::domain::publication::{CellMask, SummaryTables};

use crate::reports::fiscal_year;
use crate::support::{TestApp, client};

/// Institutions whose latest confirmed report of the year exists (what publishing takes).
fn confirmed_codes(app: &TestApp, fy: i32) -> BTreeSet<String> {
    reports::table
        .inner_join(institutions::table)
        .filter(reports::fiscal_year.eq(fy))
        .filter(reports::status.eq("confirmed"))
        .select(institutions::code)
        .load::<String>(&mut *app.db.conn())
        .unwrap()
        .into_iter()
        .collect()
}

fn public_codes(app: &TestApp, fy: i32) -> BTreeSet<String> {
    public_institutions::table
        .inner_join(publications::table)
        .filter(publications::fiscal_year.eq(fy))
        .select(public_institutions::code)
        .load::<String>(&mut *app.db.conn())
        .unwrap()
        .into_iter()
        .collect()
}

fn publish(app: &TestApp, admin: &reqwest::blocking::Client, fy: i32, action: &str) {
    let page = format!("/admin/publication/{fy}");
    let res = app.post_form(admin, &page, &format!("{page}/{action}"), &[]);
    assert_eq!(res.status(), 303, "{action}");
    // The result after the action: what was done, to how many.
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let result = admin
        .get(app.url(&location))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let said = if action == "publish" {
        "を公表しました（"
    } else {
        "の公表を取り下げました"
    };
    assert!(result.contains(said), "{result}");
}

#[test]
fn an_administrator_previews_publishes_and_takes_down_and_residents_see_only_that() {
    let app = crate::season::with_season();
    let fy = fiscal_year();
    let admin = app.signed_in("demo-admin");
    let anonymous = client();
    // The demo publishes last year; the current one is not public yet.
    let res = anonymous.get(app.url("/public")).send().unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("/public/46/{}", fy - 1).as_str()
    );
    let current = format!("/public/46/{fy}");
    assert_eq!(
        anonymous.get(app.url(&current)).send().unwrap().status(),
        404
    );

    // The preview counts what would become public: the confirmed reports only.
    let confirmed = confirmed_codes(&app, fy);
    assert!(!confirmed.is_empty());
    let preview = admin
        .get(app.url(&format!("/admin/publication/{fy}")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        preview.contains(&format!("<strong>{}</strong>", confirmed.len())),
        "{preview}"
    );
    assert!(
        preview.contains("同梱の概数（デモ用）"),
        "demo populations are labelled"
    );
    publish(&app, &admin, fy, "publish");
    assert_eq!(
        public_codes(&app, fy),
        confirmed,
        "exactly the confirmed reports"
    );

    // An institution whose report awaits confirmation (or was sent back) is not shown.
    let unconfirmed: String = reports::table
        .inner_join(institutions::table)
        .filter(reports::fiscal_year.eq(fy))
        .filter(reports::status.ne("confirmed"))
        .filter(reports::versions.gt(0))
        .select(institutions::code)
        .first(&mut *app.db.conn())
        .unwrap();
    assert!(!confirmed.contains(&unconfirmed));
    let detail = |code: &str| format!("{current}/institutions/{code}");
    assert_eq!(
        anonymous
            .get(app.url(&detail(&unconfirmed)))
            .send()
            .unwrap()
            .status(),
        404
    );
    let shown = confirmed.iter().next().unwrap().clone();
    let page = anonymous.get(app.url(&detail(&shown))).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers().get("set-cookie").is_none(),
        "no session for residents"
    );

    // A later change in the master or the answers shows nowhere until published again.
    let renamed = "公表後に名前を変えた医院";
    diesel::update(institutions::table.filter(institutions::code.eq(&shown)))
        .set((
            institutions::name.eq(renamed),
            institutions::search_key.eq(kakari::domain::normalize::search_key(renamed)),
        ))
        .execute(&mut *app.db.conn())
        .unwrap();
    let body = anonymous
        .get(app.url(&detail(&shown)))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!body.contains(renamed));
    publish(&app, &admin, fy, "publish");
    let body = anonymous
        .get(app.url(&detail(&shown)))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(body.contains(renamed), "published again");

    // The search finds it by a part of its name.
    let found = anonymous
        .get(app.url(&format!("{current}?q={}", urlencode("名前を変えた"))))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(found.contains(renamed) && found.contains("1 件"), "{found}");

    // Another prefecture, a year never published, a made-up code: 404.
    for path in [
        format!("/public/13/{fy}"),
        format!("/public/46/{}", fy - 5),
        detail("4699999999"),
        format!("/public/46/{}/tables", fy - 5),
    ] {
        assert_eq!(
            anonymous.get(app.url(&path)).send().unwrap().status(),
            404,
            "{path}"
        );
    }
    // Publishing needs the CSRF token and an administrator.
    let officer = app.signed_in("demo-officer");
    let res = officer
        .post(app.url(&format!("/admin/publication/{fy}/unpublish")))
        .form(&[("x", "1")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = admin
        .post(app.url(&format!("/admin/publication/{fy}/unpublish")))
        .form(&[("x", "1")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 403, "without the CSRF token");

    publish(&app, &admin, fy, "unpublish");
    for path in [current.clone(), detail(&shown), format!("{current}/tables")] {
        assert_eq!(
            anonymous.get(app.url(&path)).send().unwrap().status(),
            404,
            "{path}"
        );
    }
    assert!(public_codes(&app, fy).is_empty());
    let audit = admin
        .get(app.url("/admin/audit"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        audit.contains("公表の取り下げ") && audit.contains(">公表<"),
        "{audit}"
    );
}

#[test]
fn the_rules_form_keeps_what_was_typed_and_the_next_publication_uses_it() {
    let app = crate::season::with_season();
    let fy = fiscal_year() - 1;
    let admin = app.signed_in("demo-admin");
    let mut fields = vec![
        ("threshold", "９"),
        ("small_population", "25,000"),
        ("small_threshold", "20"),
        ("hidden_below", "2000"),
        ("area_threshold", "10"),
        ("medical_area_threshold", "10"),
        ("total_threshold", "15"),
        ("min_institutions", "3"),
        ("mark", "<b>"),
        ("prefecture_url", "javascript:alert(1)"),
        ("explanation", "<script>alert(1)</script>"),
    ];
    let res = app.post_form(
        &admin,
        "/admin/publication",
        "/admin/publication/rules",
        &fields,
    );
    assert_eq!(res.status(), 422);
    let page = res.text().unwrap();
    assert!(page.contains("10〜1000 の数で入力してください"), "{page}");
    assert!(page.contains("で始まるアドレスを入力してください"));
    assert!(page.contains("value=\"９\""), "what was typed stays");
    assert!(!page.contains("<script>alert"), "escaped");
    fields[0] = ("threshold", "１０");
    fields[8] = ("mark", "＊");
    fields[9] = ("prefecture_url", "https://www.pref.kagoshima.jp/");
    let res = app.post_form(
        &admin,
        "/admin/publication",
        "/admin/publication/rules",
        &fields,
    );
    assert_eq!(res.status(), 200);
    let page = res.text().unwrap();
    assert!(page.contains("3機関未満の医療機関から集計した欄"), "{page}");
    // Published again: the page links the prefecture, the explanation is text, the
    // mark is the new one and the fewer-than-3 note is there.
    let page = format!("/admin/publication/{fy}");
    let res = app.post_form(&admin, &page, &format!("{page}/publish"), &[]);
    assert_eq!(res.status(), 303);
    let anonymous = client();
    let rules = anonymous
        .get(app.url(&format!("/public/46/{fy}/rules")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    // Tera writes / as &#x2F; in attributes; the browser reads it back.
    assert!(rules.contains("href=\"https:&#x2F;&#x2F;www.pref.kagoshima.jp&#x2F;\""));
    assert!(rules.contains("&lt;script&gt;"));
    assert!(rules.contains("3機関未満"));
    assert!(rules.contains("県全体の欄は15未満"), "{rules}");
    let tables = anonymous
        .get(app.url(&format!("/public/46/{fy}/tables")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(tables.contains("＊"));
}

fn urlencode(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// The labels of the counts that are masked: NDB-derived and sensitive items.
fn masked_labels(catalog: &Catalog) -> BTreeSet<String> {
    catalog
        .items
        .iter()
        .filter(|i| i.is_masked_count())
        .map(|i| i.label.clone())
        .collect()
}

fn is_small(text: &str, below: u64) -> bool {
    text.trim()
        .replace(',', "")
        .parse::<u64>()
        .is_ok_and(|n| (1..below).contains(&n))
}

/// The (dt, dd) pairs of a page.
fn definitions(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<dt>").skip(1) {
        let Some((label, rest)) = part.split_once("</dt><dd>") else {
            continue;
        };
        let Some((value, _)) = rest.split_once("</dd>") else {
            continue;
        };
        out.push((label.to_string(), value.to_string()));
    }
    out
}

/// The cells of each body row of the page's table.
fn table_cells(html: &str) -> Vec<Vec<String>> {
    table_rows(html)
        .into_iter()
        .map(|(_, cells)| cells)
        .collect()
}

/// Each body row of the page's table: its name and its number cells.
fn table_rows(html: &str) -> Vec<(String, Vec<String>)> {
    let body = html.split("<tbody>").nth(1).unwrap_or_default();
    let body = body.split("</tbody>").next().unwrap_or_default();
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            let name = row
                .split("<th scope=\"row\">")
                .nth(1)
                .and_then(|r| r.split("</th>").next())
                .unwrap_or_default()
                .to_string();
            let cells = row
                .split("<td class=\"num\">")
                .skip(1)
                .map(|c| c.split("</td>").next().unwrap_or_default().replace(',', ""))
                .collect();
            (name, cells)
        })
        .collect()
}

/// The reader's subtraction: for every shown cell of a table, the institutions under it
/// (by the 公表用CSV's column `group`), minus those shown: what is left is the sum of
/// the masked ones. It must never pin one of them down.
fn assert_no_value_recovered(
    html: &str,
    csv: &[csv::StringRecord],
    headers: &csv::StringRecord,
    group: usize,
    masked_codes: &[String],
) -> usize {
    let heading = html
        .split("<thead>")
        .nth(1)
        .unwrap()
        .split("</thead>")
        .next()
        .unwrap();
    let labels: Vec<&str> = heading
        .split("<th scope=\"col\">")
        .skip(1)
        .map(|c| c.split("</th>").next().unwrap())
        .collect();
    let first_number = if labels.get(1) == Some(&"保健所") {
        2
    } else {
        1
    };
    let mut checked = 0;
    for (name, cells) in table_rows(html) {
        let under: Vec<&csv::StringRecord> = csv
            .iter()
            .filter(|r| name == "県全体" || r[group] == *name)
            .collect();
        for code in masked_codes {
            let column = labels
                .iter()
                .position(|l| l.starts_with(&format!("{code} ")))
                .unwrap();
            let Ok(total) = cells[column - first_number].parse::<u64>() else {
                continue;
            };
            let csv_column = headers
                .iter()
                .position(|h| h.starts_with(&format!("{code} ")))
                .unwrap();
            let (mut shown, mut masked) = (0u64, 0u64);
            for r in &under {
                match r[csv_column].parse::<u64>() {
                    Ok(v) => shown += v,
                    Err(_) if &r[csv_column] == "*" => masked += 1,
                    Err(_) => {}
                }
            }
            let left = total - shown;
            assert!(
                masked == 0 || (masked > 1 && left != masked && left != 9 * masked),
                "{name} {code}: {total} shown, the institutions show {shown}, so {masked} masked value(s) sum to {left}"
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn no_public_page_or_file_shows_a_small_count() {
    let app = crate::season::with_season();
    let fy = fiscal_year() - 1;
    let anonymous = client();
    let catalog = Catalog::parse(kakari::domain::catalog::shipped(fy).unwrap()).unwrap();
    let labels = masked_labels(&catalog);
    let base = format!("/public/46/{fy}");
    let mut masked_seen = 0;
    let mut pages = 0;

    // Every page of the search, and every institution it lists.
    let mut codes = Vec::new();
    let mut page = 0;
    loop {
        let html = anonymous
            .get(app.url(&format!("{base}?page={page}")))
            .send()
            .unwrap()
            .text()
            .unwrap();
        pages += 1;
        let before = codes.len();
        for part in html.split(&format!("href=\"{base}/institutions/")).skip(1) {
            codes.push(part.split('"').next().unwrap().to_string());
        }
        if codes.len() == before || !html.contains("id=\"next-page\"") {
            break;
        }
        page += 1;
    }
    assert_eq!(
        codes.len(),
        public_codes(&app, fy).len(),
        "the pager reaches everyone"
    );
    for code in &codes {
        let html = anonymous
            .get(app.url(&format!("{base}/institutions/{code}")))
            .send()
            .unwrap()
            .text()
            .unwrap();
        pages += 1;
        for (label, value) in definitions(&html) {
            if labels.contains(&label) {
                assert!(!is_small(&value, 10), "{code}: {label} = {value}");
                masked_seen += usize::from(value == "*");
            }
        }
    }
    assert!(
        masked_seen > 0,
        "the demo holds small counts, so some must be masked"
    );

    // The tables: every masked column's cell, with each municipality's own threshold
    // checked against the stored unmasked tables.
    let raw: String = publications::table
        .filter(publications::fiscal_year.eq(fy))
        .select(publications::raw_tables)
        .first(&mut *app.db.conn())
        .unwrap();
    let raw: SummaryTables = serde_json::from_str(&raw).unwrap();
    for by in ["municipality", "area", "medical-area"] {
        let html = anonymous
            .get(app.url(&format!("{base}/tables?by={by}")))
            .send()
            .unwrap()
            .text()
            .unwrap();
        pages += 1;
        let rows = table_cells(&html);
        let by = kakari::domain::publication::TableBy::from_code(by).unwrap();
        let raw_rows: Vec<_> = raw.rows(by).iter().chain([&raw.total]).collect();
        assert_eq!(rows.len(), raw_rows.len());
        for (shown, raw_row) in rows.iter().zip(raw_rows) {
            for ((text, cell), column) in shown.iter().zip(&raw_row.cells).zip(&raw.columns) {
                if !column.masked {
                    continue;
                }
                assert!(
                    !is_small(text, 10),
                    "{}: {} = {text}",
                    raw_row.name,
                    column.label
                );
                if cell.mask != CellMask::Shown {
                    assert_eq!(text, "*", "{} {}", raw_row.name, column.label);
                } else {
                    assert_eq!(text.replace(',', ""), cell.value.to_string());
                }
            }
        }
    }
    // Some small values were there to hide: the check above could have failed.
    let small_raw = raw
        .by_municipality
        .iter()
        .flat_map(|r| r.cells.iter().zip(&raw.columns))
        .filter(|(c, col)| col.masked && (1..10).contains(&c.value))
        .count();
    assert!(small_raw > 0);

    // The 公表用CSV and the tables as files.
    let csv = anonymous
        .get(app.url(&format!("{base}/download/institutions")))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let mut reader = csv::Reader::from_reader(&csv[3..]);
    let headers = reader.headers().unwrap().clone();
    let masked_columns: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| labels.iter().any(|l| h.ends_with(l.as_str())))
        .map(|(i, _)| i)
        .collect();
    assert!(!masked_columns.is_empty());
    let mut rows = 0;
    for record in reader.records() {
        let record = record.unwrap();
        for &i in &masked_columns {
            assert!(!is_small(&record[i], 10), "{} {}", &record[0], &headers[i]);
        }
        rows += 1;
    }
    assert_eq!(rows, codes.len());
    // No shown total gives one institution's masked value away by subtraction.
    let records: Vec<csv::StringRecord> = csv::Reader::from_reader(&csv[3..])
        .records()
        .map(Result::unwrap)
        .collect();
    let masked_codes: Vec<String> = catalog
        .items
        .iter()
        .filter(|i| i.is_masked_count())
        .map(|i| i.code.clone())
        .collect();
    let column_of = |name: &str| headers.iter().position(|h| h == name).unwrap();
    for (by, group) in [
        ("municipality", column_of("市区町村")),
        ("area", column_of("保健所")),
    ] {
        let html = anonymous
            .get(app.url(&format!("{base}/tables?by={by}")))
            .send()
            .unwrap()
            .text()
            .unwrap();
        let checked = assert_no_value_recovered(&html, &records, &headers, group, &masked_codes);
        assert!(checked > 0, "{by}");
    }
    let tables_csv = anonymous
        .get(app.url(&format!(
            "{base}/download/tables?by=municipality&encoding=cp932"
        )))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&tables_csv);
    assert!(!bad);
    assert!(
        text.contains("県全体") && text.contains("「*」は"),
        "a note under the table"
    );
    eprintln!("{pages} public pages checked");
}

#[test]
fn the_command_line_publishes_exports_and_imports_populations_all_or_nothing() {
    let app = crate::season::with_season();
    let fy = fiscal_year() - 1;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| app.kakari(args);
    let fy_text = fy.to_string();
    // Masked and raw tables: the raw one holds the small values the masked one hides.
    let masked = dir.path().join("masked.csv");
    let raw = dir.path().join("raw.csv");
    for (path, extra) in [(&masked, None), (&raw, Some("--raw"))] {
        let mut args = vec![
            "export",
            "tables",
            "--fy",
            &fy_text,
            "--by",
            "municipality",
            "-o",
        ];
        args.push(path.to_str().unwrap());
        args.extend(extra);
        let out = run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let masked = std::fs::read_to_string(&masked).unwrap();
    let raw = std::fs::read_to_string(&raw).unwrap();
    assert!(masked.contains(",*") && !raw.contains(",*"));
    assert!(raw.contains("【確認用】"));
    let out = run(&[
        "export", "tables", "--fy", &fy_text, "--by", "town", "-o", "-",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("area, municipality, medical-area"));

    let public = dir.path().join("public.xlsx");
    let out = run(&[
        "export",
        "public",
        "--fy",
        &fy_text,
        "--format",
        "xlsx",
        "-o",
        public.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&public).unwrap();
    let sheet = book.worksheet_range("公表用").unwrap();
    assert_eq!(sheet.height() - 1, public_codes(&app, fy).len());

    // A population file with one wrong row changes nothing; a right one replaces the
    // demo figures, and the next publication uses it.
    let populations = |app: &TestApp| -> BTreeMap<String, (i64, String)> {
        use kakari::db::schema::{areas, municipality_populations as mp};
        mp::table
            .inner_join(areas::table.on(areas::id.eq(mp::area_id)))
            .select((areas::code, mp::population, mp::source))
            .load::<(String, i64, String)>(&mut *app.db.conn())
            .unwrap()
            .into_iter()
            .map(|(c, p, s)| (c, (p, s)))
            .collect()
    };
    let before = populations(&app);
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "市区町村コード,人口\n46201,593000\n46999,10\n").unwrap();
    let out = run(&["import", "population", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("3行目"));
    assert_eq!(populations(&app), before, "nothing applied");
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "市区町村コード,人口\n462012,\"593,128\"\n46303,３８３\n",
    )
    .unwrap();
    let out = run(&["import", "population", good.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = populations(&app);
    assert_eq!(after["46201"], (593_128, "import".to_string()));
    assert_eq!(after["46303"], (383, "import".to_string()));
    assert_eq!(after["46304"].1, "demo");

    assert!(run(&["unpublish", "--fy", &fy_text]).status.success());
    assert!(public_codes(&app, fy).is_empty());
    let out = run(&["unpublish", "--fy", &fy_text]);
    assert!(!out.status.success(), "not published any more");
    let out = run(&["publish", "--fy", &fy_text]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(public_codes(&app, fy), confirmed_codes(&app, fy));
}
