//! Typed settings: built-in defaults < TOML file < `KAKARI_*` environment < command-line flags.
//!
//! Everything is validated once at start-up, and every problem names the key to fix in
//! Japanese and English, because the reader is an IT staff member at a prefecture who has
//! never seen the code.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod mail;
pub use mail::{MailSettings, redact};

/// Every environment variable the product reads. Anything else starting with `KAKARI_`
/// is a typo that would otherwise be ignored silently.
pub const ENV_KEYS: &[&str] = &[
    "KAKARI_CONFIG",
    "KAKARI_DATA_DIR",
    "KAKARI_BIND",
    "KAKARI_POOL_SIZE",
    "KAKARI_WORKERS",
    "KAKARI_LOG",
    "KAKARI_PUBLIC_URL",
    "KAKARI_SESSION_IDLE_MINUTES",
    "KAKARI_LOCKOUT_ATTEMPTS",
    "KAKARI_LOCKOUT_MINUTES",
    "KAKARI_PASSWORD_MIN_LENGTH",
    "KAKARI_COOKIE_SECURE",
    "KAKARI_SESSION_KEY",
    "KAKARI_MAX_UPLOAD_MB",
    "KAKARI_SESSION_MAX_HOURS",
    "KAKARI_LINK_HOURS",
    "KAKARI_IMPORT_MAX_MEMBER_MB",
    "KAKARI_IMPORT_MAX_RATIO",
    "KAKARI_IMPORT_MAX_CELL_KB",
    "KAKARI_IMPORT_MAX_ROWS",
];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("設定ファイル {path} が見つかりません (config file {path} not found)")]
    FileMissing { path: String },
    #[error("設定ファイル {path} を読めません: {reason} (cannot read config file {path})")]
    FileUnreadable { path: String, reason: String },
    #[error("設定ファイル {path} の書式が正しくありません: {reason} (invalid config file {path})")]
    FileInvalid { path: String, reason: String },
    #[error(
        "未知の環境変数 {key} があります。綴りを確認してください (unknown setting {key}; known: {known})"
    )]
    UnknownEnv { key: String, known: String },
    #[error("設定 {key} の値 '{value}' が正しくありません: {expected} (invalid value for {key})")]
    InvalidValue {
        key: String,
        value: String,
        expected: String,
    },
}

/// The optional TOML file. Unknown keys are rejected so that a typo cannot pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    bind: Option<String>,
    pool_size: Option<u32>,
    workers: Option<usize>,
    log: Option<String>,
    public_url: Option<String>,
    session_idle_minutes: Option<u32>,
    lockout_attempts: Option<u32>,
    lockout_minutes: Option<u32>,
    password_min_length: Option<u32>,
    cookie_secure: Option<bool>,
    session_key: Option<String>,
    max_upload_mb: Option<u32>,
    session_max_hours: Option<u32>,
    link_hours: Option<u32>,
    document_max_mb: Option<u32>,
    forms_max_mb: Option<u32>,
    import_max_member_mb: Option<u32>,
    import_max_ratio: Option<u32>,
    import_max_cell_kb: Option<u32>,
    import_max_rows: Option<u32>,
    mail: Option<mail::FileMail>,
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub bind: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    /// `None` means the SQLite file inside `data_dir`.
    pub database_url: Option<String>,
    pub bind: SocketAddr,
    pub pool_size: u32,
    pub workers: usize,
    pub log: String,
    /// The address people type, used in mails and printed at start.
    pub public_url: Option<String>,
    /// Signed-in sessions end after this much inactivity.
    pub session_idle_minutes: u32,
    /// Consecutive wrong passwords before an account is locked.
    pub lockout_attempts: u32,
    pub lockout_minutes: u32,
    pub password_min_length: u32,
    /// Send the session cookie only over https. Defaults to true when `public_url` is https.
    pub cookie_secure: bool,
    /// Key for the session cookie (at least 64 characters). When unset, a random key is
    /// generated once and kept in the database, so every instance shares it.
    pub session_key: Option<String>,
    /// Largest file an officer may upload, in MB; larger uploads are refused unread.
    pub max_upload_mb: u32,
    /// A signed-in session ends this long after sign-in, however active.
    pub session_max_hours: u32,
    /// A password setup or reset link expires this long after it is made.
    pub link_hours: u32,
    /// Largest manual (静的コンテンツ) an administrator may upload, in MB.
    pub document_max_mb: u32,
    /// Largest upload of filled 調査票 (a health center's ZIP is large), in MB.
    pub forms_max_mb: u32,
    /// What an uploaded file may inflate to and hold (see `import::Limits`).
    pub import_limits: crate::import::Limits,
    pub mail: MailSettings,
    /// Where each value came from, for `kakari config check`.
    pub sources: BTreeMap<&'static str, String>,
}

impl Settings {
    /// Loads settings from the real process environment.
    pub fn load(overrides: &Overrides) -> Result<Settings, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("KAKARI_") || k == "DATABASE_URL")
            .collect();
        Self::load_from(overrides, &env)
    }

    /// Loads settings from an explicit environment map (testable without touching the
    /// process environment).
    pub fn load_from(
        overrides: &Overrides,
        env: &BTreeMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        for key in env.keys() {
            if key.starts_with("KAKARI_")
                && !ENV_KEYS.contains(&key.as_str())
                && !mail::ENV_KEYS.contains(&key.as_str())
            {
                return Err(ConfigError::UnknownEnv {
                    key: key.clone(),
                    known: [ENV_KEYS, mail::ENV_KEYS].concat().join(", "),
                });
            }
        }
        let config_path = overrides
            .config_file
            .clone()
            .or_else(|| env.get("KAKARI_CONFIG").map(PathBuf::from));
        let file = match &config_path {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };

        let mut layers = Layers {
            env,
            sources: BTreeMap::new(),
        };
        let data_dir = layers
            .pick(
                "data_dir",
                overrides
                    .data_dir
                    .as_ref()
                    .map(|p| p.to_string_lossy().into()),
                "KAKARI_DATA_DIR",
                file.data_dir.map(|p| p.to_string_lossy().into()),
            )
            .unwrap_or_else(|| "./data".into());
        let database_url = layers
            .pick(
                "database_url",
                overrides.database_url.clone(),
                "DATABASE_URL",
                file.database_url,
            )
            .filter(|s| !s.trim().is_empty());
        let bind = layers
            .pick("bind", overrides.bind.clone(), "KAKARI_BIND", file.bind)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let pool_size =
            layers.number("pool_size", "KAKARI_POOL_SIZE", file.pool_size, 16, 1..=200)?;
        let workers = layers.number(
            "workers",
            "KAKARI_WORKERS",
            file.workers.map(|w| w as u32),
            0,
            0..=256,
        )? as usize;
        let log = layers
            .pick("log", None, "KAKARI_LOG", file.log)
            .unwrap_or_else(|| "info".into());
        let public_url = layers.pick("public_url", None, "KAKARI_PUBLIC_URL", file.public_url);
        let session_idle_minutes = layers.number(
            "session_idle_minutes",
            "KAKARI_SESSION_IDLE_MINUTES",
            file.session_idle_minutes,
            60,
            5..=1440,
        )?;
        let lockout_attempts = layers.number(
            "lockout_attempts",
            "KAKARI_LOCKOUT_ATTEMPTS",
            file.lockout_attempts,
            5,
            1..=100,
        )?;
        let lockout_minutes = layers.number(
            "lockout_minutes",
            "KAKARI_LOCKOUT_MINUTES",
            file.lockout_minutes,
            15,
            1..=1440,
        )?;
        let password_min_length = layers.number(
            "password_min_length",
            "KAKARI_PASSWORD_MIN_LENGTH",
            file.password_min_length,
            12,
            8..=128,
        )?;
        let https = public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
        let cookie_secure = layers
            .pick(
                "cookie_secure",
                None,
                "KAKARI_COOKIE_SECURE",
                file.cookie_secure.map(|v| v.to_string()),
            )
            .unwrap_or_else(|| https.to_string());
        let cookie_secure = boolean("cookie_secure", &cookie_secure)?;
        let session_key = layers.pick("session_key", None, "KAKARI_SESSION_KEY", file.session_key);
        if session_key.as_ref().is_some_and(|k| k.len() < 64) {
            return Err(invalid(
                "session_key",
                "(省略)",
                "64文字以上 (at least 64 characters)",
            ));
        }
        let max_upload_mb = layers.number(
            "max_upload_mb",
            "KAKARI_MAX_UPLOAD_MB",
            file.max_upload_mb,
            20,
            1..=500,
        )?;
        let session_max_hours = layers.number(
            "session_max_hours",
            "KAKARI_SESSION_MAX_HOURS",
            file.session_max_hours,
            12,
            1..=720,
        )?;
        let link_hours = layers.number(
            "link_hours",
            "KAKARI_LINK_HOURS",
            file.link_hours,
            72,
            1..=720,
        )?;
        let forms_max_mb = layers.number(
            "forms_max_mb",
            "KAKARI_FORMS_MAX_MB",
            file.forms_max_mb,
            100,
            1..=1000,
        )?;
        let document_max_mb = layers.number(
            "document_max_mb",
            "KAKARI_DOCUMENT_MAX_MB",
            file.document_max_mb,
            30,
            1..=200,
        )?;
        let defaults = crate::import::Limits::default();
        let mb = 1024 * 1024;
        let import_limits = crate::import::Limits {
            member_bytes: u64::from(layers.number(
                "import_max_member_mb",
                "KAKARI_IMPORT_MAX_MEMBER_MB",
                file.import_max_member_mb,
                (defaults.member_bytes / mb) as u32,
                1..=2000,
            )?) * mb,
            ratio: u64::from(layers.number(
                "import_max_ratio",
                "KAKARI_IMPORT_MAX_RATIO",
                file.import_max_ratio,
                defaults.ratio as u32,
                10..=10_000,
            )?),
            ratio_from_bytes: defaults.ratio_from_bytes,
            cell_bytes: layers.number(
                "import_max_cell_kb",
                "KAKARI_IMPORT_MAX_CELL_KB",
                file.import_max_cell_kb,
                (defaults.cell_bytes / 1024) as u32,
                1..=1024,
            )? as usize
                * 1024,
            rows: layers.number(
                "import_max_rows",
                "KAKARI_IMPORT_MAX_ROWS",
                file.import_max_rows,
                defaults.rows as u32,
                1000..=10_000_000,
            )? as usize,
        };
        let mail = mail::load(
            &mut layers,
            file.mail.unwrap_or_default(),
            public_url.as_deref(),
        )?;
        let sources = layers.sources;

        if data_dir.trim().is_empty() {
            return Err(invalid(
                "data_dir",
                &data_dir,
                "空にできません (must not be empty)",
            ));
        }
        let bind: SocketAddr = bind.trim().parse().map_err(|_| {
            invalid(
                "bind",
                &bind,
                "「アドレス:ポート」の形式で指定してください 例 127.0.0.1:8080 (expected host:port)",
            )
        })?;
        if let Some(url) = &database_url {
            crate::db::DatabaseUrl::parse(url, Path::new(&data_dir))
                .map_err(|e| invalid("database_url", url, &e.to_string()))?;
        }
        if let Some(url) = &public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid(
                "public_url",
                url,
                "http:// または https:// で始まる URL (an http(s) URL)",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&log).map_err(|_| {
            invalid(
                "log",
                &log,
                "info, debug, warn などのログ指定 (a log filter)",
            )
        })?;

        Ok(Settings {
            data_dir: PathBuf::from(data_dir),
            database_url,
            bind,
            pool_size,
            workers,
            log,
            public_url,
            session_idle_minutes,
            lockout_attempts,
            lockout_minutes,
            password_min_length,
            cookie_secure,
            session_key,
            max_upload_mb,
            session_max_hours,
            link_hours,
            document_max_mb,
            forms_max_mb,
            import_limits,
            mail,
            sources,
        })
    }

    /// The database this deployment uses, resolved against the data directory.
    pub fn database(&self) -> crate::db::DatabaseUrl {
        match &self.database_url {
            Some(url) => crate::db::DatabaseUrl::parse(url, &self.data_dir)
                .unwrap_or_else(|_| crate::db::DatabaseUrl::default_sqlite(&self.data_dir)),
            None => crate::db::DatabaseUrl::default_sqlite(&self.data_dir),
        }
    }

    /// The URL to print for people: the configured public URL, or the bind address.
    pub fn display_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.clone(),
            None => format!("http://{}/", self.bind),
        }
    }
}

/// Picks each value from the highest layer that has it, remembering where it came from.
pub(crate) struct Layers<'a> {
    env: &'a BTreeMap<String, String>,
    sources: BTreeMap<&'static str, String>,
}

impl Layers<'_> {
    pub(crate) fn pick(
        &mut self,
        key: &'static str,
        cli: Option<String>,
        env_key: &str,
        file_value: Option<String>,
    ) -> Option<String> {
        let (value, source) = if let Some(v) = cli {
            (Some(v), "コマンドライン (command line)".to_string())
        } else if let Some(v) = self.env.get(env_key) {
            (Some(v.clone()), format!("環境変数 {env_key}"))
        } else if let Some(v) = file_value {
            (Some(v), "設定ファイル (config file)".to_string())
        } else {
            (None, "既定値 (default)".to_string())
        };
        self.sources.insert(key, source);
        value
    }

    pub(crate) fn number(
        &mut self,
        key: &'static str,
        env_key: &str,
        file_value: Option<u32>,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<u32, ConfigError> {
        let Some(raw) = self.pick(key, None, env_key, file_value.map(|v| v.to_string())) else {
            return Ok(default);
        };
        match raw.trim().parse::<u32>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(invalid(
                key,
                &raw,
                &format!(
                    "{}〜{} の整数 (an integer {}-{})",
                    range.start(),
                    range.end(),
                    range.start(),
                    range.end()
                ),
            )),
        }
    }
}

pub(crate) fn boolean(key: &str, raw: &str) -> Result<bool, ConfigError> {
    match raw.trim() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(invalid(key, raw, "true または false")),
    }
}

pub(crate) fn invalid(key: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::FileMissing { path: shown });
        }
        Err(e) => {
            return Err(ConfigError::FileUnreadable {
                path: shown,
                reason: e.to_string(),
            });
        }
    };
    toml::from_str(&text).map_err(|e| ConfigError::FileInvalid {
        path: shown,
        reason: e.message().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_apply_without_anything() {
        let s = Settings::load_from(&Overrides::default(), &env(&[])).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert!(s.database_url.is_none());
    }

    #[test]
    fn mail_without_a_server_writes_files_and_a_server_needs_its_public_url_and_sender() {
        let s = Settings::load_from(&Overrides::default(), &env(&[])).unwrap();
        assert!(s.mail.sends_nothing());
        let e = Settings::load_from(
            &Overrides::default(),
            &env(&[("KAKARI_SMTP_URL", "smtp://127.0.0.1:2525")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("public_url"), "{e}");
        let e = Settings::load_from(
            &Overrides::default(),
            &env(&[
                ("KAKARI_SMTP_URL", "smtp://127.0.0.1:2525"),
                ("KAKARI_PUBLIC_URL", "https://kakari.example.jp"),
            ]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("mail_from"), "{e}");
        let ok = Settings::load_from(
            &Overrides::default(),
            &env(&[
                (
                    "KAKARI_SMTP_URL",
                    "smtp://user:secret@mail.example.jp:587?tls=required",
                ),
                ("KAKARI_PUBLIC_URL", "https://kakari.example.jp"),
                (
                    "KAKARI_MAIL_FROM",
                    "鹿児島県 医療政策課 <iryo@pref.example.jp>",
                ),
                ("KAKARI_MAIL_RATE", "0"),
            ]),
        )
        .unwrap();
        assert!(!ok.mail.sends_nothing());
        assert_eq!(ok.mail.rate, 0);
        for (key, value) in [
            ("KAKARI_SMTP_URL", "http://mail.example.jp"),
            ("KAKARI_MAIL_FROM", "two@a.jp, three@b.jp\r\nBcc: x@y.jp"),
            ("KAKARI_MAIL_CONNECTIONS", "0"),
            ("KAKARI_MAIL_WORKER", "maybe"),
        ] {
            let mut pairs = vec![
                ("KAKARI_PUBLIC_URL", "https://kakari.example.jp"),
                ("KAKARI_MAIL_FROM", "iryo@pref.example.jp"),
            ];
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, value));
            assert!(
                Settings::load_from(&Overrides::default(), &env(&pairs)).is_err(),
                "{key}={value}"
            );
        }
        // A typo in a mail key is caught like any other.
        assert!(
            Settings::load_from(&Overrides::default(), &env(&[("KAKARI_MAIL_RATES", "5")]))
                .is_err()
        );
        // The settings file takes them in a [mail] table.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kakari.toml");
        std::fs::write(&path, "public_url = \"https://k.example.jp\"\n[mail]\nsmtp_url = \"smtps://mail.example.jp:465\"\nfrom = \"iryo@pref.example.jp\"\nconnections = 4\n").unwrap();
        let o = Overrides {
            config_file: Some(path),
            ..Overrides::default()
        };
        let s = Settings::load_from(&o, &env(&[])).unwrap();
        assert_eq!(s.mail.connections, 4);
        assert_eq!(
            s.mail.smtp_url.as_deref(),
            Some("smtps://mail.example.jp:465")
        );
    }

    #[test]
    fn command_line_beats_environment() {
        let o = Overrides {
            bind: Some("127.0.0.1:9000".into()),
            ..Default::default()
        };
        let s = Settings::load_from(&o, &env(&[("KAKARI_BIND", "127.0.0.1:7000")])).unwrap();
        assert_eq!(s.bind.port(), 9000);
        let s = Settings::load_from(
            &Overrides::default(),
            &env(&[("KAKARI_BIND", "127.0.0.1:7000")]),
        )
        .unwrap();
        assert_eq!(s.bind.port(), 7000);
    }

    #[test]
    fn unknown_environment_key_is_named() {
        let err =
            Settings::load_from(&Overrides::default(), &env(&[("KAKARI_BNID", "x")])).unwrap_err();
        assert!(err.to_string().contains("KAKARI_BNID"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("KAKARI_BIND", "localhost", "bind"),
            ("KAKARI_POOL_SIZE", "0", "pool_size"),
            ("KAKARI_WORKERS", "many", "workers"),
            ("DATABASE_URL", "mysql://x/y", "database_url"),
            ("KAKARI_PUBLIC_URL", "example.jp", "public_url"),
        ];
        for (key, value, name) in cases {
            let err =
                Settings::load_from(&Overrides::default(), &env(&[(key, value)])).expect_err(key);
            match err {
                ConfigError::InvalidValue { key, .. } => assert_eq!(key, name),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn explicit_missing_file_is_an_error() {
        let o = Overrides {
            config_file: Some(PathBuf::from("/nonexistent/kakari.toml")),
            ..Default::default()
        };
        assert!(matches!(
            Settings::load_from(&o, &env(&[])),
            Err(ConfigError::FileMissing { .. })
        ));
    }

    #[test]
    fn file_with_unknown_key_is_rejected_and_known_keys_apply() {
        let dir = std::env::temp_dir().join(format!("kakari-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "bnid = \"127.0.0.1:1\"\n").unwrap();
        let o = Overrides {
            config_file: Some(bad),
            ..Default::default()
        };
        let err = Settings::load_from(&o, &env(&[])).unwrap_err();
        assert!(err.to_string().contains("bnid"), "{err}");

        let good = dir.join("good.toml");
        std::fs::write(&good, "bind = \"127.0.0.1:8181\"\npool_size = 4\n").unwrap();
        let o = Overrides {
            config_file: Some(good),
            ..Default::default()
        };
        let s = Settings::load_from(&o, &env(&[])).unwrap();
        assert_eq!(s.bind.port(), 8181);
        assert_eq!(s.pool_size, 4);
        std::fs::remove_dir_all(&dir).ok();
    }
}
