//! The job store against a living NetBackup: a full walk, then deltas, cycle after cycle, each
//! result equal to the simulator's ground truth at the instant it was read.
//!
//! The simulator runs on a manual clock: time stands still during a cycle and moves only when
//! a test advances it, so "the instant a snapshot was taken" is exact. The expected values come
//! from the simulator's own fold (`SimTruth`), and the expected set of finished jobs from its
//! job list, never from the agent's code.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use nbu_otel::collect::summary::JobsSummary;
use nbu_otel::collect::{JobSync, JobsSettings, SiteCollector, WalkKind};
use nbu_otel::netbackup::ApiVersion;
use nbu_sim::{
    Fault, FaultTarget, JobFacts, JobState, LiveConfig, SimConfig, Simulator, Window, counted,
};

use crate::common::{load, site, site_yaml, start_sim, wait_for};
use crate::pipeline::Running;
use crate::prometheus::scrape;

const KEY: &str = "k-store";
const WINDOW: Duration = Duration::from_secs(2 * 3600);

fn living(anchor: DateTime<Utc>, retention: Duration) -> SimConfig {
    SimConfig {
        seed: 11,
        jobs: 2_000,
        api_key: KEY.into(),
        anchor,
        manual_clock: true,
        live: Some(LiveConfig {
            churn_per_minute: 60,
            retention,
            ..LiveConfig::default()
        }),
        ..SimConfig::default()
    }
}

/// A living simulator answering each request after `latency_ms`, shared with a task that moves
/// its clock or breaks it.
async fn slow_living(latency_ms: u64, retention: Duration) -> Arc<Simulator> {
    Arc::new(
        start_sim(SimConfig {
            latency: Duration::from_millis(latency_ms),
            ..living(around_now(0), retention)
        })
        .await,
    )
}

/// A whole-second instant near the agent's clock, shifted by `skew_minutes`.
fn around_now(skew_minutes: i64) -> DateTime<Utc> {
    let now = Utc::now() + chrono::Duration::minutes(skew_minutes);
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

fn collector(sim: &Simulator, collection: &str) -> SiteCollector {
    let page_size = if collection.contains("jobs_page_size") {
        ""
    } else {
        "      jobs_page_size: 25\n"
    };
    // The simulator's clock is moved on by tens of minutes between cycles, far faster than
    // the agent's own time: a clock that real servers never have.
    let yaml =
        format!("      jobs_window: 2h\n      jobs_clock_tolerance: 3h\n{page_size}{collection}");
    SiteCollector::new(site("store", &sim.base_url(), KEY, &yaml)).expect("client builds")
}

fn settings(c: &SiteCollector) -> JobsSettings {
    JobsSettings::from(&c.site().collection)
}

/// Finished jobs the window holds at the simulator's instant `at`.
fn finished_in_window(sim: &Simulator, at: DateTime<Utc>) -> BTreeSet<u64> {
    let window = Window::Since(at - chrono::Duration::from_std(WINDOW).unwrap());
    sim.dataset()
        .jobs_at(at.timestamp_millis())
        .filter(|j| j.state == Some(JobState::Done) && counted(&JobFacts::from(j), window))
        .map(|j| j.job_id)
        .collect()
}

/// The store's aggregates as the truth states them (the truth knows nothing of pages).
fn comparable(mut s: JobsSummary) -> JobsSummary {
    s.pages = 0;
    s
}

/// Runs one cycle and checks it against the truth at the clock's instant; returns its kind.
async fn cycle_matches_truth(
    sim: &Simulator,
    c: &SiteCollector,
    sync: &mut JobSync,
    version: ApiVersion,
    reported: &mut Vec<u64>,
) -> WalkKind {
    let outcome = c
        .sync_jobs(sync, version, |f| reported.push(f.job_id))
        .await;
    let report = outcome.result.expect("the cycle succeeds");
    let at = sim.now();
    assert_eq!(
        report.server_time, at,
        "the window follows NetBackup's clock"
    );
    let truth = crate::common::truth::expected(&sim.truth_at(at, WINDOW));
    assert_eq!(
        comparable(sync.summary()),
        truth.jobs,
        "{:?} cycle at {at}",
        report.kind
    );
    report.kind
}

fn assert_each_reported_once(reported: &[u64], expected: &BTreeSet<u64>) {
    let distinct: BTreeSet<u64> = reported.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        reported.len(),
        "a finished job was reported twice"
    );
    assert_eq!(
        &distinct, expected,
        "finished jobs reported once each, none missed"
    );
}

/// Many cycles with churn, jobs finishing, leaving the window and new ones arriving, with the
/// agent's clock 15 minutes behind and then ahead of NetBackup's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltas_follow_a_living_site_exactly_whatever_the_agent_clock() {
    for skew in [-15, 15] {
        let sim = start_sim(living(around_now(skew), Duration::from_secs(3 * 3600))).await;
        let c = collector(&sim, "");
        let version = c.negotiate().await.expect("negotiates");
        let mut sync = JobSync::new();
        let mut reported = Vec::new();
        let mut expected = BTreeSet::new();
        let kind = cycle_matches_truth(&sim, &c, &mut sync, version, &mut reported).await;
        assert_eq!(kind, WalkKind::Fill);
        expected.extend(finished_in_window(&sim, sim.now()));
        // 40 cycles of 1 to 7 minutes: more than the 2 h window goes by.
        for step in 0..40u32 {
            let previous = sim.now();
            sim.clock()
                .advance(chrono::Duration::seconds(60 + i64::from(step % 7) * 60));
            let before = sim.requests().len();
            let kind = cycle_matches_truth(&sim, &c, &mut sync, version, &mut reported).await;
            assert_eq!(kind, WalkKind::Delta);
            // A delta reads the jobs changed since the previous cycle (30 s of overlap), and
            // nothing else.
            let since = previous.timestamp_millis() - 30_000;
            let changed = sim
                .dataset()
                .jobs_at(sim.now().timestamp_millis())
                .filter(|j| j.last_update_ms >= since)
                .count();
            let requests = sim.requests().len() - before;
            assert!(
                requests <= changed.div_ceil(25) + 1,
                "skew {skew} min: {requests} requests for {changed} changed jobs"
            );
            expected.extend(finished_in_window(&sim, sim.now()));
        }
        assert_each_reported_once(&reported, &expected);
        sim.shutdown().await;
    }
}

/// Jobs that change while a full walk runs (between two of its pages) are read again by the
/// next delta, with nothing lost and nothing reported twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_changing_during_a_fill_are_caught_by_the_next_delta() {
    let sim = slow_living(5, Duration::from_secs(3 * 3600)).await;
    let c = collector(&sim, "      max_concurrent_requests: 2\n");
    let version = c.negotiate().await.expect("negotiates");
    let start = sim.now();
    // While the fill runs, time moves on by 10 minutes, twice.
    let mover = {
        let sim = sim.clone();
        tokio::spawn(async move {
            for pages in [10, 30] {
                wait_for("pages of the fill", Duration::from_secs(30), || async {
                    (sim.requests().len() > pages).then_some(())
                })
                .await;
                sim.clock().advance(chrono::Duration::minutes(10));
            }
        })
    };
    let mut sync = JobSync::new();
    let mut reported = Vec::new();
    let fill = c
        .sync_jobs(&mut sync, version, |f| reported.push(f.job_id))
        .await;
    mover.await.expect("the clock mover ends");
    let fill = fill.result.expect("the fill succeeds");
    assert_eq!(fill.server_time, start, "the fill's mark is where it began");
    assert_eq!(sim.now(), start + chrono::Duration::minutes(20));
    // The delta reads everything changed since the fill began.
    let kind = cycle_matches_truth(&sim, &c, &mut sync, version, &mut reported).await;
    assert_eq!(kind, WalkKind::Delta);
    let mut expected = finished_in_window(&sim, start);
    expected.extend(finished_in_window(&sim, sim.now()));
    // Jobs that finished while the fill ran may have been read finished by it: those too.
    let seen: BTreeSet<u64> = reported.iter().copied().collect();
    let extra: Vec<u64> = seen.difference(&expected).copied().collect();
    for id in &extra {
        let job = sim
            .dataset()
            .jobs_at(start.timestamp_millis() + 20 * 60_000)
            .find(|j| j.job_id == *id);
        assert!(
            job.is_some_and(|j| j.state == Some(JobState::Done)),
            "job {id} was reported finished but is not"
        );
    }
    expected.extend(extra);
    assert_each_reported_once(&reported, &expected);
}

/// A delta that fails half-way publishes nothing new and loses nothing; the next cycle is a
/// full resync from the last committed state. Purged jobs, which no delta can see, leave the
/// store at a resync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delta_loses_nothing_and_a_resync_drops_purged_jobs() {
    // Finished jobs are purged 30 minutes after their end, well inside the 2 h window.
    let sim = slow_living(3, Duration::from_secs(30 * 60)).await;
    let c = collector(&sim, "      max_retries: 0\n      jobs_page_size: 10\n");
    let version = c.negotiate().await.expect("negotiates");
    let mut sync = JobSync::new();
    let mut reported = Vec::new();
    let kind = cycle_matches_truth(&sim, &c, &mut sync, version, &mut reported).await;
    assert_eq!(kind, WalkKind::Fill);
    let mut expected = finished_in_window(&sim, sim.now());

    // Time passes: the delta has many pages; the fourth one fails.
    sim.clock().advance(chrono::Duration::minutes(20));
    let before_summary = sync.summary();
    let before_mark = sync.high_water();
    let reported_before = reported.len();
    let breaker = {
        let sim = sim.clone();
        tokio::spawn(async move {
            wait_for(
                "three pages of the delta",
                Duration::from_secs(30),
                || async {
                    let n = sim
                        .requests()
                        .iter()
                        .filter(|r| r.query.contains("lastUpdateTime"))
                        .count();
                    (n >= 3).then_some(())
                },
            )
            .await;
            sim.set_fault(
                FaultTarget::Jobs,
                Fault::Status {
                    code: 500,
                    retry_after: None,
                    body: None,
                },
                Some(1),
            );
        })
    };
    let failed = c
        .sync_jobs(&mut sync, version, |f| reported.push(f.job_id))
        .await;
    breaker.await.expect("the breaker ends");
    assert!(failed.result.is_err(), "the delta must fail");
    assert_eq!(
        sync.summary(),
        before_summary,
        "a failed delta changes nothing"
    );
    assert_eq!(
        sync.high_water(),
        before_mark,
        "the mark stays where it was"
    );
    assert_eq!(
        reported.len(),
        reported_before,
        "nothing reported by a failed delta"
    );

    // The next cycle is a full resync, and equals the truth.
    let kind = cycle_matches_truth(&sim, &c, &mut sync, version, &mut reported).await;
    assert_eq!(kind, WalkKind::Resync);
    expected.extend(finished_in_window(&sim, sim.now()));

    // Deltas alone cannot see purges: after 40 more minutes, finished jobs purged meanwhile
    // are still stored...
    sim.clock().advance(chrono::Duration::minutes(40));
    let outcome = c
        .sync_jobs(&mut sync, version, |f| reported.push(f.job_id))
        .await;
    assert_eq!(outcome.result.expect("delta").kind, WalkKind::Delta);
    expected.extend(finished_in_window(&sim, sim.now()));
    let truth = crate::common::truth::expected(&sim.truth_at(sim.now(), WINDOW));
    assert!(
        comparable(sync.summary()).jobs > truth.jobs.jobs,
        "purged jobs stay until a resync"
    );
    // ...until the resync interval has passed.
    let resync_now = JobsSettings {
        resync_interval: Duration::ZERO,
        ..settings(&c)
    };
    assert!(sync.needs_full_walk(&resync_now));
    sync.force_full();
    let kind = cycle_matches_truth(&sim, &c, &mut sync, version, &mut reported).await;
    assert_eq!(kind, WalkKind::Resync);
    assert_each_reported_once(&reported, &expected);
    drop(sim);
}

/// The agent, through failures and reloads (one in the middle of a full walk), counts every
/// finished job once: the completed-jobs counter and the duration histogram equal the number
/// of distinct jobs that finished inside the window, from the simulator's own job list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_jobs_are_counted_once_through_failures_and_reloads() {
    let sim = start_sim(SimConfig {
        latency: Duration::from_millis(10),
        ..living(around_now(0), Duration::from_secs(3 * 3600))
    })
    .await;
    let config = |rps: u32| {
        load(
            &format!(
                "sites:\n{}server:\n  listen: \"127.0.0.1:0\"\n  prometheus_bridge: true\notlp:\n  enabled: false\n",
                site_yaml(
                    "live",
                    &sim.base_url(),
                    &format!(
                        "      jobs_window: 2h\n      jobs_clock_tolerance: 3h\n      jobs_interval: 1s\n      request_timeout: 900ms\n      jobs_page_size: 20\n      max_retries: 0\n      requests_per_second: {rps}\n"
                    ),
                )
            ),
            &[("NBU_KEY", KEY)],
        )
    };
    let mut running = Running::start_with(config(500)).await;
    let mut expected = BTreeSet::new();
    // A reload while the first fill is in flight, and another in the middle of the next one.
    for rps in [400, 450] {
        let fills = full_walks(&sim);
        wait_for("a full walk in flight", Duration::from_secs(20), || async {
            (full_walks(&sim) > fills && sim.requests().len() > 5).then_some(())
        })
        .await;
        let summary = running.agent.reload(config(rps)).await;
        assert_eq!(summary.changed, vec!["live".to_owned()]);
    }
    for step in 0..6 {
        if step > 0 {
            sim.clock().advance(chrono::Duration::minutes(5));
        }
        match step {
            // The next delta fails: the cycle after it is a full resync.
            2 => sim.set_fault(
                FaultTarget::Jobs,
                Fault::Status {
                    code: 500,
                    retry_after: None,
                    body: None,
                },
                Some(1),
            ),
            // A reload restarts the site: a new full walk at the same instant.
            4 => {
                running.agent.reload(config(500)).await;
            }
            _ => {}
        }
        let at = sim.now();
        wait_for(
            "a cycle at the simulator's instant",
            Duration::from_secs(30),
            || async {
                running
                    .agent
                    .snapshots()
                    .get("live")
                    .filter(|s| s.up && s.jobs_as_of == Some(at))
                    .map(|_| ())
            },
        )
        .await;
        expected.extend(finished_in_window(&sim, at));
        let snapshot = running.agent.snapshots().get("live").expect("a snapshot");
        let jobs = snapshot.current_jobs().expect("current jobs");
        assert_eq!(
            comparable((*jobs.summary).clone()),
            crate::common::truth::expected(&sim.truth_at(at, WINDOW)).jobs,
            "step {step}"
        );
    }
    let families = scrape(&running.metrics_url).await;
    let completed: f64 = families
        .get("nbu_jobs_completed_total")
        .map_or(0.0, |f| f.values().sum());
    let durations: f64 = families
        .get("nbu_job_duration_seconds_count")
        .map_or(0.0, |f| f.values().sum());
    assert_eq!(
        completed,
        expected.len() as f64,
        "completed jobs counted once"
    );
    assert_eq!(durations, expected.len() as f64, "durations recorded once");
    let failures: f64 = families
        .get("nbu_collection_errors_total")
        .map_or(0.0, |f| f.values().sum());
    assert!(failures >= 1.0, "the injected failure was counted");
    running.stop().await;
    sim.shutdown().await;
}

/// Full walks begun: the newest-job probe opens each.
fn full_walks(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.query.contains("sort=-jobId"))
        .count()
}
