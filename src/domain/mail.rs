//! Mail rules with no IO: the states of an outbox row and of a campaign, the templates
//! and their variables, who a broadcast reaches, what a recipient address may be, how an
//! SMTP answer is classed and when a failed message is tried again.

use chrono::{Duration, NaiveDateTime};

/// The state of one message in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowState {
    /// Waiting for a worker (or for its campaign to start).
    Queued,
    /// Claimed by a worker, whose claim was committed before it spoke SMTP.
    Sending,
    /// Accepted by the mail server.
    Sent,
    /// A transient failure (4xx, connection, timeout): tried again after a delay.
    Retry,
    /// Refused for good (5xx), or transient failures until the attempts ran out.
    Failed,
    /// Accepted, then returned by the receiving side (a delivery-status notification).
    Bounced,
    /// Not sent, on purpose: the reminder no longer applies, or the campaign was cancelled.
    Skipped,
}

impl RowState {
    pub const ALL: [RowState; 7] = [
        RowState::Queued,
        RowState::Sending,
        RowState::Sent,
        RowState::Retry,
        RowState::Failed,
        RowState::Bounced,
        RowState::Skipped,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RowState::Queued => "queued",
            RowState::Sending => "sending",
            RowState::Sent => "sent",
            RowState::Retry => "retry",
            RowState::Failed => "failed",
            RowState::Bounced => "bounced",
            RowState::Skipped => "skipped",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RowState::Queued => "送信待ち",
            RowState::Sending => "送信中",
            RowState::Sent => "送信済",
            RowState::Retry => "再試行待ち",
            RowState::Failed => "失敗",
            RowState::Bounced => "不達",
            RowState::Skipped => "送信せず",
        }
    }

    pub fn from_code(code: &str) -> Option<RowState> {
        RowState::ALL.into_iter().find(|s| s.code() == code)
    }

    /// No worker will touch the row again (a bounce may still arrive for a sent one).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RowState::Sent | RowState::Failed | RowState::Bounced | RowState::Skipped
        )
    }
}

/// The state of a campaign (一括配信).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CampaignState {
    /// Waiting for its time.
    Scheduled,
    /// Its time passed while no worker ran, longer ago than the grace period: an
    /// officer decides whether it still goes out.
    Overdue,
    Sending,
    /// Stopped by an officer, or by a run of transient failures (the reason is kept).
    Paused,
    Cancelled,
    /// Every row is sent, failed, bounced or skipped.
    Finished,
}

impl CampaignState {
    pub const ALL: [CampaignState; 6] = [
        CampaignState::Scheduled,
        CampaignState::Overdue,
        CampaignState::Sending,
        CampaignState::Paused,
        CampaignState::Cancelled,
        CampaignState::Finished,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CampaignState::Scheduled => "scheduled",
            CampaignState::Overdue => "overdue",
            CampaignState::Sending => "sending",
            CampaignState::Paused => "paused",
            CampaignState::Cancelled => "cancelled",
            CampaignState::Finished => "finished",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CampaignState::Scheduled => "予約",
            CampaignState::Overdue => "予約時刻超過（確認待ち）",
            CampaignState::Sending => "配信中",
            CampaignState::Paused => "一時停止",
            CampaignState::Cancelled => "中止",
            CampaignState::Finished => "完了",
        }
    }

    pub fn from_code(code: &str) -> Option<CampaignState> {
        CampaignState::ALL.into_iter().find(|s| s.code() == code)
    }

    /// What an officer may do from this state.
    pub fn can_pause(self) -> bool {
        matches!(self, CampaignState::Sending | CampaignState::Scheduled)
    }

    pub fn can_resume(self) -> bool {
        matches!(self, CampaignState::Paused | CampaignState::Overdue)
    }

    pub fn can_cancel(self) -> bool {
        !matches!(self, CampaignState::Cancelled | CampaignState::Finished)
    }
}

/// What a scheduled campaign does when a worker first sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleDecision {
    Wait,
    Start,
    /// Its time is more than the grace period past: it must not go out hours late
    /// without an officer saying so.
    AskOfficer,
}

pub fn schedule_decision(
    scheduled_at: NaiveDateTime,
    now: NaiveDateTime,
    grace: Duration,
) -> ScheduleDecision {
    if now < scheduled_at {
        ScheduleDecision::Wait
    } else if now - scheduled_at <= grace {
        ScheduleDecision::Start
    } else {
        ScheduleDecision::AskOfficer
    }
}

/// The mail templates: each has a default file under `mail_templates/<key>/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TemplateKey {
    Guidance,
    Reminder,
    SentBack,
    Receipt,
    AccountSetup,
    PasswordReset,
    ApplicationReceived,
    ApplicationRejected,
    OfficerDigest,
}

/// A variable a template may use, with what it holds, for the editor's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    pub meaning: &'static str,
}

const fn var(name: &'static str, meaning: &'static str) -> Variable {
    Variable { name, meaning }
}

const INSTITUTION_VARIABLES: &[Variable] = &[
    var("institution_name", "医療機関名"),
    var("institution_code", "医療機関コード（10桁）"),
    var("fiscal_year", "報告年度（例: 令和8年度）"),
    var("period_start", "報告期間の開始日"),
    var("period_end", "報告期間の終了日（締切）"),
    var("report_url", "報告画面のURL"),
    var("login_url", "ログイン画面のURL"),
];

const SENT_BACK_VARIABLES: &[Variable] = &[
    var("institution_name", "医療機関名"),
    var("institution_code", "医療機関コード（10桁）"),
    var("fiscal_year", "報告年度（例: 令和8年度）"),
    var("reason", "差戻しの理由"),
    var("report_url", "報告画面のURL"),
];

const RECEIPT_VARIABLES: &[Variable] = &[
    var("institution_name", "医療機関名"),
    var("institution_code", "医療機関コード（10桁）"),
    var("fiscal_year", "報告年度（例: 令和8年度）"),
    var("submitted_at", "報告の受付日時"),
    var("report_url", "報告画面のURL"),
];

const ACCOUNT_VARIABLES: &[Variable] = &[
    var("display_name", "利用者の氏名"),
    var("login_id", "ログインID"),
    var("link", "パスワード設定用のURL（一度だけ有効）"),
    var("expires_at", "URLの有効期限"),
];

const APPLICATION_VARIABLES: &[Variable] = &[
    var("display_name", "申請者の氏名"),
    var("institution_name", "医療機関名"),
    var("institution_code", "医療機関コード（10桁）"),
    var("reason", "理由（却下のとき）"),
];

const DIGEST_VARIABLES: &[Variable] = &[
    var("display_name", "担当者の氏名"),
    var("date", "対象日"),
    var("submissions", "新しい報告の件数"),
    var("messages", "新しい連絡の件数"),
    var("lines", "新着の一覧（1行に1件）"),
    var("news_url", "新着画面のURL"),
];

impl TemplateKey {
    pub const ALL: [TemplateKey; 9] = [
        TemplateKey::Guidance,
        TemplateKey::Reminder,
        TemplateKey::SentBack,
        TemplateKey::Receipt,
        TemplateKey::AccountSetup,
        TemplateKey::PasswordReset,
        TemplateKey::ApplicationReceived,
        TemplateKey::ApplicationRejected,
        TemplateKey::OfficerDigest,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TemplateKey::Guidance => "guidance",
            TemplateKey::Reminder => "reminder",
            TemplateKey::SentBack => "sent_back",
            TemplateKey::Receipt => "receipt",
            TemplateKey::AccountSetup => "account_setup",
            TemplateKey::PasswordReset => "password_reset",
            TemplateKey::ApplicationReceived => "application_received",
            TemplateKey::ApplicationRejected => "application_rejected",
            TemplateKey::OfficerDigest => "officer_digest",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TemplateKey::Guidance => "定期報告案内",
            TemplateKey::Reminder => "督促",
            TemplateKey::SentBack => "差戻し通知",
            TemplateKey::Receipt => "受付完了",
            TemplateKey::AccountSetup => "アカウント設定のご案内",
            TemplateKey::PasswordReset => "パスワード再設定",
            TemplateKey::ApplicationReceived => "利用申請の受付",
            TemplateKey::ApplicationRejected => "利用申請の却下",
            TemplateKey::OfficerDigest => "担当者向け新着まとめ",
        }
    }

    pub fn from_code(code: &str) -> Option<TemplateKey> {
        TemplateKey::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The variables its subject and body may use.
    pub fn variables(self) -> &'static [Variable] {
        match self {
            TemplateKey::Guidance | TemplateKey::Reminder => INSTITUTION_VARIABLES,
            TemplateKey::SentBack => SENT_BACK_VARIABLES,
            TemplateKey::Receipt => RECEIPT_VARIABLES,
            TemplateKey::AccountSetup | TemplateKey::PasswordReset => ACCOUNT_VARIABLES,
            TemplateKey::ApplicationReceived | TemplateKey::ApplicationRejected => {
                APPLICATION_VARIABLES
            }
            TemplateKey::OfficerDigest => DIGEST_VARIABLES,
        }
    }

    /// Sent to many institutions at once (一括配信), rather than one at a time.
    pub fn is_broadcast(self) -> bool {
        matches!(self, TemplateKey::Guidance | TemplateKey::Reminder)
    }
}

/// Who a broadcast reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every reporting target of the fiscal year.
    Targets,
    /// Targets that have not submitted: 未報告, 一時保存, 差戻し (as 未報告機関一覧).
    Unreported,
    /// Reports sent back (差戻し).
    Returned,
    /// The institutions of a review search (its filter is kept with the campaign).
    Search,
    /// Institutions ticked in the list.
    Chosen,
    /// Reporting targets given an account at once (アカウントの一括発行); made only by
    /// that page, never offered on the broadcast form.
    Accounts,
}

impl Audience {
    pub const ALL: [Audience; 5] = [
        Audience::Targets,
        Audience::Unreported,
        Audience::Returned,
        Audience::Search,
        Audience::Chosen,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Audience::Targets => "targets",
            Audience::Unreported => "unreported",
            Audience::Returned => "returned",
            Audience::Search => "search",
            Audience::Chosen => "chosen",
            Audience::Accounts => "accounts",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Audience::Targets => "報告対象の全機関",
            Audience::Unreported => "未報告の機関（未報告・一時保存・差戻し）",
            Audience::Returned => "差戻し中の機関",
            Audience::Search => "報告状況検索の結果",
            Audience::Chosen => "選んだ機関",
            Audience::Accounts => "アカウント未作成の報告対象（一括発行）",
        }
    }

    pub fn from_code(code: &str) -> Option<Audience> {
        Audience::ALL
            .into_iter()
            .chain([Audience::Accounts])
            .find(|a| a.code() == code)
    }
}

/// Why an address cannot be written into a To header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressProblem {
    #[error("メールアドレスが登録されていません")]
    Missing,
    #[error("メールアドレスに改行などの制御文字が含まれています")]
    ControlCharacter,
    #[error("1つの欄にメールアドレスが2つ以上あります")]
    Several,
    #[error("メールアドレスの形式が正しくありません")]
    Malformed,
}

/// The one address a message may go to, from a stored field. Refuses anything that
/// could add a header or a second recipient (a newline, a comma, a second @), so a
/// hostile master file cannot turn a reminder into a relay.
pub fn recipient_address(raw: Option<&str>) -> Result<String, AddressProblem> {
    let raw = raw.map(str::trim).unwrap_or("");
    if raw.is_empty() {
        return Err(AddressProblem::Missing);
    }
    if raw.chars().any(char::is_control) {
        return Err(AddressProblem::ControlCharacter);
    }
    if raw.contains([',', ';'])
        || raw.split_whitespace().count() > 1
        || raw.matches('@').count() > 1
    {
        return Err(AddressProblem::Several);
    }
    let Some((local, domain)) = raw.split_once('@') else {
        return Err(AddressProblem::Malformed);
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let domain_ok = domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if local_ok && domain_ok {
        Ok(raw.to_string())
    } else {
        Err(AddressProblem::Malformed)
    }
}

/// What an attempt to hand a message to the server came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Accepted; the server's answer (250 … queued as …).
    Accepted(String),
    /// Try again later: a 4xx answer, a refused or dropped connection, a timeout.
    Transient(String),
    /// Refused for good: a 5xx answer about this message or recipient.
    Permanent(String),
}

/// The state a row takes after an attempt, and when it may be tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterAttempt {
    pub state: RowState,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub answer: String,
}

/// After `attempts` attempts (this one included), the next state. Transient failures
/// wait longer each time (base, ×4, ×16 … capped at six hours) until `max_attempts`.
pub fn after_attempt(
    attempt: &Attempt,
    attempts: i32,
    max_attempts: i32,
    retry_base: Duration,
    now: NaiveDateTime,
) -> AfterAttempt {
    match attempt {
        Attempt::Accepted(answer) => AfterAttempt {
            state: RowState::Sent,
            next_attempt_at: None,
            answer: answer.clone(),
        },
        Attempt::Permanent(answer) => AfterAttempt {
            state: RowState::Failed,
            next_attempt_at: None,
            answer: answer.clone(),
        },
        Attempt::Transient(answer) if attempts >= max_attempts => AfterAttempt {
            state: RowState::Failed,
            next_attempt_at: None,
            answer: format!("{answer}（{attempts}回試みて送れませんでした）"),
        },
        Attempt::Transient(answer) => {
            let exponent = (attempts.max(1) - 1).min(8) as u32;
            let delay = retry_base * 4_i32.pow(exponent);
            let delay = delay.min(Duration::hours(6));
            AfterAttempt {
                state: RowState::Retry,
                next_attempt_at: Some(now + delay),
                answer: answer.clone(),
            }
        }
    }
}

/// Counts the run of transient failures that pauses a campaign: a recipient's own
/// permanent refusal says nothing about the server, and a success ends the run.
pub fn failure_run(run: u32, attempt: &Attempt) -> u32 {
    match attempt {
        Attempt::Transient(_) => run + 1,
        Attempt::Accepted(_) => 0,
        Attempt::Permanent(_) => run,
    }
}

/// The Message-ID of an outbox row: fixed per row, so a message resent after a crash
/// carries the same one and the receiving side can tell.
pub fn message_id(row_id: i64, created_at: NaiveDateTime, domain: &str) -> String {
    format!(
        "<kakari.{row_id}.{}@{domain}>",
        created_at.and_utc().timestamp()
    )
}

/// The outbox row a Message-ID names, for matching bounces.
pub fn row_of_message_id(message_id: &str) -> Option<i64> {
    let inner = message_id.trim().trim_start_matches('<');
    let rest = inner.strip_prefix("kakari.")?;
    let (id, _) = rest.split_once('.')?;
    id.parse().ok()
}

/// A campaign's figures, from its rows' counts per state.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    pub recipients: i64,
    pub waiting: i64,
    pub sending: i64,
    pub sent: i64,
    pub retry: i64,
    pub failed: i64,
    pub bounced: i64,
    pub skipped: i64,
}

impl Tally {
    pub fn of(counts: &[(RowState, i64)]) -> Tally {
        let mut t = Tally::default();
        for (state, n) in counts {
            t.recipients += n;
            match state {
                RowState::Queued => t.waiting += n,
                RowState::Sending => t.sending += n,
                RowState::Sent => t.sent += n,
                RowState::Retry => t.retry += n,
                RowState::Failed => t.failed += n,
                RowState::Bounced => t.bounced += n,
                RowState::Skipped => t.skipped += n,
            }
        }
        t
    }

    /// Rows no worker will touch again.
    pub fn done(&self) -> i64 {
        self.sent + self.failed + self.bounced + self.skipped
    }

    /// Finished only when every row is final.
    pub fn is_finished(&self) -> bool {
        self.recipients > 0 && self.done() == self.recipients
    }

    /// Whole percent done, for the progress bar.
    pub fn percent(&self) -> i64 {
        if self.recipients == 0 {
            100
        } else {
            self.done() * 100 / self.recipients
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2027, 1, 10)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .unwrap()
    }

    #[test]
    fn codes_round_trip() {
        for s in RowState::ALL {
            assert_eq!(RowState::from_code(s.code()), Some(s));
        }
        for s in CampaignState::ALL {
            assert_eq!(CampaignState::from_code(s.code()), Some(s));
        }
        for k in TemplateKey::ALL {
            assert_eq!(TemplateKey::from_code(k.code()), Some(k));
            assert!(!k.variables().is_empty());
        }
        for a in Audience::ALL.into_iter().chain([Audience::Accounts]) {
            assert_eq!(Audience::from_code(a.code()), Some(a));
        }
        assert_eq!(RowState::from_code("bogus"), None);
    }

    #[test]
    fn addresses_that_could_inject_a_header_or_a_second_recipient_are_refused() {
        let cases: &[(Option<&str>, Result<&str, AddressProblem>)] = &[
            (
                Some(" info@clinic.example.jp "),
                Ok("info@clinic.example.jp"),
            ),
            (Some("a.b+c@x-y.example.com"), Ok("a.b+c@x-y.example.com")),
            (None, Err(AddressProblem::Missing)),
            (Some("   "), Err(AddressProblem::Missing)),
            (
                Some("a@x.jp\r\nBcc: victim@y.jp"),
                Err(AddressProblem::ControlCharacter),
            ),
            (
                Some("a@x.jp\nb@y.jp"),
                Err(AddressProblem::ControlCharacter),
            ),
            (Some("a@x.jp, b@y.jp"), Err(AddressProblem::Several)),
            (Some("a@x.jp;b@y.jp"), Err(AddressProblem::Several)),
            (Some("a@x.jp b@y.jp"), Err(AddressProblem::Several)),
            (Some("a@b@x.jp"), Err(AddressProblem::Several)),
            (Some("no-at-sign.jp"), Err(AddressProblem::Malformed)),
            (Some("a@localhost"), Err(AddressProblem::Malformed)),
            (Some(".a@x.jp"), Err(AddressProblem::Malformed)),
            (Some("a..b@x.jp"), Err(AddressProblem::Malformed)),
            (Some("<a@x.jp>"), Err(AddressProblem::Malformed)),
            (Some("\"Name\" <a@x.jp>"), Err(AddressProblem::Several)),
            (Some("あ@x.jp"), Err(AddressProblem::Malformed)),
            (Some("a@-x.jp"), Err(AddressProblem::Malformed)),
        ];
        for (raw, expected) in cases {
            let got = recipient_address(*raw);
            assert_eq!(
                got.as_deref().map_err(|e| *e),
                expected.as_ref().map(|s| *s).map_err(|e| *e),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn transient_failures_wait_longer_each_time_then_fail() {
        let base = Duration::seconds(60);
        let now = at(10, 0);
        let t = Attempt::Transient("421 busy".into());
        let first = after_attempt(&t, 1, 5, base, now);
        assert_eq!(first.state, RowState::Retry);
        assert_eq!(first.next_attempt_at, Some(now + Duration::seconds(60)));
        let second = after_attempt(&t, 2, 5, base, now);
        assert_eq!(second.next_attempt_at, Some(now + Duration::seconds(240)));
        let capped = after_attempt(&t, 4, 9, Duration::hours(1), now);
        assert_eq!(capped.next_attempt_at, Some(now + Duration::hours(6)));
        let last = after_attempt(&t, 5, 5, base, now);
        assert_eq!(last.state, RowState::Failed);
        assert!(last.answer.starts_with("421 busy"));
        let refused = after_attempt(
            &Attempt::Permanent("550 no such user".into()),
            1,
            5,
            base,
            now,
        );
        assert_eq!(refused.state, RowState::Failed);
        assert_eq!(refused.answer, "550 no such user");
        let ok = after_attempt(&Attempt::Accepted("250 ok".into()), 3, 5, base, now);
        assert_eq!(ok.state, RowState::Sent);
        assert_eq!(ok.next_attempt_at, None);
    }

    #[test]
    fn only_transient_failures_count_towards_a_pause() {
        let t = Attempt::Transient("timeout".into());
        let p = Attempt::Permanent("550".into());
        let a = Attempt::Accepted("250".into());
        let mut run = 0;
        for attempt in [&t, &t, &p, &t] {
            run = failure_run(run, attempt);
        }
        assert_eq!(run, 3);
        assert_eq!(failure_run(run, &a), 0);
    }

    #[test]
    fn a_schedule_long_past_waits_for_an_officer() {
        let grace = Duration::minutes(30);
        assert_eq!(
            schedule_decision(at(10, 0), at(9, 59), grace),
            ScheduleDecision::Wait
        );
        assert_eq!(
            schedule_decision(at(10, 0), at(10, 0), grace),
            ScheduleDecision::Start
        );
        assert_eq!(
            schedule_decision(at(10, 0), at(10, 30), grace),
            ScheduleDecision::Start
        );
        assert_eq!(
            schedule_decision(at(10, 0), at(10, 31), grace),
            ScheduleDecision::AskOfficer
        );
    }

    #[test]
    fn message_ids_are_fixed_per_row_and_name_it() {
        let id = message_id(4711, at(10, 0), "kakari.pref.example.jp");
        assert_eq!(id, message_id(4711, at(10, 0), "kakari.pref.example.jp"));
        assert!(id.starts_with("<kakari.4711."));
        assert_eq!(row_of_message_id(&id), Some(4711));
        assert_eq!(row_of_message_id("<other@x>"), None);
    }

    #[test]
    fn a_campaign_is_finished_only_when_every_row_is_final() {
        let t = Tally::of(&[
            (RowState::Sent, 8),
            (RowState::Retry, 1),
            (RowState::Skipped, 1),
        ]);
        assert_eq!(t.recipients, 10);
        assert!(!t.is_finished());
        assert_eq!(t.percent(), 90);
        let t = Tally::of(&[
            (RowState::Sent, 8),
            (RowState::Failed, 1),
            (RowState::Bounced, 1),
        ]);
        assert!(t.is_finished());
        assert!(!Tally::default().is_finished());
        for s in RowState::ALL {
            let t = Tally::of(&[(s, 1)]);
            assert_eq!(t.is_finished(), s.is_final(), "{s:?}");
        }
    }
}
