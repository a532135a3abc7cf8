//! Hot reload of a running agent: mid-collection, on a rotated CA file or a new version pin,
//! and changes that need a restart.

use std::time::Duration;

use nbu_otel::Agent;
use nbu_otel::telemetry::pipeline::Pipeline;
use nbu_sim::SimConfig;

use crate::common::bridged::{sim_config, yaml};
use crate::common::{jobs_cycles, load, site_yaml, start_sim, wait_for};
use crate::pipeline::{KEY, Running};
use crate::prometheus::scrape;

/// `sum(nbu_job_duration_seconds_count)` on the bridge.
async fn durations_recorded(running: &Running) -> f64 {
    scrape(&running.metrics_url)
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
