//! Hot reload of a running agent: mid-collection, on a rotated CA file or a new version pin,
//! changes that need a restart, and a site moved to another server and key.

use std::time::Duration;

use nbu_otel::Agent;
use nbu_otel::telemetry::pipeline::Pipeline;
use nbu_sim::{Fault, FaultTarget, SimConfig};

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

/// A readiness probe of `sim` (no sort, one job), whatever its answer.
fn is_probe(r: &nbu_sim::RequestRecord) -> bool {
    r.path.ends_with("/admin/jobs") && r.query == "page%5Blimit%5D=1"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_moved_by_a_reload_never_sends_its_old_key_again() {
    const OLD_KEY: &str = "k-reload-old-server-key";
    const NEW_KEY: &str = "k-reload-new-server-key";
    let old = start_sim(sim_config(OLD_KEY)).await;
    let new = start_sim(sim_config(NEW_KEY)).await;
    // Collected once an hour: after its first cycle, only readiness probes reach the server;
    // a probe retries an unavailable server for up to a minute.
    let config = |url: &str, key: &str| {
        let site = site_yaml(
            "moving",
            url,
            "      jobs_interval: 1h\n      request_timeout: 1s\n      max_retries: 10\n      max_retry_time: 60s\n",
        );
        load(&yaml(&site, "  ready_cache: 1s\n"), &[("NBU_KEY", key)])
    };
    let mut running = Running::start_with(config(&old.base_url(), OLD_KEY)).await;
    let readyz = running.readyz_url.clone();
    let ready = || async {
        let r = reqwest::get(&readyz).await.ok()?;
        (r.status() == 200).then_some(())
    };
    wait_for(
        "the site ready on the old server",
        Duration::from_secs(30),
        ready,
    )
    .await;
    // The old server becomes unavailable, asking to be retried in a second.
    old.set_fault(
        FaultTarget::Any,
        Fault::Status {
            code: 503,
            retry_after: Some("1".into()),
            body: None,
        },
        None,
    );
    // Once the last answer is older than its proof (1 s), /readyz starts a probe, which
    // retries the old server with the old key.
    let probing = tokio::spawn({
        let readyz = running.readyz_url.clone();
        async move {
            let until = tokio::time::Instant::now() + Duration::from_secs(30);
            while tokio::time::Instant::now() < until {
                let _ = reqwest::get(&readyz).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    wait_for(
        "a readiness probe retried by the old server",
        Duration::from_secs(30),
        || async {
            let retried = old
                .requests()
                .iter()
                .filter(|r| is_probe(r) && r.status == 503 && r.authorization_matched)
                .count();
            (retried >= 2).then_some(())
        },
    )
    .await;
    probing.abort();

    // The site moves to another server with another key.
    let diff = running.agent.reload(config(&new.base_url(), NEW_KEY)).await;
    let applied = std::time::Instant::now();
    assert_eq!(diff.changed, vec!["moving".to_owned()]);
    let old_key_after_reload = || {
        old.requests()
            .into_iter()
            .filter(|r| r.at > applied && r.authorization_matched)
            .collect::<Vec<_>>()
    };
    // The site is collected and probed on the new server...
    wait_for(
        "the site ready on the new server",
        Duration::from_secs(30),
        ready,
    )
    .await;
    assert!(
        new.requests().iter().all(|r| r.authorization_matched),
        "the new server got a request without its key"
    );
    // ...and the old server sees nothing more with the old key while the probe's retries
    // would still go on (one a second).
    let until = applied + Duration::from_secs(4);
    while std::time::Instant::now() < until {
        let late = old_key_after_reload();
        assert!(
            late.is_empty(),
            "the old key reached the old server after the reload: {late:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(old_key_after_reload().is_empty());
    running.stop().await;
    old.shutdown().await;
    new.shutdown().await;
}
