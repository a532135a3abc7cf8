//! Keeping a site's [`JobStore`] current: a concurrent full walk first, then delta walks.
//!
//! # Full walks (cold fill and resync)
//!
//! When the store is empty (start, reload of the site, another API version), after a failed
//! cycle, and every `jobs_resync_interval`, the jobs window is read whole:
//! - one request for the newest job gives the highest `jobId` and NetBackup's clock `T0` (the
//!   `Date` header); the window starts at `T0 - jobs_window`;
//! - two one-job requests give the lowest `jobId` of the finished jobs in the window
//!   (`state eq 'DONE' and endTime gt <T0 - window>`) and of the unfinished jobs
//!   (`state ne 'DONE'`);
//! - those id ranges are cut into disjoint `jobId` slices, walked by up to
//!   `max_concurrent_requests` cursor walks at once, each taking the next slice when it is done.
//!
//! The slices are disjoint and the two filters are disjoint at any instant, so no job is read
//! twice unless it changed state between two walks; then the most recently updated copy is kept.
//! A job that changes while the fill runs has `lastUpdateTime >= T0`, so the next delta reads it
//! again: nothing is lost. A full walk replaces the store: jobs it no longer finds (purged from
//! the NetBackup jobs database) leave it.
//!
//! # Delta walks
//!
//! Every other cycle asks only for `lastUpdateTime ge <high-water mark - overlap>` and upserts
//! what comes back. The high-water mark is NetBackup's clock when the previous walk began (the
//! `Date` of its first answer), never the agent's, so a skewed agent clock loses nothing; the
//! window's start moves with the same clock, and finished jobs that leave it leave the store.
//!
//! # NetBackup's clock
//!
//! The `Date` of an answer is used only when it agrees with the clock of the earlier answers
//! ([`ServerClock`]): one answer a year ahead would otherwise expire every stored job, one a
//! year behind would read a year of jobs. Without a `Date` header the high-water mark is the
//! newest `lastUpdateTime` read, bounded by the agent's clock: a job stamped in the future is
//! counted as an invalid value and never moves the mark.
//!
//! # Failures
//!
//! Every change to the store happens after the last page of a walk arrived, in one step: a walk
//! that fails or is cancelled half-way changes nothing, reports nothing, and the next cycle
//! (a full resync) starts again from the last committed state.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::server_clock::{ServerClock, Verdict, latest_plausible_update_ms};
use super::store::{ApplyStats, FinishedJob, JobBatch, JobStore};
use super::summary::{ClientPolicyKey, JobsSummary};
use crate::config::{ClientsConfig, CollectionConfig};
use crate::events::Events;
use crate::netbackup::{
    ApiError, ApiFailure, ApiVersion, JobIdSlice, NetBackupApi, WalkStats, filter, first_job_id,
    walk_job_slice, walk_jobs,
};

/// How far before the high-water mark a delta starts reading, for updates NetBackup stamps a
/// little before it commits them.
pub const DELTA_OVERLAP: Duration = Duration::from_secs(30);

/// A full walk cuts each id range into at most this many slices per concurrent walk, so that
/// walks finishing early take over the remaining work.
const SLICES_PER_WALK: u64 = 4;

/// How often a long full walk logs its progress.
const PROGRESS_LOG_EVERY: Duration = Duration::from_secs(5);

/// The settings of the jobs source of one site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobsSettings {
    /// Finished jobs that ended within this window are kept (plus every unfinished job).
    pub window: Duration,
    /// `page[limit]` of `/admin/jobs`.
    pub page_size: u32,
    /// Walks in flight at once during a full walk.
    pub concurrency: u32,
    /// How often the store is read whole again.
    pub resync_interval: Duration,
    /// How far NetBackup's clock may stray from one answer to the next.
    pub clock_tolerance: Duration,
}

impl From<&CollectionConfig> for JobsSettings {
    fn from(c: &CollectionConfig) -> Self {
        JobsSettings {
            window: c.jobs_window,
            page_size: c.jobs_page_size,
            concurrency: c.max_concurrent_requests,
            resync_interval: c.jobs_resync_interval,
            clock_tolerance: c.jobs_clock_tolerance,
        }
    }
}

/// What kind of walk a cycle made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkKind {
    /// The first full walk into an empty store.
    Fill,
    /// A full walk replacing a store (periodic, after a failure, a reload or a new version).
    Resync,
    /// Only the jobs changed since the high-water mark.
    Delta,
}

impl WalkKind {
    /// `fill`, `resync` or `delta`.
    pub fn as_str(self) -> &'static str {
        match self {
            WalkKind::Fill => "fill",
            WalkKind::Resync => "resync",
            WalkKind::Delta => "delta",
        }
    }
}

/// What one successful cycle did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CycleReport {
    /// The kind of walk.
    pub kind: WalkKind,
    /// Pages, jobs and requests read.
    pub walk: WalkStats,
    /// What changed in the store.
    pub applied: ApplyStats,
    /// Finished jobs that left the window.
    pub expired: u64,
    /// NetBackup's clock when the walk began: the new high-water mark.
    pub server_time: DateTime<Utc>,
    /// Jobs in the store after the cycle.
    pub stored: usize,
}

/// Progress of a full walk, as seen by a progress display.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FillProgress {
    /// Jobs read so far.
    pub jobs: u64,
    /// Pages read so far.
    pub pages: u64,
    /// Fraction of the `jobId` ranges covered, 0 to 1.
    pub fraction: f64,
    /// Time since the walk began.
    pub elapsed: Duration,
}

impl FillProgress {
    /// The time left at the rate so far, once there is a rate to go by.
    pub fn remaining(&self) -> Option<Duration> {
        // A fraction near zero (a server reporting job ids far apart) gives a time beyond
        // `Duration`: no estimate rather than a panic.
        (self.fraction > 0.0 && self.fraction <= 1.0)
            .then(|| (1.0 - self.fraction) / self.fraction * self.elapsed.as_secs_f64())
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
    }
}

/// Receives the progress of full walks (for example a terminal progress bar).
pub type ProgressSink = std::sync::Arc<dyn Fn(&FillProgress) + Send + Sync>;

/// A site's job store and what it needs to stay current.
#[derive(Default)]
pub struct JobSync {
    store: JobStore,
    /// NetBackup's clock up to which every change is in the store.
    high_water: Option<DateTime<Utc>>,
    /// NetBackup's clock as far as it agrees with itself.
    clock: ServerClock,
    version: Option<ApiVersion>,
    last_full: Option<Instant>,
    full_due: bool,
    /// What the last committed cycle read.
    last_walk: WalkStats,
    last_unkeyed: u64,
    /// Jobs of the last cycle whose `lastUpdateTime` lies in the future.
    last_future_updates: u64,
    warned_no_date: AtomicBool,
    progress: Option<ProgressSink>,
    /// The newest success of each allowlisted client, policy and action seen since the agent
    /// started: it outlives the job's stay in the window, as in the Go exporter.
    client_successes: BTreeMap<ClientPolicyKey, f64>,
}

impl std::fmt::Debug for JobSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSync")
            .field("stored", &self.store.len())
            .field("high_water", &self.high_water)
            .field("version", &self.version)
            .field("full_due", &self.full_due)
            .finish_non_exhaustive()
    }
}

impl JobSync {
    /// An empty store: the first cycle fills it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends the progress of full walks to `sink`.
    pub fn with_progress(mut self, sink: ProgressSink) -> Self {
        self.progress = Some(sink);
        self
    }

    /// Makes the next cycle a full walk (the store and its reported flags are kept until it
    /// succeeds).
    pub fn force_full(&mut self) {
        self.full_due = true;
    }

    /// NetBackup's clock up to which every change is in the store.
    pub fn high_water(&self) -> Option<DateTime<Utc>> {
        self.high_water
    }

    /// The legacy aggregates of the store, with the pages and skipped values of the last cycle,
    /// and every client success seen since the agent started (remembered here).
    pub fn summary(&mut self) -> JobsSummary {
        let mut summary = self.store.summary();
        summary.pages = self.last_walk.pages;
        summary.invalid_values +=
            self.last_walk.invalid_items + self.last_unkeyed + self.last_future_updates;
        // The window's successes join those remembered, and the summary reports them all.
        for (key, at) in &summary.client_last_success {
            let last = self.client_successes.entry(key.clone()).or_insert(*at);
            *last = last.max(*at);
        }
        summary
            .client_last_success
            .clone_from(&self.client_successes);
        summary
    }

    /// Sets which finished jobs get their details kept for job events (`None`: none).
    pub fn set_event_filter(&mut self, filter: Option<super::job_details::EventFilter>) {
        self.store.set_event_filter(filter);
    }

    /// Sets the clients of the per-client families (`None`: the clients source is off). A
    /// change reads the window whole again, so that every stored job is labelled under the
    /// new allowlist, and forgets the successes remembered under the old one.
    pub fn set_clients(&mut self, clients: Option<Arc<ClientsConfig>>) {
        if self.store.set_clients(clients) {
            self.force_full();
            self.client_successes.clear();
        }
    }

    /// Whether the next cycle reads the window whole (with the API version used so far).
    pub fn needs_full_walk(&self, settings: &JobsSettings) -> bool {
        self.high_water.is_none()
            || self.full_due
            || self
                .last_full
                .is_none_or(|t| t.elapsed() >= settings.resync_interval)
    }

    /// The kind of walk the next cycle makes with `version`.
    fn next_kind(&self, version: ApiVersion, settings: &JobsSettings) -> WalkKind {
        if self.high_water.is_none() {
            WalkKind::Fill
        } else if self.version != Some(version) || self.needs_full_walk(settings) {
            WalkKind::Resync
        } else {
            WalkKind::Delta
        }
    }

    /// One cycle: a full walk or a delta, then the store is updated in one step. Finished jobs
    /// new to the store are passed to `on_finished`, each once. On error nothing changes but
    /// that the next cycle is a full walk.
    pub async fn cycle<A: NetBackupApi>(
        &mut self,
        api: &A,
        version: ApiVersion,
        settings: &JobsSettings,
        on_finished: impl FnMut(&FinishedJob<'_>),
    ) -> Result<CycleReport, ApiError> {
        let kind = self.next_kind(version, settings);
        let began = Instant::now();
        let walked = match kind {
            WalkKind::Delta => self.delta_walk(api, version, settings).await,
            WalkKind::Fill | WalkKind::Resync => {
                self.full_walk(api, version, settings, began).await
            }
        };
        let checked = walked.and_then(|(batch, walk)| {
            let verdict = walk
                .server_time
                .map(|said| self.judge_clock(api.site(), said, began, settings));
            verdict.transpose().map(|_| (batch, walk))
        });
        let (batch, walk) = match checked {
            Ok(done) => done,
            Err(e) => {
                if let ApiFailure::ClockJump { said, .. } = e.failure {
                    self.clock.reject(said, began, settings.clock_tolerance);
                }
                self.full_due = true;
                return Err(e);
            }
        };
        if let Some(said) = walk.server_time {
            self.clock.trust(said, began);
        }
        Ok(self.commit(kind, version, settings, batch, walk, on_finished))
    }

    /// Whether the clock `said` by an answer of `site`, read at `now`, may be used: a jump is
    /// a [`ApiFailure::ClockJump`]; a new clock confirmed by answers in a row is logged and
    /// followed.
    fn judge_clock(
        &self,
        site: &str,
        said: DateTime<Utc>,
        now: Instant,
        settings: &JobsSettings,
    ) -> Result<(), ApiError> {
        match self.clock.judge(said, now, settings.clock_tolerance) {
            Verdict::Trusted => Ok(()),
            Verdict::Changed { expected } => {
                Events::uncounted().server_clock_changed(site, expected, said);
                Ok(())
            }
            Verdict::Jump { expected } => Err(ApiError::of_site(
                site,
                ApiFailure::ClockJump {
                    said,
                    expected,
                    tolerance: settings.clock_tolerance,
                },
            )),
        }
    }

    fn commit(
        &mut self,
        kind: WalkKind,
        version: ApiVersion,
        settings: &JobsSettings,
        batch: JobBatch,
        walk: WalkStats,
        on_finished: impl FnMut(&FinishedJob<'_>),
    ) -> CycleReport {
        // NetBackup's clock: its `Date` header. Without one, the window follows the agent's
        // clock and the mark is the newest plausible `lastUpdateTime` read (or stays where it
        // was), never beyond that clock.
        let clock = walk.server_time.unwrap_or_else(|| self.agent_clock());
        let (newest, future) = batch.newest_update_until(latest_plausible_update_ms(clock));
        self.last_future_updates = future;
        let (server_time, high_water) = match walk.server_time {
            Some(t) => (t, t),
            None => {
                let newest = newest.and_then(DateTime::from_timestamp_millis);
                let mark = newest.max(self.high_water).map_or(clock, |m| m.min(clock));
                (clock, mark)
            }
        };
        let start_ms = window_start(server_time, settings.window).timestamp_millis();
        self.last_unkeyed = batch.unkeyed;
        let (applied, expired) = match kind {
            WalkKind::Delta => {
                let applied = self.store.apply(batch, start_ms, on_finished);
                (applied, self.store.expire(start_ms))
            }
            WalkKind::Fill | WalkKind::Resync => {
                self.last_full = Some(Instant::now());
                self.full_due = false;
                (self.store.replace(batch, start_ms, on_finished), 0)
            }
        };
        self.version = Some(version);
        self.high_water = Some(high_water);
        self.last_walk = walk;
        CycleReport {
            kind,
            walk,
            applied,
            expired,
            server_time,
            stored: self.store.len(),
        }
    }

    /// The agent's clock, for a server that sends no `Date` header (logged once).
    fn agent_clock(&self) -> DateTime<Utc> {
        if !self.warned_no_date.swap(true, Ordering::Relaxed) {
            Events::uncounted().server_clock_missing();
        }
        Utc::now()
    }

    async fn delta_walk<A: NetBackupApi>(
        &self,
        api: &A,
        version: ApiVersion,
        settings: &JobsSettings,
    ) -> Result<(JobBatch, WalkStats), ApiError> {
        let high_water = self.high_water.unwrap_or(DateTime::<Utc>::MIN_UTC);
        let overlap = chrono::Duration::from_std(DELTA_OVERLAP).unwrap_or_default();
        let since = high_water
            .checked_sub_signed(overlap)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let query = filter::updated_since(since);
        let mut batch = JobBatch::for_store(&self.store);
        let walk = walk_jobs(api, version, Some(&query), settings.page_size, |job| {
            batch.add(job)
        })
        .await?;
        Ok((batch, walk))
    }

    async fn full_walk<A: NetBackupApi>(
        &self,
        api: &A,
        version: ApiVersion,
        settings: &JobsSettings,
        began: Instant,
    ) -> Result<(JobBatch, WalkStats), ApiError> {
        let mut stats = WalkStats::default();
        let (newest, now) = first_job_id(api, version, None, true).await?;
        // The window is cut by this clock: judged before it is used.
        if let Some(said) = now {
            self.judge_clock(api.site(), said, began, settings)?;
        }
        stats.pages += 1;
        stats.requests += 1;
        stats.server_time = now;
        let batch = JobBatch::for_store(&self.store);
        let Some(newest) = newest else {
            return Ok((batch, stats));
        };
        let now = now.unwrap_or_else(|| self.agent_clock());
        let finished = filter::finished_jobs_since(window_start(now, settings.window));
        let unfinished = filter::unfinished_jobs();
        let ((oldest_finished, _), (oldest_unfinished, _)) = tokio::try_join!(
            first_job_id(api, version, Some(&finished), false),
            first_job_id(api, version, Some(&unfinished), false),
        )?;
        stats.pages += 2;
        stats.requests += 2;
        let walks = u64::from(settings.concurrency.max(1));
        let min_width = u64::from(settings.page_size.max(1)) * 4;
        let mut slices = VecDeque::new();
        for (base, oldest, parts) in [
            (&finished, oldest_finished, walks * SLICES_PER_WALK),
            (&unfinished, oldest_unfinished, walks),
        ] {
            if let Some(oldest) = oldest {
                for (lo, hi) in split(oldest, newest.max(oldest), parts, min_width) {
                    slices.push_back(Slice {
                        filter: filter::job_ids_within(base, lo, hi),
                        ids: JobIdSlice { lo, hi },
                    });
                }
            }
        }
        let total_ids = slices
            .iter()
            .fold(0u64, |n, s| n.saturating_add(s.ids.capacity()));
        let shared = FullWalk {
            slices: Mutex::new(slices),
            batch: Mutex::new(batch),
            progress: Progress::new(total_ids),
            sink: self.progress.clone(),
            site: api.site(),
        };
        let workers = (0..walks).map(|_| shared.worker(api, version, settings.page_size));
        let walked = futures_util::future::try_join_all(workers).await?;
        for w in &walked {
            stats.merge(w);
        }
        let batch = shared.batch.into_inner().unwrap_or_else(|p| p.into_inner());
        Ok((batch, stats))
    }
}

/// The start of the jobs window ending at `now`.
fn window_start(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    now.checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `[lo, hi]` cut into at most `parts` slices at least `min_width` ids wide.
fn split(lo: u64, hi: u64, parts: u64, min_width: u64) -> Vec<(u64, u64)> {
    let span = hi.saturating_sub(lo).saturating_add(1);
    let parts = parts.min(span.div_ceil(min_width.max(1))).max(1);
    let width = span.div_ceil(parts);
    (0..parts)
        .map_while(|i| {
            let start = lo.checked_add(i.checked_mul(width)?)?;
            (start <= hi).then(|| (start, start.saturating_add(width - 1).min(hi)))
        })
        .collect()
}

/// One `jobId` slice of a full walk.
struct Slice {
    filter: String,
    /// The ids the filter keeps to: a walk that does not go through them fails.
    ids: JobIdSlice,
}

/// What the walks of one full walk share.
struct FullWalk<'a> {
    slices: Mutex<VecDeque<Slice>>,
    batch: Mutex<JobBatch>,
    progress: Progress,
    sink: Option<ProgressSink>,
    site: &'a str,
}

impl FullWalk<'_> {
    /// One walk: takes slices until none is left.
    async fn worker<A: NetBackupApi>(
        &self,
        api: &A,
        version: ApiVersion,
        page_size: u32,
    ) -> Result<WalkStats, ApiError> {
        let mut stats = WalkStats::default();
        loop {
            let next = self
                .slices
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front();
            let Some(slice) = next else {
                return Ok(stats);
            };
            // Progress is counted a full page at a time, the rest when the slice is done.
            let page = u64::from(page_size.max(1));
            let (mut read, mut full_pages) = (0u64, 0u64);
            let walked = walk_job_slice(api, version, &slice.filter, slice.ids, page_size, |job| {
                self.batch
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .add(job);
                read += 1;
                if read.is_multiple_of(page) {
                    full_pages += 1;
                    self.progress.jobs.fetch_add(page, Ordering::Relaxed);
                    self.progress.pages.fetch_add(1, Ordering::Relaxed);
                    self.report();
                }
            })
            .await?;
            self.progress.jobs.fetch_add(read % page, Ordering::Relaxed);
            self.progress
                .pages
                .fetch_add(walked.pages.saturating_sub(full_pages), Ordering::Relaxed);
            self.progress
                .ids
                .fetch_add(slice.ids.capacity(), Ordering::Relaxed);
            self.report();
            stats.merge(&walked);
        }
    }

    fn report(&self) {
        let now = self.progress.view();
        if let Some(sink) = &self.sink {
            sink(&now);
        }
        let mut last = self
            .progress
            .last_log
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if last.elapsed() >= PROGRESS_LOG_EVERY {
            *last = Instant::now();
            tracing::info!(
                site = self.site,
                jobs = now.jobs,
                pages = now.pages,
                percent = (now.fraction * 100.0).round(),
                remaining_s = now.remaining().map(|d| d.as_secs()),
                "reading the jobs window"
            );
        }
    }
}

/// Counters of a full walk in progress.
struct Progress {
    started: Instant,
    last_log: Mutex<Instant>,
    jobs: AtomicU64,
    pages: AtomicU64,
    /// Ids of finished slices.
    ids: AtomicU64,
    total_ids: u64,
}

impl Progress {
    fn new(total_ids: u64) -> Self {
        let now = Instant::now();
        Progress {
            started: now,
            last_log: Mutex::new(now),
            jobs: AtomicU64::new(0),
            pages: AtomicU64::new(0),
            ids: AtomicU64::new(0),
            total_ids,
        }
    }

    fn view(&self) -> FillProgress {
        let ids = self.ids.load(Ordering::Relaxed);
        FillProgress {
            jobs: self.jobs.load(Ordering::Relaxed),
            pages: self.pages.load(Ordering::Relaxed),
            fraction: if self.total_ids == 0 {
                1.0
            } else {
                (ids as f64 / self.total_ids as f64).min(1.0)
            },
            elapsed: self.started.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::server_clock::CONFIRMATIONS;
    use crate::netbackup::{ApiFailure, Body, DecodeKind, JobsPageQuery};

    #[test]
    fn the_time_left_follows_the_rate_so_far() {
        let at = |fraction: f64| FillProgress {
            jobs: 0,
            pages: 0,
            fraction,
            elapsed: Duration::from_secs(10),
        };
        // A quarter in 10 s: three quarters left, 30 s.
        assert_eq!(at(0.25).remaining(), Some(Duration::from_secs(30)));
        assert_eq!(at(1.0).remaining(), Some(Duration::ZERO));
        // Nothing covered yet: no rate to go by.
        assert_eq!(at(0.0).remaining(), None);
        // Job ids far apart (one near u64::MAX): a time beyond `Duration` is no estimate.
        assert_eq!(at(1e-30).remaining(), None);
    }

    /// A recorded NetBackup: a few jobs at a fixed instant, answering the four kinds of query
    /// the job store sends, and logging them.
    struct Recorded {
        /// (jobId, state, endTime, lastUpdateTime), sorted by jobId.
        jobs: Vec<(u64, &'static str, Option<&'static str>, &'static str)>,
        /// The `Date` header, if any.
        date: Option<DateTime<Utc>>,
        /// Fail the n-th request (1-based), if any.
        fail_at: Option<usize>,
        /// Answer every page of a walk with its first page again, under a cursor never sent
        /// before (a broken or hostile server).
        fresh_cursors: bool,
        /// The filter of every request.
        log: Mutex<Vec<Option<String>>>,
    }

    fn at(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The value after `field op ` in an OData filter.
    fn operand<'f>(filter: &'f str, prefix: &str) -> Option<&'f str> {
        filter
            .split(prefix)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
    }

    impl Recorded {
        fn matches(&self, filter: Option<&str>, job: &(u64, &str, Option<&str>, &str)) -> bool {
            let Some(f) = filter else { return true };
            let (id, state, end, updated) = *job;
            let id_ok = match (operand(f, "jobId ge "), operand(f, "jobId le ")) {
                (Some(lo), Some(hi)) => {
                    lo.parse::<u64>().is_ok_and(|lo| id >= lo)
                        && hi.parse::<u64>().is_ok_and(|hi| id <= hi)
                }
                _ => true,
            };
            let rest = if f.starts_with("state eq 'DONE'") {
                state == "DONE"
                    && operand(f, "endTime gt ").is_some_and(|c| end.is_some_and(|e| at(e) > at(c)))
            } else if f.starts_with("state ne 'DONE'") {
                state != "DONE"
            } else if let Some(since) = operand(f, "lastUpdateTime ge ") {
                at(updated) >= at(since)
            } else {
                panic!("unexpected filter {f}")
            };
            id_ok && rest
        }
    }

    impl NetBackupApi for Recorded {
        fn site(&self) -> &str {
            "recorded"
        }

        async fn negotiate(&self, _: Option<ApiVersion>) -> Result<ApiVersion, ApiError> {
            Ok(ApiVersion::V14_0)
        }

        async fn jobs_page(
            &self,
            _: ApiVersion,
            query: &JobsPageQuery<'_>,
        ) -> Result<Body, ApiError> {
            let n = {
                let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
                log.push(query.filter.map(str::to_owned));
                log.len()
            };
            if self.fail_at == Some(n) {
                return Err(ApiError::at(
                    "recorded",
                    "/admin/jobs",
                    ApiFailure::Timeout {
                        timeout: Duration::from_secs(1),
                        attempts: 1,
                    },
                ));
            }
            // A fresh cursor (`<jobId>#<request>`) does not parse: the first page again.
            let after: u64 = query.after.and_then(|a| a.parse().ok()).unwrap_or(0);
            let mut selected: Vec<_> = self
                .jobs
                .iter()
                .filter(|j| self.matches(query.filter, j))
                .collect();
            if query.newest_first {
                selected.reverse();
            } else {
                selected.retain(|j| j.0 > after);
            }
            let more = selected.len() > query.limit as usize || self.fresh_cursors;
            selected.truncate(query.limit as usize);
            let data: Vec<String> = selected
                .iter()
                .map(|(id, state, end, updated)| {
                    let end = end.map_or(String::new(), |e| format!(r#","endTime":"{e}""#));
                    format!(
                        r#"{{"attributes":{{"jobId":{id},"jobType":"BACKUP","state":"{state}","status":0,"startTime":"2026-11-27T06:00:00Z","lastUpdateTime":"{updated}"{end}}}}}"#
                    )
                })
                .collect();
            let next = match (more, selected.last()) {
                (true, Some(last)) if self.fresh_cursors => {
                    format!(r#","meta":{{"pagination":{{"next":"{}#{n}"}}}}"#, last.0)
                }
                (true, Some(last)) => {
                    format!(r#","meta":{{"pagination":{{"next":"{}"}}}}"#, last.0)
                }
                _ => String::new(),
            };
            Ok(Body {
                bytes: format!(r#"{{"data":[{}]{next}}}"#, data.join(",")).into_bytes(),
                attempts: 1,
                server_time: self.date,
            })
        }

        async fn storage_page(&self, _: ApiVersion, _: u64, _: u32) -> Result<Body, ApiError> {
            panic!("the job store reads no storage")
        }

        async fn list_page(
            &self,
            _: ApiVersion,
            _: &'static str,
            _: &[(&'static str, String)],
        ) -> Result<Body, ApiError> {
            panic!("the job store reads no other list")
        }

        fn decode_error(
            &self,
            endpoint: &str,
            kind: DecodeKind,
            detail: String,
            _: &[u8],
        ) -> ApiError {
            ApiError::at(
                "recorded",
                endpoint,
                ApiFailure::Decode {
                    kind,
                    detail,
                    snippet: String::new(),
                },
            )
        }
    }

    fn recorded(date: Option<&str>) -> Recorded {
        Recorded {
            jobs: vec![
                (
                    3,
                    "DONE",
                    Some("2026-11-27T05:00:00Z"),
                    "2026-11-27T05:00:00Z",
                ),
                (5, "INCOMPLETE", None, "2026-11-26T10:00:00Z"),
                (
                    8,
                    "DONE",
                    Some("2026-11-27T07:30:00Z"),
                    "2026-11-27T07:30:00Z",
                ),
                (9, "ACTIVE", None, "2026-11-27T07:59:00Z"),
                (
                    12,
                    "DONE",
                    Some("2026-11-27T07:58:00Z"),
                    "2026-11-27T07:58:30Z",
                ),
            ],
            date: date.map(at),
            fail_at: None,
            fresh_cursors: false,
            log: Mutex::new(Vec::new()),
        }
    }

    fn settings() -> JobsSettings {
        JobsSettings {
            window: Duration::from_secs(3600),
            page_size: 2,
            concurrency: 3,
            resync_interval: Duration::from_secs(3600),
            clock_tolerance: Duration::from_secs(600),
        }
    }

    fn filters(api: &Recorded) -> Vec<Option<String>> {
        api.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    #[tokio::test]
    async fn a_fill_reads_the_window_by_netbackups_clock_then_deltas_read_changes() {
        let api = recorded(Some("2026-11-27T08:00:00Z"));
        let mut sync = JobSync::new();
        let mut finished = Vec::new();
        let report = sync
            .cycle(&api, ApiVersion::V14_0, &settings(), |f| {
                finished.push(f.job_id)
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.kind, WalkKind::Fill);
        assert_eq!(report.server_time, at("2026-11-27T08:00:00Z"));
        // Job 3 ended before 07:00, the window's start by NetBackup's clock.
        assert_eq!(finished, vec![8, 12]);
        assert_eq!(sync.summary().jobs, 4);
        let sent = filters(&api);
        assert_eq!(
            sent.first(),
            Some(&None),
            "the newest job first, unfiltered"
        );
        assert!(
            sent.contains(&Some(
                "state eq 'DONE' and endTime gt 2026-11-27T07:00:00.000Z".to_owned()
            )),
            "{sent:?}"
        );
        assert!(
            sent.iter()
                .flatten()
                .any(|f| f.starts_with("state ne 'DONE' and jobId ge 5 and jobId le ")),
            "{sent:?}"
        );
        // The next cycle reads what changed since the fill began, with 30 s of overlap.
        api.log.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let report = sync
            .cycle(&api, ApiVersion::V14_0, &settings(), |f| {
                finished.push(f.job_id)
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.kind, WalkKind::Delta);
        assert_eq!(
            filters(&api).first(),
            Some(&Some(
                "lastUpdateTime ge 2026-11-27T07:59:30.000Z".to_owned()
            ))
        );
        assert_eq!(finished, vec![8, 12], "nothing reported twice");
        // Another API version: the window is read whole again.
        let report = sync
            .cycle(&api, ApiVersion::V13_0, &settings(), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.kind, WalkKind::Resync);
    }

    #[tokio::test]
    async fn a_walk_failing_half_way_changes_nothing() {
        let mut api = recorded(Some("2026-11-27T08:00:00Z"));
        let mut sync = JobSync::new();
        sync.cycle(&api, ApiVersion::V14_0, &settings(), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let before = sync.summary();
        let mark = sync.high_water();
        // A delta whose second page fails.
        api.jobs.push((
            13,
            "DONE",
            Some("2026-11-27T08:00:10Z"),
            "2026-11-27T08:00:10Z",
        ));
        api.jobs.push((14, "QUEUED", None, "2026-11-27T08:00:20Z"));
        api.jobs.push((15, "ACTIVE", None, "2026-11-27T08:00:40Z"));
        api.date = Some(at("2026-11-27T08:01:00Z"));
        api.log.lock().unwrap_or_else(|p| p.into_inner()).clear();
        api.fail_at = Some(2);
        let mut reported = Vec::new();
        let failed = sync
            .cycle(&api, ApiVersion::V14_0, &settings(), |f| {
                reported.push(f.job_id)
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(sync.summary(), before);
        assert_eq!(sync.high_water(), mark);
        assert!(reported.is_empty());
        // The next cycle reads the window whole and reports job 13 once.
        api.fail_at = None;
        let report = sync
            .cycle(&api, ApiVersion::V14_0, &settings(), |f| {
                reported.push(f.job_id)
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.kind, WalkKind::Resync);
        assert_eq!(reported, vec![13]);
        assert_eq!(sync.summary().jobs, 7);
    }

    /// One answer whose `Date` is a year ahead would expire every stored job; it is not used:
    /// the cycle fails as a `clock_jump` and the store and its mark stay. The next answers on
    /// the true clock go on as before.
    #[tokio::test]
    async fn an_answer_whose_clock_jumped_changes_nothing() {
        let mut api = recorded(Some("2026-11-27T08:00:00Z"));
        let mut sync = JobSync::new();
        sync.cycle(&api, ApiVersion::V14_0, &settings(), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for jumped in ["2027-11-27T08:00:00Z", "2016-11-27T08:00:00Z"] {
            let before = sync.summary();
            let mark = sync.high_water();
            assert_eq!(before.jobs, 4);
            api.date = Some(at(jumped));
            // A delta, then (after the failed delta) a resync: both refuse the answer.
            for kind in ["delta", "resync"] {
                let failed = sync
                    .cycle(&api, ApiVersion::V14_0, &settings(), |_| {})
                    .await;
                let Err(e) = failed else {
                    panic!("{kind} with the Date {jumped} must fail")
                };
                assert_eq!(e.kind(), "clock_jump", "{kind}: {e}");
                assert!(e.to_string().contains(jumped), "{e}");
                assert!(e.to_string().contains("lead to 2026-11-27T08:00:"), "{e}");
                assert_eq!(sync.summary(), before, "{kind} with the Date {jumped}");
                assert_eq!(sync.high_water(), mark);
            }
            // The true clock again: the resync goes through and finds the same jobs.
            api.date = Some(at("2026-11-27T08:00:20Z"));
            let report = sync
                .cycle(&api, ApiVersion::V14_0, &settings(), |_| {})
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(report.kind, WalkKind::Resync);
            assert_eq!(sync.summary().jobs, 4);
        }
    }

    /// An operator moves the server's clock a day ahead for good: after three answers in a
    /// row agree on it, it is followed (and the jobs of the old day leave the window).
    #[tokio::test]
    async fn a_new_clock_confirmed_by_three_answers_is_followed() {
        let mut api = recorded(Some("2026-11-27T08:00:00Z"));
        let mut sync = JobSync::new();
        sync.cycle(&api, ApiVersion::V14_0, &settings(), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        api.date = Some(at("2026-11-28T08:00:00Z"));
        let mut outcomes = Vec::new();
        for _ in 0..CONFIRMATIONS {
            let outcome = sync
                .cycle(&api, ApiVersion::V14_0, &settings(), |_| {})
                .await;
            outcomes.push(outcome.map_err(|e| e.kind()).map(|r| r.kind));
        }
        assert_eq!(
            outcomes,
            vec![Err("clock_jump"), Err("clock_jump"), Ok(WalkKind::Resync)]
        );
        assert_eq!(sync.high_water(), Some(at("2026-11-28T08:00:00Z")));
        assert_eq!(
            sync.summary().jobs,
            2,
            "only the unfinished jobs are in the new window"
        );
    }

    /// No `Date` header and one job stamped ten years ahead: the job is counted as an
    /// invalid value, never moves the mark, and the deltas keep asking for recent changes.
    #[tokio::test]
    async fn a_job_updated_in_the_future_never_moves_the_mark() {
        let mut api = recorded(None);
        api.jobs.push((20, "ACTIVE", None, "2036-11-27T08:00:00Z"));
        let mut sync = JobSync::new();
        for kind in [WalkKind::Fill, WalkKind::Delta] {
            let report = sync
                .cycle(&api, ApiVersion::V14_0, &settings(), |_| {})
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(report.kind, kind);
            assert_eq!(sync.high_water(), Some(at("2026-11-27T07:59:00Z")));
            let summary = sync.summary();
            assert_eq!(summary.invalid_values, 1, "{kind:?}");
            // The unfinished jobs 5, 9 and 20 (the window follows the agent's clock).
            assert_eq!(summary.jobs, 3, "the job itself is kept");
        }
        // A full resync neither: the mark is bounded by the clock in use.
        sync.force_full();
        sync.cycle(&api, ApiVersion::V14_0, &settings(), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sync.high_water(), Some(at("2026-11-27T07:59:00Z")));
        api.log.lock().unwrap_or_else(|p| p.into_inner()).clear();
        sync.cycle(&api, ApiVersion::V14_0, &settings(), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            filters(&api).first(),
            Some(&Some(
                "lastUpdateTime ge 2026-11-27T07:58:30.000Z".to_owned()
            ))
        );
    }

    /// With a `Date` header, a job stamped ahead of it is counted as an invalid value too.
    #[tokio::test]
    async fn with_a_date_a_job_updated_after_it_is_an_invalid_value() {
        let mut api = recorded(Some("2026-11-27T08:00:00Z"));
        api.jobs.push((20, "ACTIVE", None, "2036-11-27T08:00:00Z"));
        let mut sync = JobSync::new();
        sync.cycle(&api, ApiVersion::V14_0, &settings(), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sync.summary().invalid_values, 1);
        assert_eq!(sync.high_water(), Some(at("2026-11-27T08:00:00Z")));
    }

    #[tokio::test]
    async fn without_a_date_header_the_mark_is_the_newest_update_read() {
        let api = recorded(None);
        let mut sync = JobSync::new();
        let report = sync
            .cycle(&api, ApiVersion::V14_0, &settings(), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // The window follows the agent's clock; the mark is the newest update the fill read.
        assert!(report.server_time > at("2026-11-27T08:00:00Z"));
        assert_eq!(sync.high_water(), Some(at("2026-11-27T07:59:00Z")));
        api.log.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let delta = sync
            .cycle(&api, ApiVersion::V14_0, &settings(), |_| {})
            .await;
        assert_eq!(delta.map(|d| d.kind).ok(), Some(WalkKind::Delta));
        assert_eq!(
            filters(&api).first(),
            Some(&Some(
                "lastUpdateTime ge 2026-11-27T07:58:30.000Z".to_owned()
            ))
        );
    }

    #[tokio::test]
    async fn a_server_repeating_a_slices_jobs_under_fresh_cursors_stops_the_walk() {
        let mut api = recorded(Some("2026-11-27T08:00:00Z"));
        api.fresh_cursors = true;
        let mut sync = JobSync::new();
        let mut reported = Vec::new();
        let failed = sync
            .cycle(&api, ApiVersion::V14_0, &settings(), |f| {
                reported.push(f.job_id)
            })
            .await;
        let Err(e) = failed else {
            panic!("a walk that never advances succeeded")
        };
        assert!(matches!(&e.failure, ApiFailure::Pagination { .. }), "{e}");
        assert_eq!(e.kind(), "pagination", "counted as a pagination error");
        assert!(e.to_string().contains("jobId slice"), "{e}");
        // Stopped at the first page that goes no further, not after thousands of pages.
        let sent = filters(&api).len();
        assert!(sent < 20, "{sent} requests to a site holding 5 jobs");
        assert!(reported.is_empty(), "a failed walk reports nothing");
        assert_eq!(sync.summary().jobs, 0);
    }

    #[test]
    fn split_covers_the_range_disjointly() {
        for (lo, hi, parts, width) in [
            (1, 100_000, 32, 400),
            (5, 5, 8, 400),
            (1, 1000, 32, 400),
            (7, 7_777, 3, 1),
            (u64::MAX - 10, u64::MAX, 4, 1),
            // Job ids from a server: the whole range, whose width does not fit in a u64.
            (0, u64::MAX, 8, 400),
        ] {
            let slices = split(lo, hi, parts, width);
            assert!(!slices.is_empty() && slices.len() as u64 <= parts);
            assert_eq!(slices.first().map(|s| s.0), Some(lo));
            assert_eq!(slices.last().map(|s| s.1), Some(hi));
            for pair in slices.windows(2) {
                assert_eq!(pair[0].1 + 1, pair[1].0, "{slices:?}");
            }
        }
        assert_eq!(
            split(1, 1000, 32, 400).len(),
            3,
            "no slice narrower than needed"
        );
    }
}
