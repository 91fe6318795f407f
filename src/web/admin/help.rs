//! お知らせ, よくある質問 and 資料 for administrators: a list with its form on one
//! page (new, or the one being edited), and a refused form back with its messages.

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use crate::domain::help::{FaqInput, NoticeInput};
use crate::services::help::{self as service, HelpError};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, Empty};
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::upload::{self, Refusal};
use crate::web::views;

type Errors = BTreeMap<&'static str, String>;

#[derive(Deserialize, Default)]
pub struct EditQuery {
    #[serde(default)]
    edit: Option<i32>,
    #[serde(default)]
    done: Option<String>,
}

fn status_of(errors: &Errors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

fn done_message(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "saved" => Some("保存しました。"),
        "deleted" => Some("削除しました。"),
        "uploaded" => Some("資料を登録しました。"),
        _ => None,
    }
}

/// The notices page: every notice, and the form (blank, being edited, or refused).
async fn notices_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    editing: Option<i32>,
    form: Option<NoticeInput>,
    errors: Errors,
    done: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope;
    let (rows, edited) = state
        .run(move |conn| {
            let now = Utc::now().naive_utc();
            let edited = editing
                .map(|id| service::notice(conn, scope, id, now))
                .transpose()?;
            Ok::<_, HelpError>((service::notices(conn, scope, now)?, edited))
        })
        .await?;
    let form = form.unwrap_or_else(|| match &edited {
        Some(n) => NoticeInput {
            title: n.row.title.clone(),
            body: n.row.body.clone(),
            from: n.from_date.clone(),
            until: n.until_date.clone(),
            important: n.row.important.then(|| "1".into()),
            on_login: n.row.on_login.then(|| "1".into()),
        },
        None => NoticeInput {
            from: crate::domain::wareki::today_jst(Utc::now()).to_string(),
            ..NoticeInput::default()
        },
    });
    let mut page = views::Page::of(state, viewer).await?;
    page.insert("rows", &rows);
    page.insert("editing", &editing);
    page.insert("form", &form);
    page.insert("done", &done_message(done));
    let status = status_of(&errors);
    page.insert("errors", &errors);
    page.html_status(status, "admin/notices.html")
}

/// GET /admin/notices
pub async fn notices(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<EditQuery>,
) -> Result<HttpResponse, AppError> {
    let done = query.done.as_deref();
    notices_page(
        &state,
        &viewer,
        &user,
        query.edit,
        None,
        Errors::new(),
        done,
    )
    .await
}

/// POST /admin/notices: a new one.
pub async fn create_notice(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<NoticeInput>,
) -> Result<HttpResponse, AppError> {
    save_notice(&state, &viewer, &user, None, form).await
}

/// POST /admin/notices/{id}: a change.
pub async fn update_notice(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<NoticeInput>,
) -> Result<HttpResponse, AppError> {
    save_notice(&state, &viewer, &user, Some(path.into_inner()), form).await
}

async fn save_notice(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    id: Option<i32>,
    form: NoticeInput,
) -> Result<HttpResponse, AppError> {
    let (actor, input) = (user.actor(viewer), form.clone());
    let saved = state
        .try_run(move |conn| service::save_notice(conn, &actor, id, &input, Utc::now().naive_utc()))
        .await?;
    match saved {
        Ok(_) => Ok(see_other("/admin/notices?done=saved")),
        Err(HelpError::Fields(errors)) => {
            notices_page(state, viewer, user, id, Some(form), errors, None).await
        }
        Err(e) => Err(e.into()),
    }
}

/// POST /admin/notices/{id}/delete
pub async fn delete_notice(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let (id, actor) = (path.into_inner(), user.actor(&viewer));
    state
        .run(move |conn| service::delete_notice(conn, &actor, id))
        .await?;
    Ok(see_other("/admin/notices?done=deleted"))
}

async fn faq_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    editing: Option<i32>,
    form: Option<FaqInput>,
    errors: Errors,
    done: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope;
    let (categories, edited) = state
        .run(move |conn| {
            let edited = editing
                .map(|id| service::faq(conn, scope, id))
                .transpose()?;
            Ok::<_, HelpError>((service::editor_faqs(conn, scope)?, edited))
        })
        .await?;
    let form = form.unwrap_or_else(|| match edited {
        Some(f) => FaqInput {
            category: f.category,
            question: f.question,
            answer: f.answer,
            position: f.position.to_string(),
        },
        None => FaqInput::default(),
    });
    let mut page = views::Page::of(state, viewer).await?;
    page.insert("categories", &categories);
    page.insert("editing", &editing);
    page.insert("form", &form);
    page.insert("done", &done_message(done));
    let status = status_of(&errors);
    page.insert("errors", &errors);
    page.html_status(status, "admin/faq.html")
}

/// GET /admin/faq
pub async fn faq(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<EditQuery>,
) -> Result<HttpResponse, AppError> {
    let done = query.done.as_deref();
    faq_page(
        &state,
        &viewer,
        &user,
        query.edit,
        None,
        Errors::new(),
        done,
    )
    .await
}

/// POST /admin/faq: a new one.
pub async fn create_faq(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    CsrfForm(form): CsrfForm<FaqInput>,
) -> Result<HttpResponse, AppError> {
    save_faq(&state, &viewer, &user, None, form).await
}

/// POST /admin/faq/{id}: a change.
pub async fn update_faq(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    CsrfForm(form): CsrfForm<FaqInput>,
) -> Result<HttpResponse, AppError> {
    save_faq(&state, &viewer, &user, Some(path.into_inner()), form).await
}

async fn save_faq(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    id: Option<i32>,
    form: FaqInput,
) -> Result<HttpResponse, AppError> {
    let (actor, input) = (user.actor(viewer), form.clone());
    let saved = state
        .try_run(move |conn| service::save_faq(conn, &actor, id, &input, Utc::now().naive_utc()))
        .await?;
    match saved {
        Ok(_) => Ok(see_other("/admin/faq?done=saved")),
        Err(HelpError::Fields(errors)) => {
            faq_page(state, viewer, user, id, Some(form), errors, None).await
        }
        Err(e) => Err(e.into()),
    }
}

/// POST /admin/faq/{id}/delete
pub async fn delete_faq(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let (id, actor) = (path.into_inner(), user.actor(&viewer));
    state
        .run(move |conn| service::delete_faq(conn, &actor, id))
        .await?;
    Ok(see_other("/admin/faq?done=deleted"))
}

async fn documents_page(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    (errors, status): (Errors, StatusCode),
    typed: (String, String),
    done: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope;
    let rows = state
        .run(move |conn| service::editor_documents(conn, scope))
        .await?;
    let mut page = views::Page::of(state, viewer).await?;
    page.insert("rows", &rows);
    page.insert("errors", &errors);
    page.insert("title", &typed.0);
    page.insert("description", &typed.1);
    page.insert("max_mb", &state.settings.document_max_mb);
    page.insert("done", &done_message(done));
    page.html_status(status, "admin/documents.html")
}

/// GET /admin/documents
pub async fn documents(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<EditQuery>,
) -> Result<HttpResponse, AppError> {
    let shown = (Errors::new(), StatusCode::OK);
    let typed = (String::new(), String::new());
    documents_page(&state, &viewer, &user, shown, typed, query.done.as_deref()).await
}

/// The title and description as typed, to show back with a refusal.
fn typed_of(upload: &upload::Upload) -> (String, String) {
    let field = |name| upload.field(name).to_string();
    (field("title"), field("description"))
}

/// POST /admin/documents: a manual, checked and stored all or nothing.
pub async fn upload_document(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, AppError> {
    let max_mb = state.settings.document_max_mb;
    let upload = match upload::receive(&req, payload, &viewer.csrf, max_mb).await {
        Ok(upload) => upload,
        Err(Refusal::Page(message, status)) => {
            let errors = Errors::from([("file", message)]);
            let typed = (String::new(), String::new());
            return documents_page(&state, &viewer, &user, (errors, status), typed, None).await;
        }
        Err(Refusal::Error(e)) => return Err(e),
    };
    let typed = typed_of(&upload);
    let actor = user.actor(&viewer);
    let stored = state
        .try_run(move |conn| {
            let new = service::NewDocument {
                title: upload.field("title"),
                description: upload.field("description"),
                file_name: &upload.file_name,
                bytes: &upload.bytes,
            };
            service::upload_document(conn, &actor, &new, Utc::now().naive_utc())
        })
        .await?;
    match stored {
        Ok(_) => Ok(see_other("/admin/documents?done=uploaded")),
        Err(HelpError::Fields(errors)) => {
            let shown = (errors, StatusCode::UNPROCESSABLE_ENTITY);
            documents_page(&state, &viewer, &user, shown, typed, None).await
        }
        Err(e) => Err(e.into()),
    }
}

/// POST /admin/documents/{id}/delete
pub async fn delete_document(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let (id, actor) = (path.into_inner(), user.actor(&viewer));
    state
        .run(move |conn| service::delete_document(conn, &actor, id))
        .await?;
    Ok(see_other("/admin/documents?done=deleted"))
}
