//! お知らせ, よくある質問 and 資料 (issue 17) as the prefecture's administrator writes
//! them and as a clinic, a visitor and an officer read them.

use diesel::prelude::*;
use kakari::db::schema::{audit_log, document_chunks, documents, notices};
use reqwest::blocking::multipart::{Form, Part};

use crate::support::{DEMO_PASSWORD, TestApp, client, csrf_of};

fn text(c: &reqwest::blocking::Client, app: &TestApp, path: &str) -> String {
    c.get(app.url(path)).send().unwrap().text().unwrap()
}

fn post(
    app: &TestApp,
    c: &reqwest::blocking::Client,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let res = app.post_form(c, page, action, fields);
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    match location {
        Some(to) => (status, to),
        None => (status, res.text().unwrap()),
    }
}

fn day(offset: i64) -> String {
    (kakari::domain::wareki::today_jst(chrono::Utc::now()) + chrono::Duration::days(offset))
        .to_string()
}

fn app() -> TestApp {
    TestApp::spawn_configured(
        |conn| {
            kakari::demo::load(conn, 200, 1, false, DEMO_PASSWORD).unwrap();
        },
        |settings| settings.document_max_mb = 1,
    )
}

#[test]
fn notices_show_in_their_window_on_the_home_and_sign_in_pages() {
    let app = app();
    let admin = app.signed_in("demo-admin");
    let from = day(0);
    let cases = [
        (
            "<script>alert(1)</script>ログイン前の案内",
            from.clone(),
            day(30),
            true,
        ),
        ("報告期間が始まりました", day(-3), String::new(), false),
        ("来月のお知らせ", day(10), String::new(), false),
        ("終わったお知らせ", day(-20), day(-1), false),
    ];
    for (title, from, until, on_login) in &cases {
        let mut fields = vec![
            ("title", *title),
            ("body", "一行目\r\n二行目"),
            ("from", from.as_str()),
            ("until", until.as_str()),
        ];
        if *on_login {
            fields.push(("on_login", "1"));
        } else {
            fields.push(("important", "1"));
        }
        let (status, to) = post(&app, &admin, "/admin/notices", "/admin/notices", &fields);
        assert_eq!((status, to.as_str()), (303, "/admin/notices?done=saved"));
    }
    // A window that ends before it starts comes back with the message and the text.
    let (status, page) = post(
        &app,
        &admin,
        "/admin/notices",
        "/admin/notices",
        &[
            ("title", "逆の期間"),
            ("body", "本文"),
            ("from", &day(5)),
            ("until", &day(1)),
        ],
    );
    assert_eq!(status, 422);
    assert!(page.contains("掲載の終了日は開始日と同じか後の日に"));
    assert!(page.contains("value=\"逆の期間\""));
    let list = text(&admin, &app, "/admin/notices");
    for state in ["掲載中", "掲載前", "掲載終了"] {
        assert!(list.contains(state), "{state}");
    }

    let login = text(&client(), &app, "/login");
    assert!(login.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;ログイン前の案内"));
    assert!(!login.contains("<script>alert"));
    assert!(
        !login.contains("報告期間が始まりました"),
        "home-only notice"
    );
    let home = text(&app.signed_in("demo-clinic"), &app, "/");
    assert!(home.contains("報告期間が始まりました") && home.contains("ログイン前の案内"));
    assert!(!home.contains("来月のお知らせ") && !home.contains("終わったお知らせ"));
    assert!(
        home.find("報告期間が始まりました").unwrap() < home.find("ログイン前の案内").unwrap(),
        "important first"
    );

    // Edited and deleted; a made-up id is not found.
    let conn = &mut *app.db.conn();
    let id: i32 = notices::table
        .filter(notices::title.eq("報告期間が始まりました"))
        .select(notices::id)
        .first(conn)
        .unwrap();
    let edit = text(&admin, &app, &format!("/admin/notices?edit={id}"));
    assert!(edit.contains(&format!("action=\"/admin/notices/{id}\"")));
    let fields = [
        ("title", "報告期間が始まりました（更新）"),
        ("body", "本文"),
        ("from", &day(-3)),
        ("until", ""),
    ];
    let action = format!("/admin/notices/{id}");
    assert_eq!(
        post(&app, &admin, "/admin/notices", &action, &fields).0,
        303
    );
    assert!(text(&app.signed_in("demo-clinic"), &app, "/").contains("（更新）"));
    assert_eq!(
        post(
            &app,
            &admin,
            "/admin/notices",
            "/admin/notices/99999",
            &fields
        )
        .0,
        404
    );
    let delete = format!("/admin/notices/{id}/delete");
    assert_eq!(post(&app, &admin, "/admin/notices", &delete, &[]).0, 303);
    assert!(!text(&app.signed_in("demo-clinic"), &app, "/").contains("（更新）"));
    let audited: i64 = audit_log::table
        .filter(audit_log::action.eq("help_content_change"))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(audited, 6, "4 added, 1 changed, 1 deleted");
    let log = text(&admin, &app, "/admin/audit");
    assert!(log.contains("お知らせ・FAQ・資料の変更"));
    // Officers and clinics cannot write notices.
    for who in ["demo-officer", "demo-clinic"] {
        let c = app.signed_in(who);
        assert_eq!(
            c.get(app.url("/admin/notices")).send().unwrap().status(),
            403
        );
    }
}

#[test]
fn the_faq_is_grouped_searchable_and_open_to_visitors() {
    let app = app();
    let admin = app.signed_in("demo-admin");
    let entries = [
        (
            "ログイン",
            "パスワードを忘れました",
            "ログイン画面の「パスワードをお忘れの方」から再設定できます。",
            "1",
        ),
        (
            "ログイン",
            "アカウントがありません",
            "ログイン画面の「利用申請」から申請してください。",
            "2",
        ),
        (
            "報告の入力",
            "一時保存した報告はどこですか",
            "ホームの「報告の入力・確認」にあります。100%入力して提出します。",
            "",
        ),
    ];
    for (category, question, answer, position) in entries {
        let fields = [
            ("category", category),
            ("question", question),
            ("answer", answer),
            ("position", position),
        ];
        assert_eq!(
            post(&app, &admin, "/admin/faq", "/admin/faq", &fields).0,
            303
        );
    }
    let (status, page) = post(
        &app,
        &admin,
        "/admin/faq",
        "/admin/faq",
        &[
            ("category", "ログイン"),
            ("question", "順番は"),
            ("answer", "x"),
            ("position", "最初"),
        ],
    );
    assert_eq!(status, 422);
    assert!(page.contains("表示順は数字で") && page.contains("value=\"最初\""));

    let visitor = client();
    let all = text(&visitor, &app, "/help");
    assert!(
        all.find("パスワードを忘れました").unwrap() < all.find("アカウントがありません").unwrap()
    );
    assert!(all.contains("<h3>報告の入力</h3>"));
    assert!(
        all.contains("ログイン</a>すると表示されます"),
        "manuals need sign-in"
    );
    // Hiragana finds katakana, full-width finds half-width, every word must match.
    let found = text(&visitor, &app, "/help?q=ぱすわーど%E3%80%80忘れ");
    assert!(
        found.contains("「ぱすわーど　忘れ」を含む質問: 1 件"),
        "{found}"
    );
    assert!(found.contains("パスワードを忘れました") && !found.contains("アカウントがありません"));
    // A LIKE wildcard is a character like any other.
    let percent = text(&visitor, &app, "/help?q=%25");
    assert!(
        percent.contains("を含む質問: 1 件"),
        "only the answer holding 100%"
    );
    let none = text(&visitor, &app, "/help?q=%3Cb%3E");
    assert!(none.contains("見つかりませんでした") && none.contains("「&lt;b&gt;」"));
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/bureau/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn upload(
    app: &TestApp,
    c: &reqwest::blocking::Client,
    file_name: &str,
    bytes: Vec<u8>,
    title: &str,
) -> (u16, String) {
    let page = text(c, app, "/admin/documents");
    let form = Form::new()
        .text("csrf", csrf_of(&page))
        .text("title", title.to_string())
        .text("description", "")
        .part("file", Part::bytes(bytes).file_name(file_name.to_string()));
    let res = c
        .post(app.url("/admin/documents"))
        .multipart(form)
        .send()
        .unwrap();
    let status = res.status().as_u16();
    (status, res.text().unwrap())
}

#[test]
fn manuals_are_checked_stored_in_chunks_and_streamed_to_clinics() {
    let app = app();
    let admin = app.signed_in("demo-admin");
    // A PDF over three chunks (256 KiB each), under the 1 MB limit of this test.
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend((0..700_000u32).map(|i| (i % 251) as u8));
    let (status, _) = upload(
        &app,
        &admin,
        "操作の手引き.pdf",
        pdf.clone(),
        "操作の手引き",
    );
    assert_eq!(status, 303);
    let (status, _) = upload(
        &app,
        &admin,
        "様式.xlsx",
        fixture("kagoshima_ika_small.xlsx"),
        "",
    );
    assert_eq!(status, 303);
    let (status, _) = upload(
        &app,
        &admin,
        "旧様式.xls",
        fixture("kagoshima_ika_small.xls"),
        "",
    );
    assert_eq!(status, 303);

    // Refused, each with its message, the typed title kept, nothing stored.
    let refusals = [
        (
            "偽物.pdf",
            b"MZ\x90\x00 not a pdf".to_vec(),
            "中身が拡張子（PDF）と合いません",
        ),
        (
            "様式.docx",
            fixture("kagoshima_ika_small.xlsx"),
            "中身が拡張子（Word）と合いません",
        ),
        ("script.html", b"<script>".to_vec(), "PDF・Excel"),
        ("空.pdf", Vec::new(), "ファイルが空です"),
        ("大きい.pdf", vec![b'%'; 1024 * 1024 + 10], "上限 1 MB"),
    ];
    for (name, bytes, message) in refusals {
        let (status, page) = upload(&app, &admin, name, bytes, "<i>表題</i>");
        assert!(status == 422 || status == 413, "{name}: {status}");
        assert!(page.contains(message), "{name}: {message}");
        if status == 422 {
            assert!(
                page.contains("value=\"&lt;i&gt;表題&lt;&#x2F;i&gt;\""),
                "{name}"
            );
        }
    }
    let conn = &mut *app.db.conn();
    let stored: Vec<(i32, String, String, i64)> = documents::table
        .select((
            documents::id,
            documents::title,
            documents::content_type,
            documents::size,
        ))
        .order(documents::id)
        .load(conn)
        .unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].1, "操作の手引き");
    assert_eq!(stored[1].1, "様式", "the file name without its extension");
    assert_eq!(stored[2].2, "application/vnd.ms-excel");
    let chunks: i64 = document_chunks::table
        .filter(document_chunks::document_id.eq(stored[0].0))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(chunks, 3);

    // A clinic finds them under ヘルプ and downloads the same bytes.
    let clinic = app.signed_in("demo-clinic");
    let help = text(&clinic, &app, "/help");
    assert!(help.contains("操作の手引き") && help.contains("（操作の手引き.pdf、684 KB）"));
    let res = clinic
        .get(app.url(&format!("/help/documents/{}", stored[0].0)))
        .send()
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(
        res.headers()["content-length"],
        pdf.len().to_string().as_str()
    );
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    assert_eq!(res.bytes().unwrap().as_ref(), pdf.as_slice());
    let xls = clinic
        .get(app.url(&format!("/help/documents/{}", stored[2].0)))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(xls.as_ref(), fixture("kagoshima_ika_small.xls").as_slice());
    // Visitors sign in first; an unknown id is not found.
    let res = client()
        .get(app.url(&format!("/help/documents/{}", stored[0].0)))
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        clinic
            .get(app.url("/help/documents/99999"))
            .send()
            .unwrap()
            .status(),
        404
    );
    // Deleted with its bytes.
    let delete = format!("/admin/documents/{}/delete", stored[0].0);
    assert_eq!(post(&app, &admin, "/admin/documents", &delete, &[]).0, 303);
    let left: i64 = document_chunks::table
        .filter(document_chunks::document_id.eq(stored[0].0))
        .count()
        .get_result(conn)
        .unwrap();
    assert_eq!(left, 0);
    assert!(!text(&clinic, &app, "/help").contains("操作の手引き.pdf"));
}
