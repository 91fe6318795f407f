//! Institution pages for officers: search (機関情報検索) with CSV, detail with edit and
//! history. Anything outside the officer's scope answers 404.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::csrf::CsrfForm;
use super::error::AppError;
use super::session::{CurrentUser, Viewer};
use super::views;
use crate::db::audit::{self, Action};
use crate::db::institutions::{self, ListedInstitution, SearchFilter, SortKey};
use crate::db::{DbError, areas};
use crate::domain::auth::Scope;
use crate::domain::codes::search_code;
use crate::domain::institution::{Category, Status, TargetFacts};
use crate::domain::normalize::{excel_safe, search_key};
use crate::domain::paging;
use crate::domain::wareki;
use crate::services::institutions::{self as edit, EditInput};

pub const PER_PAGE: i64 = 50;

/// The search form as typed (kept, so the page shows it back).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    municipality: String,
    #[serde(default)]
    jurisdiction: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    paper: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    status: String,
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

impl SearchQuery {
    /// The filter, or the message to show next to the code field.
    pub(crate) fn filter(&self) -> Result<SearchFilter, String> {
        let code = search_code(&self.code)?;
        let name_key = Some(search_key(&self.q)).filter(|k| !k.is_empty());
        Ok(SearchFilter {
            name_key,
            code,
            municipality_id: self.municipality.parse().ok(),
            jurisdiction_id: self.jurisdiction.parse().ok(),
            category: Category::from_code(&self.category).map(|c| c.code().to_string()),
            is_target: yes_no(&self.target),
            paper: yes_no(&self.paper),
            has_email: yes_no(&self.email),
            status: Status::from_code(&self.status).map(|s| s.code().to_string()),
        })
    }

    fn sort(&self) -> (SortKey, bool) {
        let key = match self.sort.as_str() {
            "name" => SortKey::Name,
            "municipality" => SortKey::Municipality,
            "updated" => SortKey::Updated,
            "code" => SortKey::Code,
            // A name search lists by name: it reads the (scope, name) index in order.
            _ if !self.q.trim().is_empty() => SortKey::Name,
            _ => SortKey::Code,
        };
        (key, self.dir == "desc")
    }

    /// The query string without page, sort and direction (for links that change those).
    pub(crate) fn base_query(&self) -> String {
        serde_urlencoded::to_string([
            ("q", &self.q),
            ("code", &self.code),
            ("municipality", &self.municipality),
            ("jurisdiction", &self.jurisdiction),
            ("category", &self.category),
            ("target", &self.target),
            ("paper", &self.paper),
            ("email", &self.email),
            ("status", &self.status),
        ])
        .unwrap_or_default()
    }
}

#[derive(Serialize)]
struct Row {
    id: i32,
    code: String,
    name: String,
    category: &'static str,
    address: String,
    municipality: String,
    email: bool,
    /// Why mail to the address bounced (不達).
    bounced: Option<String>,
    paper: bool,
    target: bool,
    status: &'static str,
    /// Where it stands with its account (申請中, 案内送付済…).
    account: &'static str,
}

#[derive(Serialize, Clone)]
pub struct AreaChoice {
    pub id: i32,
    pub name: String,
}

/// Jurisdictions and municipalities inside a scope, for the filters, and every area's
/// name by id.
pub(super) struct AreaChoices {
    pub jurisdictions: Vec<AreaChoice>,
    pub municipalities: Vec<AreaChoice>,
    pub names: std::collections::HashMap<i32, String>,
}

pub(super) fn choices(
    conn: &mut crate::db::DbConnection,
    scope: Scope,
) -> Result<AreaChoices, DbError> {
    let nodes = areas::within(conn, scope)?;
    let pick = |kind: &str| -> Vec<AreaChoice> {
        nodes
            .iter()
            .filter(|a| a.kind == kind)
            .map(|a| AreaChoice {
                id: a.id,
                name: a.name.clone(),
            })
            .collect()
    };
    Ok(AreaChoices {
        jurisdictions: pick("jurisdiction"),
        municipalities: pick("municipality"),
        names: nodes.iter().map(|a| (a.id, a.name.clone())).collect(),
    })
}

fn row(l: &ListedInstitution, names: &std::collections::HashMap<i32, String>) -> Row {
    Row {
        id: l.id,
        code: l.code.clone(),
        name: l.name.clone(),
        category: Category::from_code(&l.category).map_or("", Category::label),
        address: l.address.clone(),
        municipality: l
            .municipality_id
            .and_then(|m| names.get(&m).cloned())
            .unwrap_or_else(|| "（未設定）".into()),
        email: l.email.is_some(),
        bounced: l.email_bounce_reason.clone(),
        paper: l.paper_report,
        target: l.is_target,
        status: Status::from_code(&l.status).map_or("", Status::label),
        account: "",
    }
}

pub async fn search(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let (sort, desc) = query.sort();
    let requested = query.page.unwrap_or(0).clamp(0, paging::MAX_PAGE);
    let filter = query.filter();
    let (scope, wanted) = (user.scope, filter.clone().ok());
    let found = state
        .db(move |conn| find(conn, scope, wanted.as_ref(), (sort, desc), requested))
        .await?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    insert_results(&mut ctx, &found);
    ctx.insert("query", &query);
    ctx.insert("base_query", &query.base_query());
    ctx.insert("sort", &query.sort);
    ctx.insert("dir", &query.dir);
    ctx.insert("jurisdictions", &found.choices.jurisdictions);
    ctx.insert("municipalities", &found.choices.municipalities);
    ctx.insert("can_import", &super::gate::MASTER.contains(&user.role));
    let status = if filter.is_ok() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    ctx.insert("code_error", &filter.err());
    ctx.html_status(status, "institutions/search.html")
}

/// One page of a search and the filters' choices.
struct Found {
    rows: Vec<Row>,
    total: i64,
    /// The page shown, which may be before the one asked for.
    page: i64,
    choices: AreaChoices,
}

/// Searches only with a filter (a code typed wrong finds nothing).
fn find(
    conn: &mut crate::db::DbConnection,
    scope: Scope,
    filter: Option<&SearchFilter>,
    (sort, desc): (SortKey, bool),
    requested: i64,
) -> Result<Found, DbError> {
    let choices = choices(conn, scope)?;
    let Some(filter) = filter else {
        let (rows, total) = (Vec::new(), 0);
        return Ok(Found {
            rows,
            total,
            page: requested,
            choices,
        });
    };
    let mut page = requested;
    let (mut rows, total) = institutions::search(conn, scope, filter, sort, desc, page, PER_PAGE)?;
    // A page past the end (an old link, a typed number) shows the last page.
    if rows.is_empty() && page > 0 && total > 0 {
        page = paging::within(page, total.min(institutions::COUNT_CAP), PER_PAGE);
        rows = institutions::search(conn, scope, filter, sort, desc, page, PER_PAGE)?.0;
    }
    let ids: Vec<i32> = rows.iter().map(|l| l.id).collect();
    let now = chrono::Utc::now().naive_utc();
    let accounts = crate::services::accounts::state::of_institutions(conn, &ids, now)?;
    let rows = rows
        .iter()
        .map(|l| Row {
            account: accounts.get(&l.id).map_or("", |a| a.state),
            ..row(l, &choices.names)
        })
        .collect();
    Ok(Found {
        rows,
        total,
        page,
        choices,
    })
}

/// The rows and where they stand among the matches: past the count's cap the page says
/// "more than", and only the next page is known to exist.
fn insert_results(ctx: &mut views::Page, found: &Found) {
    let (total, page, shown) = (found.total, found.page, found.rows.len() as i64);
    let capped = total > institutions::COUNT_CAP;
    let has_next = shown == PER_PAGE && (capped || (page + 1) * PER_PAGE < total);
    ctx.insert("rows", &found.rows);
    ctx.insert("total", &total.min(institutions::COUNT_CAP));
    ctx.insert("capped", &capped);
    ctx.insert("first_shown", &(page * PER_PAGE + 1));
    ctx.insert("last_shown", &(page * PER_PAGE + shown));
    ctx.insert("has_next", &has_next);
    ctx.insert("page", &page);
    ctx.insert(
        "pages",
        &((total.min(institutions::COUNT_CAP) + PER_PAGE - 1) / PER_PAGE).max(1),
    );
}

/// The header row of our CSV: the import template's columns first (so a downloaded
/// list can be corrected in Excel and imported back), then read-only facts.
const CSV_EXTRA: &[&str] = &["市区町村", "報告対象"];

/// Writes rows as CSV in UTF-8 with a BOM (Excel then opens Japanese text correctly);
/// cells that would start a formula are defused.
pub fn csv_bytes(header: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, AppError> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        w.write_record(header).map_err(AppError::internal)?;
        for r in rows {
            w.write_record(r.iter().map(|c| excel_safe(c)))
                .map_err(AppError::internal)?;
        }
        w.flush().map_err(AppError::internal)?;
    }
    Ok(out)
}

pub fn csv_response(file_name: &str, bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((header::CONTENT_DISPOSITION, content_disposition(file_name)))
        .body(bytes)
}

/// A download's Content-Disposition: the Japanese name for browsers that read
/// RFC 5987, an ASCII one with the same extension for those that do not.
pub fn content_disposition(file_name: &str) -> String {
    let extension = file_name.rsplit_once('.').map_or("csv", |(_, e)| e);
    format!(
        "attachment; filename=\"kakari.{extension}\"; filename*=UTF-8''{}",
        percent_encode(file_name)
    )
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn yes_text(b: bool) -> String {
    if b { "はい" } else { "いいえ" }.to_string()
}

pub async fn search_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = query.filter().map_err(AppError::BadRequest)?;
    let scope = user.scope;
    let rows = state
        .db(move |conn| {
            let names = choices(conn, scope)?.names;
            let rows = institutions::search_all(conn, scope, &filter)?;
            Ok(rows.iter().map(|l| csv_row(l, &names)).collect::<Vec<_>>())
        })
        .await?;
    let header: Vec<&str> = crate::import::institutions::TEMPLATE_COLUMNS
        .iter()
        .chain(CSV_EXTRA)
        .copied()
        .collect();
    let today = wareki::today_jst(Utc::now()).format("%Y%m%d");
    Ok(csv_response(
        &format!("医療機関一覧_{today}.csv"),
        csv_bytes(&header, &rows)?,
    ))
}

/// An institution in the import template's columns, then [`CSV_EXTRA`].
fn csv_row(l: &ListedInstitution, names: &std::collections::HashMap<i32, String>) -> Vec<String> {
    vec![
        l.code.clone(),
        l.name.clone(),
        l.name_kana.clone().unwrap_or_default(),
        Category::from_code(&l.category)
            .map_or("", Category::label)
            .to_string(),
        l.postcode.clone().unwrap_or_default(),
        l.address.clone(),
        l.phone.clone().unwrap_or_default(),
        l.email.clone().unwrap_or_default(),
        l.founder.clone().unwrap_or_default(),
        l.manager.clone().unwrap_or_default(),
        l.designated_on.map(|d| d.to_string()).unwrap_or_default(),
        l.departments.clone().unwrap_or_default(),
        Status::from_code(&l.status)
            .map_or("", Status::label)
            .to_string(),
        yes_text(l.paper_report),
        yes_text(l.is_special_function),
        yes_text(l.is_correctional),
        l.municipality_id
            .and_then(|m| names.get(&m).cloned())
            .unwrap_or_default(),
        if l.is_target { "対象" } else { "対象外" }.to_string(),
    ]
}

/// The empty import template (header row only).
pub async fn template_csv() -> Result<HttpResponse, AppError> {
    let bytes = csv_bytes(crate::import::institutions::TEMPLATE_COLUMNS, &[])?;
    Ok(csv_response("医療機関取込テンプレート.csv", bytes))
}

#[derive(Serialize)]
struct HistoryRow {
    at: String,
    actor: String,
    action: String,
    detail: String,
}

async fn detail_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    id: i32,
    form: Option<EditInput>,
    errors: std::collections::BTreeMap<&'static str, String>,
    notice: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope;
    let loaded = state
        .db(move |conn| {
            let Some((inst, override_value, override_reason, prefecture_id)) =
                institutions::full_within(conn, scope, id)?
            else {
                return Ok(None);
            };
            let municipalities = areas::municipalities_of(conn, prefecture_id)?;
            let now = chrono::Utc::now().naive_utc();
            let account =
                crate::services::accounts::state::of_institutions(conn, &[id], now)?.remove(&id);
            let (history, _, _) = audit::list(
                conn,
                &audit::Filter {
                    target: Some(("institution".into(), id.to_string())),
                    ..audit::Filter::default()
                },
                0,
            )?;
            Ok(Some((
                inst,
                override_value,
                override_reason,
                municipalities,
                (history, account),
            )))
        })
        .await?;
    let Some((inst, override_value, override_reason, municipalities, (history, account))) = loaded
    else {
        return Err(AppError::NotFound);
    };
    let form = form.unwrap_or_else(|| EditInput {
        email: inst.email.clone().unwrap_or_default(),
        phone: inst.phone.clone().unwrap_or_default(),
        paper: if inst.paper_report { "1" } else { "0" }.into(),
        status: inst.status.clone(),
        municipality: inst
            .municipality_id
            .map(|m| m.to_string())
            .unwrap_or_default(),
        target_override: match override_value {
            Some(true) => "1".into(),
            Some(false) => "0".into(),
            None => String::new(),
        },
        reason: override_reason.clone().unwrap_or_default(),
    });
    let facts = TargetFacts {
        category: Category::from_code(&inst.category).unwrap_or(Category::Clinic),
        is_special_function: inst.is_special_function,
        is_correctional: inst.is_correctional,
        status: Status::from_code(&inst.status).unwrap_or(Status::Active),
    };
    let rule = crate::domain::institution::exclusion(facts).map(|e| e.label());
    let history: Vec<HistoryRow> = history
        .into_iter()
        .map(|h| HistoryRow {
            at: wareki::datetime_jst(h.at),
            actor: h.actor_login.unwrap_or_default(),
            action: Action::from_code(&h.action)
                .map(|a| a.label().to_string())
                .unwrap_or(h.action),
            detail: h.detail.unwrap_or_default(),
        })
        .collect();
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("institution", &inst);
    ctx.insert(
        "category",
        &Category::from_code(&inst.category).map(Category::label),
    );
    ctx.insert(
        "status",
        &Status::from_code(&inst.status).map(Status::label),
    );
    ctx.insert("rule_exclusion", &rule);
    ctx.insert("form", &form);
    ctx.insert("errors", &errors);
    ctx.insert("notice", &notice);
    ctx.insert("municipalities", &municipalities);
    ctx.insert("history", &history);
    ctx.insert("account", &account);
    ctx.insert(
        "statuses",
        &Status::ALL
            .iter()
            .map(|s| (s.code(), s.label()))
            .collect::<Vec<_>>(),
    );
    let status = if errors.is_empty() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    ctx.html_status(status, "institutions/detail.html")
}

pub async fn detail(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    detail_page(
        &state,
        &viewer,
        &user,
        path.into_inner(),
        None,
        Default::default(),
        None,
    )
    .await
}

pub async fn update(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<EditInput>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (actor, input) = (user.actor(&viewer), form.clone());
    let saved = state
        .try_run(move |conn| edit::update(conn, &actor, id, &input))
        .await?;
    match saved {
        Ok(()) => {
            let notice = Some("保存しました。");
            detail_page(&state, &viewer, &user, id, None, Default::default(), notice).await
        }
        Err(edit::EditError::Fields(errors)) => {
            detail_page(&state, &viewer, &user, id, Some(form), errors, None).await
        }
        Err(e) => Err(e.into()),
    }
}
