//! Start-up steps shared by the CLI and the tests: open the database, bind, serve.

use std::net::{SocketAddr, TcpListener};

use actix_web::cookie::Key;

use crate::config::Settings;
use crate::db::{self, DatabaseUrl, DbError, Pool};
use crate::web::{self, AppState};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Db(#[from] DbError),
    #[error(
        "{addr} は既に使われています。別のポートを --bind か KAKARI_BIND で指定してください (address in use)"
    )]
    AddressInUse { addr: SocketAddr },
    #[error("{addr} で待ち受けできません: {reason} (cannot listen)")]
    Listen { addr: SocketAddr, reason: String },
    #[error(
        "データベースに未適用のマイグレーションがあります。先に `kakari migrate` を実行してください (pending migrations: run `kakari migrate`)"
    )]
    PendingMigrations,
    #[error("画面テンプレートの読み込みに失敗しました: {0}")]
    Templates(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("メール送信を始められません: {0}")]
    Mail(String),
}

/// Opens the database the settings name. SQLite is created and migrated on the spot (the
/// one-command start); PostgreSQL must have been migrated with `kakari migrate`, because
/// a production schema change is the operator's decision.
pub fn open_database(settings: &Settings) -> Result<(DatabaseUrl, Pool), StartError> {
    let url = settings.database();
    if url.is_sqlite() {
        db::migrate(&url)?;
    }
    let pool = db::build_pool(&url, settings.pool_size)?;
    let mut conn = pool.get().map_err(DbError::Pool)?;
    if db::has_pending_migrations(&mut conn)? {
        return Err(StartError::PendingMigrations);
    }
    Ok((url, pool))
}

pub fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => StartError::AddressInUse { addr },
        _ => StartError::Listen {
            addr,
            reason: e.to_string(),
        },
    })
}

/// Builds the server on a bound listener.
pub fn serve(
    settings: Settings,
    url: DatabaseUrl,
    pool: Pool,
    listener: TcpListener,
) -> Result<actix_web::dev::Server, StartError> {
    web::views::init().map_err(StartError::Templates)?;
    let key = session_key(&settings, &pool)?;
    keep_house(&pool)?;
    if settings.mail.worker_in_serve {
        // It runs as long as the process; a row it held when the process ended is
        // taken back after its lease by the next worker.
        crate::mail::worker::Worker::new(pool.clone(), &settings)
            .spawn(crate::mail::worker::StopSignal::default())
            .map_err(StartError::Mail)?;
        tracing::info!(
            to = %crate::mail::transport::Transport::describe(&settings.mail, &settings.data_dir),
            "mail worker started"
        );
    }
    let workers = settings.workers;
    let state = AppState {
        pool,
        database: url,
        settings,
        cache: web::cache::Cache::default(),
        catalogs: Default::default(),
        public_search: Default::default(),
    };
    Ok(web::server(state, listener, workers, key)?)
}

/// Cleans up once now (so a restart never serves stale previews), then hourly on a
/// thread of its own.
fn keep_house(pool: &Pool) -> Result<(), StartError> {
    let clean = |pool: &Pool| -> Result<db::housekeeping::Removed, DbError> {
        let mut conn = pool.get().map_err(DbError::Pool)?;
        db::housekeeping::clean(&mut conn, chrono::Utc::now().naive_utc())
    };
    clean(pool)?;
    let pool = pool.clone();
    std::thread::Builder::new()
        .name("housekeeping".into())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                match clean(&pool) {
                    Ok(removed) => tracing::info!(
                        imports = removed.imports,
                        sessions = removed.sessions,
                        "housekeeping"
                    ),
                    Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
                }
            }
        })?;
    Ok(())
}

/// The key that signs and encrypts session cookies: from the settings, or generated once
/// and kept in the database so that restarts and several instances share it.
fn session_key(settings: &Settings, pool: &Pool) -> Result<Key, StartError> {
    if let Some(configured) = &settings.session_key {
        return Ok(Key::from(&configured.as_bytes()[..64]));
    }
    let mut conn = pool.get().map_err(DbError::Pool)?;
    let stored = db::meta::get(&mut conn, db::meta::SESSION_KEY).map_err(DbError::Query)?;
    let hex = match stored {
        Some(hex) if hex.len() == 128 => hex,
        _ => {
            let bytes: [u8; 64] = {
                use rand::Rng;
                let mut b = [0u8; 64];
                rand::rng().fill(&mut b[..]);
                b
            };
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            db::meta::set(&mut conn, db::meta::SESSION_KEY, &hex).map_err(DbError::Query)?;
            hex
        }
    };
    let bytes: Vec<u8> = (0..64)
        .filter_map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok())
        .collect();
    if bytes.len() != 64 {
        return Err(StartError::Templates(
            "session key in the database is damaged".into(),
        ));
    }
    Ok(Key::from(&bytes))
}

/// Background work (mail sending, exports) yields the CPU to the pages: officers
/// searching during a broadcast or an export should not wait behind it (the background
/// work waits a little longer instead).
pub(crate) fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid has no arguments; on Linux setpriority with PRIO_PROCESS and a
    // thread id changes that thread's nice value only, and a failure leaves it as it was.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}
