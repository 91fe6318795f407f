//! One report under review: 差異表示, 確認, 差戻し and 疑義照会メモ.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::db::{self};
use crate::domain::catalog::Catalog;
use crate::domain::determination::{self, Answers};
use crate::domain::report::{self, Status};
use crate::domain::wareki;
use crate::services::reports::{self as service, ReportError};
use crate::services::review::{self, ReviewError};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;
use crate::web::views::report::answer_or_blank;

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
            let text = |a: &Answers| answer_or_blank(item, &key, a);
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
/// What the detail page shows besides the report.
struct Shown<'a> {
    id: i32,
    /// The version the 差異表示 compares with ("" for the default).
    against: &'a str,
    notice: Option<&'a str>,
    error: Option<String>,
}

async fn detail_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    shown: Shown<'_>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let Shown {
        id,
        against,
        notice,
        error,
    } = shown;
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
    ctx.insert(
        "determination",
        &super::views::report::determination_view(&d),
    );
    ctx.insert(
        "sections",
        &super::views::report::all_sections(&loaded.catalog, &current, &loaded.ndb),
    );
    ctx.insert("against", if last_year { "last_year" } else { "previous" });
    ctx.insert("base_label", &base.as_ref().map(|(_, l)| l.clone()));
    ctx.insert("diff", &diff);
    ctx.insert("versions", &super::views::report::version_rows(&versions));
    ctx.insert(
        "memos",
        &super::views::report::memo_rows(&memos, unread_from, true),
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
    let shown = Shown {
        id: path.into_inner(),
        against: &query.against,
        notice,
        error: None,
    };
    detail_page(&state, &viewer, &user, shown, StatusCode::OK).await
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
            let shown = Shown {
                id,
                against: "",
                notice: None,
                error: Some(message),
            };
            detail_page(state, viewer, user, shown, StatusCode::UNPROCESSABLE_ENTITY).await
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
    CsrfForm(form): CsrfForm<MemoForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (actor, catalogs) = (user.actor(&viewer), state.catalogs.clone());
    let officer = actor.officer;
    let name = user.display_name.clone();
    let result = state
        .try_run(move |conn| {
            let internal = form.internal.is_some();
            review::add_memo(conn, &catalogs, &actor, &name, id, &form.body, internal)
        })
        .await?;
    match result {
        Ok(()) if officer => Ok(see_other(&format!("/review/reports/{id}?done=memo#memos"))),
        Ok(()) => Ok(see_other(&format!("/reports/{id}?done=memo#memos"))),
        // The officer's page shows the message next to the memo box; an institution's
        // form checks length and emptiness in the browser first.
        Err(ReviewError::Invalid(message)) if officer => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let shown = Shown {
                id,
                against: "",
                notice: None,
                error: Some(message),
            };
            detail_page(&state, &viewer, &user, shown, status).await
        }
        Err(ReviewError::Invalid(message)) => Err(AppError::BadRequest(message)),
        Err(e) => Err(e.into()),
    }
}
