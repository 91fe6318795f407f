//! `kakari mail …`: a test message, broadcasts from the command line, campaign status,
//! and the outbox worker as a process of its own.

use chrono::{NaiveDateTime, Utc};
use clap::Subcommand;

use crate::config::Settings;
use crate::db::Pool;
use crate::domain::auth::Scope;
use crate::domain::mail::{Attempt, Audience, CampaignState, TemplateKey, recipient_address};
use crate::domain::wareki;
use crate::mail::compose::Prepared;
use crate::mail::templates::Rendered;
use crate::mail::transport::{Outgoing, Transport};
use crate::mail::worker::{StopSignal, Worker};
use crate::services::mail::{self as service, By, CampaignRequest};

#[derive(Subcommand)]
pub enum MailAction {
    /// Send one test message now (not through the outbox) and print the server's answer.
    Test {
        #[arg(long, value_name = "ADDRESS")]
        to: String,
        /// Send this template as the first reporting target would get it (guidance,
        /// reminder, …) instead of a short test message.
        #[arg(long)]
        template: Option<String>,
        /// Fiscal year for --template (default: the current one).
        #[arg(long)]
        fy: Option<i32>,
        /// Prefecture code (2 digits) for --template; default: the only prefecture.
        #[arg(long)]
        prefecture: Option<String>,
    },
    /// Create a broadcast (一括配信) and print its id and recipients.
    Send {
        /// guidance (定期報告案内) or reminder (督促).
        #[arg(long)]
        template: String,
        /// targets, unreported or returned.
        #[arg(long)]
        audience: String,
        /// Fiscal year (2026 for 令和8年度).
        #[arg(long)]
        fy: i32,
        /// Send later, at this time in JST: 2027-01-10T09:00.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Prefecture code (2 digits); default: the only prefecture.
        #[arg(long)]
        prefecture: Option<String>,
        /// Show who would get mail without creating anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Read bounce messages (a saved .eml, or an mbox of many): the messages they name
    /// become 不達 and the institutions' addresses are flagged.
    Bounces {
        file: std::path::PathBuf,
        /// Prefecture code (2 digits); default: the only prefecture.
        #[arg(long)]
        prefecture: Option<String>,
    },
    /// Campaigns and their figures (one campaign with its id).
    Status { id: Option<i32> },
    /// Run the outbox worker in this process until stopped (Ctrl+C).
    Worker,
}

pub fn run(action: MailAction, settings: &Settings, pool: &Pool) -> Result<(), String> {
    match action {
        MailAction::Test {
            to,
            template,
            fy,
            prefecture,
        } => {
            let content = match template {
                Some(key) => Some(rendered(pool, settings, &key, fy, prefecture.as_deref())?),
                None => None,
            };
            test(settings, &to, content)
        }
        MailAction::Send {
            template,
            audience,
            fy,
            at,
            prefecture,
            dry_run,
        } => send(
            pool,
            settings,
            &template,
            &audience,
            fy,
            at.as_deref(),
            prefecture,
            dry_run,
        ),
        MailAction::Status { id } => status(pool, id),
        MailAction::Bounces { file, prefecture } => bounces(pool, &file, prefecture.as_deref()),
        MailAction::Worker => {
            println!(
                "メール送信ワーカーを起動しました（送信先: {}）。停止するには Ctrl+C を押してください。",
                Transport::describe(&settings.mail, &settings.data_dir)
            );
            let handles = Worker::new(pool.clone(), settings).spawn(StopSignal::default())?;
            for h in handles {
                let _ = h.join();
            }
            Ok(())
        }
    }
}

/// A template as the first reporting target of the prefecture would get it.
fn rendered(
    pool: &Pool,
    settings: &Settings,
    key: &str,
    fy: Option<i32>,
    prefecture: Option<&str>,
) -> Result<Rendered, String> {
    let key =
        TemplateKey::from_code(key).ok_or_else(|| format!("テンプレート {key} はありません"))?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let scope = Scope::Prefecture(crate::cli::prefecture_id(&mut conn, prefecture)?);
    let fy = fy.unwrap_or_else(|| wareki::fiscal_year_of(wareki::today_jst(Utc::now())));
    let template = service::template(&mut conn, scope, key).map_err(|e| e.to_string())?;
    let url = settings.display_url();
    match service::preview_template(&mut conn, scope, &url, key, template, "", fy) {
        Ok(Prepared::Send { rendered, .. }) => Ok(rendered),
        Ok(Prepared::Skip(reason) | Prepared::Fail(reason)) => Err(reason),
        Err(e) => Err(e.to_string()),
    }
}

fn test(settings: &Settings, to: &str, content: Option<Rendered>) -> Result<(), String> {
    let to = recipient_address(Some(to)).map_err(|e| e.to_string())?;
    let transport = Transport::from_settings(&settings.mail, &settings.data_dir)?;
    let now = Utc::now().naive_utc();
    let message_id = crate::domain::mail::message_id(0, now, &settings.mail.from_domain());
    let content = content.unwrap_or_else(|| Rendered {
        subject: "【試験送信】かかりつけ医機能報告システム".into(),
        body: format!(
            "かかりつけ医機能報告システム（Kakari）からの試験送信です。\n送信日時: {}\n送信先: {}\n",
            wareki::datetime_jst(now),
            Transport::describe(&settings.mail, &settings.data_dir)
        ),
    });
    let attempt = transport.send(&Outgoing {
        from: &settings.mail.from,
        to: &to,
        subject: &content.subject,
        body: &content.body,
        message_id: &message_id,
    });
    match attempt {
        Attempt::Accepted(answer) => {
            println!("受け付けられました: {answer}");
            Ok(())
        }
        Attempt::Transient(answer) => Err(format!("一時的な失敗（後でもう一度）: {answer}")),
        Attempt::Permanent(answer) => Err(format!("拒否されました: {answer}")),
    }
}

#[allow(clippy::too_many_arguments)]
fn send(
    pool: &Pool,
    settings: &Settings,
    template: &str,
    audience: &str,
    fiscal_year: i32,
    at: Option<&str>,
    prefecture: Option<String>,
    dry_run: bool,
) -> Result<(), String> {
    let template = TemplateKey::from_code(template)
        .filter(|k| k.is_broadcast())
        .ok_or("--template は guidance または reminder です")?;
    let audience = Audience::from_code(audience)
        .filter(|a| {
            matches!(
                a,
                Audience::Targets | Audience::Unreported | Audience::Returned
            )
        })
        .ok_or("--audience は targets、unreported、returned のいずれかです")?;
    let scheduled_at = at.map(parse_jst).transpose()?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let prefecture_id = crate::cli::prefecture_id(&mut conn, prefecture.as_deref())?;
    let scope = Scope::Prefecture(prefecture_id);
    let request = CampaignRequest {
        template,
        audience,
        fiscal_year,
        filter: Default::default(),
        chosen: Vec::new(),
        scheduled_at,
    };
    let public_url = settings.display_url();
    let preview =
        service::preview(&mut conn, scope, &public_url, &request).map_err(|e| e.to_string())?;
    println!(
        "{}（{}）: {} に {} 件、メールアドレスなし {} 件",
        template.label(),
        wareki::fiscal_year_label(fiscal_year),
        audience.label(),
        preview.recipients,
        preview.without.len()
    );
    if dry_run {
        for n in preview.without.iter().take(20) {
            println!("  アドレスなし: {} {}（{}）", n.code, n.name, n.reason);
        }
        crate::cli::more(preview.without.len(), 20);
        println!("（--dry-run のため作成していません）");
        return Ok(());
    }
    let key = crate::password::generate();
    let detail = serde_json::json!({ "source": "kakari mail send" });
    let (id, _) = service::create(
        &mut conn,
        By::System {
            name: "kakari mail send",
            scope,
        },
        &request,
        &key,
        &detail,
    )
    .map_err(|e| e.to_string())?;
    let when = scheduled_at
        .map(|t| format!("{}に配信します", wareki::datetime_jst(t)))
        .unwrap_or_else(|| "すぐに配信します".into());
    println!(
        "配信 {id} を作成しました（{} 件）。{when}。",
        preview.recipients
    );
    Ok(())
}

/// The mail lines of `kakari config check`.
pub fn print_settings(settings: &Settings) {
    let m = &settings.mail;
    let lines: [(&str, String); 11] = [
        ("mail (送信先)", Transport::describe(m, &settings.data_dir)),
        ("mail_from", m.from.clone()),
        (
            "mail_rate",
            format!(
                "{} 通/秒{}",
                m.rate,
                if m.rate == 0 {
                    "（制限なし）"
                } else {
                    ""
                }
            ),
        ),
        ("mail_connections", m.connections.to_string()),
        ("mail_timeout_seconds", m.timeout.num_seconds().to_string()),
        ("mail_pause_after", m.pause_after.to_string()),
        ("mail_retry_seconds", m.retry_base.num_seconds().to_string()),
        ("mail_max_attempts", m.max_attempts.to_string()),
        (
            "mail_schedule_grace_minutes",
            m.schedule_grace.num_minutes().to_string(),
        ),
        ("mail_digest_hour", m.digest_hour.to_string()),
        ("mail_worker", m.worker_in_serve.to_string()),
    ];
    for (key, value) in lines {
        println!("  {key:<22} = {value}");
    }
}

fn parse_jst(text: &str) -> Result<NaiveDateTime, String> {
    wareki::parse_jst_datetime(text)
        .ok_or_else(|| format!("--at {text} は 2027-01-10T09:00 の形で日本時間を書いてください"))
}

fn bounces(pool: &Pool, file: &std::path::Path, prefecture: Option<&str>) -> Result<(), String> {
    let (name, bytes) = crate::cli::read_file(file)?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let scope = Scope::Prefecture(crate::cli::prefecture_id(&mut conn, prefecture)?);
    let by = By::System {
        name: "kakari mail bounces",
        scope,
    };
    let report = crate::services::mail::bounces::apply(&mut conn, by, &name, &bytes)
        .map_err(|e| e.to_string())?;
    println!(
        "{} 通を読み、{} 件を不達にしました（該当なし {} 件、不達のお知らせでないもの {} 通）",
        report.messages,
        report.bounced.len(),
        report.unmatched.len(),
        report.skipped.len()
    );
    for b in &report.bounced {
        println!("  不達: {} {} <{}> {}", b.code, b.name, b.address, b.reason);
    }
    for u in &report.unmatched {
        println!("  該当なし: {u}");
    }
    Ok(())
}

fn status(pool: &Pool, id: Option<i32>) -> Result<(), String> {
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let views = match id {
        Some(id) => vec![service::campaign(&mut conn, Scope::All, id).map_err(|e| e.to_string())?],
        None => {
            service::campaigns(&mut conn, Scope::All, 20, 0)
                .map_err(|e| e.to_string())?
                .0
        }
    };
    if views.is_empty() {
        println!("配信はまだありません");
    }
    for v in views {
        let c = &v.campaign;
        let t = &v.tally;
        let state = CampaignState::from_code(&c.state).map_or("?", |s| s.label());
        let template = TemplateKey::from_code(&c.template_key).map_or("?", |k| k.label());
        println!(
            "配信 {}: {} {} [{}] 宛先 {} 件: 送信済 {} / 送信待ち {} / 送信中 {} / 再試行待ち {} / 失敗 {} / 不達 {} / 送信せず {}（アドレスなし {} 件は対象外）",
            c.id,
            template,
            wareki::fiscal_year_label(c.fiscal_year),
            state,
            c.recipients,
            t.sent,
            t.waiting,
            t.sending,
            t.retry,
            t.failed,
            t.bounced,
            t.skipped,
            c.without_address
        );
        if let Some(reason) = &c.state_reason {
            println!("  {reason}");
        }
    }
    Ok(())
}
