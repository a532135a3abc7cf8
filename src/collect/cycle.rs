//! One site's collection cycle, the one `run` and `once` both go through: agree on the
//! API version, bring the job store up to date, fetch storage when its TTL passed and every
//! opt-in source that is due, apply each outcome to the site's snapshot, and decide `nbu_up`.
//!
//! The runtime (`agent::site_task`) owns what surrounds a cycle: the schedule, the cycle
//! timeout, panic supervision, and publishing the snapshot. It sees the jobs through
//! [`CycleHooks`] (instruments, job events). `once` runs one cycle on fresh state,
//! with everything due ([`SiteCollector::collect_all`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::time::Instant;
use tracing::Instrument as _;

use super::job_event::EventFilter;
use super::site::{SiteCollector, SiteReport, SourceOutcome};
use super::snapshot::{OptInState, SiteSnapshot, SourceData};
use super::sources::{self, SourceContext, SourceValues};
use super::store::FinishedJob;
use super::summary::{JobsSummary, StorageSummary};
use super::sync::{CycleReport, JobSync, JobsSettings, ProgressSink, WalkKind};
use crate::config::{SourceConfig, SourceId, SourcesConfig};
use crate::netbackup::{ApiError, ApiFailure, ApiVersion, SiteClient};

/// How many intervals a source's data stays current without a successful collection.
pub const STALE_AFTER_INTERVALS: u32 = 3;

/// When the opt-in sources of a cycle run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourcesOrder {
    /// Beside the jobs walk, with NetBackup's clock and the covered clients of the last walk
    /// (the running agent).
    BesideJobs,
    /// After the jobs walk, with its clock and clients (one cycle on fresh state, which has
    /// no last walk).
    AfterJobs,
}

/// A successful jobs walk, as the runtime's follow-up work needs it.
#[derive(Debug, Clone, Copy)]
pub struct JobsRead<'a> {
    /// NetBackup's clock when the walk read the jobs.
    pub server_time: DateTime<Utc>,
    /// The site's client, for follow-up requests.
    pub client: &'a SiteClient,
    /// The API version of the walk.
    pub version: ApiVersion,
}

/// What the runtime does with a cycle's jobs: instruments record finished jobs, job events
/// take them and look up their reasons. `()` does nothing (one cycle of `once`).
pub trait CycleHooks: Sync {
    /// Before the jobs walk of `site`: whether its finished jobs are offered as job events.
    fn before_jobs(&self, site: &Arc<str>) -> bool {
        let _ = site;
        false
    }

    /// A job the store holds finished for the first time; `offered` as
    /// [`CycleHooks::before_jobs`] answered.
    fn job_finished(&self, site: &Arc<str>, job: &FinishedJob<'_>, offered: bool) {
        let _ = (site, job, offered);
    }

    /// After the jobs walk of `site`, with `read` when it succeeded. Returns the site's job
    /// events waiting for the Collector, `None` when job events are off.
    fn after_jobs<'a>(
        &'a self,
        site: &'a Arc<str>,
        read: Option<JobsRead<'a>>,
    ) -> BoxFuture<'a, Option<u64>> {
        let _ = (site, read);
        Box::pin(async { None })
    }
}

impl CycleHooks for () {}

/// What a site keeps between cycles: its snapshot, job store and schedule.
#[derive(Debug)]
pub struct SiteCycle {
    version: Option<ApiVersion>,
    snapshot: SiteSnapshot,
    /// The job store, kept current cycle after cycle.
    jobs: JobSync,
    storage_fetched: Option<Instant>,
    /// When each enabled opt-in source is due next (absent: due now).
    sources_due: BTreeMap<SourceId, Instant>,
    /// Failures of the current cycle, in the order they happened.
    errors: Vec<(&'static str, ApiError)>,
    /// How long the last version negotiation took.
    negotiated_in: Option<Duration>,
}

/// What one cycle collected, source by source (shared with the snapshot it went into).
#[derive(Debug, Clone)]
struct CycleOutcome {
    version: Result<ApiVersion, ApiError>,
    jobs: SourceOutcome<Arc<JobsSummary>>,
    /// `None` when storage was not due.
    storage: Option<SourceOutcome<Arc<StorageSummary>>>,
    sources: Vec<(SourceId, SourceOutcome<Arc<SourceValues>>)>,
}

impl SiteCycle {
    /// Fresh state for `site`: nothing known, everything due.
    pub fn fresh(site: &str) -> Self {
        Self::resume(SiteSnapshot::empty(site), None, None)
    }

    /// The state a restarted site goes on from: its last `snapshot` and job store, and its
    /// API version unless `pinned` names another one. A carried store reads its window whole
    /// again; what was reported stays so.
    pub fn resume(
        snapshot: SiteSnapshot,
        jobs: Option<JobSync>,
        pinned: Option<ApiVersion>,
    ) -> Self {
        let version = snapshot
            .api_version
            .filter(|v| pinned.is_none_or(|pin| pin == *v));
        Self {
            version,
            snapshot,
            jobs: jobs.map_or_else(JobSync::new, |mut jobs| {
                jobs.force_full();
                jobs
            }),
            storage_fetched: None,
            sources_due: BTreeMap::new(),
            errors: Vec::new(),
            negotiated_in: None,
        }
    }

    /// Sends the progress of full walks to `sink`.
    pub fn with_progress(mut self, sink: ProgressSink) -> Self {
        self.jobs = std::mem::take(&mut self.jobs).with_progress(sink);
        self
    }

    /// Which finished jobs become job events (`None`: job events are off); the sources
    /// `enabled` leaves off leave the snapshot.
    pub fn configure(&mut self, filter: Option<EventFilter>, enabled: &SourcesConfig) {
        self.jobs.set_event_filter(filter);
        self.snapshot
            .sources
            .retain(|id, _| enabled.get(*id).enabled);
    }

    /// The site's snapshot as the last cycle left it.
    pub fn snapshot(&self) -> &SiteSnapshot {
        &self.snapshot
    }

    /// The snapshot and the job store, for the site's next task.
    pub fn into_parts(self) -> (SiteSnapshot, JobSync) {
        (self.snapshot, self.jobs)
    }

    /// Whether the next cycle reads the jobs window whole (no cycle timeout applies then).
    pub fn needs_full_walk(&self, collector: &SiteCollector) -> bool {
        self.jobs
            .needs_full_walk(&JobsSettings::from(&collector.site().collection))
    }

    /// The failures of the cycle, taken (the runtime logs them in one line).
    pub fn take_errors(&mut self) -> Vec<(&'static str, ApiError)> {
        std::mem::take(&mut self.errors)
    }

    /// A cycle that was abandoned (`error` says why): the site is down until the next one.
    pub fn abandoned(&mut self, error: String) {
        self.errors.clear();
        self.snapshot.up = false;
        self.snapshot.last_error = Some(error);
    }

    /// After a cycle, finished or abandoned: the mean request time of its answers goes into
    /// the snapshot, and the client's idle body buffers go until the next one.
    pub fn close(&mut self, collector: &SiteCollector) {
        if let Some(mean) = collector.client().take_mean_request_time() {
            self.snapshot.response_time = Some(mean);
        }
        collector.client().release_spare_bodies();
    }

    /// One cycle of the running agent: the version, then the jobs, storage when due and the
    /// opt-in sources due (beside the jobs walk), each outcome applied to the snapshot.
    pub async fn run(&mut self, collector: &SiteCollector, hooks: &impl CycleHooks) {
        self.collect(collector, hooks, SourcesOrder::BesideJobs)
            .await;
    }

    async fn collect(
        &mut self,
        collector: &SiteCollector,
        hooks: &impl CycleHooks,
        order: SourcesOrder,
    ) -> CycleOutcome {
        let site = collector.site();
        let name = site.name.as_str();
        let events = collector.client().events();
        let version = match self.version {
            Some(v) => v,
            None => {
                let started = Instant::now();
                let negotiated = collector.negotiate().await;
                self.negotiated_in = Some(started.elapsed());
                match negotiated {
                    Ok(v) => {
                        events.api_version_agreed(name, &v);
                        self.version = Some(v);
                        v
                    }
                    Err(e) => {
                        self.failed(collector, "version", &e);
                        return CycleOutcome {
                            jobs: SourceOutcome::timed(started, Err(e.clone())),
                            version: Err(e),
                            storage: None,
                            sources: Vec::new(),
                        };
                    }
                }
            }
        };
        tracing::Span::current().record("nbu.api_version", version.as_str());
        self.snapshot.api_version = Some(version);
        let storage_due = self
            .storage_fetched
            .is_none_or(|t| t.elapsed() >= site.collection.storage_ttl);
        let due = self.due_sources(collector, version);
        // The store changes in one step when the walk is complete, so a cycle cancelled
        // half-way (timeout, reload, shutdown) neither loses nor reports anything twice.
        let site_name: Arc<str> = Arc::from(name);
        let offered = hooks.before_jobs(&site_name);
        let jobs = collector
            .sync_jobs(&mut self.jobs, version, |finished| {
                hooks.job_finished(&site_name, finished, offered);
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
        let (jobs, storage, beside) = match order {
            SourcesOrder::BesideJobs => {
                let now = server_now(&self.snapshot);
                let covered = covered_clients(&self.snapshot);
                let opt_in = collect_sources(collector, version, due.clone(), now, covered);
                let (jobs, storage, opt_in) = tokio::join!(jobs, storage, opt_in);
                (jobs, storage, Some(opt_in))
            }
            SourcesOrder::AfterJobs => {
                let (jobs, storage) = tokio::join!(jobs, storage);
                (jobs, storage, None)
            }
        };
        let jobs = self.apply_jobs(collector, jobs);
        let read = jobs
            .result
            .is_ok()
            .then_some(self.snapshot.jobs_as_of)
            .flatten();
        let waiting = hooks
            .after_jobs(
                &site_name,
                read.map(|server_time| JobsRead {
                    server_time,
                    client: collector.client(),
                    version,
                }),
            )
            .await;
        self.snapshot.events_waiting = waiting;
        let storage = storage.map(|storage| self.apply_storage(collector, storage));
        let opt_in = match beside {
            Some(opt_in) => opt_in,
            None => {
                // NetBackup's clock now: the walk's clock moved on by the walk.
                let now = read
                    .and_then(|at| {
                        let took = chrono::Duration::from_std(jobs.elapsed).ok()?;
                        at.checked_add_signed(took)
                    })
                    .unwrap_or_else(Utc::now);
                let covered = covered_clients(&self.snapshot);
                collect_sources(collector, version, due, now, covered).await
            }
        };
        // Opt-in sources never change `nbu_up`: their failures show in their own staleness
        // and error counter.
        let sources = opt_in
            .into_iter()
            .map(|(id, config, outcome)| (id, self.apply_source(collector, id, config, outcome)))
            .collect();
        // Up while any source of the site could be collected, as the legacy exporter; which
        // source failed shows in `nbu_source_stale` and the error counter. Storage that was
        // not due is current: its last fetch succeeded within its TTL.
        let jobs_ok = jobs.result.is_ok();
        let storage_ok = storage.as_ref().is_none_or(|s| s.result.is_ok());
        self.snapshot.up = jobs_ok || storage_ok;
        if jobs_ok && storage_ok {
            self.snapshot.last_error = None;
        }
        CycleOutcome {
            version: Ok(version),
            jobs,
            storage,
            sources,
        }
    }

    /// One cycle on fresh state with everything due, as `once` collects: the
    /// sources after the jobs walk, whose clock and clients they use.
    pub(super) async fn once(mut self, collector: &SiteCollector) -> SiteReport {
        let outcome = self.collect(collector, &(), SourcesOrder::AfterJobs).await;
        self.close(collector);
        let response_time = self
            .snapshot
            .response_time
            .or(self.negotiated_in)
            .unwrap_or_default();
        self.snapshot.response_time = Some(response_time);
        let storage = match (&outcome.version, outcome.storage) {
            (Err(e), _) => SourceOutcome::failed(e.clone()),
            (Ok(_), Some(storage)) => storage.map(Arc::unwrap_or_clone),
            // Fresh state has storage due: a bug if not.
            (Ok(_), None) => SourceOutcome::failed(ApiError::of_site(
                &collector.site().name,
                ApiFailure::Internal {
                    detail: "storage was not collected".to_owned(),
                },
            )),
        };
        let sources = match &outcome.version {
            // Not one source was called.
            Err(_) => BTreeMap::new(),
            Ok(_) => {
                // The enabled sources the version lacks were not called.
                let mut sources: BTreeMap<SourceId, Option<SourceOutcome<SourceValues>>> =
                    self.snapshot.sources.keys().map(|id| (*id, None)).collect();
                for (id, collected) in outcome.sources {
                    sources.insert(id, Some(collected.map(Arc::unwrap_or_clone)));
                }
                sources
            }
        };
        SiteReport {
            site: self.snapshot.site.clone(),
            api_version: outcome.version,
            response_time,
            jobs: outcome.jobs.map(Arc::unwrap_or_clone),
            storage,
            sources,
            snapshot: self.snapshot,
        }
    }

    fn apply_jobs(
        &mut self,
        collector: &SiteCollector,
        outcome: SourceOutcome<CycleReport>,
    ) -> SourceOutcome<Arc<JobsSummary>> {
        outcome.then(|result, elapsed, finished_at| match result {
            Ok(report) => {
                let site = collector.site();
                log_jobs_cycle(&site.name, &report, elapsed);
                let summary = Arc::new(self.jobs.summary());
                self.snapshot.jobs = Some(SourceData {
                    summary: summary.clone(),
                    collected_at: finished_at,
                    // A site slower than its interval gets as much slack as it needs.
                    max_age: site
                        .collection
                        .jobs_interval
                        .max(elapsed)
                        .saturating_mul(STALE_AFTER_INTERVALS),
                });
                self.snapshot.jobs_last_success = Some(finished_at);
                self.snapshot.jobs_as_of = Some(report.server_time);
                Ok(summary)
            }
            Err(e) => {
                self.failed(collector, "jobs", &e);
                Err(e)
            }
        })
    }

    fn apply_storage(
        &mut self,
        collector: &SiteCollector,
        outcome: SourceOutcome<StorageSummary>,
    ) -> SourceOutcome<Arc<StorageSummary>> {
        outcome.then(|result, elapsed, finished_at| match result {
            Ok(summary) => {
                let c = &collector.site().collection;
                let summary = Arc::new(summary);
                self.storage_fetched = Some(Instant::now());
                self.snapshot.storage = Some(SourceData {
                    summary: summary.clone(),
                    collected_at: finished_at,
                    max_age: c
                        .storage_ttl
                        .max(c.jobs_interval)
                        .max(elapsed)
                        .saturating_mul(STALE_AFTER_INTERVALS),
                });
                self.snapshot.storage_last_success = Some(finished_at);
                Ok(summary)
            }
            Err(e) => {
                self.failed(collector, "storage", &e);
                Err(e)
            }
        })
    }

    /// The enabled opt-in sources due now that `version` supports; the others are marked
    /// unsupported in the snapshot and not called.
    fn due_sources(
        &mut self,
        collector: &SiteCollector,
        version: ApiVersion,
    ) -> Vec<(SourceId, SourceConfig)> {
        let site = collector.site();
        let now = Instant::now();
        let mut due = Vec::new();
        for (id, config) in site.sources.enabled() {
            let entry = self.snapshot.sources.entry(id).or_default();
            if !sources::supported(id, version) {
                if entry.unsupported_by != Some(version) {
                    collector
                        .client()
                        .events()
                        .source_unsupported(&site.name, id.name(), &version);
                }
                *entry = OptInState {
                    unsupported_by: Some(version),
                    ..OptInState::default()
                };
                continue;
            }
            entry.unsupported_by = None;
            if self.sources_due.get(&id).is_none_or(|at| *at <= now) {
                due.push((id, config));
            }
        }
        due
    }

    fn apply_source(
        &mut self,
        collector: &SiteCollector,
        id: SourceId,
        config: SourceConfig,
        outcome: SourceOutcome<SourceValues>,
    ) -> SourceOutcome<Arc<SourceValues>> {
        let name = collector.site().name.as_str();
        // Due again one interval after this collection ended, whether it succeeded or not.
        self.sources_due
            .insert(id, Instant::now() + config.interval);
        let entry = self.snapshot.sources.entry(id).or_default();
        outcome.then(|result, elapsed, finished_at| match result {
            Ok(values) => {
                tracing::debug!(
                    site = %name,
                    source = id.name(),
                    series = values.len(),
                    pages = values.pages,
                    took_ms = elapsed.as_millis() as u64,
                    "source collected"
                );
                let values = Arc::new(values);
                entry.data = Some(SourceData {
                    summary: values.clone(),
                    collected_at: finished_at,
                    max_age: config
                        .interval
                        .max(elapsed)
                        .saturating_mul(STALE_AFTER_INTERVALS),
                });
                entry.last_success = Some(finished_at);
                entry.last_error = None;
                Ok(values)
            }
            Err(e) => {
                entry.last_error = Some(e.to_string());
                collector
                    .client()
                    .events()
                    .source_failed(name, id.name(), e.kind());
                self.errors.push((id.name(), e.clone()));
                Err(e)
            }
        })
    }

    fn failed(&mut self, collector: &SiteCollector, source: &'static str, e: &ApiError) {
        self.errors.push((source, e.clone()));
        collector
            .client()
            .events()
            .source_failed(&collector.site().name, source, e.kind());
        if matches!(e.failure, ApiFailure::VersionUnsupported { .. }) {
            // The server changed its supported versions: negotiate again next cycle.
            self.version = None;
        }
        self.snapshot.up = false;
        self.snapshot.last_error = Some(e.to_string());
    }
}

/// `once`: one cycle of a site on fresh state.
impl SiteCollector {
    /// One full collection on fresh state, everything due: the version, the jobs and
    /// storage concurrently, then the opt-in sources (see [`SiteCycle`]).
    pub async fn collect_all(&self) -> SiteReport {
        self.collect_all_with_progress(None).await
    }

    /// [`SiteCollector::collect_all`], sending the progress of the jobs walk to `progress`.
    pub async fn collect_all_with_progress(&self, progress: Option<ProgressSink>) -> SiteReport {
        let mut cycle = SiteCycle::fresh(&self.site().name);
        if let Some(sink) = progress {
            cycle = cycle.with_progress(sink);
        }
        cycle.once(self).await
    }
}

/// Collects the opt-in sources `due`, concurrently; their windows end at `now`, NetBackup's
/// clock, and the clients `covered` need no query of their own.
async fn collect_sources(
    collector: &SiteCollector,
    version: ApiVersion,
    due: Vec<(SourceId, SourceConfig)>,
    now: DateTime<Utc>,
    covered: BTreeMap<String, f64>,
) -> Vec<(SourceId, SourceConfig, SourceOutcome<SourceValues>)> {
    let site = collector.site();
    let covered = &covered;
    let runs = due.into_iter().map(|(id, config)| {
        let context = SourceContext {
            clients: site.sources.clients.clone(),
            covered: covered.clone(),
            ..SourceContext::new(config, site.collection.storage_page_size, now)
        };
        async move {
            let started = Instant::now();
            let result = sources::collect(id, collector.client(), version, &context).await;
            (id, config, SourceOutcome::timed(started, result))
        }
        .instrument(tracing::info_span!(
            "nbu.collect.source",
            site = %site.name,
            source = id.name()
        ))
    });
    futures_util::future::join_all(runs).await
}

/// The clients the snapshot's jobs data covers: they need no query of their own.
fn covered_clients(snapshot: &SiteSnapshot) -> BTreeMap<String, f64> {
    snapshot
        .jobs
        .as_ref()
        .map(|jobs| sources::covered_clients(&jobs.summary))
        .unwrap_or_default()
}

/// NetBackup's clock now, estimated from the last jobs walk (its `Date` header against the
/// agent's clock then); the agent's clock before the first walk.
fn server_now(snapshot: &SiteSnapshot) -> DateTime<Utc> {
    let now = Utc::now();
    let (Some(as_of), Some(jobs)) = (snapshot.jobs_as_of, snapshot.jobs.as_ref()) else {
        return now;
    };
    let read_at = DateTime::<Utc>::from(jobs.collected_at);
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
