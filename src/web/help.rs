//! ヘルプ for everyone: よくある質問 (open to visitors, since people who cannot sign in
//! need it most), the manuals to download (signed-in users), and the notices shown on
//! the home and sign-in pages.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::domain::auth::Scope;
use crate::services::help::{self as service, NoticeView};
use crate::web::AppState;
use crate::web::error::AppError;
use crate::web::institutions::content_disposition;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

/// The notices showing now for a reader (`None`: the sign-in page).
pub async fn notices_for(
    state: &AppState,
    scope: Option<Scope>,
) -> Result<Vec<NoticeView>, AppError> {
    let login_page = scope.is_none();
    state
        .run(move |conn| {
            let prefecture = service::reader_prefecture(conn, scope)?;
            let now = chrono::Utc::now().naive_utc();
            service::notices_shown(conn, prefecture, login_page, now)
        })
        .await
}

#[derive(Deserialize, Default)]
pub struct HelpQuery {
    #[serde(default)]
    q: String,
}

/// GET /help: the questions by category, searchable; the manuals when signed in.
pub async fn help(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<HelpQuery>,
) -> Result<HttpResponse, AppError> {
    let scope = viewer.user.as_ref().map(|u| u.scope);
    let q = query.q.chars().take(100).collect::<String>();
    let words = q.clone();
    let (categories, documents) = state
        .run(move |conn| {
            let prefecture = service::reader_prefecture(conn, scope)?;
            let categories = service::faqs(conn, prefecture, &words)?;
            let documents = match scope {
                Some(_) => service::documents(conn, prefecture)?,
                None => Vec::new(),
            };
            Ok::<_, service::HelpError>((categories, documents))
        })
        .await?;
    let mut page = views::Page::of(&state, &viewer).await?;
    page.insert("q", &q);
    page.insert("categories", &categories);
    page.insert(
        "found",
        &categories.iter().map(|c| c.entries.len()).sum::<usize>(),
    );
    page.insert("documents", &documents);
    page.html("help/index.html")
}

/// GET /help/documents/{id}: the manual, streamed from the database chunk by chunk.
pub async fn download(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let (id, scope) = (path.into_inner(), user.scope);
    let document = state
        .run(move |conn| {
            let prefecture = service::reader_prefecture(conn, Some(scope))?;
            service::document(conn, prefecture, id)
        })
        .await?;
    let length = u64::try_from(document.size).unwrap_or(0);
    let body = actix_web::body::SizedStream::new(length, chunks(state.into_inner(), id));
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, document.content_type.clone()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(&document.file_name),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(body))
}

/// The document's chunks, each read in its own trip to the pool.
fn chunks(
    state: std::sync::Arc<AppState>,
    id: i32,
) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>> {
    futures_util::stream::unfold(Some(0), move |seq| {
        let state = state.clone();
        async move {
            let seq = seq?;
            let read = state
                .db(move |conn| Ok(crate::db::help::chunk(conn, id, seq)?))
                .await;
            match read {
                Ok(Some(bytes)) => Some((Ok(web::Bytes::from(bytes)), Some(seq + 1))),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(document = id, "document download failed: {e}");
                    Some((Err(actix_web::error::ErrorInternalServerError("")), None))
                }
            }
        }
    })
}
