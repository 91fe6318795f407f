//! Form bodies that must carry the session's CSRF token.
//!
//! Every state-changing route is a POST whose handler takes [`CsrfForm`]: the token is
//! checked before the form is even parsed, and a missing or wrong token answers 403 with
//! nothing changed.

use actix_session::SessionExt;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::session::stored_csrf;
use crate::web::error::AppError;

pub struct CsrfForm<T>(pub T);

/// A form with no fields but its token (buttons such as 反映, 取消, ログアウト).
#[derive(serde::Deserialize)]
pub struct Empty {}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timing.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let expected = stored_csrf(&req.get_session());
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|_| AppError::PayloadTooLarge)?;
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).map_err(|_| AppError::Csrf)?;
            let sent = pairs
                .iter()
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v.as_str());
            match (expected.as_deref(), sent) {
                (Some(expected), Some(sent)) if same(expected, sent) => {}
                _ => return Err(AppError::Csrf),
            }
            serde_urlencoded::from_bytes::<T>(&body)
                .map(CsrfForm)
                .map_err(|e| AppError::BadRequest(format!("入力内容を読み取れませんでした ({e})")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn comparison() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
