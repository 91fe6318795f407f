//! How failures become pages.
//!
//! Policy: services return their own error enums, each telling its [`Kind`]; handlers
//! return [`AppError`], and `?` turns any service error into it. A user sees a Japanese page that never contains internal text; a 5xx is
//! logged with its whole chain and a reference number the user can quote on the phone.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use super::views;
use crate::services::{Failure, Kind};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("csrf token missing or wrong")]
    Csrf,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => AppError::NotFound,
            other => AppError::Internal(other.to_string()),
        }
    }
}

/// Any service error: not-found stays a 404 (never telling whether the record exists
/// elsewhere), messages written for users are shown, the rest is logged.
impl<E: Failure> From<E> for AppError {
    fn from(e: E) -> Self {
        match e.kind() {
            Kind::NotFound => AppError::NotFound,
            Kind::Conflict | Kind::Invalid => AppError::Conflict(e.to_string()),
            Kind::Internal => AppError::Internal(e.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<tera::Error> for AppError {
    fn from(e: tera::Error) -> Self {
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        AppError::Internal(chain)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let detail = match self {
            // Conflict and bad-request messages are written for users (Japanese).
            AppError::Conflict(m) | AppError::BadRequest(m) => Some(m.as_str()),
            AppError::Csrf => Some(
                "画面を開いてから時間がたったか、正しくない送信です。画面を開き直してから、もう一度操作してください。",
            ),
            _ => None,
        };
        let reference = if status.is_server_error() {
            let reference = views::reference_number();
            tracing::error!(%reference, error = %self, "request failed");
            Some(reference)
        } else {
            None
        };
        views::error_page(status, detail, reference.as_deref())
    }
}
