//! One site's collection loop: negotiate, bring the job store up to date, fetch storage when
//! its TTL passed, publish a snapshot, sleep until the next cycle.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::collect::sources::{self, SourceContext, SourceValues};
use crate::collect::summary::StorageSummary;
use crate::collect::{
    CycleReport, JobSync, JobsSettings, SiteCollector, SiteSnapshot, SourceData, SourceOutcome,
    WalkKind,
};
use crate::config::{SiteConfig, SourceConfig, SourceId};
use crate::events::{Events, FailureStreak};
use crate::netbackup::{ApiError, ApiFailure, ApiVersion};
use crate::telemetry::instruments::{JobRecorder, SnapshotStore};

use super::job_events::JobEvents;

/// What a site task hands to its successor when a reload restarts it.
#[derive(Debug, Default)]
pub(super) struct Carry {
    /// The last published snapshot.
    pub snapshot: Option<SiteSnapshot>,
    /// The job store, with the record of which finished jobs were reported.
    pub jobs: Option<JobSync>,
}

/// One site's collection loop.
#[derive(Clone)]
pub(super) struct SiteTask {
    pub site: SiteConfig,
    pub store: SnapshotStore,
    pub recorder: JobRecorder,
    pub events: Events,
    /// The agent's job events, when on.
    pub job_events: Option<Arc<JobEvents>>,
    pub stop: watch::Receiver<bool>,
}

/// What a site task keeps between cycles.
struct SiteState {
    collector: Arc<SiteCollector>,
    version: Option<ApiVersion>,
    snapshot: SiteSnapshot,
    /// The job store, kept current cycle after cycle.
    jobs: JobSync,
    storage_fetched: Option<Instant>,
    /// When each enabled opt-in source is due next (absent: due now).
    sources_due: std::collections::BTreeMap<SourceId, Instant>,
    /// Failures of the current cycle, logged together once at its end.
    cycle_errors: Vec<(&'static str, ApiError)>,
}

/// How many intervals a source's data stays current without a successful collection.
pub const STALE_AFTER_INTERVALS: u32 = 3;

/// Restarts of a panicked site task wait this long, doubling per consecutive panic...
const RESTART_BACKOFF: Duration = Duration::from_secs(1);
/// ...up to this.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(300);
/// A task that ran this long before panicking starts the backoff afresh.
const HEALTHY_RUN: Duration = Duration::from_secs(600);

/// The wait before restart number `panics` (1 = first) of a panicked site task.
fn restart_backoff(panics: u32) -> Duration {
    RESTART_BACKOFF
        .saturating_mul(1u32 << panics.saturating_sub(1).min(16))
        .min(MAX_RESTART_BACKOFF)
}

/// The text of a panic payload.
pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

impl SiteTask {
    /// Runs the site's loop under supervision: a panic (a bug) is logged, counted in
    /// `nbu.collection.errors` (`source="task"`, `kind="panic"`), shown as the site's last
    /// error, and the loop restarted after a backoff, with the last snapshot but a fresh job
    /// store. Returns what the loop hands over when it is stopped.
    pub async fn supervise(
        self,
        collector: Result<Arc<SiteCollector>, ApiError>,
        carry: Carry,
    ) -> Carry {
        let name = self.site.name.clone();
        let mut stop = self.stop.clone();
        let mut carry = carry;
        let mut panics = 0u32;
        loop {
            let started = Instant::now();
            let run = tokio::spawn(self.clone().run(collector.clone(), carry));
            let error = match run.await {
                Ok(carry) => return carry,
                Err(e) if e.is_panic() => e,
                // Cancelled: the runtime is shutting down.
                Err(_) => return Carry::default(),
            };
            let message = panic_message(error.into_panic().as_ref());
            if started.elapsed() >= HEALTHY_RUN {
                panics = 0;
            }
            panics = panics.saturating_add(1);
            let wait = restart_backoff(panics);
            self.events
                .site_task_panicked(&name, &message, panics, wait);
            let mut snapshot = self
                .store
                .get(&name)
                .map_or_else(|| SiteSnapshot::empty(&name), |s| (*s).clone());
            snapshot.up = false;
            snapshot.last_error = Some(format!(
                "the collection task panicked ({message}); restarting in {wait:?}"
            ));
            self.publish(snapshot.clone());
            carry = Carry {
                snapshot: Some(snapshot),
                jobs: None,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|stop| *stop) => return carry,
            }
        }
    }

    pub async fn run(self, collector: Result<Arc<SiteCollector>, ApiError>, carry: Carry) -> Carry {
        let name = self.site.name.clone();
        let mut stop = self.stop.clone();
        let collector = match collector {
            Ok(c) => c,
            Err(e) => {
                self.events.site_setup_failed(&name, e.kind(), &e);
                let mut snapshot = SiteSnapshot::empty(&name);
                snapshot.last_error = Some(e.to_string());
                self.publish(snapshot);
                let _ = stop.wait_for(|stop| *stop).await;
                return carry;
            }
        };
        // A version carried over a reload is kept unless the reload pinned another one.
        let carried_version = carry
            .snapshot
            .as_ref()
            .and_then(|s| s.api_version)
            .filter(|v| self.site.api_version.is_none_or(|pin| pin == *v));
        let mut state = SiteState {
            collector,
            version: carried_version,
            snapshot: carry.snapshot.unwrap_or_else(|| SiteSnapshot::empty(&name)),
            jobs: carry.jobs.map_or_else(JobSync::new, |mut jobs| {
                // A restarted site reads its window whole again; what was reported stays so.
                jobs.force_full();
                jobs
            }),
            storage_fetched: None,
            sources_due: std::collections::BTreeMap::new(),
            cycle_errors: Vec::new(),
        };
        state
            .jobs
            .set_event_filter(self.job_events.as_ref().map(|j| j.filter()));
        // Sources switched off by a reload leave the snapshot; new ones are due at once.
        let enabled = &self.site.sources;
        state
            .snapshot
            .sources
            .retain(|id, _| enabled.get(*id).enabled);
        let interval = self.site.collection.jobs_interval;
        let cycle_timeout = self.site.collection.cycle_timeout;
        let overrunning = FailureStreak::new();
        // A small start delay spreads sites (and agents) over the interval.
        let mut next = Instant::now() + start_delay(&name, interval);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = stop.wait_for(|stop| *stop) => return state.into_carry(),
            }
            let started = Instant::now();
            // A full walk of a large window may take longer than a cycle may: it is bounded by
            // its requests' own timeouts and retries, and logs its progress.
            let limit = if state
                .jobs
                .needs_full_walk(&JobsSettings::from(&self.site.collection))
            {
                Duration::MAX
            } else {
                cycle_timeout
            };
            let cycle = tokio::time::timeout(limit, self.cycle(&mut state));
            tokio::select! {
                finished = cycle => {
                    if finished.is_err() {
                        let e = format!(
                            "collection abandoned after cycle_timeout ({cycle_timeout:?})"
                        );
                        self.events.cycle_timed_out(&name, &e);
                        state.cycle_errors.clear();
                        state.snapshot.up = false;
                        state.snapshot.last_error = Some(e);
                    }
                }
                _ = stop.wait_for(|stop| *stop) => return state.into_carry(),
            }
            if let Some(mean) = state.collector.client().take_mean_request_time() {
                state.snapshot.response_time = Some(mean);
            }
            // The body buffers served this cycle's pages; idle until the next one, they go.
            state.collector.client().release_spare_bodies();
            self.publish(state.snapshot.clone());
            // A collection longer than the interval delays the next one by a whole interval:
            // a slow NetBackup is not asked again at once.
            let took = started.elapsed();
            if took > interval {
                self.events
                    .cycle_overran(&overrunning, &name, took, interval);
                next = Instant::now() + interval;
            } else {
                self.events.cycle_fit(&overrunning, &name);
                next = started + interval;
            }
        }
    }

    /// Publishes the site's new snapshot.
    fn publish(&self, snapshot: SiteSnapshot) {
        self.events.snapshot_published(&snapshot.site, snapshot.up);
        self.store.publish(snapshot);
    }

    /// One cycle in the site's `nbu.collect` span: the collection, then its failures logged
    /// (in the span, so the line carries its trace id).
    async fn cycle(&self, state: &mut SiteState) {
        let span = tracing::info_span!(
            "nbu.collect",
            site = %self.site.name,
            nbu.api_version = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        async {
            self.collect(state).await;
            self.log_failures(state);
        }
        .instrument(span)
        .await;
    }

    /// One line per failed cycle, whatever the number of failed sources: a site that is down
    /// fills no log.
    fn log_failures(&self, state: &mut SiteState) {
        let errors = std::mem::take(&mut state.cycle_errors);
        let Some((_, first)) = errors.first() else {
            return;
        };
        let sources: Vec<&str> = errors.iter().map(|(s, _)| *s).collect();
        let details: Vec<String> = errors
            .iter()
            .map(|(source, e)| format!("{source}: {e}"))
            .collect();
        self.events
            .collection_failed(&self.site.name, &sources, first.kind(), &details.join("; "));
    }

    async fn collect(&self, state: &mut SiteState) {
        let name = self.site.name.as_str();
        let version = match state.version {
            Some(v) => v,
            None => match state.collector.negotiate().await {
                Ok(v) => {
                    self.events.api_version_agreed(name, &v);
                    state.version = Some(v);
                    v
                }
                Err(e) => {
                    self.failed(state, "version", &e);
                    return;
                }
            },
        };
        tracing::Span::current().record("nbu.api_version", version.as_str());
        state.snapshot.api_version = Some(version);
        let storage_due = state
            .storage_fetched
            .is_none_or(|t| t.elapsed() >= self.site.collection.storage_ttl);
        let recorder = &self.recorder;
        let collector = state.collector.clone();
        let due = self.due_sources(state, version);
        let context_now = server_now(&state.snapshot);
        // The clients the last jobs data covers need no query of their own.
        let covered = state
            .snapshot
            .jobs
            .as_ref()
            .map(|jobs| sources::covered_clients(&jobs.summary))
            .unwrap_or_default();
        // The store changes in one step when the walk is complete, so a cycle cancelled
        // half-way (timeout, reload, shutdown) neither loses nor reports anything twice.
        let site: Arc<str> = Arc::from(name);
        let job_events = self.job_events.as_deref();
        let offers = job_events.is_some_and(|j| j.begin_cycle(&site));
        let jobs = collector
            .sync_jobs(&mut state.jobs, version, |finished| {
                recorder.job_finished(name, finished);
                if offers && let Some(j) = job_events {
                    j.offer(&site, finished);
                }
            })
            .instrument(tracing::info_span!("nbu.collect.jobs", site = %name));
        let storage = async {
            if storage_due {
                Some(collector.collect_storage(version).await)
            } else {
                None
            }
        }
        .instrument(tracing::info_span!("nbu.collect.storage", site = %name));
        let page_size = self.site.collection.storage_page_size;
        let opt_in = futures_util::future::join_all(due.into_iter().map(|(id, config)| {
            let collector = collector.clone();
            let context = SourceContext {
                clients: self.site.sources.clients.clone(),
                covered: covered.clone(),
                ..SourceContext::new(config, page_size, context_now)
            };
            async move {
                let started = Instant::now();
                let result = sources::collect(id, collector.client(), version, &context).await;
                (id, config, SourceOutcome::timed(started, result))
            }
            .instrument(tracing::info_span!("nbu.collect.source", site = %name, source = id.name()))
        }));
        let (jobs, storage, opt_in) = tokio::join!(jobs, storage, opt_in);
        let jobs_ok = self.apply_jobs(state, jobs);
        if let Some(j) = job_events {
            if jobs_ok && let Some(server_time) = state.snapshot.jobs_as_of {
                j.end_cycle(&site, server_time, collector.client(), version)
                    .instrument(tracing::info_span!("nbu.collect.job_events", site = %name))
                    .await;
            }
            state.snapshot.events_waiting = Some(j.outbox().waiting_of(name) as u64);
        }
        // Storage that was not due is current: its last fetch succeeded within its TTL.
        let storage_ok = storage.is_none_or(|storage| self.apply_storage(state, storage));
        // Opt-in sources never change `nbu_up`: their failures show in their own staleness
        // and error counter.
        for (id, config, outcome) in opt_in {
            self.apply_source(state, id, config, outcome);
        }
        // Up while any source of the site could be collected, as the legacy exporter;
        // which source failed shows in `nbu_source_stale` and the error counter.
        state.snapshot.up = jobs_ok || storage_ok;
        if jobs_ok && storage_ok {
            state.snapshot.last_error = None;
        }
    }

    fn apply_jobs(&self, state: &mut SiteState, outcome: SourceOutcome<CycleReport>) -> bool {
        match outcome.result {
            Ok(report) => {
                log_jobs_cycle(&self.site.name, &report, outcome.elapsed);
                let interval = self.site.collection.jobs_interval;
                state.snapshot.jobs = Some(SourceData {
                    summary: Arc::new(state.jobs.summary()),
                    collected_at: outcome.finished_at,
                    // A site slower than its interval gets as much slack as it needs.
                    max_age: interval
                        .max(outcome.elapsed)
                        .saturating_mul(STALE_AFTER_INTERVALS),
                });
                state.snapshot.jobs_last_success = Some(outcome.finished_at);
                state.snapshot.jobs_as_of = Some(report.server_time);
                true
            }
            Err(e) => {
                self.failed(state, "jobs", &e);
                false
            }
        }
    }

    fn apply_storage(&self, state: &mut SiteState, outcome: SourceOutcome<StorageSummary>) -> bool {
        match outcome.result {
            Ok(summary) => {
                let c = &self.site.collection;
                state.storage_fetched = Some(Instant::now());
                state.snapshot.storage = Some(SourceData {
                    summary: Arc::new(summary),
                    collected_at: outcome.finished_at,
                    max_age: c
                        .storage_ttl
                        .max(c.jobs_interval)
                        .max(outcome.elapsed)
                        .saturating_mul(STALE_AFTER_INTERVALS),
                });
                state.snapshot.storage_last_success = Some(outcome.finished_at);
                true
            }
            Err(e) => {
                self.failed(state, "storage", &e);
                false
            }
        }
    }

    /// The enabled opt-in sources due now that `version` supports; the others are marked
    /// unsupported in the snapshot and not called.
    fn due_sources(
        &self,
        state: &mut SiteState,
        version: ApiVersion,
    ) -> Vec<(SourceId, SourceConfig)> {
        let now = Instant::now();
        let mut due = Vec::new();
        for (id, config) in self.site.sources.enabled() {
            let entry = state.snapshot.sources.entry(id).or_default();
            if !sources::supported(id, version) {
                if entry.unsupported_by != Some(version) {
                    self.events
                        .source_unsupported(&self.site.name, id.name(), &version);
                }
                *entry = crate::collect::OptInState {
                    unsupported_by: Some(version),
                    ..Default::default()
                };
                continue;
            }
            entry.unsupported_by = None;
            if state.sources_due.get(&id).is_none_or(|at| *at <= now) {
                due.push((id, config));
            }
        }
        due
    }

    fn apply_source(
        &self,
        state: &mut SiteState,
        id: SourceId,
        config: SourceConfig,
        outcome: SourceOutcome<SourceValues>,
    ) {
        // Due again one interval after this collection ended, whether it succeeded or not.
        state
            .sources_due
            .insert(id, Instant::now() + config.interval);
        let entry = state.snapshot.sources.entry(id).or_default();
        match outcome.result {
            Ok(values) => {
                tracing::debug!(
                    site = %self.site.name,
                    source = id.name(),
                    series = values.len(),
                    pages = values.pages,
                    took_ms = outcome.elapsed.as_millis() as u64,
                    "source collected"
                );
                entry.data = Some(SourceData {
                    summary: Arc::new(values),
                    collected_at: outcome.finished_at,
                    max_age: config
                        .interval
                        .max(outcome.elapsed)
                        .saturating_mul(STALE_AFTER_INTERVALS),
                });
                entry.last_success = Some(outcome.finished_at);
                entry.last_error = None;
            }
            Err(e) => {
                entry.last_error = Some(e.to_string());
                self.events
                    .source_failed(&self.site.name, id.name(), e.kind());
                state.cycle_errors.push((id.name(), e));
            }
        }
    }

    fn failed(&self, state: &mut SiteState, source: &'static str, e: &ApiError) {
        state.cycle_errors.push((source, e.clone()));
        self.events.source_failed(&self.site.name, source, e.kind());
        if matches!(e.failure, ApiFailure::VersionUnsupported { .. }) {
            // The server changed its supported versions: negotiate again next cycle.
            state.version = None;
        }
        state.snapshot.up = false;
        state.snapshot.last_error = Some(e.to_string());
    }
}

impl SiteState {
    fn into_carry(self) -> Carry {
        Carry {
            snapshot: Some(self.snapshot),
            jobs: Some(self.jobs),
        }
    }
}

/// NetBackup's clock now, estimated from the last jobs walk (its `Date` header against the
/// agent's clock then); the agent's clock before the first walk.
fn server_now(snapshot: &SiteSnapshot) -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Utc::now();
    let (Some(as_of), Some(jobs)) = (snapshot.jobs_as_of, snapshot.jobs.as_ref()) else {
        return now;
    };
    let read_at = chrono::DateTime::<chrono::Utc>::from(jobs.collected_at);
    now.checked_add_signed(as_of - read_at).unwrap_or(now)
}

/// Full walks are logged at info (they are rare and can be long), deltas at debug.
fn log_jobs_cycle(site: &str, report: &CycleReport, took: Duration) {
    let kind = report.kind.as_str();
    let (walk, applied) = (&report.walk, &report.applied);
    if report.kind == WalkKind::Delta {
        tracing::debug!(
            site,
            kind,
            pages = walk.pages,
            changed = applied.added + applied.updated,
            removed = applied.removed + report.expired,
            finished = applied.finished,
            stored = report.stored,
            took_ms = took.as_millis() as u64,
            "jobs brought up to date"
        );
    } else {
        tracing::info!(
            site,
            kind,
            pages = walk.pages,
            requests = walk.requests,
            jobs = report.stored,
            removed = applied.removed,
            took_s = took.as_secs_f64(),
            "jobs window read whole"
        );
    }
}

/// A start delay in [0, min(interval / 10, 5 s)), derived from the site name so that sites
/// spread out but a restart keeps the same phase.
fn start_delay(site: &str, interval: Duration) -> Duration {
    let max = (interval / 10).min(Duration::from_secs(5));
    let hash = site.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    max.mul_f64((hash % 1000) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_backoff_doubles_and_is_capped() {
        assert_eq!(restart_backoff(1), RESTART_BACKOFF);
        assert_eq!(restart_backoff(2), RESTART_BACKOFF * 2);
        assert_eq!(restart_backoff(100), MAX_RESTART_BACKOFF);
    }

    #[test]
    fn start_delay_is_bounded() {
        for site in ["a", "b", "primary-1", "x.y.z"] {
            assert!(start_delay(site, Duration::from_secs(60)) < Duration::from_secs(5));
            assert!(start_delay(site, Duration::from_secs(1)) < Duration::from_millis(100));
        }
    }
}
