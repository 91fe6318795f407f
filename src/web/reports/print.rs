//! Versions: the printout, the answers document (JSON) and the poster.

use super::{head, load, today};
use crate::web::views::report::{all_sections, answer_text, determination_view};
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::db::reports as store;
use crate::domain::catalog::Catalog;
use crate::domain::determination::{self};
use crate::domain::report::ReportKind;
use crate::domain::wareki;
use crate::services::reports::{self as service, Loaded, ReportError};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

// ----- versions: print, JSON, poster -----

async fn load_version(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
    number: Option<i32>,
) -> Result<(Loaded, store::VersionRow, Arc<Catalog>), AppError> {
    let l = load(state, user, id).await?;
    let number = number.unwrap_or(l.report.versions);
    let fiscal_year = l.report.fiscal_year;
    let catalogs = state.catalogs.clone();
    let (version, catalog) = state
        .run(move |conn| {
            let v = store::version(conn, id, number)?.ok_or(ReportError::NotFound)?;
            let catalog = catalogs.version(conn, fiscal_year, &v.catalog_version)?;
            Ok::<_, ReportError>((v, catalog))
        })
        .await?;
    Ok((l, version, catalog))
}

pub async fn version_print(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, i32)>,
) -> Result<HttpResponse, AppError> {
    let (id, number) = path.into_inner();
    let (l, v, catalog) = load_version(&state, &user, id, Some(number)).await?;
    let answers = service::parse_map(&v.answers);
    let ndb = service::parse_map(&v.ndb);
    let d = determination::determine(&catalog, &answers);
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("report", &head(&l));
    ctx.insert("institution", &l.institution);
    ctx.insert("number", &v.number);
    ctx.insert(
        "version_kind",
        ReportKind::from_code(&v.kind).map_or("", ReportKind::label),
    );
    ctx.insert("submitted_at", &wareki::datetime_jst(v.submitted_at));
    ctx.insert("submitted_login", &v.submitted_login);
    ctx.insert("proxy", &v.proxy);
    ctx.insert("catalog_version", &v.catalog_version);
    ctx.insert("sections", &all_sections(&catalog, &answers, &ndb));
    ctx.insert("determination", &determination_view(&d));
    ctx.insert("printed_on", &wareki::date_wareki(today()));
    ctx.html("reports/print.html")
}

pub async fn version_json(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(i32, i32)>,
) -> Result<HttpResponse, AppError> {
    let (id, number) = path.into_inner();
    let (l, v, _) = load_version(&state, &user, id, Some(number)).await?;
    let file = format!(
        "kakari-{}-fy{}-{}-v{}.json",
        l.institution.code, l.report.fiscal_year, l.report.cycle, v.number
    );
    Ok(HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .body(v.answers))
}

pub async fn poster(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (l, v, catalog) = load_version(&state, &user, id, None).await?;
    let answers = service::parse_map(&v.answers);
    let d = determination::determine(&catalog, &answers);
    // The 1-4 areas the institution treats, for the poster's list.
    let areas = catalog
        .item("1-4")
        .and_then(|item| answers.get("1-4").map(|v| answer_text(item, v)))
        .unwrap_or_default();
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("institution", &l.institution);
    ctx.insert("report", &head(&l));
    ctx.insert("determination", &determination_view(&d));
    ctx.insert("areas", &areas);
    ctx.insert("submitted_at", &wareki::datetime_jst(v.submitted_at));
    ctx.html("reports/poster.html")
}
