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

#[path = "../common/mod.rs"]
mod common;
mod encoding;
mod export;
mod mass_failure;
mod receiver;
mod roles;
mod support;

use common::env_u64;
use encoding::encoding;
use export::exporting;
use mass_failure::mass_failure;
use roles::{agent_role, outbox_role, sim_role};
use support::env_text;

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
