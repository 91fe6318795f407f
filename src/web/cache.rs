//! Short-lived in-memory copies of figures that every page shows and that change slowly
//! (the deployment's prefectures, per-scope counts), so the home page does not count
//! 110,000 rows on every request. Figures are kept with the change counters they were
//! computed at ([`Stamp`], read from the database before computing) and are used only
//! while the counters are unchanged: a change committed through any process (another
//! server, the command line) is seen by every process on its next request. Entries also
//! expire after [`TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDate;

use crate::db::changes::Stamp;
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

/// How long past days are kept at most.
pub const PAST_DAYS_TTL: Duration = Duration::from_secs(600);

/// A kept value: when it was computed and at which change counters.
type Timed<T> = (Instant, Stamp, T);
/// Submissions per JST day and kind, as `db::review::submissions_per_day` returns them.
pub type DayCounts = std::sync::Arc<Vec<(NaiveDate, String, i64)>>;
/// (JST day they were counted on, when, at which counters, the counts of the days before it).
type PastDays = (NaiveDate, Instant, Stamp, DayCounts);
type SharedStats = std::sync::Arc<super::views::stats::Stats>;
type StatusCounts = std::collections::BTreeMap<String, i64>;

#[derive(Default)]
pub struct Cache {
    deployment: Mutex<Option<(Instant, Deployment)>>,
    counts: Mutex<HashMap<Scope, Timed<ScopeCounts>>>,
    /// 件数集計 figures for the officer home page, per scope and fiscal year.
    stats: Mutex<HashMap<(Scope, i32), Timed<SharedStats>>>,
    /// Counts per status of the review search, per scope, year and filter.
    status_counts: Mutex<HashMap<String, Timed<StatusCounts>>>,
    /// Submissions per day before the day they were counted on, per scope and year:
    /// versions are never changed and are stamped when submitted, so past days only
    /// change when institutions move between areas (the `master` counter).
    past_days: Mutex<HashMap<(Scope, i32), PastDays>>,
    /// Held while figures are recomputed, so that when an entry expires under load one
    /// request counts and the others wait for its result instead of all counting at once.
    refresh: Mutex<()>,
}

/// The value if computed at these counters, less than [`TTL`] ago.
fn fresh<T: Clone>(entry: Option<&Timed<T>>, now: Stamp) -> Option<T> {
    entry
        .filter(|(at, stamp, _)| *stamp == now && at.elapsed() < TTL)
        .map(|(_, _, v)| v.clone())
}

impl Cache {
    /// The deployment changes only when a prefecture is installed (a new deployment, the
    /// demo): it is kept for [`TTL`] without reading the counters on every page.
    pub fn deployment(&self) -> Option<Deployment> {
        self.deployment.lock().ok().and_then(|g| {
            g.as_ref()
                .filter(|(at, _)| at.elapsed() < TTL)
                .map(|(_, d)| d.clone())
        })
    }

    pub fn set_deployment(&self, value: Deployment) {
        if let Ok(mut g) = self.deployment.lock() {
            *g = Some((Instant::now(), value));
        }
    }

    pub fn counts(&self, scope: Scope, now: Stamp) -> Option<ScopeCounts> {
        self.counts
            .lock()
            .ok()
            .and_then(|g| fresh(g.get(&scope), now))
    }

    fn stale_counts(&self, scope: Scope) -> Option<ScopeCounts> {
        self.counts
            .lock()
            .ok()
            .and_then(|g| g.get(&scope).map(|(_, _, v)| v.clone()))
    }

    pub fn stats(&self, scope: Scope, fiscal_year: i32, now: Stamp) -> Option<SharedStats> {
        self.stats
            .lock()
            .ok()
            .and_then(|g| fresh(g.get(&(scope, fiscal_year)), now))
    }

    pub fn set_stats(&self, scope: Scope, fiscal_year: i32, at: Stamp, value: SharedStats) {
        if let Ok(mut g) = self.stats.lock() {
            g.insert((scope, fiscal_year), (Instant::now(), at, value));
        }
    }

    /// The per-day submissions before `today` counted earlier today, if still kept and
    /// no institution changed since.
    pub fn past_days(
        &self,
        scope: Scope,
        fiscal_year: i32,
        today: NaiveDate,
        now: Stamp,
    ) -> Option<DayCounts> {
        self.past_days.lock().ok().and_then(|g| {
            g.get(&(scope, fiscal_year))
                .filter(|(day, at, stamp, _)| {
                    *day == today && stamp.master == now.master && at.elapsed() < PAST_DAYS_TTL
                })
                .map(|(_, _, _, rows)| rows.clone())
        })
    }

    pub fn set_past_days(
        &self,
        scope: Scope,
        fiscal_year: i32,
        today: NaiveDate,
        at: Stamp,
        rows: DayCounts,
    ) {
        if let Ok(mut g) = self.past_days.lock() {
            g.insert((scope, fiscal_year), (today, Instant::now(), at, rows));
        }
    }

    pub fn status_counts(&self, key: &str, now: Stamp) -> Option<StatusCounts> {
        self.status_counts
            .lock()
            .ok()
            .and_then(|g| fresh(g.get(key), now))
    }

    pub fn set_status_counts(&self, key: String, at: Stamp, value: StatusCounts) {
        if let Ok(mut g) = self.status_counts.lock() {
            // Many filters: forget them all rather than grow without bound.
            if g.len() > 10_000 {
                g.clear();
            }
            g.insert(key, (Instant::now(), at, value));
        }
    }

    fn set_counts(&self, scope: Scope, at: Stamp, value: ScopeCounts) {
        if let Ok(mut g) = self.counts.lock() {
            g.insert(scope, (Instant::now(), at, value));
        }
    }

    /// The kept figures, or `compute`'s, computed by one caller at a time. `now` is read
    /// before computing. Call it from blocking code (the database closure), never on an
    /// async worker.
    pub fn counts_or<E>(
        &self,
        scope: Scope,
        now: Stamp,
        compute: impl FnOnce() -> Result<ScopeCounts, E>,
    ) -> Result<ScopeCounts, E> {
        if let Some(c) = self.counts(scope, now) {
            return Ok(c);
        }
        // While another request recounts, serve the previous figures rather than queue
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
        if let Some(c) = self.counts(scope, now) {
            return Ok(c);
        }
        let fresh = compute()?;
        self.set_counts(scope, now, fresh.clone());
        Ok(fresh)
    }
}
