//! `/readyz`: it follows the backends, caches its probes, and reports opt-in sources and
//! sites that cannot be collected without deciding on them.

use std::time::Duration;

use nbu_sim::{Fault, FaultTarget, SimConfig, Simulator};

use crate::common::bridged::{sim_config, yaml};
use crate::common::{load, site_yaml, start_sim, wait_for};
use crate::pipeline::{KEY, Running};
use crate::prometheus::{scrape, value};

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
    let families = scrape(&running.metrics_url).await;
    assert_eq!(value(&families, "nbu_up", &[("site", "badca")]), Some(0.0));
    running.stop().await;
    sim.shutdown().await;
}
