//! Test fixtures: a fresh database per test and the app served on a free port.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use diesel::Connection;
use diesel::RunQueryDsl;
use kakari::config::{Overrides, Settings};
use kakari::db::{self, DatabaseUrl, DbConnection, Pool};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database that exists for one test and is dropped after it.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    pg_admin: Option<(String, String)>,
}

impl TestDb {
    pub fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match std::env::var("TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => {
                let name = format!(
                    "kakari_t_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst)
                );
                let mut admin =
                    diesel::PgConnection::establish(&base).expect("connect to TEST_DATABASE_URL");
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name}"))
                    .execute(&mut admin)
                    .expect("drop old test db");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("create test db");
                let (prefix, _) = base.rsplit_once('/').expect("database URL has a /dbname");
                TestDb {
                    url: format!("{prefix}/{name}"),
                    dir,
                    pg_admin: Some((base, name)),
                }
            }
            _ => {
                let url = format!("sqlite://{}", dir.path().join("kakari.sqlite3").display());
                TestDb {
                    url,
                    dir,
                    pg_admin: None,
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_admin.is_some()
    }

    pub fn database(&self) -> DatabaseUrl {
        DatabaseUrl::parse(&self.url, self.dir.path()).expect("valid url")
    }

    pub fn settings(&self) -> Settings {
        let overrides = Overrides {
            config_file: None,
            data_dir: Some(self.dir.path().to_path_buf()),
            database_url: Some(self.url.clone()),
            bind: Some("127.0.0.1:0".into()),
        };
        let mut settings = Settings::load_from(&overrides, &BTreeMap::new()).expect("settings");
        settings.workers = 1;
        settings.pool_size = 4;
        // Mail tests start their own worker (or a real process); others need none.
        settings.mail.worker_in_serve = false;
        settings
    }

    /// Migrated, with a pool.
    pub fn pool(&self) -> Pool {
        db::migrate(&self.database()).expect("migrate");
        db::build_pool(&self.database(), 4).expect("pool")
    }

    pub fn conn(&self) -> db::PooledConn {
        self.pool().get().expect("connection")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The review search table agrees with the institutions and reports it copies.
    pub fn assert_review_index(&self) {
        let drift = db::review_index::drift(&mut self.conn()).expect("drift");
        assert_eq!(drift, 0, "review_entries rows differ from their sources");
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = &self.pg_admin
            && let Ok(mut admin) = diesel::PgConnection::establish(base)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

/// The application served on a free loopback port for one test.
pub struct TestApp {
    pub base: String,
    pub db: TestDb,
    pub client: reqwest::blocking::Client,
    handle: actix_web::dev::ServerHandle,
}

impl TestApp {
    pub fn spawn() -> TestApp {
        Self::spawn_with(|_| {})
    }

    /// Spawns after `prepare` has had the migrated database (to load data first).
    pub fn spawn_with(prepare: impl FnOnce(&mut DbConnection)) -> TestApp {
        Self::spawn_configured(prepare, |_| {})
    }

    /// Spawns with adjusted settings.
    pub fn spawn_configured(
        prepare: impl FnOnce(&mut DbConnection),
        configure: impl FnOnce(&mut kakari::config::Settings),
    ) -> TestApp {
        let db = TestDb::new();
        let mut settings = db.settings();
        configure(&mut settings);
        db::migrate(&db.database()).expect("migrate");
        let (url, pool) = kakari::app::open_database(&settings).expect("open database");
        prepare(&mut pool.get().expect("connection"));
        let (base, handle) = start_server(settings, url, pool);
        TestApp {
            base,
            db,
            client: client(),
            handle,
        }
    }

    /// A second server on the same database, with its own pool and its own kept
    /// figures: what another `kakari serve` process is. Stops when dropped.
    pub fn sibling(&self) -> Sibling {
        let settings = self.db.settings();
        let (url, pool) = kakari::app::open_database(&settings).expect("open database");
        let (base, handle) = start_server(settings, url, pool);
        Sibling { base, handle }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.client.get(self.url(path)).send().expect("request")
    }
}

fn start_server(
    settings: kakari::config::Settings,
    url: kakari::db::DatabaseUrl,
    pool: kakari::db::Pool,
) -> (String, actix_web::dev::ServerHandle) {
    let listener = kakari::app::bind(settings.bind).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = kakari::app::serve(settings, url, pool, listener).expect("server");
            let _ = tx.send(server.handle());
            let _ = server.await;
        })
    });
    (format!("http://{addr}"), rx.recv().expect("server started"))
}

fn stop(handle: &actix_web::dev::ServerHandle) {
    let handle = handle.clone();
    let _ = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(handle.stop(false));
    })
    .join();
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the server before the database is dropped.
        stop(&self.handle);
    }
}

/// Another server process's stand-in (see [`TestApp::sibling`]).
pub struct Sibling {
    pub base: String,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Sibling {
    fn drop(&mut self) {
        stop(&self.handle);
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub const DEMO_PASSWORD: &str = "demo-password-for-tests";

/// The CSRF token embedded in a page.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a csrf field") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_string()
}

impl TestApp {
    /// A demo prefecture with its five demo users.
    pub fn with_demo() -> TestApp {
        Self::spawn_with(|conn| {
            kakari::demo::load(conn, 400, 1, false, DEMO_PASSWORD).expect("demo");
        })
    }

    /// The `kakari` command on this app's database, with nothing else from the
    /// environment but PATH.
    pub fn kakari(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_kakari"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.db.url)
            .env("KAKARI_DATA_DIR", self.db.data_dir())
            .env("KAKARI_LOG", "warn")
            .output()
            .expect("run kakari")
    }

    /// A new client with its own cookie jar, signed in as `login`.
    pub fn signed_in(&self, login: &str) -> reqwest::blocking::Client {
        let c = client();
        let res = self.login_with(&c, login, DEMO_PASSWORD);
        assert_eq!(res.status(), 303, "login as {login}");
        c
    }

    pub fn login_with(
        &self,
        c: &reqwest::blocking::Client,
        login: &str,
        password: &str,
    ) -> reqwest::blocking::Response {
        let page = c.get(self.url("/login")).send().unwrap().text().unwrap();
        let token = csrf_of(&page);
        c.post(self.url("/login"))
            .form(&[
                ("csrf", token.as_str()),
                ("login_id", login),
                ("password", password),
                ("next", "/"),
            ])
            .send()
            .unwrap()
    }

    /// POSTs a form with the CSRF token taken from `page_path`.
    pub fn post_form(
        &self,
        c: &reqwest::blocking::Client,
        page_path: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::blocking::Response {
        let page = c.get(self.url(page_path)).send().unwrap().text().unwrap();
        let token = csrf_of(&page);
        let mut all: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        c.post(self.url(action)).form(&all).send().unwrap()
    }
}

/// The id of the user with this login ID.
pub fn user_id(app: &TestApp, login: &str) -> i32 {
    use diesel::prelude::*;
    use kakari::db::schema::users;
    users::table
        .filter(users::login_id.eq(login))
        .select(users::id)
        .first(&mut *app.db.conn())
        .unwrap()
}
