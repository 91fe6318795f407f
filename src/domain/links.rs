//! One-time links for setting or resetting a password (issue 17). A link mailed
//! through the outbox carries a token derived from its outbox row with a secret key,
//! so a message sent again after a crash carries the same link; only the token's hash
//! is stored. Pure: the key and the clock are arguments.

use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A new account's first password.
    Setup,
    /// A forgotten password.
    Reset,
}

impl Purpose {
    pub fn code(self) -> &'static str {
        match self {
            Purpose::Setup => "setup",
            Purpose::Reset => "reset",
        }
    }

    pub fn from_code(code: &str) -> Option<Purpose> {
        match code {
            "setup" => Some(Purpose::Setup),
            "reset" => Some(Purpose::Reset),
            _ => None,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The token of the link mailed by outbox row `outbox_id`: 64 hex characters.
pub fn token_for_outbox(key: &[u8], outbox_id: i32) -> String {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("kakari-account-link:{outbox_id}").as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// What is stored of a token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A token as it may arrive in an address: 64 lowercase hex characters, or nothing.
pub fn well_formed(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Open,
    Used,
    /// A newer link was issued, or an officer voided it.
    Voided,
    Expired,
}

impl LinkState {
    pub fn of(
        now: NaiveDateTime,
        expires_at: NaiveDateTime,
        used_at: Option<NaiveDateTime>,
        voided_at: Option<NaiveDateTime>,
    ) -> LinkState {
        if used_at.is_some() {
            LinkState::Used
        } else if voided_at.is_some() {
            LinkState::Voided
        } else if now >= expires_at {
            LinkState::Expired
        } else {
            LinkState::Open
        }
    }

    /// What the person who opens it is told.
    pub fn message(self) -> &'static str {
        match self {
            LinkState::Open => "",
            LinkState::Used => {
                "このURLはすでに使われました。パスワードを忘れた場合は、ログイン画面の「パスワードをお忘れの方」から手続きしてください。"
            }
            LinkState::Voided => {
                "このURLは、新しいURLを発行したため使えなくなりました。最後に届いたメールのURLを開いてください。"
            }
            LinkState::Expired => {
                "このURLは有効期限を過ぎました。ログイン画面の「パスワードをお忘れの方」から、もう一度手続きしてください。"
            }
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LinkState::Open => "未使用（有効）",
            LinkState::Used => "使用済み",
            LinkState::Voided => "無効（再発行済み）",
            LinkState::Expired => "期限切れ",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn a_token_is_fixed_by_its_outbox_row_and_key_and_stored_as_a_hash() {
        let a = token_for_outbox(b"key-one", 41);
        assert_eq!(
            a,
            token_for_outbox(b"key-one", 41),
            "a resend carries the same link"
        );
        assert_ne!(a, token_for_outbox(b"key-one", 42));
        assert_ne!(a, token_for_outbox(b"key-two", 41));
        assert!(well_formed(&a));
        assert!(!well_formed("../etc/passwd"));
        assert!(!well_formed(&a.to_uppercase()));
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn a_link_is_open_until_used_voided_or_expired() {
        let t = |h| {
            NaiveDate::from_ymd_opt(2027, 1, 10)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap()
        };
        assert_eq!(LinkState::of(t(9), t(10), None, None), LinkState::Open);
        assert_eq!(LinkState::of(t(10), t(10), None, None), LinkState::Expired);
        assert_eq!(
            LinkState::of(t(9), t(10), Some(t(8)), None),
            LinkState::Used
        );
        assert_eq!(
            LinkState::of(t(9), t(10), None, Some(t(8))),
            LinkState::Voided
        );
        assert_eq!(Purpose::from_code("reset"), Some(Purpose::Reset));
    }
}
