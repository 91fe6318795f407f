//! The `kakari` command: bad input stops with one clear line and creates nothing.

use std::process::{Command, Output};

use crate::support::{TestApp, TestDb};

fn kakari(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kakari"));
    cmd.args(args);
    for key in [
        "DATABASE_URL",
        "KAKARI_DATA_DIR",
        "KAKARI_BIND",
        "KAKARI_CONFIG",
    ] {
        cmd.env_remove(key);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run kakari")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One line, starting with エラー, naming what to fix.
fn assert_clear_failure(out: &Output, must_name: &str) {
    assert!(!out.status.success(), "should fail: {}", stderr(out));
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    assert!(lines[0].starts_with("エラー: "), "{err}");
    assert!(err.contains(must_name), "should name {must_name}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn mistyped_database_url_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = kakari(
        &["migrate", "--data-dir", data.to_str().unwrap()],
        &[("DATABASE_URL", "postgress://localhost/kakari")],
    );
    assert_clear_failure(&out, "database_url");
    assert!(!data.exists(), "no data directory may be created");
}

#[test]
fn unwritable_data_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the data directory should be: cannot be created as a directory.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"").unwrap();
    let data = blocker.join("data");
    let out = kakari(&["migrate", "--data-dir", data.to_str().unwrap()], &[]);
    assert_clear_failure(&out, "データディレクトリ");
}

#[test]
fn missing_config_file_and_unknown_setting_are_named() {
    let out = kakari(
        &["config", "check", "--config", "/nonexistent/kakari.toml"],
        &[],
    );
    assert_clear_failure(&out, "/nonexistent/kakari.toml");

    let out = kakari(&["config", "check"], &[("KAKARI_BNID", "127.0.0.1:1")]);
    assert_clear_failure(&out, "KAKARI_BNID");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kakari.toml");
    std::fs::write(&file, "bind = \"127.0.0.1:8080\"\nport = 1\n").unwrap();
    let out = kakari(
        &["config", "check", "--config", file.to_str().unwrap()],
        &[],
    );
    assert_clear_failure(&out, "port");
}

#[test]
fn config_check_shows_values_and_sources() {
    let dir = tempfile::tempdir().unwrap();
    let out = kakari(
        &[
            "config",
            "check",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        &[("KAKARI_BIND", "127.0.0.1:9999")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("127.0.0.1:9999"));
    assert!(text.contains("環境変数 KAKARI_BIND"));
    assert!(text.contains("kakari.sqlite3"));
}

#[test]
fn port_in_use_is_reported_before_touching_the_database() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = kakari(
        &[
            "serve",
            "--bind",
            &addr,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    assert_clear_failure(&out, &addr);
    assert!(!data.exists());
}

#[test]
fn demo_and_migrate_work_against_the_configured_database() {
    let db = TestDb::new();
    let data = db.data_dir();
    let envs = [("DATABASE_URL", db.url.as_str())];
    let args = |cmd: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        v.push("--data-dir".into());
        v.push(data.display().to_string());
        v
    };
    let run = |cmd: &[&'static str]| {
        let a = args(cmd);
        kakari(&a.iter().map(String::as_str).collect::<Vec<_>>(), &envs)
    };
    let out = run(&["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["demo", "--institutions", "250", "--seed", "5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("250 件"));
    // Not empty any more: refused without --reset.
    let out = run(&["demo", "--institutions", "10"]);
    assert_clear_failure(&out, "--reset");
    let out = run(&["demo", "--institutions", "10", "--reset"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn backup_copies_a_live_database() {
    let app = TestApp::spawn_with(|conn| {
        kakari::demo::load(conn, 200, 2, false, crate::support::DEMO_PASSWORD).unwrap();
    });
    if app.db.is_postgres() {
        // PostgreSQL deployments use pg_dump; the command says so.
        let out = kakari(
            &["backup", "/tmp/never-written.sqlite3"],
            &[("DATABASE_URL", app.db.url.as_str())],
        );
        assert_clear_failure(&out, "pg_dump");
        return;
    }
    // Keep the server busy while the copy runs.
    for _ in 0..5 {
        assert_eq!(app.get("/").status(), 200);
    }
    let target = app.db.data_dir().join("copy.sqlite3");
    let out = kakari(
        &["backup", target.to_str().unwrap()],
        &[("DATABASE_URL", app.db.url.as_str())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(app.get("/health").status().is_success());

    use diesel::prelude::*;
    let mut copy = diesel::SqliteConnection::establish(target.to_str().unwrap()).unwrap();
    let n: i64 = kakari::db::schema::institutions::table
        .count()
        .get_result(&mut copy)
        .unwrap();
    assert_eq!(n, 200);

    // An existing file is never overwritten.
    let out = kakari(
        &["backup", target.to_str().unwrap()],
        &[("DATABASE_URL", app.db.url.as_str())],
    );
    assert_clear_failure(&out, "既に存在します");
}

#[test]
fn catalog_check_names_the_line_of_each_problem() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/reference/catalog/fy2025.toml");
    let out = kakari(&["catalog", "check", shipped], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("48"));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(shipped).unwrap();
    std::fs::write(&bad, text.replacen("code = \"1-2\"", "code = \"1-1\"", 1)).unwrap();
    let out = kakari(&["catalog", "check", bad.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("行目") && err.contains("1-1") && err.contains("重複"),
        "{err}"
    );
}

#[test]
fn report_check_prints_the_determination_and_its_exit_code_tells_completeness() {
    let dir = tempfile::tempdir().unwrap();
    let incomplete = dir.path().join("incomplete.json");
    std::fs::write(
        &incomplete,
        r#"{"1-1": 1, "1-4": [0], "1-6": 1, "2イ-5": 12}"#,
    )
    .unwrap();
    let out = kakari(
        &[
            "report",
            "check",
            "--fy",
            "2025",
            incomplete.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["function1"], false);
    assert_eq!(json["function2"]["after_hours"], false);
    assert_eq!(json["reasons"]["missing_star_items"][0]["item"], "1-4");
    assert!(!json["problems"].as_array().unwrap().is_empty());

    // A complete document: every required item answered (2号 too, since 1号 holds).
    let mut doc = serde_json::json!({
        "1-1": 1, "1-2": 0, "1-3": 0, "1-4": [6, 9], "1-5": [2, 18], "1-6": 1,
    });
    let catalog =
        kakari::domain::catalog::Catalog::parse(kakari::domain::catalog::shipped(2025).unwrap())
            .unwrap();
    for item in &catalog.items {
        if item.required && item.condition.is_none() && doc.get(&item.code).is_none() {
            let value = match item.kind {
                kakari::domain::catalog::Kind::Choice => serde_json::json!(item.choices[0].code),
                kakari::domain::catalog::Kind::Multi => serde_json::json!([item.choices[1].code]),
                _ => serde_json::json!(0),
            };
            doc[&item.code] = value;
        }
    }
    doc["2ハ-3"] = serde_json::json!(40);
    let complete = dir.path().join("complete.json");
    std::fs::write(&complete, doc.to_string()).unwrap();
    let out = kakari(
        &[
            "report",
            "check",
            "--fy",
            "2025",
            complete.to_str().unwrap(),
        ],
        &[],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", json["problems"]);
    assert_eq!(json["function1"], true);
    assert_eq!(json["function2"]["home_care"], true);
    assert_eq!(json["reasons"]["home_care"][0]["item"], "2ハ-3");

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"1-1\": ").unwrap();
    let out = kakari(
        &["report", "check", "--fy", "2025", broken.to_str().unwrap()],
        &[],
    );
    assert_clear_failure(&out, "JSON");
}

/// `kakari … | head`: when the reader has gone, the command ends quietly (killed by
/// SIGPIPE, as Unix tools are), never with a panic message.
#[test]
fn closed_output_pipe_ends_quietly() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::ExitStatusExt;
    let mut fds = [0; 2];
    // SAFETY: a fresh pipe; both ends are owned below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    let db = TestDb::new();
    let out = Command::new(env!("CARGO_BIN_EXE_kakari"))
        .args(["config", "check"])
        .env("DATABASE_URL", db.url.as_str())
        .stdout(std::process::Stdio::from(writer))
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run kakari");
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?} {err}",
        out.status
    );
}
