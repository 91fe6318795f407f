//! 操作履歴: the audit log, filtered, a page at a time; a prefecture's administrator
//! sees its prefecture's entries.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::db::audit::{self, Action};
use crate::db::{DbConnection, DbError, users};
use crate::domain::auth::Scope;
use crate::domain::wareki;
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

#[derive(Deserialize, Serialize, Default, Clone)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    page: Option<i64>,
}

impl AuditQuery {
    fn filter(&self) -> audit::Filter {
        audit::Filter {
            action: Action::from_code(&self.action).map(|a| a.code().to_string()),
            actor_login: Some(self.login.trim().to_string()).filter(|s| !s.is_empty()),
            from: jst_day_start(&self.from),
            until: jst_day_start(&self.to).map(|d| d + chrono::Duration::days(1)),
            ..audit::Filter::default()
        }
    }

    /// The filter again for the page links (the template has no URL encoder).
    fn filter_query(&self) -> String {
        serde_urlencoded::to_string([
            ("action", self.action.as_str()),
            ("login", self.login.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
        ])
        .unwrap_or_default()
    }
}

#[derive(Serialize)]
struct AuditRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
    ip: String,
}

impl AuditRow {
    fn of(r: audit::LogRow) -> AuditRow {
        AuditRow {
            at: wareki::datetime_jst(r.at),
            actor: r.actor_login.unwrap_or_default(),
            action: Action::from_code(&r.action)
                .map(|a| a.label().to_string())
                .unwrap_or(r.action),
            target: match (r.target_type, r.target_id) {
                (Some(t), Some(id)) => format!("{t} #{id}"),
                _ => String::new(),
            },
            detail: r.detail.unwrap_or_default(),
            ip: r.ip.unwrap_or_default(),
        }
    }
}

/// A JST calendar day typed as 2026-01-05 (full-width digits too) → its UTC start.
fn jst_day_start(text: &str) -> Option<chrono::NaiveDateTime> {
    let folded: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '／' | '/' | '－' => '-',
            _ => c,
        })
        .collect();
    let date = NaiveDate::parse_from_str(&folded, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)? - chrono::Duration::hours(9))
}

pub async fn audit_log(
    state: web::Data<AppState>,
    viewer: Viewer,
    admin: CurrentUser,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let (filter, scope) = (q.filter(), admin.scope);
    let requested = q.page.unwrap_or(0);
    let (rows, total, page) = state
        .db(move |conn| audit_within(conn, scope, filter, requested))
        .await?;
    let rows: Vec<AuditRow> = rows.into_iter().map(AuditRow::of).collect();
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("rows", &rows);
    ctx.insert("total", &total);
    ctx.insert("page", &page);
    ctx.insert(
        "pages",
        &((total + audit::PAGE_SIZE - 1) / audit::PAGE_SIZE).max(1),
    );
    ctx.insert("filter_query", &q.filter_query());
    ctx.insert("query", &q);
    let actions: Vec<(&str, &str)> = Action::ALL.iter().map(|a| (a.code(), a.label())).collect();
    ctx.insert("actions", &actions);
    ctx.html("admin/audit.html")
}

/// One page of the log as the administrator's scope sees it: its rows, the total, and
/// the page shown.
fn audit_within(
    conn: &mut DbConnection,
    scope: Scope,
    mut filter: audit::Filter,
    requested: i64,
) -> Result<(Vec<audit::LogRow>, i64, i64), DbError> {
    if scope != Scope::All {
        // Administrators of a prefecture see its entries only; entries that name
        // no prefecture (unknown login IDs) are for the system administrator.
        filter.prefecture_id = Some(users::prefecture_of(conn, scope)?.unwrap_or(-1));
    }
    Ok(audit::list(conn, &filter, requested)?)
}
