//! 報告状況検索, its CSV and the 未報告機関一覧.

use super::{PER_PAGE, ReviewQuery, STATUS_CHOICES};
use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Serialize;

use crate::db::review::{self as query, ReviewRow};
use crate::domain::institution::Category;
use crate::domain::paging;
use crate::domain::report::ReportKind;
use crate::domain::wareki;
use crate::services::review::{self};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::institutions::{choices, csv_bytes, csv_response};
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

#[derive(Serialize)]
struct ListRow {
    institution_id: i32,
    report_id: Option<i32>,
    code: String,
    name: String,
    category: &'static str,
    area: String,
    status: &'static str,
    status_code: String,
    kind: &'static str,
    submitted_at: Option<String>,
    function1: Option<bool>,
    function2: [Option<bool>; 4],
    proxy: bool,
    paper: bool,
    email: bool,
    confirmable: bool,
    unread: i64,
}

fn list_row(r: &ReviewRow, names: &std::collections::HashMap<i32, String>, unread: i64) -> ListRow {
    ListRow {
        institution_id: r.institution_id,
        report_id: r.report_id,
        code: r.code.clone(),
        name: r.name.clone(),
        category: Category::from_code(&r.category).map_or("", Category::label),
        area: r
            .municipality_id
            .or(r.jurisdiction_id)
            .and_then(|m| names.get(&m).cloned())
            .unwrap_or_default(),
        status: review::status_of(r.status.as_deref()),
        status_code: r.status.clone().unwrap_or_else(|| "none".into()),
        kind: r
            .kind
            .as_deref()
            .and_then(ReportKind::from_code)
            .map_or("", ReportKind::label),
        submitted_at: r.submitted_at.map(wareki::datetime_jst),
        function1: r.function1,
        function2: [
            r.after_hours,
            r.admission_discharge,
            r.home_care,
            r.care_coordination,
        ],
        proxy: r.proxy.unwrap_or(false),
        paper: r.paper_report,
        email: r.email.is_some(),
        confirmable: matches!(r.status.as_deref(), Some("submitted" | "resubmitted")),
        unread,
    }
}

async fn search_page(
    state: &web::Data<AppState>,
    viewer: &Viewer,
    user: &CurrentUser,
    query: ReviewQuery,
    unreported: bool,
) -> Result<HttpResponse, AppError> {
    let fy = query.fiscal_year();
    let (sort, desc) = query.sort();
    let requested = query.page.unwrap_or(0).clamp(0, paging::MAX_PAGE);
    let filter = query.filter();
    let scope = user.scope;
    let user_id = user.id;
    let for_db = filter.clone().unwrap_or_default();
    let searched = filter.is_ok();
    // The counts per status do not depend on the status, sort or page asked for; they
    // are kept for 30 s (and dropped on every status change made here).
    let counts_key = {
        let mut q = query.clone();
        q.status.clear();
        format!("{scope:?}|{}", q.base_query())
    };
    let status = for_db.status;
    let shared = state.clone();
    let (rows, has_next, counts, choices, page) = state
        .db(move |conn| {
            let choices = choices(conn, scope)?;
            if !searched {
                return Ok((Vec::new(), false, BTreeMap::new(), choices, 0));
            }
            let mut request = query::PageRequest {
                sort,
                descending: desc,
                page: requested,
                per_page: PER_PAGE,
            };
            let (mut rows, mut has_next) = query::search(conn, scope, fy, &for_db, request)?;
            let stamp = crate::db::changes::stamp(conn)?;
            let counts = match shared.cache.status_counts(&counts_key, stamp) {
                Some(c) => c,
                None => {
                    let counts = query::status_counts(conn, scope, fy, &for_db)?;
                    shared
                        .cache
                        .set_status_counts(counts_key, stamp, counts.clone());
                    counts
                }
            };
            // A page past the end (an old link, a typed number) shows the last page.
            if rows.is_empty() && request.page > 0 {
                let total = query::matching(status, &counts);
                request.page = paging::within(request.page, total, PER_PAGE);
                (rows, has_next) = query::search(conn, scope, fy, &for_db, request)?;
            }
            let ids: Vec<i32> = rows.iter().filter_map(|r| r.report_id).collect();
            let unread = review::unread_counts(conn, user_id, false, &ids)?;
            let rows: Vec<ListRow> = rows
                .iter()
                .map(|r| {
                    let n = r
                        .report_id
                        .and_then(|id| unread.get(&id).copied())
                        .unwrap_or(0);
                    list_row(r, &choices.names, n)
                })
                .collect();
            Ok((rows, has_next, counts, choices, request.page))
        })
        .await?;
    let mut ctx = views::Page::of(state, viewer).await?;
    // The counts may be up to 30 s old; whether a next page exists is asked directly.
    let total = query::matching(status, &counts);
    ctx.insert("rows", &rows);
    ctx.insert("total", &total);
    ctx.insert("page", &page);
    ctx.insert("has_next", &has_next);
    ctx.insert("first_shown", &(page * PER_PAGE + 1));
    ctx.insert("last_shown", &(page * PER_PAGE + rows.len() as i64));
    let counts: Vec<(&str, &str, i64, String)> = STATUS_CHOICES[..6]
        .iter()
        .map(|(code, label)| {
            let mut q = query.clone();
            q.status = code.to_string();
            (
                *code,
                *label,
                counts.get(*code).copied().unwrap_or(0),
                q.base_query(),
            )
        })
        .collect();
    ctx.insert("counts", &counts);
    // The filters again, as hidden fields of the bulk confirmation form.
    let hidden: Vec<(String, String)> =
        serde_urlencoded::from_str(&query.base_query()).unwrap_or_default();
    ctx.insert("hidden", &hidden);
    ctx.insert("status_choices", &STATUS_CHOICES);
    ctx.insert("fiscal_year", &fy);
    ctx.insert("years", &(fy - 2..=fy + 1).rev().collect::<Vec<_>>());
    ctx.insert("query", &query);
    ctx.insert("base_query", &query.base_query());
    ctx.insert("errors", &filter.err().unwrap_or_default());
    ctx.insert("jurisdictions", &choices.jurisdictions);
    ctx.insert("municipalities", &choices.municipalities);
    ctx.insert("unreported", &unreported);
    ctx.insert(
        "function_filters",
        &[
            ("f1", "1号", &query.f1),
            ("ah", "2号イ", &query.ah),
            ("ad", "2号ロ", &query.ad),
            ("hc", "2号ハ", &query.hc),
            ("cc", "2号ニ", &query.cc),
        ],
    );
    let status = if searched {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    ctx.html_status(status, "review/search.html")
}

pub async fn search(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<ReviewQuery>,
) -> Result<HttpResponse, AppError> {
    search_page(&state, &viewer, &user, query.into_inner(), false).await
}

/// 未報告機関一覧: the targets that have not submitted (未報告, 一時保存, 差戻し).
pub async fn unreported(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<ReviewQuery>,
) -> Result<HttpResponse, AppError> {
    let mut query = query.into_inner();
    if query.status.is_empty() {
        query.status = "unsubmitted".into();
    }
    search_page(&state, &viewer, &user, query, true).await
}

/// The columns of the search CSV.
const CSV_HEADER: [&str; 15] = [
    "医療機関コード",
    "名称",
    "種別",
    "市区町村",
    "状態",
    "種類",
    "報告日時",
    "1号",
    "2号イ",
    "2号ロ",
    "2号ハ",
    "2号ニ",
    "代理入力",
    "紙報告",
    "メール",
];

/// One search row as a CSV line, in [`CSV_HEADER`]'s order.
fn csv_line(l: ListRow) -> Vec<String> {
    let yn = |v: Option<bool>| match v {
        Some(true) => "有",
        Some(false) => "無",
        None => "",
    };
    vec![
        l.code,
        l.name,
        l.category.to_string(),
        l.area,
        l.status.to_string(),
        l.kind.to_string(),
        l.submitted_at.unwrap_or_default(),
        yn(l.function1).to_string(),
        yn(l.function2[0]).to_string(),
        yn(l.function2[1]).to_string(),
        yn(l.function2[2]).to_string(),
        yn(l.function2[3]).to_string(),
        if l.proxy { "代理" } else { "" }.to_string(),
        if l.paper { "紙" } else { "" }.to_string(),
        if l.email { "有" } else { "無" }.to_string(),
    ]
}

pub async fn search_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<ReviewQuery>,
) -> Result<HttpResponse, AppError> {
    let fy = query.fiscal_year();
    let filter = query
        .filter()
        .map_err(|e| AppError::BadRequest(e.into_values().collect::<Vec<_>>().join(" ")))?;
    let scope = user.scope;
    let rows = state
        .db(move |conn| {
            let names = choices(conn, scope)?.names;
            let rows = query::search_all(conn, scope, fy, &filter)?;
            Ok(rows
                .iter()
                .map(|r| csv_line(list_row(r, &names, 0)))
                .collect::<Vec<_>>())
        })
        .await?;
    let today = wareki::today_jst(Utc::now()).format("%Y%m%d");
    Ok(csv_response(
        &format!("報告状況_{fy}年度_{today}.csv"),
        csv_bytes(&CSV_HEADER, &rows)?,
    ))
}
