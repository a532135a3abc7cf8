//! The helper processes, copies of this benchmark chosen by `NBU_BENCH_ROLE`: the simulator,
//! the agent, and the outbox of part 3.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nbu_otel::Agent;
use nbu_otel::collect::job_event::JobEvent;
use nbu_otel::collect::outbox::{JobOutbox, Offered, OutboxSettings};
use nbu_otel::config::FirstStart;
use nbu_otel::telemetry::pipeline::Pipeline;
use nbu_sim::{FinishedJobTruth, SimConfig, Simulator};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::sync::mpsc;

use super::common::{env_u64, resident_bytes};
use super::receiver::{Counter, serve};
use super::support::{KEY, env_text, event, load, mib, status_bytes, unix_nanos};

/// A copy of this program in `role`, its stdout read line by line.
pub(super) struct Child {
    child: tokio::process::Child,
    pub(super) lines: mpsc::UnboundedReceiver<String>,
}

impl Child {
    pub(super) fn start(role: &str, env: &[(&str, String)]) -> Child {
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

    pub(super) fn pid(&self) -> String {
        self.child
            .id()
            .map_or_else(|| panic!("the child has exited"), |p| p.to_string())
    }

    /// The words after `word` of the next line starting with it (other lines are skipped).
    pub(super) async fn expect(&mut self, word: &str, deadline: Duration) -> Vec<String> {
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

pub(super) fn number<T: std::str::FromStr>(words: &[String], i: usize) -> T {
    words
        .get(i)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("a child's line without field {i}: {words:?}"))
}

/// Role `sim`: a simulator of `NBU_BENCH_SIM_JOBS` jobs whose backups all fail with status 84
/// (unless `NBU_BENCH_SIM_JOBS` is 0: the receiver only), and a counting receiver. Prints
/// `sim <url>`, `otlp <endpoint>`, `expected <failed jobs in the 2 h window>`, then
/// `received ...` lines.
pub(super) async fn sim_role() {
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
pub(super) fn start_delay(site: &str, interval: Duration) -> Duration {
    let max = (interval / 10).min(Duration::from_secs(5));
    let hash = site.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    max.mul_f64((hash % 1000) as f64 / 1000.0)
}

/// A site name the agent starts collecting at once (the smallest start delay of 1,000 names).
pub(super) fn prompt_site(interval: Duration) -> String {
    (0..1000)
        .map(|i| format!("bench-{i}"))
        .min_by_key(|name| start_delay(name, interval))
        .unwrap_or_else(|| "bench".to_owned())
}

/// Role `agent`: an agent of one site (`NBU_BENCH_SIM_URL`) with job events on or off
/// (`NBU_BENCH_WITH_EVENTS`), built as `nbu-otel run` builds it. Prints `start <unix ns>`
/// before building it, `cycle <unix ns>` once its first jobs cycle was published.
pub(super) async fn agent_role() {
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
pub(super) fn outbox_role() {
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
