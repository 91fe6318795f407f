//! Short-lived in-memory copies of figures that every page shows and that change slowly
//! (the deployment's prefectures, per-scope counts), so the home page does not count
//! 110,000 rows on every request. Entries expire after [`TTL`]; writes that change them
//! call [`Cache::clear`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use crate::db::institutions::ScopeCounts;
use crate::domain::auth::Scope;

pub const TTL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Default)]
pub struct Deployment {
    pub prefectures: Vec<String>,
    pub demo: bool,
}

impl Deployment {
    /// The prefecture to show in the header: the only one, if there is only one.
    pub fn single_prefecture(&self) -> Option<String> {
        match self.prefectures.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        }
    }
}

/// How long past days are kept at most: a safety net for changes made outside this
/// process (the command line), which cannot clear this cache.
pub const PAST_DAYS_TTL: Duration = Duration::from_secs(600);

type Timed<T> = (Instant, T);
/// Submissions per JST day and kind, as `db::review::submissions_per_day` returns them.
pub type DayCounts = std::sync::Arc<Vec<(NaiveDate, String, i64)>>;
/// (JST day they were counted on, when, the counts of the days before it).
type PastDays = (NaiveDate, Instant, DayCounts);
type SharedStats = std::sync::Arc<super::review::Stats>;
type StatusCounts = std::collections::BTreeMap<String, i64>;

#[derive(Default)]
pub struct Cache {
    deployment: Mutex<Option<(Instant, Deployment)>>,
    counts: Mutex<HashMap<Scope, (Instant, ScopeCounts)>>,
    /// 件数集計 figures for the officer home page, per scope and fiscal year.
    stats: Mutex<HashMap<(Scope, i32), Timed<SharedStats>>>,
    /// Counts per status of the review search, per scope, year and filter.
    status_counts: Mutex<HashMap<String, Timed<StatusCounts>>>,
    /// Submissions per day before the day they were counted on, per scope and year:
    /// versions are never changed and are stamped when submitted, so past days only
    /// change when institutions move between areas ([`Cache::clear_with_master`]).
    past_days: Mutex<HashMap<(Scope, i32), PastDays>>,
    /// Held while figures are recomputed, so that when an entry expires under load one
    /// request counts and the others wait for its result instead of all counting at once.
    refresh: Mutex<()>,
}

fn fresh<T: Clone>(entry: Option<&(Instant, T)>) -> Option<T> {
    entry
        .filter(|(at, _)| at.elapsed() < TTL)
        .map(|(_, v)| v.clone())
}

impl Cache {
    pub fn deployment(&self) -> Option<Deployment> {
        self.deployment.lock().ok().and_then(|g| fresh(g.as_ref()))
    }

    pub fn set_deployment(&self, value: Deployment) {
        if let Ok(mut g) = self.deployment.lock() {
            *g = Some((Instant::now(), value));
        }
    }

    pub fn counts(&self, scope: Scope) -> Option<ScopeCounts> {
        self.counts.lock().ok().and_then(|g| fresh(g.get(&scope)))
    }

    fn stale_counts(&self, scope: Scope) -> Option<ScopeCounts> {
        self.counts
            .lock()
            .ok()
            .and_then(|g| g.get(&scope).map(|(_, v)| v.clone()))
    }

    pub fn stats(
        &self,
        scope: Scope,
        fiscal_year: i32,
    ) -> Option<std::sync::Arc<super::review::Stats>> {
        self.stats
            .lock()
            .ok()
            .and_then(|g| fresh(g.get(&(scope, fiscal_year))))
    }

    pub fn set_stats(
        &self,
        scope: Scope,
        fiscal_year: i32,
        value: std::sync::Arc<super::review::Stats>,
    ) {
        if let Ok(mut g) = self.stats.lock() {
            g.insert((scope, fiscal_year), (Instant::now(), value));
        }
    }

    /// The per-day submissions before `today` counted earlier today, if still kept.
    pub fn past_days(&self, scope: Scope, fiscal_year: i32, today: NaiveDate) -> Option<DayCounts> {
        self.past_days.lock().ok().and_then(|g| {
            g.get(&(scope, fiscal_year))
                .filter(|(day, at, _)| *day == today && at.elapsed() < PAST_DAYS_TTL)
                .map(|(_, _, rows)| rows.clone())
        })
    }

    pub fn set_past_days(&self, scope: Scope, fiscal_year: i32, today: NaiveDate, rows: DayCounts) {
        if let Ok(mut g) = self.past_days.lock() {
            g.insert((scope, fiscal_year), (today, Instant::now(), rows));
        }
    }

    pub fn status_counts(&self, key: &str) -> Option<StatusCounts> {
        self.status_counts
            .lock()
            .ok()
            .and_then(|g| fresh(g.get(key)))
    }

    pub fn set_status_counts(&self, key: String, value: StatusCounts) {
        if let Ok(mut g) = self.status_counts.lock() {
            // Many filters: forget them all rather than grow without bound.
            if g.len() > 10_000 {
                g.clear();
            }
            g.insert(key, (Instant::now(), value));
        }
    }

    pub fn set_counts(&self, scope: Scope, value: ScopeCounts) {
        if let Ok(mut g) = self.counts.lock() {
            g.insert(scope, (Instant::now(), value));
        }
    }

    /// The cached figures, or `compute`'s, computed by one caller at a time. Call it from
    /// blocking code (the database closure), never on an async worker.
    pub fn counts_or<E>(
        &self,
        scope: Scope,
        compute: impl FnOnce() -> Result<ScopeCounts, E>,
    ) -> Result<ScopeCounts, E> {
        if let Some(c) = self.counts(scope) {
            return Ok(c);
        }
        // While another request recounts, serve the expired figures rather than queue
        // behind it holding a database connection.
        let _one_at_a_time = match self.refresh.try_lock() {
            Ok(guard) => guard,
            Err(_) => match self.stale_counts(scope) {
                Some(stale) => return Ok(stale),
                None => match self.refresh.lock() {
                    Ok(guard) => guard,
                    Err(poisoned) => poisoned.into_inner(),
                },
            },
        };
        if let Some(c) = self.counts(scope) {
            return Ok(c);
        }
        let fresh = compute()?;
        self.set_counts(scope, fresh.clone());
        Ok(fresh)
    }

    /// Forgets what a report or status change can alter (everything but past days).
    pub fn clear(&self) {
        if let Ok(mut g) = self.deployment.lock() {
            *g = None;
        }
        if let Ok(mut g) = self.counts.lock() {
            g.clear();
        }
        if let Ok(mut g) = self.stats.lock() {
            g.clear();
        }
        if let Ok(mut g) = self.status_counts.lock() {
            g.clear();
        }
    }

    /// Forgets everything, past days included: for changes to institutions, which can
    /// move their submissions from one area's figures to another's.
    pub fn clear_with_master(&self) {
        self.clear();
        if let Ok(mut g) = self.past_days.lock() {
            g.clear();
        }
    }
}
