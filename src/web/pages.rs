//! The home page, the health check and the stylesheet.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use tera::Context;

use super::AppState;
use super::views::{self, Layout};
use crate::db::{self, areas, institutions, meta};
use crate::domain::wareki;
use crate::error::AppError;

pub async fn home(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let (prefectures, summary, demo) = state
        .db(|conn| {
            Ok((
                areas::prefectures(conn)?,
                institutions::summary(conn)?,
                meta::is_demo(conn)?,
            ))
        })
        .await?;
    let prefecture_names: Vec<String> = prefectures.into_iter().map(|p| p.name).collect();
    let mut ctx = Context::new();
    ctx.insert(
        "layout",
        &Layout::new(
            (prefecture_names.len() == 1).then(|| prefecture_names[0].clone()),
            demo,
        ),
    );
    ctx.insert("prefectures", &prefecture_names);
    ctx.insert("summary", &summary);
    ctx.insert(
        "fiscal_year",
        &wareki::fiscal_year_of(wareki::today_jst(chrono::Utc::now())),
    );
    Ok(views::html(views::render("home.html", &ctx)?))
}

#[derive(serde::Serialize)]
struct Health {
    status: &'static str,
    database: &'static str,
}

/// For load balancers and monitoring: 200 when the database answers, 503 otherwise.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let database = if state.database.is_sqlite() { "sqlite" } else { "postgresql" };
    let ok = state
        .db(|conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute("SELECT 1").map_err(db::DbError::Query)?;
            Ok(())
        })
        .await
        .is_ok();
    let body = Health {
        status: if ok { "ok" } else { "unavailable" },
        database,
    };
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(include_str!("../../static/app.css"))
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}
