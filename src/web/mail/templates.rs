//! メールテンプレート: the list, the editor with the variables each template may use,
//! a preview for a chosen institution, and the checks on save (nothing is saved when
//! a variable is unknown or the syntax is broken; the form keeps what was typed).

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::domain::mail::TemplateKey;
use crate::mail::compose::Prepared;
use crate::mail::templates::{Template, TemplateProblem};
use crate::services::mail::{self as service, MailError};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, Empty};
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::review::current_fiscal_year;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

#[derive(Serialize)]
struct TemplateLine {
    key: &'static str,
    label: &'static str,
    subject: String,
    edited: bool,
    broadcast: bool,
}

fn key_of(text: &str) -> Result<TemplateKey, AppError> {
    TemplateKey::from_code(text).ok_or(AppError::NotFound)
}

/// GET /mail/templates
pub async fn list(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let scope = user.scope;
    let lines = state
        .run(move |conn| {
            TemplateKey::ALL
                .into_iter()
                .map(|key| {
                    let t = service::template(conn, scope, key)?;
                    Ok(TemplateLine {
                        key: key.code(),
                        label: key.label(),
                        subject: t.subject,
                        edited: t.revision > 0,
                        broadcast: key.is_broadcast(),
                    })
                })
                .collect::<Result<Vec<_>, MailError>>()
        })
        .await?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("templates", &lines);
    ctx.html("mail/templates.html")
}

/// The editor's form as typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TemplateForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    /// Institution code for the preview.
    #[serde(default)]
    code: String,
    #[serde(default)]
    fy: Option<i32>,
}

#[derive(Serialize, Default)]
struct PreviewView {
    to: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    problem: Option<String>,
}

impl<'a> Editor<'a> {
    /// The editor showing what was typed.
    fn typed(key: TemplateKey, form: &'a TemplateForm, can_edit: bool) -> Editor<'a> {
        Editor {
            key,
            form,
            revision: 0,
            errors: BTreeMap::new(),
            preview: None,
            saved: false,
            can_edit,
        }
    }
}

struct Editor<'a> {
    key: TemplateKey,
    form: &'a TemplateForm,
    revision: i32,
    errors: BTreeMap<&'static str, String>,
    preview: Option<PreviewView>,
    saved: bool,
    /// Administrators edit; officers read and preview.
    can_edit: bool,
}

async fn editor_page(
    state: &AppState,
    viewer: &Viewer,
    e: Editor<'_>,
) -> Result<HttpResponse, AppError> {
    let mut ctx = views::Page::of(state, viewer).await?;
    let variables: Vec<(&str, &str)> = e
        .key
        .variables()
        .iter()
        .map(|v| (v.name, v.meaning))
        .collect();
    ctx.insert("key", e.key.code());
    ctx.insert("label", e.key.label());
    ctx.insert("variables", &variables);
    ctx.insert("form", e.form);
    ctx.insert(
        "fiscal_year",
        &e.form.fy.unwrap_or_else(current_fiscal_year),
    );
    ctx.insert("revision", &e.revision);
    ctx.insert("errors", &e.errors);
    ctx.insert("preview", &e.preview);
    ctx.insert("saved", &e.saved);
    ctx.insert("can_edit", &e.can_edit);
    let status = if e.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    ctx.html_status(status, "mail/template.html")
}

#[derive(Deserialize)]
pub struct EditQuery {
    #[serde(default)]
    saved: Option<u8>,
}

/// GET /mail/templates/{key}
pub async fn edit(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<String>,
    query: web::Query<EditQuery>,
) -> Result<HttpResponse, AppError> {
    let key = key_of(&path.into_inner())?;
    let scope = user.scope;
    let t = state
        .run(move |conn| service::template(conn, scope, key))
        .await?;
    let form = TemplateForm {
        subject: t.subject,
        body: t.body,
        ..TemplateForm::default()
    };
    let editor = Editor {
        key,
        form: &form,
        revision: t.revision,
        errors: BTreeMap::new(),
        preview: None,
        saved: query.saved.is_some(),
        can_edit: user.role.is_admin(),
    };
    editor_page(&state, &viewer, editor).await
}

/// POST /mail/templates/{key}: saves after the checks.
pub async fn save(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<String>,
    form: CsrfForm<TemplateForm>,
) -> Result<HttpResponse, AppError> {
    let key = key_of(&path.into_inner())?;
    let typed = form.0;
    let (actor, subject, body) = (
        user.actor(&viewer),
        typed.subject.clone(),
        typed.body.clone(),
    );
    match state
        .try_run(move |conn| service::save_template(conn, &actor, key, &subject, &body))
        .await?
    {
        Ok(_) => Ok(see_other(&format!(
            "/mail/templates/{}?saved=1",
            key.code()
        ))),
        Err(MailError::Template(problems)) => {
            let mut editor = Editor::typed(key, &typed, true);
            editor.errors = errors_of(problems);
            editor_page(&state, &viewer, editor).await
        }
        Err(e) => Err(e.into()),
    }
}

/// POST /mail/templates/{key}/preview: the text as typed, rendered for one
/// institution (nothing saved).
pub async fn preview(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<String>,
    form: CsrfForm<TemplateForm>,
) -> Result<HttpResponse, AppError> {
    let key = key_of(&path.into_inner())?;
    let typed = form.0;
    let (scope, url, t) = (user.scope, state.settings.display_url(), typed.clone());
    let fy = typed.fy.unwrap_or_else(current_fiscal_year);
    let shown = state
        .try_run(move |conn| {
            let template = Template {
                subject: t.subject,
                body: t.body,
                revision: 0,
            };
            service::preview_template(conn, scope, &url, key, template, &t.code, fy)
        })
        .await?;
    let mut editor = Editor::typed(key, &typed, user.role.is_admin());
    match shown {
        Err(MailError::Template(problems)) => editor.errors = errors_of(problems),
        shown => editor.preview = Some(preview_view(shown)?),
    }
    editor_page(&state, &viewer, editor).await
}

fn errors_of(problems: Vec<TemplateProblem>) -> BTreeMap<&'static str, String> {
    problems.into_iter().map(|p| (p.field, p.message)).collect()
}

fn preview_view(shown: Result<Prepared, MailError>) -> Result<PreviewView, AppError> {
    Ok(match shown {
        Ok(Prepared::Send { to, rendered }) => PreviewView {
            to: Some(to),
            subject: Some(rendered.subject),
            body: Some(rendered.body),
            problem: None,
        },
        Ok(Prepared::Skip(p) | Prepared::Fail(p)) => PreviewView {
            problem: Some(p),
            ..PreviewView::default()
        },
        Err(MailError::NotFound) => PreviewView {
            problem: Some("その医療機関コードは担当範囲に見つかりません".into()),
            ..PreviewView::default()
        },
        Err(MailError::Invalid(message)) => PreviewView {
            problem: Some(message),
            ..PreviewView::default()
        },
        Err(e) => return Err(e.into()),
    })
}

/// POST /mail/templates/{key}/reset: back to the shipped default.
pub async fn reset(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<String>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let key = key_of(&path.into_inner())?;
    let actor = user.actor(&viewer);
    state
        .run(move |conn| service::reset_template(conn, &actor, key))
        .await?;
    Ok(see_other(&format!(
        "/mail/templates/{}?saved=1",
        key.code()
    )))
}
