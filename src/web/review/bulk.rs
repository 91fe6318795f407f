//! 一括確認: a preview with the count, then the commit.

use super::ReviewQuery;
use crate::db::review::ReviewFilter;
use actix_web::{HttpResponse, web};

use crate::services::review::{self};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

// ----- 一括確認 -----

pub async fn bulk_preview(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (fy, filter, ticked) = bulk_request(form.0)?;
    let actor = user.actor(&viewer);
    let id = state
        .run(move |conn| review::bulk_preview(conn, &actor, fy, &filter, ticked.as_deref()))
        .await?;
    Ok(see_other(&format!("/review/bulk/{id}")))
}

/// The search the officer was looking at (fiscal year and filter) and, with
/// `which=ticked`, the ticked reports only; otherwise every confirmable report found.
fn bulk_request(
    pairs: Vec<(String, String)>,
) -> Result<(i32, ReviewFilter, Option<Vec<i32>>), AppError> {
    let ticked: Vec<i32> = pairs
        .iter()
        .filter(|(k, _)| k == "report")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let rest: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| k != "report" && k != "csrf")
        .collect();
    let only_ticked = rest.iter().any(|(k, v)| k == "which" && v == "ticked");
    let encoded = serde_urlencoded::to_string(&rest).unwrap_or_default();
    let query: ReviewQuery = serde_urlencoded::from_str(&encoded)
        .map_err(|e| AppError::BadRequest(format!("入力内容を読み取れませんでした ({e})")))?;
    let filter = query
        .filter()
        .map_err(|e| AppError::BadRequest(e.into_values().collect::<Vec<_>>().join(" ")))?;
    if only_ticked && ticked.is_empty() {
        return Err(AppError::BadRequest(
            "確認する報告にチェックを入れてください".into(),
        ));
    }
    Ok((query.fiscal_year(), filter, only_ticked.then_some(ticked)))
}

pub async fn bulk_show(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor(&viewer);
    let preview = state
        .run(move |conn| review::bulk_find(conn, &actor, id))
        .await?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("bulk", &preview);
    ctx.html("review/bulk.html")
}

pub async fn bulk_commit(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor(&viewer);
    state
        .run(move |conn| review::bulk_commit(conn, &actor, id))
        .await?;
    Ok(see_other(&format!("/review/bulk/{id}")))
}
