//! A report's overview with the live determination, the confirmation page, 報告 and
//! 引き戻し.

use super::{head, load, section_rows, today};
use crate::web::views::report::{all_sections, determination_view, memo_rows, version_rows};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::db::reports as store;
use crate::domain::determination::{self};
use crate::services::reports::{self as service, Loaded, SubmitOutcome};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

// ----- overview -----

#[derive(Deserialize)]
pub struct OverviewQuery {
    #[serde(default)]
    done: String,
}

/// The line shown after an action redirected to the overview (`?done=…`).
fn done_notice(done: &str) -> Option<&'static str> {
    match done {
        "saved" => Some("一時保存しました。"),
        "complete" => Some("入力完了にしました。"),
        "submitted" => Some("報告しました。控えを印刷できます。"),
        "memo" => Some("メッセージを送りました。"),
        "pulled" => Some("報告を引き戻しました。修正して、もう一度報告してください。"),
        _ => None,
    }
}

pub async fn overview(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    query: web::Query<OverviewQuery>,
) -> Result<HttpResponse, AppError> {
    let l = load(&state, &user, path.into_inner()).await?;
    let id = l.report.id;
    let institution_view = !user.role.is_officer();
    let user_id = user.id;
    let (versions, memos, seen) = state
        .db(move |conn| {
            let versions = store::versions(conn, id)?;
            let (memos, seen) =
                crate::services::review::read_thread(conn, user_id, id, institution_view)?;
            Ok((versions, memos, seen))
        })
        .await?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("notice", &done_notice(&query.done));
    ctx.insert("report", &head(&l));
    ctx.insert("institution", &l.institution);
    ctx.insert("sections", &section_rows(&l));
    ctx.insert("determination", &determination_view(&l.determination()));
    ctx.insert(
        "problems",
        &determination::validate(&l.catalog, &l.answers).len(),
    );
    ctx.insert("versions", &version_rows(&versions));
    ctx.insert("officer", &user.role.is_officer());
    ctx.insert("memos", &memo_rows(&memos, seen, user.role.is_officer()));
    ctx.html("reports/overview.html")
}

async fn confirm_page_for(
    state: &AppState,
    viewer: &Viewer,
    l: &Loaded,
    message: Option<&str>,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, AppError> {
    let problems = determination::validate(&l.catalog, &l.answers);
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("report", &head(l));
    ctx.insert("institution", &l.institution);
    ctx.insert("sections", &all_sections(&l.catalog, &l.answers, &l.ndb));
    ctx.insert("determination", &determination_view(&l.determination()));
    let labelled: Vec<serde_json::Value> = problems
        .iter()
        .map(|p| {
            let base = p.item.split(':').next().unwrap_or(&p.item);
            let item = l.catalog.item(base);
            serde_json::json!({
                "item": p.item,
                "label": item.map(|i| i.label.clone()),
                "section": item.map(|i| i.section.clone()),
                "message": p.message,
            })
        })
        .collect();
    ctx.insert("problems", &labelled);
    ctx.insert("message", &message);
    ctx.html_status(status, "reports/confirm.html")
}

pub async fn confirm_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let l = load(&state, &user, path.into_inner()).await?;
    confirm_page_for(&state, &viewer, &l, None, actix_web::http::StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct RevisionForm {
    rev: i32,
}

pub async fn submit(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    form: CsrfForm<RevisionForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let revision = form.0.rev;
    let actor = user.actor(&viewer);
    let catalogs = state.catalogs.clone();
    let today = today();
    let outcome = state
        .run(move |conn| service::submit(conn, &catalogs, &actor, id, revision, today))
        .await?;
    let (message, status) = match outcome {
        SubmitOutcome::Submitted { .. } | SubmitOutcome::AlreadySubmitted { .. } => {
            return Ok(see_other(&format!("/reports/{id}?done=submitted")));
        }
        SubmitOutcome::Incomplete(_) => (
            "未回答または誤りのある項目があるため、報告できません。",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        SubmitOutcome::Stale => (
            "この画面を開いた後に内容が変わりました。最新の内容を確かめてから、もう一度報告してください。",
            StatusCode::CONFLICT,
        ),
    };
    let l = load(&state, &user, id).await?;
    confirm_page_for(&state, &viewer, &l, Some(message), status).await
}

pub async fn pull_back(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    form: CsrfForm<RevisionForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let revision = form.0.rev;
    let actor = user.actor(&viewer);
    let catalogs = state.catalogs.clone();
    let done = state
        .run(move |conn| service::pull_back(conn, &catalogs, &actor, id, revision))
        .await?;
    if done {
        Ok(see_other(&format!("/reports/{id}?done=pulled")))
    } else {
        Err(AppError::Conflict(
            "この画面を開いた後に報告の状態が変わりました。画面を開き直してください。".into(),
        ))
    }
}
