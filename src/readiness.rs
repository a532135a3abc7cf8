//! Readiness that proves the backend: a site is ready when it answered a cheap versioned
//! request recently and its API version is known.
//!
//! A collection's own requests count as proof, so a busy agent sends nothing extra. Otherwise
//! one probe (`GET /admin/jobs?page[limit]=1`) per site is sent, single-flight, and its result
//! is reused for `server.ready_cache`: a flood of `/readyz` requests never becomes a flood of
//! NetBackup requests.
//!
//! The probe runs in a task of its own: it outlives the `/readyz` request that started it
//! (which waits for it at most [`PROBE_WAIT`], and may be cut off by its client sooner), so
//! a NetBackup slower than a probe's client still gets its answer cached. While a probe is in
//! flight, the previous proof stands for one more `request_timeout`: a slow but answering
//! NetBackup stays ready.
//!
//! A probe holds its site's client, and so its API key and URL: when a reload changes or
//! removes the site, [`Readiness::retire`] or [`Readiness::remove`] cancels the probe in
//! flight (its retries included) and waits until it is gone, and no new one starts with that
//! client.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::collect::SiteCollector;
use crate::collect::outbox::{ExportStatus, JobOutbox};
use crate::netbackup::JOBS_ENDPOINT;
use crate::telemetry::instruments::SnapshotStore;

/// One site's readiness, as `/readyz` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct SiteReadiness {
    /// Site name.
    pub site: String,
    /// Ready: reachable recently and API version known.
    pub ready: bool,
    /// The server answered the last request or probe.
    pub reachable: bool,
    /// The API version in use.
    pub api_version: Option<&'static str>,
    /// Unix time of the last successful jobs collection.
    pub last_success_unix: Option<f64>,
    /// The last collection or probe error.
    pub last_error: Option<String>,
    /// Why the site is not ready.
    pub reason: Option<String>,
    /// The enabled opt-in sources (they never decide readiness).
    pub sources: Vec<SourceReadiness>,
}

/// One enabled opt-in source of a site, as `/readyz` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReadiness {
    /// Source name.
    pub source: &'static str,
    /// `current`, `stale` (no current data: failing or not collected yet), or `unsupported`
    /// (the site's API version has no endpoint for it, so it is not called).
    pub status: &'static str,
    /// The source's last error, or which API version lacks it.
    pub detail: Option<String>,
}

/// The opt-in sources of a snapshot, for `/readyz`.
fn source_readiness(snapshot: &crate::collect::SiteSnapshot) -> Vec<SourceReadiness> {
    snapshot
        .sources
        .iter()
        .map(|(id, state)| {
            let (status, detail) = match (state.unsupported_by, state.current()) {
                (Some(v), _) => (
                    "unsupported",
                    Some(format!(
                        "NetBackup API {v} has no endpoint for it; not collected"
                    )),
                ),
                (None, Some(_)) => ("current", None),
                (None, None) => ("stale", state.last_error.clone()),
            };
            SourceReadiness {
                source: id.name(),
                status,
                detail,
            }
        })
        .collect()
}

/// The readiness verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ReadinessReport {
    /// Enough sites are ready.
    pub ready: bool,
    /// Sites needed (`server.ready_min_sites`, or all of them).
    pub required: usize,
    /// Each site.
    pub sites: Vec<SiteReadiness>,
    /// The job events' pipeline, when on. It never decides readiness: a Collector away does
    /// not make the agent unready (the events wait).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<EventsReadiness>,
}

/// The job events' pipeline, as `/readyz` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct EventsReadiness {
    /// `ok` (the last export was accepted, or none was needed yet) or `failing`.
    pub status: &'static str,
    /// Events waiting for the Collector, in all.
    pub waiting: usize,
    /// Where the checkpoints are kept (`null`: in memory only).
    pub state_dir: Option<String>,
    /// How the exports went.
    #[serde(flatten)]
    pub export: ExportStatus,
}

/// The longest a `/readyz` request waits for a probe in flight before answering with what is
/// known (well under the server's own request timeout). The probe itself goes on.
pub const PROBE_WAIT: Duration = Duration::from_secs(5);

struct Probe {
    site: String,
    /// The site's collector, or why it could not be built.
    collector: Result<Arc<SiteCollector>, String>,
    state: Mutex<ProbeState>,
}

#[derive(Default)]
struct ProbeState {
    /// The verdict of the last probe, and when it came.
    last: Option<(Instant, Result<(), String>)>,
    /// Turns true when the probe in flight, if any, is done.
    running: Option<watch::Receiver<bool>>,
    /// The task of the probe in flight, to cancel it.
    task: Option<JoinHandle<()>>,
    /// The site's client was replaced or removed: no probe may use it any more.
    retired: bool,
}

impl Probe {
    fn lock(&self) -> std::sync::MutexGuard<'_, ProbeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops probing with this client for good: no probe starts any more, and the one in
    /// flight is cancelled. Returns its task, to wait until it is gone.
    fn retire(&self) -> Option<JoinHandle<()>> {
        let mut state = self.lock();
        state.retired = true;
        state.running = None;
        let task = state.task.take();
        if let Some(task) = &task {
            task.abort();
        }
        task
    }
}

/// Waits until a cancelled probe's task has ended (its request, if any, dropped).
async fn gone(task: Option<JoinHandle<()>>) {
    if let Some(task) = task {
        let _ = task.await;
    }
}

/// Shared readiness state: the sites' collectors, registered by the agent.
#[derive(Clone)]
pub struct Readiness {
    sites: Arc<RwLock<BTreeMap<String, Arc<Probe>>>>,
    store: SnapshotStore,
    cache: Duration,
    min_sites: Option<usize>,
    /// The outbox of the job events, when they are on.
    events: Arc<RwLock<Option<JobOutbox>>>,
    /// This replica collects no site (its shard holds none): ready, with nothing to check.
    idle: Arc<AtomicBool>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("cache", &self.cache)
            .field("min_sites", &self.min_sites)
            .finish_non_exhaustive()
    }
}

impl Readiness {
    /// Readiness over the snapshots in `store`, reusing probe results for `cache`.
    pub fn new(store: SnapshotStore, cache: Duration, min_sites: Option<u32>) -> Self {
        Self {
            sites: Arc::default(),
            store,
            cache,
            min_sites: min_sites.map(|n| n as usize),
            events: Arc::default(),
            idle: Arc::default(),
        }
    }

    /// Says whether this replica collects no site at all (`sharding` gave its shard none):
    /// it is then ready, having nothing to wait for.
    pub fn set_idle(&self, idle: bool) {
        self.idle.store(idle, Ordering::Relaxed);
    }

    /// Reports the job events of `outbox` in `/readyz`.
    pub fn report_events(&self, outbox: JobOutbox) {
        *self.events.write().unwrap_or_else(|p| p.into_inner()) = Some(outbox);
    }

    /// The job events' state, when they are on.
    fn events(&self) -> Option<EventsReadiness> {
        let outbox = self
            .events
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        let export = outbox.export_status();
        Some(EventsReadiness {
            status: if export.failing_since_unix.is_some() {
                "failing"
            } else {
                "ok"
            },
            waiting: outbox.waiting(),
            state_dir: outbox
                .settings()
                .state_dir
                .as_ref()
                .map(|d| d.display().to_string()),
            export,
        })
    }

    /// The verdict of the Go exporter's `/health`: healthy until every site has been collected
    /// once, then while at least one site is up (`nbu_up`). Never calls NetBackup.
    pub fn any_site_up(&self) -> bool {
        let sites = self.sites.read().unwrap_or_else(|p| p.into_inner());
        let mut any_collected = false;
        for site in sites.keys() {
            match self.store.get(site) {
                Some(snapshot) if snapshot.up => return true,
                Some(_) => any_collected = true,
                None => return true,
            }
        }
        !any_collected
    }

    /// Registers (or replaces) the collector of a site. A probe in flight with the collector
    /// it replaces is cancelled; [`Readiness::retire`] first to wait until it is gone.
    pub fn register(&self, collector: Arc<SiteCollector>) {
        let name = collector.site().name.clone();
        self.insert(name, Ok(collector));
    }

    /// Registers (or replaces) a site whose client could not be built: never ready.
    pub fn register_failed(&self, site: &str, error: String) {
        self.insert(site.to_owned(), Err(error));
    }

    fn insert(&self, site: String, collector: Result<Arc<SiteCollector>, String>) {
        let probe = Arc::new(Probe {
            site: site.clone(),
            collector,
            state: Mutex::default(),
        });
        let replaced = {
            let mut sites = self.sites.write().unwrap_or_else(|p| p.into_inner());
            sites.insert(site, probe)
        };
        if let Some(old) = replaced {
            // Dropping the handle does not stop the task: `retire` aborts it.
            let _ = old.retire();
        }
    }

    /// Stops using the client of `site`, whose settings a reload is replacing: the probe in
    /// flight (retries included) is cancelled and this waits until it is gone, and no probe
    /// starts until [`Readiness::register`] gives the new client. Until then `/readyz` shows
    /// the site as not ready, unless its last answer is still recent.
    pub async fn retire(&self, site: &str) {
        let probe = {
            let sites = self.sites.read().unwrap_or_else(|p| p.into_inner());
            sites.get(site).cloned()
        };
        if let Some(probe) = probe {
            gone(probe.retire()).await;
        }
    }

    /// Forgets a removed site, cancelling its probe in flight and waiting until it is gone.
    pub async fn remove(&self, site: &str) {
        let removed = {
            let mut sites = self.sites.write().unwrap_or_else(|p| p.into_inner());
            sites.remove(site)
        };
        if let Some(probe) = removed {
            gone(probe.retire()).await;
        }
    }

    /// Checks every site (concurrently) and gives the verdict.
    pub async fn check(&self) -> ReadinessReport {
        let probes: Vec<Arc<Probe>> = {
            let sites = self.sites.read().unwrap_or_else(|p| p.into_inner());
            sites.values().cloned().collect()
        };
        let mut checks = tokio::task::JoinSet::new();
        for probe in probes {
            let this = self.clone();
            checks.spawn(async move { this.check_site(probe).await });
        }
        let mut sites = Vec::new();
        while let Some(done) = checks.join_next().await {
            if let Ok(site) = done {
                sites.push(site);
            }
        }
        sites.sort_by(|a, b| a.site.cmp(&b.site));
        let ready_count = sites.iter().filter(|s| s.ready).count();
        let required = self
            .min_sites
            .unwrap_or(sites.len())
            .min(sites.len().max(1));
        ReadinessReport {
            ready: if sites.is_empty() {
                self.idle.load(Ordering::Relaxed)
            } else {
                ready_count >= required
            },
            required,
            sites,
            events: self.events(),
        }
    }

    async fn check_site(&self, probe: Arc<Probe>) -> SiteReadiness {
        let site = probe.site.clone();
        let snapshot = self.store.get(&site);
        let version = snapshot.as_ref().and_then(|s| s.api_version);
        let last_error = snapshot.as_ref().and_then(|s| s.last_error.clone());
        let last_success_unix = snapshot
            .as_ref()
            .and_then(|s| s.jobs_last_success)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64());
        let mut out = SiteReadiness {
            site,
            ready: false,
            reachable: false,
            api_version: version.map(|v| v.as_str()),
            last_success_unix,
            last_error,
            reason: None,
            sources: snapshot
                .as_deref()
                .map(source_readiness)
                .unwrap_or_default(),
        };
        let collector = match &probe.collector {
            Ok(c) => c.clone(),
            Err(e) => {
                out.reason = Some(e.clone());
                out.last_error = Some(e.clone());
                return out;
            }
        };
        let Some(version) = version else {
            out.reason = Some(
                out.last_error
                    .clone()
                    .unwrap_or_else(|| "API version not known yet".to_owned()),
            );
            return out;
        };
        let request_timeout = collector.site().collection.request_timeout;
        // A success (of the collection or of a probe) proves the backend for this long.
        let proof = self.cache.max(request_timeout);
        let proven = |probe: &Probe| {
            let probed = probe
                .lock()
                .last
                .as_ref()
                .and_then(|(at, r)| r.is_ok().then_some(*at));
            collector.client().last_success().max(probed)
        };
        let result = match proven(&probe) {
            Some(at) if at.elapsed() <= proof => Ok(()),
            previous => {
                let running = {
                    let mut state = probe.lock();
                    match &state.last {
                        Some((at, Err(e))) if at.elapsed() <= self.cache => Err(e.clone()),
                        _ if state.retired => Err(
                            "the site's settings are being replaced: not probed with the old ones"
                                .to_owned(),
                        ),
                        _ => Ok(match state.running.clone() {
                            Some(running) => running,
                            None => {
                                let (running, task) =
                                    start_probe(probe.clone(), collector.clone(), version);
                                state.running = Some(running.clone());
                                state.task = Some(task);
                                running
                            }
                        }),
                    }
                };
                match running {
                    Err(e) => Err(e),
                    Ok(mut done) => {
                        let _ = tokio::time::timeout(PROBE_WAIT, done.wait_for(|d| *d)).await;
                        let state_now = probe.lock().last.clone();
                        match (proven(&probe), state_now) {
                            (Some(at), _) if at.elapsed() <= proof => Ok(()),
                            (_, Some((at, Err(e)))) if at.elapsed() <= self.cache => Err(e),
                            // Still waiting for a slow NetBackup: the previous proof stands
                            // while the probe may still answer.
                            _ if previous.is_some_and(|at| {
                                at.elapsed() <= proof.saturating_add(request_timeout)
                            }) =>
                            {
                                Ok(())
                            }
                            _ => Err(format!(
                                "readiness probe in flight: NetBackup has not answered within \
                                 {PROBE_WAIT:?} (the probe waits up to request_timeout, \
                                 {request_timeout:?})"
                            )),
                        }
                    }
                }
            }
        };
        match result {
            Ok(()) => {
                out.ready = true;
                out.reachable = true;
            }
            Err(e) => {
                out.reason = Some(e.clone());
                out.last_error = Some(e);
            }
        }
        out
    }
}

/// Starts a probe of the site in a task of its own, so that it outlives the request that
/// started it; its verdict lands in the probe's state. Returns its completion and its task.
/// Call it with the probe's state locked, and keep the task there: [`Probe::retire`] cancels
/// it.
fn start_probe(
    probe: Arc<Probe>,
    collector: Arc<SiteCollector>,
    version: crate::netbackup::ApiVersion,
) -> (watch::Receiver<bool>, JoinHandle<()>) {
    let (done, running) = watch::channel(false);
    let task = tokio::spawn(async move {
        let client = collector.client();
        let query = [("page[limit]", "1".to_owned())];
        // The client's own timeouts and retry budget bound the probe; this only guards them.
        let collection = &collector.site().collection;
        let bound = collection.request_timeout.saturating_mul(2).max(
            collection
                .max_retry_time
                .saturating_add(collection.request_timeout),
        );
        let answer = tokio::time::timeout(bound, client.get(JOBS_ENDPOINT, &query, version)).await;
        let result = match answer {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("readiness probe timed out after {bound:?}")),
        };
        {
            let mut state = probe.lock();
            state.last = Some((Instant::now(), result));
            state.running = None;
            state.task = None;
        }
        let _ = done.send(true);
    });
    (running, task)
}
