//! A site's collection over time: the storage TTL, staleness and recovery, a panicked task,
//! and sites kept apart from a hanging or slow neighbour.

use std::net::SocketAddr;
use std::time::Duration;

use nbu_sim::{Fault, FaultTarget, SimConfig, Simulator};

use crate::common::bridged::{sim_config, walks, yaml};
use crate::common::otlp::{Receiver, attr};
use crate::common::{jobs_cycles, load, site_yaml, start_sim, wait_for};
use crate::pipeline::{KEY, Running};
use crate::prometheus::{Exposition, scrape, value};

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_is_walked_once_per_ttl_whatever_the_jobs_interval() {
    let sim = start_sim(sim_config(KEY)).await;
    let site = site_yaml(
        "ttl",
        &sim.base_url(),
        "      jobs_interval: 1s\n      storage_ttl: 5s\n      request_timeout: 900ms\n",
    );
    let running = Running::start_with(load(&yaml(&site, ""), &[("NBU_KEY", KEY)])).await;
    // Readers do not trigger collections: scrape often meanwhile, until ten jobs cycles ran
    // (however long that takes on a loaded machine).
    let started = tokio::time::Instant::now();
    wait_for("ten jobs cycles", Duration::from_secs(180), || async {
        let _ = reqwest::get(&running.metrics_url).await;
        (jobs_cycles(&sim) >= 10).then_some(())
    })
    .await;
    let elapsed = started.elapsed();
    let storage = walks(&sim, "/storage/storage-units", "page%5Boffset%5D=0");
    // One walk at the start, then at most one per TTL that passed.
    let allowed = 1 + (elapsed.as_secs_f64() / 5.0).floor() as usize;
    assert!(
        storage <= allowed,
        "{storage} storage walks in {elapsed:?} with a 5 s TTL"
    );
    assert!(storage >= 2, "{storage} storage walks: the TTL must expire");
    // The request counter makes the caching visible.
    let families = scrape(&running.metrics_url).await;
    let counted = value(
        &families,
        "nbu_api_requests_total",
        &[
            ("endpoint", "/storage/storage-units"),
            ("status", "200"),
            ("site", "ttl"),
        ],
    )
    .unwrap_or(0.0);
    assert!(
        counted >= storage as f64 && counted <= (allowed + 1) as f64,
        "{counted} storage requests counted for {storage} walks"
    );
    running.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicked_site_task_is_restarted_counted_and_reported() {
    let sim = start_sim(sim_config(KEY)).await;
    let sites = site_yaml("fragile", &sim.base_url(), "      jobs_interval: 1h\n");
    let mut config = load(&yaml(&sites, ""), &[("NBU_KEY", KEY)]);
    // Beyond what validation accepts (a library user can still build it): scheduling the
    // cycle after the first one overflows, and the task panics.
    config.sites[0].collection.jobs_interval = Duration::MAX;
    let running = Running::start_with(config).await;
    let panics = |f: &Exposition| {
        value(
            f,
            "nbu_collection_errors_total",
            &[("site", "fragile"), ("source", "task"), ("kind", "panic")],
        )
        .unwrap_or(0.0)
    };
    // Restarted (after a backoff) and panicking again: counted each time.
    wait_for(
        "two panics of the site task, counted",
        Duration::from_secs(120),
        || async { (panics(&scrape(&running.metrics_url).await) >= 2.0).then_some(()) },
    )
    .await;
    let snapshot = running.agent.snapshots().get("fragile").expect("snapshot");
    assert!(!snapshot.up);
    let error = snapshot.last_error.clone().unwrap_or_default();
    assert!(error.contains("panicked"), "{error}");
    assert!(
        error.contains("overflow"),
        "the panic's message is reported: {error}"
    );
    running.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_series_disappear_and_return_on_recovery() {
    let addr = free_addr();
    let sim = Simulator::start(sim_config(KEY), addr).await.unwrap();
    let site = site_yaml(
        "stale",
        &sim.base_url(),
        "      jobs_interval: 1s\n      storage_ttl: 1s\n      request_timeout: 500ms\n      max_retries: 0\n",
    );
    let running = Running::start_with(load(&yaml(&site, ""), &[("NBU_KEY", KEY)])).await;
    let families = wait_for("jobs series", Duration::from_secs(20), || async {
        let f = scrape(&running.metrics_url).await;
        f.contains_key("nbu_jobs_count").then_some(f)
    })
    .await;
    assert_eq!(value(&families, "nbu_up", &[("site", "stale")]), Some(1.0));
    assert_eq!(
        value(&families, "nbu_source_stale", &[("source", "jobs")]),
        Some(0.0)
    );
    sim.shutdown().await;
    let stopped_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();

    let families = wait_for(
        "the series to go stale",
        Duration::from_secs(20),
        || async {
            let f = scrape(&running.metrics_url).await;
            (!f.contains_key("nbu_jobs_count") && !f.contains_key("nbu_disk_bytes")).then_some(f)
        },
    )
    .await;
    assert_eq!(value(&families, "nbu_up", &[("site", "stale")]), Some(0.0));
    assert_eq!(
        value(&families, "nbu_source_stale", &[("source", "jobs")]),
        Some(1.0)
    );
    let last = value(
        &families,
        "nbu_last_scrape_timestamp_seconds",
        &[("source", "jobs")],
    )
    .expect("the timestamp stays");
    assert!(
        last <= stopped_at + 0.5,
        "timestamp {last} after the stop at {stopped_at}"
    );

    let sim = Simulator::start(sim_config(KEY), addr).await.unwrap();
    let families = wait_for("recovery", Duration::from_secs(20), || async {
        let f = scrape(&running.metrics_url).await;
        f.contains_key("nbu_jobs_count").then_some(f)
    })
    .await;
    assert_eq!(value(&families, "nbu_up", &[("site", "stale")]), Some(1.0));
    running.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_site_never_delays_another() {
    let healthy = start_sim(sim_config(KEY)).await;
    let hanging = start_sim(sim_config(KEY)).await;
    hanging.set_fault(FaultTarget::Any, Fault::Hang, None);
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let sites = format!(
        "{}{}",
        site_yaml(
            "fine",
            &healthy.base_url(),
            "      jobs_interval: 1s\n      request_timeout: 900ms\n"
        ),
        site_yaml(
            "stuck",
            &hanging.base_url(),
            "      jobs_interval: 1s\n      request_timeout: 900ms\n"
        ),
    );
    let yaml = format!(
        "sites:\n{sites}otlp:\n  endpoint: {}\n  export_interval: 1s\n  timeout: 1s\n",
        receiver.endpoint()
    );
    let running = Running::start_with(load(&yaml, &[("NBU_KEY", KEY)])).await;
    wait_for("eight exports", Duration::from_secs(30), || async {
        (receiver.with(|r| r.metrics.len()) >= 8).then_some(())
    })
    .await;
    // Every export after the first collection shows "fine" up with fresh data, and "stuck" down.
    let exports = receiver.with(|r| r.metrics.clone());
    let mut checked = 0;
    for export in exports.iter().skip(2) {
        let points: Vec<_> = export
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .filter(|m| m.name == "nbu.last_scrape_timestamp_seconds")
            .flat_map(|m| match &m.data {
                Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Gauge(g)) => {
                    g.data_points.clone()
                }
                _ => vec![],
            })
            .collect();
        let fine = points
            .iter()
            .find(|p| {
                attr(&p.attributes, "site").as_deref() == Some("fine")
                    && attr(&p.attributes, "source").as_deref() == Some("jobs")
            })
            .expect("fine has a jobs timestamp in every export");
        let exported_at = fine.time_unix_nano as f64 / 1e9;
        let scraped = match fine.value {
            Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsDouble(
                d,
            )) => d,
            _ => panic!("timestamp is a double"),
        };
        assert!(
            exported_at - scraped < 3.0,
            "fine's data was {:.1} s old at an export",
            exported_at - scraped
        );
        assert!(
            !points
                .iter()
                .any(|p| attr(&p.attributes, "site").as_deref() == Some("stuck")),
            "stuck never succeeded"
        );
        checked += 1;
    }
    assert!(checked >= 5);
    running.stop().await;
    receiver.stop().await;
    healthy.shutdown().await;
    hanging.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_slower_than_its_interval_still_reports_current_data() {
    // About 25 pages at 250 ms each: a collection takes longer than the 1 s interval.
    let sim = start_sim(SimConfig {
        jobs: 2_400,
        api_key: KEY.into(),
        latency: Duration::from_millis(250),
        ..SimConfig::default()
    })
    .await;
    let site = site_yaml(
        "slow",
        &sim.base_url(),
        "      jobs_interval: 1s\n      request_timeout: 900ms\n      jobs_window: 72h\n      cycle_timeout: 2m\n",
    );
    let running = Running::start_with(load(&yaml(&site, ""), &[("NBU_KEY", KEY)])).await;
    wait_for(
        "the first slow collection",
        Duration::from_secs(60),
        || async {
            scrape(&running.metrics_url)
                .await
                .contains_key("nbu_jobs_count")
                .then_some(())
        },
    )
    .await;
    // From now on the data never goes stale, although every collection overruns.
    let until = tokio::time::Instant::now() + Duration::from_secs(12);
    while tokio::time::Instant::now() < until {
        let f = scrape(&running.metrics_url).await;
        assert_eq!(
            value(&f, "nbu_source_stale", &[("source", "jobs")]),
            Some(0.0)
        );
        assert_eq!(value(&f, "nbu_up", &[("site", "slow")]), Some(1.0));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    running.stop().await;
    sim.shutdown().await;
}
