//! Report entry for institutions and, by proxy (代理入力), for officers: the filings of
//! an institution, start with 保険医療機関番号確認, section screens made from the
//! catalog, the overview with the live determination, the confirmation page, versions,
//! printouts and the answers document. Everything is scoped: another institution's
//! report answers 404.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::AppState;
use super::csrf::CsrfForm;
use super::gate::see_other;
use super::session::{CurrentUser, Viewer};
use super::views;
use crate::db::institutions::{self, InstitutionCard};
use crate::db::reports as store;
use crate::domain::catalog::{Catalog, Function, Item, Kind};
use crate::domain::determination::{self, Answers, Determination, Reason, condition_holds};
use crate::domain::report::{self, FormValues, NdbMark, PeriodState, ReportKind, Status};
use crate::domain::wareki;
use crate::services::reports::{self as service, Loaded, ReportError, SaveOutcome, SubmitOutcome};
use crate::web::error::AppError;

fn today() -> chrono::NaiveDate {
    wareki::today_jst(chrono::Utc::now())
}

// ----- how answers are shown -----

/// An answer in words: choice labels, numbers, names.
pub fn answer_text(item: &Item, value: &Value) -> String {
    let label = |code: i64| {
        item.choices
            .iter()
            .find(|c| c.code == code)
            .map_or_else(|| code.to_string(), |c| c.label.clone())
    };
    match (item.kind, value) {
        (_, Value::Null) => String::new(),
        (Kind::Choice, v) => v.as_i64().map(label).unwrap_or_default(),
        (Kind::Multi, Value::Array(codes)) => codes
            .iter()
            .filter_map(Value::as_i64)
            .map(label)
            .collect::<Vec<_>>()
            .join("、"),
        (Kind::Names, Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("、"),
        (Kind::Count, v) => v.as_i64().map(views::group_digits).unwrap_or_default(),
        (_, Value::String(s)) => s.clone(),
        (_, v) => v.to_string(),
    }
}

#[derive(Serialize)]
struct ChoiceView {
    code: i64,
    label: String,
    checked: bool,
}

#[derive(Serialize)]
struct ItemView {
    code: String,
    label: String,
    kind: Kind,
    star: bool,
    required: bool,
    condition: Option<String>,
    applies: bool,
    choices: Vec<ChoiceView>,
    value: String,
    names: Vec<String>,
    other_text: bool,
    other_value: String,
    error: Option<String>,
    other_error: Option<String>,
    ndb: Option<NdbMark>,
    provisional: bool,
    source: String,
    help: Option<String>,
    max_length: Option<usize>,
    /// The answer in words (confirmation and print pages).
    text: String,
}

fn condition_text(catalog: &Catalog, item: &Item) -> Option<String> {
    let c = item.condition.as_ref()?;
    let trigger = catalog.item(&c.item)?;
    let labels: Vec<String> = c
        .any_of
        .iter()
        .map(|code| {
            trigger
                .choices
                .iter()
                .find(|ch| ch.code == *code)
                .map_or_else(|| code.to_string(), |ch| ch.label.clone())
        })
        .collect();
    Some(format!(
        "{} で「{}」の場合に回答",
        c.item,
        labels.join("」「")
    ))
}

fn value_strings(item: &Item, value: Option<&Value>) -> Vec<String> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(v) if item.kind == Kind::Count => {
            vec![v.as_i64().map_or_else(|| v.to_string(), |n| n.to_string())]
        }
        Some(v) => vec![v.to_string()],
    }
}

/// The items of a section as the form shows them. `typed` (a form sent back with
/// errors) wins over the stored answers, so nothing typed is lost.
fn item_views(
    catalog: &Catalog,
    section: &str,
    answers: &Answers,
    typed: Option<&FormValues>,
    errors: &BTreeMap<String, String>,
    ndb: &Map<String, Value>,
) -> Vec<ItemView> {
    catalog
        .items
        .iter()
        .filter(|i| i.section == section)
        .map(|item| {
            let values: Vec<String> = match typed {
                Some(form) => form.get(&item.code).cloned().unwrap_or_default(),
                None => value_strings(item, answers.get(&item.code)),
            };
            let other_key = format!("{}:other", item.code);
            let other_value = match typed {
                Some(form) => form
                    .get(&other_key)
                    .and_then(|v| v.first().cloned())
                    .unwrap_or_default(),
                None => answers
                    .get(&other_key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            };
            let max_names = item.max_names.unwrap_or(8);
            let mut names: Vec<String> = if item.kind == Kind::Names {
                values.clone()
            } else {
                Vec::new()
            };
            if item.kind == Kind::Names {
                names.resize(names.len().max(max_names), String::new());
            }
            ItemView {
                code: item.code.clone(),
                label: item.label.clone(),
                kind: item.kind,
                star: item.star,
                required: item.required,
                condition: condition_text(catalog, item),
                applies: condition_holds(item, answers),
                choices: item
                    .choices
                    .iter()
                    .map(|c| ChoiceView {
                        code: c.code,
                        label: c.label.clone(),
                        checked: values.iter().any(|v| v.trim() == c.code.to_string()),
                    })
                    .collect(),
                value: values.first().cloned().unwrap_or_default(),
                names,
                other_text: item.other_text,
                other_value,
                error: errors.get(&item.code).cloned(),
                other_error: errors.get(&other_key).cloned(),
                ndb: report::ndb_mark(ndb, answers, &item.code),
                provisional: item.provisional,
                source: item.source.clone(),
                help: item.help.clone(),
                max_length: item.max_length,
                text: answers
                    .get(&item.code)
                    .map(|v| answer_text(item, v))
                    .unwrap_or_default(),
            }
        })
        .collect()
}

#[derive(Serialize)]
struct CategoryView {
    label: &'static str,
    yes: bool,
    reasons: Vec<Reason>,
}

#[derive(Serialize)]
pub(super) struct DeterminationView {
    function1: bool,
    missing: Vec<Reason>,
    categories: Vec<CategoryView>,
}

pub(super) fn determination_view(d: &Determination) -> DeterminationView {
    let r = &d.reasons;
    let f = &d.function2;
    let cat = |function: Function, yes: bool, reasons: &Vec<Reason>| CategoryView {
        label: function.label(),
        yes,
        reasons: reasons.clone(),
    };
    DeterminationView {
        function1: d.function1,
        missing: r.missing_star_items.clone(),
        categories: vec![
            cat(Function::AfterHours, f.after_hours, &r.after_hours),
            cat(
                Function::AdmissionDischarge,
                f.admission_discharge,
                &r.admission_discharge,
            ),
            cat(Function::HomeCare, f.home_care, &r.home_care),
            cat(
                Function::CareCoordination,
                f.care_coordination,
                &r.care_coordination,
            ),
        ],
    }
}

#[derive(Serialize)]
struct ReportHead {
    id: i32,
    fiscal_year: i32,
    cycle: i32,
    kind: &'static str,
    status: &'static str,
    status_code: &'static str,
    editable: bool,
    revision: i32,
    versions: i32,
    proxy: bool,
    return_reason: Option<String>,
    catalog_version: String,
    submitted_at: Option<String>,
    updated_at: String,
}

fn head(l: &Loaded) -> ReportHead {
    let r = &l.report;
    ReportHead {
        id: r.id,
        fiscal_year: r.fiscal_year,
        cycle: r.cycle,
        kind: l.kind.label(),
        status: l.status.label(),
        status_code: l.status.code(),
        editable: l.status.editable(),
        revision: r.revision,
        versions: r.versions,
        proxy: r.proxy,
        return_reason: r.return_reason.clone(),
        catalog_version: l.catalog.version.clone(),
        submitted_at: r.submitted_at.map(wareki::datetime_jst),
        updated_at: wareki::datetime_jst(r.updated_at),
    }
}

async fn load(state: &AppState, user: &CurrentUser, id: i32) -> Result<Loaded, AppError> {
    let scope = user.scope;
    let catalogs = state.catalogs.clone();
    let loaded = state
        .run(move |conn| service::load(conn, &catalogs, scope, id))
        .await?;
    Ok(loaded)
}

// ----- the filings of an institution -----

#[derive(Serialize)]
struct FilingRow {
    fiscal_year: i32,
    period: Option<store::PeriodRow>,
    period_text: String,
    open_to_institution: bool,
    cycles: Vec<CycleRow>,
    can_start: bool,
    can_change: bool,
}

#[derive(Serialize)]
struct CycleRow {
    id: i32,
    kind: &'static str,
    status: &'static str,
    versions: i32,
    submitted_at: Option<String>,
}

fn period_text(period: Option<&store::PeriodRow>, today: chrono::NaiveDate) -> String {
    let Some(p) = period else {
        return "報告期間は未設定です".into();
    };
    let span = format!(
        "{} 〜 {}（期限 {}）",
        wareki::date_wareki(p.opens_on),
        wareki::date_wareki(p.closes_on),
        wareki::date_wareki(p.deadline)
    );
    match p.period().state(today) {
        PeriodState::NotYet { .. } => format!("受付開始前　{span}"),
        PeriodState::Open {
            past_deadline: false,
        } => format!("受付中　{span}"),
        PeriodState::Open {
            past_deadline: true,
        } => format!("受付中（期限を過ぎています）　{span}"),
        PeriodState::Closed => format!("受付終了　{span}"),
    }
}

pub async fn filings(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let institution_id = path.into_inner();
    let scope = user.scope;
    let today = today();
    let officer = user.role.is_officer();
    let (card, rows) = state
        .db(move |conn| {
            let Some(card) = institutions::card_within(conn, scope, institution_id)? else {
                return Ok(None);
            };
            let periods = store::periods(conn, card.prefecture_id)?;
            let reports = store::of_institution(conn, institution_id)?;
            let loaded: Vec<i32> = store::loaded_catalogs(conn)?
                .into_iter()
                .map(|c| c.fiscal_year)
                .collect();
            let mut years: Vec<i32> = periods.iter().map(|p| p.fiscal_year).collect();
            years.extend(reports.iter().map(|r| r.fiscal_year));
            years.sort_unstable_by(|a, b| b.cmp(a));
            years.dedup();
            let rows: Vec<FilingRow> = years
                .into_iter()
                .map(|fy| {
                    let period = periods.iter().find(|p| p.fiscal_year == fy).cloned();
                    let state = period.as_ref().map(|p| p.period().state(today));
                    let cycles: Vec<&store::ReportRow> =
                        reports.iter().filter(|r| r.fiscal_year == fy).collect();
                    let latest_confirmed = cycles
                        .first()
                        .is_some_and(|r| r.status == Status::Confirmed.code());
                    FilingRow {
                        fiscal_year: fy,
                        period_text: period_text(period.as_ref(), today),
                        open_to_institution: report::may_file(ReportKind::Periodic, false, state),
                        can_start: cycles.is_empty()
                            && report::may_file(ReportKind::Periodic, officer, state)
                            && (crate::domain::catalog::shipped(fy).is_some()
                                || loaded.contains(&fy)),
                        can_change: latest_confirmed,
                        cycles: cycles
                            .iter()
                            .map(|r| CycleRow {
                                id: r.id,
                                kind: ReportKind::from_code(&r.kind).map_or("", ReportKind::label),
                                status: Status::from_code(&r.status).map_or("", Status::label),
                                versions: r.versions,
                                submitted_at: r.submitted_at.map(wareki::datetime_jst),
                            })
                            .collect(),
                        period,
                    }
                })
                .collect();
            Ok(Some((card, rows)))
        })
        .await?
        .ok_or(AppError::NotFound)?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("institution", &card);
    ctx.insert("rows", &rows);
    ctx.insert("officer", &officer);
    ctx.html("reports/filings.html")
}

// ----- start: 保険医療機関番号確認 -----

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    kind: String,
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    skip: Option<String>,
}

async fn start_page(
    state: &AppState,
    viewer: &Viewer,
    card: &InstitutionCard,
    fiscal_year: i32,
    kind: ReportKind,
    typed: &str,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("institution", card);
    ctx.insert("fiscal_year", &fiscal_year);
    ctx.insert("kind", kind.code());
    ctx.insert("kind_label", kind.label());
    ctx.insert("typed", typed);
    ctx.insert("error", &error);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    ctx.html_status(status, "reports/start.html")
}

/// A year no report can exist for (`-1`, `9999`) is a page that does not exist.
fn reporting_year(fiscal_year: i32) -> Result<(), AppError> {
    let today = crate::domain::wareki::today_jst(chrono::Utc::now());
    if crate::domain::report::is_reporting_year(fiscal_year, today) {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

fn kind_of(text: &str) -> ReportKind {
    ReportKind::from_code(text).unwrap_or(ReportKind::Periodic)
}

async fn card(state: &AppState, user: &CurrentUser, id: i32) -> Result<InstitutionCard, AppError> {
    let scope = user.scope;
    state
        .db(move |conn| Ok(institutions::card_within(conn, scope, id)?))
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn start_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, i32)>,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, AppError> {
    let (institution_id, fiscal_year) = path.into_inner();
    reporting_year(fiscal_year)?;
    let card = card(&state, &user, institution_id).await?;
    let kind = kind_of(&query.kind);
    start_page(&state, &viewer, &card, fiscal_year, kind, "", None).await
}

pub async fn start(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, i32)>,
    form: CsrfForm<StartForm>,
) -> Result<HttpResponse, AppError> {
    let (institution_id, fiscal_year) = path.into_inner();
    reporting_year(fiscal_year)?;
    let form = form.0;
    let kind = kind_of(&form.kind);
    let typed = if form.skip.is_some() {
        String::new()
    } else {
        form.code.clone()
    };
    let actor = user.actor(&viewer);
    let catalogs = state.catalogs.clone();
    let today = today();
    let result = state
        .db(move |conn| {
            Ok(service::start(
                conn,
                &catalogs,
                &actor,
                &service::StartRequest {
                    institution_id,
                    fiscal_year,
                    kind,
                    typed_code: typed,
                    today,
                },
            ))
        })
        .await?;
    match result {
        Ok(id) => Ok(see_other(&format!("/reports/{id}"))),
        Err(ReportError::Code(message)) => {
            let card = card(&state, &user, institution_id).await?;
            start_page(
                &state,
                &viewer,
                &card,
                fiscal_year,
                kind,
                &form.code,
                Some(message),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

// ----- overview -----

#[derive(Serialize)]
struct SectionRow {
    id: String,
    title: String,
    state: &'static str,
    state_code: report::SectionState,
}

fn section_rows(l: &Loaded) -> Vec<SectionRow> {
    report::section_states(&l.catalog, &l.marks, &l.answers)
        .into_iter()
        .filter_map(|(id, state)| {
            let s = l.catalog.section(&id)?;
            Some(SectionRow {
                title: s.title.clone(),
                id,
                state: state.label(),
                state_code: state,
            })
        })
        .collect()
}

#[derive(Deserialize)]
pub struct OverviewQuery {
    #[serde(default)]
    done: String,
}

pub async fn overview(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    query: web::Query<OverviewQuery>,
) -> Result<HttpResponse, AppError> {
    let l = load(&state, &user, path.into_inner()).await?;
    let id = l.report.id;
    let institution_view = !user.role.is_officer();
    let user_id = user.id;
    let (versions, memos, seen) = state
        .db(move |conn| {
            let versions = store::versions(conn, id)?;
            let (memos, seen) =
                crate::services::review::read_thread(conn, user_id, id, institution_view)?;
            Ok((versions, memos, seen))
        })
        .await?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    let notice = match query.done.as_str() {
        "saved" => Some("一時保存しました。"),
        "complete" => Some("入力完了にしました。"),
        "submitted" => Some("報告しました。控えを印刷できます。"),
        "memo" => Some("メッセージを送りました。"),
        "pulled" => Some("報告を引き戻しました。修正して、もう一度報告してください。"),
        _ => None,
    };
    ctx.insert("notice", &notice);
    ctx.insert("report", &head(&l));
    ctx.insert("institution", &l.institution);
    ctx.insert("sections", &section_rows(&l));
    ctx.insert("determination", &determination_view(&l.determination()));
    ctx.insert(
        "problems",
        &determination::validate(&l.catalog, &l.answers).len(),
    );
    ctx.insert("versions", &version_rows(&versions));
    ctx.insert("officer", &user.role.is_officer());
    ctx.insert("memos", &memo_rows(&memos, seen, user.role.is_officer()));
    ctx.html("reports/overview.html")
}

/// The version history as the pages list it.
pub(super) fn version_rows(versions: &[store::VersionRow]) -> Vec<Value> {
    versions
        .iter()
        .map(|v| {
            serde_json::json!({
                "number": v.number,
                "kind": ReportKind::from_code(&v.kind).map_or("", ReportKind::label),
                "submitted_at": wareki::datetime_jst(v.submitted_at),
                "login": v.submitted_login,
                "proxy": v.proxy,
            })
        })
        .collect()
}

/// A memo thread as the pages show it. A memo is unread when the other side wrote it
/// after the newest one this user has seen.
pub(super) fn memo_rows(
    memos: &[crate::services::review::Memo],
    seen: i32,
    for_officer: bool,
) -> Vec<Value> {
    memos
        .iter()
        .map(|m| {
            serde_json::json!({
                "author": m.author_name, "from_institution": m.from_institution,
                "internal": m.internal, "body": m.body,
                "at": wareki::datetime_jst(m.created_at),
                "unread": m.from_institution == for_officer && m.id > seen,
            })
        })
        .collect()
}

// ----- section entry -----

#[allow(clippy::too_many_arguments)]
async fn section_page(
    state: &AppState,
    viewer: &Viewer,
    l: &Loaded,
    section: &str,
    typed: Option<&FormValues>,
    errors: &BTreeMap<String, String>,
    general: &[String],
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, AppError> {
    let s = l.catalog.section(section).ok_or(AppError::NotFound)?;
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("report", &head(l));
    ctx.insert("institution", &l.institution);
    ctx.insert("section", s);
    ctx.insert(
        "not_applicable",
        &(Function::CATEGORIES.contains(&s.function) && !l.determination().function1),
    );
    ctx.insert(
        "items",
        &item_views(&l.catalog, section, &l.answers, typed, errors, &l.ndb),
    );
    ctx.insert("errors", errors);
    ctx.insert("general", general);
    ctx.insert("sections", &section_rows(l));
    ctx.html_status(status, "reports/section.html")
}

pub async fn section_form(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, section) = path.into_inner();
    let l = load(&state, &user, id).await?;
    section_page(
        &state,
        &viewer,
        &l,
        &section,
        None,
        &BTreeMap::new(),
        &[],
        actix_web::http::StatusCode::OK,
    )
    .await
}

pub async fn save_section(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, String)>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (id, section) = path.into_inner();
    let values = report::form_values(form.0);
    let revision: i32 = values
        .get("rev")
        .and_then(|v| v.first())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| AppError::BadRequest("フォームが古いか壊れています".into()))?;
    let complete = values
        .get("action")
        .is_some_and(|v| v.iter().any(|a| a == "complete"));
    let actor = user.actor(&viewer);
    let catalogs = state.catalogs.clone();
    let section_id = section.clone();
    let sent = service::Sent::Form(values.clone());
    let outcome = state
        .run(move |conn| {
            service::save_section(
                conn,
                &catalogs,
                &actor,
                service::SectionSave {
                    report_id: id,
                    section: section_id,
                    sent,
                    revision,
                    complete,
                },
            )
        })
        .await?;
    after_save(
        &state,
        &viewer,
        &user,
        id,
        &section,
        Some(&values),
        outcome,
        complete,
    )
    .await
}

/// Where a section save leads: the overview, or (only then is the report read again)
/// the form with its problems, or the conflict page.
#[allow(clippy::too_many_arguments)]
async fn after_save(
    state: &AppState,
    viewer: &Viewer,
    user: &CurrentUser,
    id: i32,
    section: &str,
    typed: Option<&FormValues>,
    outcome: SaveOutcome,
    complete: bool,
) -> Result<HttpResponse, AppError> {
    if let SaveOutcome::Saved { complete } = outcome {
        return Ok(see_other(&format!(
            "/reports/{id}?done={}",
            if complete { "complete" } else { "saved" }
        )));
    }
    let l = load(state, user, id).await?;
    match outcome {
        SaveOutcome::Invalid { errors, general } => {
            section_page(
                state,
                viewer,
                &l,
                section,
                typed,
                &errors,
                &general,
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        SaveOutcome::Conflict {
            mine,
            theirs,
            revision,
        } => {
            conflict_page(
                state, viewer, &l, section, &mine, &theirs, revision, complete,
            )
            .await
        }
        SaveOutcome::Saved { .. } => Err(AppError::Internal("unreachable save outcome".into())),
    }
}

#[derive(Serialize)]
struct ConflictRow {
    code: String,
    label: String,
    mine: String,
    theirs: String,
}

#[allow(clippy::too_many_arguments)]
async fn conflict_page(
    state: &AppState,
    viewer: &Viewer,
    l: &Loaded,
    section: &str,
    mine: &Answers,
    theirs: &Answers,
    revision: i32,
    complete: bool,
) -> Result<HttpResponse, AppError> {
    let rows: Vec<ConflictRow> = l
        .catalog
        .items
        .iter()
        .filter(|i| i.section == section)
        .flat_map(|i| [i.code.clone(), format!("{}:other", i.code)].map(|k| (i, k)))
        .filter(|(_, k)| mine.get(k) != theirs.get(k))
        .map(|(item, key)| {
            let text = |a: &Answers| {
                a.get(&key).map_or_else(
                    || "（未回答）".to_string(),
                    |v| {
                        if key.ends_with(":other") {
                            v.as_str().unwrap_or_default().to_string()
                        } else {
                            answer_text(item, v)
                        }
                    },
                )
            };
            ConflictRow {
                label: if key.ends_with(":other") {
                    format!("{}（その他の内容）", item.label)
                } else {
                    item.label.clone()
                },
                mine: text(mine),
                theirs: text(theirs),
                code: key,
            }
        })
        .collect();
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("report", &head(l));
    ctx.insert("institution", &l.institution);
    ctx.insert("section", &l.catalog.section(section));
    ctx.insert("rows", &rows);
    ctx.insert("revision", &revision);
    ctx.insert("complete", &complete);
    ctx.insert(
        "mine_json",
        &serde_json::to_string(mine).map_err(AppError::internal)?,
    );
    ctx.insert(
        "theirs_json",
        &serde_json::to_string(theirs).map_err(AppError::internal)?,
    );
    ctx.html_status(StatusCode::CONFLICT, "reports/conflict.html")
}

/// The choice made on the conflict page: per differing field, keep mine or theirs.
pub async fn resolve(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, String)>,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (id, section) = path.into_inner();
    let values = report::form_values(form.0);
    let field = |name: &str| values.get(name).and_then(|v| v.first()).cloned();
    let bad = || AppError::BadRequest("フォームが古いか壊れています".into());
    let revision: i32 = field("rev").and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let complete = field("action").is_some_and(|a| a == "complete");
    let mine: Answers = field("mine")
        .and_then(|v| serde_json::from_str(&v).ok())
        .ok_or_else(bad)?;
    let theirs: Answers = field("theirs")
        .and_then(|v| serde_json::from_str(&v).ok())
        .ok_or_else(bad)?;
    let mut chosen = Answers::new();
    let keys: std::collections::BTreeSet<&String> = mine.keys().chain(theirs.keys()).collect();
    for key in keys {
        let take_theirs = field(&format!("pick:{key}")).is_some_and(|p| p == "theirs");
        let source = if take_theirs { &theirs } else { &mine };
        if let Some(v) = source.get(key) {
            chosen.insert(key.clone(), v.clone());
        }
    }
    let actor = user.actor(&viewer);
    let catalogs = state.catalogs.clone();
    let section_id = section.clone();
    let outcome = state
        .run(move |conn| {
            service::save_section(
                conn,
                &catalogs,
                &actor,
                service::SectionSave {
                    report_id: id,
                    section: section_id,
                    sent: service::Sent::Answers(chosen),
                    revision,
                    complete,
                },
            )
        })
        .await?;
    after_save(
        &state, &viewer, &user, id, &section, None, outcome, complete,
    )
    .await
}

// ----- confirmation and submission -----

#[derive(Serialize)]
pub(super) struct SectionAnswers {
    id: String,
    title: String,
    not_applicable: bool,
    items: Vec<ItemView>,
}

pub(super) fn all_sections(
    catalog: &Catalog,
    answers: &Answers,
    ndb: &Map<String, Value>,
) -> Vec<SectionAnswers> {
    let function1 = determination::determine(catalog, answers).function1;
    catalog
        .sections
        .iter()
        .map(|s| SectionAnswers {
            id: s.id.clone(),
            title: s.title.clone(),
            not_applicable: Function::CATEGORIES.contains(&s.function) && !function1,
            items: item_views(catalog, &s.id, answers, None, &BTreeMap::new(), ndb),
        })
        .collect()
}

async fn confirm_page_for(
    state: &AppState,
    viewer: &Viewer,
    l: &Loaded,
    message: Option<&str>,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, AppError> {
    let problems = determination::validate(&l.catalog, &l.answers);
    let mut ctx = views::Page::of(state, viewer).await?;
    ctx.insert("report", &head(l));
    ctx.insert("institution", &l.institution);
    ctx.insert("sections", &all_sections(&l.catalog, &l.answers, &l.ndb));
    ctx.insert("determination", &determination_view(&l.determination()));
    let labelled: Vec<serde_json::Value> = problems
        .iter()
        .map(|p| {
            let base = p.item.split(':').next().unwrap_or(&p.item);
            let item = l.catalog.item(base);
            serde_json::json!({
                "item": p.item,
                "label": item.map(|i| i.label.clone()),
                "section": item.map(|i| i.section.clone()),
                "message": p.message,
            })
        })
        .collect();
    ctx.insert("problems", &labelled);
    ctx.insert("message", &message);
    ctx.html_status(status, "reports/confirm.html")
}

pub async fn confirm_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let l = load(&state, &user, path.into_inner()).await?;
    confirm_page_for(&state, &viewer, &l, None, actix_web::http::StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct RevisionForm {
    rev: i32,
}

pub async fn submit(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    form: CsrfForm<RevisionForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let revision = form.0.rev;
    let actor = user.actor(&viewer);
    let catalogs = state.catalogs.clone();
    let today = today();
    let outcome = state
        .run(move |conn| service::submit(conn, &catalogs, &actor, id, revision, today))
        .await?;
    match outcome {
        SubmitOutcome::Submitted { .. } | SubmitOutcome::AlreadySubmitted { .. } => {
            Ok(see_other(&format!("/reports/{id}?done=submitted")))
        }
        SubmitOutcome::Incomplete(_) => {
            let l = load(&state, &user, id).await?;
            confirm_page_for(
                &state,
                &viewer,
                &l,
                Some("未回答または誤りのある項目があるため、報告できません。"),
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        SubmitOutcome::Stale => {
            let l = load(&state, &user, id).await?;
            confirm_page_for(
                &state,
                &viewer,
                &l,
                Some("この画面を開いた後に内容が変わりました。最新の内容を確かめてから、もう一度報告してください。"),
                actix_web::http::StatusCode::CONFLICT,
            )
            .await
        }
    }
}

pub async fn pull_back(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
    form: CsrfForm<RevisionForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let revision = form.0.rev;
    let actor = user.actor(&viewer);
    let catalogs = state.catalogs.clone();
    let done = state
        .run(move |conn| service::pull_back(conn, &catalogs, &actor, id, revision))
        .await?;
    if done {
        Ok(see_other(&format!("/reports/{id}?done=pulled")))
    } else {
        Err(AppError::Conflict(
            "この画面を開いた後に報告の状態が変わりました。画面を開き直してください。".into(),
        ))
    }
}

// ----- versions: print, JSON, poster -----

async fn load_version(
    state: &AppState,
    user: &CurrentUser,
    id: i32,
    number: Option<i32>,
) -> Result<(Loaded, store::VersionRow, Arc<Catalog>), AppError> {
    let l = load(state, user, id).await?;
    let number = number.unwrap_or(l.report.versions);
    let fiscal_year = l.report.fiscal_year;
    let catalogs = state.catalogs.clone();
    let (version, catalog) = state
        .run(move |conn| {
            let v = store::version(conn, id, number)?.ok_or(ReportError::NotFound)?;
            let catalog = catalogs.version(conn, fiscal_year, &v.catalog_version)?;
            Ok::<_, ReportError>((v, catalog))
        })
        .await?;
    Ok((l, version, catalog))
}

pub async fn version_print(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<(i32, i32)>,
) -> Result<HttpResponse, AppError> {
    let (id, number) = path.into_inner();
    let (l, v, catalog) = load_version(&state, &user, id, Some(number)).await?;
    let answers = service::parse_map(&v.answers);
    let ndb = service::parse_map(&v.ndb);
    let d = determination::determine(&catalog, &answers);
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("report", &head(&l));
    ctx.insert("institution", &l.institution);
    ctx.insert("number", &v.number);
    ctx.insert(
        "version_kind",
        ReportKind::from_code(&v.kind).map_or("", ReportKind::label),
    );
    ctx.insert("submitted_at", &wareki::datetime_jst(v.submitted_at));
    ctx.insert("submitted_login", &v.submitted_login);
    ctx.insert("proxy", &v.proxy);
    ctx.insert("catalog_version", &v.catalog_version);
    ctx.insert("sections", &all_sections(&catalog, &answers, &ndb));
    ctx.insert("determination", &determination_view(&d));
    ctx.insert("printed_on", &wareki::date_wareki(today()));
    ctx.html("reports/print.html")
}

pub async fn version_json(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(i32, i32)>,
) -> Result<HttpResponse, AppError> {
    let (id, number) = path.into_inner();
    let (l, v, _) = load_version(&state, &user, id, Some(number)).await?;
    let file = format!(
        "kakari-{}-fy{}-{}-v{}.json",
        l.institution.code, l.report.fiscal_year, l.report.cycle, v.number
    );
    Ok(HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .body(v.answers))
}

pub async fn poster(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (l, v, catalog) = load_version(&state, &user, id, None).await?;
    let answers = service::parse_map(&v.answers);
    let d = determination::determine(&catalog, &answers);
    // The 1-4 areas the institution treats, for the poster's list.
    let areas = catalog
        .item("1-4")
        .and_then(|item| answers.get("1-4").map(|v| answer_text(item, v)))
        .unwrap_or_default();
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("institution", &l.institution);
    ctx.insert("report", &head(&l));
    ctx.insert("determination", &determination_view(&d));
    ctx.insert("areas", &areas);
    ctx.insert("submitted_at", &wareki::datetime_jst(v.submitted_at));
    ctx.html("reports/poster.html")
}
