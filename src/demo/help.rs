//! The demo's お知らせ, よくある質問 and 利用申請, written by the demo administrator and
//! by applicants through the same services as on the pages, so that those pages show
//! what a prefecture's would in season.

use chrono::Utc;

use super::DemoError;
use super::season::demo_user;
use crate::db::DbConnection;
use crate::domain::application::ApplicationInput;
use crate::domain::help::{FaqInput, NoticeInput};
use crate::domain::wareki;
use crate::services::accounts::applications;
use crate::services::help;

const FAQ: &[(&str, &str, &str)] = &[
    (
        "アカウント・ログイン",
        "アカウントを持っていません。どうすればよいですか。",
        "ログイン画面の「利用申請」から、医療機関コード・医療機関名・担当者・メールアドレスを入力して申請してください。県が確認した後、パスワード設定用のURLをメールでお送りします。",
    ),
    (
        "アカウント・ログイン",
        "パスワードを忘れました。",
        "ログイン画面の「パスワードをお忘れの方」から、ログインIDかメールアドレスを入力してください。登録されたメールアドレスに再設定用のURLをお送りします。URLは一度だけ使えます。",
    ),
    (
        "アカウント・ログイン",
        "パスワード設定用のURLの期限が切れました。",
        "県の担当窓口に連絡して、URLを送り直してもらってください。送り直すと前のURLは使えなくなります。",
    ),
    (
        "報告の入力",
        "入力の途中で保存できますか。",
        "各画面の「一時保存」で保存できます。次にログインしたときに続きから入力できます。",
    ),
    (
        "報告の入力",
        "NDBの件数があらかじめ入っています。直してよいですか。",
        "あらかじめ入っている件数は国のデータ（NDB）によるものです。実際と異なる場合は直して報告してください。",
    ),
    (
        "報告後",
        "報告した内容を直したいときは。",
        "県が確認する前であれば「引き戻し」で直せます。確認済の後は「変更報告」から報告し直してください。",
    ),
];

/// Notices, questions and a handful of applications (three that match the master for
/// 一括承認, one with a mistyped name, one with an unknown code).
pub fn add(conn: &mut DbConnection, fiscal_year: i32) -> Result<(), DemoError> {
    let Some(admin) = demo_user(conn, "demo-admin")? else {
        return Ok(());
    };
    let now = Utc::now().naive_utc();
    let today = wareki::today_jst(Utc::now());
    let fail = |e: help::HelpError| DemoError::Users(e.to_string());
    let notices = [
        NoticeInput {
            title: format!("{}の定期報告の受付について", wareki::fiscal_year_label(fiscal_year)),
            body: "報告期間中に、ホーム画面の「報告の入力・確認」から報告してください。\n不明な点は「ヘルプ」のよくある質問をご覧ください。".into(),
            from: today.to_string(),
            on_login: Some("1".into()),
            ..NoticeInput::default()
        },
        NoticeInput {
            title: "報告の期限が近づいています".into(),
            body: "一時保存のままの報告は、県には届いていません。「提出」まで進めてください。".into(),
            from: today.to_string(),
            important: Some("1".into()),
            ..NoticeInput::default()
        },
    ];
    for notice in &notices {
        help::save_notice(conn, &admin, None, notice, now).map_err(fail)?;
    }
    for (n, (category, question, answer)) in FAQ.iter().enumerate() {
        let input = FaqInput {
            category: (*category).into(),
            question: (*question).into(),
            answer: (*answer).into(),
            position: n.to_string(),
        };
        help::save_faq(conn, &admin, None, &input, now).map_err(fail)?;
    }
    add_applications(conn, now)
}

fn add_applications(conn: &mut DbConnection, now: chrono::NaiveDateTime) -> Result<(), DemoError> {
    let targets =
        crate::db::applications::targets_without_account(conn, crate::domain::auth::Scope::All)?;
    let with_mail: Vec<_> = targets.iter().filter(|t| t.3.is_some()).take(4).collect();
    let mut forms: Vec<(String, String, String)> = with_mail
        .iter()
        .enumerate()
        .map(|(n, (_, code, name, _, _, _))| {
            let name = if n == 3 {
                format!("{name}分院")
            } else {
                name.clone()
            };
            (code.clone(), name, format!("tanto{n}@example.jp"))
        })
        .collect();
    let unknown = crate::domain::codes::InstitutionCode::with_check_digit(
        46,
        crate::domain::codes::FeeTable::Medical,
        99,
        9999,
    );
    forms.push((
        unknown.as_str().to_string(),
        "架空クリニック".into(),
        "someone@example.com".into(),
    ));
    for (n, (code, name, email)) in forms.into_iter().enumerate() {
        let input = ApplicationInput {
            code,
            name,
            person: format!("申請 担当{}", n + 1),
            email: email.clone(),
            email_again: email,
            phone: "099-286-0000".into(),
            website: String::new(),
        };
        applications::apply(conn, &input, None, now)
            .map_err(|e| DemoError::Users(e.to_string()))?;
    }
    Ok(())
}
