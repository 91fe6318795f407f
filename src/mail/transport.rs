//! Where messages go: an SMTP server (lettre, one reused connection per sending
//! thread), or `.eml` files under the data directory when no server is configured.

use std::path::{Path, PathBuf};

use lettre::Transport as _;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::SmtpTransport;

use crate::config::MailSettings;
use crate::domain::mail::Attempt;

/// One message ready to hand over.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub message_id: &'a str,
}

#[derive(Clone)]
pub enum Transport {
    Smtp(Box<SmtpTransport>),
    /// Writes each message as `<data_dir>/mail/<Message-ID>.eml`; nothing is sent.
    Files(PathBuf),
}

impl Transport {
    /// The transport the settings name. Each sending thread makes its own, so each
    /// holds one connection and reuses it.
    pub fn from_settings(mail: &MailSettings, data_dir: &Path) -> Result<Transport, String> {
        match &mail.smtp_url {
            Some(url) => {
                let timeout = mail
                    .timeout
                    .to_std()
                    .unwrap_or(std::time::Duration::from_secs(30));
                let smtp = SmtpTransport::from_url(url)
                    .map_err(|e| format!("KAKARI_SMTP_URL を使えません: {e}"))?
                    .timeout(Some(timeout))
                    .pool_config(PoolConfig::new().max_size(1).min_idle(0))
                    .build();
                Ok(Transport::Smtp(Box::new(smtp)))
            }
            None => Ok(Transport::Files(data_dir.join("mail"))),
        }
    }

    /// Hands one message over; the answer is the server's (or where the file went).
    pub fn send(&self, out: &Outgoing) -> Attempt {
        let message = match build(out) {
            Ok(m) => m,
            Err(reason) => return Attempt::Permanent(reason),
        };
        match self {
            Transport::Smtp(smtp) => match smtp.send(&message) {
                Ok(response) => Attempt::Accepted(format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                )),
                Err(e) if e.is_permanent() => Attempt::Permanent(e.to_string()),
                // A socket timeout reads as EAGAIN on Linux: say what it means.
                Err(e) if e.is_timeout() || is_timeout_text(&e.to_string()) => Attempt::Transient(
                    format!("メールサーバが時間内に応答しません（タイムアウト）: {e}"),
                ),
                // 4xx, refused or dropped connections, TLS trouble: the server may
                // take it later.
                Err(e) => Attempt::Transient(e.to_string()),
            },
            Transport::Files(dir) => {
                let name: String = out
                    .message_id
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                    .collect();
                let path = dir.join(format!("{name}.eml"));
                let written = std::fs::create_dir_all(dir)
                    .and_then(|_| std::fs::write(&path, message.formatted()));
                match written {
                    Ok(()) => Attempt::Accepted(format!(
                        "ファイルに保存しました（送信はしていません）: {}",
                        path.display()
                    )),
                    Err(e) => {
                        Attempt::Transient(format!("ファイル {} に書けません: {e}", path.display()))
                    }
                }
            }
        }
    }

    /// For pages and the command line: where mail goes.
    pub fn describe(mail: &MailSettings, data_dir: &Path) -> String {
        match &mail.smtp_url {
            Some(url) => format!("SMTP {}", crate::config::redact(url)),
            None => format!(
                "ファイル {}（メールサーバが設定されていないため、実際には送信しません）",
                data_dir.join("mail").display()
            ),
        }
    }
}

fn is_timeout_text(text: &str) -> bool {
    text.contains("os error 11") || text.contains("timed out") || text.contains("os error 110")
}

/// The message with its headers; lettre encodes a Japanese subject (RFC 2047) and the
/// UTF-8 body.
fn build(out: &Outgoing) -> Result<Message, String> {
    let from: Mailbox = out
        .from
        .parse()
        .map_err(|e| format!("差出人 {} が正しくありません: {e}", out.from))?;
    let to: Mailbox = out
        .to
        .parse()
        .map_err(|e| format!("宛先 {} が正しくありません: {e}", out.to))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(out.subject)
        .message_id(Some(out.message_id.to_string()))
        .date_now()
        .header(ContentType::TEXT_PLAIN)
        .body(out.body.to_string())
        .map_err(|e| format!("メールを組み立てられません: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_japanese_subject_is_encoded_and_the_body_is_utf8() {
        let out = Outgoing {
            from: "鹿児島県 医療政策課 <iryo@pref.example.jp>",
            to: "info@clinic.example.jp",
            subject: "【督促】令和8年度かかりつけ医機能報告",
            body: "本文です。\n",
            message_id: "<kakari.1.0@pref.example.jp>",
        };
        let m = build(&out).unwrap();
        let text = String::from_utf8(m.formatted()).unwrap();
        assert!(text.contains("Subject: =?utf-8?"), "{text}");
        assert!(
            text.contains("Message-ID: <kakari.1.0@pref.example.jp>"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8"),
            "{text}"
        );
        assert!(!text.contains("督促"), "the subject is encoded: {text}");
    }

    #[test]
    fn a_file_transport_writes_one_eml_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let t = Transport::Files(dir.path().join("mail"));
        let out = Outgoing {
            from: "a@example.jp",
            to: "b@example.jp",
            subject: "件名",
            body: "本文\n",
            message_id: "<kakari.7.0@example.jp>",
        };
        let Attempt::Accepted(answer) = t.send(&out) else {
            panic!("not written");
        };
        assert!(answer.contains("kakari.7.0example.jp.eml"), "{answer}");
        assert!(
            dir.path().join("mail/kakari.7.0example.jp.eml").exists(),
            "{answer}"
        );
        let bad = Outgoing {
            to: "not an address",
            ..out
        };
        assert!(matches!(t.send(&bad), Attempt::Permanent(_)));
    }
}
