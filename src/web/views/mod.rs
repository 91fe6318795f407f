//! Templates (embedded in the binary, compiled once), the page helper, and the view
//! models several pages share (`report`).

pub mod report;
pub mod stats;

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use rand::Rng;
use tera::{Context, Tera};

use super::cache::Deployment;
use super::error::AppError;
use super::session::{CurrentUser, Viewer};
use crate::domain::auth::Role;
use crate::domain::wareki;

/// The templates ship inside the binary: one file to install, nothing to lose. Folders
/// mirror the web modules; a test holds this list and the files together.
macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates![
    "base.html",
    "pages/home.html",
    "pages/error.html",
    "auth/login.html",
    "auth/password.html",
    "pages/home_officer.html",
    "pages/home_institution.html",
    "admin/users.html",
    "admin/user_form.html",
    "admin/audit.html",
    "institutions/detail.html",
    "institutions/search.html",
    "imports/upload.html",
    "imports/preview.html",
    "partials/determination.html",
    "partials/answers.html",
    "partials/notices.html",
    "reports/filings.html",
    "reports/start.html",
    "reports/overview.html",
    "reports/section.html",
    "reports/conflict.html",
    "reports/confirm.html",
    "reports/print.html",
    "reports/poster.html",
    "ndb/upload.html",
    "ndb/preview.html",
    "admin/periods.html",
    "admin/catalogs.html",
    "review/search.html",
    "review/detail.html",
    "review/bulk.html",
    "review/stats.html",
    "review/news.html",
    "auth/sessions.html",
    "mail/campaigns.html",
    "mail/campaign.html",
    "mail/new.html",
    "mail/preview.html",
    "mail/templates.html",
    "mail/template.html",
    "mail/bounces.html",
    "exports/index.html",
    "exports/reports.html",
    "exports/prepared.html",
    "exports/addresses.html",
    "exports/labels.html",
    "exports/targets.html",
    "auth/forgot.html",
    "accounts/register.html",
    "accounts/applications.html",
    "accounts/application.html",
    "accounts/bulk_approval.html",
    "accounts/invitations.html",
    "admin/notices.html",
    "admin/faq.html",
    "admin/documents.html",
    "help/index.html",
    "paper/index.html",
    "paper/flags.html",
    "paper/forms.html",
    "paper/import_upload.html",
    "paper/import.html",
    "auth/link.html",
    "admin/publication.html",
    "admin/publication_preview.html",
    "public/base.html",
    "public/index.html",
    "public/search.html",
    "public/institution.html",
    "public/tables.html",
    "public/rules.html",
];

static TERA: LazyLock<Result<Tera, String>> = LazyLock::new(|| {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.add_raw_templates(TEMPLATES.iter().copied())
        .map_err(|e| format!("{e:?}"))?;
    tera.register_filter("fy", fy_filter);
    tera.register_filter("fy_full", fy_full_filter);
    tera.register_filter("num", num_filter);
    tera.register_filter("jst", jst_filter);
    tera.register_filter("kb", kb_filter);
    Ok(tera)
});

/// Compiles the templates now rather than on the first request; a broken template
/// stops start-up with its error.
pub fn init() -> Result<(), String> {
    TERA.as_ref().map(|_| ()).map_err(Clone::clone)
}

fn fy_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let fy = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg("fy: not a number"))?;
    Ok(tera::Value::String(wareki::fiscal_year_label(fy as i32)))
}

fn fy_full_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let fy = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg("fy_full: not a number"))?;
    Ok(tera::Value::String(wareki::fiscal_year_full(fy as i32)))
}

/// A stored UTC timestamp (as serialised, `2027-01-05T01:02:03`) in Japan time with
/// its 令和 date.
fn jst_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = value
        .as_str()
        .ok_or_else(|| tera::Error::msg("jst: not a timestamp"))?;
    let at = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|_| tera::Error::msg(format!("jst: not a timestamp: {text}")))?;
    Ok(tera::Value::String(crate::domain::wareki::datetime_jst(at)))
}

/// A size in bytes as whole kilobytes, rounded up and grouped: `1,234 KB`.
fn kb_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let bytes = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg("kb: not a number"))?;
    let kb = (bytes + 1023) / 1024;
    Ok(tera::Value::String(format!("{} KB", group_digits(kb))))
}

/// `12345` → `12,345`.
fn num_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let n = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg("num: not a number"))?;
    Ok(tera::Value::String(group_digits(n)))
}

/// `12345` → `12,345`.
pub fn group_digits(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// What every page's layout needs.
#[derive(Debug, Clone, serde::Serialize, Default)]
pub struct Layout {
    pub prefecture: Option<String>,
    pub demo: bool,
    pub today: String,
    pub version: &'static str,
    pub user: Option<CurrentUser>,
    pub csrf: String,
    pub nav: Vec<NavItem>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
}

impl Layout {
    pub fn new(prefecture: Option<String>, demo: bool) -> Layout {
        Layout {
            prefecture,
            demo,
            today: wareki::date_wareki(wareki::today_jst(chrono::Utc::now())),
            version: env!("CARGO_PKG_VERSION"),
            ..Layout::default()
        }
    }

    pub fn for_viewer(viewer: &Viewer, deployment: &Deployment) -> Layout {
        let mut layout = Layout::new(deployment.single_prefecture(), deployment.demo);
        layout.csrf = viewer.csrf.clone();
        layout.user = viewer.user.clone();
        layout.nav = nav_for(viewer.user.as_ref().map(|u| u.role));
        layout
    }
}

/// The menu: only what the role may open.
fn nav_for(role: Option<Role>) -> Vec<NavItem> {
    let mut nav = vec![NavItem {
        href: "/",
        label: "ホーム",
    }];
    if role.is_some_and(Role::is_officer) {
        nav.push(NavItem {
            href: "/review",
            label: "報告状況",
        });
        nav.push(NavItem {
            href: "/review/unreported",
            label: "未報告",
        });
        nav.push(NavItem {
            href: "/review/stats",
            label: "件数集計",
        });
        nav.push(NavItem {
            href: "/review/news",
            label: "新着",
        });
        nav.push(NavItem {
            href: "/institutions",
            label: "医療機関",
        });
        nav.push(NavItem {
            href: "/mail",
            label: "メール",
        });
        nav.push(NavItem {
            href: "/exports",
            label: "データ出力",
        });
        nav.push(NavItem {
            href: "/accounts/applications",
            label: "利用申請",
        });
        nav.push(NavItem {
            href: "/paper",
            label: "紙報告",
        });
    }
    if role.is_some_and(|r| super::gate::MASTER.contains(&r)) {
        nav.push(NavItem {
            href: "/institutions/import",
            label: "マスタ取込",
        });
        nav.push(NavItem {
            href: "/ndb/import",
            label: "NDB取込",
        });
    }
    if role.is_some_and(Role::is_admin) {
        nav.push(NavItem {
            href: "/admin/users",
            label: "ユーザ管理",
        });
        nav.push(NavItem {
            href: "/admin/periods",
            label: "報告期間",
        });
        nav.push(NavItem {
            href: "/admin/catalogs",
            label: "報告項目",
        });
        nav.push(NavItem {
            href: "/admin/publication",
            label: "公表",
        });
        nav.push(NavItem {
            href: "/admin/notices",
            label: "お知らせ・FAQ",
        });
        nav.push(NavItem {
            href: "/admin/audit",
            label: "操作履歴",
        });
    }
    nav.push(NavItem {
        href: "/help",
        label: "ヘルプ",
    });
    nav
}

/// A page being put together: the layout (header, menu) filled in for the viewer, then
/// the page's own values, then one template rendered into the response.
pub struct Page {
    ctx: Context,
}

impl Page {
    pub async fn of(state: &super::AppState, viewer: &Viewer) -> Result<Page, AppError> {
        Ok(Page::new(viewer, &state.deployment().await?))
    }

    pub fn new(viewer: &Viewer, deployment: &Deployment) -> Page {
        Page {
            ctx: page(viewer, deployment),
        }
    }

    pub fn insert<T: serde::Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        self.ctx.insert(key, value);
    }

    /// 200 with the rendered template.
    pub fn html(self, template: &str) -> Result<HttpResponse, AppError> {
        self.html_status(StatusCode::OK, template)
    }

    pub fn html_status(self, status: StatusCode, template: &str) -> Result<HttpResponse, AppError> {
        Ok(html_status(status, render(template, &self.ctx)?))
    }
}

/// A page context with the layout filled in.
fn page(viewer: &Viewer, deployment: &Deployment) -> Context {
    let mut ctx = Context::new();
    ctx.insert("layout", &Layout::for_viewer(viewer, deployment));
    ctx
}

fn render(name: &str, ctx: &Context) -> Result<String, tera::Error> {
    match TERA.as_ref() {
        Ok(tera) => tera.render(name, ctx),
        Err(e) => Err(tera::Error::msg(e.clone())),
    }
}

/// A page with another status: 422 for a form sent back with messages, 201 on creation.
fn html_status(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .body(body)
}

/// A short number a user can read out on the phone; it is also in the log line.
pub fn reference_number() -> String {
    let n: u32 = rand::rng().random_range(0..100_000_000);
    format!("{:04}-{:04}", n / 10_000, n % 10_000)
}

fn error_texts(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => (
            "入力内容を処理できませんでした",
            "入力内容を確認して、もう一度お試しください。",
        ),
        403 => (
            "この操作は許可されていません",
            "この画面を開く権限がありません。必要な場合は管理者にお問い合わせください。",
        ),
        404 => (
            "ページが見つかりません",
            "お探しのページは存在しないか、移動または削除された可能性があります。",
        ),
        405 => (
            "この方法では操作できません",
            "画面のボタンやリンクから操作してください。",
        ),
        409 => (
            "他の操作と重なりました",
            "画面を開き直して最新の内容を確認してください。",
        ),
        413 => (
            "ファイルが大きすぎます",
            "ファイルの大きさの上限を超えています。",
        ),
        _ if status.is_server_error() => (
            "システムエラーが発生しました",
            "しばらく時間をおいてから、もう一度お試しください。続く場合は問い合わせ番号を添えて管理者にご連絡ください。",
        ),
        _ => ("処理できませんでした", "もう一度お試しください。"),
    }
}

/// The Japanese error page. Falls back to plain text if even the template fails, so an
/// error page can never itself fail.
pub fn error_page(
    status: StatusCode,
    detail: Option<&str>,
    reference: Option<&str>,
) -> HttpResponse {
    let (title, message) = error_texts(status);
    let mut ctx = Context::new();
    ctx.insert("layout", &Layout::new(None, false));
    ctx.insert("status", &status.as_u16());
    ctx.insert("title", title);
    ctx.insert("message", message);
    ctx.insert("detail", &detail);
    ctx.insert("reference", &reference);
    let body =
        render("pages/error.html", &ctx).unwrap_or_else(|_| format!("{} {title}", status.as_u16()));
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::TEMPLATES;

    fn files_under(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files_under(&path, base, out);
            } else if path.extension().is_some_and(|e| e == "html") {
                let name = path.strip_prefix(base).unwrap().to_string_lossy();
                out.push(name.replace('\\', "/"));
            }
        }
    }

    /// Every template file is registered and every registered name is a file, so none
    /// is left behind when pages move.
    #[test]
    fn template_registry_matches_the_files() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut files = Vec::new();
        files_under(&base, &base, &mut files);
        files.sort();
        let mut registered: Vec<String> = TEMPLATES.iter().map(|(n, _)| n.to_string()).collect();
        registered.sort();
        assert_eq!(files, registered);
    }

    #[test]
    fn every_template_compiles() {
        super::init().unwrap();
    }
}
