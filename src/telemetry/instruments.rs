//! OpenTelemetry instruments registered from the catalog on an injected meter.
//!
//! Observable gauges read the latest published [`SiteSnapshot`]s: a callback clones the `Arc`s
//! under a short read lock and never waits on I/O. Series of a source whose data is stale (or
//! absent) are simply not observed, so they disappear from every reader.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use opentelemetry::metrics::{AsyncInstrument, Histogram, Meter};
use opentelemetry::{Key, KeyValue, StringValue, Value};

use super::catalog::{
    BUILD_INFO, CATALOG, DURATION_BUCKETS, JOB_DURATION, Kind, MetricDef, Value as CatalogValue,
};
use super::counter_store::{COUNTERS, CounterStore};
use crate::collect::{FinishedJob, SiteSnapshot};

/// The latest snapshot of every site, shared between collectors (writers) and instrument
/// callbacks (readers).
#[derive(Debug, Clone, Default)]
pub struct SnapshotStore {
    sites: Arc<RwLock<Sites>>,
}

/// Each site's latest snapshot, with the version it was published under.
#[derive(Debug, Default)]
struct Sites {
    next_version: u64,
    latest: BTreeMap<String, (u64, Arc<SiteSnapshot>)>,
}

impl SnapshotStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes a site's new snapshot, replacing the previous one atomically.
    pub fn publish(&self, snapshot: SiteSnapshot) {
        let mut sites = self.sites.write().unwrap_or_else(|p| p.into_inner());
        sites.next_version += 1;
        let version = sites.next_version;
        sites
            .latest
            .insert(snapshot.site.clone(), (version, Arc::new(snapshot)));
    }

    /// Forgets a site (removed by a reload): its series disappear.
    pub fn remove(&self, site: &str) {
        let mut sites = self.sites.write().unwrap_or_else(|p| p.into_inner());
        sites.latest.remove(site);
    }

    /// The current snapshots, in site order.
    pub fn all(&self) -> Vec<Arc<SiteSnapshot>> {
        let sites = self.sites.read().unwrap_or_else(|p| p.into_inner());
        sites.latest.values().map(|(_, s)| s.clone()).collect()
    }

    /// The current snapshots, in site order, each with its version: a number that is never
    /// given to another snapshot, so an unchanged version means an unchanged snapshot.
    pub fn all_versioned(&self) -> Vec<(u64, Arc<SiteSnapshot>)> {
        let sites = self.sites.read().unwrap_or_else(|p| p.into_inner());
        sites.latest.values().cloned().collect()
    }

    /// The current snapshot of one site.
    pub fn get(&self, site: &str) -> Option<Arc<SiteSnapshot>> {
        let sites = self.sites.read().unwrap_or_else(|p| p.into_inner());
        sites.latest.get(site).map(|(_, s)| s.clone())
    }
}

/// Records each finished job of every site (its duration, one more completed job, its bytes),
/// and holds the agent's [`CounterStore`], which the events count in too.
///
/// Counts are kept in the [`CounterStore`], which the OTLP push reads through observable
/// counters and the Prometheus bridge reads directly; the duration histogram also goes to an
/// OpenTelemetry histogram for the push.
#[derive(Debug, Clone)]
pub struct JobRecorder {
    /// `nbu.job.duration.seconds` for the OTLP push: each finished job once; `None` for an
    /// agent without OpenTelemetry instruments ([`JobRecorder::counters_only`]).
    pub job_duration: Option<Histogram<f64>>,
    /// Every counter and the duration histogram, for both exports.
    pub counters: Arc<CounterStore>,
}

impl JobRecorder {
    /// Records a finished job (called once per job): its duration, and one more completed
    /// job with its bytes.
    pub fn job_finished(&self, site: &str, job: &FinishedJob<'_>) {
        if let Some(seconds) = job.seconds {
            if let Some(histogram) = &self.job_duration {
                histogram.record(
                    seconds,
                    // In key order, as the SDK keeps them (see `sorted`).
                    &[
                        KeyValue::new("action", job.action.to_owned()),
                        KeyValue::new("policy_type", job.policy_type.to_owned()),
                        KeyValue::new("site", site.to_owned()),
                    ],
                );
            }
            CounterStore::record(
                &self.counters.job_duration,
                &[site, job.action, job.policy_type],
                seconds,
            );
        }
        let status = job.status_label();
        let labels = [site, job.action, job.policy_type, status.as_ref()];
        CounterStore::add(&self.counters.jobs_completed, &labels, 1);
        CounterStore::add(&self.counters.jobs_transferred_bytes, &labels, job.bytes);
    }

    /// A recorder without OpenTelemetry instruments: the counters and the histogram kept for
    /// the Prometheus bridge only (an agent whose meter provider would have no reader).
    pub fn counters_only() -> Self {
        JobRecorder {
            job_duration: None,
            counters: Arc::new(CounterStore::default()),
        }
    }

    /// Forgets the counters of a site removed from the configuration.
    pub fn remove_site(&self, site: &str) {
        self.counters.remove_site(site);
    }
}

/// Observed integers are sent over OTLP as signed 64-bit: clamp instead of wrapping to 0.
fn clamp_i64(v: u64) -> u64 {
    v.min(i64::MAX as u64)
}

/// Label values shared by the attribute sets of every instrument.
///
/// The SDK keeps each attribute set it is given as the key of its series for as long as the
/// series is observed, and copies it into every collection's data points.
/// Values handed out here are reference-counted: a storage unit's name, seen by six
/// instruments, and a site's name, seen by every series, are one string each, and the SDK's
/// copies are pointers. Values no attribute set holds any more are dropped once the set has
/// doubled since it was last pruned.
#[derive(Debug, Default)]
struct Interner {
    values: Mutex<InternedValues>,
}

#[derive(Debug, Default)]
struct InternedValues {
    set: HashSet<Arc<str>>,
    /// The size of the set after the last pruning.
    kept: usize,
}

/// The smallest set that is pruned.
const INTERNER_PRUNE_FLOOR: usize = 1024;

impl Interner {
    /// The shared value equal to `text`.
    fn value(&self, text: &str) -> Value {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = values.set.get(text) {
            return Value::String(StringValue::from(v.clone()));
        }
        if values.set.len() >= INTERNER_PRUNE_FLOOR.max(2 * values.kept) {
            values.set.retain(|v| Arc::strong_count(v) > 1);
            values.kept = values.set.len();
        }
        let v: Arc<str> = Arc::from(text);
        values.set.insert(v.clone());
        Value::String(StringValue::from(v))
    }

    /// Number of values held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .set
            .len()
    }
}

/// An attribute set in key order, the order the SDK keys its series by: given in that order,
/// the SDK stores the set once per series (given in another order, it stores it twice, as
/// given and sorted).
fn sorted(mut attributes: Vec<KeyValue>) -> Vec<KeyValue> {
    attributes.sort_unstable_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    attributes
}

/// The attributes of one series of a site: `site` and the metric's labels, in key order, with
/// shared values.
fn attributes(interner: &Interner, site: &Value, labels: &[(&'static str, &str)]) -> Vec<KeyValue> {
    let mut out = Vec::with_capacity(labels.len() + 1);
    out.push(KeyValue::new(Key::from_static_str("site"), site.clone()));
    out.extend(
        labels
            .iter()
            .map(|(k, v)| KeyValue::new(Key::from_static_str(k), interner.value(v))),
    );
    sorted(out)
}

fn observe_all(
    store: &SnapshotStore,
    interner: &Interner,
    metric: &MetricDef,
    mut sink: impl FnMut(&[KeyValue], CatalogValue<'_>),
) {
    if !metric.reads_snapshots() {
        return;
    }
    for snapshot in store.all() {
        let site = interner.value(&snapshot.site);
        metric.read_series(&snapshot, &mut |labels, value| {
            sink(&attributes(interner, &site, labels), value)
        });
    }
}

/// Registers every catalog instrument on `meter`; observable ones read `store` (the gauges)
/// or the returned recorder's counter store (the counters).
pub fn register(meter: &Meter, store: &SnapshotStore) -> JobRecorder {
    let interner = Arc::new(Interner::default());
    for metric in CATALOG
        .iter()
        .filter(|m| m.kind == Kind::Gauge && m.reads_snapshots())
    {
        let store = store.clone();
        let interner = interner.clone();
        let metric = *metric;
        if metric.float {
            meter
                .f64_observable_gauge(metric.name)
                .with_description(metric.description)
                .with_unit(metric.unit)
                .with_callback(move |obs: &dyn AsyncInstrument<f64>| {
                    observe_all(&store, &interner, &metric, |attrs, value| {
                        if let CatalogValue::F64(v) = value {
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
                    observe_all(&store, &interner, &metric, |attrs, value| {
                        if let CatalogValue::U64(v) = value {
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
                    KeyValue::new("rustversion", env!("NBU_OTEL_RUSTC_VERSION")),
                    KeyValue::new("version", env!("CARGO_PKG_VERSION")),
                ],
            );
        })
        .build();
    let counters = Arc::new(CounterStore::default());
    for (name, family) in COUNTERS {
        let m = def(name);
        let counters = counters.clone();
        let interner = interner.clone();
        meter
            .u64_observable_counter(name)
            .with_description(m.map_or("", |m| m.description))
            .with_unit(m.map_or("", |m| m.unit))
            .with_callback(move |obs: &dyn AsyncInstrument<u64>| {
                let family = family(&counters);
                family.for_each(|values, v| {
                    let attrs: Vec<KeyValue> = family
                        .labels
                        .iter()
                        .zip(values)
                        .map(|(k, v)| KeyValue::new(Key::from_static_str(k), interner.value(v)))
                        .collect();
                    let attrs = sorted(attrs);
                    obs.observe(clamp_i64(*v), &attrs);
                });
            })
            .build();
    }
    let duration = def(JOB_DURATION);
    JobRecorder {
        job_duration: Some(
            meter
                .f64_histogram(JOB_DURATION)
                .with_description(duration.map_or("", |m| m.description))
                .with_unit(duration.map_or("", |m| m.unit))
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
        ),
        counters,
    }
}

fn def(name: &str) -> Option<&'static MetricDef> {
    CATALOG.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_shared_and_attributes_come_in_key_order() {
        let interner = Interner::default();
        let site = interner.value("a");
        let attrs = attributes(&interner, &site, &[("type", "disk"), ("name", "u1")]);
        let keys: Vec<&str> = attrs.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["name", "site", "type"]);
        let again = attributes(&interner, &site, &[("type", "disk"), ("name", "u1")]);
        assert_eq!(attrs, again);
        assert_eq!(interner.len(), 3, "one string per distinct value");
        // Shared, not copied: the two sets point at the same bytes.
        for (a, b) in attrs.iter().zip(&again) {
            assert_eq!(
                a.value.as_str().as_ptr(),
                b.value.as_str().as_ptr(),
                "{}",
                a.key
            );
        }
        // Values nobody holds are dropped once the set has doubled since the last pruning.
        drop((attrs, again, site));
        for i in 0..INTERNER_PRUNE_FLOOR + 1 {
            let _ = interner.value(&format!("v{i}"));
        }
        assert!(interner.len() < INTERNER_PRUNE_FLOOR, "{}", interner.len());
    }
}
