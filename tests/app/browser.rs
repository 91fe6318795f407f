//! Browser tests: headless Chromium driven over the W3C WebDriver protocol by Debian's
//! chromedriver. They need `chromium` and `chromium-driver`, so they are `#[ignore]`d in
//! the plain `cargo test` and run by `scripts/test-browser` (and CI), which installs them.
//! Screenshots go to `target/screenshots/`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::support::TestApp;

/// A chromedriver process and one browser session; both end on drop.
pub struct Browser {
    driver: Child,
    endpoint: String,
    http: reqwest::blocking::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_bin}: {e} (install chromium-driver)"));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                    "--lang=ja-JP",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_string();
        Browser {
            driver,
            endpoint: format!("{base}/session/{session}"),
            http,
            _profile: profile,
        }
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.endpoint));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res: Value = req.send().unwrap().json().unwrap();
        if let Some(err) = res["value"]["error"].as_str() {
            panic!("webdriver {path}: {err}: {}", res["value"]["message"]);
        }
        res["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})));
    }

    pub fn title(&self) -> String {
        self.call(reqwest::Method::GET, "/title", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Finds an element, waiting up to 10 s for it (pages load after clicks).
    pub fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let res: Value = self
                .http
                .post(format!("{}/element", self.endpoint))
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .unwrap()
                .json()
                .unwrap();
            if let Some(id) = res["value"]
                .as_object()
                .filter(|o| !o.contains_key("error"))
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
            {
                return id.to_string();
            }
            if Instant::now() > deadline {
                self.screenshot("failure");
                panic!("element {css} not found: {}", res["value"]["message"]);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The element's text; found again if the page changed under it.
    pub fn text(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let id = self.find(css);
            let res = self.raw(reqwest::Method::GET, &format!("/element/{id}/text"));
            if let Some(text) = res["value"].as_str() {
                return text.to_string();
            }
            assert!(Instant::now() < deadline, "text of {css}: {}", res["value"]);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the element's text contains `needle` (pages load after clicks), and
    /// fails with what the page shows instead.
    pub fn wait_for(&self, css: &str, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.text(css);
            if text.contains(needle) {
                return;
            }
            if Instant::now() > deadline {
                let url = self.raw(reqwest::Method::GET, "/url");
                self.screenshot("failure");
                panic!(
                    "{css} at {url} should contain {needle}, shows: {}",
                    text.replace('\n', " | ")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn raw(&self, method: reqwest::Method, path: &str) -> Value {
        self.http
            .request(method, format!("{}{path}", self.endpoint))
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        );
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        );
    }

    /// Chooses a file in an `<input type=file>` (WebDriver takes the path as keys).
    pub fn type_into_file(&self, css: &str, path: &str) {
        let id = self.find(css);
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": path})),
        );
    }

    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        );
    }

    /// Sets the window's size in CSS pixels (a phone: 390 × 844).
    pub fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    /// Runs a script in the page and returns what it returns.
    pub fn script(&self, js: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
    }

    /// Shows pages as they print (`print`: CSS `@media print`) or back on screen (`""`),
    /// through chromedriver's DevTools passthrough; it lasts across pages until reset.
    pub fn emulate_media(&self, media: &str) {
        self.call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setEmulatedMedia", "params": {"media": media}})),
        );
    }

    /// The page printed to PDF on A4, as the browser's print dialog would.
    pub fn print_a4(&self) -> Vec<u8> {
        let data = self.call(
            reqwest::Method::POST,
            "/print",
            Some(json!({"page": {"width": 21.0, "height": 29.7}, "background": true})),
        );
        let pdf = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .unwrap();
        assert!(pdf.starts_with(b"%PDF"), "not a PDF");
        pdf
    }

    /// Saves a PNG under target/screenshots/ and returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let data = self.call(reqwest::Method::GET, "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.endpoint).send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
#[ignore = "needs chromium and chromium-driver: run scripts/test-browser"]
fn browser_home_page() {
    let app = TestApp::spawn_with(|conn| {
        kakari::demo::load(conn, 300, 1, false, crate::support::DEMO_PASSWORD).unwrap();
    });
    let browser = Browser::start();
    browser.goto(&app.url("/"));
    assert_eq!(
        browser.title(),
        "ホーム | かかりつけ医機能報告 管理システム"
    );
    browser.wait_for("h1", "かかりつけ医機能報告");
    browser.wait_for(".demo-banner", "デモ環境");
    let shot = browser.screenshot("home");
    assert!(std::fs::metadata(shot).unwrap().len() > 10_000);

    browser.goto(&app.url("/missing"));
    browser.wait_for("h1", "ページが見つかりません");
    browser.screenshot("not-found");
}

#[test]
#[ignore = "needs chromium and chromium-driver: run scripts/test-browser"]
fn browser_sign_in_sign_out_and_lockout() {
    let app = TestApp::with_demo();
    let browser = Browser::start();
    let sign_in = |login: &str, password: &str| {
        browser.goto(&app.url("/login"));
        browser.type_into("#login_id", login);
        browser.type_into("#password", password);
        browser.click("#login-submit");
    };

    sign_in("demo-admin", crate::support::DEMO_PASSWORD);
    browser.wait_for("main", "担当範囲");
    browser.wait_for(".who", "都道府県管理者");
    browser.screenshot("officer-home");
    browser.goto(&app.url("/admin/users"));
    browser.wait_for("table", "demo-clinic");
    browser.screenshot("admin-users");
    // The signed-in browsers of this account, this one marked.
    browser.goto(&app.url("/account/sessions"));
    browser.wait_for("#sessions", "この端末");
    browser.screenshot("account-sessions");
    browser.click("#logout");
    browser.wait_for("main", "ログアウトしました");

    for _ in 0..5 {
        sign_in("demo-officer", "not the password");
        browser.wait_for("#login-error", "正しくありません");
    }
    sign_in("demo-officer", crate::support::DEMO_PASSWORD);
    browser.wait_for("#login-error", "正しくありません");
    browser.screenshot("lockout");

    sign_in("demo-clinic", crate::support::DEMO_PASSWORD);
    browser.wait_for("main", "医療機関コード");
    browser.screenshot("clinic-home");
}

#[test]
#[ignore = "needs chromium and chromium-driver: run scripts/test-browser"]
fn browser_officer_imports_the_bureau_file_and_searches() {
    let app = TestApp::with_demo();
    let browser = Browser::start();
    browser.goto(&app.url("/login"));
    browser.type_into("#login_id", "demo-officer");
    browser.type_into("#password", crate::support::DEMO_PASSWORD);
    browser.click("#login-submit");
    browser.wait_for("main", "担当範囲");

    browser.goto(&app.url("/institutions/import"));
    let file = format!(
        "{}/tests/fixtures/bureau/kagoshima_ika_small_lo.xlsx",
        env!("CARGO_MANIFEST_DIR")
    );
    browser.type_into_file("#file", &file);
    browser.click("#upload-submit");
    browser.wait_for("#count-added", "45");
    browser.wait_for("#unmatched", "熊本市");
    browser.wait_for("#rows-csv", "全件の一覧");
    browser.screenshot("import-preview");
    browser.click("#apply-import");
    browser.wait_for("#import-status", "反映済み");
    browser.screenshot("import-result");

    browser.goto(&app.url("/institutions"));
    browser.type_into("input[name=q]", "ｱﾘﾑﾗ");
    browser.type_into("input[name=q]", "有村ｸﾘﾆｯｸ");
    browser.click("#search-submit");
    browser.wait_for("#results", "有村クリニック");
    browser.screenshot("institution-search");
    browser.click("#results tbody a");
    browser.wait_for("h1", "有村クリニック");
    browser.type_into("#email", "arimura@example.jp");
    browser.click("#institution-save");
    browser.wait_for("#notice", "保存しました");
    browser.screenshot("institution-detail");
}

/// Fills every section of the open report through the screens, as a person would:
/// clicks for choices, typing for numbers and names, then 入力完了 on each.
fn fill_report_in_browser(browser: &Browser, app: &TestApp, report_path: &str) {
    use kakari::domain::catalog::Kind;
    let catalog = crate::reports::catalog();
    for section in &catalog.sections {
        browser.goto(&app.url(&format!("{report_path}/sections/{}", section.id)));
        browser.wait_for("h1", &section.title);
        for (code, value) in crate::reports::full_answers(&catalog, &section.id) {
            let Some(item) = catalog.item(&code) else {
                continue;
            };
            match item.kind {
                Kind::Choice | Kind::Multi => {
                    browser.click(&format!("input[name=\"{code}\"][value=\"{value}\"]"))
                }
                _ => browser.type_into(&format!("[name=\"{code}\"]"), &value),
            }
        }
        browser.click("#complete");
        browser.wait_for("#notice", "入力完了にしました");
    }
}

#[test]
#[ignore = "needs chromium and chromium-driver: run scripts/test-browser"]
fn browser_clinic_files_a_whole_report_and_prints_it() {
    let app = TestApp::with_demo();
    let browser = Browser::start();
    browser.goto(&app.url("/login"));
    browser.type_into("#login_id", "demo-clinic");
    browser.type_into("#password", crate::support::DEMO_PASSWORD);
    browser.click("#login-submit");
    browser.click("#open-reports");
    let fy = crate::reports::fiscal_year();
    browser.click(&format!("#start-{fy}"));
    browser.wait_for("h1", "定期報告");
    browser.screenshot("report-start");
    browser.click("#skip-code");
    browser.wait_for("#section-1", "未入力");
    let url = browser.raw(reqwest::Method::GET, "/url");
    let report_path = url["value"]
        .as_str()
        .and_then(|u| u.split_once("/reports/"))
        .map(|(_, rest)| format!("/reports/{}", rest.split(['?', '/']).next().unwrap_or("")))
        .unwrap();

    fill_report_in_browser(&browser, &app, &report_path);
    browser.goto(&app.url(&report_path));
    browser.wait_for("#function1", "有り");
    browser.screenshot("report-overview");
    browser.click("#to-confirm");
    browser.wait_for("h1", "報告内容の確認");
    browser.screenshot("report-confirmation");
    browser.click("#submit-report");
    browser.wait_for("#notice", "報告しました");
    browser.wait_for("#status", "報告済");
    browser.screenshot("report-submitted");
    browser.click("#print-1");
    browser.wait_for("h1", "報告内容帳票");
    browser.screenshot("report-printout");
    browser.goto(&app.url(&format!("{report_path}/poster")));
    browser.wait_for("h1", "かかりつけ医機能");
    browser.screenshot("report-poster");
}

#[test]
#[ignore = "needs chromium and chromium-driver: run scripts/test-browser"]
fn browser_officer_files_a_report_by_proxy() {
    let app = TestApp::with_demo();
    let browser = Browser::start();
    browser.goto(&app.url("/login"));
    browser.type_into("#login_id", "demo-officer");
    browser.type_into("#password", crate::support::DEMO_PASSWORD);
    browser.click("#login-submit");
    browser.wait_for("main", "担当範囲");
    let institution: i32 = {
        use diesel::prelude::*;
        kakari::db::schema::institutions::table
            .filter(kakari::db::schema::institutions::is_target.eq(true))
            .select(kakari::db::schema::institutions::id)
            .first(&mut *app.db.conn())
            .unwrap()
    };
    browser.goto(&app.url(&format!("/institutions/{institution}")));
    browser.click("#proxy-entry");
    browser.wait_for("main", "代理入力");
    let fy = crate::reports::fiscal_year();
    browser.click(&format!("#start-{fy}"));
    browser.click("#skip-code");
    browser.wait_for("#section-1", "未入力");
    let url = browser.raw(reqwest::Method::GET, "/url");
    let report_path = url["value"]
        .as_str()
        .and_then(|u| u.split_once("/reports/"))
        .map(|(_, rest)| format!("/reports/{}", rest.split(['?', '/']).next().unwrap_or("")))
        .unwrap();
    fill_report_in_browser(&browser, &app, &report_path);
    browser.goto(&app.url(&format!("{report_path}/submit")));
    browser.click("#submit-report");
    browser.wait_for("#notice", "報告しました");
    browser.click("#print-1");
    browser.wait_for("main", "代理入力");
    browser.screenshot("report-proxy-printout");
}

fn sign_in(browser: &Browser, app: &TestApp, login: &str) {
    browser.goto(&app.url("/login"));
    browser.type_into("#login_id", login);
    browser.type_into("#password", crate::support::DEMO_PASSWORD);
    browser.click("#login-submit");
    // Signed in: the header has the sign-out button (the sign-in page has not).
    browser.find("#logout");
}

#[test]
#[ignore = "needs chromium and chromium-driver: run scripts/test-browser"]
fn browser_review_cycle_send_back_resubmit_bulk_confirm() {
    use kakari::domain::catalog::Kind;
    let app = TestApp::with_demo();
    let clinic_http = app.signed_in("demo-clinic");
    let institution = crate::reports::clinic_institution(&app);
    let report = crate::review::submitted(&app, &clinic_http, institution);
    let fy = crate::reports::fiscal_year();
    let browser = Browser::start();

    // The officer finds the report, looks at the differences and sends it back.
    sign_in(&browser, &app, "demo-officer");
    browser.goto(&app.url(&format!("/review?fy={fy}&status=submitted")));
    browser.wait_for("#status-counts", "報告済");
    browser.screenshot("review-search");
    browser.click("#results tbody a");
    browser.wait_for("#diff", "差異表示");
    browser.click("#against-last-year");
    browser.wait_for("#diff", "比べる報告がありません");
    browser.type_into("#reason", "2号イの算定回数をご確認ください");
    browser.click("#send-back");
    browser.wait_for("#notice", "差し戻しました");
    browser.screenshot("review-sent-back");
    browser.click("#logout");

    // The clinic reads the reason, fixes a count and submits again.
    sign_in(&browser, &app, "demo-clinic");
    browser.wait_for("#home-return-reason", "算定回数をご確認ください");
    browser.screenshot("clinic-home-returned");
    let catalog = crate::reports::catalog();
    let count = catalog
        .items
        .iter()
        .find(|i| i.kind == Kind::Count)
        .unwrap();
    browser.goto(&app.url(&format!("{report}/sections/{}", count.section)));
    browser.type_into(&format!("[name=\"{}\"]", count.code), "99");
    browser.click("#complete");
    browser.wait_for("#notice", "入力完了にしました");
    browser.click("#to-confirm");
    browser.click("#submit-report");
    browser.wait_for("#status", "再報告済");
    browser.click("#logout");

    // The 保健所 officer of the clinic's area sees the change against the previous
    // version and bulk-confirms what awaits review in the area.
    sign_in(&browser, &app, "demo-area");
    let id = crate::reports::report_id(&report);
    browser.goto(&app.url(&format!("/review/reports/{id}?against=previous")));
    browser.wait_for("#diff-table", &count.code);
    browser.screenshot("review-diff");
    browser.goto(&app.url(&format!("/review?fy={fy}&status=awaiting")));
    browser.wait_for("#result-count", "1");
    browser.screenshot("review-area-search");
    browser.click("#bulk-all");
    browser.wait_for("#bulk-count", "1 件");
    browser.screenshot("review-bulk-preview");
    browser.click("#bulk-commit");
    browser.wait_for("#bulk-result", "1 件を確認済にしました");
    browser.screenshot("review-bulk-result");
    browser.goto(&app.url("/review/stats"));
    browser.wait_for("#stat-confirmed", "1");
    browser.screenshot("review-stats");
    browser.click("#logout");

    // The prefecture officer sees it confirmed too.
    sign_in(&browser, &app, "demo-officer");
    browser.goto(&app.url(&format!("/review?fy={fy}&status=confirmed")));
    browser.wait_for("#result-count", "1");
    let code: String = {
        use diesel::prelude::*;
        use kakari::db::schema::institutions;
        institutions::table
            .find(institution)
            .select(institutions::code)
            .first(&mut *app.db.conn())
            .unwrap()
    };
    browser.wait_for("#results", &code);
}

#[test]
#[ignore = "needs chromium and chromium-driver: run scripts/test-browser"]
fn browser_admin_edits_a_template_broadcasts_to_the_unreported_and_watches_the_progress() {
    let app = TestApp::spawn_configured(
        |conn| {
            kakari::demo::load(conn, 400, 1, false, crate::support::DEMO_PASSWORD).unwrap();
            kakari::demo::season(conn, crate::reports::fiscal_year(), 1).unwrap();
        },
        |settings| {
            // The worker runs in the server, writing files, slowly enough to watch.
            settings.mail.worker_in_serve = true;
            settings.mail.rate = 20;
        },
    );
    let browser = Browser::start();
    sign_in(&browser, &app, "demo-admin");

    // The administrator edits the reminder and previews it for an institution.
    browser.goto(&app.url("/mail/templates/reminder"));
    browser.wait_for("#variables", "institution_name");
    browser.type_into("#subject", "【督促】{{ institution_name }} 様（至急）");
    browser.click("#preview-template");
    browser.wait_for("#preview-subject", "様（至急）");
    browser.screenshot("mail-template-preview");
    browser.click("#save-template");
    browser.wait_for("#saved", "保存しました");

    // From the 未報告 list to the preview, which shows the edited subject.
    browser.goto(&app.url("/review/unreported"));
    browser.click("#mail-link");
    browser.click("#to-preview");
    browser.wait_for("#first-subject", "様（至急）");
    let count = browser.text("#recipient-count");
    browser.screenshot("mail-broadcast-preview");
    browser.click("#confirm-broadcast");
    browser.wait_for("#created", "配信を登録しました");
    browser.screenshot("mail-campaign-started");

    // The page follows the worker until every message is out.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !browser.text("#campaign-state").contains("完了") {
        assert!(Instant::now() < deadline, "the campaign did not finish");
        std::thread::sleep(Duration::from_millis(500));
    }
    let sent = browser.text("#n-sent");
    assert_eq!(
        format!("{sent} 件"),
        count,
        "every recipient was sent one message"
    );
    assert!(browser.text("#progress-percent").contains("100"));
    browser.screenshot("mail-campaign-finished");
}

#[test]
#[ignore = "needs chromium and chromium-driver: run scripts/test-browser"]
fn browser_officer_counts_prepares_and_downloads_the_full_export_and_prints_labels() {
    let app = crate::season::with_season();
    let browser = Browser::start();
    sign_in(&browser, &app, "demo-officer");

    // データ出力 → 全項目CSV: every filed report, counted first, then an Excel file.
    browser.goto(&app.url("/exports"));
    browser.click("#export-reports a");
    browser.wait_for("#not-for-publication", "公表には使わないでください");
    browser.click("select[name=status] option[value=all]");
    browser.click("#export-count");
    browser.wait_for("#export-rows", "行");
    let counted = browser.text("#export-rows");
    browser.click("input[name=format][value=xlsx]");
    browser.screenshot("export-form");
    browser.click("#export-start");
    browser.wait_for("#export-done", "作成しました");
    let rows = browser.text("#export-rows");
    assert!(
        counted.contains(&rows),
        "the file holds the rows counted: {counted} / {rows}"
    );
    assert!(browser.text("#export-download").contains(".xlsx"));
    browser.screenshot("export-ready");

    // 宛先情報 → labels for the paper reporters, laid out on A4 sheets.
    browser.goto(&app.url("/exports/addresses?who=paper"));
    browser.wait_for("#addresses-count", "機関");
    browser.click("#labels-preview");
    browser.wait_for("#labels-count", "枚");
    browser.find(".label-sheet .label.c0.r0");
    browser.screenshot("export-labels");
}

#[test]
#[ignore = "needs chromium and chromium-driver: run scripts/test-browser"]
fn browser_resident_searches_the_public_page_on_a_phone() {
    let app = crate::season::with_season();
    let browser = Browser::start();
    browser.resize(390, 844);
    let fits = |browser: &Browser| {
        browser.script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
    };
    // No sign-in: /public opens last year's search, the page as wide as the phone.
    browser.goto(&app.url("/public"));
    browser.wait_for("h1", "医療機関をさがす");
    assert_eq!(fits(&browser), json!(true), "no sideways scrolling");
    let width = browser.script("return window.innerWidth;");
    assert!(
        width.as_i64().unwrap() < 500,
        "a phone-sized window: {width}"
    );
    // 鹿児島市, with 1号機能 and an 一次診療 area, then the first clinic found.
    browser.click("#m option:nth-child(2)");
    browser.click("input[name=f1]");
    browser.click("#area option:nth-child(2)");
    browser.screenshot("public-phone-form");
    browser.click("#public-search");
    browser.wait_for("#results", "件");
    let results = browser.text("#results");
    assert!(!results.starts_with("0 件"), "{results}");
    let first = browser.text(".public-results li h3");
    assert!(browser.text(".public-results li").contains("鹿児島市"));
    assert!(
        browser
            .text(".public-results li .badges")
            .contains("1号機能")
    );
    assert_eq!(fits(&browser), json!(true));
    browser.screenshot("public-phone-results");
    // After a search the results come first; the conditions fold away.
    let top =
        browser.script("return document.querySelector('#results').getBoundingClientRect().top;");
    assert!(
        top.as_f64().unwrap() < 844.0,
        "results visible without scrolling: {top}"
    );
    browser.click(".public-results li h3 a");
    browser.wait_for("h1", &first);
    assert!(browser.text("main").contains("1号機能"));
    assert_eq!(fits(&browser), json!(true));
    browser.screenshot("public-phone-detail");
    // The tables scroll inside their own box; the page itself does not.
    browser.click(".public-nav li:nth-child(2) a");
    browser.wait_for("h1", "集計表");
    assert_eq!(fits(&browser), json!(true));
    assert!(browser.text(".notes").contains("0 はそのまま表示"));
    browser.screenshot("public-phone-tables");
}

#[test]
#[ignore = "needs chromium and chromium-driver: run scripts/test-browser"]
fn browser_a_clinic_applies_is_approved_sets_its_password_and_reaches_its_first_report() {
    use diesel::prelude::*;
    use kakari::db::schema::{institutions, users};
    let sink = crate::mail::Sink::start(&[]);
    let app = crate::links::app_with_sink(&sink);
    let (code, name): (String, String) = {
        let conn = &mut *app.db.conn();
        let with_account: Vec<i32> = users::table
            .filter(users::institution_id.is_not_null())
            .select(users::institution_id.assume_not_null())
            .load(conn)
            .unwrap();
        institutions::table
            .filter(institutions::is_target.eq(true))
            .filter(institutions::id.ne_all(&with_account))
            .select((institutions::code, institutions::name))
            .order(institutions::code)
            .first(conn)
            .unwrap()
    };
    let browser = Browser::start();
    // The clinic applies from the sign-in page, the code typed in full-width digits.
    browser.goto(&app.url("/login"));
    browser.click("#register-link");
    let wide: String = code
        .chars()
        .map(|c| char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap())
        .collect();
    browser.type_into("#code", &wide);
    browser.type_into("#name", &name);
    browser.type_into("#person", "鹿児島 花子");
    browser.type_into("#email", "hanako@clinic.example.jp");
    browser.type_into("#email_again", "hanako@clinic.example.jp");
    browser.type_into("#phone", "099-123-4567");
    browser.screenshot("account-apply");
    browser.click("#register-submit");
    browser.wait_for("#register-done", "受け付けました");
    // The prefecture's officer approves it beside the master record.
    sign_in(&browser, &app, "demo-officer");
    browser.goto(&app.url("/accounts/applications"));
    browser.wait_for("#applications", &code);
    browser.script(
        "document.querySelector('#applications a[href^=\"/accounts/applications/\"]').click()",
    );
    browser.wait_for("#side-by-side", &name);
    browser.screenshot("account-application");
    browser.click("#approve");
    browser.wait_for("#notice", &format!("{code}-01"));
    browser.click("#logout");
    // The mail arrives; its link sets the password and signs the clinic in.
    let start = Instant::now();
    let body = loop {
        let found = sink.received().into_iter().find(|m| {
            m["rcpt_tos"][0] == "hanako@clinic.example.jp"
                && m["body"].as_str().unwrap_or("").contains("/account/link/")
        });
        if let Some(m) = found {
            break m["body"].as_str().unwrap().to_string();
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no setup mail");
        std::thread::sleep(Duration::from_millis(200));
    };
    let at = body.find("/account/link/").unwrap();
    let token: String = body[at + 14..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    browser.goto(&app.url(&format!("/account/link/{token}")));
    browser.wait_for("#link-login", &format!("{code}-01"));
    browser.type_into("#password", crate::links::NEW_PASSWORD);
    browser.type_into("#confirm", crate::links::NEW_PASSWORD);
    browser.click("#link-submit");
    browser.find("#logout");
    browser.wait_for("h1", &name);
    browser.screenshot("account-first-home");
    browser.click("#open-reports");
    let fy = crate::reports::fiscal_year();
    browser.click(&format!("#start-{fy}"));
    browser.wait_for("h1", "定期報告");
    browser.screenshot("account-first-report");
}

/// Pages of a PDF (its `/Type /Page` objects).
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.matches("/Type /Page").count() - text.matches("/Type /Pages").count()
}

#[test]
#[ignore = "needs chromium and chromium-driver: run scripts/test-browser"]
fn browser_officer_flags_prints_and_imports_a_paper_form() {
    let app = crate::season::with_season();
    let fy = crate::reports::fiscal_year();
    let (id, code) = {
        let conn = &mut *app.db.conn();
        let area = crate::paper::demo_area(conn);
        let (id, code, _) = crate::paper::form_subjects(conn, area, fy);
        (id, code)
    };
    let browser = Browser::start();
    sign_in(&browser, &app, "demo-area");

    // The institution search: tick it, 紙報告にする, see the preview, change.
    browser.goto(&app.url(&format!("/institutions?code={code}")));
    browser.wait_for("#results", &code);
    browser.click(&format!("#results input[name=institution][value=\"{id}\"]"));
    browser.click("#paper-set");
    browser.wait_for("#flag-count", "1 件");
    browser.screenshot("paper-flag-preview");
    browser.click("#flag-apply");
    browser.wait_for("#flag-result", "紙報告にしました");

    // 調査票 of that institution: what prints is the form alone, on A4 pages.
    browser.goto(&app.url(&format!("/paper/forms/{id}")));
    browser.wait_for(&format!("#form-{code}"), "調査票");
    browser.wait_for(&format!("#form-{code}"), "NDB");
    browser.emulate_media("print");
    let hidden = browser.script(
        "return [...document.querySelectorAll('.site-header, .no-print')]\
           .every(e => getComputedStyle(e).display === 'none');",
    );
    assert_eq!(
        hidden,
        json!(true),
        "the menus and the user's name do not print"
    );
    browser.screenshot("paper-form-print-preview");
    let pdf = browser.print_a4();
    let pages = pdf_pages(&pdf);
    assert!(
        (2..=12).contains(&pages),
        "one form on a few A4 pages: {pages}"
    );
    browser.emulate_media("");

    // The clinic's Excel form comes back filled; the officer uploads it and applies.
    let officer = app.signed_in("demo-area");
    let form = officer
        .get(app.url(&format!("/paper/forms/{id}/xlsx")))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blank = dir.path().join("blank.xlsx");
    std::fs::write(&blank, &form).unwrap();
    let filled = dir.path().join("返送分.xlsx");
    let spec = dir.path().join("edits.json");
    std::fs::write(
        &spec,
        json!([{"op": "set", "item": "2イ-5", "role": "value", "value": "４３２"}]).to_string(),
    )
    .unwrap();
    let run = Command::new("python3")
        .arg(format!(
            "{}/tests/fixtures/fill_form.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args([&blank, &filled, &spec])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    browser.goto(&app.url("/paper/imports"));
    browser.type_into_file("#file", filled.to_str().unwrap());
    browser.click("#forms-check");
    browser.wait_for("#import-accepted", "1");
    browser.wait_for("#import-lines", "新しい下書き");
    browser.screenshot("paper-import-preview");
    browser.click("#import-apply");
    browser.wait_for("#import-lines", "下書きにしました");
    browser.screenshot("paper-import-result");

    // The result leads to the draft, which holds what the form said.
    browser.click("#import-lines a.report-link");
    browser.wait_for("main", "代理入力");
    let section = crate::reports::catalog()
        .item("2イ-5")
        .unwrap()
        .section
        .clone();
    let url = browser.raw(reqwest::Method::GET, "/url");
    let report = url["value"].as_str().unwrap().to_string();
    browser.goto(&format!(
        "{}/sections/{section}",
        report.trim_end_matches('/')
    ));
    let value = browser.script("return document.querySelector('[name=\"2イ-5\"]').value;");
    assert_eq!(value, json!("432"));
    browser.screenshot("paper-import-draft");
}
