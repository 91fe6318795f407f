//! 公表: the public pages, without signing in and without a session (`Access::Open`):
//! residents search the published year's institutions, open one, read the summary
//! tables and the rules, and download the 公表用CSV and the tables. Only what
//! publishing put in the snapshot is reachable; a year not published is a 404.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::publication::PublicRow;
use crate::domain::catalog::{Catalog, Function};
use crate::domain::determination::Answers;
use crate::domain::export::{FileFormat, TextEncoding};
use crate::domain::institution::Category;
use crate::domain::publication::{CellMask, SummaryTables, TableBy};
use crate::services::publication::search::{self as public_search, PublicFilter};
use crate::services::publication::{self as service, public::Published};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::session::Viewer;
use crate::web::views;

/// Residents have no session: the pages are built for an anonymous viewer.
fn anonymous() -> Viewer {
    Viewer {
        user: None,
        session_id: None,
        csrf: String::new(),
        ip: None,
    }
}

async fn page(state: &AppState, published: Option<&Published>) -> Result<views::Page, AppError> {
    let mut page = views::Page::of(state, &anonymous()).await?;
    page.insert("published", &published);
    Ok(page)
}

/// GET /public: the published years; with one prefecture, its newest year at once.
pub async fn index(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let list = state.run(service::public::publications).await?;
    let prefectures: std::collections::BTreeSet<&String> = list.iter().map(|(c, _, _)| c).collect();
    if let ([(code, _, fy), ..], 1) = (list.as_slice(), prefectures.len()) {
        return Ok(crate::web::gate::see_other(&format!("/public/{code}/{fy}")));
    }
    let mut page = page(&state, None).await?;
    page.insert("list", &list);
    page.html("public/index.html")
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PublicQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    m: String,
    #[serde(default)]
    f1: String,
    #[serde(default)]
    fi: String,
    #[serde(default)]
    fro: String,
    #[serde(default)]
    fha: String,
    #[serde(default)]
    fni: String,
    #[serde(default)]
    area: String,
    #[serde(default)]
    disease: String,
    #[serde(default)]
    page: Option<i64>,
}

impl PublicQuery {
    fn filter(&self) -> PublicFilter {
        let number = |text: &str, most: i64| {
            crate::domain::normalize::digits(text)
                .and_then(|d| d.parse::<i64>().ok())
                .filter(|n| (1..=most).contains(n))
        };
        let key = crate::domain::normalize::search_key(&self.q);
        let functions2 = [&self.fi, &self.fro, &self.fha, &self.fni].map(|on| !on.is_empty());
        PublicFilter {
            municipality_id: self.m.trim().parse().ok(),
            name_key: (!key.is_empty()).then_some(key),
            function1: !self.f1.is_empty(),
            functions2,
            primary_area_bit: number(&self.area, 62).map(|n| 1i64 << n),
            disease_bit: number(&self.disease, 62).map(|n| 1i64 << n),
        }
    }

    /// The query without its page, for the pager's links.
    fn without_page(&self) -> String {
        let mut q = self.clone();
        q.page = None;
        serde_urlencoded::to_string(&q).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct Choice {
    code: i64,
    label: String,
}

fn choices(catalog: &Catalog, item: &str) -> Vec<Choice> {
    catalog.item(item).map_or_else(Vec::new, |i| {
        i.choices
            .iter()
            .filter(|c| c.code > 0)
            .map(|c| Choice {
                code: c.code,
                label: c.label.clone(),
            })
            .collect()
    })
}

#[derive(Serialize)]
struct RowView {
    code: String,
    name: String,
    category: &'static str,
    address: String,
    phone: Option<String>,
    municipality: String,
    functions: Vec<&'static str>,
}

type Has = fn(&PublicRow) -> bool;

const SHORT: [(&str, Has); 5] = [
    ("1号機能", |r| r.function1),
    ("時間外の診療", |r| r.after_hours),
    ("入退院時の支援", |r| r.admission_discharge),
    ("在宅医療", |r| r.home_care),
    ("介護との連携", |r| r.care_coordination),
];

fn row_view(r: PublicRow, names: &BTreeMap<i32, String>) -> RowView {
    RowView {
        functions: SHORT
            .iter()
            .filter(|(_, has)| has(&r))
            .map(|(label, _)| *label)
            .collect(),
        category: Category::from_code(&r.category).map_or("", |c| c.label()),
        municipality: r
            .municipality_id
            .and_then(|m| names.get(&m).cloned())
            .unwrap_or_default(),
        code: r.code,
        name: r.name,
        address: r.address,
        phone: r.phone,
    }
}

/// GET /public/{prefecture}/{fy}: the search.
pub async fn search(
    state: web::Data<AppState>,
    path: web::Path<(String, i32)>,
    query: web::Query<PublicQuery>,
) -> Result<HttpResponse, AppError> {
    let (prefecture, fy) = path.into_inner();
    let query = query.into_inner();
    let (filter, page_asked) = (query.filter(), query.page.unwrap_or(0));
    let (catalogs, indexes) = (state.catalogs.clone(), state.public_search.clone());
    let found = state
        .run(move |conn| {
            let published = service::public::published(conn, &prefecture, fy)?;
            let municipalities =
                crate::db::areas::municipalities_of(conn, published.prefecture_id)?;
            let catalog = catalogs.current(conn, fy)?;
            let found = public_search::search(conn, &indexes, &published, &filter, page_asked)?;
            Ok::<_, service::PublicationError>((published, municipalities, catalog, found))
        })
        .await?;
    let mut page = page(&state, Some(&found.0)).await?;
    search_view(&mut page, &query, found);
    page.html("public/search.html")
}

type Found = (
    Published,
    Vec<crate::db::areas::MunicipalityChoice>,
    std::sync::Arc<Catalog>,
    (Vec<PublicRow>, i64, i64),
);

fn search_view(page: &mut views::Page, query: &PublicQuery, found: Found) {
    let (_, municipalities, catalog, (rows, total, shown)) = found;
    let names: BTreeMap<i32, String> = municipalities
        .iter()
        .map(|m| (m.id, m.name.clone()))
        .collect();
    let rows: Vec<RowView> = rows.into_iter().map(|r| row_view(r, &names)).collect();
    let publication = crate::domain::publication::PRIMARY_AREAS_ITEM;
    page.insert("query", query);
    page.insert("municipalities", &municipalities);
    page.insert("areas", &choices(&catalog, publication));
    page.insert(
        "diseases",
        &choices(&catalog, crate::domain::publication::DISEASES_ITEM),
    );
    page.insert("rows", &rows);
    page.insert("total", &total);
    page.insert("page", &shown);
    page.insert("has_next", &((shown + 1) * public_search::PER_PAGE < total));
    page.insert("base_query", &query.without_page());
    page.insert("searched", &(query.filter() != PublicFilter::default()));
}

#[derive(Serialize)]
struct AnswerView {
    label: String,
    text: String,
}

#[derive(Serialize)]
struct SectionView {
    title: String,
    has: Option<bool>,
    answers: Vec<AnswerView>,
}

fn sections(catalog: &Catalog, row: &PublicRow, answers: &Answers) -> Vec<SectionView> {
    let has = |f: Function| match f {
        Function::Function1 => Some(row.function1),
        Function::AfterHours => Some(row.after_hours),
        Function::AdmissionDischarge => Some(row.admission_discharge),
        Function::HomeCare => Some(row.home_care),
        Function::CareCoordination => Some(row.care_coordination),
        Function::Other => None,
    };
    catalog
        .sections
        .iter()
        .map(|s| SectionView {
            title: s.title.clone(),
            has: has(s.function),
            answers: catalog
                .items
                .iter()
                .filter(|i| i.section == s.id && i.published)
                .filter_map(|i| {
                    let value = answers.get(&i.code)?;
                    let mut text = views::report::answer_text(i, value);
                    if let Some(Value::String(other)) = answers.get(&format!("{}:other", i.code)) {
                        text = format!("{text}（{other}）");
                    }
                    Some(AnswerView {
                        label: i.label.clone(),
                        text,
                    })
                })
                .collect(),
        })
        .collect()
}

/// GET /public/{prefecture}/{fy}/institutions/{code}: one institution as published.
pub async fn institution(
    state: web::Data<AppState>,
    path: web::Path<(String, i32, String)>,
) -> Result<HttpResponse, AppError> {
    let (prefecture, fy, code) = path.into_inner();
    let catalogs = state.catalogs.clone();
    let (published, (row, answers), catalog, municipality) = state
        .run(move |conn| {
            let published = service::public::published(conn, &prefecture, fy)?;
            let (row, answers) = service::public::institution(conn, &published, &code)?;
            let catalog = catalogs.current(conn, fy)?;
            let names = crate::db::exports::area_names(conn)?;
            let municipality = row.municipality_id.and_then(|m| names.get(&m).cloned());
            Ok::<_, service::PublicationError>((published, (row, answers), catalog, municipality))
        })
        .await?;
    let mut page = page(&state, Some(&published)).await?;
    page.insert("sections", &sections(&catalog, &row, &answers));
    page.insert("municipality", &municipality);
    page.insert(
        "confirmed_on",
        &row.confirmed_at.map(|t| {
            crate::domain::wareki::date_wareki(crate::domain::wareki::to_jst(t).date_naive())
        }),
    );
    page.insert("row", &row_view(row, &BTreeMap::new()));
    page.html("public/institution.html")
}

#[derive(Deserialize)]
pub struct TablesQuery {
    #[serde(default)]
    by: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    encoding: String,
}

#[derive(Serialize)]
pub(crate) struct TableRowView {
    name: String,
    group: Option<String>,
    cells: Vec<String>,
}

pub(crate) fn table_rows(tables: &SummaryTables, by: TableBy, mark: &str) -> Vec<TableRowView> {
    tables
        .rows(by)
        .iter()
        .chain(std::iter::once(&tables.total))
        .map(|r| TableRowView {
            name: r.name.clone(),
            group: r.group.clone(),
            cells: r
                .cells
                .iter()
                .map(|c| match c.mask {
                    CellMask::Shown => views::group_digits(c.value as i64),
                    _ => mark.to_string(),
                })
                .collect(),
        })
        .collect()
}

async fn tables_of(
    state: &AppState,
    prefecture: String,
    fy: i32,
) -> Result<(Published, SummaryTables), AppError> {
    state
        .run(move |conn| {
            let published = service::public::published(conn, &prefecture, fy)?;
            let tables = service::public::tables(conn, &published)?;
            Ok::<_, service::PublicationError>((published, tables))
        })
        .await
}

/// GET /public/{prefecture}/{fy}/tables: the summary tables, masked.
pub async fn tables(
    state: web::Data<AppState>,
    path: web::Path<(String, i32)>,
    query: web::Query<TablesQuery>,
) -> Result<HttpResponse, AppError> {
    let (prefecture, fy) = path.into_inner();
    let by = TableBy::from_code(&query.by).unwrap_or(TableBy::Municipality);
    let (published, tables) = tables_of(&state, prefecture, fy).await?;
    let mut page = page(&state, Some(&published)).await?;
    page.insert("by", by.code());
    page.insert("by_label", by.heading());
    page.insert("groupings", &TableBy::ALL.map(|b| (b.code(), b.label())));
    page.insert("columns", &tables.columns);
    page.insert("rows", &table_rows(&tables, by, &published.rules.mark));
    page.insert("hidden", &(tables.primaries, tables.complements));
    page.html("public/tables.html")
}

fn asked_file(query: &TablesQuery) -> (FileFormat, TextEncoding) {
    (
        FileFormat::from_code(&query.format).unwrap_or(FileFormat::Csv),
        TextEncoding::from_code(&query.encoding).unwrap_or(TextEncoding::Utf8Bom),
    )
}

/// GET /public/{prefecture}/{fy}/download/tables: one table as CSV or xlsx.
pub async fn tables_file(
    state: web::Data<AppState>,
    path: web::Path<(String, i32)>,
    query: web::Query<TablesQuery>,
) -> Result<HttpResponse, AppError> {
    let (prefecture, fy) = path.into_inner();
    let by = TableBy::from_code(&query.by).unwrap_or(TableBy::Municipality);
    let (format, encoding) = asked_file(&query);
    let (published, tables) = tables_of(&state, prefecture, fy).await?;
    let bytes = web::block(move || {
        service::files::in_memory(format, encoding, by.label(), |sheet| {
            service::write_tables(&tables, by, &published.rules, false, sheet)
        })
        .map(|b| (b, published))
    })
    .await??;
    let (bytes, published) = bytes;
    let name = format!(
        "{}_{}_集計表_{}.{}",
        published.prefecture_name,
        published.fiscal_year_label,
        by.label(),
        format.code()
    );
    Ok(download(bytes, &name, format, encoding))
}

pub(crate) fn download(
    bytes: Vec<u8>,
    name: &str,
    format: FileFormat,
    encoding: TextEncoding,
) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            crate::web::exports::content_type(format, encoding),
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            crate::web::institutions::content_disposition(name),
        ))
        .body(bytes)
}

/// GET /public/{prefecture}/{fy}/download/institutions: the 公表用CSV (or xlsx), made
/// once per publication and format and kept beside the exports.
pub async fn public_file(
    state: web::Data<AppState>,
    path: web::Path<(String, i32)>,
    query: web::Query<TablesQuery>,
) -> Result<HttpResponse, AppError> {
    let (prefecture, fy) = path.into_inner();
    let (format, encoding) = asked_file(&query);
    let data_dir = state.settings.data_dir.clone();
    let catalogs = state.catalogs.clone();
    let (file, published) = state
        .run(move |conn| {
            let published = service::public::published(conn, &prefecture, fy)?;
            let file = service::files::public_file(
                conn, &catalogs, &data_dir, &published, format, encoding,
            )?;
            Ok::<_, service::PublicationError>((file, published))
        })
        .await?;
    let bytes = web::block(move || std::fs::read(file))
        .await?
        .map_err(AppError::internal)?;
    let name = format!(
        "{}_{}_公表用.{}",
        published.prefecture_name,
        published.fiscal_year_label,
        format.code()
    );
    Ok(download(bytes, &name, format, encoding))
}

/// GET /public/{prefecture}/{fy}/rules: how the numbers were protected.
pub async fn rules(
    state: web::Data<AppState>,
    path: web::Path<(String, i32)>,
) -> Result<HttpResponse, AppError> {
    let (prefecture, fy) = path.into_inner();
    let published = state
        .run(move |conn| service::public::published(conn, &prefecture, fy))
        .await?;
    page(&state, Some(&published))
        .await?
        .html("public/rules.html")
}
