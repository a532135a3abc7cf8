//! The metric catalog: every instrument, once.
//!
//! Instruments are registered from [`CATALOG`], `once --format json` reads series through it,
//! and `docs/metrics.md` is rendered from it ([`render_markdown`]); a test fails when the file
//! drifts. The Prometheus bridge exposes each instrument under its name with dots turned into
//! underscores, which gives exactly the legacy `nbu_exporter` names.

use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::collect::SiteSnapshot;
use crate::collect::sources::{self, FamilyRow};
use crate::config::{DEFAULT_OTLP_MAX_SERIES_PER_METRIC, SourceId};
use std::collections::BTreeMap;

use crate::collect::summary::{DurationHistogram, JobKey, JobsSummary, StorageUnitValues};

/// How an instrument is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An observable gauge read from the latest snapshot.
    Gauge,
    /// A monotonic counter (`_total` in Prometheus).
    Counter,
    /// A histogram recorded as events happen.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        }
    }
}

/// Where a metric's data comes from: a site's health, one of its sources (jobs, storage, an
/// opt-in source, whose staleness hides it), or the agent itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Site health, always present.
    Site,
    /// The jobs source.
    Jobs,
    /// The storage source.
    Storage,
    /// The agent itself.
    Agent,
    /// An opt-in source.
    OptIn(SourceId),
}

/// One observed value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// An integer value.
    U64(u64),
    /// A floating-point value.
    F64(f64),
    /// A histogram (only `once` reads these from snapshots; the agent records events).
    Histogram(&'a DurationHistogram),
}

/// Receives one series: label pairs (besides `site`) and a value.
pub type Emit<'e> = dyn FnMut(&[(&'static str, &str)], Value<'_>) + 'e;

/// Reads the series of one metric from a snapshot.
pub type Reader = fn(&SiteSnapshot, &mut Emit<'_>);

/// How an instrument's series are had.
#[derive(Debug, Clone, Copy)]
pub enum Read {
    /// Read from a snapshot by this function.
    Snapshot(Reader),
    /// Read from a snapshot: the series of its opt-in source's family of the same name.
    OptIn,
    /// Recorded by the agent as things happen (counters, the job duration histogram).
    Recorded,
}

/// One instrument.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// OpenTelemetry instrument name; the bridge name is this with `.` turned into `_`.
    pub name: &'static str,
    /// Instrument kind.
    pub kind: Kind,
    /// Values are floating point (else unsigned integers).
    pub float: bool,
    /// UCUM unit: `1` only for a true ratio; empty for states, versions and info series
    /// (a Collector's Prometheus exporter appends `_ratio` to a gauge of unit `1`) and where
    /// the legacy name already carries the unit word, so that the Collector's default naming
    /// gives back the bridge's names.
    pub unit: &'static str,
    /// What it means.
    pub description: &'static str,
    /// Attributes besides `site`.
    pub labels: &'static [&'static str],
    /// Where its data comes from.
    pub origin: Origin,
    /// Part of the legacy `nbu_exporter` contract.
    pub legacy: bool,
    /// How its series are read.
    pub read: Read,
    /// How many series it can have, which sets its cardinality limit in the OTLP push.
    pub series: Series,
}

/// How many series an instrument can have. The OpenTelemetry SDK reserves room for its
/// cardinality limit in every instrument up front and folds the series beyond it into one
/// `otel.metric.overflow` series, so each instrument gets the limit its labels need
/// ([`MetricDef::series_limit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// At most this many series in all: no `site` attribute, labels from a closed set.
    Total(usize),
    /// At most this many series per site: no labels besides `site`, or labels from a closed
    /// set (a source name, one API version).
    PerSite(usize),
    /// Label values come from NetBackup's data (storage units, policy types, statuses,
    /// clients, endpoints, ...): at most `otlp.max_series_per_metric`.
    Open,
}

/// The fewest sites a per-site bound is multiplied by for the cardinality limit: room for an
/// agent of many NetBackup primaries, and for sites added by a reload (the limit is set once,
/// when the meter provider is built). See [`sites_planned`].
pub const MIN_SITES_PLANNED: usize = 100;

/// The sites a per-site bound is multiplied by for an agent started with `sites` sites:
/// [`MIN_SITES_PLANNED`], or twice the sites configured at start when that is more, so a reload can
/// add as many again.
pub fn sites_planned(sites: usize) -> usize {
    MIN_SITES_PLANNED.max(sites.saturating_mul(2))
}

/// The values of the `source` label: jobs, storage and the opt-in sources.
pub const SOURCES: usize = 2 + SourceId::ALL.len();

impl MetricDef {
    /// The SDK cardinality limit of the instrument in the push: its bound from
    /// [`MetricDef::series`] (a per-site bound times `sites_planned`, see [`sites_planned`]), never
    /// above `max_series` (`otlp.max_series_per_metric`), which open instruments get.
    pub fn series_limit(&self, max_series: usize, sites_planned: usize) -> usize {
        match self.series {
            Series::Total(n) => n.min(max_series),
            Series::PerSite(n) => n.saturating_mul(sites_planned).min(max_series),
            Series::Open => max_series,
        }
        .max(1)
    }

    /// How [`MetricDef::series`] reads in `docs/metrics.md`.
    fn series_doc(&self) -> String {
        match self.series {
            Series::Total(n) => format!("{n} in all"),
            Series::PerSite(n) => format!("{n} per site"),
            Series::Open => "open".to_owned(),
        }
    }
}

impl MetricDef {
    /// Whether its series are read from snapshots (observable gauges), not recorded.
    pub fn reads_snapshots(&self) -> bool {
        !matches!(self.read, Read::Recorded)
    }

    /// Emits its series in `snapshot` (none for an instrument the agent records).
    pub fn read_series(&self, snapshot: &SiteSnapshot, emit: &mut Emit<'_>) {
        match (self.read, self.origin) {
            (Read::Snapshot(read), _) => read(snapshot, emit),
            (Read::OptIn, Origin::OptIn(source)) => opt_in_series(snapshot, source, self, emit),
            (Read::OptIn, _) | (Read::Recorded, _) => {}
        }
    }

    /// The name the Prometheus bridge exposes (counters get `_total` appended by the bridge).
    pub fn prometheus_name(&self) -> String {
        let base = self.name.replace('.', "_");
        match self.kind {
            Kind::Counter => format!("{base}_total"),
            _ => base,
        }
    }
}

/// The legacy Prometheus histogram bucket bounds of `nbu_job_duration_seconds`.
pub use crate::collect::summary::DURATION_BUCKETS;

/// The name of the job duration histogram.
pub const JOB_DURATION: &str = "nbu.job.duration.seconds";
/// The name of the completed jobs counter.
pub const JOBS_COMPLETED: &str = "nbu.jobs.completed";
/// The name of the transferred bytes counter.
pub const JOBS_TRANSFERRED_BYTES: &str = "nbu.jobs.transferred.bytes";
/// The name of the collection error counter.
pub const COLLECTION_ERRORS: &str = "nbu.collection.errors";
/// The name of the NetBackup request counter.
pub const API_REQUESTS: &str = "nbu.api.requests";
/// The name of the counter of records skipped as broken.
pub const API_RECORDS_SKIPPED: &str = "nbu.api.records.skipped";
/// The name of the config reload counter.
pub const CONFIG_RELOADS: &str = "nbu.config.reloads";
/// The name of the OTLP metric export counter.
pub const OTLP_EXPORTS: &str = "nbu.otlp.exports";
/// The name of the job events counter.
pub const JOB_EVENTS: &str = "nbu.job_events";
/// The name of the try-log lookups counter.
pub const JOB_EVENTS_TRY_LOGS: &str = "nbu.job_events.try_logs";
/// The name of the build info gauge (a series without `site`).
pub const BUILD_INFO: &str = "nbu.exporter.build_info";

fn seconds_since_epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Emits one series per job key of a `JobsSummary` map (`nbu_jobs_count`, `nbu_jobs_bytes`).
fn job_key_series(
    s: &SiteSnapshot,
    emit: &mut Emit<'_>,
    field: fn(&JobsSummary) -> &BTreeMap<JobKey, u64>,
) {
    if let Some(j) = s.current_jobs() {
        for (k, v) in field(&j.summary) {
            let labels = [
                ("action", k.action.as_str()),
                ("policy_type", k.policy_type.as_str()),
                ("status", k.status.as_str()),
            ];
            emit(&labels, Value::U64(*v));
        }
    }
}

/// Emits one series per storage unit that reports `field`.
fn storage_unit_series(
    s: &SiteSnapshot,
    emit: &mut Emit<'_>,
    field: fn(&StorageUnitValues) -> Option<u64>,
) {
    if let Some(st) = s.current_storage() {
        for (k, unit) in &st.summary.units {
            if let Some(v) = field(unit) {
                let labels = [("name", k.name.as_str()), ("type", k.server_type.as_str())];
                emit(&labels, Value::U64(v));
            }
        }
    }
}

/// Emits the series an opt-in source collected for `metric`, if its data is current.
fn opt_in_series(s: &SiteSnapshot, source: SourceId, metric: &MetricDef, emit: &mut Emit<'_>) {
    let Some(data) = s.sources.get(&source).and_then(|state| state.current()) else {
        return;
    };
    let float = metric.float;
    for (labels, value) in data.summary.series(metric.name) {
        let pairs: Vec<(&'static str, &str)> =
            labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let value = if float {
            Value::F64(value)
        } else {
            Value::U64(value as u64)
        };
        emit(&pairs, value);
    }
}

/// The series bound of an opt-in family: one series per site when it has no label besides
/// `site`; its labels otherwise come from NetBackup's data.
const fn opt_in_bound(labels: &[&str]) -> Series {
    if labels.is_empty() {
        Series::PerSite(1)
    } else {
        Series::Open
    }
}

/// The catalog entry of a family of an opt-in source.
fn opt_in_metric(source: SourceId, family: &FamilyRow) -> MetricDef {
    MetricDef {
        name: family.name,
        kind: Kind::Gauge,
        float: family.float,
        unit: family.unit,
        description: family.description,
        labels: family.labels,
        origin: Origin::OptIn(source),
        legacy: family.legacy,
        read: Read::OptIn,
        series: opt_in_bound(family.labels),
    }
}

fn disk(unit: &StorageUnitValues) -> [(&'static str, Option<u64>); 2] {
    [("free", unit.free_bytes), ("used", unit.used_bytes)]
}

fn yes_no(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Every instrument of nbu-otel: the site's, the families of every opt-in source (declared in
/// their modules, [`crate::collect::sources`]), and the agent's own, in that order.
pub static CATALOG: LazyLock<Vec<MetricDef>> = LazyLock::new(|| {
    SITE_METRICS
        .iter()
        .copied()
        .chain(sources::families().map(|(id, family)| opt_in_metric(id, family)))
        .chain(AGENT_METRICS.iter().copied())
        .collect()
});

/// The instruments of a site's health, jobs and storage, first in [`CATALOG`].
const SITE_METRICS: &[MetricDef] = &[
    MetricDef {
        name: "nbu.up",
        kind: Kind::Gauge,
        float: false,
        unit: "",
        description: "1 when at least one source of the site (jobs, storage) could be collected in the last collection, as in the Go exporter; 0 when none could (NetBackup unreachable, key refused, no API version agreed). Which source failed: nbu_source_stale.",
        labels: &[],
        origin: Origin::Site,
        legacy: true,
        series: Series::PerSite(1),
        read: Read::Snapshot(|s, emit| emit(&[], Value::U64(u64::from(s.up)))),
    },
    MetricDef {
        name: "nbu.api_version",
        kind: Kind::Gauge,
        float: false,
        unit: "",
        description: "1 for the NetBackup API version in use (negotiated or pinned).",
        labels: &["version"],
        origin: Origin::Site,
        legacy: true,
        series: Series::PerSite(1),
        read: Read::Snapshot(|s, emit| {
            if let Some(v) = s.api_version {
                emit(&[("version", v.as_str())], Value::U64(1));
            }
        }),
    },
    MetricDef {
        name: "nbu.response_time_ms",
        kind: Kind::Gauge,
        float: true,
        unit: "",
        description: "Mean duration of one NetBackup request in the last collection (sent until the last byte of the body; rate-limit waits excluded), in milliseconds.",
        labels: &[],
        origin: Origin::Site,
        legacy: true,
        series: Series::PerSite(1),
        read: Read::Snapshot(|s, emit| {
            if let Some(d) = s.response_time {
                emit(&[], Value::F64(d.as_secs_f64() * 1000.0));
            }
        }),
    },
    MetricDef {
        name: "nbu.last_scrape_timestamp_seconds",
        kind: Kind::Gauge,
        float: true,
        unit: "s",
        description: "Unix time of the last successful collection of a source; stays at the last success while the source fails.",
        labels: &["source"],
        origin: Origin::Site,
        legacy: true,
        series: Series::PerSite(SOURCES),
        read: Read::Snapshot(|s, emit| {
            for (source, at) in [
                ("jobs", s.jobs_last_success),
                ("storage", s.storage_last_success),
            ] {
                if let Some(at) = at {
                    emit(&[("source", source)], Value::F64(seconds_since_epoch(at)));
                }
            }
            for (id, state) in &s.sources {
                if let Some(at) = state.last_success {
                    emit(
                        &[("source", id.name())],
                        Value::F64(seconds_since_epoch(at)),
                    );
                }
            }
        }),
    },
    MetricDef {
        name: "nbu.source.stale",
        kind: Kind::Gauge,
        float: false,
        unit: "",
        description: "1 when a source has no current data (never collected, or older than its maximum age) so its series are not reported; 0 when current.",
        labels: &["source"],
        origin: Origin::Site,
        legacy: false,
        series: Series::PerSite(SOURCES),
        read: Read::Snapshot(|s, emit| {
            let jobs = s.current_jobs().is_none();
            let storage = s.current_storage().is_none();
            emit(&[("source", "jobs")], Value::U64(u64::from(jobs)));
            emit(&[("source", "storage")], Value::U64(u64::from(storage)));
            for (id, state) in &s.sources {
                if state.unsupported_by.is_none() {
                    let stale = state.current().is_none();
                    emit(&[("source", id.name())], Value::U64(u64::from(stale)));
                }
            }
        }),
    },
    MetricDef {
        name: "nbu.source.unsupported",
        kind: Kind::Gauge,
        float: false,
        unit: "",
        description: "1 for an enabled opt-in source that the site's NetBackup API version has no endpoint for: it is not called, and has no staleness.",
        labels: &["source"],
        origin: Origin::Site,
        legacy: false,
        series: Series::PerSite(SourceId::ALL.len()),
        read: Read::Snapshot(|s, emit| {
            for (id, state) in &s.sources {
                if state.unsupported_by.is_some() {
                    emit(&[("source", id.name())], Value::U64(1));
                }
            }
        }),
    },
    MetricDef {
        name: "nbu.source.invalid_values",
        kind: Kind::Gauge,
        float: false,
        unit: "{value}",
        description: "Values skipped in the last collection of a source because they cannot be right (negative sizes, numbers beyond 64 bits, an end before the start, text where a number belongs).",
        labels: &["source"],
        origin: Origin::Site,
        legacy: false,
        series: Series::PerSite(SOURCES),
        read: Read::Snapshot(|s, emit| {
            if let Some(j) = s.current_jobs() {
                emit(&[("source", "jobs")], Value::U64(j.summary.invalid_values));
            }
            if let Some(st) = s.current_storage() {
                emit(
                    &[("source", "storage")],
                    Value::U64(st.summary.invalid_values),
                );
            }
            for (id, state) in &s.sources {
                if let Some(data) = state.current() {
                    emit(
                        &[("source", id.name())],
                        Value::U64(data.summary.invalid_values),
                    );
                }
            }
        }),
    },
    MetricDef {
        name: "nbu.jobs_count",
        kind: Kind::Gauge,
        float: false,
        unit: "{job}",
        description: "Finished (DONE) jobs that ended within the window, by type, policy type and status. Unfinished jobs are not counted here (they have no result yet): see nbu_jobs_state_count and nbu_jobs_queued_count.",
        labels: &["action", "policy_type", "status"],
        origin: Origin::Jobs,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| job_key_series(s, emit, |j| &j.counts)),
    },
    MetricDef {
        name: "nbu.jobs_bytes",
        kind: Kind::Gauge,
        float: false,
        unit: "By",
        description: "Bytes transferred (kilobytesTransferred x 1024) by finished (DONE) jobs that ended within the window.",
        labels: &["action", "policy_type", "status"],
        origin: Origin::Jobs,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| job_key_series(s, emit, |j| &j.bytes)),
    },
    MetricDef {
        name: "nbu.status_count",
        kind: Kind::Gauge,
        float: false,
        unit: "{job}",
        description: "Finished (DONE) jobs that ended within the window, by type and status code, so status=\"0\" over all statuses is the success rate.",
        labels: &["action", "status"],
        origin: Origin::Jobs,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| {
            if let Some(j) = s.current_jobs() {
                for (k, v) in &j.summary.status_counts {
                    let labels = [("action", k.action.as_str()), ("status", k.status.as_str())];
                    emit(&labels, Value::U64(*v));
                }
            }
        }),
    },
    MetricDef {
        name: "nbu.jobs_state_count",
        kind: Kind::Gauge,
        float: false,
        unit: "{job}",
        description: "Jobs in the window by type and state (UNKNOWN when absent): finished jobs that ended within it and every unfinished job, whatever its age.",
        labels: &["action", "state"],
        origin: Origin::Jobs,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| {
            if let Some(j) = s.current_jobs() {
                for (k, v) in &j.summary.state_counts {
                    let labels = [("action", k.action.as_str()), ("state", k.state.as_str())];
                    emit(&labels, Value::U64(*v));
                }
            }
        }),
    },
    MetricDef {
        name: "nbu.jobs_queued_count",
        kind: Kind::Gauge,
        float: false,
        unit: "{job}",
        description: "Queued and re-queued jobs by type and queue reason code (UNKNOWN when absent), whatever their age.",
        labels: &["action", "reason"],
        origin: Origin::Jobs,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| {
            if let Some(j) = s.current_jobs() {
                for (k, v) in &j.summary.queued_counts {
                    let labels = [("action", k.action.as_str()), ("reason", k.reason.as_str())];
                    emit(&labels, Value::U64(*v));
                }
            }
        }),
    },
    MetricDef {
        name: "nbu.jobs_files_count",
        kind: Kind::Gauge,
        float: false,
        unit: "{file}",
        description: "Files protected (numberOfFiles) by finished (DONE) jobs that ended within the window.",
        labels: &["action", "policy_type"],
        origin: Origin::Jobs,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| {
            if let Some(j) = s.current_jobs() {
                for (k, v) in &j.summary.files {
                    let labels = [
                        ("action", k.action.as_str()),
                        ("policy_type", k.policy_type.as_str()),
                    ];
                    emit(&labels, Value::U64(*v));
                }
            }
        }),
    },
    MetricDef {
        name: "nbu.jobs_dedup_ratio",
        kind: Kind::Gauge,
        float: true,
        unit: "1",
        description: "Mean deduplication ratio (dedupRatio) of the finished (DONE) jobs that ended within the window and report one.",
        labels: &["action", "policy_type"],
        origin: Origin::Jobs,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| {
            if let Some(j) = s.current_jobs() {
                for (k, mean) in &j.summary.dedup_ratio {
                    if let Some(v) = mean.value() {
                        let labels = [
                            ("action", k.action.as_str()),
                            ("policy_type", k.policy_type.as_str()),
                        ];
                        emit(&labels, Value::F64(v));
                    }
                }
            }
        }),
    },
    MetricDef {
        name: "nbu.client_jobs_count",
        kind: Kind::Gauge,
        float: false,
        unit: "{job}",
        description: "Finished jobs in the window of each allowlisted client (`sources.clients`), by type and status.",
        labels: &["client", "action", "status"],
        origin: Origin::Jobs,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| {
            if let Some(j) = s.current_jobs() {
                for (k, v) in &j.summary.client_jobs {
                    let labels = [
                        ("client", k.client.as_str()),
                        ("action", k.action.as_str()),
                        ("status", k.status.as_str()),
                    ];
                    emit(&labels, Value::U64(*v));
                }
            }
        }),
    },
    MetricDef {
        name: "nbu.client_last_job_success_seconds",
        kind: Kind::Gauge,
        float: true,
        unit: "s",
        description: "Unix time of the newest job with status 0 of each allowlisted client, policy name and type: from the jobs window, remembered while the agent runs.",
        labels: &["client", "policy", "action"],
        origin: Origin::Jobs,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| {
            if let Some(j) = s.current_jobs() {
                for (k, at) in &j.summary.client_last_success {
                    let labels = [
                        ("client", k.client.as_str()),
                        ("policy", k.policy.as_str()),
                        ("action", k.action.as_str()),
                    ];
                    emit(&labels, Value::F64(*at));
                }
            }
        }),
    },
    MetricDef {
        name: JOB_DURATION,
        kind: Kind::Histogram,
        float: true,
        unit: "s",
        description: "Duration (endTime - startTime) of finished jobs, each recorded once when the agent first sees it finished; cumulative since the agent started.",
        labels: &["action", "policy_type"],
        origin: Origin::Jobs,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| {
            if let Some(j) = s.current_jobs() {
                for (k, h) in &j.summary.durations {
                    let labels = [
                        ("action", k.action.as_str()),
                        ("policy_type", k.policy_type.as_str()),
                    ];
                    emit(&labels, Value::Histogram(h));
                }
            }
        }),
    },
    MetricDef {
        name: JOBS_COMPLETED,
        kind: Kind::Counter,
        float: false,
        unit: "{job}",
        description: "Finished jobs, each counted once when the agent first sees it finished; cumulative since the agent started, so rate() and increase() work.",
        labels: &["action", "policy_type", "status"],
        origin: Origin::Jobs,
        legacy: false,
        series: Series::Open,
        read: Read::Recorded,
    },
    MetricDef {
        name: JOBS_TRANSFERRED_BYTES,
        kind: Kind::Counter,
        float: false,
        unit: "By",
        description: "Bytes (kilobytesTransferred * 1024) of finished jobs, each job counted once when the agent first sees it finished; cumulative since the agent started.",
        labels: &["action", "policy_type", "status"],
        origin: Origin::Jobs,
        legacy: false,
        series: Series::Open,
        read: Read::Recorded,
    },
    MetricDef {
        name: "nbu.disk_bytes",
        kind: Kind::Gauge,
        float: false,
        unit: "By",
        description: "Free and used bytes of disk storage units (tape units are left out).",
        labels: &["name", "type", "size"],
        origin: Origin::Storage,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| {
            if let Some(st) = s.current_storage() {
                for (k, unit) in &st.summary.units {
                    for (size, value) in disk(unit) {
                        if let Some(v) = value {
                            let labels = [
                                ("name", k.name.as_str()),
                                ("type", k.server_type.as_str()),
                                ("size", size),
                            ];
                            emit(&labels, Value::U64(v));
                        }
                    }
                }
            }
        }),
    },
    MetricDef {
        name: "nbu.disk_capacity_bytes",
        kind: Kind::Gauge,
        float: false,
        unit: "By",
        description: "Total capacity of disk storage units.",
        labels: &["name", "type"],
        origin: Origin::Storage,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| storage_unit_series(s, emit, |u| u.capacity_bytes)),
    },
    MetricDef {
        name: "nbu.storage_max_concurrent_jobs",
        kind: Kind::Gauge,
        float: false,
        unit: "{job}",
        description: "Maximum concurrent jobs of storage units that report it.",
        labels: &["name", "type"],
        origin: Origin::Storage,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| storage_unit_series(s, emit, |u| u.max_concurrent_jobs)),
    },
    MetricDef {
        name: "nbu.storage_max_fragment_size_bytes",
        kind: Kind::Gauge,
        float: false,
        unit: "By",
        description: "Maximum fragment size of storage units, in bytes.",
        labels: &["name", "type"],
        origin: Origin::Storage,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| storage_unit_series(s, emit, |u| u.max_fragment_size_bytes)),
    },
    MetricDef {
        name: "nbu.storage_info",
        kind: Kind::Gauge,
        float: false,
        unit: "",
        description: "Always 1; the labels describe the storage unit.",
        labels: &[
            "name",
            "type",
            "subtype",
            "is_cloud",
            "worm_capable",
            "use_worm",
            "replication_capable",
            "instant_access",
        ],
        origin: Origin::Storage,
        legacy: true,
        series: Series::Open,
        read: Read::Snapshot(|s, emit| {
            if let Some(st) = s.current_storage() {
                for (k, unit) in &st.summary.units {
                    let i = &unit.info;
                    let labels = [
                        ("name", k.name.as_str()),
                        ("type", k.server_type.as_str()),
                        ("subtype", i.subtype.as_str()),
                        ("is_cloud", yes_no(i.is_cloud)),
                        ("worm_capable", yes_no(i.worm_capable)),
                        ("use_worm", yes_no(i.use_worm)),
                        ("replication_capable", yes_no(i.replication_capable)),
                        ("instant_access", yes_no(i.instant_access)),
                    ];
                    emit(&labels, Value::U64(1));
                }
            }
        }),
    },
];

/// The instruments of the agent itself, after the opt-in families in [`CATALOG`].
const AGENT_METRICS: &[MetricDef] = &[
    MetricDef {
        name: BUILD_INFO,
        kind: Kind::Gauge,
        float: false,
        unit: "",
        description: "Always 1; the labels give the agent version and the Rust toolchain that built it. The only series without `site`.",
        labels: &["version", "rustversion"],
        origin: Origin::Agent,
        legacy: true,
        series: Series::Total(1),
        read: Read::Recorded,
    },
    MetricDef {
        name: COLLECTION_ERRORS,
        kind: Kind::Counter,
        float: false,
        unit: "{error}",
        description: "Failed collections by source and error kind (unauthorized, timeout, decode, ...).",
        labels: &["source", "kind"],
        origin: Origin::Agent,
        legacy: false,
        series: Series::Open,
        read: Read::Recorded,
    },
    MetricDef {
        name: API_REQUESTS,
        kind: Kind::Counter,
        float: false,
        unit: "{request}",
        description: "HTTP requests sent to NetBackup by endpoint and outcome (status code, or timeout, connect, tls).",
        labels: &["endpoint", "status"],
        origin: Origin::Agent,
        legacy: false,
        series: Series::Open,
        read: Read::Recorded,
    },
    MetricDef {
        name: API_RECORDS_SKIPPED,
        kind: Kind::Counter,
        float: false,
        unit: "{record}",
        description: "Records of NetBackup pages skipped by endpoint because they are broken in a member the agent reads (text that is not UTF-8, a malformed number, a member twice); the rest of each page is kept.",
        labels: &["endpoint"],
        origin: Origin::Agent,
        legacy: false,
        series: Series::Open,
        read: Read::Recorded,
    },
    MetricDef {
        name: CONFIG_RELOADS,
        kind: Kind::Counter,
        float: false,
        unit: "{reload}",
        description: "Configuration reloads by result (success, failure). Has no `site` attribute.",
        labels: &["result"],
        origin: Origin::Agent,
        legacy: false,
        series: Series::Total(2),
        read: Read::Recorded,
    },
    MetricDef {
        name: JOB_EVENTS,
        kind: Kind::Counter,
        float: false,
        unit: "{record}",
        description: "Job events (OTLP log records, one per finished job the `events` section reports) by outcome: delivered (the Collector acknowledged them) or dropped (more than `events.max_waiting` waited).",
        labels: &["outcome"],
        origin: Origin::Agent,
        legacy: false,
        series: Series::PerSite(2),
        read: Read::Recorded,
    },
    MetricDef {
        name: "nbu.job_events.waiting",
        kind: Kind::Gauge,
        float: false,
        unit: "{record}",
        description: "Job events of the site waiting for the Collector (or for their try logs), as of the site's last jobs cycle. Absent when the `events` section is off.",
        labels: &[],
        origin: Origin::Site,
        legacy: false,
        series: Series::PerSite(1),
        read: Read::Snapshot(|s, emit| {
            if let Some(n) = s.events_waiting {
                emit(&[], Value::U64(n));
            }
        }),
    },
    MetricDef {
        name: JOB_EVENTS_TRY_LOGS,
        kind: Kind::Counter,
        float: false,
        unit: "{request}",
        description: "Try-log lookups of failed jobs, for NetBackup's reason, by outcome: found, unavailable (no try logs: 404 or none), failed (error, timeout, broken answer) or skipped (beyond `events.try_logs_per_cycle`).",
        labels: &["outcome"],
        origin: Origin::Agent,
        legacy: false,
        series: Series::PerSite(4),
        read: Read::Recorded,
    },
    MetricDef {
        name: OTLP_EXPORTS,
        kind: Kind::Counter,
        float: false,
        unit: "{export}",
        description: "OTLP metric exports by result (success, failure). Failures are seen on the bridge while the Collector is unreachable, and over OTLP once it is back. Has no `site` attribute.",
        labels: &["result"],
        origin: Origin::Agent,
        legacy: false,
        series: Series::Total(2),
        read: Read::Recorded,
    },
];

/// Renders `docs/metrics.md` from [`CATALOG`].
pub fn render_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Metrics\n\n");
    out.push_str(
        "<!-- Generated from src/telemetry/catalog.rs by `cargo test catalog`; do not edit. -->\n\n",
    );
    out.push_str(
        "Every series carries the `site` attribute except `nbu_exporter_build_info`, \
         `nbu_config_reloads_total` and `nbu_otlp_exports_total`. The \
         Prometheus name is the OpenTelemetry name with dots turned into underscores (counters \
         get `_total`). Legacy metrics keep the names and labels of the Go `nbu_exporter`.\n\n",
    );
    let _ = write!(
        out,
        "Series (what one metric can carry in the OTLP push): `open` when label values come \
         from NetBackup's data (storage units, policy types, statuses, clients, endpoints): at \
         most `otlp.max_series_per_metric` (default {DEFAULT_OTLP_MAX_SERIES_PER_METRIC}) series, more are folded into one \
         series marked `otel.metric.overflow`. A bound per site (labels from a closed set, or \
         none besides `site`) gives the limit that bound times {MIN_SITES_PLANNED} sites, or times twice the sites \
         configured at start when that is more; a bound in all, that bound; neither above \
         `otlp.max_series_per_metric`, which counts the series of all sites together. The \
         OpenTelemetry SDK reserves room for its limit in every metric, so the small ones \
         cost little. The agent logs a warning the first time a metric overflows. The \
         Prometheus bridge is not limited.\n\n"
    );
    out.push_str("| Prometheus name | OpenTelemetry name | kind | unit | labels besides `site` | series | legacy | description |\n");
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for m in CATALOG.iter() {
        let labels = if m.labels.is_empty() {
            "-".to_owned()
        } else {
            m.labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let unit = if m.unit.is_empty() { "-" } else { m.unit };
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} | `{}` | {} | {} | {} | {} |",
            m.prometheus_name(),
            m.name,
            m.kind.as_str(),
            unit,
            labels,
            m.series_doc(),
            if m.legacy { "yes" } else { "no" },
            m.description
        );
    }
    let _ = write!(
        out,
        "\nBuckets of `nbu_job_duration_seconds` (seconds): {}.\n",
        DURATION_BUCKETS
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_doc_is_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md");
        let expected = render_markdown();
        let actual = std::fs::read_to_string(path).unwrap_or_default();
        if actual != expected {
            if std::env::var_os("NBU_OTEL_BLESS").is_some() {
                std::fs::write(path, &expected).unwrap_or_else(|e| panic!("{e}"));
            } else {
                panic!(
                    "docs/metrics.md is out of date; regenerate with NBU_OTEL_BLESS=1 cargo test catalog"
                );
            }
        }
    }

    #[test]
    fn names_are_unique_and_legacy_names_match_the_contract() {
        let mut names: Vec<String> = CATALOG.iter().map(|m| m.prometheus_name()).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate metric names");
        let legacy: Vec<String> = CATALOG
            .iter()
            .filter(|m| m.legacy)
            .map(|m| m.prometheus_name())
            .collect();
        for expected in [
            "nbu_up",
            "nbu_api_version",
            "nbu_response_time_ms",
            "nbu_last_scrape_timestamp_seconds",
            "nbu_jobs_count",
            "nbu_jobs_bytes",
            "nbu_status_count",
            "nbu_jobs_state_count",
            "nbu_jobs_queued_count",
            "nbu_jobs_files_count",
            "nbu_jobs_dedup_ratio",
            "nbu_job_duration_seconds",
            "nbu_disk_bytes",
            "nbu_disk_capacity_bytes",
            "nbu_storage_max_concurrent_jobs",
            "nbu_storage_max_fragment_size_bytes",
            "nbu_storage_info",
            "nbu_exporter_build_info",
            "nbu_alerts_count",
            "nbu_malware_files_scanned",
            "nbu_malware_files_infected",
            "nbu_malware_scan_count",
            "nbu_catalog_images_count",
            "nbu_slo_count",
            "nbu_tape_drives_count",
            "nbu_tape_drive_info",
            "nbu_tape_media_count",
            "nbu_tape_robot_device_hosts",
            "nbu_tape_pool_partially_full",
            "nbu_disk_pool_volume_count",
            "nbu_client_last_successful_backup_timestamp_seconds",
            "nbu_client_jobs_count",
            "nbu_client_last_job_success_seconds",
        ] {
            assert!(legacy.iter().any(|n| n == expected), "missing {expected}");
        }
        assert_eq!(legacy.len(), 33);
    }

    /// Every family the Go exporter's dashboards and alert rules query (its dashboards and
    /// rule files, as listed in its documentation), against the catalog.
    #[test]
    fn the_families_legacy_dashboards_and_rules_query_exist() {
        const QUERIED: &[&str] = &[
            // nbu-overview
            "nbu_up",
            "nbu_api_version",
            "nbu_last_scrape_timestamp_seconds",
            "nbu_response_time_ms",
            "nbu_status_count",
            "nbu_disk_bytes",
            "nbu_malware_files_infected",
            "nbu_alerts_count",
            // nbu-jobs
            "nbu_jobs_state_count",
            "nbu_jobs_count",
            "nbu_jobs_bytes",
            "nbu_jobs_queued_count",
            "nbu_job_duration_seconds",
            "nbu_jobs_files_count",
            "nbu_jobs_dedup_ratio",
            // nbu-storage
            "nbu_disk_capacity_bytes",
            "nbu_storage_info",
            "nbu_storage_max_concurrent_jobs",
            "nbu_storage_max_fragment_size_bytes",
            // nbu-dataprotection
            "nbu_malware_files_scanned",
            "nbu_malware_scan_count",
            "nbu_catalog_images_count",
            "nbu_slo_count",
            // nbu-lifecycle, nbu-multisite, rules-perclient
            "nbu_client_last_job_success_seconds",
            "nbu_client_jobs_count",
            "nbu_client_last_successful_backup_timestamp_seconds",
            // nbu-tape, rules-tape
            "nbu_tape_drives_count",
            "nbu_tape_media_count",
            "nbu_tape_pool_partially_full",
            "nbu_disk_pool_volume_count",
        ];
        let names: Vec<String> = CATALOG.iter().map(|m| m.prometheus_name()).collect();
        let missing: Vec<&str> = QUERIED
            .iter()
            .copied()
            .filter(|q| !names.iter().any(|n| n == q))
            .collect();
        assert_eq!(missing, Vec::<&str>::new());
    }

    #[test]
    fn new_metrics_are_lint_clean_names() {
        for m in CATALOG.iter().filter(|m| !m.legacy) {
            let name = m.prometheus_name();
            assert!(
                !name.ends_with("_count"),
                "{name}: gauges must not end in _count"
            );
            if m.kind == Kind::Counter {
                assert!(name.ends_with("_total"), "{name}");
            }
        }
    }
}
