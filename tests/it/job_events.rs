//! Job outcomes as OTLP log records, against a living NetBackup stand-in and a real OTLP/gRPC
//! logs receiver: every failed job once, with NetBackup's reason, through restarts, Collector
//! outages, reloads, try-log failures and a mass failure.
//!
//! The simulator runs on a manual clock, so "the jobs that finished between two instants" is
//! exact. The expected jobs and their facts come from the simulator's own account of them
//! (`Simulator::finished_jobs`), never from the agent's code.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use nbu_otel::telemetry::logs::EVENT_NAME;
use nbu_sim::{Fault, FaultTarget, FinishedJobTruth, LiveConfig, SimConfig, Simulator};
use opentelemetry_proto::tonic::logs::v1::LogRecord;

use crate::common::otlp::{Receiver, attr};
use crate::common::{jobs_cycles, load, site_yaml, start_sim, wait_for};
use crate::pipeline::Running;
use crate::prometheus::{scrape, value};

const KEY: &str = "k-events-secret-7";
const SITE: &str = "events";

/// A whole-second instant near the agent's clock.
fn around_now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

/// A living NetBackup on a manual clock: two jobs a minute, no sparse jobs (every finished job
/// has its status), a failure in about one job of six.
fn living() -> SimConfig {
    SimConfig {
        seed: 23,
        jobs: 1_500,
        api_key: KEY.into(),
        anchor: around_now(),
        manual_clock: true,
        sparse_fraction: 0.0,
        live: Some(LiveConfig {
            churn_per_minute: 30,
            retention: Duration::from_secs(3 * 3600),
            ..LiveConfig::default()
        }),
        ..SimConfig::default()
    }
}

/// A static NetBackup on a manual clock, its failures in the last two hours.
fn still(jobs: u64) -> SimConfig {
    SimConfig {
        seed: 5,
        jobs,
        api_key: KEY.into(),
        anchor: around_now(),
        manual_clock: true,
        sparse_fraction: 0.0,
        history: Duration::from_secs(2 * 3600),
        ..SimConfig::default()
    }
}

/// An agent of one site reading `sim`, sending job events to `endpoint` (the metric push off),
/// with `events` lines (indented two spaces) added to its `events` section.
async fn agent(sim: &Simulator, endpoint: &str, state: &Path, events: &str) -> Running {
    let yaml = format!(
        "sites:\n{}server:\n  listen: \"127.0.0.1:0\"\n  prometheus_bridge: true\n\
         otlp:\n  enabled: false\n  endpoint: {endpoint}\n  timeout: 2s\n\
         events:\n  enabled: true\n  export_interval: 200ms\n  state_dir: {}\n{events}",
        site_yaml(
            SITE,
            &sim.base_url(),
            "      jobs_window: 2h\n      jobs_interval: 1s\n      request_timeout: 900ms\n      storage_ttl: 1h\n"
        ),
        serde_json::Value::String(state.display().to_string()),
    );
    Running::start_with(load(&yaml, &[("NBU_KEY", KEY)])).await
}

/// Every job event record the receiver got, in arrival order.
fn records(receiver: &Receiver) -> Vec<LogRecord> {
    receiver.with(|r| {
        r.logs
            .iter()
            .flat_map(|req| &req.resource_logs)
            .flat_map(|rl| &rl.scope_logs)
            .flat_map(|sl| sl.log_records.iter().cloned())
            .collect()
    })
}

fn job_id(record: &LogRecord) -> u64 {
    attr(&record.attributes, "nbu.job.id")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("a record without nbu.job.id: {record:?}"))
}

/// The records by job id; fails when a job came twice.
fn once_each(records: &[LogRecord]) -> BTreeMap<u64, LogRecord> {
    let mut by_id = BTreeMap::new();
    for record in records {
        let id = job_id(record);
        assert!(
            by_id.insert(id, record.clone()).is_none(),
            "job {id} was reported twice"
        );
    }
    by_id
}

/// The failed jobs of `(from, to]`, by id.
fn failed_between(
    sim: &Simulator,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> BTreeMap<u64, FinishedJobTruth> {
    sim.finished_jobs(from, to)
        .into_iter()
        .filter(FinishedJobTruth::failed)
        .map(|job| (job.job_id, job))
        .collect()
}

/// Moves the clock by `step` and waits until the agent ran a jobs cycle that began after.
async fn step(sim: &Simulator, step: Duration) {
    sim.clock()
        .advance(chrono::Duration::from_std(step).unwrap_or_default());
    let before = jobs_cycles(sim);
    wait_for(
        "a jobs cycle after the clock moved",
        Duration::from_secs(30),
        || async { (jobs_cycles(sim) > before + 1).then_some(()) },
    )
    .await;
}

/// Waits until `site`'s checkpoint file exists (the agent's first jobs cycle ended).
async fn checkpoint_written(state: &Path) {
    let file = state.join(format!("events-{SITE}.json"));
    wait_for("the first checkpoint", Duration::from_secs(30), || async {
        file.exists().then_some(())
    })
    .await;
}

/// The agent's `/readyz` answer.
async fn readyz(running: &Running) -> serde_json::Value {
    reqwest::get(&running.readyz_url)
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Checks that `record` tells what NetBackup says of `job`.
fn tells(record: &LogRecord, job: &FinishedJobTruth) {
    let id = job.job_id;
    let a = |key: &str| attr(&record.attributes, key);
    assert_eq!(record.event_name, EVENT_NAME, "job {id}");
    assert_eq!(
        record.time_unix_nano,
        u64::try_from(job.end_ms).unwrap_or(0) * 1_000_000,
        "job {id}: the record's time is the job's end"
    );
    assert!(record.observed_time_unix_nano > 0, "job {id}");
    let severity = if job.try_status == 1 { "WARN" } else { "ERROR" };
    assert_eq!(record.severity_text, severity, "job {id}");
    assert_eq!(a("site").as_deref(), Some(SITE), "job {id}");
    assert_eq!(
        a("nbu.job.status"),
        Some(job.try_status.to_string()),
        "job {id}"
    );
    assert_eq!(
        a("error.type"),
        Some(job.try_status.to_string()),
        "job {id}"
    );
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    assert_eq!(a("nbu.job.client"), non_empty(&job.client_name), "job {id}");
    assert_eq!(
        a("nbu.job.policy.name"),
        non_empty(&job.policy_name),
        "job {id}"
    );
    assert_eq!(
        a("nbu.job.policy.type"),
        job.policy_type.map(str::to_owned),
        "job {id}"
    );
    assert_eq!(
        a("nbu.job.type"),
        job.job_type.map(str::to_owned),
        "job {id}"
    );
    assert_eq!(
        a("nbu.job.schedule"),
        non_empty(job.schedule_name),
        "job {id}"
    );
    assert_eq!(a("nbu.job.tries"), Some(job.tries.to_string()), "job {id}");
    assert_eq!(
        a("nbu.job.storage_unit"),
        non_empty(&job.storage_unit),
        "job {id}"
    );
    assert_eq!(
        a("nbu.job.status_message").as_deref(),
        Some(job.status_message),
        "job {id}"
    );
    let body = match record.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => s,
        other => panic!("job {id}: body {other:?}"),
    };
    assert!(
        body.contains(&format!(
            "with status {}: {}",
            job.try_status, job.status_message
        )),
        "job {id}: {body}"
    );
}

/// Checks that `record` carries NetBackup's reason for `job`: its status message and every
/// WARNING-and-above line of its last try.
fn has_reason(record: &LogRecord, job: &FinishedJobTruth) {
    let reason = attr(&record.attributes, "nbu.job.reason")
        .unwrap_or_else(|| panic!("job {}: no reason: {record:?}", job.job_id));
    assert!(
        reason.starts_with(job.status_message),
        "job {}: {reason}",
        job.job_id
    );
    for line in &job.problems {
        assert!(
            reason.contains(line.message.trim()),
            "job {}: {:?} not in {reason}",
            job.job_id,
            line.message
        );
    }
    assert_eq!(attr(&record.attributes, "nbu.job.reason_missing"), None);
}

/// Live churn, a restart of the agent in the middle and a 40-second Collector outage: every
/// job that failed after the agent's first cycle arrives exactly once, with client, policy,
/// status, NetBackup's reason, the right severity and its end time as the record's time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failed_job_arrives_once_through_a_restart_and_a_collector_outage() {
    let sim = start_sim(living()).await;
    let state = tempfile::tempdir().unwrap();
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let addr = receiver.addr;
    let events = "  try_logs_per_cycle: 200\n";
    let first = agent(&sim, &receiver.endpoint(), state.path(), events).await;
    checkpoint_written(state.path()).await;
    // Under `first_start: new` the jobs of the first cycle's window count as reported.
    let from = sim.now();
    for _ in 0..3 {
        step(&sim, Duration::from_secs(120)).await;
    }

    // A restart: jobs finish while the agent is down.
    first.stop().await;
    sim.clock().advance(chrono::Duration::minutes(4));
    let second = agent(&sim, &receiver.endpoint(), state.path(), events).await;
    step(&sim, Duration::from_secs(120)).await;

    // The Collector goes away for 40 seconds while jobs keep failing.
    let mut received = records(&receiver);
    receiver.stop().await;
    let outage = tokio::time::Instant::now();
    for _ in 0..3 {
        step(&sim, Duration::from_secs(120)).await;
    }
    let waiting = second
        .agent
        .job_events()
        .map_or(0, |j| j.outbox().waiting());
    assert!(waiting > 0, "failed jobs wait for the Collector");
    let ready = readyz(&second).await;
    assert_eq!(ready["events"]["status"], "failing", "{ready}");
    assert!(ready["events"]["waiting"].as_u64() > Some(0), "{ready}");
    assert!(ready["events"]["last_error"].is_string(), "{ready}");
    tokio::time::sleep_until(outage + Duration::from_secs(40)).await;
    let receiver = Receiver::start(addr).await;
    step(&sim, Duration::from_secs(60)).await;
    let to = sim.now();

    let expected = failed_between(&sim, from, to);
    assert!(
        expected.len() >= 20,
        "the run has failures: {}",
        expected.len()
    );
    wait_for("every failed job", Duration::from_secs(60), || async {
        let mut all = received.clone();
        all.extend(records(&receiver));
        let got: std::collections::BTreeSet<u64> = all.iter().map(job_id).collect();
        expected.keys().all(|id| got.contains(id)).then_some(())
    })
    .await;
    received.extend(records(&receiver));
    let by_id = once_each(&received);
    assert_eq!(
        by_id.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "exactly the jobs that failed"
    );
    for (id, job) in &expected {
        tells(&by_id[id], job);
        has_reason(&by_id[id], job);
    }
    let ready = readyz(&second).await;
    assert_eq!(ready["events"]["status"], "ok", "{ready}");
    assert_eq!(ready["events"]["waiting"], 0, "{ready}");
    let scraped = scrape(&second.metrics_url).await;
    let delivered = value(
        &scraped,
        "nbu_job_events_total",
        &[("site", SITE), ("outcome", "delivered")],
    );
    assert!(delivered.is_some_and(|n| n > 0.0), "{delivered:?}");
    second.stop().await;
    receiver.stop().await;
}

/// The failures of a static window, every one at the first start under `first_start: window`.
async fn window_failures(sim: &Simulator) -> BTreeMap<u64, FinishedJobTruth> {
    let now = sim.now();
    failed_between(sim, now - chrono::Duration::hours(2), now)
}

/// Try logs that fail, that the server does not have, or that exceed the budget: the records
/// still arrive, each saying why it has no reason, and the lookups are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_try_logs_fail_is_still_reported_and_says_why() {
    for (case, events, missing) in [
        (
            "failing",
            "  first_start: window\n  try_logs_per_cycle: 1000\n",
            "failed",
        ),
        (
            "absent",
            "  first_start: window\n  try_logs_per_cycle: 1000\n",
            "unavailable",
        ),
        (
            "budget",
            "  first_start: window\n  try_logs_per_cycle: 0\n",
            "budget",
        ),
        (
            "disabled",
            "  first_start: window\n  try_logs: false\n",
            "disabled",
        ),
    ] {
        let sim = start_sim(still(400)).await;
        match case {
            "failing" => sim.set_fault(
                FaultTarget::TryLogs,
                Fault::Status {
                    code: 500,
                    retry_after: None,
                    body: None,
                },
                None,
            ),
            "absent" => sim.set_try_logs_served(false),
            _ => {}
        }
        let state = tempfile::tempdir().unwrap();
        let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
        let running = agent(&sim, &receiver.endpoint(), state.path(), events).await;
        let expected = window_failures(&sim).await;
        assert!(!expected.is_empty(), "{case}");
        let got = wait_for(case, Duration::from_secs(30), || async {
            let got = records(&receiver);
            (got.len() >= expected.len()).then_some(got)
        })
        .await;
        let by_id = once_each(&got);
        assert_eq!(by_id.len(), expected.len(), "{case}");
        for (id, job) in &expected {
            let record = &by_id[id];
            tells(record, job);
            assert_eq!(
                attr(&record.attributes, "nbu.job.reason_missing").as_deref(),
                Some(missing),
                "{case}: job {id}"
            );
            assert_eq!(attr(&record.attributes, "nbu.job.reason"), None, "{case}");
        }
        let outcome = match missing {
            "failed" => Some("failed"),
            "unavailable" => Some("unavailable"),
            "budget" => Some("skipped"),
            _ => None,
        };
        if let Some(outcome) = outcome {
            let scraped = scrape(&running.metrics_url).await;
            let counted = value(
                &scraped,
                "nbu_job_events_try_logs_total",
                &[("site", SITE), ("outcome", outcome)],
            );
            assert_eq!(counted, Some(expected.len() as f64), "{case}");
        }
        running.stop().await;
        receiver.stop().await;
    }
}

/// A reload that changes the site, and one that removes it and adds it back, report nothing
/// twice: the checkpoint covers what the new store finds again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_report_nothing_twice() {
    let sim = start_sim(still(300)).await;
    let state = tempfile::tempdir().unwrap();
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let mut running = agent(
        &sim,
        &receiver.endpoint(),
        state.path(),
        "  first_start: window\n",
    )
    .await;
    let expected = window_failures(&sim).await;
    wait_for("the window's failures", Duration::from_secs(30), || async {
        (records(&receiver).len() >= expected.len()).then_some(())
    })
    .await;
    let config = running.agent.config().clone();
    let mut changed = config.clone();
    changed.sites[0].collection.jobs_page_size = 50;
    let mut without = config.clone();
    without.sites.clear();
    for next in [changed, without, config] {
        let collects = !next.sites.is_empty();
        running.agent.reload(next).await;
        if !collects {
            continue;
        }
        let before = jobs_cycles(&sim);
        wait_for(
            "cycles after the reload",
            Duration::from_secs(30),
            || async { (jobs_cycles(&sim) > before + 2).then_some(()) },
        )
        .await;
    }
    // One more export interval for anything that would have been sent again.
    let cycles = jobs_cycles(&sim);
    wait_for("two more cycles", Duration::from_secs(30), || async {
        (jobs_cycles(&sim) > cycles + 2).then_some(())
    })
    .await;
    let by_id = once_each(&records(&receiver));
    assert_eq!(by_id.len(), expected.len());
    running.stop().await;
    receiver.stop().await;
}

/// A media server down: every backup of 10,000 jobs fails (about 7,600 failed jobs in one
/// cycle). The records that fit in
/// `events.max_waiting` are delivered, the rest counted as dropped; none is lost silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mass_failure_is_delivered_or_counted_as_dropped() {
    let sim = start_sim(SimConfig {
        backup_status: Some(84),
        unfinished_fraction: 0.0,
        ..still(10_000)
    })
    .await;
    let expected = window_failures(&sim).await;
    assert!(expected.len() >= 7_000, "{}", expected.len());
    let state = tempfile::tempdir().unwrap();
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let running = agent(
        &sim,
        &receiver.endpoint(),
        state.path(),
        "  first_start: window\n  max_waiting: 4000\n  try_logs_per_cycle: 10\n",
    )
    .await;
    let counter = |scraped: &crate::prometheus::Exposition, outcome: &str| -> usize {
        value(scraped, "nbu_job_events_total", &[("outcome", outcome)]).map_or(0, |v| v as usize)
    };
    let (delivered, dropped) = wait_for(
        "every record delivered or dropped",
        Duration::from_secs(60),
        || async {
            let scraped = scrape(&running.metrics_url).await;
            let (delivered, dropped) =
                (counter(&scraped, "delivered"), counter(&scraped, "dropped"));
            (delivered + dropped == expected.len()).then_some((delivered, dropped))
        },
    )
    .await;
    assert_eq!(delivered, 4_000, "what fits waits and is delivered");
    assert_eq!(dropped, expected.len() - 4_000);
    let by_id = once_each(&records(&receiver));
    assert_eq!(by_id.len(), delivered);
    assert!(by_id.keys().all(|id| expected.contains_key(id)));
    running.stop().await;
    receiver.stop().await;
}

/// `once --failed-jobs`: every failed job of the window, newest first, the newest
/// `try_logs_per_cycle` with NetBackup's reason, the others saying why they have none; the
/// table shows the same jobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_lists_the_failed_jobs_of_the_window_with_their_reasons() {
    let sim = start_sim(still(300)).await;
    let expected = window_failures(&sim).await;
    assert!(expected.len() > 5, "{}", expected.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nbu-otel.yaml");
    std::fs::write(
        &path,
        format!(
            "sites:\n  - name: {SITE}\n    url: {}\n    api_key: {KEY}\n    collection:\n      jobs_window: 2h\n\
             events:\n  try_logs_per_cycle: 5\n",
            sim.base_url()
        ),
    )
    .unwrap();
    let out = crate::common::process::run_with_config(
        &["once", "--failed-jobs", "--format", "json"],
        &path,
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let jobs = json["sites"][0]["jobs"].as_array().expect("jobs");
    let ids: Vec<u64> = jobs.iter().filter_map(|j| j["job_id"].as_u64()).collect();
    let mut newest_first: Vec<&FinishedJobTruth> = expected.values().collect();
    newest_first.sort_by_key(|j| std::cmp::Reverse((j.end_ms, j.job_id)));
    assert_eq!(
        ids,
        newest_first.iter().map(|j| j.job_id).collect::<Vec<_>>(),
        "every failed job, newest first"
    );
    for (i, (job, truth)) in jobs.iter().zip(&newest_first).enumerate() {
        assert_eq!(job["status"], truth.try_status, "job {}", truth.job_id);
        assert_eq!(
            job["client"].as_str().unwrap_or_default(),
            truth.client_name,
            "job {}",
            truth.job_id
        );
        if i < 5 {
            let reason = job["reason"].as_str().unwrap_or_default();
            assert!(reason.starts_with(truth.status_message), "{job}");
        } else {
            assert_eq!(job["reason_missing"], "budget", "{job}");
        }
    }
    let table = crate::common::process::run_with_config(&["once", "--failed-jobs"], &path).await;
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(&format!("{SITE}: {} job(s)", expected.len())),
        "{text}"
    );
    for truth in &newest_first {
        assert!(text.contains(&truth.job_id.to_string()), "{text}");
    }
    assert!(!text.contains(KEY) && !String::from_utf8_lossy(&out.stdout).contains(KEY));
    sim.shutdown().await;
}
