//! The prefecture's review pages: 報告状況検索 (with counts per status, CSV and 一括確認),
//! 未報告機関一覧, the report detail with 差異表示, 確認 and 差戻し, 疑義照会メモ,
//! 件数集計 with charts, and 新着.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::AppState;
use super::charts;
use super::csrf::CsrfForm;
use super::gate::see_other;
use super::institutions::{choices, csv_bytes, csv_response};
use super::reports::answer_text;
use super::session::{CurrentUser, Viewer};
use super::views;
use crate::db::changes::Stamp;
use crate::db::review::{self as query, ReviewFilter, ReviewRow, ReviewSort, StatusFilter};
use crate::db::{self, DbError};
use crate::domain::catalog::Catalog;
use crate::domain::codes::InstitutionCode;
use crate::domain::determination::{self, Answers};
use crate::domain::institution::Category;
use crate::domain::normalize::{self, search_key};
use crate::domain::paging;
use crate::domain::report::{self, ReportKind, Status};
use crate::domain::wareki;
use crate::services::reports::{self as service, ReportError};
use crate::services::review::{self, ReviewError};
use crate::web::error::AppError;

pub const PER_PAGE: i64 = 50;

fn current_fiscal_year() -> i32 {
    wareki::fiscal_year_of(wareki::today_jst(Utc::now()))
}

/// The search form as typed (kept, so the page shows it back).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ReviewQuery {
    #[serde(default)]
    fy: Option<i32>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    jurisdiction: String,
    #[serde(default)]
    municipality: String,
    #[serde(default)]
    f1: String,
    #[serde(default)]
    ah: String,
    #[serde(default)]
    ad: String,
    #[serde(default)]
    hc: String,
    #[serde(default)]
    cc: String,
    #[serde(default)]
    proxy: String,
    #[serde(default)]
    paper: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    #[serde(default)]
    page: Option<i64>,
}

fn yes_no(text: &str) -> Option<bool> {
    match text {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

const STATUS_CHOICES: [(&str, &str); 8] = [
    ("none", "未報告"),
    ("draft", "一時保存"),
    ("submitted", "報告済"),
    ("returned", "差戻し"),
    ("resubmitted", "再報告済"),
    ("confirmed", "確認済"),
    ("unsubmitted", "未提出（未報告・一時保存・差戻し）"),
    ("awaiting", "確認待ち（報告済・再報告済）"),
];

impl ReviewQuery {
    fn fiscal_year(&self) -> i32 {
        self.fy
            .filter(|y| (2024..=2100).contains(y))
            .unwrap_or_else(current_fiscal_year)
    }

    /// The filter, or the messages to show next to the fields.
    fn filter(&self) -> Result<ReviewFilter, BTreeMap<&'static str, String>> {
        let mut errors = BTreeMap::new();
        let status = match self.status.as_str() {
            "" => None,
            "none" => Some(StatusFilter::NotReported),
            "unsubmitted" => Some(StatusFilter::Unsubmitted),
            "awaiting" => Some(StatusFilter::AwaitingReview),
            other => match Status::from_code(other) {
                Some(s) => Some(StatusFilter::Is(s)),
                None => {
                    errors.insert("status", "状態を選び直してください".to_string());
                    None
                }
            },
        };
        let code = match self.code.trim() {
            "" => None,
            text => {
                let digits: String = normalize::nfkc(text)
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                match digits.len() {
                    7 => Some(digits),
                    10 => match InstitutionCode::parse(&digits) {
                        Ok(c) => Some(c.to_string()),
                        Err(e) => {
                            errors.insert("code", e.to_string());
                            None
                        }
                    },
                    _ => {
                        errors.insert(
                            "code",
                            "医療機関コードは7桁か10桁で入力してください".to_string(),
                        );
                        None
                    }
                }
            }
        };
        let mut date = |field: &'static str, text: &str| match text.trim() {
            "" => None,
            t => {
                let d = NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .ok()
                    .or_else(|| normalize::parse_date(t).ok());
                if d.is_none() {
                    errors.insert(
                        field,
                        "日付を 2027-01-31 の形で入力してください".to_string(),
                    );
                }
                d
            }
        };
        let submitted_from = date("from", &self.from);
        let submitted_to = date("to", &self.to);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ReviewFilter {
            status,
            kind: ReportKind::from_code(&self.kind).map(|k| k.code().to_string()),
            category: Category::from_code(&self.category).map(|c| c.code().to_string()),
            jurisdiction_id: self.jurisdiction.parse().ok(),
            municipality_id: self.municipality.parse().ok(),
            function1: yes_no(&self.f1),
            function2: [
                yes_no(&self.ah),
                yes_no(&self.ad),
                yes_no(&self.hc),
                yes_no(&self.cc),
            ],
            proxy: yes_no(&self.proxy),
            paper: yes_no(&self.paper),
            has_email: yes_no(&self.email),
            submitted_from,
            submitted_to,
            name_key: Some(search_key(&self.q)).filter(|k| !k.is_empty()),
            code,
        })
    }

    fn sort(&self) -> (ReviewSort, bool) {
        let key = match self.sort.as_str() {
            "name" => ReviewSort::Name,
            "submitted" => ReviewSort::Submitted,
            "status" => ReviewSort::Status,
            _ => ReviewSort::Code,
        };
        (key, self.dir == "desc")
    }

    /// The query string without page, sort and direction.
    fn base_query(&self) -> String {
        let fy = self.fiscal_year().to_string();
        serde_urlencoded::to_string([
            ("fy", fy.as_str()),
            ("status", &self.status),
            ("kind", &self.kind),
            ("category", &self.category),
            ("jurisdiction", &self.jurisdiction),
            ("municipality", &self.municipality),
            ("f1", &self.f1),
            ("ah", &self.ah),
            ("ad", &self.ad),
            ("hc", &self.hc),
            ("cc", &self.cc),
            ("proxy", &self.proxy),
            ("paper", &self.paper),
            ("email", &self.email),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
            ("code", &self.code),
        ])
        .unwrap_or_default()
    }
}

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
                .map(|r| {
                    let l = list_row(r, &names, 0);
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
                })
                .collect::<Vec<_>>())
        })
        .await?;
    let header = [
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
    let today = wareki::today_jst(Utc::now()).format("%Y%m%d");
    Ok(csv_response(
        &format!("報告状況_{fy}年度_{today}.csv"),
        csv_bytes(&header, &rows)?,
    ))
}

// ----- detail -----

#[derive(Serialize)]
struct DiffRow {
    code: String,
    label: String,
    old: String,
    new: String,
    ndb_changed: Option<i64>,
}

fn diff_rows(
    catalog: &Catalog,
    old: &Answers,
    new: &Answers,
    ndb: &Map<String, Value>,
) -> Vec<DiffRow> {
    report::changed_items(catalog, old, new)
        .into_iter()
        .filter_map(|key| {
            let base = key.split(':').next().unwrap_or(&key).to_string();
            let item = catalog.item(&base)?;
            let text = |a: &Answers| {
                a.get(&key).map_or_else(
                    || "（未回答）".to_string(),
                    |v| {
                        if key.ends_with(":other") {
                            v.as_str().unwrap_or_default().to_string()
                        } else {
                            answer_text(item, v)
                        }
                    },
                )
            };
            Some(DiffRow {
                label: item.label.clone(),
                old: text(old),
                new: text(new),
                ndb_changed: match report::ndb_mark(ndb, new, &base) {
                    Some(report::NdbMark::Changed { original }) => Some(original),
                    _ => None,
                },
                code: key,
            })
        })
        .collect()
}

#[derive(Deserialize)]
pub struct DetailQuery {
    #[serde(default)]
    against: String,
    #[serde(default)]
    done: String,
}

#[allow(clippy::too_many_arguments)]
async fn detail_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    id: i32,
    against: &str,
    notice: Option<&str>,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope;
    let catalogs = state.catalogs.clone();
    let user_id = user.id;
    let last_year = against == "last_year";
    let (loaded, versions, base, memos, unread_from) = state
        .db(move |conn| {
            let loaded = match service::load(conn, &catalogs, scope, id) {
                Ok(l) => l,
                Err(ReportError::Db(e)) => return Err(e),
                Err(_) => return Ok(None),
            };
            let versions = db::reports::versions(conn, id)?;
            // What the current answers are compared with.
            let base: Option<(String, String)> = if last_year {
                db::reports::last_confirmed_answers(
                    conn,
                    loaded.report.institution_id,
                    loaded.report.fiscal_year,
                )?
                .map(|a| (a, "前年度の確認済みの報告".to_string()))
            } else {
                versions
                    .get(1)
                    .map(|v| (v.answers.clone(), format!("第{}版", v.number)))
            };
            let (memos, seen) = review::read_thread(conn, user_id, id, false)?;
            Ok(Some((loaded, versions, base, memos, seen)))
        })
        .await?
        .ok_or(AppError::NotFound)?;
    // The answers under review: the latest version (the draft while it is a draft).
    let current: Answers = versions
        .first()
        .filter(|_| !loaded.status.editable())
        .map(|v| service::parse_map(&v.answers))
        .unwrap_or_else(|| loaded.answers.clone());
    let d = determination::determine(&loaded.catalog, &current);
    let diff = base.as_ref().map(|(a, _)| {
        diff_rows(
            &loaded.catalog,
            &service::parse_map(a),
            &current,
            &loaded.ndb,
        )
    });
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("report_id", &id);
    ctx.insert("institution", &loaded.institution);
    ctx.insert("fiscal_year", &loaded.report.fiscal_year);
    ctx.insert("kind", loaded.kind.label());
    ctx.insert("status", loaded.status.label());
    ctx.insert("status_code", loaded.status.code());
    ctx.insert("revision", &loaded.report.revision);
    ctx.insert("return_reason", &loaded.report.return_reason);
    ctx.insert(
        "confirmed_at",
        &loaded.report.confirmed_at.map(wareki::datetime_jst),
    );
    ctx.insert(
        "needs_structure",
        &(d.function2.after_hours
            || d.function2.admission_discharge
            || d.function2.home_care
            || d.function2.care_coordination),
    );
    ctx.insert("determination", &super::reports::determination_view(&d));
    ctx.insert(
        "sections",
        &super::reports::all_sections(&loaded.catalog, &current, &loaded.ndb),
    );
    ctx.insert("against", if last_year { "last_year" } else { "previous" });
    ctx.insert("base_label", &base.as_ref().map(|(_, l)| l.clone()));
    ctx.insert("diff", &diff);
    ctx.insert("versions", &super::reports::version_rows(&versions));
    ctx.insert(
        "memos",
        &super::reports::memo_rows(&memos, unread_from, true),
    );
    ctx.insert(
        "can_confirm",
        &matches!(loaded.status, Status::Submitted | Status::Resubmitted),
    );
    ctx.insert("notice", &notice);
    ctx.insert("error", &error);
    ctx.html_status(status, "review/detail.html")
}

pub async fn detail(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    query: web::Query<DetailQuery>,
) -> Result<HttpResponse, AppError> {
    let notice = match query.done.as_str() {
        "confirmed" => Some("確認しました。"),
        "returned" => Some("差し戻しました。医療機関のホームと報告画面に理由が表示されます。"),
        "memo" => Some("メモを追加しました。"),
        _ => None,
    };
    detail_page(
        &state,
        &viewer,
        &user,
        path.into_inner(),
        &query.against,
        notice,
        None,
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    rev: i32,
    #[serde(default)]
    structure: Option<String>,
}

pub async fn confirm(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    form: CsrfForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor(&viewer);
    let catalogs = state.catalogs.clone();
    let ConfirmForm { rev, structure } = form.0;
    let result = state
        .db(move |conn| {
            Ok(review::confirm(
                conn,
                &catalogs,
                &actor,
                id,
                rev,
                structure.is_some(),
            ))
        })
        .await?;
    after_review(&state, &viewer, &user, id, result, "confirmed").await
}

/// Where 確認 and 差戻し lead: back to the report with a notice, or the report again with
/// the form's problem.
async fn after_review(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    id: i32,
    result: Result<(), ReviewError>,
    done: &str,
) -> Result<HttpResponse, AppError> {
    match result {
        Ok(()) => Ok(see_other(&format!("/review/reports/{id}?done={done}"))),
        Err(ReviewError::Invalid(message)) => {
            detail_page(
                state,
                viewer,
                user,
                id,
                "",
                None,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct SendBackForm {
    rev: i32,
    #[serde(default)]
    reason: String,
}

pub async fn send_back(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    form: CsrfForm<SendBackForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor(&viewer);
    let catalogs = state.catalogs.clone();
    let SendBackForm { rev, reason } = form.0;
    let result = state
        .db(move |conn| Ok(review::send_back(conn, &catalogs, &actor, id, rev, &reason)))
        .await?;
    after_review(&state, &viewer, &user, id, result, "returned").await
}

#[derive(Deserialize)]
pub struct MemoForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    internal: Option<String>,
}

/// A memo from either side; officers choose internal or shared.
pub async fn add_memo(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    form: CsrfForm<MemoForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor(&viewer);
    let officer = actor.officer;
    let catalogs = state.catalogs.clone();
    let MemoForm { body, internal } = form.0;
    let name = user.display_name.clone();
    let result = state
        .db(move |conn| {
            Ok(review::add_memo(
                conn,
                &catalogs,
                &actor,
                &name,
                id,
                &body,
                internal.is_some(),
            ))
        })
        .await?;
    let back = if officer {
        format!("/review/reports/{id}?done=memo#memos")
    } else {
        format!("/reports/{id}?done=memo#memos")
    };
    match result {
        Ok(()) => Ok(see_other(&back)),
        Err(ReviewError::Invalid(message)) => {
            if officer {
                detail_page(
                    &state,
                    &viewer,
                    &user,
                    id,
                    "",
                    None,
                    Some(message),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            } else {
                Err(AppError::BadRequest(message))
            }
        }
        Err(e) => Err(e.into()),
    }
}

// ----- 一括確認 -----

pub async fn bulk_preview(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let pairs = form.0;
    let ticked: Vec<i32> = pairs
        .iter()
        .filter(|(k, _)| k == "report")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let rest: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| k != "report" && k != "csrf")
        .collect();
    // "which=ticked": only the ticked reports; otherwise every confirmable report found.
    let only_ticked = rest.iter().any(|(k, v)| k == "which" && v == "ticked");
    let encoded = serde_urlencoded::to_string(&rest).unwrap_or_default();
    let query: ReviewQuery = serde_urlencoded::from_str(&encoded)
        .map_err(|e| AppError::BadRequest(format!("入力内容を読み取れませんでした ({e})")))?;
    let fy = query.fiscal_year();
    let filter = query
        .filter()
        .map_err(|e| AppError::BadRequest(e.into_values().collect::<Vec<_>>().join(" ")))?;
    if only_ticked && ticked.is_empty() {
        return Err(AppError::BadRequest(
            "確認する報告にチェックを入れてください".into(),
        ));
    }
    let actor = user.actor(&viewer);
    let id = state
        .db(move |conn| {
            review::bulk_preview(
                conn,
                &actor,
                fy,
                &filter,
                only_ticked.then_some(ticked.as_slice()),
            )
            .map_err(|e| match e {
                ReviewError::Report(ReportError::Db(d)) => d,
                other => DbError::Task(other.to_string()),
            })
        })
        .await?;
    Ok(see_other(&format!("/review/bulk/{id}")))
}

pub async fn bulk_show(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor(&viewer);
    let preview = state
        .run(move |conn| review::bulk_find(conn, &actor, id))
        .await?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("bulk", &preview);
    ctx.html("review/bulk.html")
}

pub async fn bulk_commit(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor(&viewer);
    state
        .run(move |conn| review::bulk_commit(conn, &actor, id))
        .await?;
    Ok(see_other(&format!("/review/bulk/{id}")))
}

// ----- 件数集計 -----

/// The figures of 件数集計 and of the officer home page.
#[derive(Serialize, Default)]
pub struct Stats {
    pub fiscal_year: i32,
    pub targets: i64,
    pub submitted: i64,
    pub confirmed: i64,
    pub unsubmitted: i64,
    /// (day, periodic, change)
    pub daily: Vec<(String, i64, i64)>,
    /// (month, periodic, change)
    pub monthly: Vec<(String, i64, i64)>,
    /// (保健所, targets, submitted, confirmed)
    pub areas: Vec<(String, i64, i64, i64)>,
    pub cumulative_svg: String,
    pub areas_svg: String,
}

/// The 件数集計 figures. The two heavy queries (per day, per 保健所) are independent
/// and run on two pooled connections at once, so the page waits for the slower one
/// only.
async fn stats(
    state: &AppState,
    scope: crate::domain::auth::Scope,
    fiscal_year: i32,
    stamp: Stamp,
) -> Result<Stats, AppError> {
    // Days before today are counted once a day (see `Cache::past_days`); today's
    // submissions are counted on every request.
    let today = wareki::today_jst(Utc::now());
    let past = state.cache.past_days(scope, fiscal_year, today, stamp);
    let since = past.is_some().then_some(today);
    let per_day =
        state.db(move |conn| Ok(query::submissions_per_day(conn, scope, fiscal_year, since)?));
    let progress =
        state.db(move |conn| Ok(query::progress_by_jurisdiction(conn, scope, fiscal_year)?));
    let (per_day, progress) = futures_util::future::join(per_day, progress).await;
    let (mut per_day, progress) = (per_day?, progress?);
    match past {
        Some(past) => per_day = past.iter().cloned().chain(per_day).collect(),
        None => {
            let before_today: Vec<_> = per_day.iter().filter(|r| r.0 < today).cloned().collect();
            state.cache.set_past_days(
                scope,
                fiscal_year,
                today,
                stamp,
                std::sync::Arc::new(before_today),
            );
        }
    }
    state
        .db(move |conn| assemble(conn, scope, fiscal_year, &per_day, &progress))
        .await
}

fn assemble(
    conn: &mut crate::db::DbConnection,
    scope: crate::domain::auth::Scope,
    fiscal_year: i32,
    per_day: &[(NaiveDate, String, i64)],
    progress: &[query::AreaProgress],
) -> Result<Stats, DbError> {
    let names = choices(conn, scope)?.names;
    let mut daily: BTreeMap<NaiveDate, (i64, i64)> = BTreeMap::new();
    for (day, kind, n) in per_day {
        let e = daily.entry(*day).or_default();
        if kind == ReportKind::Change.code() {
            e.1 += n;
        } else {
            e.0 += n;
        }
    }
    let mut monthly: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (day, (p, c)) in &daily {
        let e = monthly.entry(day.format("%Y-%m").to_string()).or_default();
        e.0 += p;
        e.1 += c;
    }
    let (targets, submitted, confirmed) = progress.iter().fold((0, 0, 0), |acc, (_, t, s, c)| {
        (acc.0 + t, acc.1 + s, acc.2 + c)
    });
    let areas: Vec<(String, i64, i64, i64)> = progress
        .iter()
        .map(|(j, t, s, c)| {
            (
                j.and_then(|j| names.get(&j).cloned())
                    .unwrap_or_else(|| "（管轄未設定）".into()),
                *t,
                *s,
                *c,
            )
        })
        .collect();
    // Cumulative first submissions per day (a report's first version), and
    // confirmations are drawn from the confirmed share at the end.
    let prefecture = match scope {
        crate::domain::auth::Scope::Prefecture(p) => Some(p),
        _ => db::areas::prefectures(conn)?.first().map(|p| p.id),
    };
    let period = match prefecture {
        Some(p) => db::reports::period(conn, p, fiscal_year)?,
        None => None,
    };
    let today = wareki::today_jst(Utc::now());
    let (start, deadline, end) = period.as_ref().map_or(
        (
            NaiveDate::from_ymd_opt(fiscal_year + 1, 1, 1).unwrap_or(today),
            NaiveDate::from_ymd_opt(fiscal_year + 1, 2, 28).unwrap_or(today),
            NaiveDate::from_ymd_opt(fiscal_year + 1, 3, 31).unwrap_or(today),
        ),
        |p| (p.opens_on, p.deadline, p.closes_on),
    );
    let first_day = daily.keys().next().copied().unwrap_or(start).min(start);
    let mut running = 0;
    let periodic_total: i64 = daily.values().map(|v| v.0).sum();
    let points: Vec<(NaiveDate, i64, i64)> = daily
        .iter()
        .map(|(day, (p, _))| {
            running += p;
            // Confirmations are not dated per day here: the share of confirmed among
            // submitted is applied to the running total.
            let confirmed_share = if periodic_total > 0 {
                running * confirmed / periodic_total.max(1)
            } else {
                0
            };
            (*day, running, confirmed_share.min(confirmed))
        })
        .collect();
    let cumulative_svg = charts::cumulative(&charts::Cumulative {
        title: "累積の報告件数（定期報告）",
        start: first_day,
        deadline,
        end: end.max(today.min(end.max(first_day))),
        targets,
        points: &points,
    });
    let areas_svg = charts::bars(
        "保健所別の報告状況",
        &areas
            .iter()
            .map(|(label, t, s, c)| charts::Bar {
                label: label.clone(),
                targets: *t,
                submitted: *s,
                confirmed: *c,
            })
            .collect::<Vec<_>>(),
    );
    Ok(Stats {
        fiscal_year,
        targets,
        submitted,
        confirmed,
        unsubmitted: (targets - submitted).max(0),
        daily: daily
            .iter()
            .map(|(d, (p, c))| (wareki::date_wareki(*d), *p, *c))
            .collect(),
        monthly: monthly.into_iter().map(|(m, (p, c))| (m, p, c)).collect(),
        areas,
        cumulative_svg,
        areas_svg,
    })
}

/// The 件数集計 figures, shared with the officer home page while no report or
/// institution changed (and for at most 30 s).
pub async fn kept_stats(
    state: &AppState,
    scope: crate::domain::auth::Scope,
    fiscal_year: i32,
    stamp: Stamp,
) -> Result<std::sync::Arc<Stats>, AppError> {
    if let Some(kept) = state.cache.stats(scope, fiscal_year, stamp) {
        return Ok(kept);
    }
    let fresh = std::sync::Arc::new(stats(state, scope, fiscal_year, stamp).await?);
    state
        .cache
        .set_stats(scope, fiscal_year, stamp, fresh.clone());
    Ok(fresh)
}

#[derive(Deserialize)]
pub struct StatsQuery {
    fy: Option<i32>,
}

pub async fn stats_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, AppError> {
    let fy = query
        .fy
        .filter(|y| (2024..=2100).contains(y))
        .unwrap_or_else(current_fiscal_year);
    let stamp = state.stamp().await?;
    let stats = kept_stats(&state, user.scope, fy, stamp).await?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("stats", stats.as_ref());
    ctx.insert("years", &(fy - 2..=fy + 1).rev().collect::<Vec<_>>());
    ctx.html("review/stats.html")
}

// ----- 新着 -----

pub async fn news(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor(&viewer);
    let news = state.run(move |conn| review::news(conn, &actor)).await?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("since", &news.since.map(wareki::datetime_jst));
    ctx.insert(
        "submitted",
        &news
            .submitted
            .iter()
            .map(|(id, name, kind, at)| {
                serde_json::json!({
                    "id": id, "name": name,
                    "kind": ReportKind::from_code(kind).map_or("", ReportKind::label),
                    "at": wareki::datetime_jst(*at),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "messages",
        &news
            .messages
            .iter()
            .map(|(id, name, body, at)| {
                serde_json::json!({ "id": id, "name": name, "body": body, "at": wareki::datetime_jst(*at) })
            })
            .collect::<Vec<_>>(),
    );
    ctx.html("review/news.html")
}
