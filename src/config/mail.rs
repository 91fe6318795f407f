//! Mail settings: where mail goes (an SMTP server, or `.eml` files when none is set),
//! who it is from, and how fast and how patiently the outbox worker sends.

use chrono::Duration;
use serde::Deserialize;

use super::{ConfigError, Layers, invalid};

/// The `[mail]` table of the settings file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileMail {
    pub smtp_url: Option<String>,
    pub from: Option<String>,
    pub rate: Option<u32>,
    pub connections: Option<u32>,
    pub timeout_seconds: Option<u32>,
    pub pause_after: Option<u32>,
    pub retry_seconds: Option<u32>,
    pub max_attempts: Option<u32>,
    pub schedule_grace_minutes: Option<u32>,
    pub digest_hour: Option<u32>,
    pub worker: Option<bool>,
}

pub(super) const ENV_KEYS: &[&str] = &[
    "KAKARI_SMTP_URL",
    "KAKARI_MAIL_FROM",
    "KAKARI_MAIL_RATE",
    "KAKARI_MAIL_CONNECTIONS",
    "KAKARI_MAIL_TIMEOUT_SECONDS",
    "KAKARI_MAIL_PAUSE_AFTER",
    "KAKARI_MAIL_RETRY_SECONDS",
    "KAKARI_MAIL_MAX_ATTEMPTS",
    "KAKARI_MAIL_SCHEDULE_GRACE_MINUTES",
    "KAKARI_MAIL_DIGEST_HOUR",
    "KAKARI_MAIL_WORKER",
];

/// The sender used when none is configured (files only: an SMTP server needs a real one).
pub const DEFAULT_FROM: &str = "かかりつけ医機能報告 <kakari@localhost.invalid>";

#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `smtp://host:port`, `smtp://user:pass@host:587?tls=required`, `smtps://host:465`;
    /// `None` writes `.eml` files under the data directory instead (nothing is sent).
    pub smtp_url: Option<String>,
    /// Display name and address, as people see it: `鹿児島県 医療政策課 <iryo@pref.example.jp>`.
    pub from: String,
    /// Messages per second per process; 0 is no limit.
    pub rate: u32,
    /// SMTP connections (and sending threads) per process.
    pub connections: u32,
    pub timeout: Duration,
    /// Consecutive transient failures (connection errors, timeouts, 4xx) that pause a
    /// campaign; a recipient's own refusal (5xx) does not count.
    pub pause_after: u32,
    /// The wait after a first transient failure (×4 each further time, at most 6 hours).
    pub retry_base: Duration,
    pub max_attempts: u32,
    /// A scheduled campaign whose time passed longer ago than this waits for an officer.
    pub schedule_grace: Duration,
    /// The hour (JST, 0–23) from which the officers' daily digest goes out.
    pub digest_hour: u32,
    /// Run the outbox worker inside `serve` (turn off when `kakari mail worker` runs apart).
    pub worker_in_serve: bool,
}

impl MailSettings {
    /// Writes files instead of sending: every mail page says so.
    pub fn sends_nothing(&self) -> bool {
        self.smtp_url.is_none()
    }

    /// The domain of the sender, for Message-IDs.
    pub fn from_domain(&self) -> String {
        let address = self
            .from
            .rsplit_once('<')
            .map(|(_, rest)| rest.trim_end_matches('>'))
            .unwrap_or(&self.from);
        address
            .rsplit_once('@')
            .map(|(_, d)| d.trim().to_string())
            .unwrap_or_else(|| "localhost.invalid".into())
    }

    /// How long a claim may stand before another worker takes the row back: longer than
    /// one claim's attempts can take (`claim_size` messages, each up to the timeout, and
    /// the wait for the rate shared by every thread). The worker also never starts a
    /// message with less than six timeouts of its claim left.
    pub fn lease(&self, claim_size: u32) -> Duration {
        let rate_wait = if self.rate == 0 {
            Duration::zero()
        } else {
            Duration::milliseconds(
                i64::from(claim_size) * i64::from(self.connections) * 1000 / i64::from(self.rate),
            )
        };
        self.timeout * (claim_size as i32 + 6) + rate_wait + Duration::seconds(5)
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            smtp_url: None,
            from: DEFAULT_FROM.into(),
            rate: 20,
            connections: 2,
            timeout: Duration::seconds(30),
            pause_after: 20,
            retry_base: Duration::seconds(60),
            max_attempts: 6,
            schedule_grace: Duration::minutes(30),
            digest_hour: 8,
            worker_in_serve: true,
        }
    }
}

pub(super) fn load(
    layers: &mut Layers<'_>,
    file: FileMail,
    public_url: Option<&str>,
) -> Result<MailSettings, ConfigError> {
    let d = MailSettings::default();
    let smtp_url = layers
        .pick("smtp_url", None, "KAKARI_SMTP_URL", file.smtp_url)
        .filter(|s| !s.trim().is_empty());
    let from = layers.pick("mail_from", None, "KAKARI_MAIL_FROM", file.from);
    let rate = layers.number(
        "mail_rate",
        "KAKARI_MAIL_RATE",
        file.rate,
        d.rate,
        0..=10_000,
    )?;
    let connections = layers.number(
        "mail_connections",
        "KAKARI_MAIL_CONNECTIONS",
        file.connections,
        d.connections,
        1..=32,
    )?;
    let timeout = layers.number(
        "mail_timeout_seconds",
        "KAKARI_MAIL_TIMEOUT_SECONDS",
        file.timeout_seconds,
        30,
        1..=600,
    )?;
    let pause_after = layers.number(
        "mail_pause_after",
        "KAKARI_MAIL_PAUSE_AFTER",
        file.pause_after,
        d.pause_after,
        1..=100_000,
    )?;
    let retry_seconds = layers.number(
        "mail_retry_seconds",
        "KAKARI_MAIL_RETRY_SECONDS",
        file.retry_seconds,
        60,
        1..=86_400,
    )?;
    let max_attempts = layers.number(
        "mail_max_attempts",
        "KAKARI_MAIL_MAX_ATTEMPTS",
        file.max_attempts,
        d.max_attempts,
        1..=50,
    )?;
    let grace = layers.number(
        "mail_schedule_grace_minutes",
        "KAKARI_MAIL_SCHEDULE_GRACE_MINUTES",
        file.schedule_grace_minutes,
        30,
        0..=10_080,
    )?;
    let digest_hour = layers.number(
        "mail_digest_hour",
        "KAKARI_MAIL_DIGEST_HOUR",
        file.digest_hour,
        d.digest_hour,
        0..=23,
    )?;
    let worker = layers
        .pick(
            "mail_worker",
            None,
            "KAKARI_MAIL_WORKER",
            file.worker.map(|v| v.to_string()),
        )
        .unwrap_or_else(|| "true".into());
    let worker_in_serve = super::boolean("mail_worker", &worker)?;

    if let Some(url) = &smtp_url {
        lettre::SmtpTransport::from_url(url.trim()).map_err(|e| {
            invalid(
                "smtp_url",
                &redact(url),
                &format!(
                    "smtp://ホスト:ポート、smtp://ユーザ:パスワード@ホスト:587?tls=required、smtps://ホスト:465 のいずれか ({e})"
                ),
            )
        })?;
        if public_url.is_none() {
            return Err(invalid(
                "smtp_url",
                &redact(url),
                "メールの本文にリンクを書くため、public_url (KAKARI_PUBLIC_URL) も設定してください (mail needs public_url for its links)",
            ));
        }
        if from.is_none() {
            return Err(invalid(
                "mail_from",
                "",
                "SMTP で送るときは差出人を設定してください 例: 鹿児島県 医療政策課 <iryo@pref.example.jp> (mail_from is required with smtp_url)",
            ));
        }
    }
    let from = from.unwrap_or_else(|| DEFAULT_FROM.into());
    if from.parse::<lettre::message::Mailbox>().is_err() || from.chars().any(char::is_control) {
        return Err(invalid(
            "mail_from",
            &from,
            "「表示名 <アドレス>」またはアドレスのみ (a mailbox such as Name <address>)",
        ));
    }
    Ok(MailSettings {
        smtp_url: smtp_url.map(|u| u.trim().to_string()),
        from,
        rate,
        connections,
        timeout: Duration::seconds(timeout.into()),
        pause_after,
        retry_base: Duration::seconds(retry_seconds.into()),
        max_attempts,
        schedule_grace: Duration::minutes(grace.into()),
        digest_hour,
        worker_in_serve,
    })
}

/// The URL with its password hidden, for messages and `config check`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("smtp://user:secret@mail.example.jp:587?tls=required"),
            "smtp://user:****@mail.example.jp:587?tls=required"
        );
        assert_eq!(redact("smtp://127.0.0.1:25"), "smtp://127.0.0.1:25");
    }

    #[test]
    fn a_lease_outlasts_a_claim_at_the_timeout_and_the_rate() {
        let s = MailSettings {
            rate: 0,
            ..MailSettings::default()
        };
        // 32 messages of up to 30 s each, six timeouts of margin, 5 s.
        assert_eq!(s.lease(32), Duration::seconds(30 * 38 + 5));
        let slow = MailSettings {
            rate: 2,
            connections: 4,
            ..MailSettings::default()
        };
        // The rate spaces 32 × 4 messages of the process 0.5 s apart.
        assert_eq!(slow.lease(32), Duration::seconds(30 * 38 + 64 + 5));
    }

    #[test]
    fn the_sender_domain_names_the_message_ids() {
        let mut s = MailSettings {
            from: "鹿児島県 医療政策課 <iryo@pref.kagoshima.example.jp>".into(),
            ..MailSettings::default()
        };
        assert_eq!(s.from_domain(), "pref.kagoshima.example.jp");
        s.from = "plain@example.jp".into();
        assert_eq!(s.from_domain(), "example.jp");
    }
}
