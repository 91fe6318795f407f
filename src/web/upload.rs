//! File uploads (multipart) shared by every import page. The CSRF field must come
//! before the file (it does in our forms), so a forged request is refused before its
//! file is read; past the size limit the rest is received and dropped unread.

use std::collections::BTreeMap;

use actix_multipart::{Field, Multipart};
use actix_web::HttpRequest;
use actix_web::http::{StatusCode, header};
use futures_util::StreamExt;

use super::error::AppError;

#[derive(Default)]
pub struct Upload {
    /// The form's text fields.
    pub fields: BTreeMap<String, String>,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

impl Upload {
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

pub enum UploadProblem {
    TooLarge,
    Csrf,
    Unreadable,
}

impl UploadProblem {
    /// The message for the upload page (CSRF failures are answered with 403 instead).
    pub fn message(&self, max_mb: u32) -> String {
        match self {
            UploadProblem::TooLarge => format!(
                "ファイルが大きすぎます（上限 {max_mb} MB）。ファイルは読み込んでいません。"
            ),
            UploadProblem::Csrf | UploadProblem::Unreadable => {
                "送信されたファイルを受け取れませんでした。もう一度お試しください。".into()
            }
        }
    }
}

/// Why an upload goes back to its page: the message with its status, or an error that
/// is the request's (a forged form answers 403, a lost database 500) and no page's.
pub enum Refusal {
    Page(String, StatusCode),
    Error(AppError),
}

impl Refusal {
    /// The form came back without something it needs (422).
    pub fn unprocessable(message: impl Into<String>) -> Refusal {
        Refusal::Page(message.into(), StatusCode::UNPROCESSABLE_ENTITY)
    }
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        Refusal::Error(e)
    }
}

/// [`read`] for a page that shows what went wrong: a file over the limit (413) or one
/// that could not be received (400) goes back to the page with its message.
pub async fn receive(
    req: &HttpRequest,
    payload: Multipart,
    expected_csrf: &str,
    max_mb: u32,
) -> Result<Upload, Refusal> {
    let limit = max_mb as usize * 1024 * 1024;
    read(req, payload, expected_csrf, limit)
        .await
        .map_err(|problem| match problem {
            UploadProblem::Csrf => Refusal::Error(AppError::Csrf),
            UploadProblem::TooLarge => {
                Refusal::Page(problem.message(max_mb), StatusCode::PAYLOAD_TOO_LARGE)
            }
            UploadProblem::Unreadable => {
                Refusal::Page(problem.message(max_mb), StatusCode::BAD_REQUEST)
            }
        })
}

/// Reads the multipart form whose file field is named `file`.
pub async fn read(
    req: &HttpRequest,
    mut payload: Multipart,
    expected_csrf: &str,
    limit: usize,
) -> Result<Upload, UploadProblem> {
    // A declared size far beyond the limit (ten times) is refused at once, without
    // waiting to receive it all.
    if declared_length(req).is_some_and(|n| n > limit.saturating_mul(10)) {
        return Err(UploadProblem::TooLarge);
    }
    let mut too_large = false;
    let mut csrf_ok = false;
    let mut upload = Upload::default();
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|_| UploadProblem::Unreadable)?;
        let name = field.name().unwrap_or_default().to_string();
        let file_name = file_name_of(&field);
        let data = field_bytes(&mut field, limit, &mut too_large).await?;
        match name.as_str() {
            "csrf" => csrf_ok = String::from_utf8_lossy(&data) == expected_csrf,
            "file" if !csrf_ok => return Err(UploadProblem::Csrf),
            "file" => {
                upload.file_name = file_name.unwrap_or_else(|| "upload".into());
                upload.bytes = data;
            }
            other => {
                let text = String::from_utf8_lossy(&data).trim().to_string();
                upload.fields.insert(other.to_string(), text);
            }
        }
    }
    if !csrf_ok {
        return Err(UploadProblem::Csrf);
    }
    if too_large {
        return Err(UploadProblem::TooLarge);
    }
    Ok(upload)
}

fn file_name_of(field: &Field) -> Option<String> {
    field
        .content_disposition()
        .and_then(|cd| cd.get_filename())
        .map(str::to_string)
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// One field's bytes. Once the form is over the limit (`too_large`, shared by all its
/// fields) the rest is received and dropped.
async fn field_bytes(
    field: &mut Field,
    limit: usize,
    too_large: &mut bool,
) -> Result<Vec<u8>, UploadProblem> {
    let mut data = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|_| UploadProblem::Unreadable)?;
        // Answering before the browser has sent everything makes it show a
        // connection error instead of our message.
        if *too_large || data.len() + chunk.len() > limit {
            *too_large = true;
            data.clear();
            continue;
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}
