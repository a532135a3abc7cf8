//! The state every request handler shares, and the instant a request is served at: what the
//! router hands to the endpoints.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use super::log::RequestLog;
use crate::clock::SimClock;
use crate::config::SimConfig;
use crate::conn::ConnectionStats;
use crate::dataset::Dataset;
use crate::faults::FaultSchedule;
use crate::version::ApiVersion;

/// State shared by every request.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The configuration served.
    pub config: SimConfig,
    /// The dataset of `config`.
    pub dataset: Dataset,
    /// The simulated server's clock.
    pub clock: SimClock,
    /// Every request seen.
    pub log: RequestLog,
    /// Scheduled faults.
    pub faults: FaultSchedule,
    /// Becomes `true` (or closes) when the simulator shuts down.
    pub shutdown: watch::Receiver<bool>,
    /// Connection counters of the listener.
    pub connections: Arc<ConnectionStats>,
    /// API versions served now (starts as `config.supported_versions`).
    supported: RwLock<Vec<ApiVersion>>,
    /// Whether `/admin/jobs/{jobId}/try-logs` is served (else every request to it is a 404).
    try_logs: AtomicBool,
}

impl Shared {
    /// Shared state for a configuration.
    pub(crate) fn new(config: SimConfig, shutdown: watch::Receiver<bool>) -> Self {
        Shared {
            dataset: Dataset::new(&config),
            clock: config.clock(),
            log: RequestLog::new(config.request_log_capacity),
            faults: FaultSchedule::default(),
            shutdown,
            connections: Arc::default(),
            supported: RwLock::new(config.supported_versions.clone()),
            try_logs: AtomicBool::new(true),
            config,
        }
    }

    /// The API versions served now.
    pub(crate) fn supported_versions(&self) -> Vec<ApiVersion> {
        self.supported
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Whether `/admin/jobs/{jobId}/try-logs` is served.
    pub(crate) fn try_logs_served(&self) -> bool {
        self.try_logs.load(Ordering::Relaxed)
    }

    /// Serves `/admin/jobs/{jobId}/try-logs`, or answers 404 to every request to it.
    pub(crate) fn set_try_logs_served(&self, served: bool) {
        self.try_logs.store(served, Ordering::Relaxed);
    }

    /// Replaces the API versions served.
    pub(crate) fn set_supported_versions(&self, versions: Vec<ApiVersion>) {
        *self
            .supported
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = versions;
    }
}

/// The instant a request is served at, Unix milliseconds: the clock is read once per request,
/// so a whole page shows one instant, the one of its `Date` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestInstant(pub i64);
