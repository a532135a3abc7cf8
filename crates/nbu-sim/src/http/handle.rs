//! The running simulator: start, inspect, inject faults, shut down.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::log::RequestRecord;
use super::server::router;
use super::state::Shared;
use crate::clock::SimClock;
use crate::config::SimConfig;
use crate::conn::{ConnectionHandle, CountingListener};
use crate::dataset::Dataset;
use crate::faults::{Fault, FaultTarget};
use crate::truth::SimTruth;
use crate::truth::{FinishedJobTruth, OptInTruth};
use crate::version::ApiVersion;

/// How long [`Simulator::shutdown`] waits for in-flight requests before aborting the server.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A simulated NetBackup primary server listening on a local port.
///
/// Dropping it stops the server too (in-flight requests are released, the task is aborted);
/// [`Simulator::shutdown`] does it gracefully and waits.
#[derive(Debug)]
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Simulator {
    /// Binds `addr` (port 0 picks a free port) and serves `config` in a background task.
    pub async fn start(config: SimConfig, addr: SocketAddr) -> io::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (shutdown, signal) = watch::channel(false);
        let shared = Arc::new(Shared::new(config, signal.clone()));
        let listener = CountingListener::new(listener, shared.connections.clone());
        let app = router(shared.clone()).into_make_service_with_connect_info::<ConnectionHandle>();
        let mut stop = signal;
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|down| *down).await;
                })
                .await
        });
        Ok(Simulator {
            shared,
            addr,
            shutdown,
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, `http://127.0.0.1:PORT/netbackup` (a wildcard bind address is
    /// replaced by the loopback address of its family).
    pub fn base_url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}/netbackup", SocketAddr::new(ip, self.addr.port()))
    }

    /// The configuration the simulator started with. The API versions served now may differ
    /// from its `supported_versions`: see [`Simulator::supported_versions`].
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// The API versions served now: the configured ones, unless changed by
    /// [`Simulator::set_supported_versions`].
    pub fn supported_versions(&self) -> Vec<ApiVersion> {
        self.shared.supported_versions()
    }

    /// Changes the API versions served, from the next request on. Requests asking for another
    /// version get HTTP 406 (an empty list refuses every version); 406 and 401 bodies use the
    /// newest version of the new list (14.0 when it is empty).
    pub fn set_supported_versions(&self, versions: Vec<ApiVersion>) {
        self.shared.set_supported_versions(versions);
    }

    /// TCP connections currently open to the simulator: accepted and not yet closed on the
    /// server side. A connection the client closed is counted until the server notices (it
    /// reads the end of stream at once on an idle keep-alive connection), so poll with a
    /// deadline rather than expecting 0 right after a client went away.
    pub fn open_connections(&self) -> usize {
        self.shared.connections.open()
    }

    /// TCP connections accepted since the simulator started.
    pub fn accepted_connections(&self) -> u64 {
        self.shared.connections.accepted()
    }

    /// The dataset served.
    pub fn dataset(&self) -> &Dataset {
        &self.shared.dataset
    }

    /// Every request recorded so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.log.snapshot()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    /// Schedules `fault` for the next `times` requests covered by `target` (`None`: until
    /// [`Simulator::clear_faults`]). Rules apply in the order they were added.
    pub fn set_fault(&self, target: FaultTarget, fault: Fault, times: Option<u32>) {
        self.shared.faults.add(target, fault, times);
    }

    /// Removes every scheduled fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// The simulated server's clock (a cloneable handle: clones move the same clock).
    pub fn clock(&self) -> &SimClock {
        &self.shared.clock
    }

    /// The simulated server's current time: what the next request's `Date` header will say.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    /// What a correct agent reports for a jobs window starting at `cutoff`. Walks every job
    /// synchronously (about 0.1 s per million jobs in release builds). A live dataset is taken
    /// as it is now ([`Simulator::now`]); prefer [`Simulator::truth_at`] for live mode.
    pub fn truth(&self, cutoff: DateTime<Utc>) -> SimTruth {
        let dataset = &self.shared.dataset;
        if dataset.is_live() {
            SimTruth::at(dataset, self.now(), cutoff)
        } else {
            SimTruth::of_dataset(dataset, cutoff)
        }
    }

    /// The ground truth at instant `now`: the jobs as they are then, counted by a jobs window
    /// of length `window` (cutoff `now - window`). Static datasets do not change with the
    /// instant, only the cutoff moves.
    pub fn truth_at(&self, now: DateTime<Utc>, window: Duration) -> SimTruth {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        let cutoff = now
            .checked_sub_signed(window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        SimTruth::at(&self.shared.dataset, now, cutoff)
    }

    /// Every job whose state is `DONE` and whose `endTime` lies in `(from, to]`, as the jobs
    /// page and `GET /admin/jobs/{jobId}/try-logs` show it at `to` (a live dataset: the jobs
    /// that exist then; a static one: as of its anchor), in `jobId` order: what a correct agent
    /// turns into one log record per failed job ([`FinishedJobTruth::failed`]). Linear in the
    /// jobs that may exist at `to`.
    pub fn finished_jobs(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<FinishedJobTruth> {
        FinishedJobTruth::between(&self.shared.dataset, from, to)
    }

    /// Serves `GET /admin/jobs/{jobId}/try-logs` (the default), or with `false` answers 404
    /// (the unknown-path body) to every request to it, from the next request on: a primary
    /// server without the endpoint.
    pub fn set_try_logs_served(&self, served: bool) {
        self.shared.set_try_logs_served(served);
    }

    /// The ground truth of the opt-in families for an agent speaking API `version` at instant
    /// `now`: alerts counted over the `alerts_window` before `now` (`createdDateTime` at or
    /// after `now - alerts_window`), catalog images over `[now - catalog_window, now]`; the
    /// other families do not depend on the instant. Families of endpoints `version` lacks are
    /// absent (see [`OptInTruth`]).
    pub fn opt_in_truth(
        &self,
        version: ApiVersion,
        now: DateTime<Utc>,
        alerts_window: Duration,
        catalog_window: Duration,
    ) -> OptInTruth {
        let ms = |window: Duration| i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        OptInTruth::compute(
            self.shared.dataset.opt_in(),
            version,
            now.timestamp_millis(),
            ms(alerts_window),
            ms(catalog_window),
        )
    }

    /// Stops accepting connections, releases hanging requests, and waits (up to five seconds,
    /// then aborts) for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
