//! 紙報告 (issue 18) for officers: the paper reporters per health center, and the paper
//! flag set or cleared in bulk from the institution search (a preview, then the change).

use actix_web::{HttpResponse, web};
use chrono::Utc;

use crate::services::paper::PaperError;
use crate::services::paper::targets::{self as service, Chosen};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::institutions::SearchQuery;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

/// GET /paper: paper reporters per health center, where printing starts.
pub async fn index(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope;
    let (lines, total) = state
        .run(move |conn| service::by_center(conn, scope))
        .await?;
    let mut page = views::Page::of(&state, &viewer).await?;
    page.insert("lines", &lines);
    page.insert("total", &total);
    page.html("paper/index.html")
}

/// What the search page sent: its filters, the ticked institutions, set or clear, and
/// whether every result is meant.
struct FlagRequest {
    search: SearchQuery,
    /// The search's fields as sent (those with a value), carried on by the preview.
    search_pairs: Vec<(String, String)>,
    ticked: Vec<i32>,
    paper: bool,
    all: bool,
}

impl FlagRequest {
    fn parse(pairs: Vec<(String, String)>) -> Result<FlagRequest, AppError> {
        let value = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let ticked = pairs
            .iter()
            .filter(|(k, _)| k == "institution")
            .filter_map(|(_, v)| v.parse().ok())
            .collect();
        let (paper, all) = (value("set") == Some("1"), value("all") == Some("1"));
        let rest: Vec<&(String, String)> = pairs
            .iter()
            .filter(|(k, _)| {
                !["institution", "set", "all", "csrf", "expected"].contains(&k.as_str())
            })
            .collect();
        let search_pairs: Vec<(String, String)> = rest
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let encoded = serde_urlencoded::to_string(&rest).map_err(AppError::internal)?;
        let search = serde_urlencoded::from_str(&encoded)
            .map_err(|e| AppError::BadRequest(format!("検索条件を読み取れませんでした ({e})")))?;
        Ok(FlagRequest {
            search,
            search_pairs,
            ticked,
            paper,
            all,
        })
    }
}

/// Rows the preview lists; the count tells the rest.
const LISTED: usize = 500;

/// GET /paper/flags: exactly which institutions the change would touch.
pub async fn flags_preview(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let asked = FlagRequest::parse(query.into_inner())?;
    let filter = asked.search.filter().map_err(AppError::BadRequest)?;
    let (scope, ticked, paper, all) = (user.scope, asked.ticked.clone(), asked.paper, asked.all);
    let preview = state
        .try_run(move |conn| {
            let chosen = if all {
                Chosen::Search(&filter)
            } else {
                Chosen::Ticked(&ticked)
            };
            service::preview(conn, scope, chosen, paper)
        })
        .await?;
    let mut page = views::Page::of(&state, &viewer).await?;
    match preview {
        Ok(preview) => {
            page.insert(
                "listed",
                &preview.rows.iter().take(LISTED).collect::<Vec<_>>(),
            );
            page.insert("more", &preview.rows.len().saturating_sub(LISTED));
            page.insert("preview", &preview);
        }
        Err(PaperError::Invalid(message)) => page.insert("problem", &message),
        Err(e) => return Err(e.into()),
    }
    page.insert("base_query", &asked.search.base_query());
    page.insert("search_pairs", &asked.search_pairs);
    page.insert("all", &all);
    page.insert("paper", &paper);
    page.html("paper/flags.html")
}

/// POST /paper/flags: the change the preview showed. For 「検索結果すべて」 the search
/// runs again and must find as many as the preview did, or nothing changes.
pub async fn flags_apply(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let expected: Option<usize> = pairs
        .iter()
        .find(|(k, _)| k == "expected")
        .and_then(|(_, v)| v.parse().ok());
    let asked = FlagRequest::parse(pairs)?;
    let filter = asked.search.filter().map_err(AppError::BadRequest)?;
    let (actor, paper) = (user.actor(&viewer), asked.paper);
    let (ticked, all) = (asked.ticked, asked.all);
    let done = state
        .try_run(move |conn| {
            let ids = if all {
                let found = crate::db::paper::matching_ids(conn, actor.scope, &filter)?;
                if Some(found.len()) != expected {
                    return Err(PaperError::Invalid(
                        "確認画面の後に検索結果が変わりました。もう一度確認してください。".into(),
                    ));
                }
                found
            } else {
                ticked
            };
            service::apply(conn, &actor, &ids, paper, Utc::now().naive_utc())
        })
        .await?;
    let mut page = views::Page::of(&state, &viewer).await?;
    match done {
        Ok(changed) => page.insert("changed", &changed),
        Err(PaperError::Invalid(message)) => page.insert("problem", &message),
        Err(e) => return Err(e.into()),
    }
    page.insert("base_query", &asked.search.base_query());
    page.insert("paper", &paper);
    page.html("paper/flags.html")
}

#[derive(serde::Deserialize, Default)]
pub struct FormsQuery {
    #[serde(default)]
    fy: Option<i32>,
    #[serde(default)]
    jurisdiction: Option<i32>,
}

/// One institution's printed form: its facts, and each section's items as the entry
/// screen shows them, pre-printed values marked with where they came from.
#[derive(serde::Serialize)]
struct PrintedForm {
    card: crate::db::institutions::InstitutionCard,
    sections: Vec<PrintedSection>,
}

#[derive(serde::Serialize)]
struct PrintedSection {
    title: String,
    items: Vec<PrintedItem>,
}

#[derive(serde::Serialize)]
struct PrintedItem {
    #[serde(flatten)]
    item: crate::web::views::report::ItemView,
    /// 「NDB」 or 「前回」 when the value is pre-printed.
    preprinted: Option<&'static str>,
}

fn printed(forms: &crate::services::paper::forms::Forms) -> Vec<PrintedForm> {
    use crate::web::views::report::item_views;
    let no_errors = std::collections::BTreeMap::new();
    forms
        .forms
        .iter()
        .map(|f| PrintedForm {
            card: f.card.clone(),
            sections: forms
                .catalog
                .sections
                .iter()
                .map(|s| PrintedSection {
                    title: s.title.clone(),
                    items: item_views(&forms.catalog, &s.id, &f.answers, None, &no_errors, &f.ndb)
                        .into_iter()
                        .map(|item| {
                            let code = item.code().to_string();
                            let preprinted = if f.ndb.contains_key(&code) {
                                Some("NDB")
                            } else if f.answers.get(&code).is_some_and(|v| !v.is_null()) {
                                Some("前回")
                            } else {
                                None
                            };
                            PrintedItem { item, preprinted }
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

async fn forms_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    fiscal_year: Option<i32>,
    whose: crate::services::paper::forms::Whose,
) -> Result<HttpResponse, AppError> {
    let fy = fiscal_year.unwrap_or_else(crate::web::review::current_fiscal_year);
    let (scope, catalogs) = (user.scope, state.catalogs.clone());
    let forms = state
        .run(move |conn| {
            crate::services::paper::forms::prefilled(conn, &catalogs, scope, fy, whose)
        })
        .await?;
    let mut page = views::Page::of(state, viewer).await?;
    page.insert("fiscal_year", &fy);
    page.insert("catalog_version", &forms.catalog.version);
    page.insert("forms", &printed(&forms));
    page.insert(
        "printed_on",
        &crate::domain::wareki::date_wareki(crate::domain::wareki::today_jst(Utc::now())),
    );
    page.html("paper/forms.html")
}

/// GET /paper/forms/{id}: one institution's form, to print.
pub async fn form_one(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    query: web::Query<FormsQuery>,
) -> Result<HttpResponse, AppError> {
    let whose = crate::services::paper::forms::Whose::One(path.into_inner());
    forms_page(&state, &viewer, &user, query.fy, whose).await
}

/// GET /paper/forms: every paper reporter's form (of one health center), one document
/// with a page break before each institution.
pub async fn forms_all(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<FormsQuery>,
) -> Result<HttpResponse, AppError> {
    let whose = crate::services::paper::forms::Whose::Paper {
        jurisdiction: query.jurisdiction,
    };
    forms_page(&state, &viewer, &user, query.fy, whose).await
}

async fn xlsx_response(
    state: &AppState,
    user: &CurrentUser,
    fiscal_year: Option<i32>,
    whose: crate::services::paper::forms::Whose,
) -> Result<HttpResponse, AppError> {
    let fy = fiscal_year.unwrap_or_else(crate::web::review::current_fiscal_year);
    let (scope, catalogs) = (user.scope, state.catalogs.clone());
    let file = state
        .run(move |conn| crate::services::paper::xlsx::files(conn, &catalogs, scope, fy, whose))
        .await?;
    let content_type = if file.file_name.ends_with(".zip") {
        "application/zip"
    } else {
        crate::domain::help::DocumentKind::Xlsx.content_type()
    };
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CONTENT_TYPE, content_type))
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            crate::web::institutions::content_disposition(&file.file_name),
        ))
        .body(file.bytes))
}

/// GET /paper/forms/{id}/xlsx: one institution's Excel form.
pub async fn form_one_xlsx(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i32>,
    query: web::Query<FormsQuery>,
) -> Result<HttpResponse, AppError> {
    let whose = crate::services::paper::forms::Whose::One(path.into_inner());
    xlsx_response(&state, &user, query.fy, whose).await
}

/// GET /paper/forms.zip: the Excel forms of the paper reporters (of one health center).
pub async fn forms_zip(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<FormsQuery>,
) -> Result<HttpResponse, AppError> {
    let whose = crate::services::paper::forms::Whose::Paper {
        jurisdiction: query.jurisdiction,
    };
    xlsx_response(&state, &user, query.fy, whose).await
}
