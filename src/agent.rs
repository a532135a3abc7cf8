//! The agent: one collection task per site, publishing snapshots that instruments read.
//!
//! Build it with a validated [`Config`] and an injected [`SdkMeterProvider`]; nothing global
//! is touched. Every site has its own client, schedule, snapshot, limits and error state, so a
//! hanging site never delays another.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::Utc;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::collect::{SiteCollector, SiteSnapshot, SourceData, SourceOutcome};
use crate::config::{Config, SiteConfig};
use crate::netbackup::{ApiError, ApiVersion};
use crate::telemetry::instruments::{Recorders, SnapshotStore, register};

/// How many intervals a source's data stays current without a successful collection.
pub const STALE_AFTER_INTERVALS: u32 = 3;

/// A running (or ready to run) agent.
#[derive(Debug)]
pub struct Agent {
    config: Arc<Config>,
    store: SnapshotStore,
    recorders: Recorders,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Agent {
    /// Registers the instruments on `meter_provider` and prepares the site tasks.
    pub fn new(config: Config, meter_provider: &SdkMeterProvider) -> Self {
        let meter = meter_provider.meter("nbu-otel");
        let store = SnapshotStore::new();
        let recorders = register(&meter, &store);
        let (stop, _) = watch::channel(false);
        Self {
            config: Arc::new(config),
            store,
            recorders,
            stop,
            tasks: Vec::new(),
        }
    }

    /// Starts one collection task per site. Must be called inside a Tokio runtime.
    pub fn start(&mut self) {
        for site in &self.config.sites {
            self.store.publish(SiteSnapshot::empty(&site.name));
            let task = SiteTask {
                site: site.clone(),
                store: self.store.clone(),
                recorders: self.recorders.clone(),
                stop: self.stop.subscribe(),
            };
            self.tasks.push(tokio::spawn(task.run()));
        }
    }

    /// The latest snapshots (what instruments report).
    pub fn snapshots(&self) -> &SnapshotStore {
        &self.store
    }

    /// The configuration the agent runs on.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Stops every site task (in-flight requests are cancelled) and waits for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// One site's collection loop.
struct SiteTask {
    site: SiteConfig,
    store: SnapshotStore,
    recorders: Recorders,
    stop: watch::Receiver<bool>,
}

/// What a site task keeps between cycles.
struct SiteState {
    collector: SiteCollector,
    version: Option<ApiVersion>,
    snapshot: SiteSnapshot,
    /// Finished jobs already recorded in the duration histogram (those still in the window).
    recorded_jobs: HashSet<u64>,
    storage_fetched: Option<Instant>,
}

impl SiteTask {
    async fn run(self) {
        let name = self.site.name.clone();
        let mut stop = self.stop.clone();
        let collector = match SiteCollector::new(self.site.clone()) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(site = %name, error = %e, "site cannot be collected");
                self.recorders.collection_error(&name, "setup", e.kind());
                let mut snapshot = SiteSnapshot::empty(&name);
                snapshot.last_error = Some(e.to_string());
                self.store.publish(snapshot);
                let _ = stop.wait_for(|stop| *stop).await;
                return;
            }
        };
        let mut state = SiteState {
            collector,
            version: None,
            snapshot: SiteSnapshot::empty(&name),
            recorded_jobs: HashSet::new(),
            storage_fetched: None,
        };
        let interval = self.site.collection.jobs_interval;
        // A small start delay spreads sites (and agents) over the interval.
        let mut next = Instant::now() + start_delay(&name, interval);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            next = Instant::now() + interval;
            let deadline = interval.max(self.site.collection.request_timeout * 2);
            let cycle = tokio::time::timeout(deadline, self.cycle(&mut state));
            tokio::select! {
                finished = cycle => {
                    if finished.is_err() {
                        let e = format!("collection did not finish within {deadline:?}");
                        tracing::warn!(site = %name, "{e}");
                        self.recorders.collection_error(&name, "cycle", "timeout");
                        state.snapshot.up = false;
                        state.snapshot.last_error = Some(e);
                    }
                }
                _ = stop.wait_for(|stop| *stop) => return,
            }
            expire_stale(&mut state.snapshot, &self.site, SystemTime::now());
            self.store.publish(state.snapshot.clone());
        }
    }

    async fn cycle(&self, state: &mut SiteState) {
        let name = self.site.name.as_str();
        let span = tracing::info_span!("nbu.collect", site = %name, nbu.api_version = tracing::field::Empty);
        async {
            let version = match state.version {
                Some(v) => v,
                None => match state.collector.negotiate().await {
                    Ok(v) => {
                        tracing::info!(site = %name, api_version = %v, "API version agreed");
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
            let recorders = &self.recorders;
            let recorded = &state.recorded_jobs;
            let mut seen_finished = HashSet::new();
            let jobs = state
                .collector
                .collect_jobs(version, Utc::now(), |action, policy, done| {
                    if !recorded.contains(&done.job_id) {
                        recorders.job_finished(name, action, policy, done.seconds);
                    }
                    seen_finished.insert(done.job_id);
                })
                .instrument(tracing::info_span!("nbu.collect.jobs", site = %name));
            let storage = async {
                if storage_due {
                    Some(state.collector.collect_storage(version).await)
                } else {
                    None
                }
            }
            .instrument(tracing::info_span!("nbu.collect.storage", site = %name));
            let (jobs, storage) = tokio::join!(jobs, storage);
            let mut ok = self.apply_jobs(state, jobs, seen_finished);
            if let Some(storage) = storage {
                ok &= self.apply_storage(state, storage);
            }
            state.snapshot.up = ok;
            if ok {
                state.snapshot.last_error = None;
            }
        }
        .instrument(span)
        .await;
    }

    fn apply_jobs(
        &self,
        state: &mut SiteState,
        outcome: SourceOutcome<crate::collect::summary::JobsSummary>,
        seen_finished: HashSet<u64>,
    ) -> bool {
        match outcome.result {
            Ok(summary) => {
                // Forget jobs that left the window; they will never be returned again.
                state.recorded_jobs = seen_finished;
                let requests = summary.pages.max(1) as u32;
                state.snapshot.response_time = Some(outcome.elapsed / requests);
                state.snapshot.jobs = Some(SourceData {
                    summary: Arc::new(summary),
                    collected_at: outcome.finished_at,
                });
                state.snapshot.jobs_last_success = Some(outcome.finished_at);
                true
            }
            Err(e) => {
                // Jobs seen before the failure were recorded: keep them recorded.
                state.recorded_jobs.extend(seen_finished);
                self.failed(state, "jobs", &e);
                false
            }
        }
    }

    fn apply_storage(
        &self,
        state: &mut SiteState,
        outcome: SourceOutcome<crate::collect::summary::StorageSummary>,
    ) -> bool {
        match outcome.result {
            Ok(summary) => {
                state.storage_fetched = Some(Instant::now());
                state.snapshot.storage = Some(SourceData {
                    summary: Arc::new(summary),
                    collected_at: outcome.finished_at,
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

    fn failed(&self, state: &mut SiteState, source: &'static str, e: &ApiError) {
        tracing::warn!(site = %self.site.name, source, error_type = e.kind(), error = %e, "collection failed");
        self.recorders
            .collection_error(&self.site.name, source, e.kind());
        if matches!(e, ApiError::VersionUnsupported { .. }) {
            // The server changed its supported versions: negotiate again next cycle.
            state.version = None;
        }
        state.snapshot.up = false;
        state.snapshot.last_error = Some(e.to_string());
    }
}

/// Drops source data older than its maximum age ([`STALE_AFTER_INTERVALS`] intervals), so
/// its series disappear instead of being reported as current.
fn expire_stale(snapshot: &mut SiteSnapshot, site: &SiteConfig, now: SystemTime) {
    let c = &site.collection;
    let jobs_max = c.jobs_interval * STALE_AFTER_INTERVALS;
    let storage_max = c.storage_ttl.max(c.jobs_interval) * STALE_AFTER_INTERVALS;
    let older = |at: SystemTime, max: Duration| now.duration_since(at).is_ok_and(|age| age > max);
    if snapshot
        .jobs
        .as_ref()
        .is_some_and(|d| older(d.collected_at, jobs_max))
    {
        snapshot.jobs = None;
    }
    if snapshot
        .storage
        .as_ref()
        .is_some_and(|d| older(d.collected_at, storage_max))
    {
        snapshot.storage = None;
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
    fn start_delay_is_bounded() {
        for site in ["a", "b", "primary-1", "x.y.z"] {
            assert!(start_delay(site, Duration::from_secs(60)) < Duration::from_secs(5));
            assert!(start_delay(site, Duration::from_secs(1)) < Duration::from_millis(100));
        }
    }
}
