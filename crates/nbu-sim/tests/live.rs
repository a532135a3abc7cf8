//! The clock and the living dataset: the `Date` header, jobs that change as time passes, and
//! the ground truth at an instant.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use nbu_sim::*;
use serde_json::Value;

mod common;
use common::*;

#[tokio::test]
async fn date_header_follows_the_clock() {
    let sim = Simulator::start(live(10, 60), local())
        .await
        .expect("start");
    let anchor = sim.config().anchor;
    assert_eq!(sim.now(), anchor);
    for path in ["/admin/jobs", "/storage/storage-units", "/nowhere"] {
        let reply = get(&sim, path).await;
        assert_eq!(
            reply.date.as_deref(),
            Some(http_date(anchor).as_str()),
            "{path}"
        );
    }
    let unauthorized = fetch(&sim, "/admin/jobs", None, ApiVersion::V14_0.media_type()).await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(unauthorized.date, Some(http_date(anchor)));
    sim.clock().advance(chrono::Duration::seconds(90));
    let later = anchor + chrono::Duration::seconds(90);
    assert_eq!(sim.now(), later);
    assert_eq!(get(&sim, "/admin/jobs").await.date, Some(http_date(later)));
    sim.set_fault(
        FaultTarget::Any,
        Fault::Status {
            code: 503,
            retry_after: None,
            body: None,
        },
        Some(1),
    );
    let failed = get(&sim, "/admin/jobs").await;
    assert_eq!(failed.status, 503);
    assert_eq!(failed.date, Some(http_date(later)));
    sim.shutdown().await;

    // A wall clock 15 minutes behind.
    let skewed = Simulator::start(
        SimConfig {
            clock_offset: chrono::Duration::minutes(-15),
            ..config(10)
        },
        local(),
    )
    .await
    .expect("start");
    let reply = get(&skewed, "/admin/jobs").await;
    let date = reply
        .date
        .and_then(|d| DateTime::parse_from_rfc2822(&d).ok())
        .expect("a Date header");
    let skew = date.with_timezone(&Utc) - (Utc::now() - chrono::Duration::minutes(15));
    assert!(skew.num_seconds().abs() <= 2, "{skew}");
    skewed.shutdown().await;
}

#[tokio::test]
async fn live_jobs_change_with_the_clock() {
    let sim = Simulator::start(live(300, 5), local())
        .await
        .expect("start");
    let anchor = sim.config().anchor;
    let (at_anchor, _) = walk(&sim, "", "jobId", 100).await;
    assert_eq!(job_ids(&at_anchor), (1..=300).collect::<Vec<_>>());
    let states = |items: &[Value]| -> BTreeSet<String> {
        items
            .iter()
            .filter_map(|i| i["attributes"]["state"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(states(&at_anchor).contains("ACTIVE"));
    assert!(states(&at_anchor).contains("DONE"));

    // Ten minutes later: 50 new jobs, and the delta query returns exactly the changed ones.
    let since = sim.now();
    sim.clock().advance(chrono::Duration::minutes(10));
    let now = sim.now();
    let delta_filter = format!("lastUpdateTime ge {}", timestamp(since));
    let (delta, _) = walk(&sim, &delta_filter, "jobId", 50).await;
    let delta_ids = job_ids(&delta);
    let data = sim.dataset();
    let (now_ms, since_ms) = (now.timestamp_millis(), since.timestamp_millis());
    let changed: Vec<u64> = data
        .jobs_at(now_ms)
        .filter(|job| data.job_at(job.job_id - 1, since_ms).as_ref() != Some(job))
        .map(|job| job.job_id)
        .collect();
    assert_eq!(delta_ids, changed);
    assert_eq!(delta_ids.iter().filter(|id| **id > 300).count(), 50);
    assert!(delta_ids.iter().filter(|id| **id <= 300).count() > 10);
    for item in &delta {
        let updated = item["attributes"]["lastUpdateTime"]
            .as_str()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
            .expect("lastUpdateTime");
        assert!(updated >= since && updated <= now);
    }
    let (all_now, _) = walk(&sim, "", "-jobId", 100).await;
    assert_eq!(all_now.len(), 350);

    // The truth at an instant is what a full walk at that instant folds to.
    for hours in [0, 3, 30, 70] {
        sim.clock().set(anchor + chrono::Duration::hours(hours));
        let now = sim.now();
        let window = Duration::from_secs(6 * 3600);
        let cutoff = now - chrono::Duration::hours(6);
        let finished_filter = format!("state eq 'DONE' and endTime gt {}", timestamp(cutoff));
        let (finished, _) = walk(&sim, &finished_filter, "jobId", 100).await;
        let (unfinished, _) = walk(&sim, "state ne 'DONE'", "jobId", 100).await;
        let walked = fold(finished.iter().chain(&unfinished));
        let truth = sim.truth_at(now, window);
        assert_eq!(walked, truth.jobs, "{hours} h");
        assert_eq!(sim.truth(cutoff), truth);
        assert!(truth.jobs.jobs > 100, "{hours} h: {}", truth.jobs.jobs);
    }
    sim.shutdown().await;
}

#[test]
fn a_day_window_counts_a_day_of_churn() {
    let cfg = live(0, 10);
    let data = Dataset::new(&cfg);
    // Steady state: three days after the start, at 10 new jobs a minute.
    let now = cfg.anchor + chrono::Duration::hours(72);
    let truth = SimTruth::at(&data, now, now - chrono::Duration::hours(24));
    let done: u64 = truth
        .jobs
        .state_counts
        .iter()
        .filter(|(k, _)| k.state == "DONE")
        .map(|(_, n)| n)
        .sum();
    let expected = 10 * 1440;
    assert!(done.abs_diff(expected) < expected / 20, "{done}");
    let unfinished = truth.jobs.jobs - done;
    assert!(unfinished > 100 && unfinished < 3000, "{unfinished}");
    // Nothing exists before the first job, everything is purged long after the last one.
    assert_eq!(data.jobs_at(cfg.anchor.timestamp_millis() - 1).count(), 0);
}
