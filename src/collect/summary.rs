//! The aggregates one collection produces: plain data keyed by structured label keys.
//!
//! These types are what the instruments read and what `once` prints. The simulator computes the
//! ground truth of its dataset in its own types, by its own code; the tests turn it into these
//! types to compare.

use std::collections::BTreeMap;

use serde::Serialize;

/// Upper bounds (seconds) of the job duration histogram buckets, as in the legacy exporter.
/// A last, implicit bucket counts everything above the largest bound.
pub const DURATION_BUCKETS: [f64; 9] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
];

/// Label value used when a job has no `state`, no `status`, or (queued) no `jobQueueReason`.
/// Absent `jobType` and `policyType` become the empty string, as in the legacy exporter.
pub const UNKNOWN: &str = "UNKNOWN";

/// Labels `action`, `policy_type`, `status`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct JobKey {
    /// Job type (`BACKUP`, `RESTORE`, ...).
    pub action: String,
    /// Policy type (`VMWARE`, `STANDARD`, ...).
    pub policy_type: String,
    /// NetBackup status code as text.
    pub status: String,
}

/// Labels `action`, `status`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ActionStatusKey {
    /// Job type.
    pub action: String,
    /// NetBackup status code as text.
    pub status: String,
}

/// Labels `action`, `state`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ActionStateKey {
    /// Job type.
    pub action: String,
    /// Job state (`ACTIVE`, `DONE`, ...; `UNKNOWN` when absent).
    pub state: String,
}

/// Labels `action`, `reason`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ActionReasonKey {
    /// Job type.
    pub action: String,
    /// Queue reason code as text.
    pub reason: String,
}

/// Labels `action`, `policy_type`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ActionPolicyKey {
    /// Job type.
    pub action: String,
    /// Policy type.
    pub policy_type: String,
}

/// A histogram of job durations over [`DURATION_BUCKETS`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DurationHistogram {
    /// Non-cumulative counts: `bucket_counts[i]` counts durations `d` with
    /// `DURATION_BUCKETS[i-1] < d <= DURATION_BUCKETS[i]`; the last entry counts the overflow.
    pub bucket_counts: [u64; DURATION_BUCKETS.len() + 1],
    /// Sum of all recorded durations, seconds.
    pub sum: f64,
    /// Number of recorded durations.
    pub count: u64,
}

impl DurationHistogram {
    /// Records one duration in seconds.
    pub fn record(&mut self, seconds: f64) {
        let index = DURATION_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(DURATION_BUCKETS.len());
        self.bucket_counts[index] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

/// A mean kept as sum and count, so that it can be merged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Mean {
    /// Sum of the observed values.
    pub sum: f64,
    /// Number of observed values.
    pub count: u64,
}

impl Mean {
    /// Adds one value.
    pub fn add(&mut self, value: f64) {
        self.sum += value;
        self.count += 1;
    }

    /// The mean, or `None` without values.
    pub fn value(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// Everything the jobs source reports for one site and one collection.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JobsSummary {
    /// `nbu_jobs_count`: number of finished (`DONE`) jobs.
    pub counts: BTreeMap<JobKey, u64>,
    /// `nbu_jobs_bytes`: `kilobytesTransferred * 1024` of finished jobs, summed (saturating).
    pub bytes: BTreeMap<JobKey, u64>,
    /// `nbu_status_count`: number of finished jobs by action and status.
    pub status_counts: BTreeMap<ActionStatusKey, u64>,
    /// `nbu_jobs_state_count`: number of jobs by action and state, finished or not.
    pub state_counts: BTreeMap<ActionStateKey, u64>,
    /// `nbu_jobs_queued_count`: queued jobs (state `QUEUED` or `REQUEUED`) by queue reason.
    pub queued_counts: BTreeMap<ActionReasonKey, u64>,
    /// `nbu_jobs_files_count`: `numberOfFiles` of finished jobs, summed.
    pub files: BTreeMap<ActionPolicyKey, u64>,
    /// `nbu_jobs_dedup_ratio`: mean `dedupRatio` of the finished jobs that report one.
    pub dedup_ratio: BTreeMap<ActionPolicyKey, Mean>,
    /// `nbu_job_duration_seconds`: durations (`endTime - startTime`) of finished jobs.
    pub durations: BTreeMap<ActionPolicyKey, DurationHistogram>,
    /// `nbu_client_jobs_count`: finished jobs of allowlisted clients by client, action and
    /// status (empty unless the clients source is on).
    pub client_jobs: BTreeMap<ClientJobKey, u64>,
    /// `nbu_client_last_job_success_seconds`: Unix time of the newest finished job with status
    /// 0 of each allowlisted client, policy name and action.
    pub client_last_success: BTreeMap<ClientPolicyKey, f64>,
    /// Jobs of the window, finished or not.
    pub jobs: u64,
    /// Values that cannot be right (negative counts, end before start, ...) and were skipped.
    pub invalid_values: u64,
    /// Pages read.
    pub pages: u64,
}

/// Labels `client`, `action`, `status` of `nbu_client_jobs_count`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ClientJobKey {
    /// `clientName`.
    pub client: String,
    /// `jobType`.
    pub action: String,
    /// Status code, as text.
    pub status: String,
}

/// Labels `client`, `policy`, `action` of `nbu_client_last_job_success_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ClientPolicyKey {
    /// `clientName`.
    pub client: String,
    /// `policyName`.
    pub policy: String,
    /// `jobType`.
    pub action: String,
}

/// Labels `name`, `type` of storage series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct StorageKey {
    /// Storage unit name.
    pub name: String,
    /// Storage server type (`storageServerType`, for example `MEDIA_SERVER`).
    pub server_type: String,
}

/// Descriptive labels of `nbu_storage_info`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct StorageInfo {
    /// `storageSubType`.
    pub subtype: String,
    /// `isCloudSTU` as `true`/`false`.
    pub is_cloud: bool,
    /// `wormCapable`.
    pub worm_capable: bool,
    /// `useWorm`.
    pub use_worm: bool,
    /// `replicationCapable`.
    pub replication_capable: bool,
    /// `instantAccessEnabled`.
    pub instant_access: bool,
}

/// One storage unit's reported values. Absent attributes stay `None` and produce no series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageUnitValues {
    /// `freeCapacityBytes` (disk units only).
    pub free_bytes: Option<u64>,
    /// `usedCapacityBytes` (disk units only).
    pub used_bytes: Option<u64>,
    /// `totalCapacityBytes` (disk units only).
    pub capacity_bytes: Option<u64>,
    /// `maxConcurrentJobs`.
    pub max_concurrent_jobs: Option<u64>,
    /// `maxFragmentSizeMegabytes * 1024 * 1024`.
    pub max_fragment_size_bytes: Option<u64>,
    /// Labels of `nbu_storage_info`.
    pub info: StorageInfo,
}

/// Everything the storage source reports for one site and one collection.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StorageSummary {
    /// Storage units by name and server type. Tape units are included, with no disk values
    /// (`free_bytes`, `used_bytes`, `capacity_bytes` are `None`), so they stay out of `nbu_disk_*`.
    pub units: BTreeMap<StorageKey, StorageUnitValues>,
    /// Values that cannot be right and were skipped.
    pub invalid_values: u64,
    /// Pages read.
    pub pages: u64,
}
