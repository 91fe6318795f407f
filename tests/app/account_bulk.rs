//! Accounts many at a time (issue 17): 一括承認 of the applications that match the
//! master, and アカウントの一括発行 as one campaign of setup links, against a real SMTP
//! server process, as the officers who do it.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use kakari::db::schema::{account_applications, account_links, audit_log, institutions};
use kakari::db::schema::{mail_campaigns, mail_outbox, users};

use crate::links::{NEW_PASSWORD, app_with_sink, application, apply, as_refs, set_password};
use crate::mail::Sink;
use crate::support::{TestApp, client, csrf_of};

/// The body of the mail carrying a link to `address`, waiting for it to arrive.
fn mail_to(sink: &Sink, address: &str) -> String {
    let start = Instant::now();
    loop {
        let bodies: Vec<String> = sink
            .received()
            .iter()
            .filter(|m| m["rcpt_tos"][0] == address)
            .map(|m| m["body"].as_str().unwrap().to_string())
            .collect();
        if let Some(body) = bodies.into_iter().find(|b| b.contains("/account/link/")) {
            return body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no mail to {address}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn token_in(body: &str) -> String {
    let at = body.find("/account/link/").expect("a link in the mail") + 14;
    body[at..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

/// The link in the mail sets the password and the new login signs in.
fn link_signs_in(app: &TestApp, body: &str, login: &str) {
    let c = client();
    let res = set_password(app, &c, &token_in(body), NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(res.status(), 303, "the link sets the password");
    let res = app.login_with(&client(), login, NEW_PASSWORD);
    assert_eq!(res.status(), 303, "{login} signs in");
}

fn text(c: &reqwest::blocking::Client, app: &TestApp, path: &str) -> String {
    c.get(app.url(path)).send().unwrap().text().unwrap()
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html.find(start).unwrap_or_else(|| {
        panic!(
            "{start} in page: {}",
            &html[html.len().saturating_sub(3000)..]
        )
    }) + start.len();
    let to = html[from..].find(end).unwrap() + from;
    &html[from..to]
}

/// Targets of the prefecture without an account, with their master e-mail.
fn targets_without_account(conn: &mut kakari::db::DbConnection) -> Vec<(i32, String, String)> {
    let with_account: Vec<i32> = users::table
        .filter(users::institution_id.is_not_null())
        .select(users::institution_id.assume_not_null())
        .load(conn)
        .unwrap();
    institutions::table
        .filter(institutions::is_target.eq(true))
        .filter(institutions::email.is_not_null())
        .filter(institutions::id.ne_all(&with_account))
        .select((institutions::id, institutions::code, institutions::name))
        .order(institutions::code)
        .load(conn)
        .unwrap()
}

#[test]
fn applications_that_match_the_master_are_approved_together_after_a_preview() {
    let sink = Sink::start(&[]);
    let app = app_with_sink(&sink);
    let conn = &mut *app.db.conn();
    let free = targets_without_account(conn);
    let (a, b, c, d) = (&free[0], &free[1], &free[2], &free[3]);
    let (taken_code, taken_name): (String, String) = institutions::table
        .inner_join(users::table.on(users::institution_id.eq(institutions::id.nullable())))
        .select((institutions::code, institutions::name))
        .first(conn)
        .unwrap();
    // A: the master's name typed with a full-width space in it; the master's domain.
    let mut spaced = a.2.clone();
    spaced.insert(spaced.chars().next().unwrap().len_utf8(), '　');
    let cases = [
        application(&a.1, &spaced, "tanaka@example.jp"),
        application(&b.1, "<b>まったく別の医院</b>", "b@example.jp"),
        application(&c.1, &c.2, "c@other.example.com"),
        application(&d.1, &d.2, "d1@example.jp"),
        application(&d.1, &d.2, "d2@example.jp"),
        application(&taken_code, &taken_name, "e@example.jp"),
    ];
    // Through the form the first (the rate limit counts 5 an hour from one address),
    // the others as the service receives them.
    assert_eq!(apply(&app, &as_refs(&cases[0])).0, 200);
    for case in &cases[1..] {
        let field = |k: &str| case.iter().find(|(f, _)| *f == k).unwrap().1.clone();
        let input = kakari::domain::application::ApplicationInput {
            code: field("code"),
            name: field("name"),
            person: field("person"),
            email: field("email"),
            email_again: field("email_again"),
            phone: field("phone"),
            website: String::new(),
        };
        let now = chrono::Utc::now().naive_utc();
        kakari::services::accounts::applications::apply(conn, &input, None, now).unwrap();
    }
    let id_of = |conn: &mut kakari::db::DbConnection, email: &str| -> i32 {
        account_applications::table
            .filter(account_applications::email.eq(email))
            .select(account_applications::id)
            .first(conn)
            .unwrap()
    };
    let (a_id, b_id) = (
        id_of(conn, "tanaka@example.jp"),
        id_of(conn, "b@example.jp"),
    );

    let officer = app.signed_in("demo-officer");
    let preview = text(&officer, &app, "/accounts/bulk-approval");
    assert_eq!(between(&preview, "id=\"bulk-count\">", "<"), "1 件");
    assert!(preview.contains(&a.1));
    for other in [&b.1, &c.1, &d.1, &taken_code] {
        assert!(
            !preview.contains(other.as_str()),
            "{other} is not approvable"
        );
    }
    // The form carries what the preview showed; an id added by hand is checked again.
    let page = text(&officer, &app, "/accounts/bulk-approval");
    let res = officer
        .post(app.url("/accounts/bulk-approval"))
        .form(&[
            ("csrf", csrf_of(&page)),
            ("id", a_id.to_string()),
            ("id", b_id.to_string()),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let result = res.text().unwrap();
    assert!(result.contains("1 件を承認し"), "{result}");
    let login = format!("{}-01", a.1);
    assert!(result.contains(&login));
    assert!(result.contains("一括承認の条件に合わなくなったか"));
    let states: Vec<(i32, String)> = account_applications::table
        .select((account_applications::id, account_applications::state))
        .load(conn)
        .unwrap();
    for (id, state) in states {
        let expected = if id == a_id { "approved" } else { "pending" };
        assert_eq!(state, expected, "application {id}");
    }
    let approvals: i64 = audit_log::table
        .filter(audit_log::action.eq("application_approve"))
        .filter(audit_log::target_id.eq(a_id.to_string()))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(approvals, 1);
    // Sent twice (the back button): nothing more is made.
    let again = officer
        .post(app.url("/accounts/bulk-approval"))
        .form(&[("csrf", csrf_of(&page)), ("id", a_id.to_string())])
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(again.contains("0 件を承認し"));
    let accounts: i64 = users::table
        .filter(users::institution_id.eq(a.0))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(accounts, 1);
    link_signs_in(&app, &mail_to(&sink, "tanaka@example.jp"), &login);
}

#[test]
fn an_area_officer_gives_its_targets_accounts_in_one_campaign_of_setup_links() {
    let sink = Sink::start(&[]);
    let app = app_with_sink(&sink);
    let conn = &mut *app.db.conn();
    let area: i32 = users::table
        .filter(users::login_id.eq("demo-area"))
        .select(users::area_id.assume_not_null())
        .first(conn)
        .unwrap();
    let in_area: Vec<i32> = institutions::table
        .filter(institutions::jurisdiction_id.eq(area))
        .select(institutions::id)
        .load(conn)
        .unwrap();
    let mine: Vec<(i32, String)> = targets_without_account(conn)
        .into_iter()
        .filter(|(id, _, _)| in_area.contains(id))
        .map(|(id, code, _)| (id, code))
        .collect();
    assert!(mine.len() >= 4, "the demo area has targets with addresses");
    let (no_mail, bounced) = (&mine[0], &mine[1]);
    diesel::update(institutions::table.find(no_mail.0))
        .set(institutions::email.eq(None::<String>))
        .execute(conn)
        .unwrap();
    diesel::update(institutions::table.find(bounced.0))
        .set(institutions::email_bounced_at.eq(chrono::Utc::now().naive_utc()))
        .execute(conn)
        .unwrap();

    let officer = app.signed_in("demo-area");
    let preview = text(&officer, &app, "/accounts/invitations");
    let count: usize = between(&preview, "id=\"invite-count\">", " 件")
        .replace(',', "")
        .parse()
        .unwrap();
    assert_eq!(count, mine.len() - 2);
    let unreachable = between(&preview, "id=\"unreachable\"", "</table>");
    assert!(unreachable.contains(&no_mail.1) && unreachable.contains("登録されていません"));
    assert!(unreachable.contains(&bounced.1) && unreachable.contains("不達"));
    let key = between(&preview, "name=\"request_key\" value=\"", "\"").to_string();
    let confirm = || {
        officer
            .post(app.url("/accounts/invitations"))
            .form(&[("csrf", csrf_of(&preview)), ("request_key", key.clone())])
            .send()
            .unwrap()
    };
    let first = confirm();
    assert_eq!(first.status(), 303);
    let location = first.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/mail/campaigns/"), "{location}");
    assert_eq!(
        confirm().headers()["location"].to_str().unwrap(),
        location,
        "a second click makes nothing more"
    );
    let campaigns: Vec<(i32, String)> = mail_campaigns::table
        .select((mail_campaigns::id, mail_campaigns::audience))
        .load(conn)
        .unwrap();
    assert_eq!(campaigns.len(), 1);
    assert_eq!(campaigns[0].1, "accounts");

    // One account per reachable target of the area, none elsewhere, none doubled.
    let made: Vec<(String, i32)> = users::table
        .filter(users::role.eq("institution"))
        .filter(users::login_id.ne("demo-clinic"))
        .select((users::login_id, users::institution_id.assume_not_null()))
        .load(conn)
        .unwrap();
    assert_eq!(made.len(), count);
    for (login, institution) in &made {
        let (code, jurisdiction): (String, Option<i32>) = institutions::table
            .find(institution)
            .select((institutions::code, institutions::jurisdiction_id))
            .first(conn)
            .unwrap();
        assert_eq!(login, &format!("{code}-01"));
        assert_eq!(jurisdiction, Some(area));
        assert!(*institution != no_mail.0 && *institution != bounced.0);
    }
    let links: i64 = account_links::table
        .inner_join(mail_outbox::table.on(account_links::outbox_id.eq(mail_outbox::id.nullable())))
        .filter(mail_outbox::campaign_id.eq(campaigns[0].0))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(links as usize, count);

    // Every mail goes out; a clinic's link sets its password and it signs in.
    let (_, code) = &mine[2];
    let body = mail_to(&sink, &format!("info-{code}@example.jp"));
    link_signs_in(&app, &body, &format!("{code}-01"));
    let start = Instant::now();
    while sink.received().len() < count {
        assert!(start.elapsed() < Duration::from_secs(60), "all mails sent");
        std::thread::sleep(Duration::from_millis(200));
    }
    let campaign = text(&officer, &app, &location);
    assert!(
        campaign.contains("アカウント未作成の報告対象"),
        "{campaign}"
    );
    // Now nothing is left to issue, here or for the prefecture's officer.
    let after = text(&officer, &app, "/accounts/invitations");
    assert_eq!(between(&after, "id=\"invite-count\">", "<"), "0 件");
    let prefecture = text(
        &app.signed_in("demo-officer"),
        &app,
        "/accounts/invitations",
    );
    assert!(!prefecture.contains(&format!("{code}-01")));
}

/// Previews list so many rows and count the rest: with more than a page of them (once
/// a 500, on the broadcast preview too, since the template did arithmetic on a list).
#[test]
fn previews_with_more_rows_than_they_list_count_the_rest() {
    let app = TestApp::spawn_with(|conn| {
        kakari::demo::load(conn, 2000, 1, false, crate::support::DEMO_PASSWORD).unwrap();
    });
    let officer = app.signed_in("demo-officer");
    let res = officer
        .get(app.url("/accounts/invitations"))
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().unwrap();
    let count: usize = between(&page, "id=\"invite-count\">", " 件")
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(count > 200, "{count}");
    let listed = between(&page, "id=\"invitees\"", "</table>")
        .matches("<tr><td>")
        .count();
    assert_eq!(listed, 200);
    let more = between(&page, "id=\"invite-more\">ほか ", " 件");
    assert_eq!(more.replace(',', "").parse::<usize>().unwrap(), count - 200);
    let res = officer
        .get(app.url("/mail/preview?template=reminder&audience=targets"))
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let preview = res.text().unwrap();
    assert!(
        preview.contains("id=\"without-more\""),
        "more than 100 without an address: {}",
        between(&preview, "メールアドレスのない機関（", "）")
    );
}
