//! The job store's costs, each reported as a ratio against a baseline measured in the same run:
//!
//! 1. **Steady state**: a living NetBackup (simulator on a manual clock, ~100,000 jobs in a
//!    24 h window), one full walk, then delta cycles of one minute each. Requests and bytes of
//!    a delta, against those of the full walk.
//! 2. **Cold fill at 20 ms per page**: a full walk of 100,000 jobs with
//!    `max_concurrent_requests: 8` against a simulator process answering every request after
//!    20 ms. Wall time against `pages x 20 ms / 8`, and against one walk at a time.
//! 3. **Agent CPU of a cold fill**, HTTP included: this process's CPU time (the simulator runs
//!    as another process) per job read, against the CPU time of only downloading the same
//!    pages in the same run.
//! 4. **Memory per stored job** at 1,000,000 jobs: resident memory of a filled store against
//!    the empty process.
//!
//! ```text
//! cargo bench --bench job_store
//! ```
//!
//! `NBU_BENCH_JOBS` (default 100000) sets the jobs of parts 1 to 3, `NBU_BENCH_STORE_JOBS`
//! (default 1000000) those of part 4, `NBU_BENCH_PARTS` (default `1234`) which parts run.
//! Linux only (CPU and memory are read from `/proc`).

mod common;

use common::{env_u64, process_cpu, resident_bytes};
use std::future::Future;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use nbu_otel::collect::{JobBatch, JobStore, JobSync, JobsSettings, SiteCollector, WalkKind};
use nbu_otel::config::{self, SiteConfig};
use nbu_otel::netbackup::lenient::{Num, Text};
use nbu_otel::netbackup::models::JobAttributes;
use nbu_otel::netbackup::{
    ApiError, ApiVersion, Body, DecodeKind, JobsPageQuery, NetBackupApi, SiteClient,
};
use nbu_sim::{LiveConfig, SimConfig, Simulator};
use tokio::io::{AsyncBufReadExt as _, BufReader};

const KEY: &str = "bench-key";

fn site(url: &str, collection: &str) -> SiteConfig {
    let yaml = format!(
        "sites:\n  - name: bench\n    url: {url}\n    api_key: {KEY}\n    collection:\n      requests_per_second: 1000\n      request_timeout: 30s\n{collection}"
    );
    match config::load_str(&yaml, Path::new(".")) {
        Ok(mut c) => c.sites.remove(0),
        Err(e) => panic!("bench config: {e}"),
    }
}

/// Counts the requests and body bytes that go through an API.
struct Counting<A> {
    inner: A,
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl<A> Counting<A> {
    fn new(inner: A) -> Self {
        Counting {
            inner,
            requests: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    /// Requests and bytes since the last call.
    fn take(&self) -> (u64, u64) {
        (
            self.requests.swap(0, Ordering::Relaxed),
            self.bytes.swap(0, Ordering::Relaxed),
        )
    }

    fn count(&self, body: Result<Body, ApiError>) -> Result<Body, ApiError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Ok(b) = &body {
            self.bytes
                .fetch_add(b.bytes.len() as u64, Ordering::Relaxed);
        }
        body
    }
}

impl<A: NetBackupApi> NetBackupApi for Counting<A> {
    fn site(&self) -> &str {
        self.inner.site()
    }

    fn negotiate(
        &self,
        pinned: Option<ApiVersion>,
    ) -> impl Future<Output = Result<ApiVersion, ApiError>> + Send {
        self.inner.negotiate(pinned)
    }

    async fn jobs_page(
        &self,
        version: ApiVersion,
        query: &JobsPageQuery<'_>,
    ) -> Result<Body, ApiError> {
        self.count(self.inner.jobs_page(version, query).await)
    }

    async fn storage_page(
        &self,
        version: ApiVersion,
        offset: u64,
        limit: u32,
    ) -> Result<Body, ApiError> {
        self.count(self.inner.storage_page(version, offset, limit).await)
    }

    async fn list_page(
        &self,
        version: ApiVersion,
        endpoint: &'static str,
        params: &[(&'static str, String)],
    ) -> Result<Body, ApiError> {
        self.count(self.inner.list_page(version, endpoint, params).await)
    }

    fn decode_error(
        &self,
        endpoint: &str,
        kind: DecodeKind,
        detail: String,
        body: &[u8],
    ) -> ApiError {
        self.inner.decode_error(endpoint, kind, detail, body)
    }
}

/// Part 1: requests and bytes of delta cycles against a full walk, on a living site.
async fn steady_state(jobs_in_window: u64) {
    // ~jobs_in_window finished jobs in 24 h; 30 h of history so the window is in steady state.
    let churn = u32::try_from((jobs_in_window / 1440).max(1)).unwrap_or(u32::MAX);
    let anchor = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_default();
    let sim = Simulator::start(
        SimConfig {
            seed: 3,
            jobs: u64::from(churn) * 60 * 30,
            api_key: KEY.into(),
            anchor,
            manual_clock: true,
            live: Some(LiveConfig {
                churn_per_minute: churn,
                retention: Duration::from_secs(72 * 3600),
                progress_interval: Duration::from_secs(10 * 60),
            }),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
    )
    .await
    .unwrap_or_else(|e| panic!("simulator: {e}"));
    let site = site(
        &sim.base_url(),
        "      jobs_window: 24h\n      max_concurrent_requests: 8\n",
    );
    let settings = JobsSettings::from(&site.collection);
    let api = Counting::new(SiteClient::new(&(&site).into()).unwrap_or_else(|e| panic!("{e}")));
    let version = api
        .negotiate(None)
        .await
        .unwrap_or_else(|e| panic!("negotiate: {e}"));
    api.take();
    let mut sync = JobSync::new();
    let fill = sync
        .cycle(&api, version, &settings, |_| {})
        .await
        .unwrap_or_else(|e| panic!("fill: {e}"));
    let (full_requests, full_bytes) = api.take();
    let stored = fill.stored as f64;
    println!(
        "1. steady state: {} jobs in the window (24 h), {churn} new jobs per minute",
        fill.stored
    );
    println!(
        "   full walk: {full_requests} requests, {:.1} MB",
        full_bytes as f64 / 1e6
    );
    println!("   cycle  changed jobs  requests  bytes     requests/full  bytes/full");
    let (mut sum_requests, mut sum_bytes, cycles) = (0u64, 0u64, 10u32);
    for n in 1..=cycles {
        let since = sim.now().timestamp_millis() - 30_000;
        sim.clock().advance(chrono::Duration::seconds(60));
        let report = sync
            .cycle(&api, version, &settings, |_| {})
            .await
            .unwrap_or_else(|e| panic!("delta: {e}"));
        assert_eq!(report.kind, WalkKind::Delta);
        let (requests, bytes) = api.take();
        let changed = sim
            .dataset()
            .jobs_at(sim.now().timestamp_millis())
            .filter(|j| j.last_update_ms >= since)
            .count();
        sum_requests += requests;
        sum_bytes += bytes;
        println!(
            "   {n:>5}  {changed:>6} ({:.2} %)  {requests:>8}  {:>8}  {:>12.2} %  {:>9.2} %",
            changed as f64 * 100.0 / stored,
            bytes,
            requests as f64 * 100.0 / full_requests as f64,
            bytes as f64 * 100.0 / full_bytes as f64,
        );
    }
    println!(
        "   mean of {cycles} deltas: {:.2} % of the full walk's requests, {:.2} % of its bytes (target <= 3 %)",
        sum_requests as f64 * 100.0 / f64::from(cycles) / full_requests as f64,
        sum_bytes as f64 * 100.0 / f64::from(cycles) / full_bytes as f64
    );
    sim.shutdown().await;
}

/// A simulator running as its own process.
struct SimProcess {
    child: tokio::process::Child,
    url: String,
}

impl SimProcess {
    async fn start(jobs: u64, latency: &str) -> SimProcess {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_nbu-otel"))
            .args(["sim", "--listen", "127.0.0.1:0", "--api-key", KEY])
            .args(["--jobs", &jobs.to_string(), "--latency", latency])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting the simulator: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("simulator stdout"));
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                return SimProcess {
                    child,
                    url: url.to_owned(),
                };
            }
        }
        panic!("the simulator printed no URL");
    }
}

/// One full walk into a new store: (jobs stored, requests, wall time, CPU time).
async fn fill(url: &str, concurrency: u32) -> (usize, u64, Duration, Duration) {
    let site = site(
        url,
        &format!("      jobs_window: 300d\n      max_concurrent_requests: {concurrency}\n"),
    );
    let collector = SiteCollector::new(site).unwrap_or_else(|e| panic!("{e}"));
    let version = collector
        .negotiate()
        .await
        .unwrap_or_else(|e| panic!("negotiate: {e}"));
    let mut sync = JobSync::new();
    let (wall, cpu) = (Instant::now(), process_cpu("self"));
    let outcome = collector.sync_jobs(&mut sync, version, |_| {}).await;
    let (wall, cpu) = (wall.elapsed(), process_cpu("self").saturating_sub(cpu));
    let report = outcome.result.unwrap_or_else(|e| panic!("fill: {e}"));
    (report.stored, report.walk.requests, wall, cpu)
}

/// Part 2: a concurrent fill at 20 ms per page.
async fn cold_fill_latency(jobs: u64) {
    let sim = SimProcess::start(jobs, "20ms").await;
    let (stored, requests, wall, _) = fill(&sim.url, 8).await;
    let ideal = Duration::from_millis(20) * u32::try_from(requests).unwrap_or(u32::MAX) / 8;
    let (_, seq_requests, seq_wall, _) = fill(&sim.url, 1).await;
    let seq_ideal = Duration::from_millis(20) * u32::try_from(seq_requests).unwrap_or(u32::MAX);
    println!("2. cold fill of {stored} jobs, 20 ms per request");
    println!(
        "   8 walks at once: {requests} requests in {:.2} s = {:.2} x (requests x 20 ms / 8) (target <= 1.3)",
        wall.as_secs_f64(),
        wall.as_secs_f64() / ideal.as_secs_f64()
    );
    println!(
        "   one walk at a time (baseline): {seq_requests} requests in {:.2} s = {:.2} x (requests x 20 ms); 8 walks are {:.1} x faster",
        seq_wall.as_secs_f64(),
        seq_wall.as_secs_f64() / seq_ideal.as_secs_f64(),
        seq_wall.as_secs_f64() / wall.as_secs_f64()
    );
    drop(sim.child);
}

/// Part 3: CPU of a fill against the CPU of downloading the same pages.
async fn cold_fill_cpu(jobs: u64) {
    let sim = SimProcess::start(jobs, "0ms").await;
    // Warm up (connections, allocator), then measure.
    let _ = fill(&sim.url, 8).await;
    // On a runtime worker, as the agent's site tasks run: driven from the thread that blocks
    // on the runtime instead, every page would cross threads between the fill and the
    // connection tasks (about 1.5 x the CPU).
    let url = sim.url.clone();
    let (stored, requests, _, cpu) = tokio::spawn(async move { fill(&url, 8).await })
        .await
        .unwrap_or_else(|e| panic!("fill task: {e}"));
    // Baseline: the same number of pages of 100 jobs, downloaded and dropped, 8 at a time, on
    // a runtime worker as well.
    let url = sim.url.clone();
    let pages = jobs.div_ceil(100);
    let before = process_cpu("self");
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut next = 0u64;
        while next < pages {
            let batch: Vec<_> = (next..(next + 8).min(pages))
                .map(|p| {
                    client
                        .get(format!(
                            "{url}/admin/jobs?sort=jobId&page%5Blimit%5D=100&page%5Bafter%5D={}",
                            p * 100
                        ))
                        .header("Authorization", KEY)
                        .header("Accept", "application/vnd.netbackup+json;version=14.0")
                        .send()
                })
                .collect();
            for sent in batch {
                let response = sent.await.unwrap_or_else(|e| panic!("download: {e}"));
                let bytes = response.bytes().await.unwrap_or_else(|e| panic!("{e}"));
                std::hint::black_box(bytes.len());
            }
            next += 8;
        }
    })
    .await
    .unwrap_or_else(|e| panic!("download task: {e}"));
    let download = process_cpu("self").saturating_sub(before);
    println!("3. agent CPU of a cold fill of {stored} jobs ({requests} requests), HTTP included");
    println!(
        "   fill: {:.2} s CPU = {:.0} jobs per CPU-second (target >= 300,000)",
        cpu.as_secs_f64(),
        stored as f64 / cpu.as_secs_f64().max(0.01)
    );
    println!(
        "   baseline, downloading the same {pages} pages only: {:.2} s CPU; the fill costs {:.2} x that",
        download.as_secs_f64(),
        cpu.as_secs_f64() / download.as_secs_f64().max(0.01)
    );
    drop(sim.child);
}

/// A store of `jobs` synthetic jobs, and the process's resident growth while it was built.
fn filled_store(jobs: u64) -> (JobStore, u64) {
    let base = resident_bytes();
    let mut store = JobStore::new();
    let mut batch = JobBatch::for_store(&store);
    let types = ["BACKUP", "DUPLICATE", "RESTORE", "IMAGEDELETE"];
    let policies = ["VMWARE", "STANDARD", "SQL_SERVER", "WINDOWS_NT", "NDMP"];
    for id in 1..=jobs {
        let minute = 1_795_000_000_000i64 + (id as i64) * 60_000;
        let end = DateTime::<Utc>::from_timestamp_millis(minute).unwrap_or_default();
        let start = end - chrono::Duration::minutes((id % 300) as i64);
        let job = JobAttributes {
            job_id: Num::Valid(id),
            job_type: Text::Valid(types[(id % 4) as usize].into()),
            policy_type: Text::Valid(policies[(id % 5) as usize].into()),
            state: Text::Valid(if id % 20 == 0 { "ACTIVE" } else { "DONE" }.into()),
            status: Num::Valid((id % 3) as i64),
            job_queue_reason: Num::Absent,
            kilobytes_transferred: Num::Valid(id * 1000),
            number_of_files: Num::Valid(id % 5000),
            dedup_ratio: Num::Valid(1.0 + (id % 90) as f64 / 10.0),
            start_time: Text::Valid(start.to_rfc3339().into()),
            end_time: Text::Valid(end.to_rfc3339().into()),
            last_update_time: Text::Valid(end.to_rfc3339().into()),
            client_name: Text::Valid(format!("client-{}", id % 1000).into()),
            policy_name: Text::Valid(policies[(id % 5) as usize].into()),
            ..JobAttributes::default()
        };
        batch.add(&job);
    }
    store.replace(batch, i64::MIN, |_| {});
    std::hint::black_box(store.summary());
    let grown = resident_bytes().saturating_sub(base);
    (store, grown)
}

/// Part 4: resident memory per stored job, beyond a fixed base: the growth between a store of
/// a tenth of `jobs` and one of `jobs`, per job added.
fn store_memory(jobs: u64) {
    let small_jobs = jobs / 10;
    let (small, small_grown) = filled_store(small_jobs);
    let (store, grown) = filled_store(jobs);
    drop(small);
    println!(
        "4. memory of a store of {} jobs against one of {small_jobs}",
        store.len()
    );
    println!(
        "   records: {} bytes per job (capacity included); resident growth {:.1} MB against {:.1} MB: {:.1} bytes per added job (target <= 64)",
        store.record_bytes() / store.len().max(1),
        grown as f64 / 1e6,
        small_grown as f64 / 1e6,
        grown.saturating_sub(small_grown) as f64 / (jobs - small_jobs).max(1) as f64
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let jobs = env_u64("NBU_BENCH_JOBS", 100_000);
    let store_jobs = env_u64("NBU_BENCH_STORE_JOBS", 1_000_000);
    let parts = std::env::var("NBU_BENCH_PARTS").unwrap_or_else(|_| "1234".to_owned());
    if parts.contains('4') {
        store_memory(store_jobs);
    }
    if parts.contains('5') {
        // The fill of part 3 on a runtime of one thread, for comparison.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        println!("5. part 3 on a single-threaded runtime");
        runtime.block_on(cold_fill_cpu(jobs));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        if parts.contains('1') {
            steady_state(jobs).await;
        }
        if parts.contains('2') {
            cold_fill_latency(jobs).await;
        }
        if parts.contains('3') {
            cold_fill_cpu(jobs).await;
        }
    });
}
