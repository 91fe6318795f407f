//! 件数集計: submissions per day and progress per area, with charts, shared with the
//! officer home page.

use super::current_fiscal_year;
use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use crate::db::changes::Stamp;
use crate::db::review::{self as query};
use crate::db::{self, DbError};
use crate::domain::report::ReportKind;
use crate::domain::wareki;
use crate::web::AppState;
use crate::web::charts;
use crate::web::error::AppError;
use crate::web::institutions::choices;
use crate::web::session::{CurrentUser, Viewer};
use crate::web::views;

// ----- 件数集計 -----

use crate::web::views::stats::Stats;

/// The 件数集計 figures. The two heavy queries (per day, per 保健所) are independent
/// and run on two pooled connections at once, so the page waits for the slower one
/// only.
async fn stats(
    state: &AppState,
    scope: crate::domain::auth::Scope,
    fiscal_year: i32,
    stamp: Stamp,
) -> Result<Stats, AppError> {
    // Days before today are counted once a day (see `Cache::past_days`); today's
    // submissions are counted on every request.
    let today = wareki::today_jst(Utc::now());
    let past = state.cache.past_days(scope, fiscal_year, today, stamp);
    let since = past.is_some().then_some(today);
    let per_day =
        state.db(move |conn| Ok(query::submissions_per_day(conn, scope, fiscal_year, since)?));
    let progress =
        state.db(move |conn| Ok(query::progress_by_jurisdiction(conn, scope, fiscal_year)?));
    let (per_day, progress) = futures_util::future::join(per_day, progress).await;
    let (mut per_day, progress) = (per_day?, progress?);
    match past {
        Some(past) => per_day = past.iter().cloned().chain(per_day).collect(),
        None => {
            let before_today: Vec<_> = per_day.iter().filter(|r| r.0 < today).cloned().collect();
            state.cache.set_past_days(
                scope,
                fiscal_year,
                today,
                stamp,
                std::sync::Arc::new(before_today),
            );
        }
    }
    state
        .db(move |conn| assemble(conn, scope, fiscal_year, &per_day, &progress))
        .await
}

fn assemble(
    conn: &mut crate::db::DbConnection,
    scope: crate::domain::auth::Scope,
    fiscal_year: i32,
    per_day: &[(NaiveDate, String, i64)],
    progress: &[query::AreaProgress],
) -> Result<Stats, DbError> {
    let names = choices(conn, scope)?.names;
    let mut daily: BTreeMap<NaiveDate, (i64, i64)> = BTreeMap::new();
    for (day, kind, n) in per_day {
        let e = daily.entry(*day).or_default();
        if kind == ReportKind::Change.code() {
            e.1 += n;
        } else {
            e.0 += n;
        }
    }
    let mut monthly: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (day, (p, c)) in &daily {
        let e = monthly.entry(day.format("%Y-%m").to_string()).or_default();
        e.0 += p;
        e.1 += c;
    }
    let (targets, submitted, confirmed) = progress.iter().fold((0, 0, 0), |acc, (_, t, s, c)| {
        (acc.0 + t, acc.1 + s, acc.2 + c)
    });
    let areas: Vec<(String, i64, i64, i64)> = progress
        .iter()
        .map(|(j, t, s, c)| {
            (
                j.and_then(|j| names.get(&j).cloned())
                    .unwrap_or_else(|| "（管轄未設定）".into()),
                *t,
                *s,
                *c,
            )
        })
        .collect();
    // Cumulative first submissions per day (a report's first version), and
    // confirmations are drawn from the confirmed share at the end.
    let prefecture = match scope {
        crate::domain::auth::Scope::Prefecture(p) => Some(p),
        _ => db::areas::prefectures(conn)?.first().map(|p| p.id),
    };
    let period = match prefecture {
        Some(p) => db::periods::period(conn, p, fiscal_year)?,
        None => None,
    };
    let today = wareki::today_jst(Utc::now());
    let (start, deadline, end) = period.as_ref().map_or(
        (
            NaiveDate::from_ymd_opt(fiscal_year + 1, 1, 1).unwrap_or(today),
            NaiveDate::from_ymd_opt(fiscal_year + 1, 2, 28).unwrap_or(today),
            NaiveDate::from_ymd_opt(fiscal_year + 1, 3, 31).unwrap_or(today),
        ),
        |p| (p.opens_on, p.deadline, p.closes_on),
    );
    let first_day = daily.keys().next().copied().unwrap_or(start).min(start);
    let mut running = 0;
    let periodic_total: i64 = daily.values().map(|v| v.0).sum();
    let points: Vec<(NaiveDate, i64, i64)> = daily
        .iter()
        .map(|(day, (p, _))| {
            running += p;
            // Confirmations are not dated per day here: the share of confirmed among
            // submitted is applied to the running total.
            let confirmed_share = if periodic_total > 0 {
                running * confirmed / periodic_total.max(1)
            } else {
                0
            };
            (*day, running, confirmed_share.min(confirmed))
        })
        .collect();
    let cumulative_svg = charts::cumulative(&charts::Cumulative {
        title: "累積の報告件数（定期報告）",
        start: first_day,
        deadline,
        end: end.max(today.min(end.max(first_day))),
        targets,
        points: &points,
    });
    let areas_svg = charts::bars(
        "保健所別の報告状況",
        &areas
            .iter()
            .map(|(label, t, s, c)| charts::Bar {
                label: label.clone(),
                targets: *t,
                submitted: *s,
                confirmed: *c,
            })
            .collect::<Vec<_>>(),
    );
    Ok(Stats {
        fiscal_year,
        targets,
        submitted,
        confirmed,
        unsubmitted: (targets - submitted).max(0),
        daily: daily
            .iter()
            .map(|(d, (p, c))| (wareki::date_wareki(*d), *p, *c))
            .collect(),
        monthly: monthly.into_iter().map(|(m, (p, c))| (m, p, c)).collect(),
        areas,
        cumulative_svg,
        areas_svg,
    })
}

/// The 件数集計 figures, shared with the officer home page while no report or
/// institution changed (and for at most 30 s).
pub async fn kept_stats(
    state: &AppState,
    scope: crate::domain::auth::Scope,
    fiscal_year: i32,
    stamp: Stamp,
) -> Result<std::sync::Arc<Stats>, AppError> {
    if let Some(kept) = state.cache.stats(scope, fiscal_year, stamp) {
        return Ok(kept);
    }
    let fresh = std::sync::Arc::new(stats(state, scope, fiscal_year, stamp).await?);
    state
        .cache
        .set_stats(scope, fiscal_year, stamp, fresh.clone());
    Ok(fresh)
}

#[derive(Deserialize)]
pub struct StatsQuery {
    fy: Option<i32>,
}

pub async fn stats_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    user: CurrentUser,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, AppError> {
    let fy = query
        .fy
        .filter(|y| (2024..=2100).contains(y))
        .unwrap_or_else(current_fiscal_year);
    let stamp = state.stamp().await?;
    let stats = kept_stats(&state, user.scope, fy, stamp).await?;
    let mut ctx = views::Page::of(&state, &viewer).await?;
    ctx.insert("stats", stats.as_ref());
    ctx.insert("years", &(fy - 2..=fy + 1).rev().collect::<Vec<_>>());
    ctx.html("review/stats.html")
}
