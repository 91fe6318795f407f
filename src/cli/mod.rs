//! What the `kakari` commands print and check, outside the argument parsing in
//! `main.rs`: catalog and report checks, imports, the demo's listing.

use std::io::Write;
use std::process::ExitCode;

use crate::db;
use crate::demo;

pub mod export;
pub mod forms;
pub mod mail;
pub mod publication;

/// One line on standard error, starting with エラー, and a failing exit.
pub fn fail(message: impl std::fmt::Display) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "エラー: {message}");
    ExitCode::FAILURE
}

pub fn check_catalog(file: &std::path::Path) -> ExitCode {
    use crate::domain::catalog::Catalog;
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return fail(format!("{} を読めません: {e}", file.display())),
    };
    match Catalog::parse(&text) {
        Ok(c) => {
            let provisional = c.items.iter().filter(|i| i.provisional).count();
            println!(
                "カタログは有効です: {} 年度, 版 {}, 項目 {} 件（うち暫定 {} 件）",
                c.fiscal_year,
                c.version,
                c.items.len(),
                provisional
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in problems {
                let _ = writeln!(std::io::stderr(), "{}: {p}", file.display());
            }
            ExitCode::FAILURE
        }
    }
}

pub fn check_report(
    fy: i32,
    catalog_file: Option<&std::path::Path>,
    file: &std::path::Path,
) -> ExitCode {
    use crate::domain::catalog::{Catalog, shipped};
    use crate::domain::determination::{determine, validate};
    let catalog_text = match catalog_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return fail(format!("{} を読めません: {e}", path.display())),
        },
        None => match shipped(fy) {
            Some(t) => t.to_string(),
            None => {
                return fail(format!(
                    "{fy} 年度のカタログはありません（--catalog で指定できます）"
                ));
            }
        },
    };
    let catalog = match Catalog::parse(&catalog_text) {
        Ok(c) => c,
        Err(problems) => {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return fail(format!("カタログに誤りがあります: {}", list.join(" / ")));
        }
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return fail(format!("{} を読めません: {e}", file.display())),
    };
    let answers = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(_) => return fail("回答は項目コードをキーとする JSON オブジェクトで書いてください"),
        Err(e) => {
            return fail(format!(
                "JSON の書式の誤り（{}行目 {}文字目）: {e}",
                e.line(),
                e.column()
            ));
        }
    };
    let problems = validate(&catalog, &answers);
    let determination = determine(&catalog, &answers);
    let mut out = serde_json::to_value(&determination).unwrap_or_default();
    out["catalog_version"] = serde_json::Value::String(catalog.version.clone());
    out["valid_and_complete"] = serde_json::Value::Bool(problems.is_empty());
    out["problems"] = serde_json::to_value(&problems).unwrap_or_default();
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A file named on the command line: its name (as the import records it) and bytes.
pub(crate) fn read_file(file: &std::path::Path) -> Result<(String, Vec<u8>), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{} を読めません: {e}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((name, bytes))
}

pub fn import_ndb(
    conn: &mut crate::db::DbConnection,
    file: &std::path::Path,
    fiscal_year: i32,
    dry_run: bool,
    limits: &crate::import::Limits,
) -> Result<(), String> {
    use crate::services::imports::{By, ndb};
    let (file_name, bytes) = read_file(file)?;
    let catalogs = crate::services::catalogs::Catalogs::default();
    let started = std::time::Instant::now();
    let file = ndb::NdbFile {
        fiscal_year,
        file_name: &file_name,
        bytes: &bytes,
    };
    let everywhere = crate::domain::auth::Scope::All;
    let plan = if dry_run {
        ndb::read_and_plan(conn, &catalogs, everywhere, &file, limits)
            .map_err(|e| e.to_string())?
            .1
    } else {
        ndb::import_file(conn, &catalogs, &file, &By::system("cli"), limits)
            .map_err(|e| e.to_string())?
    };
    println!(
        "{} {}（{}）: 件数 {} / 医療機関 {}（うち置き換え {}）/ マスタにないコード {} / 不明な項目 {} / エラー {}（{:.1} 秒）",
        if dry_run {
            "確認のみ（何も変更していません）"
        } else {
            "NDB取込完了"
        },
        file_name,
        crate::domain::wareki::fiscal_year_full(fiscal_year),
        plan.counts,
        plan.institutions,
        plan.replaced,
        plan.unknown_codes_total,
        plan.unknown_keys.len(),
        plan.rejected_total,
        started.elapsed().as_secs_f64()
    );
    let plan = plan.kept();
    for k in &plan.unknown_keys {
        println!("  不明な項目 {k}（取り込みません）");
    }
    for c in &plan.unknown_codes {
        println!("  マスタにないコード {c}（取り込みません）");
    }
    more(plan.unknown_codes_total, plan.unknown_codes.len());
    for r in &plan.rejected {
        println!("  エラー {}行目 {}: {}", r.row, r.code, r.reason);
    }
    more(plan.rejected_total, plan.rejected.len());
    Ok(())
}

pub fn import_institutions(
    conn: &mut crate::db::DbConnection,
    file: &std::path::Path,
    prefecture: Option<String>,
    dry_run: bool,
    limits: &crate::import::Limits,
) -> Result<(), String> {
    use crate::services::imports::{By, institutions};
    let (file_name, bytes) = read_file(file)?;
    let code = match prefecture {
        Some(p) => p,
        None => {
            let prefectures = crate::db::areas::prefectures(conn).map_err(|e| e.to_string())?;
            match prefectures.as_slice() {
                [only] => only.code.clone(),
                [] => {
                    return Err(
                        "都道府県が登録されていません（kakari demo などで地域を登録してください）"
                            .into(),
                    );
                }
                _ => {
                    return Err(
                        "都道府県が複数あります。--prefecture 46 のように指定してください".into(),
                    );
                }
            }
        }
    };
    let target = institutions::load_target(conn, &code).map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let summary = if dry_run {
        let (_, p) = institutions::read_and_plan(conn, &file_name, &bytes, &target, limits)
            .map_err(|e| e.to_string())?;
        p
    } else {
        let id = institutions::preview(conn, &file_name, &bytes, &target, None, limits)
            .map_err(|e| e.to_string())?;
        institutions::apply(conn, id, None, &By::system("cli"), limits)
            .map_err(|e| e.to_string())?
    };
    println!(
        "{} {}（{}）: 追加 {} / 変更 {} / 変更なし {} / エラー {} / ファイルにない {} / 市区町村不明 {}（{:.1} 秒）",
        if dry_run {
            "確認のみ（何も変更していません）"
        } else {
            "取込完了"
        },
        file_name,
        target.prefecture_name,
        summary.added.len(),
        summary.updated.len(),
        summary.unchanged,
        summary.rejected.iter().map(|r| r.rows).sum::<usize>(),
        summary.not_in_file.len(),
        summary.unmatched.len(),
        started.elapsed().as_secs_f64()
    );
    let shown = crate::import::PREVIEW_ROWS;
    for u in summary.updated.iter().take(shown) {
        let changes: Vec<String> = u
            .changes
            .iter()
            .map(|c| format!("{}: {} → {}", c.field, c.old, c.new))
            .collect();
        println!("  変更 {} {}: {}", u.code, u.name, changes.join("、"));
    }
    more(summary.updated.len(), shown);
    for r in summary.rejected.iter().take(shown) {
        println!("  エラー {}行目 {} {}: {}", r.row, r.code, r.name, r.reason);
    }
    more(summary.rejected.len(), shown);
    for u in summary.unmatched.iter().take(shown) {
        println!(
            "  市区町村不明 {}行目 {} {}: {}",
            u.row, u.code, u.name, u.address
        );
    }
    more(summary.unmatched.len(), shown);
    Ok(())
}

/// The line after a list cut at its first rows.
pub fn more(total: usize, shown: usize) {
    if total > shown {
        println!("  …ほか {} 件", total - shown);
    }
}

pub fn print_demo_users(report: &demo::DemoReport, password: &str) {
    println!("デモユーザ (パスワードはすべて {password}):");
    for (login, role, scope) in &report.users {
        println!("  {login:<14} {role}（{scope}）");
    }
}

/// The new user's password: asked twice on a terminal, or one line of standard input.
pub fn read_password() -> Result<String, String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("パスワード: ").map_err(|e| e.to_string())?;
        let second =
            rpassword::prompt_password("パスワード（確認）: ").map_err(|e| e.to_string())?;
        if first != second {
            return Err("確認用のパスワードが一致しません".into());
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

/// The season in progress (see `demo::season`), with what it made.
pub fn print_season(conn: &mut db::DbConnection, seed: u64) -> Result<(), String> {
    let today = crate::domain::wareki::today_jst(chrono::Utc::now());
    let fy = crate::domain::wareki::fiscal_year_of(today);
    let made = demo::season(conn, fy, seed).map_err(|e| e.to_string())?;
    println!(
        "報告年度の途中を作りました: NDB算定回数 {} 件、報告 {} 件（版 {} 件）、差戻しとメモ、前年度の公表（{:.1} 秒）",
        made.ndb_counts, made.reports.reports, made.reports.versions, made.seconds
    );
    Ok(())
}

/// The prefecture a command acts for: the one named (code or name), or the only one.
pub fn prefecture_id(conn: &mut db::DbConnection, named: Option<&str>) -> Result<i32, String> {
    match named {
        Some(text) => db::areas::prefecture_by_code_or_name(conn, text)
            .map_err(|e| e.to_string())?
            .map(|(id, _, _)| id)
            .ok_or_else(|| format!("都道府県 {text} が登録されていません")),
        None => {
            let all = db::areas::prefectures(conn).map_err(|e| e.to_string())?;
            match all.as_slice() {
                [one] => Ok(one.id),
                [] => Err("都道府県が登録されていません".into()),
                _ => Err("都道府県が複数あります。--prefecture で指定してください".into()),
            }
        }
    }
}

/// `kakari user invite --login ID`: a fresh one-time link, printed once.
pub fn invite(
    pool: &db::Pool,
    settings: &crate::config::Settings,
    login: &str,
) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let user = db::users::by_login(&mut conn, login.trim())
        .map_err(|e| e.to_string())?
        .filter(|u| u.active)
        .ok_or_else(|| format!("ログインID {login} の有効なユーザはいません"))?;
    let now = chrono::Utc::now().naive_utc();
    let token =
        crate::services::accounts::links::invite(&mut conn, &user, settings.link_hours, now)
            .map_err(|e| e.to_string())?;
    let base = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.bind));
    println!("{}/account/link/{token}", base.trim_end_matches('/'));
    eprintln!(
        "{} 様（{}）のパスワード設定用URLです。{}時間、一度だけ有効です。前に発行したURLは使えなくなりました。",
        user.display_name, user.login_id, settings.link_hours
    );
    Ok(())
}
