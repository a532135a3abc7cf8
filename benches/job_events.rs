//! The costs of job events (one OTLP log record per failed job), each reported against a
//! baseline measured in the same run:
//!
//! 1. **Encoding**: N realistic events (failed jobs with client, policy, schedule, every
//!    detail, a ~300-byte reason) turned into requests of 512 records
//!    (`nbu_otel::telemetry::logs::encode`) and serialized (`prost::Message::encode_to_vec`):
//!    records per CPU-second of this thread, bytes per record raw and gzip-compressed. Baseline:
//!    the same records as bare OTLP log records carrying only their body.
//! 2. **Export**: the same N records sent by `JobEventExporter` (512 per request, one request
//!    at a time, gzip as by default) to an OTLP/gRPC logs receiver on loopback: this process's
//!    CPU per record, against the encode-only figure of part 1. Three runs: the receiver in
//!    this process (its CPU counted with the exporter's), the receiver as another process
//!    (the exporter's CPU alone; the receiver's read from `/proc/<pid>/stat`), and the latter
//!    with `otlp.compression: none`.
//! 3. **Memory per waiting record**: resident growth of a `JobOutbox` into which 100,000 events
//!    were offered, per event, against `JobEvent::heap_bytes` (the agent's own estimate), in a
//!    fresh process per kind of event (with a ~300-byte reason; without one).
//! 4. **A mass failure**: an agent (the library, as `nbu-otel run` builds it, in a process of
//!    its own) reading a simulator (another process, with the receiver) of 10,000 jobs whose
//!    backups all fail with status 84 (~7,600 failed jobs in the 2 h window), under
//!    `events.first_start: window`: the time from the agent's start until the receiver counted
//!    every failed job, and the agent process's peak RSS (`VmHWM`) and CPU. Baseline: the same
//!    agent with `events.enabled: false`, until its first jobs cycle was published.
//!
//! ```text
//! cargo bench --bench job_events
//! ```
//!
//! `NBU_BENCH_EVENTS` (default 10000) sets the records of parts 1 and 2, `NBU_BENCH_ROUNDS`
//! (default 10) how many times part 1 encodes them (part 2 sends them half as many times),
//! `NBU_BENCH_WAITING` (default 100000) the events of part 3, `NBU_BENCH_SIM_JOBS` (default
//! 10000) the simulator's jobs in part 4, `NBU_BENCH_RUNS` (default 3) the runs of each agent in
//! part 4, `NBU_BENCH_RPS` (default 1000) the agent's `requests_per_second` there,
//! `NBU_BENCH_EXPORT_INTERVAL` (default `100ms`) its `events.export_interval`, and
//! `NBU_BENCH_PARTS` (default `1234`) which parts run. Linux only (CPU and memory are read from
//! `/proc`). The benchmark runs its helper processes (simulator, receiver, agent, outbox) as
//! copies of itself, chosen by `NBU_BENCH_ROLE`.

mod common;

use common::{env_u64, process_cpu, resident_bytes};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flate2::Compression;
use flate2::write::GzEncoder;
use nbu_otel::Agent;
use nbu_otel::collect::job_event::{JobDetails, JobEvent, Reason, ReasonMissing};
use nbu_otel::collect::outbox::{JobOutbox, Offered, OutboxSettings};
use nbu_otel::config::{self, Config, FirstStart};
use nbu_otel::telemetry::logs::{JobEventExporter, encode};
use nbu_otel::telemetry::pipeline::{Pipeline, resource};
use nbu_sim::{FinishedJobTruth, SimConfig, Simulator};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use prost::Message as _;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::sync::mpsc;
use tonic::codec::CompressionEncoding;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

const KEY: &str = "bench-key";
/// A site for the configurations of parts 1 and 2, which read none (one is required).
const SITE_YAML: &str = "sites:\n  - name: unused\n    url: http://127.0.0.1:9\n    api_key: k\n";
/// Records per export request, as `events.max_batch` by default.
const BATCH: usize = 512;

fn env_text(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// A configuration from YAML, without the process environment's overrides.
fn load(yaml: &str) -> Config {
    match config::load_str_with_env(yaml, Path::new("."), &HashMap::new()) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}\n---\n{yaml}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------

/// Time this thread spent on a CPU so far (the scheduler's count, nanosecond resolution).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let nanos = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// A `kB` field of `/proc/<pid>/status` (`VmHWM`, `VmRSS`), in bytes.
fn status_bytes(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

// ---------------------------------------------------------------------------------------------
// Realistic events
// ---------------------------------------------------------------------------------------------

/// Status codes of failed jobs and NetBackup's messages for them.
const FAILURES: [(i64, &str); 6] = [
    (84, "media write error"),
    (13, "file read failed"),
    (58, "can't connect to client"),
    (
        96,
        "unable to allocate new media for backup, storage unit has none available",
    ),
    (1, "the requested operation was partially successful"),
    (150, "termination requested by administrator"),
];
const POLICY_TYPES: [&str; 4] = ["VMWARE", "STANDARD", "MS_SQL_SERVER", "ORACLE"];
const SCHEDULES: [&str; 3] = ["daily-incr", "weekly-full", "monthly-full"];

/// The reason of job `i` as the agent builds it from the try logs (the status message and the
/// WARNING-and-above lines joined with `; `, in a `String` grown as it is filled), ~300 bytes.
fn reason_text(i: u64, message: &str) -> String {
    let lines = [
        message.to_owned(),
        format!(
            "11/27/2026 07:{:02}:{:02} - Error bptm (pid={}) write error on media id A{:05}, \
             drive index {}, reached end of media",
            i % 60,
            (i * 7) % 60,
            10_000 + i % 50_000,
            i % 100_000,
            i % 16,
        ),
        format!(
            "11/27/2026 07:{:02}:{:02} - Warning bpbrm (pid={}) from client \
             client-{:04}.corp.example.com: WRN - can't open file: /data/db{:02}/tablespace{:03}.dbf \
             (WIN32 32: the process cannot access the file)",
            (i + 1) % 60,
            (i * 11) % 60,
            20_000 + i % 40_000,
            i % 2000,
            i % 40,
            i % 500,
        ),
    ];
    let mut text = String::new();
    for line in &lines {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(line);
    }
    text.truncate(300);
    text
}

/// A failed job as the agent holds it once its reason is known: every detail NetBackup gives.
fn event(site: &Arc<str>, i: u64, with_reason: bool) -> JobEvent {
    let (status, message) = FAILURES[(i % FAILURES.len() as u64) as usize];
    let end_ms = 1_795_000_000_000 + i as i64 * 1_000;
    let seconds = 60 + (i % 7_200);
    JobEvent {
        site: site.clone(),
        job_id: 1_000_000 + i,
        job_type: if i.is_multiple_of(5) {
            "DUPLICATE"
        } else {
            "BACKUP"
        }
        .into(),
        policy_type: POLICY_TYPES[(i % 4) as usize].into(),
        status: Some(status),
        start_ms: Some(end_ms - seconds as i64 * 1_000),
        end_ms: Some(end_ms),
        bytes: (i % 1_000) * 1_048_576,
        duration_seconds: Some(seconds as f64),
        details: JobDetails {
            parent_job_id: Some(999_000 + i / 4),
            sub_type: Some("IMMEDIATE".into()),
            policy_name: Some(
                format!("pol-{}-{:03}", POLICY_TYPES[(i % 4) as usize], i % 200).into(),
            ),
            schedule: Some(SCHEDULES[(i % 3) as usize].into()),
            client: Some(format!("client-{:04}.corp.example.com", i % 2_000).into()),
            tries: Some(1 + i % 3),
            files: Some(i % 50_000),
            storage_unit: Some(format!("stu-msdp-{:02}", i % 8).into()),
            media_server: Some(format!("media-{:02}.corp.example.com", i % 8).into()),
        },
        observed_ms: end_ms + 30_000,
        reason: if with_reason {
            Reason::Found {
                status_message: Some(message.to_owned()),
                text: reason_text(i, message),
            }
        } else {
            Reason::Missing(ReasonMissing::Budget)
        },
    }
}

fn events(n: u64) -> Vec<JobEvent> {
    let site: Arc<str> = Arc::from("primary-a");
    (0..n).map(|i| event(&site, i, true)).collect()
}

/// The agent's resource (`service.*`, `host.name`, the SDK's attributes) as OTLP.
fn proto_resource(config: &Config) -> ProtoResource {
    let attributes = ResourceAttributesWithSchema::from(&resource(config, "bench-instance"));
    ProtoResource {
        attributes: attributes.attributes.0,
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    }
}

/// The baseline request: the same envelope, each record only its body.
fn bare_request(resource: &ProtoResource, events: &[JobEvent]) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource.clone()),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: nbu_otel::telemetry::logs::SCOPE_NAME.to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    attributes: Vec::new(),
                    dropped_attributes_count: 0,
                }),
                log_records: events
                    .iter()
                    .map(|e| LogRecord {
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(e.body())),
                        }),
                        ..LogRecord::default()
                    })
                    .collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::default());
    if let Err(e) = encoder.write_all(bytes) {
        panic!("gzip: {e}");
    }
    encoder.finish().unwrap_or_else(|e| panic!("gzip: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Part 1: encoding
// ---------------------------------------------------------------------------------------------

/// One pass over `events` in requests of [`BATCH`]: (this thread's CPU, bytes, the requests).
fn encode_pass(
    resource: &ProtoResource,
    events: &[JobEvent],
    bare: bool,
) -> (Duration, u64, Vec<Vec<u8>>) {
    let mut requests = Vec::with_capacity(events.len().div_ceil(BATCH));
    let mut bytes = 0u64;
    let cpu = thread_cpu();
    for chunk in events.chunks(BATCH) {
        let request = if bare {
            bare_request(resource, chunk)
        } else {
            encode(resource, chunk)
        };
        let body = request.encode_to_vec();
        bytes += body.len() as u64;
        requests.push(body);
    }
    let cpu = thread_cpu().saturating_sub(cpu);
    (cpu, bytes, std::hint::black_box(requests))
}

/// Part 1; returns the CPU time per record of the full encoding.
fn encoding(n: u64, rounds: u64) -> Duration {
    let config = load(&format!(
        "{SITE_YAML}otlp:\n  endpoint: http://127.0.0.1:4317\n"
    ));
    let resource = proto_resource(&config);
    let events = events(n);
    let records = events.len() as f64;
    let (mut full_cpu, mut bare_cpu) = (Vec::new(), Vec::new());
    let (mut full_bytes, mut bare_bytes) = (0, 0);
    let (mut full_requests, mut bare_requests) = (Vec::new(), Vec::new());
    // A warm-up pass of each, then the two alternately.
    let _ = encode_pass(&resource, &events, false);
    let _ = encode_pass(&resource, &events, true);
    for _ in 0..rounds {
        let (cpu, bytes, requests) = encode_pass(&resource, &events, false);
        full_cpu.push(cpu.as_secs_f64());
        (full_bytes, full_requests) = (bytes, requests);
        let (cpu, bytes, requests) = encode_pass(&resource, &events, true);
        bare_cpu.push(cpu.as_secs_f64());
        (bare_bytes, bare_requests) = (bytes, requests);
    }
    let gzipped = |requests: &[Vec<u8>]| -> (u64, f64) {
        let cpu = thread_cpu();
        let bytes = requests.iter().map(|r| gzip(r).len() as u64).sum();
        (bytes, thread_cpu().saturating_sub(cpu).as_secs_f64())
    };
    let (full_gz, full_gz_cpu) = gzipped(&full_requests);
    let (bare_gz, bare_gz_cpu) = gzipped(&bare_requests);
    let full = median(&mut full_cpu);
    let bare = median(&mut bare_cpu);
    let reason_len = events
        .first()
        .and_then(JobEvent::reason_text)
        .map_or(0, str::len);
    println!(
        "1. encoding {n} failed jobs (reason of {reason_len} bytes, every detail) in requests of {BATCH}; median of {rounds} passes each, this thread's CPU"
    );
    println!(
        "   records                       records/CPU-s  us/record  bytes/record  gzip bytes/record  gzip us/record"
    );
    println!(
        "   full (encode + encode_to_vec)  {:>13.0}  {:>9.2}  {:>12.1}  {:>17.1}  {:>14.2}",
        records / full,
        full * 1e6 / records,
        full_bytes as f64 / records,
        full_gz as f64 / records,
        full_gz_cpu * 1e6 / records
    );
    println!(
        "   baseline, body only            {:>13.0}  {:>9.2}  {:>12.1}  {:>17.1}  {:>14.2}",
        records / bare,
        bare * 1e6 / records,
        bare_bytes as f64 / records,
        bare_gz as f64 / records,
        bare_gz_cpu * 1e6 / records
    );
    println!(
        "   full / baseline: {:.2} x the CPU, {:.2} x the bytes, {:.2} x the gzip bytes",
        full / bare,
        full_bytes as f64 / bare_bytes as f64,
        full_gz as f64 / bare_gz as f64
    );
    Duration::from_secs_f64(full / records)
}

// ---------------------------------------------------------------------------------------------
// Receivers
// ---------------------------------------------------------------------------------------------

/// An OTLP/gRPC logs receiver that accepts everything and counts the records.
#[derive(Clone, Default)]
struct Counter {
    records: Arc<AtomicU64>,
    /// Print `received <total> <unix nanoseconds>` after every request (a child's protocol).
    announce: bool,
}

#[tonic::async_trait]
impl LogsService for Counter {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let n: usize = request
            .get_ref()
            .resource_logs
            .iter()
            .flat_map(|rl| &rl.scope_logs)
            .map(|sl| sl.log_records.len())
            .sum();
        let total = self.records.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        if self.announce {
            println!("received {total} {}", unix_nanos());
        }
        Ok(tonic::Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

/// Starts `counter` on a loopback port; returns its endpoint.
async fn serve(counter: Counter) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("receiver: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("receiver: {e}"));
    tokio::spawn(async move {
        let _ = Server::builder()
            .add_service(
                LogsServiceServer::new(counter).accept_compressed(CompressionEncoding::Gzip),
            )
            .serve_with_incoming(TcpIncoming::from(listener))
            .await;
    });
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------------
// Helper processes
// ---------------------------------------------------------------------------------------------

/// A copy of this program in `role`, its stdout read line by line.
struct Child {
    child: tokio::process::Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Child {
    fn start(role: &str, env: &[(&str, String)]) -> Child {
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("own executable: {e}"));
        let mut command = tokio::process::Command::new(exe);
        command
            .env("NBU_BENCH_ROLE", role)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting the {role} process: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("{role} process stdout"));
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Child { child, lines }
    }

    fn pid(&self) -> String {
        self.child
            .id()
            .map_or_else(|| panic!("the child has exited"), |p| p.to_string())
    }

    /// The words after `word` of the next line starting with it (other lines are skipped).
    async fn expect(&mut self, word: &str, deadline: Duration) -> Vec<String> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let line = tokio::time::timeout_at(until, self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("no `{word}` line within {deadline:?}"))
                .unwrap_or_else(|| panic!("the child ended before a `{word}` line"));
            let mut words = line.split_whitespace();
            if words.next() == Some(word) {
                return words.map(str::to_owned).collect();
            }
        }
    }
}

fn number<T: std::str::FromStr>(words: &[String], i: usize) -> T {
    words
        .get(i)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("a child's line without field {i}: {words:?}"))
}

/// Role `sim`: a simulator of `NBU_BENCH_SIM_JOBS` jobs whose backups all fail with status 84
/// (unless `NBU_BENCH_SIM_JOBS` is 0: the receiver only), and a counting receiver. Prints
/// `sim <url>`, `otlp <endpoint>`, `expected <failed jobs in the 2 h window>`, then
/// `received ...` lines.
async fn sim_role() {
    let jobs = env_u64("NBU_BENCH_SIM_JOBS", 10_000);
    let endpoint = serve(Counter {
        announce: true,
        ..Counter::default()
    })
    .await;
    if jobs > 0 {
        let now = chrono::Utc::now();
        let anchor = chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let sim = Simulator::start(
            SimConfig {
                seed: 5,
                jobs,
                api_key: KEY.into(),
                anchor,
                manual_clock: true,
                sparse_fraction: 0.0,
                unfinished_fraction: 0.0,
                history: Duration::from_secs(2 * 3600),
                backup_status: Some(84),
                ..SimConfig::default()
            },
            "127.0.0.1:0"
                .parse()
                .unwrap_or_else(|e| panic!("address: {e}")),
        )
        .await
        .unwrap_or_else(|e| panic!("simulator: {e}"));
        let expected = sim
            .finished_jobs(anchor - chrono::Duration::hours(2), anchor)
            .into_iter()
            .filter(FinishedJobTruth::failed)
            .count();
        println!("sim {}", sim.base_url());
        println!("expected {expected}");
        std::mem::forget(sim);
    }
    println!("otlp {endpoint}");
    std::future::pending::<()>().await;
}

/// The start delay the agent gives a site (`site_task::start_delay`, copied): sites are
/// spread over the first tenth of the interval, at most 5 s.
fn start_delay(site: &str, interval: Duration) -> Duration {
    let max = (interval / 10).min(Duration::from_secs(5));
    let hash = site.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    max.mul_f64((hash % 1000) as f64 / 1000.0)
}

/// A site name the agent starts collecting at once (the smallest start delay of 1,000 names).
fn prompt_site(interval: Duration) -> String {
    (0..1000)
        .map(|i| format!("bench-{i}"))
        .min_by_key(|name| start_delay(name, interval))
        .unwrap_or_else(|| "bench".to_owned())
}

/// Role `agent`: an agent of one site (`NBU_BENCH_SIM_URL`) with job events on or off
/// (`NBU_BENCH_WITH_EVENTS`), built as `nbu-otel run` builds it. Prints `start <unix ns>`
/// before building it, `cycle <unix ns>` once its first jobs cycle was published.
async fn agent_role() {
    let url = env_text("NBU_BENCH_SIM_URL", "");
    let otlp = env_text("NBU_BENCH_OTLP", "http://127.0.0.1:4317");
    let with_events = env_u64("NBU_BENCH_WITH_EVENTS", 1) == 1;
    let rps = env_u64("NBU_BENCH_RPS", 1000);
    let export_interval = env_text("NBU_BENCH_EXPORT_INTERVAL", "100ms");
    let max_waiting = env_u64("NBU_BENCH_MAX_WAITING", 20_000);
    let interval = Duration::from_secs(60);
    let site = prompt_site(interval);
    let yaml = format!(
        "sites:\n  - name: {site}\n    url: {url}\n    api_key: {KEY}\n    collection:\n      \
         jobs_window: 2h\n      jobs_interval: 60s\n      requests_per_second: {rps}\n\
         otlp:\n  enabled: false\n  endpoint: {otlp}\n  timeout: 10s\n\
         events:\n  enabled: {with_events}\n  first_start: window\n  max_waiting: {max_waiting}\n  \
         export_interval: {export_interval}\n"
    );
    let config = load(&yaml);
    println!("start {}", unix_nanos());
    let pipeline = Pipeline::build(&config).unwrap_or_else(|e| panic!("pipeline: {e}"));
    let mut agent = Agent::new(config, &pipeline.meter_provider)
        .with_exported_sites(pipeline.exported_sites.clone());
    if let Some(exporter) = pipeline.job_events.clone() {
        agent = agent.with_job_events(exporter);
    }
    agent.start();
    loop {
        let done = agent
            .snapshots()
            .get(&site)
            .is_some_and(|s| s.jobs_last_success.is_some());
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    println!("cycle {} {}", unix_nanos(), status_bytes("self", "VmHWM"));
    // Stays up (exporting) until the parent has read its figures and ends it.
    let _keep = (agent, pipeline);
    std::future::pending::<()>().await;
}

/// Role `outbox`: resident growth of an outbox offered `NBU_BENCH_WAITING` events, with a
/// reason or not (`NBU_BENCH_WITH_REASON`).
fn outbox_role() {
    let n = env_u64("NBU_BENCH_WAITING", 100_000);
    let with_reason = env_u64("NBU_BENCH_WITH_REASON", 1) == 1;
    let site: Arc<str> = Arc::from("primary-a");
    let outbox = JobOutbox::new(OutboxSettings {
        max_waiting: usize::try_from(n).unwrap_or(usize::MAX),
        state_dir: None,
        first_start: FirstStart::Window,
    });
    outbox.begin_cycle(&site);
    let base = resident_bytes();
    let (mut heap, mut tranche, started) = (0u64, Instant::now(), Instant::now());
    let mut tranches = Vec::new();
    for i in 0..n {
        let e = event(&site, i, with_reason);
        heap += e.heap_bytes() as u64;
        if outbox.offer(e) != Offered::Queued {
            panic!("event {i} was not queued");
        }
        if (i + 1).is_multiple_of((n / 5).max(1)) {
            tranches.push(tranche.elapsed());
            tranche = Instant::now();
        }
    }
    let offered = started.elapsed();
    let grown = resident_bytes().saturating_sub(base);
    let waiting = outbox.waiting();
    std::hint::black_box(&outbox);
    let per_event = grown as f64 / waiting.max(1) as f64;
    let estimate = heap as f64 / waiting.max(1) as f64;
    println!(
        "   {}: {waiting} waiting, resident growth {:.1} MiB = {per_event:.0} bytes per event; heap_bytes {estimate:.0} (size_of {}); resident / heap_bytes = {:.2}",
        if with_reason {
            "with a 300-byte reason"
        } else {
            "without a reason (budget)"
        },
        mib(grown),
        std::mem::size_of::<JobEvent>(),
        per_event / estimate
    );
    println!(
        "      offering them took {:.2} s; by fifths: {}",
        offered.as_secs_f64(),
        tranches
            .iter()
            .map(|t| format!("{:.2} s", t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

// ---------------------------------------------------------------------------------------------
// Part 2: export
// ---------------------------------------------------------------------------------------------

/// Sends `events` `rounds` times in requests of [`BATCH`] to `endpoint` from a runtime worker;
/// returns this process's CPU time and the wall time.
async fn export_to(
    endpoint: &str,
    compression: &str,
    events: &Arc<Vec<JobEvent>>,
    rounds: u64,
) -> (Duration, Duration) {
    let config = load(&format!(
        "{SITE_YAML}otlp:\n  endpoint: {endpoint}\n  timeout: 30s\n  compression: {compression}\n"
    ));
    let exporter = JobEventExporter::new(&config.otlp, &resource(&config, "bench-instance"))
        .unwrap_or_else(|e| panic!("exporter: {e}"));
    let events = events.clone();
    tokio::spawn(async move {
        let send = |events: &[JobEvent]| {
            let exporter = exporter.clone();
            let batch = events.to_vec();
            async move {
                exporter
                    .export(&batch)
                    .await
                    .unwrap_or_else(|e| panic!("export: {e}"));
            }
        };
        // Warm up: the connection, the allocator.
        for chunk in events.chunks(BATCH) {
            send(chunk).await;
        }
        let (wall, cpu) = (Instant::now(), process_cpu("self"));
        for _ in 0..rounds {
            for chunk in events.chunks(BATCH) {
                exporter
                    .export(chunk)
                    .await
                    .unwrap_or_else(|e| panic!("export: {e}"));
            }
        }
        (process_cpu("self").saturating_sub(cpu), wall.elapsed())
    })
    .await
    .unwrap_or_else(|e| panic!("export task: {e}"))
}

async fn exporting(n: u64, rounds: u64, encode_per_record: Option<Duration>) {
    let events = Arc::new(events(n));
    let records = (n * rounds) as f64;
    println!(
        "2. export of {n} records x {rounds} rounds by JobEventExporter, {BATCH} per request, one request at a time, loopback"
    );
    println!(
        "   receiver           compression  this process CPU  records/CPU-s  us/record  receiver us/record  wall records/s  / encode-only"
    );
    let counter = Counter::default();
    let endpoint = serve(counter.clone()).await;
    let (cpu, wall) = export_to(&endpoint, "gzip", &events, rounds).await;
    let report = |what: &str,
                  compression: &str,
                  cpu: Duration,
                  wall: Duration,
                  receiver: Option<Duration>| {
        let per = cpu.as_secs_f64() / records;
        println!(
            "   {what:<18} {compression:<11}  {:>14.2} s  {:>13.0}  {:>9.2}  {:>18}  {:>14.0}  {:>11}",
            cpu.as_secs_f64(),
            1.0 / per,
            per * 1e6,
            receiver.map_or_else(
                || "(included)".to_owned(),
                |r| format!("{:.2}", r.as_secs_f64() * 1e6 / records)
            ),
            records / wall.as_secs_f64(),
            encode_per_record.map_or_else(
                || "-".to_owned(),
                |e| format!("{:.1} x", per / e.as_secs_f64())
            ),
        );
    };
    report("in this process", "gzip", cpu, wall, None);
    let got = counter.records.load(Ordering::SeqCst);
    assert_eq!(got, n * (rounds + 1), "the receiver counted every record");
    for compression in ["gzip", "none"] {
        let mut receiver = Child::start("sim", &[("NBU_BENCH_SIM_JOBS", "0".to_owned())]);
        let endpoint = receiver.expect("otlp", Duration::from_secs(30)).await;
        let pid = receiver.pid();
        let endpoint = endpoint.first().cloned().unwrap_or_default();
        let before = process_cpu(&pid);
        let (cpu, wall) = export_to(&endpoint, compression, &events, rounds).await;
        let receiver_cpu = process_cpu(&pid).saturating_sub(before);
        report(
            "another process",
            compression,
            cpu,
            wall,
            Some(receiver_cpu),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Part 4: the mass failure
// ---------------------------------------------------------------------------------------------

/// One run of an agent against a new simulator process: (time to the goal, peak RSS, CPU).
async fn mass_failure_run(with_events: bool, runs_note: &mut Vec<String>) -> (f64, u64, f64) {
    let mut sim = Child::start("sim", &[]);
    let url = sim.expect("sim", Duration::from_secs(60)).await;
    let expected: u64 = number(&sim.expect("expected", Duration::from_secs(60)).await, 0);
    let otlp = sim.expect("otlp", Duration::from_secs(60)).await;
    let max_waiting = (expected + 1000).max(20_000);
    let mut agent = Child::start(
        "agent",
        &[
            (
                "NBU_BENCH_SIM_URL",
                url.first().cloned().unwrap_or_default(),
            ),
            ("NBU_BENCH_OTLP", otlp.first().cloned().unwrap_or_default()),
            ("NBU_BENCH_WITH_EVENTS", u64::from(with_events).to_string()),
            ("NBU_BENCH_MAX_WAITING", max_waiting.to_string()),
        ],
    );
    let pid = agent.pid();
    let start: u128 = number(&agent.expect("start", Duration::from_secs(60)).await, 0);
    let cycle_line = agent.expect("cycle", Duration::from_secs(300)).await;
    let cycle: u128 = number(&cycle_line, 0);
    let cycle_hwm: u64 = number(&cycle_line, 1);
    let cycle_s = (cycle.saturating_sub(start)) as f64 / 1e9;
    if !with_events {
        let (hwm, cpu) = (status_bytes(&pid, "VmHWM"), process_cpu(&pid));
        runs_note.push(format!(
            "events off: first cycle {cycle_s:.2} s (peak RSS then {:.1} MiB)",
            mib(cycle_hwm)
        ));
        return (cycle_s, hwm, cpu.as_secs_f64());
    }
    let done = loop {
        let words = sim.expect("received", Duration::from_secs(300)).await;
        let total: u64 = number(&words, 0);
        if total >= expected {
            break number::<u128>(&words, 1);
        }
    };
    let (hwm, cpu) = (status_bytes(&pid, "VmHWM"), process_cpu(&pid));
    // Nothing more comes (every job once): wait a few export intervals.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut total = expected;
    while let Ok(line) = sim.lines.try_recv() {
        if let Some(t) = line.strip_prefix("received ") {
            total = t
                .split_whitespace()
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or(total);
        }
    }
    assert_eq!(total, expected, "every failed job exactly once");
    let done_s = (done.saturating_sub(start)) as f64 / 1e9;
    runs_note.push(format!(
        "events on: {expected} failed jobs, first cycle {cycle_s:.2} s (peak RSS then {:.1} MiB), all delivered {done_s:.2} s",
        mib(cycle_hwm)
    ));
    drop(agent);
    (done_s, hwm, cpu.as_secs_f64())
}

async fn mass_failure(runs: u64) {
    let interval = Duration::from_secs(60);
    let site = prompt_site(interval);
    println!(
        "4. mass failure: {} jobs, every backup failed with status 84, first_start: window; agent, simulator + receiver in separate processes",
        env_u64("NBU_BENCH_SIM_JOBS", 10_000)
    );
    println!(
        "   site {site} (start delay {:?}), requests_per_second {}, events.export_interval {}",
        start_delay(&site, interval),
        env_u64("NBU_BENCH_RPS", 1000),
        env_text("NBU_BENCH_EXPORT_INTERVAL", "100ms")
    );
    let (mut on, mut off) = (Vec::new(), Vec::new());
    let mut notes = Vec::new();
    for run in 0..runs {
        // Alternate which goes first.
        for with_events in if run % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        } {
            let result = mass_failure_run(with_events, &mut notes).await;
            let (time, hwm, cpu) = result;
            println!(
                "   run {} events {:<3}: {time:>6.2} s  peak RSS {:>6.1} MiB  CPU {cpu:.2} s",
                run + 1,
                if with_events { "on" } else { "off" },
                mib(hwm)
            );
            if with_events { &mut on } else { &mut off }.push(result);
        }
    }
    for note in notes {
        println!("     {note}");
    }
    let med = |v: &[(f64, u64, f64)], f: fn(&(f64, u64, f64)) -> f64| {
        let mut xs: Vec<f64> = v.iter().map(f).collect();
        median(&mut xs)
    };
    let (t_on, t_off) = (med(&on, |r| r.0), med(&off, |r| r.0));
    let (m_on, m_off) = (med(&on, |r| r.1 as f64), med(&off, |r| r.1 as f64));
    let (c_on, c_off) = (med(&on, |r| r.2), med(&off, |r| r.2));
    println!(
        "   medians: events on {t_on:.2} s, {:.1} MiB, {c_on:.2} s CPU; off (baseline, first cycle) {t_off:.2} s, {:.1} MiB, {c_off:.2} s CPU",
        m_on / 1048576.0,
        m_off / 1048576.0
    );
    println!(
        "   on / off: {:.2} x the time, {:.2} x the peak RSS (+{:.1} MiB), {:.2} x the CPU",
        t_on / t_off,
        m_on / m_off,
        (m_on - m_off) / 1048576.0,
        c_on / c_off
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let role = std::env::var("NBU_BENCH_ROLE").unwrap_or_default();
    if role == "outbox" {
        outbox_role();
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    match role.as_str() {
        "sim" => return runtime.block_on(sim_role()),
        "agent" => return runtime.block_on(agent_role()),
        _ => {}
    }
    let n = env_u64("NBU_BENCH_EVENTS", 10_000);
    let rounds = env_u64("NBU_BENCH_ROUNDS", 10).max(1);
    let parts = env_text("NBU_BENCH_PARTS", "1234");
    if parts.contains('3') {
        let waiting = env_u64("NBU_BENCH_WAITING", 100_000);
        println!(
            "3. memory per waiting record: an outbox offered {waiting} events, each in a new process"
        );
        for with_reason in ["1", "0"] {
            let exe = std::env::current_exe().unwrap_or_else(|e| panic!("own executable: {e}"));
            let status = std::process::Command::new(exe)
                .env("NBU_BENCH_ROLE", "outbox")
                .env("NBU_BENCH_WITH_REASON", with_reason)
                .status()
                .unwrap_or_else(|e| panic!("outbox process: {e}"));
            assert!(status.success(), "outbox process: {status}");
        }
    }
    let encode_per_record = parts.contains('1').then(|| encoding(n, rounds));
    runtime.block_on(async {
        if parts.contains('2') {
            exporting(n, (rounds / 2).max(1), encode_per_record).await;
        }
        if parts.contains('4') {
            mass_failure(env_u64("NBU_BENCH_RUNS", 3).max(1)).await;
        }
    });
}
