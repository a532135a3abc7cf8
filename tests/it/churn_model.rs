//! A day of label churn at a NetBackup estate, in five-minute steps, through the export path
//! as the agent runs it: snapshots published to the store, the instruments on a meter
//! provider, the OTLP push's encoding (removed sites filtered) and the Prometheus bridge.
//!
//! What churns: every storage unit is replaced by a unit of a new name once an hour (a
//! twelfth of them at each step); a quarter of the policy types, a different quarter each
//! hour, do not appear; the first site is removed and a site of a new name added every six
//! hours, as a reload does. The current label values at each step come from this model, not
//! from the agent. Used by the churn test and by `examples/label_churn.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use nbu_otel::collect::summary::{JobsSummary, StorageKey, StorageSummary};
use nbu_otel::collect::{FinishedJob, SiteSnapshot, SourceData};
use nbu_otel::config::DEFAULT_OTLP_MAX_MESSAGE_BYTES;
use nbu_otel::events::Events;
use nbu_otel::telemetry::bridge::PrometheusBridge;
use nbu_otel::telemetry::instruments::{JobRecorder, SnapshotStore, register};
use nbu_otel::telemetry::otlp::ExportedSites;
use nbu_otel::telemetry::pipeline::cardinality_view;
use nbu_otel::telemetry::split::{self, EncodedRequest};
use nbu_sim::{SimConfig, SimTruth};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader as _;

use crate::shared_reader::SharedReader;

/// Five-minute steps in a day.
pub const STEPS_PER_DAY: u32 = 288;
/// Steps in an hour.
const HOUR: u32 = 12;
/// Sites at any step.
pub const SITES: usize = 3;

/// The data of one site slot, before churn.
struct Base {
    jobs: JobsSummary,
    storage: StorageSummary,
}

/// The estate: what each site reports at each step.
pub struct Estate {
    bases: Vec<Base>,
}

impl Estate {
    /// Sites of `jobs` jobs and `units` storage units each (the simulator's datasets).
    pub fn new(jobs: u64, units: u32) -> Self {
        let anchor = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
        let bases = (0..SITES)
            .map(|slot| {
                let config = SimConfig {
                    seed: 11 + slot as u64,
                    jobs,
                    storage_units: units,
                    anchor,
                    ..SimConfig::default()
                };
                let truth = crate::common::truth::expected(&SimTruth::compute(
                    &config,
                    anchor - chrono::Duration::hours(72),
                ));
                Base {
                    jobs: truth.jobs,
                    storage: truth.storage,
                }
            })
            .collect();
        Self { bases }
    }

    /// The configured sites at `step`: the first slot gets a new site every six hours.
    pub fn sites(&self, step: u32) -> Vec<String> {
        (0..SITES)
            .map(|slot| {
                let generation = if slot == 0 { step / (6 * HOUR) } else { 0 };
                format!("primary-{slot}-{generation}")
            })
            .collect()
    }

    /// Whether `policy_type` appears at `step`: a different quarter of them is absent each hour.
    pub fn policy_type_appears(policy_type: &str, step: u32) -> bool {
        let h = policy_type.bytes().map(u32::from).sum::<u32>();
        !(h + step / HOUR).is_multiple_of(4)
    }

    /// The name of the storage unit `name` (the `index`-th of its site) at `step`: replaced
    /// once an hour, a twelfth of the units at each step.
    pub fn unit_name(name: &str, index: usize, step: u32) -> String {
        let generation = (step + index as u32 % HOUR) / HOUR;
        format!("{name}-{generation}")
    }

    /// The storage unit names of site slot `slot` at `step`.
    pub fn unit_names(&self, slot: usize, step: u32) -> BTreeSet<String> {
        self.bases[slot]
            .storage
            .units
            .keys()
            .enumerate()
            .map(|(i, k)| Self::unit_name(&k.name, i, step))
            .collect()
    }

    /// The policy types site slot `slot` reports for finished jobs at `step`.
    pub fn policy_types(&self, slot: usize, step: u32) -> BTreeSet<String> {
        self.bases[slot]
            .jobs
            .counts
            .keys()
            .map(|k| k.policy_type.clone())
            .filter(|p| Self::policy_type_appears(p, step))
            .collect()
    }

    /// The snapshot site slot `slot` publishes at `step`, under the name `site`.
    pub fn snapshot(&self, slot: usize, site: &str, step: u32) -> SiteSnapshot {
        let base = &self.bases[slot];
        let appears = |p: &str| Self::policy_type_appears(p, step);
        let mut jobs = base.jobs.clone();
        jobs.counts.retain(|k, _| appears(&k.policy_type));
        jobs.bytes.retain(|k, _| appears(&k.policy_type));
        jobs.files.retain(|k, _| appears(&k.policy_type));
        jobs.dedup_ratio.retain(|k, _| appears(&k.policy_type));
        jobs.durations.retain(|k, _| appears(&k.policy_type));
        let mut storage = base.storage.clone();
        storage.units = base
            .storage
            .units
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                let key = StorageKey {
                    name: Self::unit_name(&k.name, i, step),
                    server_type: k.server_type.clone(),
                };
                (key, v.clone())
            })
            .collect();
        let now = SystemTime::now();
        let mut s = SiteSnapshot::empty(site);
        s.up = true;
        s.response_time = Some(Duration::from_millis(12));
        s.jobs = Some(SourceData {
            summary: Arc::new(jobs),
            collected_at: now,
            max_age: Duration::MAX,
        });
        s.storage = Some(SourceData {
            summary: Arc::new(storage),
            collected_at: now,
            max_age: Duration::MAX,
        });
        s.jobs_last_success = Some(now);
        s.storage_last_success = Some(now);
        s
    }
}

/// What one step exported.
pub struct Exported {
    /// The SDK's collection.
    pub collected: ResourceMetrics,
    /// The OTLP requests the push would send.
    pub requests: Vec<EncodedRequest>,
    /// The bridge's exposition.
    pub exposition: String,
}

/// The agent's export path over a churning estate.
pub struct Day {
    /// The estate.
    pub estate: Estate,
    reader: SharedReader,
    _provider: SdkMeterProvider,
    store: SnapshotStore,
    recorder: JobRecorder,
    /// Events counted in `recorder.counters`, as the agent's are.
    events: Events,
    bridge: PrometheusBridge,
    exported: ExportedSites,
    live: Vec<String>,
}

impl Day {
    /// The export path over `estate`, as the agent builds it (default limits).
    pub fn new(estate: Estate) -> Self {
        let reader = SharedReader::new();
        let provider = SdkMeterProvider::builder()
            .with_view(cardinality_view(
                nbu_otel::config::DEFAULT_OTLP_MAX_SERIES_PER_METRIC,
                SITES,
            ))
            .with_reader(reader.clone())
            .build();
        let store = SnapshotStore::new();
        let recorder = register(&provider.meter("nbu-otel"), &store);
        let bridge = PrometheusBridge::new(store.clone(), recorder.counters.clone());
        let events = Events::counting_in(recorder.counters.clone());
        Self {
            estate,
            reader,
            _provider: provider,
            store,
            recorder,
            events,
            bridge,
            exported: ExportedSites::new(),
            live: Vec::new(),
        }
    }

    /// Step `step`: sites removed and added as a reload does, every site's snapshot
    /// published, requests counted and one job per site finished; then one export and one
    /// scrape.
    pub fn step(&mut self, step: u32) -> Exported {
        let sites = self.estate.sites(step);
        self.exported.set(sites.iter().cloned());
        for gone in self.live.iter().filter(|s| !sites.contains(s)) {
            self.store.remove(gone);
            self.recorder.remove_site(gone);
        }
        self.live.clone_from(&sites);
        for (slot, site) in sites.iter().enumerate() {
            self.store.publish(self.estate.snapshot(slot, site, step));
            self.events.request_answered(site, "/admin/jobs", "200");
            if let Some(policy_type) = self.estate.policy_types(slot, step).first() {
                self.recorder.job_finished(
                    site,
                    &FinishedJob {
                        job_id: u64::from(step),
                        action: "BACKUP",
                        policy_type,
                        status: Some(0),
                        seconds: Some(f64::from(step % 7_200)),
                        bytes: 1024,
                        start_ms: None,
                        end_ms: None,
                        details: None,
                    },
                );
            }
        }
        let mut collected = ResourceMetrics::default();
        let _ = self.reader.collect(&mut collected);
        let requests = split::encode(
            &collected,
            |site| self.exported.allows(site),
            DEFAULT_OTLP_MAX_MESSAGE_BYTES,
        );
        let exposition = String::from_utf8_lossy(&self.bridge.render().body()).into_owned();
        Exported {
            collected,
            requests,
            exposition,
        }
    }
}

/// Label values of `label` by site, from `(labels, value)` pairs.
pub fn values_by_site<'a>(
    series: impl Iterator<Item = &'a [(String, String)]>,
    label: &str,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for labels in series {
        let get = |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if let (Some(site), Some(value)) = (get("site"), get(label)) {
            out.entry(site).or_default().insert(value);
        }
    }
    out
}
