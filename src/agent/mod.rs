//! The agent runtime: one collection task per site, publishing snapshots that instruments
//! read; the service loop of `nbu-otel run` ([`service`]); hot reload ([`reload`]).
//!
//! Build it with a validated [`Config`] and an injected [`SdkMeterProvider`]; nothing global
//! is touched. Every site has its own client, schedule, snapshot, limits and error state, so a
//! hanging site never delays another. [`Agent::reload`] applies a new configuration by
//! restarting only the sites that changed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::collect::{SiteCollector, SiteSnapshot};
use crate::config::{Config, ConfigDiff, SiteConfig};
use crate::events::Events;
use crate::netbackup::{ClientSettings, Propagation, SiteClient};
use crate::readiness::Readiness;
use crate::telemetry::bridge::PrometheusBridge;
use crate::telemetry::catalog::sites_planned;
use crate::telemetry::instruments::{JobRecorder, SnapshotStore, register};
use crate::telemetry::logs::JobEventExporter;
use crate::telemetry::otlp::ExportedSites;
use job_events::JobEvents;

pub mod job_events;
pub mod reload;
pub mod service;
mod site_task;

use site_task::{Handover, SiteTask};

/// A running (or ready to run) agent.
#[derive(Debug)]
pub struct Agent {
    config: Arc<Config>,
    store: SnapshotStore,
    recorder: JobRecorder,
    /// The agent's events, counted in `recorder.counters`.
    events: Events,
    bridge: PrometheusBridge,
    readiness: Readiness,
    sites: BTreeMap<String, RunningSite>,
    /// The sites the OTLP push carries, kept to the configured ones.
    exported: Option<ExportedSites>,
    /// The sites the push's per-site limits were sized for at start
    /// ([`crate::telemetry::catalog::sites_planned`]).
    sites_planned: usize,
    /// The job events, when the `events` section is on and an exporter was given.
    job_events: Option<Arc<JobEvents>>,
    /// The exporter of job events, until the export loop takes it at start.
    job_event_exporter: Option<JobEventExporter>,
    /// The export loop of job events, and its stop signal.
    job_event_loop: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

#[derive(Debug)]
struct RunningSite {
    stop: watch::Sender<bool>,
    task: JoinHandle<Handover>,
}

impl Agent {
    /// Registers the instruments on `meter_provider` and prepares the site tasks.
    pub fn new(config: Config, meter_provider: &SdkMeterProvider) -> Self {
        let meter = meter_provider.meter("nbu-otel");
        let store = SnapshotStore::new();
        let recorder = register(&meter, &store);
        Self::with_recorder(config, store, recorder)
    }

    /// An agent without OpenTelemetry instruments, for a process that exports only through
    /// the Prometheus bridge (which reads the snapshots and counters directly): no instrument
    /// is created that no reader would collect.
    pub fn bridge_only(config: Config) -> Self {
        Self::with_recorder(config, SnapshotStore::new(), JobRecorder::counters_only())
    }

    fn with_recorder(config: Config, store: SnapshotStore, recorder: JobRecorder) -> Self {
        let bridge = PrometheusBridge::new(store.clone(), recorder.counters.clone());
        let events = Events::counting_in(recorder.counters.clone());
        let readiness = Readiness::new(
            store.clone(),
            config.server.ready_cache,
            config.server.ready_min_sites,
        );
        readiness.set_idle(config.sites.is_empty());
        Self {
            sites_planned: sites_planned(config.sites.len()),
            config: Arc::new(config),
            store,
            recorder,
            events,
            bridge,
            readiness,
            sites: BTreeMap::new(),
            exported: None,
            job_events: None,
            job_event_exporter: None,
            job_event_loop: None,
        }
    }

    /// Sends job outcomes as OTLP log records through `exporter` when the `events` section
    /// is on (nothing otherwise). Call before [`Agent::start`].
    pub fn with_job_events(mut self, exporter: JobEventExporter) -> Self {
        if self.config.events.enabled {
            let job_events = Arc::new(JobEvents::new(&self.config.events, self.events.clone()));
            self.readiness.report_events(job_events.outbox().clone());
            self.job_events = Some(job_events);
            self.job_event_exporter = Some(exporter);
        }
        self
    }

    /// The job events, when on.
    pub fn job_events(&self) -> Option<&Arc<JobEvents>> {
        self.job_events.as_ref()
    }

    /// Keeps `sites` (the set the OTLP metric exporter filters on, see
    /// [`crate::telemetry::pipeline::Pipeline::exported_sites`]) to the configured sites, now
    /// and at every reload, so the series a removed site leaves in the SDK are not pushed.
    pub fn with_exported_sites(mut self, sites: ExportedSites) -> Self {
        sites.set(self.config.sites.iter().map(|s| s.name.clone()));
        self.exported = Some(sites);
        self
    }

    /// Starts one collection task per site. Must be called inside a Tokio runtime.
    pub fn start(&mut self) {
        let plan = &self.config.shards;
        if plan.is_sharded() {
            self.events.shard_taken(
                plan.index,
                plan.count,
                self.config.sites.len(),
                plan.sites.len(),
            );
        }
        let sites = self.config.sites.clone();
        for site in sites {
            self.spawn_site(site, Handover::default());
        }
        if let (Some(job_events), Some(exporter)) =
            (self.job_events.clone(), self.job_event_exporter.take())
        {
            let (stop, stop_rx) = watch::channel(false);
            let task = tokio::spawn(job_events.export_loop(exporter, stop_rx));
            self.job_event_loop = Some((stop, task));
        }
    }

    /// The latest snapshots (what instruments report).
    pub fn snapshots(&self) -> &SnapshotStore {
        &self.store
    }

    /// The Prometheus bridge over this agent's snapshots and counters, for `/metrics` (clones
    /// share one cache).
    pub fn prometheus_bridge(&self) -> PrometheusBridge {
        self.bridge.clone()
    }

    /// The agent's counters, shared with both exports.
    pub fn counters(&self) -> Arc<crate::telemetry::counter_store::CounterStore> {
        self.recorder.counters.clone()
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
    pub async fn reload(&mut self, new: Config) -> ConfigDiff {
        if new.sites.len() > self.sites_planned {
            self.events
                .sites_beyond_planned(new.sites.len(), self.sites_planned);
        }
        let diff = ConfigDiff::between(&self.config, &new);
        if let Some(exported) = &self.exported {
            // Before anything stops: a removed site's series leave the very next export.
            exported.set(new.sites.iter().map(|s| s.name.clone()));
        }
        let wanted: BTreeMap<&str, &SiteConfig> =
            new.sites.iter().map(|s| (s.name.as_str(), s)).collect();
        // Every task holding a changed or removed site's client ends before the reload is
        // applied: its collection and its readiness probe (retries included), so the old key
        // never goes out again, to the old URL or any other.
        for name in &diff.removed {
            self.readiness.remove(name).await;
            self.stop_site(name).await;
            self.store.remove(name);
            self.recorder.remove_site(name);
        }
        for name in &diff.changed {
            self.readiness.retire(name).await;
            let mut handover = self.stop_site(name).await;
            if diff.moved.contains(name) {
                // Another backend: its data and connections are not ours.
                handover = Handover::default();
                self.store.publish(SiteSnapshot::empty(name));
            }
            if let Some(site) = wanted.get(name.as_str()) {
                self.spawn_site((*site).clone(), handover);
            }
        }
        for name in &diff.added {
            if let Some(site) = wanted.get(name.as_str()) {
                self.spawn_site((*site).clone(), Handover::default());
            }
        }
        self.readiness.set_idle(new.sites.is_empty());
        self.config = Arc::new(new);
        diff
    }

    /// The agent's events (a reload's outcome is one, counted in `nbu.config.reloads`).
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Stops every site task (in-flight requests are cancelled) and waits for them.
    pub async fn shutdown(mut self) {
        let names: Vec<String> = self.sites.keys().cloned().collect();
        for name in names {
            self.stop_site(&name).await;
        }
        // The export loop sends what waits once more, within its budget.
        if let Some((stop, task)) = self.job_event_loop.take() {
            let _ = stop.send(true);
            let budget = self
                .job_events
                .as_ref()
                .map_or(Duration::ZERO, |j| j.flush_budget());
            if tokio::time::timeout(budget, task).await.is_err() {
                tracing::warn!(
                    waiting = self.job_events.as_ref().map_or(0, |j| j.outbox().waiting()),
                    "job events not all sent at shutdown; the checkpoint keeps them for the next start"
                );
            }
        }
    }

    async fn stop_site(&mut self, name: &str) -> Handover {
        let Some(site) = self.sites.remove(name) else {
            return Handover::default();
        };
        let _ = site.stop.send(true);
        site.task.await.unwrap_or_default()
    }

    fn spawn_site(&mut self, site: SiteConfig, handover: Handover) {
        let name = site.name.clone();
        let propagation = Propagation::named(&self.config.traces.propagators);
        let built = SiteClient::new(&ClientSettings::from(&site)).and_then(|client| {
            let client = client
                .with_events(self.events.clone())
                .with_propagation(propagation);
            SiteCollector::with_client(client, site.clone())
        });
        let collector = built.map(Arc::new);
        match &collector {
            Ok(c) => self.readiness.register(c.clone()),
            Err(e) => self.readiness.register_failed(&name, e.to_string()),
        }
        let snapshot = handover
            .snapshot
            .clone()
            .unwrap_or_else(|| SiteSnapshot::empty(&name));
        self.store.publish(snapshot);
        let (stop, stop_rx) = watch::channel(false);
        let task = SiteTask {
            site: site.clone(),
            store: self.store.clone(),
            recorder: self.recorder.clone(),
            events: self.events.clone(),
            job_events: self.job_events.clone(),
            stop: stop_rx,
        };
        let handle = tokio::spawn(task.supervise(collector, handover));
        self.sites.insert(name, RunningSite { stop, task: handle });
    }
}

/// Why a site's task of [`join_sites`] gave no output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteTaskError {
    /// The task panicked, with this message.
    #[error("panicked: {0}")]
    Panicked(String),
    /// The task was cancelled (the runtime is shutting down).
    #[error("cancelled")]
    Cancelled,
}

/// Runs the futures concurrently, each in a task of its own, and returns their outputs in
/// order. A future that panicked gives `Err` with the panic's message instead of vanishing, so
/// a command can count it as the failure it is.
pub async fn join_sites<F>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<Result<F::Output, SiteTaskError>>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.map_err(|e| {
            if e.is_panic() {
                SiteTaskError::Panicked(site_task::panic_message(e.into_panic().as_ref()))
            } else {
                SiteTaskError::Cancelled
            }
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_site_future_is_reported_not_dropped() {
        let futures: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = u32> + Send>>> = vec![
            Box::pin(async { 1 }),
            Box::pin(async { panic!("cannot convert float seconds to Duration") }),
            Box::pin(async { 3 }),
        ];
        let results = join_sites(futures).await;
        assert_eq!(results.len(), 3, "every site is accounted for");
        assert_eq!(results[0], Ok(1));
        assert_eq!(results[2], Ok(3));
        let err = results[1].clone().expect_err("the panic is an error");
        assert!(
            err.to_string().contains("cannot convert float seconds"),
            "{err}"
        );
    }
}
