//! OpenTelemetry instruments registered from the catalog on an injected meter.
//!
//! Observable gauges read the latest published [`SiteSnapshot`]s: a callback clones the `Arc`s
//! under a short read lock and never waits on I/O. Series of a source whose data is stale (or
//! absent) are simply not observed, so they disappear from every reader.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{AsyncInstrument, Counter, Histogram, Meter};

use super::catalog::{
    API_REQUESTS, BUILD_INFO, CATALOG, COLLECTION_ERRORS, CONFIG_RELOADS, DURATION_BUCKETS,
    JOB_DURATION, JOBS_COMPLETED, JOBS_TRANSFERRED_BYTES, Kind, MetricDef, Value,
};
use crate::collect::{FinishedJob, SiteSnapshot};

/// The latest snapshot of every site, shared between collectors (writers) and instrument
/// callbacks (readers).
#[derive(Debug, Clone, Default)]
pub struct SnapshotStore {
    sites: Arc<RwLock<BTreeMap<String, Arc<SiteSnapshot>>>>,
}

impl SnapshotStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes a site's new snapshot, replacing the previous one atomically.
    pub fn publish(&self, snapshot: SiteSnapshot) {
        let mut sites = self.sites.write().unwrap_or_else(|p| p.into_inner());
        sites.insert(snapshot.site.clone(), Arc::new(snapshot));
    }

    /// Forgets a site (removed by a reload): its series disappear.
    pub fn remove(&self, site: &str) {
        let mut sites = self.sites.write().unwrap_or_else(|p| p.into_inner());
        sites.remove(site);
    }

    /// The current snapshots, in site order.
    pub fn all(&self) -> Vec<Arc<SiteSnapshot>> {
        let sites = self.sites.read().unwrap_or_else(|p| p.into_inner());
        sites.values().cloned().collect()
    }

    /// The current snapshot of one site.
    pub fn get(&self, site: &str) -> Option<Arc<SiteSnapshot>> {
        let sites = self.sites.read().unwrap_or_else(|p| p.into_inner());
        sites.get(site).cloned()
    }
}

/// The synchronous instruments the agent records into.
#[derive(Debug, Clone)]
pub struct Recorders {
    /// `nbu.job.duration.seconds`: each finished job once.
    pub job_duration: Histogram<f64>,
    /// `nbu.jobs.completed`: each finished job once.
    pub jobs_completed: Counter<u64>,
    /// `nbu.jobs.transferred.bytes`: the bytes of each finished job once.
    pub jobs_transferred_bytes: Counter<u64>,
    /// `nbu.collection.errors`: failed collections by site, source and kind.
    pub collection_errors: Counter<u64>,
    /// `nbu.api.requests`: requests to NetBackup by site, endpoint and outcome.
    pub api_requests: Counter<u64>,
    /// `nbu.config.reloads`: reloads by result.
    pub config_reloads: Counter<u64>,
}

impl Recorders {
    /// Records a failed collection.
    pub fn collection_error(&self, site: &str, source: &'static str, kind: &'static str) {
        self.collection_errors.add(
            1,
            &[
                KeyValue::new("site", site.to_owned()),
                KeyValue::new("source", source),
                KeyValue::new("kind", kind),
            ],
        );
    }

    /// Counts one HTTP exchange with NetBackup.
    pub fn api_request(&self, site: &str, endpoint: &str, outcome: &str) {
        self.api_requests.add(
            1,
            &[
                KeyValue::new("site", site.to_owned()),
                KeyValue::new("endpoint", endpoint.to_owned()),
                KeyValue::new("status", outcome.to_owned()),
            ],
        );
    }

    /// Counts one configuration reload attempt.
    pub fn config_reload(&self, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.config_reloads
            .add(1, &[KeyValue::new("result", result)]);
    }

    /// Records a finished job (called once per job): its duration, and one more completed
    /// job with its bytes.
    pub fn job_finished(&self, site: &str, job: &FinishedJob<'_>) {
        let mut labels = vec![
            KeyValue::new("site", site.to_owned()),
            KeyValue::new("action", job.action.to_owned()),
            KeyValue::new("policy_type", job.policy_type.to_owned()),
        ];
        if let Some(seconds) = job.seconds {
            self.job_duration.record(seconds, &labels);
        }
        labels.push(KeyValue::new("status", job.status_label()));
        self.jobs_completed.add(1, &labels);
        self.jobs_transferred_bytes.add(job.bytes, &labels);
    }
}

/// Observed integers are sent over OTLP as signed 64-bit: clamp instead of wrapping to 0.
fn clamp_i64(v: u64) -> u64 {
    v.min(i64::MAX as u64)
}

fn attributes(site: &str, labels: &[(&'static str, &str)]) -> Vec<KeyValue> {
    let mut out = Vec::with_capacity(labels.len() + 1);
    out.push(KeyValue::new("site", site.to_owned()));
    out.extend(
        labels
            .iter()
            .map(|(k, v)| KeyValue::new(*k, (*v).to_owned())),
    );
    out
}

fn observe_all(
    store: &SnapshotStore,
    metric: &MetricDef,
    mut sink: impl FnMut(&[KeyValue], Value<'_>),
) {
    let Some(read) = metric.read else { return };
    for snapshot in store.all() {
        read(&snapshot, &mut |labels, value| {
            sink(&attributes(&snapshot.site, labels), value)
        });
    }
}

/// Registers every catalog instrument on `meter`; observable ones read `store`.
pub fn register(meter: &Meter, store: &SnapshotStore) -> Recorders {
    for metric in CATALOG
        .iter()
        .filter(|m| m.kind == Kind::Gauge && m.read.is_some())
    {
        let store = store.clone();
        let metric = *metric;
        if metric.float {
            meter
                .f64_observable_gauge(metric.name)
                .with_description(metric.description)
                .with_unit(metric.unit)
                .with_callback(move |obs: &dyn AsyncInstrument<f64>| {
                    observe_all(&store, &metric, |attrs, value| {
                        if let Value::F64(v) = value {
                            obs.observe(v, attrs);
                        }
                    });
                })
                .build();
        } else {
            meter
                .u64_observable_gauge(metric.name)
                .with_description(metric.description)
                .with_unit(metric.unit)
                .with_callback(move |obs: &dyn AsyncInstrument<u64>| {
                    observe_all(&store, &metric, |attrs, value| {
                        if let Value::U64(v) = value {
                            obs.observe(clamp_i64(v), attrs);
                        }
                    });
                })
                .build();
        }
    }
    let build_info = def(BUILD_INFO);
    meter
        .u64_observable_gauge(BUILD_INFO)
        .with_description(build_info.map_or("", |m| m.description))
        .with_unit(build_info.map_or("", |m| m.unit))
        .with_callback(|obs: &dyn AsyncInstrument<u64>| {
            obs.observe(
                1,
                &[
                    KeyValue::new("version", env!("CARGO_PKG_VERSION")),
                    KeyValue::new("rustversion", env!("NBU_OTEL_RUSTC_VERSION")),
                ],
            );
        })
        .build();
    let duration = def(JOB_DURATION);
    let counter = |name: &'static str| {
        let m = def(name);
        meter
            .u64_counter(name)
            .with_description(m.map_or("", |m| m.description))
            .with_unit(m.map_or("", |m| m.unit))
            .build()
    };
    Recorders {
        api_requests: counter(API_REQUESTS),
        jobs_completed: counter(JOBS_COMPLETED),
        jobs_transferred_bytes: counter(JOBS_TRANSFERRED_BYTES),
        config_reloads: counter(CONFIG_RELOADS),
        job_duration: meter
            .f64_histogram(JOB_DURATION)
            .with_description(duration.map_or("", |m| m.description))
            .with_unit(duration.map_or("", |m| m.unit))
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build(),
        collection_errors: counter(COLLECTION_ERRORS),
    }
}

fn def(name: &str) -> Option<&'static MetricDef> {
    CATALOG.iter().find(|m| m.name == name)
}
