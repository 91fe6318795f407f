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
    },
    /// Apply pending database migrations.
    Migrate,
    /// Load the demo prefecture (鹿児島県) with synthetic institutions.
    Demo {
        #[arg(long, default_value_t = demo::DEFAULT_INSTITUTIONS)]
        institutions: usize,
        #[arg(long, default_value_t = demo::DEFAULT_SEED)]
        seed: u64,
        /// Delete all existing data first.
        #[arg(long)]
        reset: bool,
        /// Password of the demo users; generated and printed when omitted.
        #[arg(long, value_name = "PASSWORD")]
        demo_password: Option<String>,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            ..
        } => serve(settings, with_demo, institutions, demo_password),
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
            Ok(())
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
            import_institutions(&mut conn, &file, prefecture, dry_run)
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
            let id = kakari::accounts::add_from_cli(
                &mut conn,
                &kakari::accounts::CliUser {
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
            println!("  data_dir     = {}", settings.data_dir.display());
            println!("  database     = {}", settings.database().redacted());
            println!("  bind         = {}", settings.bind);
            println!("  pool_size    = {}", settings.pool_size);
            println!("  workers      = {}", settings.workers);
            println!("  log          = {}", settings.log);
            println!("  public_url   = {}", settings.display_url());
            println!("由来 (sources):");
            for (key, source) in &settings.sources {
                println!("  {key:<12} {source}");
            }
            Ok(())
        }
    }
}

fn import_institutions(
    conn: &mut kakari::db::DbConnection,
    file: &std::path::Path,
    prefecture: Option<String>,
    dry_run: bool,
) -> Result<(), String> {
    use kakari::import::{plan, service};
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
    let target = plan::load_target(conn, &code).map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    let summary = if dry_run {
        let (_, p) =
            service::read_and_plan(conn, &file_name, &bytes, &target).map_err(|e| e.to_string())?;
        p
    } else {
        let id =
            service::preview(conn, &file_name, &bytes, &target, None).map_err(|e| e.to_string())?;
        let actor = plan::Actor {
            user_id: None,
            login: "cli",
            ip: None,
        };
        service::apply(conn, id, None, &actor).map_err(|e| e.to_string())?
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
        summary.rejected.len(),
        summary.not_in_file.len(),
        summary.unmatched.len(),
        started.elapsed().as_secs_f64()
    );
    for u in &summary.updated {
        let changes: Vec<String> = u
            .changes
            .iter()
            .map(|c| format!("{}: {} → {}", c.field, c.old, c.new))
            .collect();
        println!("  変更 {} {}: {}", u.code, u.name, changes.join("、"));
    }
    for r in &summary.rejected {
        println!("  エラー {}行目 {} {}: {}", r.row, r.code, r.name, r.reason);
    }
    for u in &summary.unmatched {
        println!(
            "  市区町村不明 {}行目 {} {}: {}",
            u.row, u.code, u.name, u.address
        );
    }
    Ok(())
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

fn serve(
    settings: Settings,
    with_demo: bool,
    institutions: usize,
    demo_password: Option<String>,
) -> Result<(), String> {
    // Bind first: a port in use should fail before anything touches the database.
    let listener = app::bind(settings.bind).map_err(|e| e.to_string())?;
    let (url, pool) = app::open_database(&settings).map_err(|e| e.to_string())?;
    if with_demo {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        if db::is_empty(&mut conn).map_err(|e| e.to_string())? {
            println!("デモデータを作成しています… (loading the demo prefecture)");
            let password = demo_password.unwrap_or_else(kakari::password::generate);
            let report = demo::load(
                &mut conn,
                institutions,
                demo::DEFAULT_SEED,
                false,
                &password,
            )
            .map_err(|e| e.to_string())?;
            println!(
                "デモデータ: 鹿児島県, 医療機関 {} 件 ({:.1} 秒)",
                report.institutions, report.seconds
            );
            print_demo_users(&report, &password);
        } else if demo_password.is_some() {
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
