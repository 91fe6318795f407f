//! Foundation: health, pages, error pages, security headers, migrations, demo data.

use diesel::prelude::*;
use kakari::db::{self, schema::institutions};
use kakari::demo;

use crate::support::{TestApp, TestDb};

#[test]
fn health_reports_the_backend() {
    let app = TestApp::spawn();
    let res = app.get("/health");
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().unwrap();
    assert_eq!(body["status"], "ok");
    let expected = if app.db.is_postgres() {
        "postgresql"
    } else {
        "sqlite"
    };
    assert_eq!(body["database"], expected);
}

/// A bulk write plans each of its statements for its values (PostgreSQL), and only it:
/// the connection goes back to cached plans when the transaction ends.
#[test]
fn a_bulk_transaction_plans_each_statement_and_only_it() {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        plan_cache_mode: String,
    }
    let test_db = TestDb::new();
    if !test_db.is_postgres() {
        return; // SQLite has no plan cache setting; the helper does nothing there.
    }
    let conn = &mut *test_db.conn();
    let mode = |conn: &mut db::DbConnection| -> String {
        diesel::sql_query("SHOW plan_cache_mode")
            .get_result::<Setting>(conn)
            .unwrap()
            .plan_cache_mode
    };
    let inside = db::write_transaction(conn, |conn| {
        db::plan_each_statement(conn)?;
        Ok::<_, diesel::result::Error>(mode(conn))
    })
    .unwrap();
    assert_eq!(inside, "force_custom_plan");
    assert_eq!(mode(conn), "auto", "other work keeps cached plans");
}

#[test]
fn home_page_is_japanese_and_shows_the_demo() {
    let app = TestApp::spawn_with(|conn| {
        demo::load(conn, 300, 1, false, crate::support::DEMO_PASSWORD).unwrap();
    });
    let res = app.get("/");
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    let body = res.text().unwrap();
    assert!(body.contains("<html lang=\"ja\">"));
    assert!(body.contains("<title>ホーム | かかりつけ医機能報告 管理システム</title>"));
    assert!(body.contains("鹿児島県"));
    assert!(body.contains("デモ環境です"));
    assert!(body.contains("年度"));
    assert!(
        body.contains("href=\"/login\""),
        "visitors are invited to sign in"
    );
    for name in [
        "content-security-policy",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
    ] {
        assert!(headers.contains_key(name), "{name} missing");
    }
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
}

#[test]
fn a_fresh_database_has_no_demo_banner() {
    let app = TestApp::spawn();
    let body = app.get("/").text().unwrap();
    assert!(!body.contains("デモ環境です"));
    assert!(body.contains("まだ登録されていません"));
}

#[test]
fn unknown_pages_and_methods_get_japanese_error_pages() {
    let app = TestApp::spawn();
    let res = app.get("/no/such/page");
    assert_eq!(res.status(), 404);
    assert!(res.text().unwrap().contains("ページが見つかりません"));

    let res = app.client.post(app.url("/health")).send().unwrap();
    assert_eq!(res.status(), 405);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(res.text().unwrap().contains("この方法では操作できません"));
}

#[test]
fn stylesheet_has_a4_print_rules() {
    let app = TestApp::spawn();
    let res = app.get("/static/app.css");
    assert_eq!(res.status(), 200);
    let css = res.text().unwrap();
    assert!(css.contains("size: A4"));
    assert!(css.contains("@media print"));
}

#[test]
fn migration_directories_match() {
    let list = |dir: &str| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let sqlite = list(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"));
    let postgres = list(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
}

/// `wipe` must know every table, or `demo --reset` would leave rows behind.
#[test]
fn wipe_knows_every_table() {
    let db = TestDb::new();
    let mut conn = db.conn();
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let sql = if db.is_postgres() {
        "SELECT table_name AS name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'"
    };
    let mut tables: Vec<String> = diesel::sql_query(sql)
        .load::<Name>(&mut *conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    tables.sort();
    // PostgreSQL keeps the change counters in sequences, SQLite in a table.
    let kept: &[&str] = if db.is_postgres() {
        &[]
    } else {
        db::TABLES_KEPT_BY_WIPE
    };
    let mut known: Vec<String> = db::TABLES_CHILDREN_FIRST
        .iter()
        .chain(kept)
        .map(|s| s.to_string())
        .collect();
    known.sort();
    assert_eq!(tables, known);
}

fn codes(conn: &mut db::DbConnection) -> Vec<String> {
    institutions::table
        .select(institutions::code)
        .order(institutions::code)
        .load(conn)
        .unwrap()
}

#[test]
fn demo_is_deterministic_refuses_to_overwrite_and_resets() {
    let first = TestDb::new();
    let second = TestDb::new();
    let mut a = first.conn();
    let mut b = second.conn();
    assert_eq!(
        demo::load(&mut a, 500, 9, false, crate::support::DEMO_PASSWORD)
            .unwrap()
            .institutions,
        500
    );
    demo::load(&mut b, 500, 9, false, crate::support::DEMO_PASSWORD).unwrap();
    let codes_a = codes(&mut a);
    assert_eq!(codes_a.len(), 500);
    assert_eq!(codes_a, codes(&mut b));

    // A second load without --reset changes nothing.
    let err = demo::load(&mut a, 100, 10, false, crate::support::DEMO_PASSWORD).unwrap_err();
    assert!(err.to_string().contains("--reset"), "{err}");
    assert_eq!(codes(&mut a), codes_a);

    // With --reset the old data is replaced entirely.
    demo::load(&mut a, 100, 10, true, crate::support::DEMO_PASSWORD).unwrap();
    let replaced = codes(&mut a);
    assert_eq!(replaced.len(), 100);
    assert_ne!(replaced[..], codes_a[..100]);
}

#[test]
fn demo_institutions_sit_in_their_jurisdiction() {
    let db = TestDb::new();
    let mut conn = db.conn();
    demo::load(&mut conn, 400, 3, false, crate::support::DEMO_PASSWORD).unwrap();
    use kakari::db::schema::areas;
    // Every institution's jurisdiction is the parent of its municipality.
    let mismatched: i64 = institutions::table
        .inner_join(areas::table.on(areas::id.nullable().eq(institutions::municipality_id)))
        .filter(areas::parent_id.ne(institutions::jurisdiction_id))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(mismatched, 0);
    let without_area: i64 = institutions::table
        .filter(institutions::municipality_id.is_null())
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(without_area, 0);
}
