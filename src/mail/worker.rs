//! The outbox worker: claims due rows (the claim commits before any SMTP is spoken),
//! re-checks that a reminder still applies, renders, sends at the configured rate,
//! records the server's answer, retries transient failures with backoff and pauses a
//! campaign after a run of them. It runs inside `serve` and as `kakari mail worker`;
//! several processes share the work on PostgreSQL (claims skip locked rows).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{NaiveDateTime, Utc};

use super::compose::{Composer, Prepared, context_year};
use super::transport::{Outgoing, Transport};
use crate::config::{MailSettings, Settings};
use crate::db::mail::{self as store, ClaimedRow, Outcome, Source};
use crate::db::{DbConnection, DbError, Pool};
use crate::domain::mail::{self, Attempt, CampaignState, RowState, ScheduleDecision};
use crate::domain::wareki;

/// Rows one thread claims at a time: few enough that a pause or a crash holds little,
/// enough that the claim's own queries (claim, campaign, names, template, period, the
/// outcomes' commit) cost little per message.
pub const CLAIM_SIZE: i64 = 32;
const IDLE_POLL: StdDuration = StdDuration::from_millis(500);

/// Spaces messages out to the configured rate across all threads of a process.
struct RateLimiter {
    interval: Option<StdDuration>,
    next: Mutex<Instant>,
}

impl RateLimiter {
    fn new(rate: u32) -> RateLimiter {
        RateLimiter {
            interval: (rate > 0).then(|| StdDuration::from_secs_f64(1.0 / f64::from(rate))),
            next: Mutex::new(Instant::now()),
        }
    }

    fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + interval;
            slot
        };
        let now = Instant::now();
        if slot > now {
            std::thread::sleep(slot - now);
        }
    }
}

pub struct Worker {
    pool: Pool,
    mail: MailSettings,
    public_url: String,
    data_dir: PathBuf,
    /// host:pid, so an officer can tell which process holds a row.
    name: String,
    limiter: RateLimiter,
    /// Consecutive transient failures per campaign (0: transactional mail).
    failure_runs: Mutex<HashMap<i32, u32>>,
    /// When this process last looked whether the daily digest is due.
    digest_checked: Mutex<Option<Instant>>,
}

/// What the threads of a worker share to stop.
#[derive(Clone, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Worker {
    pub fn new(pool: Pool, settings: &Settings) -> Worker {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "kakari".into());
        Worker {
            pool,
            mail: settings.mail.clone(),
            public_url: settings.display_url().trim_end_matches('/').to_string(),
            data_dir: settings.data_dir.clone(),
            name: format!("{host}:{}", std::process::id()),
            limiter: RateLimiter::new(settings.mail.rate),
            failure_runs: Mutex::new(HashMap::new()),
            digest_checked: Mutex::new(None),
        }
    }

    /// Starts one thread per configured connection; they run until `stop` is signalled.
    pub fn spawn(self, stop: StopSignal) -> Result<Vec<std::thread::JoinHandle<()>>, String> {
        let worker = Arc::new(self);
        let mut handles = Vec::new();
        for index in 0..worker.mail.connections {
            let transport = Transport::from_settings(&worker.mail, &worker.data_dir)?;
            let worker = Arc::clone(&worker);
            let stop = stop.clone();
            let handle = std::thread::Builder::new()
                .name(format!("mail-{index}"))
                .spawn(move || worker.run(index, &transport, &stop))
                .map_err(|e| e.to_string())?;
            handles.push(handle);
        }
        Ok(handles)
    }

    fn run(&self, index: u32, transport: &Transport, stop: &StopSignal) {
        crate::app::lower_thread_priority();
        let thread = format!("{}#{index}", self.name);
        while !stop.stopped() {
            let worked = self
                .pool
                .get()
                .map_err(DbError::from)
                .and_then(|mut conn| self.step(&mut conn, transport, &thread));
            match worked {
                Ok(0) => std::thread::sleep(IDLE_POLL),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "mail worker: database error; retrying");
                    std::thread::sleep(IDLE_POLL * 4);
                }
            }
        }
    }

    /// One round: start campaigns whose time came, then one claim from each source
    /// (transactional mail first). The number of rows handled.
    pub fn step(
        &self,
        conn: &mut DbConnection,
        transport: &Transport,
        thread: &str,
    ) -> Result<usize, DbError> {
        let now = Utc::now().naive_utc();
        self.start_scheduled(conn, now)?;
        self.queue_digest(conn, now)?;
        let mut sources = vec![Source::Transactional];
        sources.extend(
            store::campaigns_in(conn, CampaignState::Sending)?
                .into_iter()
                .map(|(id, _)| Source::Campaign(id)),
        );
        let lease_until = now + self.mail.lease(CLAIM_SIZE as u32);
        let mut handled = 0;
        for source in sources {
            let rows = store::claim(conn, source, thread, now, lease_until, CLAIM_SIZE)?;
            if rows.is_empty() {
                if let Source::Campaign(id) = source {
                    self.finish_if_done(conn, id)?;
                }
                continue;
            }
            handled += self.deliver(conn, transport, thread, source, rows, lease_until)?;
        }
        Ok(handled)
    }

    /// Queues the officers' daily digest when it is due (looked at every ten minutes;
    /// queued once a day whatever the processes).
    fn queue_digest(&self, conn: &mut DbConnection, now: NaiveDateTime) -> Result<(), DbError> {
        {
            let mut checked = self
                .digest_checked
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if checked.is_some_and(|t| t.elapsed() < StdDuration::from_secs(600)) {
                return Ok(());
            }
            *checked = Some(Instant::now());
        }
        match crate::services::mail::digest::queue_due(conn, now, self.mail.digest_hour) {
            Ok(n) if n > 0 => tracing::info!(queued = n, "officer digests queued"),
            Ok(_) => {}
            Err(crate::services::mail::MailError::Db(e)) => return Err(e),
            Err(e) => tracing::warn!(error = %e, "officer digest"),
        }
        Ok(())
    }

    fn start_scheduled(&self, conn: &mut DbConnection, now: NaiveDateTime) -> Result<(), DbError> {
        for (id, at) in store::campaigns_in(conn, CampaignState::Scheduled)? {
            let at = at.unwrap_or(now);
            match mail::schedule_decision(at, now, self.mail.schedule_grace) {
                ScheduleDecision::Wait => {}
                ScheduleDecision::Start => {
                    store::set_campaign_state(
                        conn,
                        id,
                        &[CampaignState::Scheduled],
                        CampaignState::Sending,
                        None,
                        now,
                    )?;
                }
                ScheduleDecision::AskOfficer => {
                    let reason = format!(
                        "予約時刻（{}）を過ぎても配信が始まらなかったため、担当者の確認を待っています",
                        wareki::datetime_jst(at)
                    );
                    store::set_campaign_state(
                        conn,
                        id,
                        &[CampaignState::Scheduled],
                        CampaignState::Overdue,
                        Some(&reason),
                        now,
                    )?;
                }
            }
        }
        Ok(())
    }

    fn finish_if_done(&self, conn: &mut DbConnection, id: i32) -> Result<(), DbError> {
        if !store::has_open_rows(conn, id)? {
            let now = Utc::now().naive_utc();
            store::set_campaign_state(
                conn,
                id,
                &[CampaignState::Sending],
                CampaignState::Finished,
                None,
                now,
            )?;
        }
        Ok(())
    }

    fn deliver(
        &self,
        conn: &mut DbConnection,
        transport: &Transport,
        thread: &str,
        source: Source,
        rows: Vec<ClaimedRow>,
        lease_until: NaiveDateTime,
    ) -> Result<usize, DbError> {
        let campaign = match source {
            Source::Campaign(id) => store::campaign(conn, id, store::Visible::All)?,
            Source::Transactional => None,
        };
        let run_key = campaign.as_ref().map_or(0, |c| c.id);
        let mut composer = Composer::new(&self.public_url);
        composer.prefetch(conn, &rows)?;
        let mut done: Vec<(i32, Recorded)> = Vec::new();
        let mut untried = rows.len();
        let mut paused_by: Option<String> = None;
        for (i, row) in rows.iter().enumerate() {
            // Never start a message the claim may not cover: another worker could take
            // the row back while it is on the wire.
            if Utc::now().naive_utc() + self.mail.timeout * 6 > lease_until {
                untried = i;
                break;
            }
            let fiscal_year = campaign
                .as_ref()
                .map(|c| c.fiscal_year)
                .or_else(|| context_year(&row.context));
            let prepared = composer.compose(conn, row, fiscal_year, campaign.is_some())?;
            let outcome = self.attempt(transport, row, prepared);
            let pause = outcome
                .attempt
                .as_ref()
                .is_some_and(|a| self.note_failure_run(run_key, a));
            if pause {
                paused_by = Some(outcome.answer.clone());
            }
            done.push((row.id, outcome));
            untried = rows.len() - i - 1;
            if pause {
                break;
            }
        }
        let now = Utc::now().naive_utc();
        let outcomes: Vec<(i32, Outcome)> = done
            .iter()
            .map(|(id, r)| {
                let outcome = Outcome {
                    state: r.state,
                    answer: &r.answer,
                    next_attempt_at: r.next,
                    subject: r.subject.as_deref(),
                };
                (*id, outcome)
            })
            .collect();
        let kept = store::record_many(conn, thread, &outcomes, now)?;
        if kept < outcomes.len() {
            tracing::warn!(
                lost = outcomes.len() - kept,
                "mail worker: rows were taken back before their outcome was recorded"
            );
        }
        let rest: Vec<i32> = rows[rows.len() - untried..].iter().map(|r| r.id).collect();
        if !rest.is_empty() {
            store::release(conn, &rest, thread, now)?;
        }
        if let Some(answer) = paused_by {
            self.pause(conn, campaign.as_ref().map(|c| c.id), &answer, now)?;
        }
        Ok(done.len())
    }

    /// Sends one composed message (or records why it is not sent).
    fn attempt(&self, transport: &Transport, row: &ClaimedRow, prepared: Prepared) -> Recorded {
        let (to, rendered) = match prepared {
            Prepared::Skip(reason) => return Recorded::final_state(RowState::Skipped, reason),
            Prepared::Fail(reason) => return Recorded::final_state(RowState::Failed, reason),
            Prepared::Send { to, rendered } => (to, rendered),
        };
        let message_id =
            mail::message_id(i64::from(row.id), row.created_at, &self.mail.from_domain());
        self.limiter.wait();
        let attempt = transport.send(&Outgoing {
            from: &self.mail.from,
            to: &to,
            subject: &rendered.subject,
            body: &rendered.body,
            message_id: &message_id,
        });
        let after = mail::after_attempt(
            &attempt,
            row.attempts,
            self.mail.max_attempts as i32,
            self.mail.retry_base,
            Utc::now().naive_utc(),
        );
        Recorded {
            state: after.state,
            answer: after.answer,
            next: after.next_attempt_at,
            subject: Some(rendered.subject),
            attempt: Some(attempt),
        }
    }

    /// After a run of transient failures: the campaign waits for an officer (transactional
    /// mail, which has no campaign, waits a little before the next try).
    fn pause(
        &self,
        conn: &mut DbConnection,
        campaign: Option<i32>,
        last_answer: &str,
        now: NaiveDateTime,
    ) -> Result<(), DbError> {
        let Some(id) = campaign else {
            std::thread::sleep(IDLE_POLL * 4);
            return Ok(());
        };
        let reason = format!(
            "一時的な送信失敗が{}回続いたため、自動で一時停止しました。メールサーバを確かめてから再開してください（最後の応答: {last_answer}）",
            self.mail.pause_after
        );
        store::set_campaign_state(
            conn,
            id,
            &[CampaignState::Sending],
            CampaignState::Paused,
            Some(&reason),
            now,
        )?;
        tracing::warn!(
            campaign = id,
            "mail campaign paused after transient failures"
        );
        Ok(())
    }

    /// Counts the run of transient failures; true when it reaches the pause threshold
    /// (and starts a new run).
    fn note_failure_run(&self, key: i32, attempt: &Attempt) -> bool {
        let mut runs = self.failure_runs.lock().unwrap_or_else(|p| p.into_inner());
        let run = runs.entry(key).or_insert(0);
        *run = mail::failure_run(*run, attempt);
        if *run >= self.mail.pause_after {
            *run = 0;
            true
        } else {
            false
        }
    }
}

struct Recorded {
    state: RowState,
    answer: String,
    next: Option<NaiveDateTime>,
    subject: Option<String>,
    attempt: Option<Attempt>,
}

impl Recorded {
    /// Not sent, for good (skipped or failed before any attempt).
    fn final_state(state: RowState, answer: String) -> Recorded {
        Recorded {
            state,
            answer,
            next: None,
            subject: None,
            attempt: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_spaces_messages_out() {
        let limiter = RateLimiter::new(50);
        let start = Instant::now();
        for _ in 0..11 {
            limiter.wait();
        }
        // Ten intervals of 20 ms after the first message.
        assert!(
            start.elapsed() >= StdDuration::from_millis(195),
            "{:?}",
            start.elapsed()
        );
        let unlimited = RateLimiter::new(0);
        let start = Instant::now();
        for _ in 0..1000 {
            unlimited.wait();
        }
        assert!(start.elapsed() < StdDuration::from_millis(100));
    }
}
