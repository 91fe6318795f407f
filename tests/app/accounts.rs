//! Accounts and access control: sign-in, lockout, sessions, CSRF, scopes, user
//! administration, the audit log, and the route × role matrix.

use std::collections::BTreeSet;

use diesel::prelude::*;
use kakari::db::schema::{audit_log, institutions, users};
use kakari::web::ROUTES;
use kakari::web::gate::Access;

use crate::support::{DEMO_PASSWORD, TestApp, client, csrf_of, user_id};

const LOGIN_FAILED: &str = "ログインIDまたはパスワードが正しくありません";

fn institution_of(app: &TestApp, login: &str) -> i32 {
    users::table
        .filter(users::login_id.eq(login))
        .select(users::institution_id)
        .first::<Option<i32>>(&mut *app.db.conn())
        .unwrap()
        .unwrap()
}

fn audit_actions(app: &TestApp) -> Vec<String> {
    audit_log::table
        .order(audit_log::id)
        .select(audit_log::action)
        .load(&mut *app.db.conn())
        .unwrap()
}

#[test]
fn each_demo_user_signs_in_and_sees_its_own_home() {
    let app = TestApp::with_demo();
    let expectations = [
        ("demo-sysadmin", "全体（すべての都道府県）"),
        ("demo-admin", "担当範囲: <strong>鹿児島県</strong>"),
        ("demo-officer", "担当範囲: <strong>鹿児島県</strong>"),
        ("demo-area", "担当範囲: <strong>姶良保健所</strong>"),
        ("demo-clinic", "医療機関コード"),
    ];
    for (login, expected) in expectations {
        let c = app.signed_in(login);
        let body = c.get(app.url("/")).send().unwrap().text().unwrap();
        assert!(body.contains(expected), "{login}: {expected}");
        assert!(body.contains("ログアウト"), "{login}");
    }
    // The admin menu only for administrators.
    let officer = app.signed_in("demo-officer");
    let body = officer.get(app.url("/")).send().unwrap().text().unwrap();
    assert!(!body.contains("/admin/users"));
    let admin = app.signed_in("demo-admin");
    let body = admin.get(app.url("/")).send().unwrap().text().unwrap();
    assert!(body.contains("/admin/users"));
}

#[test]
fn login_ids_are_case_and_width_insensitive() {
    let app = TestApp::with_demo();
    let c = client();
    let res = app.login_with(&c, "ＤＥＭＯ-Admin", DEMO_PASSWORD);
    assert_eq!(res.status(), 303);
}

#[test]
fn five_failures_lock_the_account_even_against_the_right_password() {
    let app = TestApp::with_demo();
    let c = client();
    for _ in 0..5 {
        let res = app.login_with(&c, "demo-officer", "wrong password!!");
        assert_eq!(res.status(), 401);
        assert!(res.text().unwrap().contains(LOGIN_FAILED));
    }
    let res = app.login_with(&c, "demo-officer", DEMO_PASSWORD);
    assert_eq!(
        res.status(),
        401,
        "locked account refuses the right password"
    );
    let body = res.text().unwrap();
    assert!(
        body.contains(LOGIN_FAILED),
        "same words: the lock is not revealed"
    );
    let actions = audit_actions(&app);
    assert!(actions.iter().any(|a| a == "lockout"));
    assert_eq!(actions.iter().filter(|a| *a == "sign_in_failed").count(), 6);

    // When the lock has passed, the right password works again.
    diesel::update(users::table.filter(users::login_id.eq("demo-officer")))
        .set(users::locked_until.eq(chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1)))
        .execute(&mut *app.db.conn())
        .unwrap();
    assert_eq!(
        app.login_with(&c, "demo-officer", DEMO_PASSWORD).status(),
        303
    );
}

#[test]
fn unknown_ids_and_hostile_ids_fail_the_same_way_and_are_escaped() {
    let app = TestApp::with_demo();
    let c = client();
    let unknown = app.login_with(&c, "nobody-here", "whatever password");
    assert_eq!(unknown.status(), 401);
    assert!(unknown.text().unwrap().contains(LOGIN_FAILED));
    for hostile in [
        "' OR '1'='1' --",
        "<script>alert(1)</script>",
        "admin\"; DROP TABLE users; --",
    ] {
        let res = app.login_with(&c, hostile, "x");
        assert_eq!(res.status(), 401);
        let body = res.text().unwrap();
        assert!(body.contains(LOGIN_FAILED));
        assert!(!body.contains("<script>alert(1)"), "typed text is escaped");
    }
    // The users table is intact.
    let n: i64 = users::table
        .count()
        .get_result(&mut *app.db.conn())
        .unwrap();
    assert_eq!(n, 5);
}

#[test]
fn tampered_or_foreign_session_cookies_are_signed_out() {
    let app = TestApp::with_demo();
    // The cookie a successful sign-in sets.
    let fresh = client();
    let page = fresh.get(app.url("/login")).send().unwrap().text().unwrap();
    let res = fresh
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("login_id", "demo-admin"),
            ("password", DEMO_PASSWORD),
            ("next", "/"),
        ])
        .send()
        .unwrap();
    let value = res
        .cookies()
        .find(|ck| ck.name() == "kakari_session")
        .map(|ck| ck.value().to_string())
        .expect("sign-in sets the session cookie");

    let raw = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let with_cookie = |v: &str| {
        raw.get(app.url("/admin/users"))
            .header("cookie", format!("kakari_session={v}"))
            .send()
            .unwrap()
    };
    assert_eq!(
        with_cookie(&value).status(),
        200,
        "the genuine cookie works"
    );
    let mut tampered = value.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let res = with_cookie(&String::from_utf8(tampered).unwrap());
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );

    // The same cookie presented to another deployment (another key) is worthless.
    let other = TestApp::with_demo();
    let res = raw
        .get(other.url("/admin/users"))
        .header("cookie", format!("kakari_session={value}"))
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
}

#[test]
fn csrf_missing_or_from_another_session_is_refused_and_changes_nothing() {
    let app = TestApp::with_demo();
    let admin = app.signed_in("demo-admin");
    let target = user_id(&app, "demo-officer");
    // No token.
    let res = admin
        .post(app.url(&format!("/admin/users/{target}/active")))
        .form(&[("active", "0")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().unwrap().contains("画面を開き直して"));
    // A token from another session.
    let other = app.signed_in("demo-sysadmin");
    let other_page = other.get(app.url("/")).send().unwrap().text().unwrap();
    let res = admin
        .post(app.url(&format!("/admin/users/{target}/active")))
        .form(&[("csrf", csrf_of(&other_page).as_str()), ("active", "0")])
        .send()
        .unwrap();
    assert_eq!(res.status(), 403);
    let active: bool = users::table
        .find(target)
        .select(users::active)
        .first(&mut *app.db.conn())
        .unwrap();
    assert!(active, "nothing changed");
    // Sign-out without a token does not sign out.
    let res = admin.post(app.url("/logout")).send().unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        admin.get(app.url("/admin/users")).send().unwrap().status(),
        200
    );
}

#[test]
fn sign_out_ends_the_session() {
    let app = TestApp::with_demo();
    let c = app.signed_in("demo-admin");
    let res = app.post_form(&c, "/", "/logout", &[]);
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login?signed_out=1");
    let res = c.get(app.url("/admin/users")).send().unwrap();
    assert_eq!(res.status(), 303);
    assert!(audit_actions(&app).contains(&"sign_out".to_string()));
}

#[test]
fn area_officers_and_clinics_see_only_their_own_institutions() {
    let app = TestApp::with_demo();
    let own = institution_of(&app, "demo-clinic");
    let jurisdiction: i32 = institutions::table
        .find(own)
        .select(institutions::jurisdiction_id)
        .first::<Option<i32>>(&mut *app.db.conn())
        .unwrap()
        .unwrap();
    let elsewhere: i32 = institutions::table
        .filter(institutions::jurisdiction_id.ne(jurisdiction))
        .select(institutions::id)
        .first(&mut *app.db.conn())
        .unwrap();
    let area = app.signed_in("demo-area");
    assert_eq!(
        area.get(app.url(&format!("/institutions/{own}")))
            .send()
            .unwrap()
            .status(),
        200
    );
    let res = area
        .get(app.url(&format!("/institutions/{elsewhere}")))
        .send()
        .unwrap();
    assert_eq!(
        res.status(),
        404,
        "another area's institution does not exist for this officer"
    );
    assert!(res.text().unwrap().contains("ページが見つかりません"));
    let res = area.get(app.url("/institutions/999999")).send().unwrap();
    assert_eq!(res.status(), 404);
    // The prefecture officer sees both.
    let officer = app.signed_in("demo-officer");
    assert_eq!(
        officer
            .get(app.url(&format!("/institutions/{elsewhere}")))
            .send()
            .unwrap()
            .status(),
        200
    );
    // A clinic user may not use officer pages at all.
    let clinic = app.signed_in("demo-clinic");
    assert_eq!(
        clinic
            .get(app.url(&format!("/institutions/{own}")))
            .send()
            .unwrap()
            .status(),
        403
    );
    let res = app.post_form(&clinic, "/", "/admin/users/new", &[("login_id", "x")]);
    assert_eq!(res.status(), 403);
}

#[test]
fn a_disabled_users_open_session_stops_at_the_next_request() {
    let app = TestApp::with_demo();
    let officer = app.signed_in("demo-officer");
    assert_eq!(
        officer
            .get(app.url("/institutions/1"))
            .send()
            .unwrap()
            .status(),
        200
    );
    let admin = app.signed_in("demo-admin");
    let target = user_id(&app, "demo-officer");
    let res = app.post_form(
        &admin,
        &format!("/admin/users/{target}"),
        &format!("/admin/users/{target}/active"),
        &[("active", "0")],
    );
    assert_eq!(res.status(), 303);
    let res = officer.get(app.url("/institutions/1")).send().unwrap();
    assert_eq!(res.status(), 303, "signed out");
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    let c = client();
    assert_eq!(
        app.login_with(&c, "demo-officer", DEMO_PASSWORD).status(),
        401
    );
    assert!(audit_actions(&app).contains(&"user_disable".to_string()));
}

#[test]
fn new_user_with_temporary_password_must_change_it_first() {
    let app = TestApp::with_demo();
    let admin = app.signed_in("demo-admin");
    let code: String = institutions::table
        .filter(institutions::is_target.eq(true))
        .order(institutions::code.desc())
        .select(institutions::code)
        .first(&mut *app.db.conn())
        .unwrap();
    let res = app.post_form(
        &admin,
        "/admin/users/new",
        "/admin/users/new",
        &[
            ("login_id", "clinic-tanaka"),
            ("display_name", "田中 <b>太郎</b>"),
            ("email", "tanaka@example.jp"),
            ("role", "institution"),
            ("area_id", ""),
            ("institution_code", &code),
            ("password", ""),
        ],
    );
    assert_eq!(res.status(), 201);
    let body = res.text().unwrap();
    assert!(
        body.contains("田中 &lt;b&gt;太郎&lt;&#x2F;b&gt;")
            || body.contains("田中 &lt;b&gt;太郎&lt;/b&gt;"),
        "name escaped"
    );
    let marker = "id=\"temporary-password\">";
    let start = body.find(marker).unwrap() + marker.len();
    let temporary = &body[start..start + 16];

    let c = client();
    let res = app.login_with(&c, "clinic-tanaka", temporary);
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account/password");
    // Everything else sends back to the password page until it is changed.
    let res = c.get(app.url("/")).send().unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account/password");
    // Policy: too short, same as login ID, mismatch. The page keeps working.
    let res = app.post_form(
        &c,
        "/account/password",
        "/account/password",
        &[
            ("current", temporary),
            ("new_password", "short"),
            ("confirm", "short"),
        ],
    );
    assert_eq!(res.status(), 422);
    assert!(res.text().unwrap().contains("文字以上"));
    let res = app.post_form(
        &c,
        "/account/password",
        "/account/password",
        &[
            ("current", temporary),
            ("new_password", "clinic-tanaka"),
            ("confirm", "clinic-tanaka"),
        ],
    );
    assert_eq!(res.status(), 422);
    let res = app.post_form(
        &c,
        "/account/password",
        "/account/password",
        &[
            ("current", "wrong one"),
            ("new_password", "a brand new password"),
            ("confirm", "a brand new password"),
        ],
    );
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .unwrap()
            .contains("今のパスワードが正しくありません")
    );
    let res = app.post_form(
        &c,
        "/account/password",
        "/account/password",
        &[
            ("current", temporary),
            ("new_password", "a brand new password"),
            ("confirm", "a brand new password"),
        ],
    );
    assert_eq!(res.status(), 200);
    assert!(res.text().unwrap().contains("パスワードを変更しました"));
    let body = c.get(app.url("/")).send().unwrap().text().unwrap();
    assert!(body.contains(&code), "the clinic's own home page");
    // The old password is gone.
    assert_eq!(
        app.login_with(&client(), "clinic-tanaka", temporary)
            .status(),
        401
    );
    assert_eq!(
        app.login_with(&client(), "clinic-tanaka", "a brand new password")
            .status(),
        303
    );
}

#[test]
fn area_admins_cannot_reach_beyond_their_area_or_role() {
    let app = TestApp::spawn_with(|conn| {
        kakari::demo::load(conn, 400, 1, false, DEMO_PASSWORD).unwrap();
        let hash = kakari::password::hash(DEMO_PASSWORD).unwrap();
        let scope = kakari::services::accounts::parse_scope(conn, "area:46-05").unwrap();
        kakari::services::accounts::create(
            conn,
            kakari::services::accounts::NewAccount {
                login_id: "aira-admin",
                display_name: "姶良保健所 管理者",
                email: None,
                role: kakari::domain::auth::Role::PrefectureAdmin,
                scope,
                password_hash: hash,
                must_change_password: false,
                by: kakari::services::accounts::By::System("cli"),
            },
        )
        .unwrap();
    });
    let admin = app.signed_in("aira-admin");
    // The list shows the area's users only.
    let body = admin
        .get(app.url("/admin/users"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(body.contains("demo-area"));
    assert!(body.contains("demo-clinic"));
    assert!(
        !body.contains("demo-officer"),
        "prefecture-wide users are outside"
    );
    assert!(!body.contains("demo-sysadmin"));
    // Users outside answer 404.
    let outside = user_id(&app, "demo-officer");
    assert_eq!(
        admin
            .get(app.url(&format!("/admin/users/{outside}")))
            .send()
            .unwrap()
            .status(),
        404
    );
    let res = app.post_form(
        &admin,
        "/",
        &format!("/admin/users/{outside}/active"),
        &[("active", "0")],
    );
    assert_eq!(res.status(), 404);
    // A higher role cannot be granted; an area outside cannot be assigned.
    let prefecture: i32 = kakari::db::schema::areas::table
        .filter(kakari::db::schema::areas::kind.eq("prefecture"))
        .select(kakari::db::schema::areas::id)
        .first(&mut *app.db.conn())
        .unwrap();
    let res = app.post_form(
        &admin,
        "/admin/users/new",
        "/admin/users/new",
        &[
            ("login_id", "new-sys"),
            ("display_name", "x"),
            ("role", "sysadmin"),
            ("area_id", ""),
            ("institution_code", ""),
            ("password", ""),
        ],
    );
    assert_eq!(res.status(), 422);
    let res = app.post_form(
        &admin,
        "/admin/users/new",
        "/admin/users/new",
        &[
            ("login_id", "new-officer"),
            ("display_name", "x"),
            ("role", "officer"),
            ("area_id", &prefecture.to_string()),
            ("institution_code", ""),
            ("password", ""),
        ],
    );
    assert_eq!(res.status(), 422);
    let body = res.text().unwrap();
    assert!(body.contains("担当地域を選んでください"));
    assert!(
        body.contains("value=\"new-officer\""),
        "the form keeps what was typed"
    );
    let n: i64 = users::table
        .count()
        .get_result(&mut *app.db.conn())
        .unwrap();
    assert_eq!(n, 6, "nothing created");
}

#[test]
fn audit_log_page_lists_and_filters_and_stays_in_the_prefecture() {
    let app = TestApp::with_demo();
    let c = client();
    app.login_with(&c, "demo-officer", "wrong password!!");
    app.login_with(&c, "no-such-user", "wrong password!!");
    let admin = app.signed_in("demo-admin");
    let body = admin
        .get(app.url("/admin/audit?action=sign_in_failed"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(body.contains("demo-officer"));
    assert!(
        !body.contains("no-such-user"),
        "entries without a prefecture are the system administrator's"
    );
    let sys = app.signed_in("demo-sysadmin");
    let body = sys
        .get(app.url("/admin/audit?action=sign_in_failed"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(body.contains("no-such-user"));
    let body = sys
        .get(app.url("/admin/audit?login=demo-admin&action=sign_in"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(body.contains("ログイン"));
    assert!(!body.contains("demo-officer"));
    // The log is append-only in the database itself.
    let updated =
        diesel::sql_query("UPDATE audit_log SET action = 'x'").execute(&mut *app.db.conn());
    assert!(updated.is_err());
}

/// Which roles may use each route. A route added without a line here fails the test.
const EXPECTED: &[(&str, &str, &[&str])] = &[
    ("GET", "/", ANYONE),
    ("GET", "/health", ANYONE),
    ("GET", "/static/app.css", ANYONE),
    ("GET", "/login", ANYONE),
    ("POST", "/login", ANYONE),
    ("POST", "/logout", SIGNED_IN),
    ("GET", "/account/password", SIGNED_IN),
    ("POST", "/account/password", SIGNED_IN),
    ("GET", "/account/sessions", SIGNED_IN),
    ("POST", "/account/sessions/end", SIGNED_IN),
    ("POST", "/admin/users/{id}/sessions/end", ADMINS),
    ("GET", "/institutions/imports/{id}/rows.csv", MASTER),
    ("GET", "/ndb/imports/{id}/rows.csv", MASTER),
    ("GET", "/admin/users", ADMINS),
    ("GET", "/admin/users/new", ADMINS),
    ("POST", "/admin/users/new", ADMINS),
    ("GET", "/admin/users/{id}", ADMINS),
    ("POST", "/admin/users/{id}", ADMINS),
    ("POST", "/admin/users/{id}/active", ADMINS),
    ("POST", "/admin/users/{id}/password", ADMINS),
    ("GET", "/admin/audit", ADMINS),
    ("GET", "/institutions", OFFICERS),
    ("GET", "/institutions.csv", OFFICERS),
    ("GET", "/institutions/template.csv", MASTER),
    ("GET", "/institutions/import", MASTER),
    ("POST", "/institutions/import", MASTER),
    ("GET", "/institutions/imports/{id}", MASTER),
    ("POST", "/institutions/imports/{id}/apply", MASTER),
    ("POST", "/institutions/imports/{id}/cancel", MASTER),
    ("POST", "/institutions/imports/{id}/retire", MASTER),
    ("GET", "/institutions/{id}", OFFICERS),
    ("GET", "/paper", OFFICERS),
    ("GET", "/paper/flags", OFFICERS),
    ("POST", "/paper/flags", OFFICERS),
    ("GET", "/paper/forms", OFFICERS),
    ("GET", "/paper/forms/{id}", OFFICERS),
    ("GET", "/paper/forms.zip", OFFICERS),
    ("GET", "/paper/forms/{id}/xlsx", OFFICERS),
    ("GET", "/paper/imports", OFFICERS),
    ("POST", "/paper/imports", OFFICERS),
    ("GET", "/paper/imports/{id}", OFFICERS),
    ("POST", "/paper/imports/{id}/apply", OFFICERS),
    ("POST", "/paper/imports/{id}/cancel", OFFICERS),
    ("GET", "/admin/periods", ADMINS),
    ("POST", "/admin/periods", ADMINS),
    ("GET", "/admin/catalogs", ADMINS),
    ("POST", "/admin/catalogs", ADMINS),
    ("GET", "/ndb/import", MASTER),
    ("POST", "/ndb/import", MASTER),
    ("GET", "/ndb/imports/{id}", MASTER),
    ("POST", "/ndb/imports/{id}/apply", MASTER),
    ("POST", "/ndb/imports/{id}/cancel", MASTER),
    ("POST", "/reports/{id}/memos", SIGNED_IN),
    ("GET", "/review", OFFICERS),
    ("GET", "/review.csv", OFFICERS),
    ("GET", "/review/unreported", OFFICERS),
    ("GET", "/review/stats", OFFICERS),
    ("GET", "/review/news", OFFICERS),
    ("GET", "/review/reports/{id}", OFFICERS),
    ("POST", "/review/reports/{id}/confirm", OFFICERS),
    ("POST", "/review/reports/{id}/sendback", OFFICERS),
    ("POST", "/review/bulk", OFFICERS),
    ("GET", "/review/bulk/{id}", OFFICERS),
    ("POST", "/review/bulk/{id}/commit", OFFICERS),
    ("GET", "/institutions/{id}/reports", SIGNED_IN),
    ("GET", "/institutions/{id}/reports/{fy}/start", SIGNED_IN),
    ("POST", "/institutions/{id}/reports/{fy}/start", SIGNED_IN),
    ("GET", "/reports/{id}", SIGNED_IN),
    ("GET", "/reports/{id}/sections/{section}", SIGNED_IN),
    ("POST", "/reports/{id}/sections/{section}", SIGNED_IN),
    (
        "POST",
        "/reports/{id}/sections/{section}/resolve",
        SIGNED_IN,
    ),
    ("GET", "/reports/{id}/submit", SIGNED_IN),
    ("POST", "/reports/{id}/submit", SIGNED_IN),
    ("POST", "/reports/{id}/pullback", SIGNED_IN),
    ("GET", "/reports/{id}/poster", SIGNED_IN),
    ("GET", "/reports/{id}/versions/{n}", SIGNED_IN),
    ("GET", "/reports/{id}/versions/{n}/answers.json", SIGNED_IN),
    ("POST", "/institutions/{id}", OFFICERS),
    ("GET", "/static/mail.js", ANYONE),
    ("GET", "/mail", OFFICERS),
    ("GET", "/mail/new", OFFICERS),
    ("GET", "/mail/preview", OFFICERS),
    ("GET", "/mail/no-address.csv", OFFICERS),
    ("POST", "/mail/campaigns", OFFICERS),
    ("GET", "/mail/campaigns/{id}", OFFICERS),
    ("GET", "/mail/campaigns/{id}/progress", OFFICERS),
    ("GET", "/mail/campaigns/{id}/failures.csv", OFFICERS),
    ("POST", "/mail/campaigns/{id}/{action}", OFFICERS),
    ("GET", "/mail/bounces", OFFICERS),
    ("POST", "/mail/bounces", OFFICERS),
    ("GET", "/mail/templates", OFFICERS),
    ("GET", "/mail/templates/{key}", OFFICERS),
    ("POST", "/mail/templates/{key}", ADMINS),
    ("POST", "/mail/templates/{key}/preview", OFFICERS),
    ("POST", "/mail/templates/{key}/reset", ADMINS),
    ("GET", "/exports", OFFICERS),
    ("GET", "/exports/reports", OFFICERS),
    ("POST", "/exports/reports", OFFICERS),
    ("GET", "/exports/files/{token}", OFFICERS),
    ("GET", "/exports/files/{token}/download", OFFICERS),
    ("GET", "/exports/addresses", OFFICERS),
    ("GET", "/exports/addresses.csv", OFFICERS),
    ("GET", "/exports/labels", OFFICERS),
    ("GET", "/exports/labels.css", OFFICERS),
    ("GET", "/exports/targets", OFFICERS),
    ("GET", "/exports/targets.csv", OFFICERS),
    ("POST", "/admin/users/{id}/link", ADMINS),
    ("GET", "/register", ANYONE),
    ("POST", "/register", ANYONE),
    ("GET", "/accounts/applications", OFFICERS),
    ("GET", "/accounts/applications/{id}", OFFICERS),
    ("POST", "/accounts/applications/{id}/{decision}", OFFICERS),
    ("GET", "/accounts/bulk-approval", OFFICERS),
    ("POST", "/accounts/bulk-approval", OFFICERS),
    ("GET", "/accounts/invitations", OFFICERS),
    ("POST", "/accounts/invitations", OFFICERS),
    ("GET", "/account/forgot", ANYONE),
    ("POST", "/account/forgot", ANYONE),
    ("GET", "/account/link/{token}", ANYONE),
    ("POST", "/account/link/{token}", ANYONE),
    ("GET", "/admin/publication", ADMINS),
    ("POST", "/admin/publication/rules", ADMINS),
    ("GET", "/admin/notices", ADMINS),
    ("POST", "/admin/notices", ADMINS),
    ("POST", "/admin/notices/{id}", ADMINS),
    ("POST", "/admin/notices/{id}/delete", ADMINS),
    ("GET", "/admin/faq", ADMINS),
    ("POST", "/admin/faq", ADMINS),
    ("POST", "/admin/faq/{id}", ADMINS),
    ("POST", "/admin/faq/{id}/delete", ADMINS),
    ("GET", "/admin/documents", ADMINS),
    ("POST", "/admin/documents", ADMINS),
    ("POST", "/admin/documents/{id}/delete", ADMINS),
    ("GET", "/help", ANYONE),
    ("GET", "/help/documents/{id}", SIGNED_IN),
    ("POST", "/admin/publication/population", ADMINS),
    ("GET", "/admin/publication/{fy}", ADMINS),
    ("GET", "/admin/publication/{fy}/raw", ADMINS),
    ("POST", "/admin/publication/{fy}/{action}", ADMINS),
    ("GET", "/public", ANYONE),
    ("GET", "/public/{prefecture}/{fy}", ANYONE),
    (
        "GET",
        "/public/{prefecture}/{fy}/institutions/{code}",
        ANYONE,
    ),
    ("GET", "/public/{prefecture}/{fy}/tables", ANYONE),
    ("GET", "/public/{prefecture}/{fy}/rules", ANYONE),
    ("GET", "/public/{prefecture}/{fy}/download/tables", ANYONE),
    (
        "GET",
        "/public/{prefecture}/{fy}/download/institutions",
        ANYONE,
    ),
];
const ANYONE: &[&str] = &[
    "anonymous",
    "demo-sysadmin",
    "demo-admin",
    "demo-officer",
    "demo-area",
    "demo-clinic",
];
const SIGNED_IN: &[&str] = &[
    "demo-sysadmin",
    "demo-admin",
    "demo-officer",
    "demo-area",
    "demo-clinic",
];
const ADMINS: &[&str] = &["demo-sysadmin", "demo-admin"];
const OFFICERS: &[&str] = &["demo-sysadmin", "demo-admin", "demo-officer", "demo-area"];
const MASTER: &[&str] = &["demo-sysadmin", "demo-admin", "demo-officer"];

#[test]
fn every_route_times_every_role() {
    let declared: BTreeSet<(&str, &str)> = ROUTES.iter().map(|r| (r.method, r.path)).collect();
    let expected: BTreeSet<(&str, &str)> = EXPECTED.iter().map(|(m, p, _)| (*m, *p)).collect();
    assert_eq!(declared, expected, "every route needs a line in EXPECTED");
    for r in ROUTES {
        if r.method == "POST" {
            assert_ne!(
                r.access,
                Access::Open,
                "{} must not skip the session",
                r.path
            );
        }
    }

    let app = TestApp::spawn_with(|conn| {
        kakari::demo::load(conn, 400, 1, false, DEMO_PASSWORD).unwrap();
        // A second user of the demo clinic, for the user routes to act on (they change
        // its password and status, which must not disturb the signed-in demo users).
        let clinic: i32 = users::table
            .filter(users::login_id.eq("demo-clinic"))
            .select(users::institution_id)
            .first::<Option<i32>>(conn)
            .unwrap()
            .unwrap();
        kakari::services::accounts::create(
            conn,
            kakari::services::accounts::NewAccount {
                login_id: "matrix-target",
                display_name: "target",
                email: None,
                role: kakari::domain::auth::Role::Institution,
                scope: kakari::domain::auth::Scope::Institution(clinic),
                password_hash: kakari::password::hash(DEMO_PASSWORD).unwrap(),
                must_change_password: false,
                by: kakari::services::accounts::By::System("cli"),
            },
        )
        .unwrap();
        // A stored import preview for the import routes.
        let target = kakari::services::imports::institutions::load_target(conn, "46").unwrap();
        let file = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/bureau/kagoshima_ika_small.xlsx"
        ))
        .unwrap();
        kakari::services::imports::institutions::preview(
            conn,
            "a.xlsx",
            &file,
            &target,
            None,
            &kakari::import::Limits::default(),
        )
        .unwrap();
        // A submitted report of the demo clinic, for the report routes.
        let now = chrono::Utc::now().naive_utc();
        let report = kakari::db::reports::insert(
            conn,
            &kakari::db::reports::NewReport {
                institution_id: clinic,
                fiscal_year: 2025,
                cycle: 0,
                kind: "periodic",
                status: "draft",
                catalog_version: "2025.1",
                answers: "{}",
                ndb: "{}",
                sections: "{}",
                checked_code: None,
                function1: false,
                after_hours: false,
                admission_discharge: false,
                home_care: false,
                care_coordination: false,
                proxy: false,
                created_at: now,
                updated_at: now,
                updated_by: None,
            },
        )
        .unwrap();
        kakari::db::reports::insert_version(
            conn,
            &kakari::db::reports::NewVersion {
                report_id: report,
                number: 1,
                kind: "periodic",
                answers: "{}",
                ndb: "{}",
                determination: "{}",
                catalog_version: "2025.1",
                submitted_by: None,
                submitted_login: "test",
                proxy: false,
                submitted_at: now,
            },
        )
        .unwrap();
        let officer: i32 = kakari::db::schema::users::table
            .filter(kakari::db::schema::users::login_id.eq("demo-officer"))
            .select(kakari::db::schema::users::id)
            .first(conn)
            .unwrap();
        assert!(
            kakari::db::reports::transition(
                conn,
                kakari::db::reports::Guard {
                    id: report,
                    revision: 0,
                    from: kakari::domain::report::Status::Draft,
                },
                kakari::domain::report::Status::Submitted,
                kakari::db::reports::Change::Submitted,
                now,
                officer,
            )
            .unwrap()
        );
        // A stored NDB preview for the NDB routes.
        let code: String = kakari::db::schema::institutions::table
            .find(clinic)
            .select(kakari::db::schema::institutions::code)
            .first(conn)
            .unwrap();
        let csv = format!("医療機関コード,項目,算定回数\n{code},c_house_call,3\n");
        let prefecture: i32 = kakari::db::areas::prefectures(conn).unwrap()[0].id;
        kakari::services::imports::ndb::preview(
            conn,
            &kakari::services::catalogs::Catalogs::default(),
            kakari::domain::auth::Scope::All,
            prefecture,
            &kakari::services::imports::ndb::NdbFile {
                fiscal_year: 2025,
                file_name: "ndb.csv",
                bytes: csv.as_bytes(),
            },
            None,
            &kakari::import::Limits::default(),
        )
        .unwrap();
        // A campaign of the demo area (so its officer sees it too) for the mail routes.
        let area: i32 = users::table
            .filter(users::login_id.eq("demo-area"))
            .select(users::area_id.assume_not_null())
            .first(conn)
            .unwrap();
        kakari::services::mail::create(
            conn,
            kakari::services::mail::By::System {
                name: "test",
                scope: kakari::domain::auth::Scope::Jurisdiction(area),
            },
            &kakari::services::mail::CampaignRequest {
                template: kakari::domain::mail::TemplateKey::Guidance,
                audience: kakari::domain::mail::Audience::Targets,
                fiscal_year: 2025,
                filter: Default::default(),
                chosen: Vec::new(),
                scheduled_at: None,
            },
            "matrix-campaign-request-key",
            &serde_json::json!({}),
        )
        .unwrap();
        // A published year (with no confirmed report yet) for the publication routes.
        kakari::services::publication::publish(
            conn,
            &kakari::services::catalogs::Catalogs::default(),
            kakari::services::By::System {
                name: "test",
                scope: kakari::domain::auth::Scope::Prefecture(prefecture),
            },
            prefecture,
            2025,
        )
        .unwrap();
    });
    let report: i32 = kakari::db::schema::reports::table
        .select(kakari::db::schema::reports::id)
        .first(&mut *app.db.conn())
        .unwrap();
    // Object routes point at objects every admitted role may see: the demo clinic (inside
    // the demo area), a user of it, and the import.
    let clinic_user = user_id(&app, "matrix-target").to_string();
    let clinic = institution_of(&app, "demo-clinic").to_string();
    let import: i32 = kakari::db::schema::imports::table
        .filter(kakari::db::schema::imports::kind.eq("institutions"))
        .select(kakari::db::schema::imports::id)
        .first(&mut *app.db.conn())
        .unwrap();
    let ndb_import: i32 = kakari::db::schema::imports::table
        .filter(kakari::db::schema::imports::kind.eq("ndb"))
        .select(kakari::db::schema::imports::id)
        .first(&mut *app.db.conn())
        .unwrap();
    let mut checked = 0;
    for (method, path, allowed) in EXPECTED {
        for who in ANYONE {
            let c = if *who == "anonymous" {
                client()
            } else {
                app.signed_in(who)
            };
            let url_path = path
                .replace(
                    "/admin/publication/{fy}/{action}",
                    "/admin/publication/2025/publish",
                )
                .replace("{prefecture}", "46")
                .replace("/accounts/applications/{id}", "/accounts/applications/1")
                .replace("/admin/notices/{id}", "/admin/notices/1")
                .replace("/admin/faq/{id}", "/admin/faq/1")
                .replace("/admin/documents/{id}", "/admin/documents/1")
                .replace("/help/documents/{id}", "/help/documents/1")
                .replace("/paper/forms/{id}", &format!("/paper/forms/{clinic}"))
                .replace("/paper/imports/{id}", "/paper/imports/1")
                .replace("{decision}", "approve")
                .replace("{code}", "4610000000")
                .replace("/admin/users/{id}", &format!("/admin/users/{clinic_user}"))
                .replace(
                    "/institutions/imports/{id}",
                    &format!("/institutions/imports/{import}"),
                )
                .replace("/institutions/{id}", &format!("/institutions/{clinic}"))
                .replace("/reports/{id}", &format!("/reports/{report}"))
                .replace("/review/bulk/{id}", "/review/bulk/1")
                .replace("/ndb/imports/{id}", &format!("/ndb/imports/{ndb_import}"))
                .replace("/mail/campaigns/{id}", "/mail/campaigns/1")
                .replace("{token}", "0123456789abcdef0123456789abcdef")
                .replace("{action}", "pause")
                .replace("{key}", "reminder")
                .replace("{fy}", "2025")
                .replace("{section}", "1")
                .replace("{n}", "1");
            // Every state-changing route refuses a request without the CSRF token
            // (checked as the most powerful user, whom nothing else stops).
            if *method == "POST" && *who == "demo-sysadmin" {
                let multipart = [
                    "/institutions/import",
                    "/ndb/import",
                    "/admin/catalogs",
                    "/mail/bounces",
                    "/admin/publication/population",
                    "/admin/documents",
                    "/paper/imports",
                ]
                .contains(path);
                let res = if multipart {
                    let form = reqwest::blocking::multipart::Form::new().part(
                        "file",
                        reqwest::blocking::multipart::Part::bytes(b"x".to_vec()).file_name("a.csv"),
                    );
                    c.post(app.url(&url_path)).multipart(form).send().unwrap()
                } else {
                    c.post(app.url(&url_path))
                        .form(&[("x", "1")])
                        .send()
                        .unwrap()
                };
                assert_eq!(res.status(), 403, "{path} without the CSRF token");
            }
            let res = if *method == "GET" {
                c.get(app.url(&url_path)).send().unwrap()
            } else {
                let source = if *who == "anonymous" { "/login" } else { "/" };
                let page = c.get(app.url(source)).send().unwrap().text().unwrap();
                c.post(app.url(&url_path))
                    .form(&[("csrf", csrf_of(&page).as_str())])
                    .send()
                    .unwrap()
            };
            let status = res.status().as_u16();
            // A refusal sends visitors to sign in and come back (`next=`); signing out
            // also ends on the sign-in page, but without `next`.
            let to_login = status == 303
                && res.headers()["location"]
                    .to_str()
                    .unwrap()
                    .starts_with("/login?next=");
            // A bulk confirmation belongs to the officer who previewed it: for anyone
            // else it is 404 (not found), which still means the gate let them through.
            // So does a prepared export file.
            // So does an institution the published year does not hold (none is confirmed
            // in this demo), a made-up password link, and an application (none exists).
            let owned = (path.starts_with("/review/bulk/{id}")
                || path.starts_with("/exports/files/")
                || path.ends_with("/institutions/{code}")
                || path.starts_with("/account/link/")
                || path.starts_with("/accounts/applications/{id}")
                || path.starts_with("/admin/notices/{id}")
                || path.starts_with("/admin/faq/{id}")
                || path.starts_with("/admin/documents/{id}")
                || path.starts_with("/help/documents/{id}")
                || path.starts_with("/paper/imports/{id}"))
                && status == 404;
            if allowed.contains(who) {
                assert!(
                    (owned || ![403, 404, 405].contains(&status)) && !to_login && status < 500,
                    "{who} should reach {method} {path}, got {status}"
                );
            } else if *who == "anonymous" && *method == "GET" {
                assert!(
                    to_login,
                    "anonymous {method} {path} should go to sign-in, got {status}"
                );
            } else {
                assert_eq!(status, 403, "{who} must be refused {method} {path}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, EXPECTED.len() * ANYONE.len());
}

#[test]
fn cli_creates_the_first_admin_from_standard_input() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let app = TestApp::with_demo();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kakari"))
        .args([
            "user",
            "add",
            "--login",
            "first-admin",
            "--role",
            "admin",
            "--scope",
            "pref:46",
            "--name",
            "県 管理者",
        ])
        .env("DATABASE_URL", &app.db.url)
        .env_remove("KAKARI_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        app.login_with(&client(), "first-admin", "a long enough password")
            .status(),
        303
    );

    // A weak password or an unknown scope is refused with one line.
    for (args, must_name) in [
        (
            vec!["--login", "weak", "--role", "admin", "--scope", "pref:46"],
            "文字以上",
        ),
        (
            vec![
                "--login", "nowhere", "--role", "admin", "--scope", "pref:99",
            ],
            "pref:99",
        ),
        (
            vec!["--login", "badrole", "--role", "king", "--scope", "pref:46"],
            "king",
        ),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kakari"))
            .arg("user")
            .arg("add")
            .args(&args)
            .env("DATABASE_URL", &app.db.url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let password: &[u8] = if must_name == "文字以上" {
            b"short\n"
        } else {
            b"a long enough password\n"
        };
        child.stdin.take().unwrap().write_all(password).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(must_name), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
