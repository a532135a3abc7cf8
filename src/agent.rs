//! The agent: one collection task per site, publishing snapshots that instruments read.
//!
//! Build it with a validated [`Config`] and an injected [`SdkMeterProvider`]; nothing global
//! is touched. Every site has its own client, schedule, snapshot, limits and error state, so a
//! hanging site never delays another. [`Agent::reload`] applies a new configuration by
//! restarting only the sites that changed.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use secrecy::ExposeSecret;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::collect::summary::{JobsSummary, StorageSummary};
use crate::collect::{SiteCollector, SiteSnapshot, SourceData, SourceOutcome};
use crate::config::{Config, SiteConfig};
use crate::netbackup::{ApiError, ApiVersion, SiteClient};
use crate::readiness::Readiness;
use crate::reload;
use crate::telemetry::instruments::{Recorders, SnapshotStore, register};

/// How many intervals a source's data stays current without a successful collection.
pub const STALE_AFTER_INTERVALS: u32 = 3;

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Sites started.
    pub added: Vec<String>,
    /// Sites stopped and forgotten.
    pub removed: Vec<String>,
    /// Sites restarted with new settings.
    pub changed: Vec<String>,
    /// Sections that changed but take effect only at the next start.
    pub needs_restart: Vec<&'static str>,
}

/// A running (or ready to run) agent.
#[derive(Debug)]
pub struct Agent {
    config: Arc<Config>,
    /// The contents of the server and OTLP certificate files the running config uses.
    global_files: u64,
    store: SnapshotStore,
    recorders: Recorders,
    readiness: Readiness,
    sites: BTreeMap<String, RunningSite>,
}

#[derive(Debug)]
struct RunningSite {
    config: SiteConfig,
    /// The contents of the files the site reads (its CA file), to notice a rotation.
    files: u64,
    stop: watch::Sender<bool>,
    task: JoinHandle<Carry>,
}

/// What a site task hands to its successor when a reload restarts it.
#[derive(Debug, Default)]
struct Carry {
    snapshot: Option<SiteSnapshot>,
    recorded_jobs: HashSet<u64>,
    recorded_floor: Option<u64>,
}

impl Agent {
    /// Registers the instruments on `meter_provider` and prepares the site tasks.
    pub fn new(config: Config, meter_provider: &SdkMeterProvider) -> Self {
        let meter = meter_provider.meter("nbu-otel");
        let store = SnapshotStore::new();
        let recorders = register(&meter, &store);
        let readiness = Readiness::new(
            store.clone(),
            config.server.ready_cache,
            config.server.ready_min_sites,
        );
        Self {
            global_files: global_files(&config),
            config: Arc::new(config),
            store,
            recorders,
            readiness,
            sites: BTreeMap::new(),
        }
    }

    /// Starts one collection task per site. Must be called inside a Tokio runtime.
    pub fn start(&mut self) {
        let sites = self.config.sites.clone();
        for site in sites {
            self.spawn_site(site, Carry::default());
        }
    }

    /// The latest snapshots (what instruments report).
    pub fn snapshots(&self) -> &SnapshotStore {
        &self.store
    }

    /// Readiness of the sites, for `/readyz`.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// The configuration the agent runs on.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Applies a new, already validated configuration: sites added are started, sites
    /// removed are stopped, sites whose settings changed are restarted with a new client (the
    /// old key is never sent again). A site keeps its data and the record of finished jobs
    /// across a restart unless its URL changed, so an in-flight collection is neither lost
    /// nor counted twice.
    pub async fn reload(&mut self, new: Config) -> ReloadSummary {
        let mut summary = ReloadSummary::default();
        let wanted: BTreeMap<String, SiteConfig> = new
            .sites
            .iter()
            .map(|s| (s.name.clone(), s.clone()))
            .collect();
        let current: Vec<String> = self.sites.keys().cloned().collect();
        for name in current {
            match wanted.get(&name) {
                None => {
                    self.stop_site(&name).await;
                    self.store.remove(&name);
                    self.readiness.remove(&name);
                    summary.removed.push(name);
                }
                Some(site)
                    if !same_site(&self.sites[&name].config, site)
                        || self.sites[&name].files != site_files(site) =>
                {
                    let url_changed = self.sites[&name].config.url != site.url;
                    let mut carry = self.stop_site(&name).await;
                    if url_changed {
                        // Another backend: its data and connections are not ours.
                        carry = Carry::default();
                        self.store.publish(SiteSnapshot::empty(&name));
                    }
                    self.spawn_site(site.clone(), carry);
                    summary.changed.push(name);
                }
                Some(_) => {}
            }
        }
        for (name, site) in &wanted {
            if !self.sites.contains_key(name) {
                self.spawn_site(site.clone(), Carry::default());
                summary.added.push(name.clone());
            }
        }
        let old = &self.config;
        for (section, changed) in [
            (
                "server",
                old.server != new.server || self.global_files != global_files(&new),
            ),
            ("otlp", !same_otlp(&old.otlp, &new.otlp)),
            ("traces", old.traces != new.traces),
            ("logging", old.logging != new.logging),
            ("service", old.service != new.service),
        ] {
            if changed {
                summary.needs_restart.push(section);
            }
        }
        self.global_files = global_files(&new);
        self.config = Arc::new(new);
        summary
    }

    /// Records the outcome of a reload attempt (`nbu.config.reloads`).
    pub fn count_reload(&self, ok: bool) {
        self.recorders.config_reload(ok);
    }

    /// Stops every site task (in-flight requests are cancelled) and waits for them.
    pub async fn shutdown(mut self) {
        let names: Vec<String> = self.sites.keys().cloned().collect();
        for name in names {
            self.stop_site(&name).await;
        }
    }

    async fn stop_site(&mut self, name: &str) -> Carry {
        let Some(site) = self.sites.remove(name) else {
            return Carry::default();
        };
        let _ = site.stop.send(true);
        site.task.await.unwrap_or_default()
    }

    fn spawn_site(&mut self, site: SiteConfig, carry: Carry) {
        let name = site.name.clone();
        let recorders = self.recorders.clone();
        let observer_site = name.clone();
        let built = SiteClient::new(&site).and_then(|client| {
            let client = client.with_observer(Arc::new(move |endpoint, outcome| {
                recorders.api_request(&observer_site, endpoint, outcome);
            }));
            SiteCollector::with_client(client, site.clone())
        });
        let collector = built.map(Arc::new);
        match &collector {
            Ok(c) => self.readiness.register(c.clone()),
            Err(e) => self.readiness.register_failed(&name, e.to_string()),
        }
        let snapshot = carry
            .snapshot
            .clone()
            .unwrap_or_else(|| SiteSnapshot::empty(&name));
        self.store.publish(snapshot);
        let (stop, stop_rx) = watch::channel(false);
        let task = SiteTask {
            site: site.clone(),
            store: self.store.clone(),
            recorders: self.recorders.clone(),
            stop: stop_rx,
        };
        let handle = tokio::spawn(task.run(collector, carry));
        self.sites.insert(
            name,
            RunningSite {
                files: site_files(&site),
                config: site,
                stop,
                task: handle,
            },
        );
    }
}

/// The contents of the files a site reads (its CA file; its key file, too).
fn site_files(site: &SiteConfig) -> u64 {
    reload::contents_hash(reload::site_files(site))
}

/// The contents of the certificate files of the server and of the OTLP exporter.
fn global_files(config: &Config) -> u64 {
    reload::contents_hash(reload::global_files(config))
}

/// Whether two OTLP configurations are the same, header values included.
fn same_otlp(a: &crate::config::OtlpConfig, b: &crate::config::OtlpConfig) -> bool {
    let headers = |c: &crate::config::OtlpConfig| -> Vec<(String, String)> {
        c.headers
            .iter()
            .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
            .collect()
    };
    a.enabled == b.enabled
        && a.endpoint == b.endpoint
        && a.timeout == b.timeout
        && a.export_interval == b.export_interval
        && a.compression == b.compression
        && a.ca_file == b.ca_file
        && a.client_cert_file == b.client_cert_file
        && a.client_key_file == b.client_key_file
        && headers(a) == headers(b)
}

/// Whether two site configurations are the same in every respect (the key included).
fn same_site(a: &SiteConfig, b: &SiteConfig) -> bool {
    a.name == b.name
        && a.url == b.url
        && a.api_key.expose_secret() == b.api_key.expose_secret()
        && a.api_key_file == b.api_key_file
        && a.api_version == b.api_version
        && a.tls == b.tls
        && a.collection == b.collection
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
    collector: Arc<SiteCollector>,
    version: Option<ApiVersion>,
    snapshot: SiteSnapshot,
    /// Finished jobs already recorded in the duration histogram (those still in the window).
    recorded_jobs: HashSet<u64>,
    /// The lowest job id of the last complete walk of finished jobs.
    recorded_floor: Option<u64>,
    storage_fetched: Option<Instant>,
    /// Failures of the current cycle, logged together once at its end.
    cycle_errors: Vec<(&'static str, ApiError)>,
}

impl SiteTask {
    async fn run(self, collector: Result<Arc<SiteCollector>, ApiError>, carry: Carry) -> Carry {
        let name = self.site.name.clone();
        let mut stop = self.stop.clone();
        let collector = match collector {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(site = %name, error = %e, "site cannot be collected");
                self.recorders.collection_error(&name, "setup", e.kind());
                let mut snapshot = SiteSnapshot::empty(&name);
                snapshot.last_error = Some(e.to_string());
                self.store.publish(snapshot);
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
            recorded_jobs: carry.recorded_jobs,
            recorded_floor: carry.recorded_floor,
            storage_fetched: None,
            cycle_errors: Vec::new(),
        };
        let interval = self.site.collection.jobs_interval;
        let cycle_timeout = self.site.collection.cycle_timeout;
        let mut overrunning = false;
        // A small start delay spreads sites (and agents) over the interval.
        let mut next = Instant::now() + start_delay(&name, interval);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = stop.wait_for(|stop| *stop) => return state.into_carry(),
            }
            let started = Instant::now();
            let cycle = tokio::time::timeout(cycle_timeout, self.cycle(&mut state));
            tokio::select! {
                finished = cycle => {
                    if finished.is_err() {
                        let e = format!(
                            "collection abandoned after cycle_timeout ({cycle_timeout:?})"
                        );
                        tracing::warn!(site = %name, "{e}");
                        self.recorders.collection_error(&name, "cycle", "timeout");
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
            self.store.publish(state.snapshot.clone());
            // A collection longer than the interval delays the next one by a whole interval:
            // a slow NetBackup is not asked again at once.
            let took = started.elapsed();
            if took > interval {
                if !overrunning {
                    tracing::warn!(
                        site = %name,
                        took_s = took.as_secs_f64(),
                        interval_s = interval.as_secs_f64(),
                        "a collection took longer than jobs_interval; the next starts one interval after it ended"
                    );
                    overrunning = true;
                }
                next = Instant::now() + interval;
            } else {
                if overrunning {
                    tracing::info!(site = %name, "collections fit in jobs_interval again");
                    overrunning = false;
                }
                next = started + interval;
            }
        }
    }

    async fn cycle(&self, state: &mut SiteState) {
        self.collect(state).await;
        self.log_failures(state);
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
        tracing::warn!(
            site = %self.site.name,
            sources = ?sources,
            error_type = first.kind(),
            error = %details.join("; "),
            "collection failed"
        );
    }

    async fn collect(&self, state: &mut SiteState) {
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
            // Updated in place, so a collection cancelled half-way (timeout, reload) keeps the
            // record of what it already put in the histogram.
            let recorded = &mut state.recorded_jobs;
            let collector = state.collector.clone();
            let mut seen_finished = HashSet::new();
            let jobs = collector
                .collect_jobs(version, Utc::now(), |action, policy, done| {
                    if recorded.insert(done.job_id) {
                        recorders.job_finished(name, action, policy, done.seconds);
                    }
                    seen_finished.insert(done.job_id);
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
        outcome: SourceOutcome<JobsSummary>,
        seen_finished: HashSet<u64>,
    ) -> bool {
        match outcome.result {
            Ok(summary) => {
                // Forget jobs that left the window; they will never be returned again.
                state.recorded_floor = seen_finished.iter().min().copied();
                state.recorded_jobs = seen_finished;
                let interval = self.site.collection.jobs_interval;
                state.snapshot.jobs = Some(SourceData {
                    summary: Arc::new(summary),
                    collected_at: outcome.finished_at,
                    // A site slower than its interval gets as much slack as it needs.
                    max_age: interval
                        .max(outcome.elapsed)
                        .saturating_mul(STALE_AFTER_INTERVALS),
                });
                state.snapshot.jobs_last_success = Some(outcome.finished_at);
                true
            }
            Err(e) => {
                // Jobs seen before the failure stay recorded; ids older than anything the last
                // complete walk returned have left the window, so the record stays bounded.
                if let Some(floor) = state.recorded_floor {
                    state.recorded_jobs.retain(|id| *id >= floor);
                }
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

    fn failed(&self, state: &mut SiteState, source: &'static str, e: &ApiError) {
        state.cycle_errors.push((source, e.clone()));
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

impl SiteState {
    fn into_carry(self) -> Carry {
        Carry {
            snapshot: Some(self.snapshot),
            recorded_jobs: self.recorded_jobs,
            recorded_floor: self.recorded_floor,
        }
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
