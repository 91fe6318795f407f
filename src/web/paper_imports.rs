//! 紙調査票の取込 (issue 18) for officers: upload filled Excel forms (one workbook or a
//! ZIP), see each file's outcome, then apply (every accepted form a proxy draft) or
//! cancel. An import is seen only by the prefecture's officers or the officer who made
//! it.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::db::imports::{self as stored, ImportRow};
use crate::domain::auth::Scope;
use crate::services::paper::PaperError;
use crate::services::paper::staged::{self as service, Upload};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, Empty};
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::upload::{self, Refusal};
use crate::web::views;

async fn upload_page(
    state: &AppState,
    viewer: &Viewer,
    problem: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut page = views::Page::of(state, viewer).await?;
    page.insert("fiscal_year", &crate::web::review::current_fiscal_year());
    page.insert("max_mb", &state.settings.forms_max_mb);
    page.insert("problem", &problem);
    page.html_status(status, "paper/import_upload.html")
}

/// GET /paper/imports
pub async fn form(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, AppError> {
    upload_page(&state, &viewer, None, StatusCode::OK).await
}

/// POST /paper/imports: reads and checks every workbook, stores the preview.
pub async fn upload(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let max_mb = state.settings.forms_max_mb;
    let upload = match upload::receive(&req, payload, &viewer.csrf, max_mb).await {
        Ok(upload) => upload,
        Err(Refusal::Page(message, status)) => {
            return upload_page(&state, &viewer, Some(message), status).await;
        }
        Err(Refusal::Error(e)) => return Err(e),
    };
    let staged = stage(&state, &viewer, &user, upload).await?;
    match staged {
        Ok(id) => Ok(see_other(&format!("/paper/imports/{id}"))),
        Err(PaperError::Invalid(message)) => {
            upload_page(
                &state,
                &viewer,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks the upload and stores its preview (or why it cannot be).
async fn stage(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    upload: upload::Upload,
) -> Result<Result<i32, PaperError>, AppError> {
    let fy = crate::domain::normalize::digits(upload.field("fiscal_year"))
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(crate::web::review::current_fiscal_year);
    let actor = user.actor(viewer);
    let (catalogs, limits) = (state.catalogs.clone(), state.settings.import_limits);
    state
        .try_run(move |conn| {
            let asked = Upload {
                fiscal_year: fy,
                submit: upload.field("submit") == "1",
                overwrite: upload.field("overwrite") == "1",
                file_name: &upload.file_name,
                bytes: &upload.bytes,
            };
            service::preview(conn, &catalogs, &actor, &asked, &limits)
        })
        .await
}

/// The import if this officer may see it.
async fn visible(state: &AppState, user: &CurrentUser, id: i32) -> Result<ImportRow, AppError> {
    let (scope, user_id) = (user.scope, user.id);
    let row = state
        .run(move |conn| {
            let prefecture = match scope {
                Scope::All => None,
                scope => crate::db::users::prefecture_of(conn, scope)?,
            };
            Ok::<_, crate::db::DbError>(stored::find(conn, service::KIND, id, prefecture)?)
        })
        .await?
        .ok_or(AppError::NotFound)?;
    let whole_prefecture = matches!(user.scope, Scope::All | Scope::Prefecture(_));
    if !whole_prefecture && row.created_by != Some(user_id) {
        return Err(AppError::NotFound);
    }
    Ok(row)
}

/// GET /paper/imports/{id}: each workbook's outcome, before or after applying.
pub async fn show(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let row = visible(&state, &user, path.into_inner()).await?;
    let (lines, fiscal_year) = service::lines(&row);
    let mut page = views::Page::of(&state, &viewer).await?;
    page.insert("id", &row.id);
    page.insert("file_name", &row.file_name);
    page.insert("status", &row.status);
    page.insert("status_label", stored::Stage::label_of(&row.status));
    page.insert("fiscal_year", &fiscal_year);
    page.insert(
        "accepted",
        &lines.iter().filter(|l| l.problems.is_empty()).count(),
    );
    page.insert("lines", &lines);
    page.html("paper/import.html")
}

/// POST /paper/imports/{id}/apply
pub async fn apply(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let row = visible(&state, &user, path.into_inner()).await?;
    let (id, prefecture) = (row.id, Some(row.prefecture_id));
    let (actor, catalogs, limits) = (
        user.actor(&viewer),
        state.catalogs.clone(),
        state.settings.import_limits,
    );
    state
        .run(move |conn| service::apply(conn, &catalogs, &actor, id, prefecture, &limits))
        .await?;
    Ok(see_other(&format!("/paper/imports/{id}")))
}

/// POST /paper/imports/{id}/cancel
pub async fn cancel(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let row = visible(&state, &user, path.into_inner()).await?;
    let (id, prefecture) = (row.id, Some(row.prefecture_id));
    state
        .run(move |conn| crate::services::imports::cancel(conn, service::KIND, id, prefecture))
        .await?;
    Ok(see_other(&format!("/paper/imports/{id}")))
}
