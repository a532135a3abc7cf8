//! Day-to-day operation: storage TTL, readiness, staleness, hot reload, isolated sites.

use std::net::SocketAddr;
use std::time::Duration;

use nbu_otel::Agent;
use nbu_otel::telemetry::pipeline::Pipeline;
use nbu_sim::{Fault, FaultTarget, SimConfig, Simulator};

use crate::common::otlp::{Receiver, attr};
use crate::common::{jobs_cycles, load, site_yaml, start_sim, wait_for};
use crate::pipeline::{KEY, Running};
use crate::prometheus::{Exposition, scrape, value};

fn sim_config(key: &str) -> SimConfig {
    SimConfig {
        jobs: 300,
        storage_units: 8,
        api_key: key.into(),
        ..SimConfig::default()
    }
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn walks(sim: &Simulator, path: &str, first_page: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with(path) && r.status == 200 && r.query.contains(first_page))
        .filter(|r| !r.query.contains("page%5Bafter%5D"))
        .count()
}

async fn metrics(running: &Running) -> Exposition {
    scrape(&running.metrics_url).await
}

fn yaml(sites: &str, server_extra: &str) -> String {
    format!(
        "sites:\n{sites}server:\n  listen: \"127.0.0.1:0\"\n  prometheus_bridge: true\n{server_extra}otlp:\n  enabled: false\n"
    )
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
    let families = metrics(&running).await;
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
async fn readyz_follows_the_backends_and_probes_are_cached() {
    let sim_a = start_sim(sim_config(KEY)).await;
    // Site b's server is down: it answers every request with 503 until it comes up. (Its own
    // listener from the start: binding a port chosen earlier can race other tests' sockets.)
    let sim_b = start_sim(sim_config(KEY)).await;
    let down = Fault::Status {
        code: 503,
        retry_after: None,
        body: None,
    };
    sim_b.set_fault(FaultTarget::Any, down, None);
    let sites = format!(
        "{}{}",
        site_yaml(
            "a",
            &sim_a.base_url(),
            // A request timeout far above any scheduling delay of a loaded machine: the probe
            // of the burst below never times out, and the proof it replaces stands while it
            // runs (proof and slack are both this timeout).
            "      jobs_interval: 1h\n      request_timeout: 20s\n"
        ),
        site_yaml(
            "b",
            &sim_b.base_url(),
            "      jobs_interval: 2s\n      request_timeout: 1500ms\n      max_retries: 0\n"
        ),
    );
    let running = Running::start_with(load(
        &yaml(&sites, "  ready_cache: 2s\n"),
        &[("NBU_KEY", KEY)],
    ))
    .await;
    // Site b is down: 503, with the reason per site.
    let body: serde_json::Value =
        wait_for("a 503 naming site b", Duration::from_secs(20), || async {
            let r = reqwest::get(&running.readyz_url).await.ok()?;
            let status = r.status();
            let body: serde_json::Value = r.json().await.ok()?;
            let a_ready = body["sites"][0]["ready"] == true;
            (status == 503 && a_ready).then_some(body)
        })
        .await;
    assert_eq!(body["sites"][1]["site"], "b");
    assert_eq!(body["sites"][1]["ready"], false);
    assert!(body["sites"][1]["reason"].is_string());

    // b comes up: 200.
    sim_b.clear_faults();
    wait_for("/readyz 200", Duration::from_secs(20), || async {
        let r = reqwest::get(&running.readyz_url).await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;

    // Site a collects once an hour: readiness probes it, at most once per cache period,
    // however many probes arrive at once.
    // Once a's last answer is older than its proof (request_timeout, longer than ready_cache),
    // only a probe can prove it.
    wait_for(
        "a's last answer to age past its proof",
        Duration::from_secs(120),
        || async {
            let last = sim_a.requests().last()?.at;
            (last.elapsed() > Duration::from_secs(21)).then_some(())
        },
    )
    .await;
    sim_a.clear_requests();
    let burst = tokio::time::Instant::now();
    let probes: Vec<_> = (0..100)
        .map(|_| {
            let url = running.readyz_url.clone();
            tokio::spawn(async move { reqwest::get(&url).await.map(|r| r.status().as_u16()) })
        })
        .collect();
    let mut statuses = Vec::new();
    for p in probes {
        statuses.push(p.await.unwrap().unwrap());
    }
    let periods = 1 + (burst.elapsed().as_secs_f64() / 2.0).floor() as usize;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let sent = sim_a.requests().len();
    assert!(
        sent <= periods,
        "100 concurrent /readyz sent {sent} requests to site a in {periods} cache period(s)"
    );

    // a's server stops: once the probe's proof (request_timeout) has passed, /readyz turns
    // 503.
    sim_a.shutdown().await;
    let body = wait_for(
        "/readyz 503 after a stops",
        Duration::from_secs(90),
        || async {
            let r = reqwest::get(&running.readyz_url).await.ok()?;
            let status = r.status();
            let body: serde_json::Value = r.json().await.ok()?;
            (status == 503).then_some(body)
        },
    )
    .await;
    assert_eq!(body["sites"][0]["site"], "a");
    assert_eq!(body["sites"][0]["reachable"], false);
    running.stop().await;
    sim_b.shutdown().await;
}

/// A probe request of `/readyz` (no sort, one job), answered.
fn answered_probes(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with("/admin/jobs") && r.query == "page%5Blimit%5D=1")
        .filter(|r| r.status == 200)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readiness_probe_outlives_the_request_that_started_it() {
    // NetBackup takes 2 s to answer anything; the probes' client gives up after 500 ms.
    let sim = start_sim(SimConfig {
        jobs: 40,
        storage_units: 2,
        api_key: KEY.into(),
        latency: Duration::from_secs(2),
        ..SimConfig::default()
    })
    .await;
    let sites = site_yaml(
        "slow",
        &sim.base_url(),
        "      jobs_interval: 1h\n      request_timeout: 4s\n      max_concurrent_requests: 4\n",
    );
    let running = Running::start_with(load(
        &yaml(&sites, "  ready_cache: 1s\n"),
        &[("NBU_KEY", KEY)],
    ))
    .await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    // One good collection, then nothing but probes.
    wait_for("the first collection", Duration::from_secs(120), || async {
        let snapshot = running.agent.snapshots().get("slow")?;
        (snapshot.jobs_last_success.is_some() && snapshot.storage_last_success.is_some())
            .then_some(())
    })
    .await;
    sim.clear_requests();
    let mut polls = 0u32;
    wait_for(
        "/readyz 200 from a probe's cached answer",
        Duration::from_secs(120),
        || {
            polls += 1;
            let (client, url) = (impatient.clone(), running.readyz_url.clone());
            let probed = answered_probes(&sim);
            async move {
                let status = client.get(&url).send().await.ok()?.status();
                (probed > 0 && status == 200).then_some(())
            }
        },
    )
    .await;
    let probes = answered_probes(&sim);
    assert!(
        (probes as u32) < polls,
        "{probes} probes for {polls} polls: probes must be shared and cached"
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
        || async { (panics(&metrics(&running).await) >= 2.0).then_some(()) },
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
        let f = metrics(&running).await;
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
            let f = metrics(&running).await;
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
        let f = metrics(&running).await;
        f.contains_key("nbu_jobs_count").then_some(f)
    })
    .await;
    assert_eq!(value(&families, "nbu_up", &[("site", "stale")]), Some(1.0));
    running.stop().await;
    sim.shutdown().await;
}

fn task_count() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_reloads_leak_no_tasks_or_descriptors() {
    let sim = start_sim(sim_config(KEY)).await;
    let dir = tempfile::tempdir().unwrap();
    let key_a = dir.path().join("a.key");
    let key_b = dir.path().join("b.key");
    std::fs::write(&key_a, KEY).unwrap();
    std::fs::write(&key_b, format!("{KEY}\n")).unwrap();
    let config = |key: &std::path::Path, interval: &str| {
        load(
            &format!(
                "sites:\n  - name: r\n    url: {}\n    api_key_file: {}\n    collection:\n      jobs_interval: {interval}\n      request_timeout: 500ms\notlp:\n  enabled: false\n",
                sim.base_url(),
                key.display()
            ),
            &[],
        )
    };
    let pipeline = Pipeline::build(&config(&key_a, "1s")).unwrap();
    let mut agent = Agent::new(config(&key_a, "1s"), &pipeline.meter_provider);
    agent.start();
    wait_for("a first collection", Duration::from_secs(20), || async {
        agent
            .snapshots()
            .get("r")
            .and_then(|s| s.jobs_last_success)
            .map(|_| ())
    })
    .await;
    let (tasks0, fds0) = (task_count(), fd_count());
    for i in 0..200 {
        let (key, interval) = if i % 2 == 0 {
            (&key_b, "2s")
        } else {
            (&key_a, "1s")
        };
        let summary = agent.reload(config(key, interval)).await;
        assert_eq!(summary.changed, vec!["r".to_owned()]);
    }
    // Back on the first config; let connections of stopped clients close.
    wait_for(
        "tasks and descriptors back to baseline",
        Duration::from_secs(20),
        || async {
            let (tasks, fds) = (task_count(), fd_count());
            (tasks <= tasks0 + 2 && fds <= fds0 + 4).then_some(())
        },
    )
    .await;
    // And the agent still collects.
    sim.clear_requests();
    wait_for(
        "a collection after the reloads",
        Duration::from_secs(20),
        || async { (!sim.requests().is_empty()).then_some(()) },
    )
    .await;
    agent.shutdown().await;
    pipeline.shutdown(Duration::from_secs(5)).await;
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

/// `sum(nbu_job_duration_seconds_count)` on the bridge.
async fn durations_recorded(running: &Running) -> f64 {
    metrics(running)
        .await
        .get("nbu_job_duration_seconds_count")
        .map_or(0.0, |f| f.values().sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_mid_collection_neither_loses_nor_double_counts() {
    // Slow pages: a walk takes a few seconds, so reloads land in the middle of one.
    let sim = start_sim(SimConfig {
        jobs: 1_500,
        api_key: KEY.into(),
        latency: Duration::from_millis(60),
        ..SimConfig::default()
    })
    .await;
    let site = |rps: u32| {
        site_yaml(
            "mid",
            &sim.base_url(),
            &format!(
                "      jobs_interval: 1s\n      request_timeout: 900ms\n      jobs_window: 72h\n      jobs_page_size: 20\n      requests_per_second: {rps}\n"
            ),
        )
    };
    let mut running = Running::start_with(load(&yaml(&site(500), ""), &[("NBU_KEY", KEY)])).await;
    let finished: u64 = crate::common::truth::expected(
        &sim.truth(sim.config().anchor - chrono::Duration::hours(72)),
    )
    .jobs
    .durations
    .values()
    .map(|h| h.count)
    .sum();
    // Reload three times while walks are in flight, starting with the very first walk: jobs
    // recorded by a cancelled walk must stay recorded (each reload changes the site: a restart).
    for rps in [400, 450, 500] {
        let before = sim.requests().len();
        wait_for("a walk in flight", Duration::from_secs(20), || async {
            (sim.requests().len() > before + 3).then_some(())
        })
        .await;
        let summary = running
            .agent
            .reload(load(&yaml(&site(rps), ""), &[("NBU_KEY", KEY)]))
            .await;
        assert_eq!(summary.changed, vec!["mid".to_owned()]);
    }
    assert!(
        durations_recorded(&running).await < finished as f64,
        "the reloads were meant to interrupt the first walk"
    );
    // Two complete walks after the last reload.
    let walks = jobs_cycles;
    let before = walks(&sim);
    wait_for(
        "two more complete walks",
        Duration::from_secs(60),
        || async { (walks(&sim) >= before + 2).then_some(()) },
    )
    .await;
    assert_eq!(
        durations_recorded(&running).await,
        finished as f64,
        "finished jobs were recorded again (or lost) across reloads"
    );
    running.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_ca_file_or_a_new_pin_restarts_the_site() {
    let sim = start_sim(sim_config(KEY)).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not yet a certificate\n").unwrap();
    let config = |pin: &str| {
        load(
            &format!(
                "sites:\n  - name: rot\n    url: {}\n    api_key: {KEY}\n{pin}    tls:\n      ca_file: {}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\notlp:\n  enabled: false\n",
                sim.base_url(),
                ca.display()
            ),
            &[],
        )
    };
    let pipeline = Pipeline::build(&config("")).unwrap();
    let mut agent = Agent::new(config(""), &pipeline.meter_provider);
    agent.start();
    // Same file, same contents: nothing to do.
    assert_eq!(agent.reload(config("")).await.changed, Vec::<String>::new());
    // Same path, new contents (a renewed CA): the site gets a new client.
    std::fs::write(&ca, "a renewed CA, still not PEM\n").unwrap();
    assert_eq!(
        agent.reload(config("")).await.changed,
        vec!["rot".to_owned()]
    );
    agent.shutdown().await;

    // A pinned version set by a reload is used at once, not only after a 406.
    std::fs::remove_file(&ca).unwrap();
    let plain = |pin: &str| {
        load(
            &format!(
                "sites:\n  - name: pin\n    url: {}\n    api_key: {KEY}\n{pin}    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\notlp:\n  enabled: false\n",
                sim.base_url()
            ),
            &[],
        )
    };
    let mut agent = Agent::new(plain(""), &pipeline.meter_provider);
    agent.start();
    wait_for("14.0 negotiated", Duration::from_secs(20), || async {
        agent
            .snapshots()
            .get("pin")
            .and_then(|s| s.api_version)
            .filter(|v| *v == nbu_otel::netbackup::ApiVersion::V14_0)
    })
    .await;
    agent.reload(plain("    api_version: \"12.0\"\n")).await;
    sim.clear_requests();
    wait_for(
        "requests with the pinned version",
        Duration::from_secs(20),
        || async {
            let asked: Vec<_> = sim
                .requests()
                .iter()
                .filter_map(|r| r.accept_version.clone())
                .collect();
            (asked.len() >= 3).then_some(asked)
        },
    )
    .await
    .iter()
    .for_each(|v| assert_eq!(v, "12.0"));
    agent.shutdown().await;
    pipeline.shutdown(Duration::from_secs(5)).await;
    sim.shutdown().await;
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
            metrics(&running)
                .await
                .contains_key("nbu_jobs_count")
                .then_some(())
        },
    )
    .await;
    // From now on the data never goes stale, although every collection overruns.
    let until = tokio::time::Instant::now() + Duration::from_secs(12);
    while tokio::time::Instant::now() < until {
        let f = metrics(&running).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_unsupported_and_failing_opt_in_sources_without_deciding_on_them() {
    let sim = start_sim(SimConfig {
        supported_versions: vec![nbu_sim::ApiVersion::V12_0],
        ..sim_config(KEY)
    })
    .await;
    sim.set_fault(
        FaultTarget::OptIn(nbu_sim::OptInEndpoint::Alerts),
        Fault::Status {
            code: 500,
            retry_after: None,
            body: None,
        },
        None,
    );
    let sites = site_yaml(
        "old",
        &sim.base_url(),
        "      jobs_interval: 1h\n      max_retries: 0\n",
    )
    .replace(
        "    collection:\n",
        "    sources:\n      alerts:\n        enabled: true\n      slo:\n        enabled: true\n      tape:\n        enabled: true\n    collection:\n",
    );
    let running = Running::start_with(load(&yaml(&sites, ""), &[("NBU_KEY", KEY)])).await;
    let body: serde_json::Value = wait_for(
        "the opt-in sources collected once",
        Duration::from_secs(30),
        || async {
            let r = reqwest::get(&running.readyz_url).await.ok()?;
            let status = r.status();
            let body: serde_json::Value = r.json().await.ok()?;
            let sources = body["sites"][0]["sources"].as_array()?;
            let settled = sources.len() == 3
                && sources
                    .iter()
                    .all(|s| s["status"] != "stale" || s["detail"].is_string());
            (status == 200 && settled).then_some(body)
        },
    )
    .await;
    // The site is ready: opt-in sources never decide readiness.
    let site = &body["sites"][0];
    assert_eq!(site["ready"], true, "{body}");
    let source = |name: &str| {
        site["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source"] == name)
            .unwrap_or_else(|| panic!("no {name} in {body}"))
            .clone()
    };
    let slo = source("slo");
    assert_eq!(slo["status"], "unsupported", "{body}");
    assert!(
        slo["detail"].as_str().unwrap_or("").contains("API 12.0"),
        "{body}"
    );
    let alerts = source("alerts");
    assert_eq!(alerts["status"], "stale", "{body}");
    assert!(
        alerts["detail"].as_str().unwrap_or("").contains("500"),
        "{body}"
    );
    assert_eq!(source("tape")["status"], "current", "{body}");
    running.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_whose_client_cannot_be_built_is_never_ready_and_says_why() {
    let sim = start_sim(sim_config(KEY)).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let sites = format!(
        "{}{}",
        site_yaml("good", &sim.base_url(), ""),
        site_yaml("badca", &sim.base_url(), "").replace(
            "    collection:\n",
            &format!(
                "    tls:\n      ca_file: {}\n    collection:\n",
                ca.display()
            ),
        ),
    );
    let running = Running::start_with(load(
        &yaml(&sites, "  ready_min_sites: 1\n"),
        &[("NBU_KEY", KEY)],
    ))
    .await;
    // One ready site is enough here: 200, with the other site's reason.
    let body: serde_json::Value = wait_for("/readyz 200", Duration::from_secs(30), || async {
        let r = reqwest::get(&running.readyz_url).await.ok()?;
        (r.status() == 200).then_some(r.json().await.ok()?)
    })
    .await;
    let badca = &body["sites"][0];
    assert_eq!(badca["site"], "badca", "{body}");
    assert_eq!(badca["ready"], false, "{body}");
    assert_eq!(badca["reachable"], false, "{body}");
    let reason = badca["reason"].as_str().unwrap_or("");
    assert!(reason.contains("holds no PEM certificate"), "{body}");
    assert_eq!(body["sites"][1]["ready"], true, "{body}");
    assert_eq!(body["required"], 1, "{body}");
    // The site is not collected: nbu_up says so.
    let families = metrics(&running).await;
    assert_eq!(value(&families, "nbu_up", &[("site", "badca")]), Some(0.0));
    running.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_metrics_credentials_are_reported_as_needing_a_restart() {
    let sim = start_sim(sim_config(KEY)).await;
    let config = |server: &str| {
        load(
            &format!(
                "sites:\n  - name: creds\n    url: {}\n    api_key: {KEY}\nserver:\n  listen: \"127.0.0.1:0\"\n{server}otlp:\n  enabled: false\n",
                sim.base_url()
            ),
            &[],
        )
    };
    let basic =
        |password: &str| format!("  metrics_username: prom\n  metrics_password: {password}\n");
    let bearer = |token: &str| format!("  metrics_bearer_token: {token}\n");
    let pipeline = Pipeline::build(&config("")).unwrap();
    let mut agent = Agent::new(config(&basic("pw-1")), &pipeline.meter_provider);
    agent.start();
    // The same credentials: nothing to restart.
    let same = agent.reload(config(&basic("pw-1"))).await;
    assert!(same.needs_restart.is_empty(), "{same:?}");
    // Another password, a token instead of a password, another token, no credentials at all:
    // each is a server change that takes effect at the next start.
    for server in [
        basic("pw-2"),
        bearer("tok-1"),
        bearer("tok-2"),
        String::new(),
    ] {
        let summary = agent.reload(config(&server)).await;
        assert_eq!(summary.needs_restart, vec!["server"], "{server}");
    }
    agent.shutdown().await;
    sim.shutdown().await;
}
