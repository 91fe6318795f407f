//! 新着: what was submitted and written since the officer last looked.

use actix_web::{HttpResponse, web};

use crate::domain::report::ReportKind;
use crate::domain::wareki;
use crate::services::review::{self};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

// ----- 新着 -----

pub async fn news(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor(&viewer);
    let news = state.run(move |conn| review::news(conn, &actor)).await?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("since", &news.since.map(wareki::datetime_jst));
    ctx.insert(
        "submitted",
        &news
            .submitted
            .iter()
            .map(|(id, name, kind, at)| {
                serde_json::json!({
                    "id": id, "name": name,
                    "kind": ReportKind::from_code(kind).map_or("", ReportKind::label),
                    "at": wareki::datetime_jst(*at),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "messages",
        &news
            .messages
            .iter()
            .map(|(id, name, body, at)| {
                serde_json::json!({ "id": id, "name": name, "body": body, "at": wareki::datetime_jst(*at) })
            })
            .collect::<Vec<_>>(),
    );
    ctx.html("review/news.html")
}
