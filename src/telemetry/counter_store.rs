//! The [`CounterStore`]: the agent's own counters and its duration histogram, kept as plain
//! sums. It is the [`CounterSink`] of the agent's events.
//!
//! Both exports read them: the OTLP push through observable instruments, the Prometheus bridge
//! directly. Every family has a generation number that moves on each change, so the bridge
//! re-renders a family only when it changed. Series of a site are forgotten with
//! [`CounterStore::remove_site`] (a site removed by a reload), in both exports at once.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::catalog::{
    API_RECORDS_SKIPPED, API_REQUESTS, COLLECTION_ERRORS, CONFIG_RELOADS, JOB_EVENTS,
    JOB_EVENTS_TRY_LOGS, JOBS_COMPLETED, JOBS_TRANSFERRED_BYTES, OTLP_EXPORTS,
};
use crate::collect::summary::DurationHistogram;
use crate::events::{Counter, CounterSink};

/// Label values of one series, in the family's label order. The values are shared by the
/// family's series (a site's name, an action, a policy type or a status is one string for
/// all the series that carry it).
pub type LabelValues = Box<[Arc<str>]>;

/// A family of series keyed by label values, with a change generation.
#[derive(Debug)]
pub struct Family<V> {
    /// Label names, in the order of the values of every series.
    pub labels: &'static [&'static str],
    /// Whether the first label is `site` (and [`CounterStore::remove_site`] applies).
    site_first: bool,
    generation: AtomicU64,
    series: Mutex<Series<V>>,
}

/// The series of a family and the label values they share.
#[derive(Debug)]
struct Series<V> {
    map: BTreeMap<LabelValues, V>,
    values: HashSet<Arc<str>>,
}

impl<V> Series<V> {
    /// The shared value equal to `text`.
    fn value(&mut self, text: &str) -> Arc<str> {
        if let Some(v) = self.values.get(text) {
            return v.clone();
        }
        let v: Arc<str> = Arc::from(text);
        self.values.insert(v.clone());
        v
    }
}

impl<V> Family<V> {
    fn new(labels: &'static [&'static str]) -> Self {
        Self {
            labels,
            site_first: labels.first() == Some(&"site"),
            generation: AtomicU64::new(0),
            series: Mutex::new(Series {
                map: BTreeMap::new(),
                values: HashSet::new(),
            }),
        }
    }

    /// A number that changes whenever a series of the family changes, appears or goes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Changes the series `values` (created with `V::default()` when new).
    fn update(&self, values: &[&str], change: impl FnOnce(&mut V))
    where
        V: Default,
    {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let key: LabelValues = values.iter().map(|v| series.value(v)).collect();
        change(series.map.entry(key).or_default());
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Calls `visit` for every series, in label order, under the family's lock.
    pub fn for_each(&self, mut visit: impl FnMut(&[Arc<str>], &V)) {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        for (k, v) in series.map.iter() {
            visit(k, v);
        }
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }

    /// Whether the family has no series.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remove_site(&self, site: &str) {
        if !self.site_first {
            return;
        }
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let before = series.map.len();
        series
            .map
            .retain(|k, _| k.first().map(|s| &**s) != Some(site));
        if series.map.len() != before {
            // The values only the removed series held go with them.
            series.values.retain(|v| Arc::strong_count(v) > 1);
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// Label names of `nbu.api.requests`.
pub const API_REQUEST_LABELS: &[&str] = &["site", "endpoint", "status"];
/// Label names of `nbu.api.records.skipped`.
pub const RECORDS_SKIPPED_LABELS: &[&str] = &["site", "endpoint"];
/// Label names of `nbu.collection.errors`.
pub const COLLECTION_ERROR_LABELS: &[&str] = &["site", "source", "kind"];
/// Label names of `nbu.config.reloads` and `nbu.otlp.exports`.
pub const CONFIG_RELOAD_LABELS: &[&str] = &["result"];
/// Label names of `nbu.jobs.completed` and `nbu.jobs.transferred.bytes`.
pub const FINISHED_JOB_LABELS: &[&str] = &["site", "action", "policy_type", "status"];
/// Label names of `nbu.job_events` and `nbu.job_events.try_logs`.
pub const JOB_EVENT_LABELS: &[&str] = &["site", "outcome"];
/// Label names of `nbu.job.duration.seconds`.
pub const DURATION_LABELS: &[&str] = &["site", "action", "policy_type"];

/// Reads one counter family of the counter store.
pub type CounterOf = fn(&CounterStore) -> &Family<u64>;

/// The counter families, under their catalog names.
pub const COUNTERS: [(&str, CounterOf); 9] = [
    (API_REQUESTS, |t| &t.api_requests),
    (API_RECORDS_SKIPPED, |t| &t.records_skipped),
    (COLLECTION_ERRORS, |t| &t.collection_errors),
    (CONFIG_RELOADS, |t| &t.config_reloads),
    (JOBS_COMPLETED, |t| &t.jobs_completed),
    (JOBS_TRANSFERRED_BYTES, |t| &t.jobs_transferred_bytes),
    (OTLP_EXPORTS, |t| &t.otlp_exports),
    (JOB_EVENTS, |t| &t.job_events),
    (JOB_EVENTS_TRY_LOGS, |t| &t.try_log_lookups),
];

/// The series of every counter the agent keeps itself (those events count, and the finished
/// jobs a [`JobRecorder`](super::instruments::JobRecorder) records), and of the job duration
/// histogram.
#[derive(Debug)]
pub struct CounterStore {
    /// `nbu.api.requests`.
    pub api_requests: Family<u64>,
    /// `nbu.api.records.skipped`.
    pub records_skipped: Family<u64>,
    /// `nbu.collection.errors`.
    pub collection_errors: Family<u64>,
    /// `nbu.config.reloads`.
    pub config_reloads: Family<u64>,
    /// `nbu.jobs.completed`.
    pub jobs_completed: Family<u64>,
    /// `nbu.jobs.transferred.bytes`.
    pub jobs_transferred_bytes: Family<u64>,
    /// `nbu.otlp.exports`.
    pub otlp_exports: Family<u64>,
    /// `nbu.job_events`.
    pub job_events: Family<u64>,
    /// `nbu.job_events.try_logs`.
    pub try_log_lookups: Family<u64>,
    /// `nbu.job.duration.seconds`.
    pub job_duration: Family<DurationHistogram>,
}

impl Default for CounterStore {
    fn default() -> Self {
        Self {
            api_requests: Family::new(API_REQUEST_LABELS),
            records_skipped: Family::new(RECORDS_SKIPPED_LABELS),
            collection_errors: Family::new(COLLECTION_ERROR_LABELS),
            config_reloads: Family::new(CONFIG_RELOAD_LABELS),
            jobs_completed: Family::new(FINISHED_JOB_LABELS),
            jobs_transferred_bytes: Family::new(FINISHED_JOB_LABELS),
            otlp_exports: Family::new(CONFIG_RELOAD_LABELS),
            job_events: Family::new(JOB_EVENT_LABELS),
            try_log_lookups: Family::new(JOB_EVENT_LABELS),
            job_duration: Family::new(DURATION_LABELS),
        }
    }
}

impl CounterStore {
    /// Adds `n` to a counter series.
    pub fn add(family: &Family<u64>, values: &[&str], n: u64) {
        family.update(values, |v| *v = v.saturating_add(n));
    }

    /// Records one duration in a histogram series.
    pub fn record(family: &Family<DurationHistogram>, values: &[&str], seconds: f64) {
        family.update(values, |h| h.record(seconds));
    }

    /// Forgets every series of `site`.
    pub fn remove_site(&self, site: &str) {
        self.api_requests.remove_site(site);
        self.records_skipped.remove_site(site);
        self.collection_errors.remove_site(site);
        self.jobs_completed.remove_site(site);
        self.jobs_transferred_bytes.remove_site(site);
        self.job_duration.remove_site(site);
        self.job_events.remove_site(site);
        self.try_log_lookups.remove_site(site);
    }
}

impl CounterSink for CounterStore {
    /// Adds to the family of `counter`; the labels come in its label order, so only their
    /// values are kept.
    fn add(&self, counter: Counter, labels: &[(&'static str, &str)], n: u64) {
        let family = match counter {
            Counter::ApiRequests => &self.api_requests,
            Counter::RecordsSkipped => &self.records_skipped,
            Counter::CollectionErrors => &self.collection_errors,
            Counter::ConfigReloads => &self.config_reloads,
            Counter::OtlpExports => &self.otlp_exports,
            Counter::JobEvents => &self.job_events,
            Counter::TryLogLookups => &self.try_log_lookups,
        };
        debug_assert!(
            family.labels.iter().eq(labels.iter().map(|(name, _)| name)),
            "{counter:?}: labels {labels:?}, not {:?}",
            family.labels
        );
        let mut values = [""; 4];
        for (slot, (_, value)) in values.iter_mut().zip(labels) {
            *slot = value;
        }
        CounterStore::add(family, &values[..labels.len().min(values.len())], n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_series_and_removed_sites_go() {
        let t = CounterStore::default();
        let g0 = t.api_requests.generation();
        CounterStore::add(&t.api_requests, &["a", "jobs", "200"], 1);
        CounterStore::add(&t.api_requests, &["a", "jobs", "200"], 2);
        CounterStore::add(&t.api_requests, &["b", "jobs", "200"], 1);
        assert_ne!(t.api_requests.generation(), g0);
        let mut seen = Vec::new();
        t.api_requests
            .for_each(|k, v| seen.push((k.first().map(|s| s.to_string()), *v)));
        assert_eq!(
            seen,
            vec![(Some("a".to_owned()), 3), (Some("b".to_owned()), 1)]
        );
        let g1 = t.api_requests.generation();
        t.remove_site("a");
        assert_ne!(t.api_requests.generation(), g1);
        assert_eq!(t.api_requests.len(), 1);
        // Values are shared by the series, and forgotten with the last series holding them.
        CounterStore::add(&t.api_requests, &["b", "jobs", "500"], 1);
        let mut firsts = Vec::new();
        t.api_requests.for_each(|k, _| firsts.push(k[0].clone()));
        assert!(Arc::ptr_eq(&firsts[0], &firsts[1]), "one string for site b");
        drop(firsts);
        let held = |t: &CounterStore| {
            t.api_requests
                .series
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values
                .len()
        };
        assert_eq!(held(&t), 4, "b, jobs, 200, 500");
        t.remove_site("b");
        assert_eq!((t.api_requests.len(), held(&t)), (0, 0));
        CounterStore::add(&t.api_requests, &["b", "jobs", "200"], 1);
        let g2 = t.api_requests.generation();
        t.remove_site("nobody");
        assert_eq!(
            t.api_requests.generation(),
            g2,
            "no change, same generation"
        );
    }
}
