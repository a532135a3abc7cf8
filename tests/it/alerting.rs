//! End to end: a real Prometheus scrapes the agent's bridge in front of the simulator, loads
//! deploy/prometheus/nbu-otel.rules.yml (holds shortened to 0s, expressions unchanged), and
//! each alert fires when the simulator injects the fault it is about, or serves the data it is
//! about (the opt-in alerts: drives down, degraded disk pools, infected files, ERROR alerts).

use std::net::SocketAddr;
use std::time::Duration;

use nbu_sim::{Fault, FaultTarget, OptInEndpoint, SimConfig, Simulator};
use serde_json::Value;

use crate::common::process::{AgentProcess, free_port};
use crate::common::{start_sim, wait_for};
use crate::deploy::{RULES, read, required_tool};
use crate::prometheus::start_prometheus;

const KEY: &str = "k-alerting-5b1e";

/// A site whose backups all succeed and whose disks are half full; or, `failing`, one whose
/// backups all fail and whose disks are 95 % full. `opt_in_scale` 0 serves empty opt-in lists
/// (no drive, disk pool, scan or alert); 1 the simulator's usual mix, with drives down, disk
/// volumes down, infected files and ERROR alerts.
fn site_config(failing: bool, opt_in_scale: u32) -> SimConfig {
    SimConfig {
        jobs: 400,
        storage_units: 6,
        api_key: KEY.into(),
        backup_status: Some(if failing { 96 } else { 0 }),
        disk_used_per_mille: Some(if failing { 950 } else { 500 }),
        opt_in_scale,
        ..SimConfig::default()
    }
}

/// The value of a PromQL query that returns one sample (a query of names and parentheses
/// only: it is not encoded).
async fn scalar(prometheus: u16, query: &str) -> Option<f64> {
    let url = format!("http://127.0.0.1:{prometheus}/api/v1/query?query={query}");
    let json: Value = reqwest::get(url).await.ok()?.json().await.ok()?;
    json["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// The alerts Prometheus reports as firing: (alert name, label pairs).
async fn firing(url: &str) -> Option<Vec<(String, Value)>> {
    let json: Value = reqwest::get(url).await.ok()?.json().await.ok()?;
    Some(
        json["data"]["alerts"]
            .as_array()?
            .iter()
            .filter(|a| a["state"] == "firing")
            .map(|a| {
                (
                    a["labels"]["alertname"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    a["labels"].clone(),
                )
            })
            .collect(),
    )
}

fn has(alerts: &[(String, Value)], name: &str, labels: &[(&str, &str)]) -> bool {
    alerts
        .iter()
        .any(|(n, l)| n == name && labels.iter().all(|(k, v)| l[*k] == *v))
}

/// Waits until `name` fires for the target site with `labels`, and checks that it does not
/// fire for the calm site; returns every firing alert.
async fn wait_firing(url: &str, name: &str, labels: &[(&str, &str)]) -> Vec<(String, Value)> {
    let alerts = wait_for(
        &format!("{name} {labels:?} to fire for the target site"),
        Duration::from_secs(90),
        || async {
            let alerts = firing(url).await?;
            let target = [&[("site", "target")], labels].concat();
            has(&alerts, name, &target).then_some(alerts)
        },
    )
    .await;
    assert!(!has(&alerts, name, &[("site", "calm")]), "{alerts:?}");
    alerts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fire_on_the_faults_they_are_about() {
    let Some(prometheus) = required_tool("prometheus", "prometheus") else {
        return;
    };
    let calm = start_sim(site_config(false, 0)).await;
    let target_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut target = Simulator::start(site_config(false, 1), target_addr)
        .await
        .unwrap();
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let collection = "    collection:\n      jobs_interval: 1s\n      storage_ttl: 1s\n      request_timeout: 500ms\n      max_retries: 0\n      jobs_window: 72h\n";
    let yaml = format!(
        "sites:\n  - name: calm\n    url: {}\n    api_key: {KEY}\n{collection}  - name: target\n    url: {}\n    api_key: {KEY}\n{collection}sources:\n  alerts: {{ enabled: true, interval: 10s }}\n  malware: {{ enabled: true, interval: 10s }}\n  tape: {{ enabled: true, interval: 10s }}\nserver:\n  listen: 127.0.0.1:{port}\n  prometheus_bridge: true\notlp:\n  enabled: false\n",
        calm.base_url(),
        target.base_url()
    );
    let agent = AgentProcess::start(dir.path(), &yaml, port, &[]).await;

    // Our rules, every hold shortened so that a test need not wait minutes.
    let rules: String = read(RULES)
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("for:") {
                l.split("for:").next().unwrap_or_default().to_owned() + "for: 0s"
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
    let (mut child, prom_port) = start_prometheus(
        &prometheus,
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\nscrape_configs:\n  - job_name: netbackup\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    );
    let alerts_url = format!("http://127.0.0.1:{prom_port}/api/v1/alerts");
    // Healthy: both sites up, every source of both current (the opt-in ones included: 2
    // sites x 5 sources), and none of the alerts under test fires.
    wait_for(
        "both sites up and every source current in Prometheus",
        Duration::from_secs(60),
        || async {
            let up = scalar(prom_port, "min(nbu_up)").await?;
            let stale = scalar(prom_port, "max(nbu_source_stale)").await?;
            let sources = scalar(prom_port, "count(nbu_source_stale)").await?;
            (up == 1.0 && stale == 0.0 && sources == 10.0).then_some(())
        },
    )
    .await;
    wait_for(
        "no alert about a fault on healthy sites",
        Duration::from_secs(30),
        || async {
            let alerts = firing(&alerts_url).await?;
            let quiet = [
                "NbuApiUnreachable",
                "NbuSourceStale",
                "NbuOptInSourceStale",
                "NbuBackupSuccessRateLow",
                "NbuStorageAlmostFull",
                "NbuExporterDown",
            ]
            .iter()
            .all(|name| !has(&alerts, name, &[]));
            quiet.then_some(())
        },
    )
    .await;

    // The opt-in alerts fire on the target's data (the calm site's opt-in lists are empty).
    for (name, severity) in [
        ("NbuTapeDriveDown", "warning"),
        ("NbuDiskPoolVolumeDegraded", "warning"),
        ("NbuMalwareInfectedFiles", "critical"),
        ("NbuErrorAlertsPresent", "warning"),
    ] {
        wait_firing(&alerts_url, name, &[("severity", severity)]).await;
    }

    // Stale sources: storage fails, and so do the tape drives (so the tape source); jobs go
    // on and the site stays up.
    for endpoint in [
        FaultTarget::Storage,
        FaultTarget::OptIn(OptInEndpoint::Drives),
    ] {
        target.set_fault(
            endpoint,
            Fault::Status {
                code: 500,
                retry_after: None,
                body: None,
            },
            None,
        );
    }
    let alerts = wait_firing(
        &alerts_url,
        "NbuSourceStale",
        &[("source", "storage"), ("severity", "warning")],
    )
    .await;
    assert!(!has(&alerts, "NbuApiUnreachable", &[]), "{alerts:?}");
    let alerts = wait_firing(
        &alerts_url,
        "NbuOptInSourceStale",
        &[("source", "tape"), ("severity", "warning")],
    )
    .await;
    assert!(!has(&alerts, "NbuApiUnreachable", &[]), "{alerts:?}");
    assert!(
        !has(&alerts, "NbuSourceStale", &[("source", "tape")]),
        "{alerts:?}"
    );
    target.clear_faults();

    // The site down: nothing answers.
    target.shutdown().await;
    wait_firing(
        &alerts_url,
        "NbuApiUnreachable",
        &[("severity", "critical")],
    )
    .await;

    // It comes back with every backup failing and its disks 95 % full.
    target = Simulator::start(site_config(true, 1), target_addr)
        .await
        .unwrap();
    wait_firing(
        &alerts_url,
        "NbuBackupSuccessRateLow",
        &[("severity", "warning")],
    )
    .await;
    wait_firing(
        &alerts_url,
        "NbuStorageAlmostFull",
        &[("severity", "critical")],
    )
    .await;
    wait_for(
        "the site to be up again",
        Duration::from_secs(60),
        || async {
            let alerts = firing(&alerts_url).await?;
            (!has(&alerts, "NbuApiUnreachable", &[("site", "target")])).then_some(())
        },
    )
    .await;

    let _ = child.kill().await;
    agent.terminate().await;
    target.shutdown().await;
    calm.shutdown().await;
}
