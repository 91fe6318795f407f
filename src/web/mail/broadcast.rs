//! 一括配信: the form, the preview (who gets mail, who has no address, the first
//! message as it will read), and the confirmation that creates one campaign.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::domain::mail::{Audience, TemplateKey};
use crate::domain::wareki;
use crate::services::mail::{self as service, By, CampaignRequest, MailError};
use crate::web::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::error::AppError;
use crate::web::gate::see_other;
use crate::web::institutions::{csv_bytes, csv_response};
use crate::web::review::ReviewQuery;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

/// The broadcast as asked: the mail fields, the review search (for 検索結果), the
/// ticked institutions; kept as query pairs so every step carries it on.
#[derive(Debug, Clone)]
pub struct Asked {
    pairs: Vec<(String, String)>,
    template: Option<TemplateKey>,
    audience: Option<Audience>,
    at_text: String,
    chosen: Vec<i32>,
    search: ReviewQuery,
}

const MAIL_KEYS: [&str; 5] = ["template", "audience", "at", "institution", "request_key"];

impl Asked {
    fn parse(pairs: Vec<(String, String)>) -> Result<Asked, AppError> {
        let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "csrf").collect();
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let search = ReviewQuery::from_pairs(&pairs, &MAIL_KEYS)?;
        Ok(Asked {
            template: TemplateKey::from_code(&get("template")).filter(|k| k.is_broadcast()),
            audience: Audience::from_code(&get("audience")),
            at_text: get("at"),
            chosen: pairs
                .iter()
                .filter(|(k, _)| k == "institution")
                .filter_map(|(_, v)| v.parse().ok())
                .collect(),
            search,
            pairs,
        })
    }

    /// The request, or the messages to show next to the fields.
    fn request(&self) -> Result<CampaignRequest, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        if self.template.is_none() {
            errors.push(("template", "テンプレートを選んでください".to_string()));
        }
        if self.audience.is_none() {
            errors.push(("audience", "送り先を選んでください".to_string()));
        }
        let scheduled_at = match self.at_text.trim() {
            "" => None,
            text => {
                let at = wareki::parse_jst_datetime(text);
                if at.is_none() {
                    errors.push((
                        "at",
                        "予約日時を 2027-01-10 09:00 の形で入力してください".into(),
                    ));
                }
                at
            }
        };
        let filter = match self.search.filter() {
            Ok(f) => f,
            Err(e) => {
                errors.extend(e.into_values().map(|m| ("search", m)));
                Default::default()
            }
        };
        match (self.template, self.audience, errors.is_empty()) {
            (Some(template), Some(audience), true) => Ok(CampaignRequest {
                template,
                audience,
                fiscal_year: self.search.fiscal_year(),
                filter,
                chosen: self.chosen.clone(),
                scheduled_at,
            }),
            _ => Err(errors),
        }
    }

    /// The pairs to carry in hidden fields and links.
    fn hidden(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(k, _)| k != "request_key")
            .cloned()
            .collect()
    }

    /// What the form carries unseen: the search and the ticked institutions.
    fn carried(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .filter(|(k, _)| {
                !["template", "audience", "at", "request_key", "fy"].contains(&k.as_str())
            })
            .cloned()
            .collect()
    }

    fn query_string(&self) -> String {
        serde_urlencoded::to_string(self.hidden()).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct Choice {
    code: &'static str,
    label: &'static str,
}

async fn form_page(
    state: &AppState,
    viewer: &Viewer,
    asked: &Asked,
    errors: &[(&'static str, String)],
) -> Result<HttpResponse, AppError> {
    let templates: Vec<Choice> = TemplateKey::ALL
        .into_iter()
        .filter(|k| k.is_broadcast())
        .map(|k| Choice {
            code: k.code(),
            label: k.label(),
        })
        .collect();
    let audiences: Vec<Choice> = Audience::ALL
        .into_iter()
        .filter(|a| *a != Audience::Chosen || !asked.chosen.is_empty())
        .map(|a| Choice {
            code: a.code(),
            label: a.label(),
        })
        .collect();
    let mut ctx = views::Page::of(state, viewer).await?;
    let fy = asked.search.fiscal_year();
    ctx.insert("templates", &templates);
    ctx.insert("audiences", &audiences);
    ctx.insert("template", &asked.template.map(|k| k.code()));
    ctx.insert("audience", &asked.audience.map(|a| a.code()));
    ctx.insert("at", &asked.at_text);
    ctx.insert("fiscal_year", &fy);
    ctx.insert("years", &[fy - 1, fy, fy + 1]);
    ctx.insert("carried", &asked.carried());
    ctx.insert(
        "errors",
        &errors
            .iter()
            .cloned()
            .collect::<std::collections::BTreeMap<_, _>>(),
    );
    ctx.insert("sends_nothing", &state.settings.mail.sends_nothing());
    let status = if errors.is_empty() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    ctx.html_status(status, "mail/new.html")
}

/// GET /mail/new: the form, filled from the link that led here (a search, the
/// 未報告 list, ticked institutions).
pub async fn new_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let asked = Asked::parse(query.into_inner())?;
    form_page(&state, &viewer, &asked, &[]).await
}

/// Institutions without an address the preview lists; the CSV has the rest.
const NO_ADDRESS_SHOWN: usize = 100;

#[derive(Serialize)]
struct PreviewView {
    recipients: usize,
    without_count: usize,
    /// Those not listed on the page (the CSV has them all).
    without_more: usize,
    without: Vec<service::NoAddress>,
    first_to: Option<String>,
    first_subject: Option<String>,
    first_body: Option<String>,
    first_problem: Option<String>,
    template: &'static str,
    audience: &'static str,
    scheduled_at: Option<String>,
}

impl PreviewView {
    fn of(preview: service::CampaignPreview, request: &CampaignRequest) -> PreviewView {
        let (first_to, rendered) = preview.first.unzip();
        PreviewView {
            recipients: preview.recipients,
            without_count: preview.without.len(),
            without_more: preview.without.len().saturating_sub(NO_ADDRESS_SHOWN),
            without: preview.without.into_iter().take(NO_ADDRESS_SHOWN).collect(),
            first_to,
            first_subject: rendered.as_ref().map(|r| r.subject.clone()),
            first_body: rendered.map(|r| r.body),
            first_problem: preview.first_problem,
            template: request.template.label(),
            audience: request.audience.label(),
            scheduled_at: request.scheduled_at.map(wareki::datetime_jst),
        }
    }
}

/// GET /mail/preview: nothing is created yet.
pub async fn preview(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let asked = Asked::parse(query.into_inner())?;
    let request = match asked.request() {
        Ok(r) => r,
        Err(errors) => return form_page(&state, &viewer, &asked, &errors).await,
    };
    let (scope, url, r) = (user.scope, state.settings.display_url(), request.clone());
    let preview = match state
        .try_run(move |conn| service::preview(conn, scope, &url, &r))
        .await?
    {
        Ok(p) => p,
        Err(MailError::Invalid(message)) => {
            return form_page(&state, &viewer, &asked, &[("audience", message)]).await;
        }
        Err(e) => return Err(e.into()),
    };
    let view = PreviewView::of(preview, &request);
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("preview", &view);
    ctx.insert("fiscal_year", &request.fiscal_year);
    ctx.insert("hidden", &asked.hidden());
    ctx.insert("query", &asked.query_string());
    ctx.insert("request_key", &crate::web::session::random_token());
    ctx.insert("sends_nothing", &state.settings.mail.sends_nothing());
    ctx.html("mail/preview.html")
}

/// POST /mail/campaigns: one campaign per preview, whatever the clicks.
pub async fn create(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let asked = Asked::parse(form.0)?;
    let key = asked
        .pairs
        .iter()
        .find(|(k, _)| k == "request_key")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let request = match asked.request() {
        Ok(r) => r,
        Err(errors) => return form_page(&state, &viewer, &asked, &errors).await,
    };
    let actor = user.actor(&viewer);
    let detail = serde_json::json!({ "query": asked.query_string() });
    let (id, _) = state
        .run(move |conn| service::create(conn, By::Officer(&actor), &request, &key, &detail))
        .await?;
    Ok(see_other(&format!("/mail/campaigns/{id}?created=1")))
}

/// The institutions without a usable address, with their postal details for paper
/// mailing (宛名ラベル: データ出力 → 宛先情報).
fn no_address_rows(
    conn: &mut crate::db::DbConnection,
    scope: crate::domain::auth::Scope,
    request: &CampaignRequest,
) -> Result<Vec<Vec<String>>, MailError> {
    let found = service::recipients(conn, scope, request)?;
    let ids: Vec<i32> = found.without.iter().map(|n| n.institution_id).collect();
    let postal: std::collections::HashMap<i32, crate::db::exports::PostalLine> =
        crate::db::exports::postal_lines(conn, &ids)
            .map_err(crate::db::DbError::from)?
            .into_iter()
            .map(|p| (p.institution_id, p))
            .collect();
    Ok(found
        .without
        .into_iter()
        .map(|n| {
            let p = postal.get(&n.institution_id);
            let text = |v: Option<&String>| v.cloned().unwrap_or_default();
            vec![
                n.code,
                n.name,
                n.reason,
                text(p.and_then(|p| p.postcode.as_ref())),
                text(p.map(|p| &p.address)),
                text(p.and_then(|p| p.manager.as_ref())),
                text(p.and_then(|p| p.phone.as_ref())),
            ]
        })
        .collect())
}

const NO_ADDRESS_HEADER: [&str; 7] = [
    "医療機関コード",
    "名称",
    "理由",
    "郵便番号",
    "所在地",
    "管理者",
    "電話番号",
];

/// GET /mail/no-address.csv: the institutions to reach on paper, with their postal
/// details.
pub async fn no_address_csv(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let asked = Asked::parse(query.into_inner())?;
    let request = asked.request().map_err(|e| {
        AppError::BadRequest(e.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join(" "))
    })?;
    let scope = user.scope;
    let rows = state
        .run(move |conn| no_address_rows(conn, scope, &request))
        .await?;
    Ok(csv_response(
        "メールアドレスのない医療機関.csv",
        csv_bytes(&NO_ADDRESS_HEADER, &rows)?,
    ))
}
