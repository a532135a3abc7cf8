//! Collected aggregates equal the simulator's ground truth.

use nbu_otel::collect::SiteCollector;
use nbu_sim::SimConfig;

use crate::common::{anchor, cutoff_from_requests, site, start_sim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_of_25000_jobs_over_250_pages_equal_the_ground_truth() {
    let sim = start_sim(SimConfig {
        seed: 7,
        jobs: 25_000,
        storage_units: 30,
        api_key: "k-collect".into(),
        anchor: chrono::Utc::now(),
        ..SimConfig::default()
    })
    .await;
    // A 24 h window over 48 h of history: about half the finished jobs are outside it.
    let site = site(
        "alpha",
        &sim.base_url(),
        "k-collect",
        "      jobs_window: 24h\n      jobs_page_size: 50\n      storage_page_size: 7\n",
    );
    let collector = SiteCollector::new(site).expect("client builds");
    let report = collector.collect_all().await;
    let mut jobs = report.jobs.result.clone().expect("jobs collected");
    let mut storage = report.storage.result.clone().expect("storage collected");

    let cutoff = cutoff_from_requests(&sim);
    let truth = crate::common::truth::expected(&sim.truth(cutoff));
    assert!(jobs.pages >= 250, "only {} pages", jobs.pages);
    assert!(storage.pages >= 4, "storage walked {} pages", storage.pages);
    assert!(
        truth.jobs.jobs < 20_000 && truth.jobs.jobs > 10_000,
        "the window must exclude part of the dataset: {} counted",
        truth.jobs.jobs
    );
    jobs.pages = 0;
    storage.pages = 0;
    assert_eq!(jobs.invalid_values, 0);
    assert_eq!(jobs, truth.jobs);
    assert_eq!(storage, truth.storage);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_asks_only_for_the_window_and_unfinished_jobs() {
    let sim = start_sim(SimConfig {
        jobs: 2_000,
        api_key: "k-window".into(),
        anchor: anchor(),
        ..SimConfig::default()
    })
    .await;
    let site = site(
        "beta",
        &sim.base_url(),
        "k-window",
        "      jobs_window: 1h\n",
    );
    let collector = SiteCollector::new(site).expect("client builds");
    let version = collector.negotiate().await.expect("negotiates");
    let outcome = collector.collect_jobs(version, None).await;
    let summary = outcome.result.expect("jobs collected");
    let filters: Vec<String> = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/admin/jobs"))
        .flat_map(|r| {
            url::form_urlencoded::parse(r.query.as_bytes())
                .filter(|(k, _)| k == "filter")
                .map(|(_, v)| v.into_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        filters.iter().any(|f| f.starts_with("state ne 'DONE'")),
        "{filters:?}"
    );
    assert!(
        filters
            .iter()
            .any(|f| f.starts_with("state eq 'DONE' and endTime gt ")),
        "{filters:?}"
    );
    let cutoff = cutoff_from_requests(&sim);
    let mut expected = crate::common::truth::expected(&sim.truth(cutoff)).jobs;
    expected.pages = summary.pages;
    assert_eq!(summary, expected);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_site_reports_the_progress_of_its_jobs_walk_up_to_completion() {
    use std::sync::{Arc, Mutex};

    use nbu_otel::collect::FillProgress;

    let sim = start_sim(SimConfig {
        jobs: 3_000,
        api_key: "k-progress".into(),
        ..SimConfig::default()
    })
    .await;
    let yaml = format!(
        "sites:\n{}{}",
        crate::common::site_yaml("one", &sim.base_url(), "      jobs_page_size: 100\n"),
        crate::common::site_yaml("two", &sim.base_url(), "      jobs_page_size: 100\n"),
    );
    let config = crate::common::load(&yaml, &[("NBU_KEY", "k-progress")]);
    let seen: Arc<Mutex<Vec<(String, FillProgress)>>> = Arc::default();
    let reports = nbu_otel::commands::collect_sites(&config, |site| {
        let seen = seen.clone();
        let site = site.to_owned();
        Some(Arc::new(move |p: &FillProgress| {
            seen.lock().unwrap().push((site.clone(), *p));
        }))
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    for report in &reports {
        let jobs = report.jobs.result.as_ref().expect("jobs collected");
        let progress: Vec<FillProgress> = seen
            .iter()
            .filter(|(site, _)| *site == report.site)
            .map(|(_, p)| *p)
            .collect();
        assert!(progress.len() >= 2, "{}: {progress:?}", report.site);
        for pair in progress.windows(2) {
            assert!(
                pair[1].fraction >= pair[0].fraction
                    && pair[1].jobs >= pair[0].jobs
                    && pair[1].pages >= pair[0].pages,
                "{}: progress went back: {pair:?}",
                report.site
            );
        }
        let last = progress.last().unwrap();
        assert_eq!(last.fraction, 1.0, "{}", report.site);
        assert_eq!(last.remaining(), Some(std::time::Duration::ZERO));
        // Every job of the window was read by the walk the progress describes.
        assert!(
            last.jobs >= jobs.jobs && last.pages * 100 >= last.jobs,
            "{}: {last:?} for {} jobs",
            report.site,
            jobs.jobs
        );
    }
    sim.shutdown().await;
}

/// The simulator writes the histogram bounds out on its own: they are the agent's, and a
/// duration on a bound falls in that bound's bucket.
#[test]
fn the_truth_buckets_durations_as_the_agent_does() {
    use nbu_otel::collect::summary::{DURATION_BUCKETS, DurationHistogram};

    assert_eq!(DURATION_BUCKETS, nbu_sim::DURATION_BOUNDS);
    for (i, bound) in nbu_sim::DURATION_BOUNDS.iter().enumerate() {
        let mut h = DurationHistogram::default();
        h.record(*bound);
        assert_eq!(h.bucket_counts[i], 1, "{bound}");
    }
}

/// The truth knows nothing of pages and holds no invalid values.
#[test]
fn the_truth_as_summaries_has_no_pages_and_no_invalid_values() {
    let config = nbu_sim::SimConfig {
        jobs: 500,
        anchor: crate::common::anchor(),
        ..nbu_sim::SimConfig::default()
    };
    let truth = nbu_sim::SimTruth::compute(&config, config.anchor);
    let expected = crate::common::truth::expected(&truth);
    assert_eq!(expected.jobs.jobs, truth.jobs.jobs);
    assert_eq!(expected.jobs.invalid_values, 0);
    assert_eq!(expected.jobs.pages, 0);
    assert_eq!(expected.storage.invalid_values, 0);
    assert_eq!(expected.storage.pages, 0);
}

/// What a snapshot says of a site: `nbu_up`, whether an error is shown, and every series the
/// catalog reads from it (jobs and storage families, `site` left out).
fn said(snapshot: &nbu_otel::collect::SiteSnapshot) -> (bool, bool, Vec<String>) {
    let mut series = Vec::new();
    for metric in nbu_otel::telemetry::catalog::CATALOG.iter() {
        // When a collection ended and how long its requests took differ between two
        // collections: their series are compared without their values.
        let timed = matches!(
            metric.name,
            "nbu.last_scrape_timestamp_seconds" | "nbu.response_time_ms"
        );
        metric.read_series(snapshot, &mut |labels, value| {
            let value = if timed {
                String::new()
            } else {
                format!("{value:?}")
            };
            series.push(format!("{} {labels:?} {value}", metric.name));
        });
    }
    series.sort();
    (snapshot.up, snapshot.last_error.is_some(), series)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_and_run_go_through_one_cycle_and_agree_on_up() {
    use nbu_otel::collect::SiteCycle;
    use nbu_sim::{Fault, FaultTarget};

    let sim = start_sim(SimConfig {
        seed: 11,
        jobs: 600,
        storage_units: 5,
        api_key: "k-cycle".into(),
        anchor: chrono::Utc::now(),
        ..SimConfig::default()
    })
    .await;
    let refused = || Fault::Status {
        code: 500,
        retry_after: None,
        body: None,
    };
    // The version probe reads no page: a cut page fails the jobs walk after the version
    // was agreed.
    let storage_down = (FaultTarget::Storage, refused());
    let jobs_cut = (FaultTarget::Jobs, Fault::TruncatedJson);
    // The legacy rule, written out: up while the jobs or the storage could be collected.
    let cases = [
        ("healthy", vec![], true),
        ("storage failing", vec![storage_down.clone()], true),
        ("jobs failing", vec![jobs_cut.clone()], true),
        (
            "jobs and storage failing",
            vec![jobs_cut, storage_down],
            false,
        ),
    ];
    for (case, faults, up) in cases {
        sim.clear_faults();
        for (target, fault) in &faults {
            sim.set_fault(*target, fault.clone(), None);
        }
        let collector = || {
            let collection = "      jobs_window: 72h\n      max_retries: 0\n";
            SiteCollector::new(site("alpha", &sim.base_url(), "k-cycle", collection))
                .expect("client builds")
        };
        let once = collector().collect_all().await;
        let running = collector();
        let mut cycle = SiteCycle::fresh("alpha");
        cycle.run(&running, &()).await;
        cycle.close(&running);
        let (once_up, once_error, once_series) = said(&once.snapshot);
        let (run_up, run_error, run_series) = said(cycle.snapshot());
        assert_eq!((once_up, run_up), (up, up), "{case}: nbu_up");
        assert_eq!(once_error, !faults.is_empty(), "{case}: once's last error");
        assert_eq!(run_error, !faults.is_empty(), "{case}: run's last error");
        assert_eq!(
            once_series, run_series,
            "{case}: the series of once and run"
        );
        assert_eq!(
            once_series.iter().any(|s| s.starts_with("nbu.jobs_count")),
            !faults
                .iter()
                .any(|(target, _)| *target == FaultTarget::Jobs),
            "{case}: jobs series"
        );
    }
    sim.shutdown().await;
}
