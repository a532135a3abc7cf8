//! Configuration of a simulated NetBackup primary server.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::clock::SimClock;
use crate::version::ApiVersion;

/// What the simulator serves: dataset size and shape, credentials, API versions and latency.
///
/// The dataset is a pure function of this value: two simulators with equal configurations
/// (including `anchor`) serve byte-identical responses.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seed of the deterministic dataset.
    pub seed: u64,
    /// Number of jobs; job `i` (0-based) has `jobId` `i + 1`. Jobs are generated lazily per
    /// index, so millions cost no memory.
    pub jobs: u64,
    /// Number of storage units (generated eagerly; keep it in the thousands at most).
    pub storage_units: u32,
    /// The API key: the exact value every request must carry in `Authorization`.
    pub api_key: String,
    /// API versions served; a request whose `Accept` asks for another one gets HTTP 406.
    pub supported_versions: Vec<ApiVersion>,
    /// "Now" of the dataset: finished jobs end in `[anchor - history, anchor]`, unfinished jobs
    /// started before it. The default is the wall clock at construction, truncated to whole
    /// seconds; set it explicitly for reproducible data.
    pub anchor: DateTime<Utc>,
    /// Spread of the end times of finished jobs before `anchor`.
    pub history: Duration,
    /// Delay added to every request before it is answered.
    pub latency: Duration,
    /// Fraction of jobs that are not finished (`ACTIVE`, `QUEUED`, `REQUEUED`, `INCOMPLETE`,
    /// `SUSPENDED`); the rest are `DONE`. Clamped to `[0, 1]`.
    pub unfinished_fraction: f64,
    /// Fraction of jobs that lack some optional attributes (`jobType`, `policyType`, `status`,
    /// `kilobytesTransferred`, `numberOfFiles`, and for unfinished jobs `state` and
    /// `jobQueueReason`), as payloads of other versions and odd jobs do. Clamped to `[0, 1]`.
    pub sparse_fraction: f64,
    /// Most request records kept; older ones are dropped first.
    pub request_log_capacity: usize,
    /// Offset of the simulator's wall clock from the host's (`Date` headers and, in live mode,
    /// job times): positive when the simulated server is ahead. Ignored by a manual clock.
    pub clock_offset: chrono::Duration,
    /// Whether the clock is manual: it starts at `anchor` and only moves when a test calls
    /// [`SimClock::advance`](crate::SimClock::advance) or [`SimClock::set`](crate::SimClock::set).
    pub manual_clock: bool,
    /// Size of the opt-in dataset (alerts, malware scan results, catalog images, SLOs, tape
    /// drives, tape media, volume pools, robot device hosts, disk pools): every count is
    /// multiplied by it. At 1 (the default) there are about 300 alerts, 160 scan results, 400
    /// images, 24 SLOs, 250 drives, 450 tape volumes, 15 volume pools, 4 robot hosts and 220
    /// disk pools; 0 serves empty lists.
    pub opt_in_scale: u32,
    /// Live mode: jobs are created, run, finish and are purged as the clock moves. `None` (the
    /// default) serves the static dataset, whose jobs never change.
    pub live: Option<LiveConfig>,
    /// Status of every finished `BACKUP` job instead of the usual mix of codes: `Some(0)` for
    /// a site whose backups all succeed, another code for one whose backups all fail.
    pub backup_status: Option<u32>,
    /// Used share of every disk storage unit, per mille of its capacity (clamped to 1000),
    /// instead of a draw between 5 % and 97 %.
    pub disk_used_per_mille: Option<u64>,
}

/// How the jobs of a live simulator evolve (see [`SimConfig::live`]).
///
/// In live mode `SimConfig::jobs` is the number of jobs that exist when the clock reads
/// `anchor` (the last one created then); job `i` is created `60 s / churn_per_minute` after job
/// `i - 1`, forever. `unfinished_fraction` and
/// `history` do not apply: whether a job is unfinished depends on the instant.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveConfig {
    /// New jobs created per minute (0 is taken as 1). In steady state a jobs window of 24 h
    /// counts about `churn_per_minute * 1440` finished jobs plus the unfinished ones.
    pub churn_per_minute: u32,
    /// A `DONE` job is purged (absent from every response) this long after it ended.
    pub retention: Duration,
    /// An `ACTIVE` job's `kilobytesTransferred`, `numberOfFiles` and `lastUpdateTime` move
    /// this often (at least every millisecond).
    pub progress_interval: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            churn_per_minute: 60,
            retention: Duration::from_secs(48 * 3600),
            progress_interval: Duration::from_secs(60),
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        let now = Utc::now();
        let anchor = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        SimConfig {
            seed: 1,
            jobs: 10_000,
            storage_units: 12,
            api_key: "sim-api-key".to_owned(),
            supported_versions: ApiVersion::NEWEST_FIRST.to_vec(),
            anchor,
            history: Duration::from_secs(48 * 3600),
            latency: Duration::ZERO,
            unfinished_fraction: 0.05,
            sparse_fraction: 0.01,
            request_log_capacity: 100_000,
            clock_offset: chrono::Duration::zero(),
            manual_clock: false,
            opt_in_scale: 1,
            live: None,
            backup_status: None,
            disk_used_per_mille: None,
        }
    }
}

impl SimConfig {
    /// A reproducible configuration of `jobs` jobs: seed 42, anchored at 2026-11-27 08:00:00
    /// UTC, every other field as by default. Two calls give byte-identical datasets.
    pub fn reproducible(jobs: u64) -> SimConfig {
        SimConfig {
            seed: 42,
            jobs,
            anchor: Utc
                .with_ymd_and_hms(2026, 11, 27, 8, 0, 0)
                .single()
                .unwrap_or_default(),
            ..SimConfig::default()
        }
    }

    /// `anchor` as Unix milliseconds.
    pub(crate) fn anchor_ms(&self) -> i64 {
        self.anchor.timestamp_millis()
    }

    /// The clock this configuration asks for.
    pub(crate) fn clock(&self) -> SimClock {
        if self.manual_clock {
            SimClock::manual(self.anchor)
        } else {
            SimClock::wall(self.clock_offset)
        }
    }

    /// `history` in milliseconds, saturated to `i64`.
    pub(crate) fn history_ms(&self) -> i64 {
        i64::try_from(self.history.as_millis()).unwrap_or(i64::MAX)
    }
}

/// `value` clamped to `[0, 1]`, NaN as 0.
pub(crate) fn fraction(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}
