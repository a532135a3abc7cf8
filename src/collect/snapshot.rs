//! The immutable per-site state that instruments and reports read.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use std::collections::BTreeMap;

use super::sources::SourceValues;
use super::summary::{JobsSummary, StorageSummary};
use crate::config::SourceId;
use crate::netbackup::ApiVersion;

/// A source's last successful data and when it was collected.
#[derive(Debug, Clone)]
pub struct SourceData<T> {
    /// The summary.
    pub summary: Arc<T>,
    /// When the collection that produced it finished.
    pub collected_at: SystemTime,
    /// How long the data counts as current.
    pub max_age: Duration,
}

impl<T> SourceData<T> {
    /// Whether the data is still current at `now`.
    pub fn is_current(&self, now: SystemTime) -> bool {
        match now.duration_since(self.collected_at) {
            Ok(age) => age <= self.max_age,
            Err(_) => true,
        }
    }
}

/// What is known about one enabled opt-in source of a site.
#[derive(Debug, Clone, Default)]
pub struct OptInState {
    /// The last successful collection; `None` before the first.
    pub data: Option<SourceData<SourceValues>>,
    /// When the source was last collected successfully.
    pub last_success: Option<SystemTime>,
    /// Set when the negotiated API version lacks the source's endpoints: it is not called.
    pub unsupported_by: Option<ApiVersion>,
    /// The last error of the source, cleared by its next success.
    pub last_error: Option<String>,
}

impl OptInState {
    /// The data, if it is current now.
    pub fn current(&self) -> Option<&SourceData<SourceValues>> {
        self.data
            .as_ref()
            .filter(|d| d.is_current(SystemTime::now()))
    }
}

/// What is known about one site at one moment. Published whole and never changed; readers
/// hold an `Arc` to it while they read.
#[derive(Debug, Clone)]
pub struct SiteSnapshot {
    /// Site name (the `site` label).
    pub site: String,
    /// Whether any source of the site could be collected in the last collection.
    pub up: bool,
    /// The negotiated API version, once known.
    pub api_version: Option<ApiVersion>,
    /// Mean duration of one NetBackup request of the last collection that had one answered
    /// (sent until the last byte of the body, rate-limit waits excluded); `None` before the
    /// first. A one-shot report without an answered request gives the time its version
    /// negotiation took.
    pub response_time: Option<Duration>,
    /// The last successful jobs data; `None` before the first success. It is kept when it
    /// goes stale: [`SiteSnapshot::current_jobs`] leaves it out then.
    pub jobs: Option<SourceData<JobsSummary>>,
    /// The last successful storage data; `None` before the first success. It is kept when it
    /// goes stale: [`SiteSnapshot::current_storage`] leaves it out then.
    pub storage: Option<SourceData<StorageSummary>>,
    /// Last success of the jobs source, kept even when its data is stale.
    pub jobs_last_success: Option<SystemTime>,
    /// Last success of the storage source, kept even when its data is stale.
    pub storage_last_success: Option<SystemTime>,
    /// NetBackup's clock when the jobs data was read (the end of its window).
    pub jobs_as_of: Option<DateTime<Utc>>,
    /// The last error, cleared by a fully successful collection.
    pub last_error: Option<String>,
    /// The enabled opt-in sources.
    pub sources: BTreeMap<SourceId, OptInState>,
    /// Job events of the site waiting for the Collector, as of its last jobs cycle; `None`
    /// when job events are off.
    pub events_waiting: Option<u64>,
}

impl SiteSnapshot {
    /// The jobs data, if it is current now (stale data is not reported).
    pub fn current_jobs(&self) -> Option<&SourceData<JobsSummary>> {
        self.jobs
            .as_ref()
            .filter(|d| d.is_current(SystemTime::now()))
    }

    /// The storage data, if it is current now.
    pub fn current_storage(&self) -> Option<&SourceData<StorageSummary>> {
        self.storage
            .as_ref()
            .filter(|d| d.is_current(SystemTime::now()))
    }

    /// A snapshot of a site nothing is known about yet.
    pub fn empty(site: &str) -> Self {
        Self {
            site: site.to_owned(),
            up: false,
            api_version: None,
            response_time: None,
            jobs: None,
            storage: None,
            jobs_last_success: None,
            storage_last_success: None,
            jobs_as_of: None,
            last_error: None,
            sources: BTreeMap::new(),
            events_waiting: None,
        }
    }
}
