//! The `kakari` command.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use kakari::config::{Overrides, Settings};
use kakari::db::{self, DatabaseUrl};
use kakari::{app, demo};

#[derive(Parser)]
#[command(
    name = "kakari",
    version,
    about = "Kakari: かかりつけ医機能報告の都道府県バックオフィス"
)]
struct Cli {
    /// Settings file (TOML). Also KAKARI_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (SQLite file, mail files). Also KAKARI_DATA_DIR; default ./data.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL (sqlite://FILE or postgres://…). Also DATABASE_URL.
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web application (SQLite is created and migrated automatically).
    Serve {
        /// Address to listen on. Also KAKARI_BIND; default 127.0.0.1:8080.
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
        /// Load the demo prefecture first if the database is empty.
        #[arg(long)]
        demo: bool,
        /// Institutions in the demo (with --demo).
        #[arg(long, default_value_t = demo::DEFAULT_INSTITUTIONS)]
        institutions: usize,
        /// Password of the demo users (with --demo); generated and printed when omitted.
        #[arg(long, value_name = "PASSWORD")]
        demo_password: Option<String>,
        /// The demo without its season (no NDB counts, reports, memos).
        #[arg(long)]
        no_reports: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Rebuild the review search table from the institutions and reports (after
    /// changing them by hand in the database).
    Reindex,
    /// Load the demo prefecture (鹿児島県) with synthetic institutions.
    Demo {
        #[arg(long, default_value_t = demo::DEFAULT_INSTITUTIONS)]
        institutions: usize,
        #[arg(long, default_value_t = demo::DEFAULT_SEED)]
        seed: u64,
        /// Delete all existing data first.
        #[arg(long)]
        reset: bool,
        /// Also create this many clinic users (demo-clinic-0001…), one per
        /// reporting-target institution, with the demo password.
        #[arg(long, default_value_t = 0)]
        clinic_users: usize,
        /// Institutions, areas and users only: no season in progress (NDB counts, last
        /// year confirmed, this year's reports in every state, memos, a send-back).
        #[arg(long, conflicts_with = "reports")]
        no_reports: bool,
        /// The season in progress (the default; kept for scripts that name it).
        #[arg(long, hide = true)]
        reports: bool,
        /// Password of the demo users; generated and printed when omitted.
        #[arg(long, value_name = "PASSWORD")]
        demo_password: Option<String>,
    },
    /// The report catalog of a fiscal year.
    Catalog {
        #[command(subcommand)]
        action: CatalogAction,
    },
    /// Answers documents (JSON) offline.
    Report {
        #[command(subcommand)]
        action: ReportAction,
    },
    /// Import data files.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// User accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Copy a live SQLite database to FILE (PostgreSQL: use pg_dump).
    Backup { file: PathBuf },
    /// Settings.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum CatalogAction {
    /// Check a catalog file (TOML); each problem is printed with its line.
    Check { file: PathBuf },
    /// Load a corrected catalog for its fiscal year (before any report of that year is
    /// submitted). The file needs a new `version`.
    Load { file: PathBuf },
}

#[derive(Subcommand)]
enum ReportAction {
    /// Validate an answers document against a fiscal year's catalog and print the
    /// determination (1号/2号 with reasons) as JSON. Exit code 0 when the document is valid
    /// and complete, 1 otherwise.
    Check {
        #[arg(long)]
        fy: i32,
        /// A catalog file to use instead of the shipped one.
        #[arg(long)]
        catalog: Option<PathBuf>,
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum ImportWhat {
    /// The institution master: the regional bureau's 「コード内容別医療機関一覧表」
    /// (.xlsx, .xls, or a .zip holding one) or our template (CSV or Excel).
    Institutions {
        file: PathBuf,
        /// Prefecture code (2 digits) or name; default: the only prefecture, or the
        /// one the bureau file names.
        #[arg(long)]
        prefecture: Option<String>,
        /// Show what would change without changing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// NDB counts (算定回数) of a fiscal year: CSV or Excel, long form (医療機関コード,
    /// 項目, 算定回数) or wide form (医療機関コード + one column per item key).
    Ndb {
        file: PathBuf,
        /// Fiscal year the counts are for (e.g. 2025 for 令和7年度).
        #[arg(long)]
        fy: i32,
        /// Show what would change without changing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a user. The password is asked on a terminal, or read as one line from
    /// standard input (for scripts).
    Add {
        #[arg(long)]
        login: String,
        /// sysadmin, admin, officer, area or institution.
        #[arg(long)]
        role: String,
        /// all, pref:46, area:<jurisdiction or municipality code>, inst:<10-digit code>.
        #[arg(long)]
        scope: String,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        email: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Validate the settings and show where each value comes from.
    Check,
}

/// Commands other than `serve` write to a terminal or a pipe: when the reader goes away
/// (`kakari reindex | head`), they end quietly as Unix tools do, instead of panicking in
/// `println!`. The server keeps Rust's setting, under which a write to a closed socket
/// is an error to handle rather than the end of the process.
fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called once at start-up, before any thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve { .. }) {
        end_quietly_on_closed_pipe();
    }
    // Offline checks need no settings or database.
    match &cli.command {
        Command::Catalog {
            action: CatalogAction::Check { file },
        } => return check_catalog(file),
        Command::Report {
            action: ReportAction::Check { fy, catalog, file },
        } => return check_report(*fy, catalog.as_deref(), file),
        _ => {}
    }
    let bind = match &cli.command {
        Command::Serve { bind, .. } => bind.clone(),
        _ => None,
    };
    let overrides = Overrides {
        config_file: cli.config.clone(),
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        bind,
    };
    let settings = match Settings::load(&overrides) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    init_logging(&settings.log);
    match run(cli.command, settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(message),
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "エラー: {message}");
    ExitCode::FAILURE
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(command: Command, settings: Settings) -> Result<(), String> {
    match command {
        Command::Serve {
            demo: with_demo,
            institutions,
            demo_password,
            no_reports,
            ..
        } => {
            let demo = with_demo.then_some(DemoWanted {
                institutions,
                password: demo_password,
                season: !no_reports,
            });
            serve(settings, demo)
        }
        Command::Migrate => {
            let url = settings.database();
            let applied = db::migrate(&url).map_err(|e| e.to_string())?;
            println!(
                "マイグレーション完了: {applied} 件適用 ({})",
                url.redacted()
            );
            Ok(())
        }
        Command::Demo {
            institutions,
            seed,
            reset,
            demo_password,
            clinic_users,
            no_reports,
            ..
        } => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let password = demo_password.unwrap_or_else(kakari::password::generate);
            let report = demo::load(&mut conn, institutions, seed, reset, &password)
                .map_err(|e| e.to_string())?;
            println!(
                "デモデータを読み込みました: 鹿児島県, 医療機関 {} 件 (seed {seed}, {:.1} 秒)",
                report.institutions, report.seconds
            );
            print_demo_users(&report, &password);
            if !no_reports {
                print_season(&mut conn, seed)?;
            }
            if clinic_users > 0 {
                let logins = demo::add_clinic_users(&mut conn, clinic_users, &password)
                    .map_err(|e| e.to_string())?;
                println!(
                    "医療機関ユーザを {} 人追加しました: {} 〜 {}",
                    logins.len(),
                    logins.first().map_or("", String::as_str),
                    logins.last().map_or("", String::as_str)
                );
            }
            Ok(())
        }
        Command::Catalog {
            action: CatalogAction::Load { file },
        } => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let body = std::fs::read_to_string(&file)
                .map_err(|e| format!("{} を読めません: {e}", file.display()))?;
            match kakari::services::reports::load_catalog(&mut conn, &body, None) {
                Ok(c) => {
                    println!(
                        "読み込みました: {} 版 {}（{} 項目）",
                        c.title,
                        c.version,
                        c.items.len()
                    );
                    Ok(())
                }
                Err(problems) => Err(problems.join("\n")),
            }
        }
        Command::Catalog { .. } | Command::Report { .. } => Ok(()),
        Command::Reindex => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let rows = kakari::services::review::reindex(&mut conn).map_err(|e| e.to_string())?;
            println!("報告状況の検索表を作り直しました: {rows} 行");
            Ok(())
        }
        Command::Import {
            what: ImportWhat::Ndb { file, fy, dry_run },
        } => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            import_ndb(&mut conn, &file, fy, dry_run, &settings.import_limits)
        }
        Command::Import {
            what:
                ImportWhat::Institutions {
                    file,
                    prefecture,
                    dry_run,
                },
        } => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            import_institutions(
                &mut conn,
                &file,
                prefecture,
                dry_run,
                &settings.import_limits,
            )
        }
        Command::User {
            action:
                UserAction::Add {
                    login,
                    role,
                    scope,
                    name,
                    email,
                },
        } => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let password = read_password()?;
            let id = kakari::services::accounts::add_from_cli(
                &mut conn,
                &kakari::services::accounts::CliUser {
                    login_id: &login,
                    display_name: &name,
                    email: email.as_deref(),
                    role: &role,
                    scope: &scope,
                    password: &password,
                },
                settings.password_min_length as usize,
            )
            .map_err(|e| e.to_string())?;
            println!("ユーザを作成しました: {login} (id {id})");
            Ok(())
        }
        Command::Backup { file } => {
            let DatabaseUrl::Sqlite(source) = settings.database() else {
                return Err(db::backup::BackupError::NotSqlite.to_string());
            };
            let bytes = db::backup::backup_sqlite(&source, &file).map_err(|e| e.to_string())?;
            println!(
                "バックアップを作成しました: {} ({bytes} bytes)",
                file.display()
            );
            Ok(())
        }
        Command::Config {
            action: ConfigAction::Check,
        } => {
            println!("設定は有効です (settings are valid)");
            let limits = &settings.import_limits;
            let mb = 1024 * 1024;
            let values: [(&str, String); 16] = [
                ("data_dir", settings.data_dir.display().to_string()),
                ("database", settings.database().redacted()),
                ("bind", settings.bind.to_string()),
                ("pool_size", settings.pool_size.to_string()),
                ("workers", settings.workers.to_string()),
                ("log", settings.log.clone()),
                ("public_url", settings.display_url()),
                (
                    "session_idle_minutes",
                    settings.session_idle_minutes.to_string(),
                ),
                ("session_max_hours", settings.session_max_hours.to_string()),
                (
                    "password_min_length",
                    settings.password_min_length.to_string(),
                ),
                ("cookie_secure", settings.cookie_secure.to_string()),
                ("max_upload_mb", settings.max_upload_mb.to_string()),
                (
                    "import_max_member_mb",
                    (limits.member_bytes / mb).to_string(),
                ),
                ("import_max_ratio", limits.ratio.to_string()),
                ("import_max_cell_kb", (limits.cell_bytes / 1024).to_string()),
                ("import_max_rows", limits.rows.to_string()),
            ];
            for (key, value) in values {
                println!("  {key:<22} = {value}");
            }
            println!("由来 (sources):");
            for (key, source) in &settings.sources {
                println!("  {key:<22} {source}");
            }
            Ok(())
        }
    }
}

fn check_catalog(file: &std::path::Path) -> ExitCode {
    use kakari::domain::catalog::Catalog;
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

fn check_report(
    fy: i32,
    catalog_file: Option<&std::path::Path>,
    file: &std::path::Path,
) -> ExitCode {
    use kakari::domain::catalog::{Catalog, shipped};
    use kakari::domain::determination::{determine, validate};
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

fn import_ndb(
    conn: &mut kakari::db::DbConnection,
    file: &std::path::Path,
    fiscal_year: i32,
    dry_run: bool,
    limits: &kakari::import::Limits,
) -> Result<(), String> {
    use kakari::services::imports::{By, ndb};
    let bytes = std::fs::read(file).map_err(|e| format!("{} を読めません: {e}", file.display()))?;
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let catalogs = kakari::services::reports::Catalogs::default();
    let started = std::time::Instant::now();
    let file = ndb::NdbFile {
        fiscal_year,
        file_name: &file_name,
        bytes: &bytes,
    };
    let everywhere = kakari::domain::auth::Scope::All;
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
        kakari::domain::wareki::fiscal_year_full(fiscal_year),
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

fn import_institutions(
    conn: &mut kakari::db::DbConnection,
    file: &std::path::Path,
    prefecture: Option<String>,
    dry_run: bool,
    limits: &kakari::import::Limits,
) -> Result<(), String> {
    use kakari::services::imports::{By, institutions};
    let bytes = std::fs::read(file).map_err(|e| format!("{} を読めません: {e}", file.display()))?;
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let code = match prefecture {
        Some(p) => p,
        None => {
            let prefectures = kakari::db::areas::prefectures(conn).map_err(|e| e.to_string())?;
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
    let shown = kakari::import::PREVIEW_ROWS;
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
fn more(total: usize, shown: usize) {
    if total > shown {
        println!("  …ほか {} 件", total - shown);
    }
}

fn print_demo_users(report: &demo::DemoReport, password: &str) {
    println!("デモユーザ (パスワードはすべて {password}):");
    for (login, role, scope) in &report.users {
        println!("  {login:<14} {role}（{scope}）");
    }
}

/// The new user's password: asked twice on a terminal, or one line of standard input.
fn read_password() -> Result<String, String> {
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

/// `serve --demo`: what to load when the database is empty.
struct DemoWanted {
    institutions: usize,
    password: Option<String>,
    season: bool,
}

/// The season in progress (see `demo::season`), with what it made.
fn print_season(conn: &mut db::DbConnection, seed: u64) -> Result<(), String> {
    let today = kakari::domain::wareki::today_jst(chrono::Utc::now());
    let fy = kakari::domain::wareki::fiscal_year_of(today);
    let made = demo::season(conn, fy, seed).map_err(|e| e.to_string())?;
    println!(
        "報告年度の途中を作りました: NDB算定回数 {} 件、報告 {} 件（版 {} 件）、差戻しとメモ（{:.1} 秒）",
        made.ndb_counts, made.reports.reports, made.reports.versions, made.seconds
    );
    Ok(())
}

fn serve(settings: Settings, demo: Option<DemoWanted>) -> Result<(), String> {
    // Bind first: a port in use should fail before anything touches the database.
    let listener = app::bind(settings.bind).map_err(|e| e.to_string())?;
    let (url, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
    if let Some(wanted) = demo {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        if db::is_empty(&mut conn).map_err(|e| e.to_string())? {
            println!("デモデータを作成しています… (loading the demo prefecture)");
            let password = wanted.password.unwrap_or_else(kakari::password::generate);
            let seed = demo::DEFAULT_SEED;
            let report = demo::load(&mut conn, wanted.institutions, seed, false, &password)
                .map_err(|e| e.to_string())?;
            println!(
                "デモデータ: 鹿児島県, 医療機関 {} 件 ({:.1} 秒)",
                report.institutions, report.seconds
            );
            if wanted.season {
                print_season(&mut conn, seed)?;
            }
            print_demo_users(&report, &password);
        } else if wanted.password.is_some() {
            println!(
                "データベースに既にデータがあるため、デモは読み込みませんでした（--demo-password は使われません）。"
            );
        }
    }
    let url_text = settings.display_url();
    let database = url.redacted();
    let server = app::serve(settings, url, pool, listener).map_err(|e| e.to_string())?;
    println!("Kakari を起動しました: {url_text}  (データベース: {database})");
    println!("停止するには Ctrl+C を押してください。");
    actix_web::rt::System::new()
        .block_on(server)
        .map_err(|e| e.to_string())
}
