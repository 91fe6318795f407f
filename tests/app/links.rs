//! One-time password links (issue 17, first part) against a real SMTP server process:
//! an administrator mails a setup link, the mail arrives, the link sets the password
//! and signs the user in once; used, voided, expired and forged links are refused;
//! 「パスワードをお忘れの方」 answers alike for known and unknown accounts.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use kakari::db::schema::{account_links, users};

use crate::mail::Sink;
use crate::support::{DEMO_PASSWORD, TestApp, client, csrf_of, user_id};

const CLINIC_MAIL: &str = "clinic-links@example.jp";
pub(crate) const NEW_PASSWORD: &str = "kagoshima-sakurajima-2027";

/// The application and a mail worker sending to `sink`, stopped with the test (the
/// worker `serve` starts would outlive the test's database).
pub(crate) struct WithSink {
    app: TestApp,
    stop: kakari::mail::worker::StopSignal,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl std::ops::Deref for WithSink {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl Drop for WithSink {
    fn drop(&mut self) {
        self.stop.stop();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

pub(crate) fn app_with_sink(sink: &Sink) -> WithSink {
    let app = TestApp::spawn_with(|conn| {
        kakari::demo::load(conn, 200, 1, false, DEMO_PASSWORD).unwrap();
        diesel::update(users::table.filter(users::login_id.eq("demo-clinic")))
            .set(users::email.eq(CLINIC_MAIL))
            .execute(conn)
            .unwrap();
    });
    let mut settings = app.db.settings();
    settings.public_url = Some("https://kakari.pref.example.jp".into());
    settings.mail.smtp_url = Some(sink.url());
    settings.mail.rate = 0;
    let stop = kakari::mail::worker::StopSignal::default();
    let threads = kakari::mail::worker::Worker::new(app.db.pool(), &settings)
        .spawn(stop.clone())
        .unwrap();
    WithSink { app, stop, threads }
}

/// The link of the `n`-th message (1-based) to the clinic, waiting for it to arrive.
fn mailed_link(sink: &Sink, n: usize) -> (String, String) {
    let start = Instant::now();
    loop {
        let to_clinic: Vec<serde_json::Value> = sink
            .received()
            .into_iter()
            .filter(|m| m["rcpt_tos"][0] == CLINIC_MAIL)
            .collect();
        if let Some(m) = to_clinic.get(n - 1) {
            let body = m["body"].as_str().unwrap();
            let at = body.find("/account/link/").expect("a link in the mail");
            let token: String = body[at + 14..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            assert!(body.contains("https://kakari.pref.example.jp/account/link/"));
            return (m["subject"].as_str().unwrap().to_string(), token);
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no mail arrived");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn send_link(app: &TestApp, admin: &reqwest::blocking::Client, user: i32) -> String {
    let page = format!("/admin/users/{user}");
    let res = app.post_form(admin, &page, &format!("{page}/link"), &[]);
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    admin
        .get(app.url(&location))
        .send()
        .unwrap()
        .text()
        .unwrap()
}

pub(crate) fn set_password(
    app: &TestApp,
    c: &reqwest::blocking::Client,
    token: &str,
    password: &str,
    confirm: &str,
) -> reqwest::blocking::Response {
    let path = format!("/account/link/{token}");
    let mut page = c.get(app.url(&path)).send().unwrap().text().unwrap();
    if !page.contains("name=\"csrf\"") {
        // A refused link shows no form: the token of another page of this browser.
        page = c
            .get(app.url("/account/forgot"))
            .send()
            .unwrap()
            .text()
            .unwrap();
    }
    c.post(app.url(&path))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("password", password),
            ("confirm", confirm),
        ])
        .send()
        .unwrap()
}

#[test]
fn a_mailed_link_sets_the_password_once_and_signs_in() {
    let sink = Sink::start(&[]);
    let app = app_with_sink(&sink);
    let admin = app.signed_in("demo-admin");
    let clinic = user_id(&app, "demo-clinic");
    // The clinic is signed in elsewhere; the new password will end that session.
    let elsewhere = app.signed_in("demo-clinic");

    let page = send_link(&app, &admin, clinic);
    assert!(
        page.contains("パスワード設定用のURLをメールで送りました"),
        "{page}"
    );
    let (subject, first) = mailed_link(&sink, 1);
    assert!(
        subject.contains("パスワード再設定"),
        "the clinic signed in before: {subject}"
    );
    // Sent again: the first link stops working, even if its mail is still on its way.
    send_link(&app, &admin, clinic);
    let (_, token) = mailed_link(&sink, 2);
    assert_ne!(first, token);
    let stored: Vec<String> = account_links::table
        .select(account_links::token_hash)
        .load(&mut *app.db.conn())
        .unwrap();
    assert!(!stored.contains(&token), "only the hash is stored");

    let browser = client();
    let res = browser
        .get(app.url(&format!("/account/link/{first}")))
        .send()
        .unwrap();
    assert_eq!(res.status(), 410);
    assert!(res.text().unwrap().contains("新しいURLを発行したため"));
    let form = browser
        .get(app.url(&format!("/account/link/{token}")))
        .send()
        .unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().unwrap().contains("demo-clinic"));
    // The password rules hold here too, and the typed mismatch is named.
    let res = set_password(&app, &browser, &token, "password1234", "password1234");
    assert_eq!(res.status(), 422);
    let res = set_password(&app, &browser, &token, NEW_PASSWORD, "something-else-2027");
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .unwrap()
            .contains("確認用のパスワードが一致しません")
    );
    let res = set_password(&app, &browser, &token, NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(res.status(), 303);
    let home = browser.get(app.url("/")).send().unwrap().text().unwrap();
    assert!(
        home.contains("デモ 医療機関担当者"),
        "signed in by the link"
    );
    // The other session ended; the new password works; the old one does not.
    let res = elsewhere.get(app.url("/account/sessions")).send().unwrap();
    assert_eq!(res.status(), 303, "the other browser was signed out");
    assert_eq!(
        app.login_with(&client(), "demo-clinic", NEW_PASSWORD)
            .status(),
        303
    );
    assert_ne!(
        app.login_with(&client(), "demo-clinic", DEMO_PASSWORD)
            .status(),
        303
    );
    // A second use, an expired link, a forged one.
    let res = set_password(
        &app,
        &client(),
        &token,
        "another-password-2027",
        "another-password-2027",
    );
    assert_eq!(res.status(), 410);
    assert!(res.text().unwrap().contains("すでに使われました"));
    send_link(&app, &admin, clinic);
    let (_, third) = mailed_link(&sink, 3);
    diesel::update(account_links::table.filter(account_links::used_at.is_null()))
        .set(account_links::expires_at.eq(chrono::Utc::now().naive_utc()))
        .execute(&mut *app.db.conn())
        .unwrap();
    let res = client()
        .get(app.url(&format!("/account/link/{third}")))
        .send()
        .unwrap();
    assert_eq!(res.status(), 410);
    assert!(res.text().unwrap().contains("有効期限を過ぎました"));
    for forged in [
        "0".repeat(64),
        "not-a-token".into(),
        // One character changed: never the same token.
        format!(
            "{}{}",
            &token[..63],
            if token.ends_with('0') { '1' } else { '0' }
        ),
    ] {
        let res = client()
            .get(app.url(&format!("/account/link/{forged}")))
            .send()
            .unwrap();
        assert_eq!(res.status(), 404, "{forged}");
    }
    // The administrator sees the link and its mail's delivery.
    let page = admin
        .get(app.url(&format!("/admin/users/{clinic}")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("id=\"link-mail\">送信済"), "{page}");
    let audit = admin
        .get(app.url("/admin/audit"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(audit.contains("パスワード設定URLの送信") && audit.contains("URLからのパスワード設定"));
}

#[test]
fn a_forgotten_password_answers_alike_for_known_and_unknown_accounts() {
    let sink = Sink::start(&[]);
    let app = app_with_sink(&sink);
    let ask = |login: &str| {
        let c = client();
        let page = c
            .get(app.url("/account/forgot"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        let res = c
            .post(app.url("/account/forgot"))
            .form(&[("csrf", csrf_of(&page).as_str()), ("login", login)])
            .send()
            .unwrap();
        (res.status().as_u16(), res.text().unwrap())
    };
    let unknown = ask("nobody-4699999999");
    let by_address = ask(CLINIC_MAIL);
    let known = ask("demo-clinic");
    let html_in_it = ask("<script>alert(1)</script>");
    assert_eq!(
        unknown, known,
        "the same page whether or not the account exists"
    );
    assert_eq!(unknown, by_address);
    assert_eq!(unknown, html_in_it);
    assert_eq!(known.0, 200);
    assert!(known.1.contains("受け付けました"));
    // Two requests for the clinic: the second link voids the first.
    let (subject, first) = mailed_link(&sink, 1);
    assert!(subject.contains("パスワード再設定"));
    let (_, second) = mailed_link(&sink, 2);
    assert_eq!(
        client()
            .get(app.url(&format!("/account/link/{first}")))
            .send()
            .unwrap()
            .status(),
        410
    );
    let res = set_password(&app, &client(), &second, NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(res.status(), 303);
    assert_eq!(
        sink.received().len(),
        2,
        "nothing mailed for the unknown account"
    );
    // Ten requests an hour from one address: the eleventh gets the same page, no mail.
    for n in 0..6 {
        assert_eq!(ask(&format!("nobody-{n}")), unknown);
    }
    assert_eq!(ask("demo-clinic"), unknown);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.received().len(), 2, "limited: nothing more mailed");
    let limited: i64 = kakari::db::schema::audit_log::table
        .filter(kakari::db::schema::audit_log::action.eq("password_reset_ask"))
        .filter(kakari::db::schema::audit_log::detail.like("%\"limited\":true%"))
        .count()
        .get_result(&mut *app.db.conn())
        .unwrap();
    assert_eq!(limited, 1);
    // The sign-in page leads here.
    let login = client()
        .get(app.url("/login"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(login.contains("href=\"/account/forgot\""));
}

#[test]
fn the_it_staff_print_a_link_with_the_command_line() {
    let app = TestApp::with_demo();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kakari"))
        .args(["user", "invite", "--login", "demo-clinic"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.db.url)
        .env("KAKARI_DATA_DIR", app.db.data_dir())
        .env("KAKARI_PUBLIC_URL", "https://kakari.pref.example.jp/")
        .env("KAKARI_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let token = printed
        .trim()
        .strip_prefix("https://kakari.pref.example.jp/account/link/")
        .unwrap_or_else(|| panic!("{printed}"));
    let res = set_password(&app, &client(), token, NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(res.status(), 303);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kakari"))
        .args(["user", "invite", "--login", "nobody"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.db.url)
        .env("KAKARI_DATA_DIR", app.db.data_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody"));
}

pub(crate) fn apply(app: &TestApp, fields: &[(&str, &str)]) -> (u16, String) {
    let c = client();
    let page = c.get(app.url("/register")).send().unwrap().text().unwrap();
    let mut form = vec![("csrf", csrf_of(&page))];
    form.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    let res = c.post(app.url("/register")).form(&form).send().unwrap();
    (res.status().as_u16(), res.text().unwrap())
}

pub(crate) fn application(code: &str, name: &str, email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("code", code.to_string()),
        ("name", name.to_string()),
        ("person", "鹿児島 花子".to_string()),
        ("email", email.to_string()),
        ("email_again", email.to_string()),
        ("phone", "099-123-4567".to_string()),
    ]
}

pub(crate) fn as_refs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn an_application_answers_alike_and_an_officer_approves_it_into_a_working_account() {
    use kakari::db::schema::{account_applications, institutions};
    let sink = Sink::start(&[]);
    let app = app_with_sink(&sink);
    let conn = &mut *app.db.conn();
    let with_account: Vec<i32> = users::table
        .filter(users::institution_id.is_not_null())
        .select(users::institution_id.assume_not_null())
        .load(conn)
        .unwrap();
    let (target_code, target_name): (String, String) = institutions::table
        .filter(institutions::is_target.eq(true))
        .filter(institutions::id.ne_all(&with_account))
        .select((institutions::code, institutions::name))
        .first(conn)
        .unwrap();
    let (taken_code, taken_name): (String, String) = institutions::table
        .filter(institutions::id.eq_any(&with_account))
        .select((institutions::code, institutions::name))
        .first(conn)
        .unwrap();
    let unknown = kakari::domain::codes::InstitutionCode::with_check_digit(
        46,
        kakari::domain::codes::FeeTable::Medical,
        98,
        9876,
    );
    let applicant = "hanako@clinic.example.jp";
    let good = application(&target_code, &target_name, applicant);
    let answers = [
        apply(&app, &as_refs(&good)),
        apply(
            &app,
            &as_refs(&application(&taken_code, &taken_name, "x@example.jp")),
        ),
        apply(
            &app,
            &as_refs(&application(
                unknown.as_str(),
                "<b>架空医院</b>",
                "y@example.jp",
            )),
        ),
        apply(
            &app,
            &as_refs(&application(&target_code, &target_name, "z@example.jp")),
        ),
    ];
    for a in &answers {
        assert_eq!(a, &answers[0], "every case answers alike");
    }
    assert!(answers[0].1.contains("受け付けました"));
    // A robot fills the hidden field: the same answer, nothing kept.
    let mut robot = application(&target_code, &target_name, "robot@example.jp");
    robot.push(("website", "http://spam.example".into()));
    assert_eq!(apply(&app, &as_refs(&robot)), answers[0]);
    let kept: i64 = account_applications::table
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(kept, 4);
    // A wrong check digit comes back with its message and what was typed.
    let mut wrong = good.clone();
    let last = (target_code.as_bytes()[9] - b'0' + 1) % 10;
    wrong[0].1 = format!("{}{last}", &target_code[..9]);
    let (status, page) = apply(&app, &as_refs(&wrong));
    assert_eq!(status, 422);
    assert!(
        page.contains("検証番号") || page.contains("チェック"),
        "{page}"
    );
    assert!(page.contains(&format!("value=\"{}\"", wrong[0].1)));
    // The applicant is told the application arrived.
    let start = Instant::now();
    while !sink
        .received()
        .iter()
        .any(|m| m["rcpt_tos"][0] == applicant)
    {
        assert!(start.elapsed() < Duration::from_secs(30), "no receipt mail");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The officer's list says what to look at; HTML stays text.
    let officer = app.signed_in("demo-officer");
    let list = officer
        .get(app.url("/accounts/applications"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for flag in [
        "すでにアカウントあり",
        "マスタにない医療機関コード",
        "同じ医療機関の申請が審査待ち",
    ] {
        assert!(list.contains(flag), "{flag}");
    }
    assert!(list.contains("&lt;b&gt;架空医院") && !list.contains("<b>架空医院"));
    let id_of = |email: &str| -> i32 {
        account_applications::table
            .filter(account_applications::email.eq(email))
            .select(account_applications::id)
            .first(&mut *app.db.conn())
            .unwrap()
    };
    // An area officer does not see an application naming no institution.
    let area = app.signed_in("demo-area");
    let res = area
        .get(app.url(&format!("/accounts/applications/{}", id_of("y@example.jp"))))
        .send()
        .unwrap();
    assert_eq!(res.status(), 404);

    // The institution pages say where it stands.
    let institution: i32 = institutions::table
        .filter(institutions::code.eq(&target_code))
        .select(institutions::id)
        .first(&mut *app.db.conn())
        .unwrap();
    let account_state = || {
        let page = officer
            .get(app.url(&format!("/institutions/{institution}")))
            .send()
            .unwrap()
            .text()
            .unwrap();
        let marker = "id=\"account-state\">";
        let at = page.find(marker).expect("an account state") + marker.len();
        page[at..].split('<').next().unwrap().to_string()
    };
    assert_eq!(account_state(), "申請中");
    let search = officer
        .get(app.url(&format!("/institutions?code={target_code}")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(search.contains("申請中"), "{search}");
    // Approve the good one, putting its address in the master.
    let page = format!("/accounts/applications/{}", id_of(applicant));
    let res = app.post_form(
        &officer,
        &page,
        &format!("{page}/approve"),
        &[("update_email", "1")],
    );
    assert_eq!(res.status(), 303);
    let login = format!("{target_code}-01");
    assert!(res.headers()["location"].to_str().unwrap().contains(&login));
    let master_email: Option<String> = institutions::table
        .filter(institutions::code.eq(&target_code))
        .select(institutions::email)
        .first(&mut *app.db.conn())
        .unwrap();
    assert_eq!(master_email.as_deref(), Some(applicant));
    assert_eq!(account_state(), "案内送付済（URL未使用）");
    // The setup mail arrives; its link sets the password; the clinic signs in.
    let start = Instant::now();
    let token = loop {
        let setup = sink.received().into_iter().find(|m| {
            m["rcpt_tos"][0] == applicant
                && m["subject"].as_str().unwrap().contains("アカウント設定")
        });
        if let Some(m) = setup {
            let body = m["body"].as_str().unwrap().to_string();
            assert!(body.contains(&login));
            let at = body.find("/account/link/").unwrap();
            break body[at + 14..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect::<String>();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no setup mail");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        set_password(&app, &client(), &token, NEW_PASSWORD, NEW_PASSWORD).status(),
        303
    );
    assert_eq!(
        app.login_with(&client(), &login, NEW_PASSWORD).status(),
        303
    );
    // The second application for the same institution cannot make a second account.
    let page = format!("/accounts/applications/{}", id_of("z@example.jp"));
    let res = app.post_form(&officer, &page, &format!("{page}/approve"), &[]);
    assert_eq!(res.status(), 422);
    let accounts: i64 = users::table
        .filter(users::login_id.like(format!("{target_code}-%")))
        .count()
        .get_result(&mut *app.db.conn())
        .unwrap();
    assert_eq!(accounts, 1);
    // Rejecting needs a reason, which the applicant is told.
    let page = format!("/accounts/applications/{}", id_of("y@example.jp"));
    let res = app.post_form(
        &officer,
        &page,
        &format!("{page}/reject"),
        &[("reason", " ")],
    );
    assert_eq!(res.status(), 422);
    let res = app.post_form(
        &officer,
        &page,
        &format!("{page}/reject"),
        &[("reason", "医療機関コードが見つかりません")],
    );
    assert_eq!(res.status(), 303);
    let start = Instant::now();
    while !sink.received().iter().any(|m| {
        m["rcpt_tos"][0] == "y@example.jp"
            && m["body"]
                .as_str()
                .unwrap()
                .contains("医療機関コードが見つかりません")
    }) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no rejection mail"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_applications_list_pages_through_a_season_of_applications_for_each_role() {
    use kakari::db::schema::institutions;
    let app = TestApp::with_demo();
    let clinic = user_id(&app, "demo-clinic");
    let conn = &mut *app.db.conn();
    let institution: i32 = users::table
        .find(clinic)
        .select(users::institution_id.assume_not_null())
        .first(conn)
        .unwrap();
    let (code, name): (String, String) = institutions::table
        .find(institution)
        .select((institutions::code, institutions::name))
        .first(conn)
        .unwrap();
    for n in 0..55 {
        let email = format!("applicant-{n}@example.jp");
        let input = kakari::domain::application::ApplicationInput {
            code: code.clone(),
            name: name.clone(),
            person: format!("申請者 {n}"),
            email: email.clone(),
            email_again: email,
            phone: "0991234567".into(),
            website: String::new(),
        };
        let now = chrono::Utc::now().naive_utc();
        kakari::services::accounts::applications::apply(conn, &input, None, now).unwrap();
    }
    let rows = |html: &str| html.matches("href=\"/accounts/applications/").count();
    for login in ["demo-sysadmin", "demo-admin", "demo-officer", "demo-area"] {
        let c = app.signed_in(login);
        let first = c
            .get(app.url("/accounts/applications"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert_eq!(rows(&first), 50, "{login}");
        assert!(first.contains("id=\"next-page\""), "{login}");
        let second = c
            .get(app.url("/accounts/applications?state=pending&page=1"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert_eq!(rows(&second), 5, "{login}");
        assert!(!second.contains("id=\"next-page\""));
        assert!(
            second.contains("申請者 0<") && first.contains("申請者 54<"),
            "newest first"
        );
    }
    let res = app
        .signed_in("demo-clinic")
        .get(app.url("/accounts/applications"))
        .send()
        .unwrap();
    assert_eq!(res.status(), 403);
}
