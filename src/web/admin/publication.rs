//! 公表 for administrators: the publication rules, the municipalities' populations,
//! and per fiscal year a preview of what becomes public, then publish or take down.

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::export::{FileFormat, TextEncoding};
use crate::domain::publication::{RulesInput, TableBy};
use crate::services::By;
use crate::services::publication::{self as service, PublicationError};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::upload::{self, Refusal};
use crate::web::views;

/// What the settings page shows besides its own form.
struct Shown {
    form: Option<RulesInput>,
    errors: BTreeMap<&'static str, String>,
    notice: Option<String>,
    problems: Vec<String>,
    status: StatusCode,
}

impl Shown {
    fn plain(notice: Option<String>) -> Shown {
        Shown {
            form: None,
            errors: BTreeMap::new(),
            notice,
            problems: Vec::new(),
            status: StatusCode::OK,
        }
    }
}

async fn settings_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    shown: Shown,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor(viewer);
    let (prefecture, rules, populations, years) = state
        .run(move |conn| {
            let (id, name) = service::prefecture_of(conn, By::Officer(&actor))?;
            let rules = service::rules(conn, id)?;
            let populations = service::population_state(conn, id)?;
            Ok::<_, PublicationError>((name, rules, populations, service::years(conn, id)?))
        })
        .await?;
    let mut page = views::Page::of(state, viewer).await?;
    page.insert("prefecture", &prefecture);
    page.insert(
        "form",
        &shown.form.unwrap_or_else(|| RulesInput::from(&rules)),
    );
    page.insert("notes", &rules.notes());
    page.insert("errors", &shown.errors);
    page.insert("notice", &shown.notice);
    page.insert("problems", &shown.problems);
    page.insert("populations", &populations);
    page.insert("years", &years);
    page.html_status(shown.status, "admin/publication.html")
}

/// GET /admin/publication (`?done=` after publishing or taking down).
pub async fn settings(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<BTreeMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let notice = done_notice(&query);
    settings_page(&state, &viewer, &user, Shown::plain(notice)).await
}

/// What the page says after publishing or taking a year down.
fn done_notice(query: &BTreeMap<String, String>) -> Option<String> {
    let year = query
        .get("fy")
        .and_then(|fy| fy.parse().ok())
        .map(crate::domain::wareki::fiscal_year_label)
        .unwrap_or_default();
    let count = query
        .get("n")
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or(0);
    match query.get("done").map(String::as_str) {
        Some("published") => Some(format!(
            "{year}を公表しました（{} 機関）。公表ページに反映されています。",
            views::group_digits(count)
        )),
        Some("unpublished") => Some(format!(
            "{year}の公表を取り下げました。公表ページには表示されません。"
        )),
        Some("none") => Some(format!("{year}は公表されていませんでした。")),
        _ => None,
    }
}

/// POST /admin/publication/rules
pub async fn save_rules(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<RulesInput>,
) -> Result<HttpResponse, AppError> {
    let (actor, input) = (user.actor(&viewer), form.clone());
    let saved = state
        .try_run(move |conn| {
            let (id, _) = service::prefecture_of(conn, By::Officer(&actor))?;
            service::save_rules(conn, By::Officer(&actor), id, &input)
        })
        .await?;
    let shown = match saved {
        Ok(_) => Shown::plain(Some(
            "公表ルールを保存しました。次に公表するときから使われます。".into(),
        )),
        Err(PublicationError::Fields(errors)) => Shown {
            form: Some(form),
            errors,
            status: StatusCode::UNPROCESSABLE_ENTITY,
            ..Shown::plain(None)
        },
        Err(e) => return Err(e.into()),
    };
    settings_page(&state, &viewer, &user, shown).await
}

/// POST /admin/publication/population: a file of municipality codes and populations.
pub async fn population(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let max_mb = state.settings.max_upload_mb;
    let upload = match upload::receive(&req, payload, &viewer.csrf, max_mb).await {
        Ok(upload) => upload,
        Err(refusal) => return refused(&state, &viewer, &user, refusal).await,
    };
    let actor = user.actor(&viewer);
    let imported = state
        .try_run(move |conn| {
            let by = By::Officer(&actor);
            let (id, _) = service::prefecture_of(conn, by)?;
            service::import_population(conn, by, id, &upload.file_name, &upload.bytes)
        })
        .await?;
    let shown = match imported {
        Ok(n) => Shown::plain(Some(format!("{n} 市区町村の人口を取り込みました。"))),
        Err(PublicationError::Population(problems)) => Shown {
            problems,
            status: StatusCode::UNPROCESSABLE_ENTITY,
            ..Shown::plain(None)
        },
        Err(e) => return Err(e.into()),
    };
    settings_page(&state, &viewer, &user, shown).await
}

async fn refused(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    refusal: Refusal,
) -> Result<HttpResponse, AppError> {
    match refusal {
        Refusal::Page(message, status) => {
            let problems = vec![message];
            let shown = Shown {
                problems,
                status,
                ..Shown::plain(None)
            };
            settings_page(state, viewer, user, shown).await
        }
        Refusal::Error(e) => Err(e),
    }
}

/// GET /admin/publication/{fy}: what publishing would make public now.
pub async fn preview(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let fy = path.into_inner();
    let (actor, catalogs) = (user.actor(&viewer), state.catalogs.clone());
    let (prefecture, code, preview) = state
        .run(move |conn| {
            let (id, name) = service::prefecture_of(conn, By::Officer(&actor))?;
            let code = crate::db::areas::code_of(conn, id)?;
            let preview = service::preview(conn, &catalogs, By::Officer(&actor), id, fy)?;
            Ok::<_, PublicationError>((name, code, preview))
        })
        .await?;
    let mut page = views::Page::of(&state, &viewer).await?;
    page.insert("prefecture", &prefecture);
    page.insert("prefecture_code", &code);
    page.insert("fiscal_year", &fy);
    preview_view(&mut page, preview);
    page.html("admin/publication_preview.html")
}

fn preview_view(page: &mut views::Page, preview: service::Preview) {
    let tables = preview.built.tables.clone().published();
    let mark = &preview.rules.mark;
    let rows = super::super::public::table_rows(&tables, TableBy::Municipality, mark);
    let confirmed_until = preview
        .built
        .confirmed_until
        .map(crate::domain::wareki::datetime_jst);
    let published_on = preview
        .published
        .as_ref()
        .map(|p| crate::domain::wareki::datetime_jst(p.published_at));
    page.insert("institutions", &preview.built.institutions);
    page.insert("confirmed_until", &confirmed_until);
    page.insert("hidden", &(tables.primaries, tables.complements));
    page.insert("columns", &tables.columns);
    page.insert("rows", &rows);
    page.insert("notes", &preview.rules.notes());
    page.insert("populations", &preview.populations);
    page.insert("published_on", &published_on);
}

/// POST /admin/publication/{fy}/publish and …/unpublish.
pub async fn change(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, String)>,
    _csrf: CsrfForm<BTreeMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let (fy, action) = path.into_inner();
    let (actor, catalogs) = (user.actor(&viewer), state.catalogs.clone());
    let publish = match action.as_str() {
        "publish" => true,
        "unpublish" => false,
        _ => return Err(AppError::NotFound),
    };
    let done = state
        .run(move |conn| {
            let by = By::Officer(&actor);
            let (id, _) = service::prefecture_of(conn, by)?;
            if publish {
                let built = service::publish(conn, &catalogs, by, id, fy)?;
                Ok::<_, PublicationError>(format!("published&fy={fy}&n={}", built.institutions))
            } else {
                let was = service::unpublish(conn, by, id, fy)?;
                Ok(format!(
                    "{}&fy={fy}",
                    if was { "unpublished" } else { "none" }
                ))
            }
        })
        .await?;
    Ok(see_other(&format!("/admin/publication?done={done}")))
}

#[derive(serde::Deserialize)]
pub struct RawQuery {
    #[serde(default)]
    by: String,
}

/// GET /admin/publication/{fy}/raw: a published table without its masks, for checking
/// (recorded in 操作履歴).
pub async fn raw_tables(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    query: web::Query<RawQuery>,
) -> Result<HttpResponse, AppError> {
    let fy = path.into_inner();
    let by = TableBy::from_code(&query.by).unwrap_or(TableBy::Municipality);
    let actor = user.actor(&viewer);
    let (bytes, prefecture) = state
        .run(move |conn| {
            let (id, name) = service::prefecture_of(conn, By::Officer(&actor))?;
            let (_, tables, rules) =
                service::published_tables(conn, By::Officer(&actor), id, fy, true)?;
            let bytes = service::files::in_memory(
                FileFormat::Csv,
                TextEncoding::Utf8Bom,
                "確認用",
                |sheet| service::write_tables(&tables, by, &rules, true, sheet),
            )?;
            Ok::<_, PublicationError>((bytes, name))
        })
        .await?;
    let name = format!(
        "{prefecture}_{}_集計表_{}_伏せ字なし確認用.csv",
        crate::domain::wareki::fiscal_year_label(fy),
        by.label()
    );
    Ok(super::super::public::download(
        bytes,
        &name,
        FileFormat::Csv,
        TextEncoding::Utf8Bom,
    ))
}
