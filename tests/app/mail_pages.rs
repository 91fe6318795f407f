//! The mail pages as officers and administrators use them: a broadcast from the
//! 未報告 list through its preview to one campaign (whatever the clicks), what an
//! officer does to it, the template editor's checks, and who may see what.

use diesel::prelude::*;
use kakari::db::schema::{mail_campaigns, mail_outbox, mail_templates};
use reqwest::blocking::Client;

use crate::reports::{fiscal_year, location};
use crate::support::{TestApp, csrf_of};

/// The confirm form's fields on a preview page (hidden inputs and the token).
fn confirm_fields(html: &str) -> Vec<(String, String)> {
    let form = &html[html.find("id=\"confirm-form\"").expect("confirm form")..];
    let form = &form[..form.find("</form>").unwrap()];
    let mut out = Vec::new();
    let mut rest = form;
    while let Some(i) = rest.find("<input type=\"hidden\" name=\"") {
        rest = &rest[i + 27..];
        let name = &rest[..rest.find('"').unwrap()];
        let v = &rest[rest.find("value=\"").unwrap() + 7..];
        let value = &v[..v.find('"').unwrap()];
        out.push((name.to_string(), value.replace("&amp;", "&")));
    }
    out
}

fn get(c: &Client, app: &TestApp, path: &str) -> (u16, String) {
    let res = c.get(app.url(path)).send().unwrap();
    (res.status().as_u16(), res.text().unwrap())
}

/// Officer: 未報告 list → 督促 form → preview → confirm (twice) → one campaign.
pub(crate) fn broadcast_reminder(app: &TestApp, c: &Client) -> i32 {
    let fy = fiscal_year();
    let (status, list) = get(c, app, &format!("/review/unreported?fy={fy}"));
    assert_eq!(status, 200);
    assert!(
        list.contains("id=\"mail-link\""),
        "the 未報告 list offers a reminder"
    );
    let (status, form) = get(
        c,
        app,
        &format!("/mail/new?template=reminder&audience=unreported&fy={fy}"),
    );
    assert_eq!(status, 200, "{form}");
    assert!(form.contains("value=\"unreported\" checked"));
    let (status, preview) = get(
        c,
        app,
        &format!("/mail/preview?template=reminder&audience=unreported&fy={fy}"),
    );
    assert_eq!(status, 200, "{preview}");
    assert!(preview.contains("id=\"recipient-count\""));
    assert!(
        preview.contains("id=\"first-subject\""),
        "the first message is shown"
    );
    assert!(preview.contains("【督促】"));
    assert!(
        preview.contains("id=\"no-address\""),
        "those without an address are listed"
    );
    let fields = confirm_fields(&preview);
    let first = c
        .post(app.url("/mail/campaigns"))
        .form(&fields)
        .send()
        .unwrap();
    assert_eq!(first.status(), 303);
    let again = c
        .post(app.url("/mail/campaigns"))
        .form(&fields)
        .send()
        .unwrap();
    assert_eq!(again.status(), 303);
    let (a, b) = (location(&first), location(&again));
    assert_eq!(
        a.split('?').next(),
        b.split('?').next(),
        "a second click makes no second campaign"
    );
    let n: i64 = mail_campaigns::table
        .count()
        .get_result(&mut *app.db.conn())
        .unwrap();
    assert_eq!(n, 1);
    a.trim_start_matches("/mail/campaigns/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn an_officer_broadcasts_from_the_unreported_list_and_steers_the_campaign() {
    let app = crate::season::with_season();
    let c = app.signed_in("demo-officer");
    let id = broadcast_reminder(&app, &c);
    let (status, page) = get(&c, &app, &format!("/mail/campaigns/{id}?created=1"));
    assert_eq!(status, 200);
    assert!(page.contains("id=\"created\""));
    assert!(
        page.contains("/static/mail.js"),
        "the progress updates while the page is open"
    );
    let progress: serde_json::Value = c
        .get(app.url(&format!("/mail/campaigns/{id}/progress")))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let recipients = progress["recipients"].as_i64().unwrap();
    assert!(recipients > 10, "{progress}");
    assert_eq!(progress["tally"]["waiting"].as_i64(), Some(recipients));
    assert_eq!(progress["state"], "sending");
    let post = |action: &str| {
        let page = get(&c, &app, &format!("/mail/campaigns/{id}")).1;
        c.post(app.url(&format!("/mail/campaigns/{id}/{action}")))
            .form(&[("csrf", csrf_of(&page).as_str())])
            .send()
            .unwrap()
    };
    assert_eq!(post("pause").status(), 303);
    assert!(
        get(&c, &app, &format!("/mail/campaigns/{id}"))
            .1
            .contains("data-state=\"paused\"")
    );
    assert_eq!(post("resume").status(), 303);
    assert_eq!(post("cancel").status(), 303);
    // A cancelled campaign sends nothing more; every waiting row says why.
    let conn = &mut *app.db.conn();
    let states: Vec<String> = mail_outbox::table
        .filter(mail_outbox::campaign_id.eq(id))
        .select(mail_outbox::state)
        .load(conn)
        .unwrap();
    assert!(states.iter().all(|s| s == "skipped"), "{states:?}");
    // Cancelling twice is refused with a message, not a 500.
    let res = post("cancel");
    assert_eq!(res.status(), 409);
    // The history lists it; the messages page filters by state.
    let (status, history) = get(&c, &app, "/mail");
    assert_eq!(status, 200);
    assert!(history.contains(&format!("/mail/campaigns/{id}")));
    let (status, skipped) = get(&c, &app, &format!("/mail/campaigns/{id}?state=skipped"));
    assert_eq!(status, 200);
    assert!(skipped.contains("配信が中止されたため"));
    // Mail is written to files here, and every mail page says so.
    assert!(history.contains("id=\"files-only\""));
    // The prefecture administrator's 操作履歴 shows who broadcast and who cancelled.
    let admin = app.signed_in("demo-admin");
    let (_, audit) = get(&admin, &app, "/admin/audit");
    assert!(audit.contains("メール一括配信の作成"), "{audit}");
    assert!(audit.contains("メール一括配信の操作"));
}

#[test]
fn mail_pages_are_closed_to_clinics_and_forged_ids_are_not_found() {
    let app = crate::season::with_season();
    let officer = app.signed_in("demo-officer");
    let id = broadcast_reminder(&app, &officer);
    let clinic = app.signed_in("demo-clinic");
    for path in [
        "/mail",
        &format!("/mail/campaigns/{id}"),
        &format!("/mail/campaigns/{id}/progress"),
        "/mail/templates",
    ] {
        let status = clinic.get(app.url(path)).send().unwrap().status().as_u16();
        assert!(status == 403 || status == 404, "{path}: {status}");
    }
    assert_eq!(get(&officer, &app, "/mail/campaigns/999999").0, 404);
    // A health-center officer sees its own area's campaigns, not the prefecture's
    // (whose recipients lie outside its area).
    let area = app.signed_in("demo-area");
    assert_eq!(get(&area, &app, &format!("/mail/campaigns/{id}")).0, 404);
    assert!(
        !get(&area, &app, "/mail")
            .1
            .contains(&format!("/mail/campaigns/{id}\""))
    );
    assert_eq!(
        get(&officer, &app, "/mail/campaigns/999999/progress").0,
        404
    );
    // A state change without the form's token is refused.
    let res = officer
        .post(app.url(&format!("/mail/campaigns/{id}/pause")))
        .form(&[("csrf", "forged")])
        .send()
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    // An unknown action is not found.
    let page = get(&officer, &app, &format!("/mail/campaigns/{id}")).1;
    let res = officer
        .post(app.url(&format!("/mail/campaigns/{id}/explode")))
        .form(&[("csrf", csrf_of(&page).as_str())])
        .send()
        .unwrap();
    assert_eq!(res.status(), 404);
    // Officers read templates; administrators edit them.
    assert_eq!(get(&officer, &app, "/mail/templates").0, 200);
    let (status, editor) = get(&officer, &app, "/mail/templates/reminder");
    assert_eq!(status, 200);
    assert!(!editor.contains("id=\"save-template\""));
    let res = officer
        .post(app.url("/mail/templates/reminder"))
        .form(&[
            ("csrf", csrf_of(&editor).as_str()),
            ("subject", "x"),
            ("body", "y"),
        ])
        .send()
        .unwrap();
    assert!(
        res.status() == 403 || res.status() == 404,
        "{}",
        res.status()
    );
}

#[test]
fn a_broken_template_is_refused_next_to_the_field_and_keeps_what_was_typed() {
    let app = crate::season::with_season();
    let admin = app.signed_in("demo-admin");
    let (status, editor) = get(&admin, &app, "/mail/templates/reminder");
    assert_eq!(status, 200);
    assert!(
        editor.contains("institution_name"),
        "the variables are listed"
    );
    let token = csrf_of(&editor);
    let typed_body = "本文 <script>alert(1)</script> {{ institution_name }}";
    let res = admin
        .post(app.url("/mail/templates/reminder"))
        .form(&[
            ("csrf", token.as_str()),
            ("subject", "督促 {{ institution_nam }}"),
            ("body", typed_body),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 422);
    let page = res.text().unwrap();
    assert!(page.contains("id=\"subject-error\""));
    assert!(page.contains("institution_nam"));
    assert!(
        page.contains("督促 {{ institution_nam }}"),
        "the typed subject is kept"
    );
    assert!(
        page.contains("&lt;script&gt;"),
        "typed HTML is shown as text"
    );
    let n: i64 = mail_templates::table
        .count()
        .get_result(&mut *app.db.conn())
        .unwrap();
    assert_eq!(n, 0, "nothing saved");
    // Broken syntax in the body.
    let res = admin
        .post(app.url("/mail/templates/reminder"))
        .form(&[
            ("csrf", token.as_str()),
            ("subject", "督促"),
            ("body", "{% if %}"),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().unwrap().contains("id=\"body-error\""));
    // A preview for a chosen institution, without saving.
    let code: String = {
        use kakari::db::schema::institutions;
        institutions::table
            .filter(institutions::is_target.eq(true))
            .order(institutions::code)
            .select(institutions::code)
            .first(&mut *app.db.conn())
            .unwrap()
    };
    let res = admin
        .post(app.url("/mail/templates/reminder/preview"))
        .form(&[
            ("csrf", token.as_str()),
            ("subject", "【督促】{{ institution_name }} 様"),
            (
                "body",
                "{{ institution_code }} の報告をお願いします。締切 {{ period_end }}",
            ),
            ("code", code.as_str()),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().unwrap();
    assert!(page.contains("id=\"preview-subject\""), "{page}");
    assert!(page.contains(&code));
    assert!(page.contains("099-000-0000"), "the contact footer is added");
    // A valid edit is saved, used, and can be reset.
    let res = admin
        .post(app.url("/mail/templates/reminder"))
        .form(&[
            ("csrf", token.as_str()),
            ("subject", "【督促】{{ institution_name }} 様"),
            ("body", "締切は {{ period_end }} です。"),
        ])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, list) = get(&admin, &app, "/mail/templates");
    assert!(list.contains("変更あり"));
    let officer = app.signed_in("demo-officer");
    let fy = fiscal_year();
    let (_, preview) = get(
        &officer,
        &app,
        &format!("/mail/preview?template=reminder&audience=unreported&fy={fy}"),
    );
    assert!(
        preview.contains("締切は "),
        "the broadcast preview uses the edit"
    );
    let editor = get(&admin, &app, "/mail/templates/reminder").1;
    let res = admin
        .post(app.url("/mail/templates/reminder/reset"))
        .form(&[("csrf", csrf_of(&editor).as_str())])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    let n: i64 = mail_templates::table
        .count()
        .get_result(&mut *app.db.conn())
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn a_broadcast_form_with_mistakes_comes_back_with_messages() {
    let app = crate::season::with_season();
    let c = app.signed_in("demo-officer");
    let fy = fiscal_year();
    let (status, page) = get(
        &c,
        &app,
        &format!("/mail/preview?template=reminder&fy={fy}&at=tomorrow"),
    );
    assert_eq!(status, 422);
    assert!(page.contains("送り先を選んでください"));
    assert!(page.contains("予約日時を"));
    // Ticked institutions with none ticked.
    let (status, page) = get(
        &c,
        &app,
        &format!("/mail/preview?template=guidance&audience=chosen&fy={fy}"),
    );
    assert_eq!(status, 422);
    assert!(page.contains("送る医療機関を選んでください"));
    // The list of institutions without an address opens in Excel.
    let res = c
        .get(app.url(&format!(
            "/mail/no-address.csv?template=guidance&audience=targets&fy={fy}"
        )))
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.lines().count() > 2, "{text}");
    assert!(text.contains("メールアドレスが登録されていません"));
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("郵便番号,所在地,管理者,電話番号"),
        "postal details for paper mailing: {text}"
    );
}

#[test]
fn the_bounce_page_refuses_a_file_that_is_not_a_bounce_and_the_search_shows_undeliverable() {
    let app = crate::season::with_season();
    let c = app.signed_in("demo-officer");
    let (status, page) = get(&c, &app, "/mail/bounces");
    assert_eq!(status, 200);
    let form = reqwest::blocking::multipart::Form::new()
        .text("csrf", csrf_of(&page))
        .part(
            "file",
            reqwest::blocking::multipart::Part::bytes(
                b"From: a@b.jp\r\nSubject: hi\r\n\r\nhello\r\n".to_vec(),
            )
            .file_name("note.eml"),
        );
    let res = c
        .post(app.url("/mail/bounces"))
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .unwrap()
            .contains("不達のお知らせが見つかりません")
    );
    // An address flagged 不達 shows in the institution search and on its page.
    let conn = &mut *app.db.conn();
    let (id, code): (i32, String) = {
        use kakari::db::schema::institutions;
        institutions::table
            .filter(institutions::email.is_not_null())
            .order(institutions::id)
            .select((institutions::id, institutions::code))
            .first(conn)
            .unwrap()
    };
    let address: String = {
        use kakari::db::schema::institutions;
        institutions::table
            .find(id)
            .select(institutions::email.assume_not_null())
            .first(conn)
            .unwrap()
    };
    kakari::db::mail::flag_undeliverable(
        conn,
        id,
        &address,
        "不達（5.2.2）受信箱が一杯です",
        chrono::Utc::now().naive_utc(),
    )
    .unwrap();
    let (_, list) = get(&c, &app, &format!("/institutions?q=&code={code}"));
    assert!(list.contains(">不達<"), "{list}");
    let (_, detail) = get(&c, &app, &format!("/institutions/{id}"));
    assert!(detail.contains("id=\"email-bounced\""));
    assert!(detail.contains("受信箱が一杯です"));
}

/// The (institution id, has an address) of each row ticked-for-mail on a 未報告 page.
fn tickable_rows(list: &str) -> Vec<(String, bool)> {
    list.split("<tr>")
        .filter_map(|row| {
            let at = row.find("name=\"institution\" value=\"")? + 26;
            let id = &row[at..at + row[at..].find('"')?];
            Some((id.to_string(), row.contains("<td>有</td>")))
        })
        .collect()
}

#[test]
fn an_area_officer_ticks_institutions_on_the_unreported_list_and_mails_only_those() {
    let app = crate::season::with_season();
    let fy = fiscal_year();
    // The prefecture's officer sees institutions of every area; keep one outside 姶良.
    let officer = app.signed_in("demo-officer");
    let area = app.signed_in("demo-area");
    let (_, area_list) = get(&area, &app, &format!("/review/unreported?fy={fy}"));
    let own = tickable_rows(&area_list);
    assert!(own.len() > 3, "the 未報告 list has tick boxes");
    let (_, all) = get(
        &officer,
        &app,
        &format!("/review/unreported?fy={fy}&sort=code&dir=desc"),
    );
    let foreign = tickable_rows(&all)
        .into_iter()
        .find(|(id, _)| !own.iter().any(|(o, _)| o == id))
        .expect("an institution outside the area");
    // The form the page submits: its hidden fields, two ticked rows with an address and
    // a forged id from another area.
    assert!(area_list.contains("<form method=\"get\" action=\"/mail/new\" id=\"tick-form\">"));
    let ticked: Vec<&(String, bool)> = own.iter().filter(|(_, mail)| *mail).take(2).collect();
    assert_eq!(ticked.len(), 2);
    let mut query = format!("template=reminder&audience=chosen&fy={fy}&status=unsubmitted");
    for (id, _) in &ticked {
        query.push_str(&format!("&institution={id}"));
    }
    query.push_str(&format!("&institution={}", foreign.0));
    let (status, page) = get(&area, &app, &format!("/mail/new?{query}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("value=\"chosen\" checked"), "{page}");
    let (status, preview) = get(&area, &app, &format!("/mail/preview?{query}"));
    assert_eq!(status, 200, "{preview}");
    assert!(
        preview.contains("id=\"recipient-count\">2 件"),
        "the two ticked, not the forged one: {preview}"
    );
    let res = area
        .post(app.url("/mail/campaigns"))
        .form(&confirm_fields(&preview))
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    let conn = &mut *app.db.conn();
    let mut got: Vec<i32> = mail_outbox::table
        .filter(mail_outbox::campaign_id.is_not_null())
        .select(mail_outbox::institution_id.assume_not_null())
        .load(conn)
        .unwrap();
    got.sort();
    let mut want: Vec<i32> = ticked.iter().map(|(id, _)| id.parse().unwrap()).collect();
    want.sort();
    assert_eq!(got, want);
}
