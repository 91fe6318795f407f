//! `kakari forms xlsx`: the Excel 調査票 of one institution, a health center's paper
//! reporters, or every paper reporter, written to a file (.xlsx for one, .zip for
//! several).

use std::path::PathBuf;

use clap::Subcommand;

use crate::db::Pool;
use crate::domain::auth::Scope;
use crate::services::catalogs::Catalogs;
use crate::services::paper::forms::Whose;

#[derive(Subcommand)]
pub enum FormsAction {
    /// Excel forms pre-printed with the last confirmed answers and the NDB counts.
    Xlsx {
        #[arg(long)]
        fy: i32,
        /// One institution (10-digit code).
        #[arg(long, conflicts_with_all = ["area", "paper"])]
        institution: Option<String>,
        /// The paper reporters of one health center (its area code).
        #[arg(long, conflicts_with = "paper")]
        area: Option<String>,
        /// Every paper reporter.
        #[arg(long)]
        paper: bool,
        /// Where to write (.xlsx for one institution, .zip for several).
        #[arg(long, short)]
        output: PathBuf,
    },
}

pub fn run(action: FormsAction, pool: &Pool) -> Result<(), String> {
    let FormsAction::Xlsx {
        fy,
        institution,
        area,
        paper,
        output,
    } = action;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let whose = match (institution, area, paper) {
        (Some(code), _, _) => {
            match crate::services::accounts::parse_scope(&mut conn, &format!("inst:{code}"))
                .map_err(|e| e.to_string())?
            {
                Scope::Institution(id) => Whose::One(id),
                _ => return Err(format!("医療機関コード {code} が見つかりません")),
            }
        }
        (None, Some(area), _) => {
            match crate::services::accounts::parse_scope(&mut conn, &format!("area:{area}"))
                .map_err(|e| e.to_string())?
            {
                Scope::Jurisdiction(id) => Whose::Paper {
                    jurisdiction: Some(id),
                },
                _ => return Err(format!("{area} は保健所の区域ではありません")),
            }
        }
        (None, None, true) => Whose::Paper { jurisdiction: None },
        (None, None, false) => {
            return Err(
                "--institution CODE、--area 保健所、--paper のどれかを指定してください".into(),
            );
        }
    };
    let file =
        crate::services::paper::xlsx::files(&mut conn, &Catalogs::default(), Scope::All, fy, whose)
            .map_err(|e| e.to_string())?;
    let wanted = if matches!(whose, Whose::One(_)) {
        "xlsx"
    } else {
        "zip"
    };
    if output.extension().and_then(|e| e.to_str()) != Some(wanted) {
        return Err(format!("出力ファイルの拡張子は .{wanted} にしてください"));
    }
    std::fs::write(&output, &file.bytes)
        .map_err(|e| format!("{} に書けません: {e}", output.display()))?;
    println!(
        "{} を書きました（{} バイト）",
        output.display(),
        file.bytes.len()
    );
    Ok(())
}

/// The officer a command-line import enters drafts as.
fn officer(
    conn: &mut crate::db::DbConnection,
    login: &str,
) -> Result<crate::services::Actor, String> {
    let user = crate::db::users::by_login(conn, login)
        .map_err(|e| e.to_string())?
        .filter(|u| u.active && u.role().is_officer())
        .ok_or_else(|| {
            format!("担当者のログインID {login} が見つかりません（有効な都道府県・保健所の担当者）")
        })?;
    let (user, scope) = crate::db::users::with_scope(conn, user.id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("担当者 {login} の担当範囲が見つかりません"))?;
    Ok(crate::services::Actor {
        user_id: user.id,
        login: user.login_id.clone(),
        scope,
        officer: true,
        ip: None,
    })
}

/// `kakari import forms`: each file checked (which institution and year, every cell
/// against the catalog) and written as the institution's proxy draft, entered in the
/// name of the officer given with --as; one line per file; exit 1 when any is refused.
#[derive(clap::Args)]
pub struct ImportArgs {
    files: Vec<PathBuf>,
    /// Fiscal year the forms must be for; default: the current one.
    #[arg(long)]
    fy: Option<i32>,
    /// The officer (login ID) the drafts are entered as; required unless --dry-run.
    #[arg(long = "as", value_name = "LOGIN")]
    officer: Option<String>,
    /// Submit the forms that are complete (報告), not only save them as drafts.
    #[arg(long)]
    submit: bool,
    /// Replace a draft the institution itself was entering (audited).
    #[arg(long)]
    overwrite: bool,
    /// Check only; write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `kakari import forms FILE…`: one line per workbook, what became of it (or, with
/// `--dry-run`, what would); an error (exit 1) when any is refused.
pub fn import_files(
    pool: &Pool,
    args: ImportArgs,
    limits: &crate::import::Limits,
) -> Result<(), String> {
    use crate::services::paper::imports::{self as service, ApplyOptions, Written};
    let ImportArgs {
        files,
        fy,
        officer: login,
        submit,
        overwrite,
        dry_run,
    } = args;
    let apply = if dry_run {
        None
    } else {
        let login = login.ok_or(
            "--as で取り込む担当者のログインIDを指定してください（確かめるだけなら --dry-run）",
        )?;
        let options = ApplyOptions {
            overwrite_clinic_draft: overwrite,
            submit,
        };
        Some((login, options))
    };
    if files.is_empty() {
        return Err("調査票のファイルを指定してください".into());
    }
    let fy = fy.unwrap_or_else(|| {
        crate::domain::wareki::fiscal_year_of(crate::domain::wareki::today_jst(chrono::Utc::now()))
    });
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let actor = match &apply {
        Some((login, _)) => Some(officer(&mut conn, login)?),
        None => None,
    };
    let scope = actor.as_ref().map_or(Scope::All, |a| a.scope);
    let catalogs = Catalogs::default();
    let mut refused = 0;
    for path in files {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let books = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| service::workbooks(&name, &bytes, limits).map_err(|e| e.to_string()));
        let books = match books {
            Ok(books) => books,
            Err(problem) => {
                println!("NG {name}: {problem}");
                refused += 1;
                continue;
            }
        };
        for (inner, bytes) in &books {
            let o = service::check(
                &mut conn,
                &catalogs,
                scope,
                fy,
                (inner, bytes),
                (limits, overwrite),
            )
            .map_err(|e| e.to_string())?;
            if !o.accepted() {
                refused += 1;
                println!("NG {}: {}", o.file_name, o.problems.join(" / "));
                continue;
            }
            let who = format!(
                "{} {}",
                o.code.as_deref().unwrap_or(""),
                o.institution.as_deref().unwrap_or("")
            );
            let done = match (&actor, &apply) {
                (Some(actor), Some((_, options))) => {
                    match service::apply(&mut conn, &catalogs, actor, fy, &o, *options) {
                        Ok(Written::Draft { report_id }) => {
                            format!("下書きにしました（報告 {report_id}）")
                        }
                        Ok(Written::Submitted { report_id, number }) => {
                            format!("報告しました（報告 {report_id} 第{number}版）")
                        }
                        Err(e) => {
                            refused += 1;
                            println!("NG {e}");
                            continue;
                        }
                    }
                }
                _ => o.action.unwrap_or("").to_string(),
            };
            let state = if o.complete {
                "すべて回答済"
            } else {
                "未回答あり"
            };
            println!(
                "OK {}: {who} 回答 {} 件（{state}） — {done}",
                o.file_name, o.answers
            );
        }
    }
    if refused > 0 {
        return Err(format!("{refused} 件の調査票を受け付けられません"));
    }
    Ok(())
}
