//! Section screens made from the catalog: entry, save, and the conflict page when
//! someone saved in between.

use super::{head, load, section_rows};
use crate::web::views::report::{answer_or_blank, item_views};
use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::domain::catalog::Function;
use crate::domain::determination::Answers;
use crate::domain::report::{self, FormValues};
use crate::services::reports::{self as service, Loaded, SaveOutcome};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

// ----- section entry -----

#[allow(clippy::too_many_arguments)]
async fn section_page(
    state: &AppState,
    viewer: &Viewer,
    l: &Loaded,
    section: &str,
    typed: Option<&FormValues>,
    errors: &BTreeMap<String, String>,
    general: &[String],
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, AppError> {
    let s = l.catalog.section(section).ok_or(AppError::NotFound)?;
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("report", &head(l));
    ctx.insert("institution", &l.institution);
    ctx.insert("section", s);
    ctx.insert(
        "not_applicable",
        &(Function::CATEGORIES.contains(&s.function) && !l.determination().function1),
    );
    ctx.insert(
        "items",
        &item_views(&l.catalog, section, &l.answers, typed, errors, &l.ndb),
    );
    ctx.insert("errors", errors);
    ctx.insert("general", general);
    ctx.insert("sections", &section_rows(l));
    ctx.html_status(status, "reports/section.html")
}

pub async fn section_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, section) = path.into_inner();
    let l = load(&state, &user, id).await?;
    section_page(
        &state,
        &viewer,
        &l,
        &section,
        None,
        &BTreeMap::new(),
        &[],
        actix_web::http::StatusCode::OK,
    )
    .await
}

pub async fn save_section(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, String)>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (id, section) = path.into_inner();
    let values = report::form_values(form.0);
    let revision: i32 = values
        .get("rev")
        .and_then(|v| v.first())
        .and_then(|v| v.parse().ok())
        .ok_or_else(stale_form)?;
    let complete = values
        .get("action")
        .is_some_and(|v| v.iter().any(|a| a == "complete"));
    let save = service::SectionSave {
        report_id: id,
        section: section.clone(),
        sent: service::Sent::Form(values.clone()),
        revision,
        complete,
    };
    let page = Entry {
        state: &state,
        viewer: &viewer,
        id,
        section: &section,
    };
    page.save(&user, save, Some(&values)).await
}

fn stale_form() -> AppError {
    AppError::BadRequest("フォームが古いか壊れています".into())
}

/// The section being saved, and what its pages need.
struct Entry<'a> {
    state: &'a AppState,
    viewer: &'a Viewer,
    id: i32,
    section: &'a str,
}

impl Entry<'_> {
    /// Saves through the report service, then shows what became of it.
    async fn save(
        &self,
        user: &CurrentUser,
        save: service::SectionSave,
        typed: Option<&FormValues>,
    ) -> Result<HttpResponse, AppError> {
        let complete = save.complete;
        let (actor, catalogs) = (user.actor(self.viewer), self.state.catalogs.clone());
        let outcome = self
            .state
            .run(move |conn| service::save_section(conn, &catalogs, &actor, save))
            .await?;
        after_save(
            self.state,
            self.viewer,
            user,
            self.id,
            self.section,
            typed,
            outcome,
            complete,
        )
        .await
    }
}

/// Where a section save leads: the overview, or (only then is the report read again)
/// the form with its problems, or the conflict page.
#[allow(clippy::too_many_arguments)]
async fn after_save(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    id: i32,
    section: &str,
    typed: Option<&FormValues>,
    outcome: SaveOutcome,
    complete: bool,
) -> Result<HttpResponse, AppError> {
    if let SaveOutcome::Saved { complete } = outcome {
        return Ok(see_other(&format!(
            "/reports/{id}?done={}",
            if complete { "complete" } else { "saved" }
        )));
    }
    let l = load(state, user, id).await?;
    match outcome {
        SaveOutcome::Invalid { errors, general } => {
            section_page(
                state,
                viewer,
                &l,
                section,
                typed,
                &errors,
                &general,
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        SaveOutcome::Conflict {
            mine,
            theirs,
            revision,
        } => {
            conflict_page(
                state, viewer, &l, section, &mine, &theirs, revision, complete,
            )
            .await
        }
        SaveOutcome::Saved { .. } => Err(AppError::Internal("unreachable save outcome".into())),
    }
}

#[derive(Serialize)]
struct ConflictRow {
    code: String,
    label: String,
    mine: String,
    theirs: String,
}

#[allow(clippy::too_many_arguments)]
async fn conflict_page(
    state: &AppState,
    viewer: &Viewer,
    l: &Loaded,
    section: &str,
    mine: &Answers,
    theirs: &Answers,
    revision: i32,
    complete: bool,
) -> Result<HttpResponse, AppError> {
    let rows: Vec<ConflictRow> = l
        .catalog
        .items
        .iter()
        .filter(|i| i.section == section)
        .flat_map(|i| [i.code.clone(), format!("{}:other", i.code)].map(|k| (i, k)))
        .filter(|(_, k)| mine.get(k) != theirs.get(k))
        .map(|(item, key)| {
            let text = |a: &Answers| answer_or_blank(item, &key, a);
            ConflictRow {
                label: if key.ends_with(":other") {
                    format!("{}（その他の内容）", item.label)
                } else {
                    item.label.clone()
                },
                mine: text(mine),
                theirs: text(theirs),
                code: key,
            }
        })
        .collect();
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("report", &head(l));
    ctx.insert("institution", &l.institution);
    ctx.insert("section", &l.catalog.section(section));
    ctx.insert("rows", &rows);
    ctx.insert("revision", &revision);
    ctx.insert("complete", &complete);
    ctx.insert(
        "mine_json",
        &serde_json::to_string(mine).map_err(AppError::internal)?,
    );
    ctx.insert(
        "theirs_json",
        &serde_json::to_string(theirs).map_err(AppError::internal)?,
    );
    ctx.html_status(StatusCode::CONFLICT, "reports/conflict.html")
}

/// The choice made on the conflict page: per differing field, keep mine or theirs.
pub async fn resolve(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, String)>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (id, section) = path.into_inner();
    let values = report::form_values(form.0);
    let (revision, complete, chosen) = chosen_answers(&values).ok_or_else(stale_form)?;
    let save = service::SectionSave {
        report_id: id,
        section: section.clone(),
        sent: service::Sent::Answers(chosen),
        revision,
        complete,
    };
    let page = Entry {
        state: &state,
        viewer: &viewer,
        id,
        section: &section,
    };
    page.save(&user, save, None).await
}

/// The conflict page's answer: per differing field, mine or theirs; with the revision
/// and the button. `None` when the form is not one we made.
fn chosen_answers(values: &FormValues) -> Option<(i32, bool, Answers)> {
    let field = |name: &str| values.get(name).and_then(|v| v.first()).cloned();
    let revision: i32 = field("rev")?.parse().ok()?;
    let complete = field("action").is_some_and(|a| a == "complete");
    let mine: Answers = serde_json::from_str(&field("mine")?).ok()?;
    let theirs: Answers = serde_json::from_str(&field("theirs")?).ok()?;
    let mut chosen = Answers::new();
    let keys: std::collections::BTreeSet<&String> = mine.keys().chain(theirs.keys()).collect();
    for key in keys {
        let take_theirs = field(&format!("pick:{key}")).is_some_and(|p| p == "theirs");
        let source = if take_theirs { &theirs } else { &mine };
        if let Some(v) = source.get(key) {
            chosen.insert(key.clone(), v.clone());
        }
    }
    Some((revision, complete, chosen))
}
