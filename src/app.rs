//! Start-up steps shared by the CLI and the tests: open the database, bind, serve.

use std::net::{SocketAddr, TcpListener};

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
    let workers = settings.workers;
    let state = AppState {
        pool,
        database: url,
        settings,
    };
    Ok(web::server(state, listener, workers)?)
}
