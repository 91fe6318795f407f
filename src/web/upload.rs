//! File uploads (multipart) shared by every import page. The CSRF field must come
//! before the file (it does in our forms), so a forged request is refused before its
//! file is read; past the size limit the rest is received and dropped unread.

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::HttpRequest;
use actix_web::http::header;
use futures_util::StreamExt;

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

/// Reads the multipart form whose file field is named `file`.
pub async fn read(
    req: &HttpRequest,
    mut payload: Multipart,
    expected_csrf: &str,
    limit: usize,
) -> Result<Upload, UploadProblem> {
    // A declared size far beyond the limit (ten times) is refused at once, without
    // waiting to receive it all.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit.saturating_mul(10)) {
        return Err(UploadProblem::TooLarge);
    }
    let mut too_large = false;
    let mut csrf_ok = false;
    let mut upload = Upload {
        fields: BTreeMap::new(),
        file_name: String::new(),
        bytes: Vec::new(),
    };
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|_| UploadProblem::Unreadable)?;
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .map(str::to_string);
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| UploadProblem::Unreadable)?;
            // Answering before the browser has sent everything makes it show a
            // connection error instead of our message.
            if too_large || data.len() + chunk.len() > limit {
                too_large = true;
                data.clear();
                continue;
            }
            data.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "csrf" => {
                csrf_ok = String::from_utf8_lossy(&data) == expected_csrf;
            }
            "file" => {
                if !csrf_ok {
                    return Err(UploadProblem::Csrf);
                }
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
