//! The `kakari` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use kakari::cli::{
    check_catalog, check_report, fail, import_institutions, import_ndb, print_demo_users,
    print_season, read_password,
};
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
    /// Publish a fiscal year: a snapshot of its confirmed reports becomes the public
    /// pages, the 集計表 and the 公表用CSV (replacing an earlier one).
    Publish {
        #[arg(long)]
        fy: i32,
        /// Prefecture code (2 digits) or name; default: the only prefecture.
        #[arg(long)]
        prefecture: Option<String>,
    },
    /// Take a published fiscal year down.
    Unpublish {
        #[arg(long)]
        fy: i32,
        #[arg(long)]
        prefecture: Option<String>,
    },
    /// Exports: 全項目CSV (or xlsx) of a fiscal year's reports.
    Export {
        #[command(subcommand)]
        action: kakari::cli::export::ExportAction,
    },
    /// Mail: a test message, broadcasts, their status, the outbox worker.
    Mail {
        #[command(subcommand)]
        action: kakari::cli::mail::MailAction,
    },
    /// 調査票 for paper reporters: Excel forms pre-printed for one institution, a
    /// health center's paper reporters, or all of them.
    Forms {
        #[command(subcommand)]
        action: kakari::cli::forms::FormsAction,
    },
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
    /// Filled Excel 調査票 (.xlsx, .xls, or a .zip of them), written as proxy drafts.
    Forms(kakari::cli::forms::ImportArgs),
    /// Municipalities' populations for the publication rules: CSV or Excel, one row per
    /// municipality (市区町村コード, 人口). All rows or none.
    Population {
        file: PathBuf,
        #[arg(long)]
        prefecture: Option<String>,
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
    /// Print a one-time link that sets the user's password (for the IT staff to hand
    /// over). Earlier links of the user stop working.
    Invite {
        #[arg(long)]
        login: String,
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
            match kakari::services::catalogs::load_catalog(&mut conn, &body, None) {
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
            what: ImportWhat::Forms(args),
        } => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            kakari::cli::forms::import_files(&pool, args, &settings.import_limits)
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
            action: UserAction::Invite { login },
        } => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            kakari::cli::invite(&pool, &settings, &login)
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
        Command::Import {
            what: ImportWhat::Population { file, prefecture },
        } => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            kakari::cli::publication::import_population(&pool, &file, prefecture.as_deref())
        }
        Command::Publish { fy, prefecture } => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            kakari::cli::publication::publish(&pool, fy, prefecture.as_deref())
        }
        Command::Unpublish { fy, prefecture } => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            kakari::cli::publication::unpublish(&pool, fy, prefecture.as_deref())
        }
        Command::Forms { action } => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            kakari::cli::forms::run(action, &pool)
        }
        Command::Export { action } => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            kakari::cli::export::run(action, &pool)
        }
        Command::Mail { action } => {
            let (_, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
            kakari::cli::mail::run(action, &settings, &pool)
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
            let values: [(&str, String); 17] = [
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
                ("link_hours", settings.link_hours.to_string()),
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
            kakari::cli::mail::print_settings(&settings);
            println!("由来 (sources):");
            for (key, source) in &settings.sources {
                println!("  {key:<22} {source}");
            }
            Ok(())
        }
    }
}

/// `serve --demo`: what to load when the database is empty.
struct DemoWanted {
    institutions: usize,
    password: Option<String>,
    season: bool,
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
