//! データ出力: 全項目CSV (prepared on the server in the background, then a result page
//! with the download), 宛先情報 (CSV and address labels) and 報告対象機関一覧. Every
//! page shows how many rows before the download; every download is in 操作履歴.

use std::collections::BTreeMap;
use std::path::PathBuf;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::db::exports::ReportFilter;
use crate::domain::export::{FileFormat, TextEncoding};
use crate::domain::report::ReportKind;
use crate::export::files::{self, Prepared};
use crate::services::By;
use crate::services::exports::{self as service, ReportExport, StatusChoice};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::institutions::content_disposition;
use crate::web::review::current_fiscal_year;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

mod lists;

pub use lists::{addresses, addresses_csv, labels, labels_css, targets, targets_csv};

/// GET /exports: what can be taken out.
pub async fn index(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, AppError> {
    let ctx = views::Page::of(&state, &viewer).await?;
    ctx.html("exports/index.html")
}

/// The 全項目CSV form as typed (query on GET, body on POST).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ReportForm {
    #[serde(default)]
    fy: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    jurisdiction: String,
    #[serde(default)]
    municipality: String,
    #[serde(default)]
    versions: String,
    #[serde(default)]
    encoding: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    codes: String,
    /// 「件数を確かめる」 (count) or 「ファイルを作成する」.
    #[serde(default)]
    step: String,
}

type Errors = BTreeMap<&'static str, String>;

/// What the form asks, read.
struct Asked {
    request: ReportExport,
    encoding: TextEncoding,
    format: FileFormat,
}

impl ReportForm {
    fn fiscal_year(&self) -> Option<i32> {
        let typed = crate::domain::normalize::nfkc(self.fy.trim());
        if typed.is_empty() {
            return Some(current_fiscal_year());
        }
        typed.parse().ok().filter(|y| (2024..=2100).contains(y))
    }

    fn read(&self) -> Result<Asked, Errors> {
        let mut errors = Errors::new();
        let fy = self.fiscal_year();
        if fy.is_none() {
            errors.insert("fy", "年度を選んでください".into());
        }
        let status = match self.status.as_str() {
            "" => Some(StatusChoice::Confirmed),
            code => StatusChoice::from_code(code),
        };
        if status.is_none() {
            errors.insert("status", "状態を選んでください".into());
        }
        let kind = match self.kind.as_str() {
            "" => None,
            code => match ReportKind::from_code(code) {
                Some(k) => Some(k.code().to_string()),
                None => {
                    errors.insert("kind", "種類を選んでください".into());
                    None
                }
            },
        };
        let area = |text: &str, field: &'static str, errors: &mut Errors| match text {
            "" => None,
            t => t.parse::<i32>().ok().or_else(|| {
                errors.insert(field, "一覧から選んでください".into());
                None
            }),
        };
        let jurisdiction_id = area(&self.jurisdiction, "jurisdiction", &mut errors);
        let municipality_id = area(&self.municipality, "municipality", &mut errors);
        let encoding = match self.encoding.as_str() {
            "" => Some(TextEncoding::Utf8Bom),
            code => TextEncoding::from_code(code),
        };
        let format = match self.format.as_str() {
            "" => Some(FileFormat::Csv),
            code => FileFormat::from_code(code),
        };
        if encoding.is_none() {
            errors.insert("encoding", "文字コードを選んでください".into());
        }
        if format.is_none() {
            errors.insert("format", "ファイルの形式を選んでください".into());
        }
        match (fy, status, encoding, format, errors.is_empty()) {
            (Some(fiscal_year), Some(status), Some(encoding), Some(format), true) => Ok(Asked {
                request: ReportExport {
                    filter: ReportFilter {
                        fiscal_year,
                        statuses: status.statuses(),
                        kind,
                        jurisdiction_id,
                        municipality_id,
                    },
                    all_versions: self.versions == "all",
                    codes: self.codes == "1",
                },
                encoding,
                format,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Serialize)]
struct Choice {
    code: &'static str,
    label: &'static str,
}

async fn reports_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    form: ReportForm,
    mut errors: Errors,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope;
    let asked = form.read();
    let actor = user.actor(viewer);
    let (areas, count) = state
        .run(move |conn| {
            let areas = super::institutions::choices(conn, scope)?;
            let count = match &asked {
                Ok(a) => Some(service::count_reports(
                    conn,
                    By::Officer(&actor),
                    &a.request,
                )?),
                Err(_) => None,
            };
            Ok::<_, service::ExportError>((areas, count))
        })
        .await?;
    if let Err(e) = form.read() {
        errors.extend(e);
    }
    let mut ctx = views::Page::of(state, viewer).await?;
    let fy = form.fiscal_year().unwrap_or_else(current_fiscal_year);
    ctx.insert("form", &form);
    ctx.insert("fiscal_year", &fy);
    ctx.insert("years", &(fy - 2..=fy + 1).rev().collect::<Vec<_>>());
    ctx.insert("count", &count);
    ctx.insert("errors", &errors);
    ctx.insert("jurisdictions", &areas.jurisdictions);
    ctx.insert("municipalities", &areas.municipalities);
    let statuses: Vec<Choice> = StatusChoice::ALL
        .into_iter()
        .map(|s| Choice {
            code: s.code(),
            label: s.label(),
        })
        .collect();
    ctx.insert("statuses", &statuses);
    let encodings: Vec<Choice> = TextEncoding::ALL
        .into_iter()
        .map(|e| Choice {
            code: e.code(),
            label: e.label(),
        })
        .collect();
    ctx.insert("encodings", &encodings);
    let status = if errors.is_empty() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    ctx.html_status(status, "exports/reports.html")
}

/// GET /exports/reports: the form, with the number of rows for what it says.
pub async fn reports_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<ReportForm>,
) -> Result<HttpResponse, AppError> {
    reports_page(&state, &viewer, &user, query.into_inner(), Errors::new()).await
}

/// POST /exports/reports: starts writing the file and shows its progress.
pub async fn reports_prepare(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    form: CsrfForm<ReportForm>,
) -> Result<HttpResponse, AppError> {
    let asked = match form.0.read() {
        Ok(asked) if form.0.step != "count" => asked,
        _ => return reports_page(&state, &viewer, &user, form.0, Errors::new()).await,
    };
    let actor = user.actor(&viewer);
    let now = Utc::now().naive_utc();
    let request = asked.request.clone();
    let extension = asked.format.code();
    let (total, file_name) = state
        .run(move |conn| {
            let by = By::Officer(&actor);
            let fy = Some(request.filter.fiscal_year);
            let total = service::count_reports(conn, by, &request)?;
            let name = service::file_name(conn, by, fy, "全項目", extension, now)?;
            Ok::<_, service::ExportError>((total, name))
        })
        .await?;
    let total = usize::try_from(total).unwrap_or(0);
    let prepared = record(user.id, file_name, &asked, total, now);
    let data_dir = state.settings.data_dir.clone();
    files::save(&data_dir, &prepared).map_err(AppError::internal)?;
    let job = service::Job {
        pool: state.pool.clone(),
        catalogs: state.catalogs.clone(),
        data_dir,
        actor: user.actor(&viewer),
        request: asked.request,
        encoding: asked.encoding,
        format: asked.format,
        prepared: prepared.clone(),
    };
    service::start(job).map_err(AppError::internal)?;
    Ok(see_other(&format!("/exports/files/{}", prepared.token)))
}

/// The record of a file about to be written: nothing written yet.
fn record(
    owner: i32,
    file_name: String,
    asked: &Asked,
    total: usize,
    now: chrono::NaiveDateTime,
) -> Prepared {
    Prepared {
        token: files::new_token(),
        owner,
        title: "全項目CSV".into(),
        file_name,
        extension: asked.format.code().into(),
        content_type: content_type(asked.format, asked.encoding).into(),
        total,
        written: 0,
        columns: 0,
        replaced: 0,
        encoding: asked.encoding.code().into(),
        done: false,
        error: None,
        created_at: now,
    }
}

pub(crate) fn content_type(format: FileFormat, encoding: TextEncoding) -> &'static str {
    match (format, encoding) {
        (FileFormat::Xlsx, _) => {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        }
        (FileFormat::Csv, TextEncoding::Cp932) => "text/csv; charset=Shift_JIS",
        (FileFormat::Csv, _) => "text/csv; charset=utf-8",
    }
}

/// GET /exports/files/{token}: progress while the file is written, then the result.
pub async fn prepared(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let p = files::load(&state.settings.data_dir, &path, user.id).ok_or(AppError::NotFound)?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    let percent = (p.written * 100)
        .checked_div(p.total)
        .unwrap_or(100)
        .min(100);
    ctx.insert("p", &p);
    ctx.insert("percent", &percent);
    ctx.insert(
        "replacement",
        &crate::domain::export::CP932_REPLACEMENT.to_string(),
    );
    ctx.html("exports/prepared.html")
}

/// GET /exports/files/{token}/download: the file, read from disk in pieces.
pub async fn download(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let data_dir = state.settings.data_dir.clone();
    let p = files::load(&data_dir, &path, user.id).ok_or(AppError::NotFound)?;
    if !p.done || p.error.is_some() {
        return Err(AppError::NotFound);
    }
    let file_path: PathBuf = files::data_path(&data_dir, &p);
    let file = std::fs::File::open(&file_path).map_err(|_| AppError::NotFound)?;
    let length = file.metadata().map_err(AppError::internal)?.len();
    let body = actix_web::body::SizedStream::new(length, chunks(file));
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, p.content_type.clone()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(&p.file_name),
        ))
        .body(body))
}

/// The file as a stream of 256 KB pieces, each read off the async threads.
fn chunks(
    file: std::fs::File,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> {
    use std::io::Read;
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = web::block(move || {
            let mut buf = vec![0u8; 256 * 1024];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((buf, file))
        })
        .await;
        match read {
            Ok(Ok((buf, _))) if buf.is_empty() => None,
            Ok(Ok((buf, file))) => Some((Ok(web::Bytes::from(buf)), Some(file))),
            Ok(Err(e)) => Some((Err(actix_web::error::ErrorInternalServerError(e)), None)),
            Err(e) => Some((Err(actix_web::error::ErrorInternalServerError(e)), None)),
        }
    })
}
