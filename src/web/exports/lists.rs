//! 宛先情報 (CSV and A4 address labels) and 報告対象機関一覧 (CSV).

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Serialize;

use crate::domain::export::{LabelSheet, TextEncoding};
use crate::domain::institution::Category;
use crate::export::{CsvSheet, Sheet};
use crate::services::By;
use crate::services::exports::lists::{self, ADDRESS_HEADER, ListRequest, TARGET_HEADER, Who};
use crate::services::exports::{self as service, ExportError};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::institutions::content_disposition;
use crate::web::review::ReviewQuery;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

/// Keys of the list pages besides the review search's.
const OWN_KEYS: [&str; 12] = [
    "who", "encoding", "columns", "rows", "width", "height", "top", "left", "pitch_x", "pitch_y",
    "csrf", "print",
];

/// A list as asked: whose addresses, which kind, the search carried from 報告状況.
struct Asked {
    request: ListRequest,
    pairs: Vec<(String, String)>,
}

impl Asked {
    fn parse(pairs: Vec<(String, String)>) -> Result<Asked, AppError> {
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let search = ReviewQuery::from_pairs(&pairs, &OWN_KEYS)?;
        let filter = search
            .filter()
            .map_err(|e| AppError::BadRequest(e.into_values().collect::<Vec<_>>().join(" ")))?;
        Ok(Asked {
            request: ListRequest {
                fiscal_year: search.fiscal_year(),
                who: Who::from_code(&get("who")).unwrap_or(Who::Targets),
                category: Category::from_code(&get("category")),
                search: filter,
            },
            pairs,
        })
    }

    fn get(&self, key: &str) -> String {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// The search and the list's choice, for the labels form's hidden fields.
    fn carried_with_who(&self) -> Vec<&(String, String)> {
        self.pairs
            .iter()
            .filter(|(k, _)| !OWN_KEYS.contains(&k.as_str()) || k == "who")
            .collect()
    }

    /// The query to carry to the CSV and labels links (without the page's own fields).
    fn query_string(&self) -> String {
        let kept: Vec<&(String, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| !["encoding", "csrf", "print"].contains(&k.as_str()))
            .collect();
        serde_urlencoded::to_string(kept).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct Choice {
    code: &'static str,
    label: &'static str,
}

/// GET /exports/addresses: whose addresses, how many, and the two ways to take them.
pub async fn addresses(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let asked = Asked::parse(query.into_inner())?;
    let actor = user.actor(&viewer);
    let request = asked.request.clone();
    let count = state
        .run(move |conn| lists::count(conn, By::Officer(&actor), &request))
        .await?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    let whos: Vec<Choice> = Who::ALL
        .into_iter()
        .map(|w| Choice {
            code: w.code(),
            label: w.label(),
        })
        .collect();
    ctx.insert("whos", &whos);
    ctx.insert("who", asked.request.who.code());
    ctx.insert("category", &asked.get("category"));
    ctx.insert("fiscal_year", &asked.request.fiscal_year);
    ctx.insert("count", &count);
    ctx.insert("query", &asked.query_string());
    let carried: Vec<&(String, String)> = asked
        .pairs
        .iter()
        .filter(|(k, _)| !["who", "category", "csrf"].contains(&k.as_str()))
        .collect();
    ctx.insert("carried", &carried);
    ctx.insert("sheet", &SheetForm::of(&LabelSheet::default()));
    ctx.html("exports/addresses.html")
}

/// GET /exports/addresses.csv
pub async fn addresses_csv(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let asked = Asked::parse(query.into_inner())?;
    let encoding = TextEncoding::from_code(&asked.get("encoding")).unwrap_or(TextEncoding::Utf8Bom);
    let actor = user.actor(&viewer);
    let request = asked.request.clone();
    let now = Utc::now().naive_utc();
    let (name, rows) = state
        .run(move |conn| {
            let by = By::Officer(&actor);
            let rows = lists::addresses(conn, by, &request, Some("宛先情報CSV"))?;
            let fy = Some(request.fiscal_year);
            let name = service::file_name(conn, by, fy, "宛先情報", "csv", now)?;
            Ok::<_, ExportError>((name, rows))
        })
        .await?;
    let cells: Vec<[&str; 9]> = rows.iter().map(lists::Address::cells).collect();
    csv_download(&name, encoding, &ADDRESS_HEADER, &cells)
}

/// A small list as a CSV download in the asked encoding (the lists hold one line per
/// institution; the 全項目 file is the one that is streamed).
fn csv_download<R: AsRef<[S]>, S: AsRef<str>>(
    name: &str,
    encoding: TextEncoding,
    header: &[&str],
    rows: &[R],
) -> Result<HttpResponse, AppError> {
    let mut bytes = Vec::new();
    let mut sheet = Box::new(CsvSheet::new(&mut bytes, encoding).map_err(AppError::internal)?);
    sheet.text_row(header).map_err(AppError::internal)?;
    for r in rows {
        sheet.text_row(r.as_ref()).map_err(AppError::internal)?;
    }
    sheet.finish().map_err(AppError::internal)?;
    let charset = match encoding {
        TextEncoding::Cp932 => "Shift_JIS",
        _ => "utf-8",
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, format!("text/csv; charset={charset}")))
        .insert_header((header::CONTENT_DISPOSITION, content_disposition(name)))
        .body(bytes))
}

/// The label sheet's fields as typed (kept when wrong).
#[derive(Debug, Clone, Serialize)]
struct SheetForm {
    columns: String,
    rows: String,
    width: String,
    height: String,
    top: String,
    left: String,
    pitch_x: String,
    pitch_y: String,
}

impl SheetForm {
    fn of(s: &LabelSheet) -> SheetForm {
        SheetForm {
            columns: s.columns.to_string(),
            rows: s.rows.to_string(),
            width: s.width.to_string(),
            height: s.height.to_string(),
            top: s.top.to_string(),
            left: s.left.to_string(),
            pitch_x: s.pitch_x.to_string(),
            pitch_y: s.pitch_y.to_string(),
        }
    }

    fn from_asked(asked: &Asked) -> SheetForm {
        let d = SheetForm::of(&LabelSheet::default());
        let pick = |key: &str, default: String| {
            let v = asked.get(key);
            if v.trim().is_empty() { default } else { v }
        };
        SheetForm {
            columns: pick("columns", d.columns),
            rows: pick("rows", d.rows),
            width: pick("width", d.width),
            height: pick("height", d.height),
            top: pick("top", d.top),
            left: pick("left", d.left),
            pitch_x: pick("pitch_x", d.pitch_x),
            pitch_y: pick("pitch_y", d.pitch_y),
        }
    }

    /// The sheet, or the messages by field (full-width digits accepted).
    fn read(&self) -> Result<LabelSheet, BTreeMap<&'static str, String>> {
        let mut errors = BTreeMap::new();
        let mut number = |field: &'static str, text: &str| -> f64 {
            let text = crate::domain::normalize::nfkc(text.trim());
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() && (0.0..=300.0).contains(&v) => v,
                _ => {
                    errors.insert(field, "0〜300 の数（mm）で入力してください".to_string());
                    0.0
                }
            }
        };
        let sheet = LabelSheet {
            columns: number("columns", &self.columns) as u32,
            rows: number("rows", &self.rows) as u32,
            width: number("width", &self.width),
            height: number("height", &self.height),
            top: number("top", &self.top),
            left: number("left", &self.left),
            pitch_x: number("pitch_x", &self.pitch_x),
            pitch_y: number("pitch_y", &self.pitch_y),
        };
        if errors.is_empty() {
            errors.extend(sheet.problems());
        }
        if errors.is_empty() {
            Ok(sheet)
        } else {
            Err(errors)
        }
    }
}

#[derive(Serialize)]
struct Label<'a> {
    column: u32,
    row: u32,
    address: &'a lists::Address,
}

/// The labels, one list per A4 sheet, each with its column and row on it.
fn on_sheets<'a>(rows: &'a [lists::Address], sheet: Option<&LabelSheet>) -> Vec<Vec<Label<'a>>> {
    let per = sheet.map_or(12, LabelSheet::per_sheet).max(1);
    let columns = sheet.map_or(2, |s| s.columns).max(1);
    rows.chunks(per)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .map(|(i, address)| Label {
                    column: i as u32 % columns,
                    row: i as u32 / columns,
                    address,
                })
                .collect()
        })
        .collect()
}

/// GET /exports/labels: the address labels, one A4 sheet per page, placed by a
/// stylesheet made from the sheet's measures (no inline style: the CSP forbids it).
pub async fn labels(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let asked = Asked::parse(query.into_inner())?;
    let form = SheetForm::from_asked(&asked);
    let sheet = form.read();
    let actor = user.actor(&viewer);
    let request = asked.request.clone();
    let printing = sheet.is_ok() && asked.get("print") == "1";
    let rows = state
        .run(move |conn| {
            let audit = printing.then_some("宛先ラベル");
            lists::addresses(conn, By::Officer(&actor), &request, audit)
        })
        .await?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    let pages = on_sheets(&rows, sheet.as_ref().ok());
    ctx.insert("pages", &pages);
    ctx.insert("count", &rows.len());
    ctx.insert("sheet", &form);
    ctx.insert("errors", &sheet.as_ref().err().cloned().unwrap_or_default());
    ctx.insert("css_query", &asked.query_string());
    ctx.insert("carried", &asked.carried_with_who());
    let status = if sheet.is_ok() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    ctx.html_status(status, "exports/labels.html")
}

/// GET /exports/labels.css: where the labels go on the sheet.
pub async fn labels_css(
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let asked = Asked::parse(query.into_inner())?;
    let sheet = SheetForm::from_asked(&asked).read().unwrap_or_default();
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .body(sheet.css()))
}

/// GET /exports/targets: how many targets, and the CSV.
pub async fn targets(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let asked = Asked::parse(query.into_inner())?;
    let actor = user.actor(&viewer);
    let request = ListRequest {
        who: Who::Targets,
        category: None,
        ..asked.request.clone()
    };
    let count = state
        .run(move |conn| lists::count(conn, By::Officer(&actor), &request))
        .await?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    let fy = asked.request.fiscal_year;
    ctx.insert("count", &count);
    ctx.insert("fiscal_year", &fy);
    ctx.insert("years", &(fy - 2..=fy + 1).rev().collect::<Vec<_>>());
    ctx.html("exports/targets.html")
}

/// GET /exports/targets.csv
pub async fn targets_csv(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let asked = Asked::parse(query.into_inner())?;
    let encoding = TextEncoding::from_code(&asked.get("encoding")).unwrap_or(TextEncoding::Utf8Bom);
    let actor = user.actor(&viewer);
    let fy = asked.request.fiscal_year;
    let now = Utc::now().naive_utc();
    let (name, rows) = state
        .run(move |conn| {
            let by = By::Officer(&actor);
            let rows = lists::targets(conn, by, fy, now)?;
            let name = service::file_name(conn, by, Some(fy), "報告対象機関一覧", "csv", now)?;
            Ok::<_, ExportError>((name, rows))
        })
        .await?;
    csv_download(&name, encoding, &TARGET_HEADER, &rows)
}
