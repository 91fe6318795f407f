//! The database layer: one connection type over SQLite and PostgreSQL, its pool, the
//! embedded migrations, and one module per table or aggregate.
//!
//! Queries are written once against [`DbConnection`]; where the SQL must differ per
//! backend, [`per_backend!`] expands the same diesel expression for each variant.

pub mod applications;
pub mod areas;
pub mod audit;
pub mod backup;
pub mod bulk;
pub mod changes;
pub mod exports;
pub mod help;
pub mod housekeeping;
pub mod imports;
pub mod institutions;
pub mod links;
pub mod mail;
pub mod master;
pub mod memos;
pub mod meta;
pub mod ndb;
pub mod paper;
pub mod periods;
pub mod publication;
pub mod reports;
pub mod review;
pub mod review_index;
pub mod schema;
pub mod sessions;
pub mod users;

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The connection every query uses. The derive gives it diesel's `Connection` for the
/// common subset of both backends.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

/// Runs the same block against whichever backend `$conn` holds, with `$c` bound to the
/// concrete connection. For SQL that the multi-backend cannot express (batch inserts,
/// `ON CONFLICT`, `RETURNING`).
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Pg($c) => $body,
        }
    };
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "DATABASE_URL '{0}' は使えません。sqlite://ファイル名 または postgres://ユーザ@ホスト/DB名 を指定してください (unsupported database URL; use sqlite://FILE or postgres://...)"
    )]
    UnsupportedUrl(String),
    #[error("データディレクトリ {path} を作成できません: {reason} (cannot create data directory)")]
    DataDir { path: String, reason: String },
    #[error(
        "データディレクトリ {path} に書き込めません: {reason} (data directory is not writable)"
    )]
    NotWritable { path: String, reason: String },
    #[error("データベースに接続できません: {0} (cannot connect to the database)")]
    Connect(String),
    #[error("マイグレーションに失敗しました: {0} (migration failed)")]
    Migration(String),
    #[error("データベースの処理に失敗しました: {0}")]
    Query(#[from] diesel::result::Error),
    /// Non-database work that failed inside a database closure (hashing, say).
    #[error("{0}")]
    Task(String),
    #[error("データベース接続プールのエラー: {0}")]
    Pool(#[from] r2d2::PoolError),
}

/// Which database a URL names. Anything that is not clearly one of the two is refused, so
/// a typo never creates a stray SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str, data_dir: &Path) -> Result<DatabaseUrl, DbError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| DbError::UnsupportedUrl(url.to_string()))?;
        if path.is_empty() || path.contains('?') || path == ":memory:" {
            return Err(DbError::UnsupportedUrl(url.to_string()));
        }
        let path = PathBuf::from(path);
        let _ = data_dir;
        Ok(DatabaseUrl::Sqlite(path))
    }

    pub fn default_sqlite(data_dir: &Path) -> DatabaseUrl {
        DatabaseUrl::Sqlite(data_dir.join("kakari.sqlite3"))
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, DatabaseUrl::Sqlite(_))
    }

    /// A form safe to print: the password of a PostgreSQL URL is hidden.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Postgres(url) => redact_password(url),
        }
    }

    /// Makes sure a SQLite file can be created, with a clear message when it cannot.
    /// PostgreSQL needs nothing on disk.
    pub fn prepare(&self) -> Result<(), DbError> {
        let DatabaseUrl::Sqlite(path) = self else {
            return Ok(());
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| DbError::DataDir {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        // Probe writability before SQLite creates anything, so that a read-only directory
        // fails with a message instead of a half-created database.
        let probe = dir.join(format!(".kakari-write-test-{}", std::process::id()));
        std::fs::write(&probe, b"").map_err(|e| DbError::NotWritable {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let _ = std::fs::remove_file(&probe);
        Ok(())
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// SQLite's compiled-in ceiling for memory-mapped I/O (`SQLITE_MAX_MMAP_SIZE`, just
/// under 2 GB): a larger request is silently lowered to it.
pub const SQLITE_MMAP_BYTES: i64 = 0x7fff_0000;

/// Builds exactly the backend the URL names (the derived `establish` would try each
/// backend in turn, and SQLite accepts any string as a file name).
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    pub fn new(url: DatabaseUrl) -> Manager {
        Manager { url }
    }

    pub fn connect(&self) -> Result<DbConnection, DbError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut c = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(|e| DbError::Connect(e.to_string()))?;
                // mmap lets every connection share the OS page cache instead of each
                // keeping its own copy (measured: a 110,000-row scan 24 → 12 ms warm).
                // The window must cover the whole file: pages beyond it are copied into
                // each connection's cache (the 110,000-institution demo is 790 MB; with
                // a 256 MB window the server's heap grew to 113 MB under searches, with
                // the whole file mapped it stays at 19 MB).
                c.batch_execute(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                     PRAGMA synchronous = NORMAL; PRAGMA journal_mode = WAL; \
                     PRAGMA mmap_size = {SQLITE_MMAP_BYTES}; PRAGMA cache_size = -16000;",
                ))
                .map_err(|e| DbError::Connect(e.to_string()))?;
                Ok(DbConnection::Sqlite(c))
            }
            DatabaseUrl::Postgres(url) => {
                let mut c = PgConnection::establish(url)
                    .map_err(|e| DbError::Connect(redact_password(&e.to_string())))?;
                // Many officers at once, not one big query: parallel plans made every
                // request compete for the same cores (review search, 20 officers paced,
                // 110,000 institutions on 2 cores: p95 337 ms with, 154 ms without).
                c.batch_execute("SET max_parallel_workers_per_gather = 0")
                    .map_err(|e| DbError::Connect(e.to_string()))?;
                Ok(DbConnection::Pg(c))
            }
        }
    }
}

/// For the rest of the transaction, PostgreSQL plans every statement for its values.
///
/// diesel prepares and caches statements, and after five runs PostgreSQL may keep one
/// generic plan for the connection's life. A plan made while a table was small (a seq
/// scan of `login_id = ANY($1)` over 20 users) is still used after a bulk write in the
/// same transaction made the table large: 2 s per 900 logins, so the prefecture's
/// 59,907 accounts took 177 s (26 s with this). Not for every connection: planning each
/// statement made the paper-form pages and imports 30–200 % slower.
pub fn plan_each_statement(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(c) => c.batch_execute("SET LOCAL plan_cache_mode = force_custom_plan"),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        Manager::connect(self)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        diesel::r2d2::R2D2Connection::ping(conn).map_err(DbError::Query)
    }

    /// Checked when a connection returns to the pool: a connection whose server went
    /// away or whose transaction was left broken is dropped instead of reused.
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// Applies every pending migration of the backend the URL names.
pub fn migrate(url: &DatabaseUrl) -> Result<usize, DbError> {
    url.prepare()?;
    let mut conn = Manager::new(url.clone()).connect()?;
    let applied = match &mut conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConnection::Pg(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.len()),
    };
    applied.map_err(|e| DbError::Migration(e.to_string()))
}

/// Whether migrations are still pending (`serve` on PostgreSQL never migrates by itself:
/// a production schema change is the operator's decision, made with `kakari migrate`).
pub fn has_pending_migrations(conn: &mut DbConnection) -> Result<bool, DbError> {
    let pending = match conn {
        DbConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
        DbConnection::Pg(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
    };
    pending.map_err(|e| DbError::Migration(e.to_string()))
}

/// Every table, children before parents: the order in which `wipe` empties them.
/// A new table must be added here (a test checks the list against the migrations).
pub const TABLES_CHILDREN_FIRST: &[&str] = &[
    "document_chunks",
    "documents",
    "faqs",
    "notices",
    "account_links",
    "account_applications",
    "public_details",
    "public_institutions",
    "publications",
    "publication_rules",
    "municipality_populations",
    "mail_outbox",
    "mail_campaigns",
    "mail_templates",
    "review_entries",
    "review_years",
    "bulk_confirmations",
    "memo_reads",
    "report_memos",
    "report_versions",
    "reports",
    "ndb_counts",
    "reporting_periods",
    "catalogs",
    "audit_log",
    "imports",
    "sessions",
    "users",
    "institution_name_grams",
    "institutions",
    "areas",
    "meta",
];

/// Tables `wipe` leaves alone: the change counters only ever go up, so that every
/// process notices a reset too (SQLite only; PostgreSQL keeps them in sequences).
pub const TABLES_KEPT_BY_WIPE: &[&str] = &["change_counters"];

/// Deletes every row of every table (for `kakari demo --reset`), inside the caller's
/// transaction.
pub fn wipe(conn: &mut DbConnection) -> QueryResult<()> {
    for table in TABLES_CHILDREN_FIRST {
        // Table names come from the constant above, never from input.
        diesel::sql_query(format!("DELETE FROM {table}")).execute(conn)?;
    }
    Ok(())
}

/// Fresh planner statistics after a bulk load; on PostgreSQL also a visibility map, so
/// index-only scans need not visit the table. Outside any transaction.
pub fn analyze(conn: &mut DbConnection) -> QueryResult<()> {
    let sql = if matches!(conn, DbConnection::Pg(_)) {
        "VACUUM ANALYZE"
    } else {
        "ANALYZE"
    };
    conn.batch_execute(sql)
}

/// Whether the database answers (the health check).
pub fn ping(conn: &mut DbConnection) -> QueryResult<()> {
    conn.batch_execute("SELECT 1")
}

/// True when no prefecture has been installed yet.
pub fn is_empty(conn: &mut DbConnection) -> QueryResult<bool> {
    use schema::areas;
    let n: i64 = areas::table.count().get_result(conn)?;
    Ok(n == 0)
}

pub fn build_pool(url: &DatabaseUrl, size: u32) -> Result<Pool, DbError> {
    let manager = Manager::new(url.clone());
    // A SQLite file has one writer; a few connections serve many readers in WAL mode.
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(None)
        // No round trip before every query: broken connections are caught on return
        // (`has_broken`) and by the error of the query that meets them.
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(10))
        .build(manager)
        .map_err(|e| DbError::Connect(e.to_string()))
}

/// Runs `f` in one transaction that takes SQLite's write lock at once: a deferred
/// transaction that writes later can fail with SQLITE_BUSY instead of waiting its turn.
/// On PostgreSQL it is an ordinary transaction. Inside another transaction it is a
/// savepoint, so services compose (the demo creates many users in one transaction).
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(f);
    };
    let depth = <AnsiTransactionManager as TransactionManager<SqliteConnection>>::transaction_manager_status_mut(sqlite)
        .transaction_depth()?;
    if depth.is_some() {
        return conn.transaction(f);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let result = f(conn);
    let DbConnection::Sqlite(sqlite) = conn else {
        // `f` replaced the connection itself; the SQLite transaction went with the old
        // one, so there is nothing left to commit.
        return Err(diesel::result::Error::BrokenTransactionManager.into());
    };
    match result {
        Ok(value) => {
            <AnsiTransactionManager as TransactionManager<SqliteConnection>>::commit_transaction(
                sqlite,
            )?;
            Ok(value)
        }
        Err(e) => {
            <AnsiTransactionManager as TransactionManager<SqliteConnection>>::rollback_transaction(
                sqlite,
            )?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_strictly() {
        let dir = Path::new("/data");
        assert_eq!(
            DatabaseUrl::parse("sqlite://x.db", dir).unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("x.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///abs/x.db", dir).unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/abs/x.db"))
        );
        assert!(
            DatabaseUrl::parse("postgres://u@h/db", dir).unwrap()
                != DatabaseUrl::Sqlite(PathBuf::new())
        );
        for bad in [
            "mysql://x",
            "postgre://x",
            "x.db",
            "sqlite://",
            "sqlite::memory:",
            "",
        ] {
            assert!(DatabaseUrl::parse(bad, dir).is_err(), "{bad}");
        }
    }

    #[test]
    fn sqlite_maps_the_window_asked_for() {
        #[derive(QueryableByName)]
        struct MmapSize {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            mmap_size: i64,
        }
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("k.sqlite3"));
        let mut conn = Manager::new(url).connect().unwrap();
        let DbConnection::Sqlite(c) = &mut conn else {
            panic!("a SQLite URL gave another backend")
        };
        // A build with a lower ceiling would lower the setting without an error.
        let set: MmapSize = diesel::sql_query("PRAGMA mmap_size").get_result(c).unwrap();
        assert_eq!(set.mmap_size, SQLITE_MMAP_BYTES);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_password("postgres://kakari:secret@db/kakari"),
            "postgres://kakari:***@db/kakari"
        );
        assert_eq!(
            redact_password("postgres://kakari@db/k"),
            "postgres://kakari@db/k"
        );
    }
}
