//! The Prometheus bridge over snapshots and counters: what a scrape sees when data change,
//! when they do not, when several scrapers come at once, and when series stop existing.

use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime};

use nbu_otel::collect::{SiteSnapshot, SourceData};
use nbu_otel::events::Events;
use nbu_otel::server;
use nbu_otel::telemetry::bridge::PrometheusBridge;
use nbu_otel::telemetry::instruments::{JobRecorder, SnapshotStore, register};
use nbu_sim::{SimConfig, SimTruth};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;

use crate::common::{anchor, wait_for};
use crate::prometheus::{parse_exposition, value};

/// A snapshot of `site` with the simulator's ground truth for `jobs` jobs and `units` storage
/// units, current for `max_age`.
fn snapshot(site: &str, jobs: u64, units: u32, max_age: Duration) -> SiteSnapshot {
    let config = SimConfig {
        jobs,
        storage_units: units,
        anchor: anchor(),
        ..SimConfig::default()
    };
    let truth = crate::common::truth::expected(&SimTruth::compute(
        &config,
        anchor() - chrono::Duration::hours(72),
    ));
    let now = SystemTime::now();
    let mut s = SiteSnapshot::empty(site);
    s.up = true;
    s.jobs = Some(SourceData {
        summary: Arc::new(truth.jobs),
        collected_at: now,
        max_age,
    });
    s.storage = Some(SourceData {
        summary: Arc::new(truth.storage),
        collected_at: now,
        max_age,
    });
    s.jobs_last_success = Some(now);
    s.storage_last_success = Some(now);
    s
}

struct Setup {
    store: SnapshotStore,
    recorder: JobRecorder,
    /// Events counted in `recorder.counters`, as the agent's are.
    events: Events,
    bridge: PrometheusBridge,
    _provider: SdkMeterProvider,
}

fn setup() -> Setup {
    let provider = SdkMeterProvider::builder().build();
    let store = SnapshotStore::new();
    let recorder = register(&provider.meter("test"), &store);
    let bridge = PrometheusBridge::new(store.clone(), recorder.counters.clone());
    let events = Events::counting_in(recorder.counters.clone());
    Setup {
        store,
        recorder,
        events,
        bridge,
        _provider: provider,
    }
}

fn text(bridge: &PrometheusBridge) -> String {
    String::from_utf8(bridge.render().body().to_vec()).expect("the exposition is UTF-8")
}

#[test]
fn unchanged_data_is_served_from_one_rendering_and_counters_stay_exact() {
    let s = setup();
    s.store
        .publish(snapshot("a", 500, 5, Duration::from_secs(3600)));
    s.store
        .publish(snapshot("b", 500, 5, Duration::from_secs(3600)));
    let first = s.bridge.render();
    let again = s.bridge.render();
    assert!(Arc::ptr_eq(&first, &again), "unchanged data: same bytes");
    assert_eq!(s.bridge.renders(), 1);

    // Counters that move between snapshots show on the very next scrape.
    let requests = [("site", "a"), ("endpoint", "jobs"), ("status", "200")];
    for n in 1..=3 {
        s.events.request_answered("a", "jobs", "200");
        let families = parse_exposition(&text(&s.bridge));
        assert_eq!(
            value(&families, "nbu_api_requests_total", &requests),
            Some(f64::from(n))
        );
    }
    s.events.source_failed("b", "jobs", "timeout");
    let families = parse_exposition(&text(&s.bridge));
    assert_eq!(
        value(
            &families,
            "nbu_collection_errors_total",
            &[("site", "b"), ("kind", "timeout")]
        ),
        Some(1.0)
    );
    // Gauges of both sites are still there, unchanged.
    let jobs = |f: &crate::prometheus::Exposition, site: &str| -> f64 {
        f["nbu_jobs_count"]
            .iter()
            .filter(|(k, _)| k.contains(&("site".to_owned(), site.to_owned())))
            .map(|(_, v)| v)
            .sum()
    };
    let before = jobs(&families, "a");
    assert!(before > 0.0);

    // A new snapshot of one site shows at once; the other site is unchanged.
    s.store
        .publish(snapshot("a", 900, 5, Duration::from_secs(3600)));
    let families = parse_exposition(&text(&s.bridge));
    assert!(jobs(&families, "a") > before);
    assert_eq!(jobs(&families, "b"), before);
}

#[test]
fn concurrent_scrapers_share_one_rendering() {
    let s = setup();
    s.store
        .publish(snapshot("a", 2_000, 50, Duration::from_secs(3600)));
    let before = s.bridge.renders();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let bridge = s.bridge.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                bridge.render()
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("scraper thread"))
        .collect();
    assert_eq!(s.bridge.renders(), before + 1, "one rendering for all");
    assert!(results.iter().all(|r| Arc::ptr_eq(r, &results[0])));
}

#[test]
fn gzip_is_the_same_exposition_compressed() {
    use std::io::Read as _;
    let s = setup();
    s.store
        .publish(snapshot("a", 1_000, 20, Duration::from_secs(3600)));
    let rendered = s.bridge.render();
    let gzip = rendered.gzip();
    assert!(gzip.len() * 4 < rendered.body().len(), "compresses well");
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gzip[..])
        .read_to_end(&mut plain)
        .expect("valid gzip");
    assert_eq!(plain, rendered.body());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_sources_leave_the_exposition_without_a_new_snapshot() {
    let s = setup();
    s.store
        .publish(snapshot("a", 300, 5, Duration::from_millis(300)));
    assert!(text(&s.bridge).contains("nbu_jobs_count{"));
    wait_for(
        "the jobs series to go stale",
        Duration::from_secs(20),
        || async {
            let body = text(&s.bridge);
            (!body.contains("nbu_jobs_count{") && !body.contains("nbu_disk_bytes{")).then_some(())
        },
    )
    .await;
    let families = parse_exposition(&text(&s.bridge));
    assert_eq!(
        value(
            &families,
            "nbu_source_stale",
            &[("site", "a"), ("source", "jobs")]
        ),
        Some(1.0)
    );
}

#[test]
fn series_that_stop_existing_leave_the_exposition() {
    let s = setup();
    s.store
        .publish(snapshot("a", 300, 10, Duration::from_secs(3600)));
    s.store
        .publish(snapshot("b", 300, 10, Duration::from_secs(3600)));
    s.events.request_answered("b", "jobs", "200");
    let units = |body: &str| {
        parse_exposition(body)
            .get("nbu_storage_info")
            .map_or(0, |f| f.len())
    };
    assert_eq!(units(&text(&s.bridge)), 20);
    // Storage units removed at a site.
    s.store
        .publish(snapshot("a", 300, 4, Duration::from_secs(3600)));
    assert_eq!(units(&text(&s.bridge)), 14);
    // A site removed by a reload: its gauges and its counters go.
    s.store.remove("b");
    s.recorder.remove_site("b");
    let body = text(&s.bridge);
    assert!(!body.contains("site=\"b\""), "site b left behind:\n{body}");
    assert!(body.contains("site=\"a\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_gzipped_only_for_scrapers_that_ask() {
    let s = setup();
    s.store
        .publish(snapshot("a", 500, 5, Duration::from_secs(3600)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let store = s.store.clone();
    let readiness = nbu_otel::readiness::Readiness::new(store, Duration::from_secs(1), None);
    let router = server::router(readiness, Some(s.bridge.clone()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, router, None, async {
        let _ = stopped.await;
    }));
    let url = format!("http://{addr}/metrics");
    let client = reqwest::Client::new();
    let plain = client.get(&url).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    let zipped = client
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        zipped.headers().get("content-encoding").unwrap(),
        "gzip",
        "Prometheus asks for gzip"
    );
    let zipped = zipped.bytes().await.unwrap();
    let mut unzipped = Vec::new();
    use std::io::Read as _;
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain);
    let _ = stop.send(());
}
