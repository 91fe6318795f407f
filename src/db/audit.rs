//! The audit log: who did what to which record, when, from where. The application only
//! inserts and reads; a trigger refuses updates.

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::DbConnection;
use super::schema::audit_log;

/// What happened. The codes are stored; the labels are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignIn,
    SignInFailed,
    Lockout,
    SignOut,
    PasswordChange,
    UserCreate,
    UserUpdate,
    UserDisable,
    UserEnable,
    UserTemporaryPassword,
    InstitutionCreate,
    InstitutionUpdate,
    ImportApply,
    CatalogLoad,
    PeriodSet,
    NdbImport,
    ReportStart,
    ReportSubmit,
    ReportPullBack,
    ReportConfirm,
    ReportSendBack,
    SessionsEnd,
    MailCampaignCreate,
    MailCampaignChange,
    MailTemplateSave,
    MailBounces,
    /// A download of data (全項目CSV, 宛先情報, 報告対象機関一覧): who took what.
    Export,
    PublicationRules,
    PopulationImport,
    Publish,
    Unpublish,
    PasswordLinkSend,
    PasswordLinkUse,
    PasswordResetAsk,
    ApplicationApprove,
    ApplicationReject,
    AccountsBulkIssue,
    HelpContentChange,
    PaperFormImport,
}

impl Action {
    pub const ALL: [Action; 39] = [
        Action::SignIn,
        Action::SignInFailed,
        Action::Lockout,
        Action::SignOut,
        Action::PasswordChange,
        Action::UserCreate,
        Action::UserUpdate,
        Action::UserDisable,
        Action::UserEnable,
        Action::UserTemporaryPassword,
        Action::InstitutionCreate,
        Action::InstitutionUpdate,
        Action::ImportApply,
        Action::CatalogLoad,
        Action::PeriodSet,
        Action::NdbImport,
        Action::ReportStart,
        Action::ReportSubmit,
        Action::ReportPullBack,
        Action::ReportConfirm,
        Action::ReportSendBack,
        Action::SessionsEnd,
        Action::MailCampaignCreate,
        Action::MailCampaignChange,
        Action::MailTemplateSave,
        Action::MailBounces,
        Action::Export,
        Action::PublicationRules,
        Action::PopulationImport,
        Action::Publish,
        Action::Unpublish,
        Action::PasswordLinkSend,
        Action::PasswordLinkUse,
        Action::PasswordResetAsk,
        Action::ApplicationApprove,
        Action::ApplicationReject,
        Action::AccountsBulkIssue,
        Action::HelpContentChange,
        Action::PaperFormImport,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Action::SignIn => "sign_in",
            Action::SignInFailed => "sign_in_failed",
            Action::Lockout => "lockout",
            Action::SignOut => "sign_out",
            Action::PasswordChange => "password_change",
            Action::UserCreate => "user_create",
            Action::UserUpdate => "user_update",
            Action::UserDisable => "user_disable",
            Action::UserEnable => "user_enable",
            Action::UserTemporaryPassword => "user_temporary_password",
            Action::InstitutionCreate => "institution_create",
            Action::InstitutionUpdate => "institution_update",
            Action::ImportApply => "import_apply",
            Action::CatalogLoad => "catalog_load",
            Action::PeriodSet => "period_set",
            Action::NdbImport => "ndb_import",
            Action::ReportStart => "report_start",
            Action::ReportSubmit => "report_submit",
            Action::ReportPullBack => "report_pull_back",
            Action::ReportConfirm => "report_confirm",
            Action::ReportSendBack => "report_send_back",
            Action::SessionsEnd => "sessions_end",
            Action::MailCampaignCreate => "mail_campaign_create",
            Action::MailCampaignChange => "mail_campaign_change",
            Action::MailTemplateSave => "mail_template_save",
            Action::MailBounces => "mail_bounces",
            Action::Export => "export",
            Action::PublicationRules => "publication_rules",
            Action::PopulationImport => "population_import",
            Action::Publish => "publish",
            Action::Unpublish => "unpublish",
            Action::PasswordLinkSend => "password_link_send",
            Action::PasswordLinkUse => "password_link_use",
            Action::PasswordResetAsk => "password_reset_ask",
            Action::ApplicationApprove => "application_approve",
            Action::ApplicationReject => "application_reject",
            Action::AccountsBulkIssue => "accounts_bulk_issue",
            Action::HelpContentChange => "help_content_change",
            Action::PaperFormImport => "paper_form_import",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Action::SignIn => "ログイン",
            Action::SignInFailed => "ログイン失敗",
            Action::Lockout => "アカウントロック",
            Action::SignOut => "ログアウト",
            Action::PasswordChange => "パスワード変更",
            Action::UserCreate => "ユーザ作成",
            Action::UserUpdate => "ユーザ変更",
            Action::UserDisable => "ユーザ無効化",
            Action::UserEnable => "ユーザ有効化",
            Action::UserTemporaryPassword => "仮パスワード設定",
            Action::InstitutionCreate => "医療機関の追加",
            Action::InstitutionUpdate => "医療機関の変更",
            Action::ImportApply => "医療機関マスタの取込",
            Action::CatalogLoad => "報告項目カタログの読込",
            Action::PeriodSet => "報告期間の設定",
            Action::NdbImport => "NDBデータの取込",
            Action::ReportStart => "報告の開始",
            Action::ReportSubmit => "報告",
            Action::ReportPullBack => "報告の引き戻し",
            Action::ReportConfirm => "報告の確認",
            Action::ReportSendBack => "報告の差戻し",
            Action::SessionsEnd => "ログイン中のセッションの終了",
            Action::MailCampaignCreate => "メール一括配信の作成",
            Action::MailCampaignChange => "メール一括配信の操作",
            Action::MailTemplateSave => "メールテンプレートの変更",
            Action::MailBounces => "不達メールの読込",
            Action::Export => "データ出力",
            Action::PublicationRules => "公表ルールの変更",
            Action::PopulationImport => "市区町村人口の取込",
            Action::Publish => "公表",
            Action::Unpublish => "公表の取り下げ",
            Action::PasswordLinkSend => "パスワード設定URLの送信",
            Action::PasswordLinkUse => "URLからのパスワード設定",
            Action::PasswordResetAsk => "パスワード再設定の受付",
            Action::ApplicationApprove => "利用申請の承認",
            Action::ApplicationReject => "利用申請の却下",
            Action::AccountsBulkIssue => "アカウントの一括発行",
            Action::HelpContentChange => "お知らせ・FAQ・資料の変更",
            Action::PaperFormImport => "紙の調査票の取込（代理入力）",
        }
    }

    pub fn from_code(code: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.code() == code)
    }
}

/// One entry to write. `detail` is free JSON for people to read.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub actor_id: Option<i32>,
    pub actor_login: Option<String>,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    pub prefecture_id: Option<i32>,
    pub detail: Option<serde_json::Value>,
    pub ip: Option<String>,
}

/// The columns an entry writes, in [`NewEntry`]'s order, for statements that insert
/// entries from a SELECT (bulk confirmation). A test holds the two together.
pub const COLUMNS: &str =
    "at, actor_id, actor_login, action, target_type, target_id, prefecture_id, detail, ip";

/// Entries made by one actor from the rows of a query: every part but the bound ones
/// ($1 login, $2 detail, $3 ip) is SQL written by us.
pub struct SelectedEntries<'a> {
    pub action: Action,
    /// An SQL expression for the time.
    pub at: &'a str,
    pub actor_id: i32,
    pub target_type: &'static str,
    /// SQL expressions over the `from` rows.
    pub target_id: &'a str,
    pub prefecture_id: &'a str,
    pub from: &'a str,
}

/// `INSERT INTO audit_log (…) SELECT …` for [`SelectedEntries`].
pub fn insert_select_sql(e: &SelectedEntries) -> String {
    format!(
        "INSERT INTO audit_log ({COLUMNS}) SELECT {at}, {actor}, $1, '{action}', '{target_type}', \
         {target_id}, {prefecture}, $2, $3 FROM {from}",
        at = e.at,
        actor = e.actor_id,
        action = e.action.code(),
        target_type = e.target_type,
        target_id = e.target_id,
        prefecture = e.prefecture_id,
        from = e.from,
    )
}

#[derive(Insertable)]
#[diesel(table_name = audit_log)]
#[diesel(treat_none_as_default_value = false)]
struct NewEntry {
    at: NaiveDateTime,
    actor_id: Option<i32>,
    actor_login: Option<String>,
    action: &'static str,
    target_type: Option<&'static str>,
    target_id: Option<String>,
    prefecture_id: Option<i32>,
    detail: Option<String>,
    ip: Option<String>,
}

impl NewEntry {
    fn of(action: Action, entry: Entry, at: NaiveDateTime) -> NewEntry {
        NewEntry {
            at,
            actor_id: entry.actor_id,
            actor_login: entry.actor_login,
            action: action.code(),
            target_type: entry.target_type,
            target_id: entry.target_id,
            prefecture_id: entry.prefecture_id,
            detail: entry.detail.map(|d| d.to_string()),
            ip: entry.ip,
        }
    }
}

pub fn record(conn: &mut DbConnection, action: Action, entry: Entry) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(NewEntry::of(action, entry, Utc::now().naive_utc()))
        .execute(conn)?;
    Ok(())
}

/// Many entries with multi-row INSERTs (an import writes one per institution).
pub fn record_many(
    conn: &mut DbConnection,
    entries: impl IntoIterator<Item = (Action, Entry)>,
) -> QueryResult<usize> {
    let at = Utc::now().naive_utc();
    let rows: Vec<NewEntry> = entries
        .into_iter()
        .map(|(action, entry)| NewEntry::of(action, entry, at))
        .collect();
    let mut written = 0;
    // 9 columns × 3,000 rows stays under both backends' parameter limits (SQLite
    // 32,766; PostgreSQL 65,535), with few round trips for a bulk confirmation.
    for chunk in rows.chunks(3_000) {
        written += crate::per_backend!(&mut *conn, |c| {
            diesel::insert_into(audit_log::table)
                .values(chunk)
                .execute(c)
        })?;
    }
    Ok(written)
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = audit_log)]
pub struct LogRow {
    pub id: i32,
    pub at: NaiveDateTime,
    pub actor_id: Option<i32>,
    pub actor_login: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub prefecture_id: Option<i32>,
    pub detail: Option<String>,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `None` for the system administrator (all prefectures).
    pub prefecture_id: Option<i32>,
    pub action: Option<String>,
    pub actor_login: Option<String>,
    pub target: Option<(String, String)>,
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

pub const PAGE_SIZE: i64 = 100;

/// Newest first; `page` starts at 0 (past the end: the last page). Returns the rows,
/// the total count and the page shown.
pub fn list(
    conn: &mut DbConnection,
    filter: &Filter,
    page: i64,
) -> QueryResult<(Vec<LogRow>, i64, i64)> {
    let build = || {
        let mut q = audit_log::table.into_boxed();
        if let Some(p) = filter.prefecture_id {
            q = q.filter(audit_log::prefecture_id.eq(p));
        }
        if let Some(a) = &filter.action {
            q = q.filter(audit_log::action.eq(a.clone()));
        }
        if let Some(login) = &filter.actor_login {
            q = q.filter(audit_log::actor_login.eq(login.clone()));
        }
        if let Some((t, id)) = &filter.target {
            q = q
                .filter(audit_log::target_type.eq(t.clone()))
                .filter(audit_log::target_id.eq(id.clone()));
        }
        if let Some(from) = filter.from {
            q = q.filter(audit_log::at.ge(from));
        }
        if let Some(until) = filter.until {
            q = q.filter(audit_log::at.lt(until));
        }
        q
    };
    let total = build().count().get_result(conn)?;
    let page = crate::domain::paging::within(page, total, PAGE_SIZE);
    let rows = build()
        .order(audit_log::id.desc())
        .limit(PAGE_SIZE)
        .offset(page * PAGE_SIZE)
        .select(LogRow::as_select())
        .load(conn)?;
    Ok((rows, total, page))
}

/// How many entries of `action` came from `ip` since `since` (a rate limit's count).
pub fn count_from(
    conn: &mut DbConnection,
    action: Action,
    ip: &str,
    since: NaiveDateTime,
) -> QueryResult<i64> {
    audit_log::table
        .filter(audit_log::action.eq(action.code()))
        .filter(audit_log::ip.eq(ip))
        .filter(audit_log::at.gt(since))
        .count()
        .get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bulk statements' column list is the one the entry type inserts.
    #[test]
    fn bulk_column_list_is_the_entry() {
        let entry = NewEntry {
            at: chrono::NaiveDateTime::default(),
            actor_id: None,
            actor_login: None,
            action: "x",
            target_type: None,
            target_id: None,
            prefecture_id: None,
            detail: None,
            ip: None,
        };
        let insert = diesel::insert_into(audit_log::table).values(entry);
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&insert).to_string();
        let listed = sql
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(columns, _)| columns.replace('`', ""))
            .unwrap_or_default();
        assert_eq!(listed, COLUMNS);
        let select = insert_select_sql(&SelectedEntries {
            action: Action::ReportConfirm,
            at: "now",
            actor_id: 7,
            target_type: "report",
            target_id: "c.id",
            prefecture_id: "i.prefecture_id",
            from: "confirmed c",
        });
        assert!(select.contains("'report_confirm'"), "{select}");
        assert_eq!(select.matches(", ").count(), 2 * 8, "{select}");
    }
}
