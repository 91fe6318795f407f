//! 配信履歴: the campaigns, one campaign with its progress (updated while the page is
//! open), its messages page by page, the failures as CSV, and what an officer does to it.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::CampaignLine;
use crate::db::mail::MessageRow;
use crate::domain::mail::RowState;
use crate::domain::wareki;
use crate::services::mail::{self as service, By, Change};
use crate::web::AppState;
use crate::web::csrf::{CsrfForm, Empty};
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::institutions::{csv_bytes, csv_response};
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

const PER_PAGE: i64 = 50;

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    state: String,
    #[serde(default)]
    created: Option<u8>,
    #[serde(default)]
    done: String,
}

/// GET /mail: every campaign, newest first.
pub async fn campaigns(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let (scope, page) = (user.scope, query.page.unwrap_or(0).max(0));
    let (views_, more) = state
        .run(move |conn| service::campaigns(conn, scope, PER_PAGE, page * PER_PAGE))
        .await?;
    let lines: Vec<CampaignLine> = views_.iter().map(CampaignLine::of).collect();
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("campaigns", &lines);
    ctx.insert("page", &page);
    ctx.insert("more", &more);
    ctx.insert("sends_nothing", &state.settings.mail.sends_nothing());
    ctx.insert(
        "transport",
        &crate::mail::transport::Transport::describe(
            &state.settings.mail,
            &state.settings.data_dir,
        ),
    );
    ctx.html("mail/campaigns.html")
}

#[derive(Serialize)]
struct MessageLine {
    institution_id: Option<i32>,
    code: Option<String>,
    name: Option<String>,
    to_address: String,
    state_label: &'static str,
    state: String,
    attempts: i32,
    last_answer: Option<String>,
    resent_after_crash: bool,
    sent_at: Option<String>,
    updated_at: String,
}

fn message_line(m: MessageRow) -> MessageLine {
    MessageLine {
        institution_id: m.institution_id,
        code: m.code,
        name: m.name,
        state_label: RowState::from_code(&m.state).map_or("", |s| s.label()),
        state: m.state,
        to_address: m.to_address,
        attempts: m.attempts,
        last_answer: m.last_answer,
        resent_after_crash: m.resent_after_crash,
        sent_at: m.sent_at.map(wareki::datetime_jst),
        updated_at: wareki::datetime_jst(m.updated_at),
    }
}

/// GET /mail/campaigns/{id}
pub async fn campaign(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let (id, scope) = (path.into_inner(), user.scope);
    let page = query.page.unwrap_or(0).max(0);
    let filter = RowState::from_code(&query.state);
    let (view, (messages, more)) = state
        .run(move |conn| {
            let view = service::campaign(conn, scope, id)?;
            let rows = service::messages(conn, scope, id, filter, PER_PAGE, page * PER_PAGE)?;
            Ok::<_, service::MailError>((view, rows))
        })
        .await?;
    let states: Vec<(&str, &str)> = RowState::ALL
        .iter()
        .map(|s| (s.code(), s.label()))
        .collect();
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("c", &CampaignLine::of(&view));
    ctx.insert(
        "messages",
        &messages.into_iter().map(message_line).collect::<Vec<_>>(),
    );
    ctx.insert("page", &page);
    ctx.insert("more", &more);
    ctx.insert("state_filter", &query.state);
    ctx.insert("states", &states);
    ctx.insert("created", &query.created.is_some());
    ctx.insert("done", &query.done);
    ctx.insert("sends_nothing", &state.settings.mail.sends_nothing());
    ctx.html("mail/campaign.html")
}

/// GET /mail/campaigns/{id}/progress: the figures, for the page's progress bar.
pub async fn progress(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let (id, scope) = (path.into_inner(), user.scope);
    let view = state
        .run(move |conn| service::campaign(conn, scope, id))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(CampaignLine::of(&view)))
}

/// POST /mail/campaigns/{id}/{action}: 一時停止, 再開, 中止, 失敗分を再送.
pub async fn change(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, String)>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let what = match action.as_str() {
        "pause" => Change::Pause,
        "resume" => Change::Resume,
        "cancel" => Change::Cancel,
        "retry" => Change::RetryFailed,
        _ => return Err(AppError::NotFound),
    };
    let actor = user.actor(&viewer);
    state
        .run(move |conn| service::change(conn, By::Officer(&actor), id, what))
        .await?;
    Ok(see_other(&format!("/mail/campaigns/{id}?done={action}")))
}

const FAILURE_HEADER: [&str; 7] = [
    "医療機関コード",
    "名称",
    "メールアドレス",
    "状態",
    "試行回数",
    "サーバの応答",
    "日時",
];

fn failure_line(f: MessageRow) -> Vec<String> {
    vec![
        f.code.unwrap_or_default(),
        f.name.unwrap_or_default(),
        f.to_address,
        RowState::from_code(&f.state)
            .map_or("", |s| s.label())
            .to_string(),
        f.attempts.to_string(),
        f.last_answer.unwrap_or_default(),
        wareki::datetime_jst(f.updated_at),
    ]
}

/// GET /mail/campaigns/{id}/failures.csv: the failed and bounced messages, to phone
/// or post.
pub async fn failures_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let (id, scope) = (path.into_inner(), user.scope);
    let rows = state
        .run(move |conn| service::failures(conn, scope, id))
        .await?;
    let lines: Vec<Vec<String>> = rows.into_iter().map(failure_line).collect();
    Ok(csv_response(
        &format!("配信{id}_失敗分.csv"),
        csv_bytes(&FAILURE_HEADER, &lines)?,
    ))
}
