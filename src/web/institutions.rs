//! Institution pages for officers. Anything outside the officer's scope answers 404.

use actix_web::{HttpResponse, web};

use super::AppState;
use super::session::{CurrentUser, Viewer};
use super::views;
use crate::db::institutions;
use crate::domain::institution::{Category, Status};
use crate::error::AppError;

pub async fn detail(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let card = state
        .db(move |conn| Ok(institutions::card_within(conn, user.scope, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let deployment = state.deployment().await?;
    let mut ctx = views::page(&viewer, &deployment);
    ctx.insert(
        "category",
        &Category::from_code(&card.category).map(Category::label),
    );
    ctx.insert(
        "status",
        &Status::from_code(&card.status).map(Status::label),
    );
    ctx.insert("institution", &card);
    Ok(views::html(views::render("institution.html", &ctx)?))
}
