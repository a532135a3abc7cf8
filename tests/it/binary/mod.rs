//! The real `nbu-otel` binary: exit codes, `once`, `check`, SIGTERM handling and the standard
//! OTel variables; its reloads, HTTP endpoints and own telemetry in the modules below.

mod http;
mod reload;
mod telemetry;

use std::time::Duration;

use nbu_sim::{SimConfig, Simulator};

use crate::common::otlp::{Receiver, attr};
use crate::common::process::{AgentProcess, BIN, free_port, run_with_config};
use crate::common::{jobs_cycles, start_sim, wait_for};

const KEY: &str = "k-binary-9d8c";

/// A simulator of `jobs` jobs accepting [`KEY`].
async fn sim_with(jobs: u64) -> Simulator {
    start_sim(SimConfig {
        jobs,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await
}

fn write_config(dir: &std::path::Path, yaml: &str) -> std::path::PathBuf {
    let path = dir.join("nbu-otel.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn a_bad_config_exits_2_naming_every_bad_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "sites:\n  - name: a\n    url: not a url\n    api_key: x\ncollection:\n  jobs_page_size: 500\n",
    );
    for command in ["run", "check", "once"] {
        let out = std::process::Command::new(BIN)
            .args([command, "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("sites[0].url"), "{command}: {stderr}");
        assert!(
            stderr.contains("collection.jobs_page_size"),
            "{command}: {stderr}"
        );
    }
}

#[test]
fn a_bad_standard_otel_variable_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "sites:\n  - name: a\n    url: https://nbu.example.com\n    api_key: x\n",
    );
    let out = std::process::Command::new(BIN)
        .args(["check", "--config"])
        .arg(&path)
        .env("OTEL_METRIC_EXPORT_INTERVAL", "5s")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("OTEL_METRIC_EXPORT_INTERVAL"), "{stderr}");
}

#[test]
fn a_missing_config_file_exits_2() {
    let out = std::process::Command::new(BIN)
        .args(["once", "--config", "/nonexistent/nbu-otel.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/nbu-otel.yaml"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_prints_json_and_fails_when_a_site_fails() {
    let sim = sim_with(300).await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let path = write_config(
        dir.path(),
        &format!(
            "sites:\n  - name: good\n    url: {url}\n    api_key_file: key\n  - name: bad\n    url: {url}\n    api_key: wrong\n",
            url = sim.base_url()
        ),
    );
    let out = run_with_config(&["once", "--format", "json"], &path).await;
    assert_eq!(out.status.code(), Some(1), "one site failed");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let sites = json["sites"].as_array().unwrap();
    assert_eq!(sites[0]["site"], "good");
    assert_eq!(sites[0]["ok"], true);
    assert!(
        sites[0]["series"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "nbu_jobs_count")
    );
    assert_eq!(sites[1]["ok"], false);
    assert_eq!(sites[1]["errors"][0]["kind"], "unauthorized");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(KEY));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_a_verdict_per_site() {
    let sim = start_sim(SimConfig {
        jobs: 10,
        api_key: KEY.into(),
        supported_versions: vec![nbu_sim::ApiVersion::V13_0],
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &format!(
            "sites:\n  - name: good\n    url: {url}\n    api_key: {KEY}\n  - name: down\n    url: http://127.0.0.1:9/netbackup\n    api_key: x\n    collection:\n      request_timeout: 1s\n      max_retries: 0\n",
            url = sim.base_url()
        ),
    );
    let out = run_with_config(&["check"], &path).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let good = stdout.lines().find(|l| l.contains("good")).unwrap();
    assert!(good.contains("13.0") && good.contains("OK"), "{stdout}");
    let down = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("down"))
        .unwrap();
    assert!(
        down.contains("NO") && down.contains("FAILED (connect)"),
        "{stdout}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_a_last_export_and_exits_0() {
    let sim = sim_with(300).await;
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    // A long export interval: the only export is the one shutdown flushes.
    let yaml = format!(
        "sites:\n  - name: term\n    url: {}\n    api_key: {KEY}\nserver:\n  listen: 127.0.0.1:{port}\notlp:\n  endpoint: {}\n  export_interval: 5m\n",
        sim.base_url(),
        receiver.endpoint()
    );
    let agent = AgentProcess::start(dir.path(), &yaml, port, &[]).await;
    assert_eq!(
        receiver.with(|r| r.metrics.len()),
        0,
        "no export before the signal"
    );
    agent.terminate().await;
    let exported = receiver.with(|r| {
        r.metrics.iter().any(|req| {
            req.resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .any(|m| m.name == "nbu.jobs_count")
        })
    });
    assert!(exported, "the last export was flushed at shutdown");
    receiver.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_0_in_time_with_the_collector_unreachable_and_failed_exports_are_counted() {
    let sim = sim_with(50).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "sites:\n  - name: term\n    url: {}\n    api_key: {KEY}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\nserver:\n  listen: 127.0.0.1:{port}\n  prometheus_bridge: true\notlp:\n  endpoint: http://127.0.0.1:9\n  export_interval: 1s\n  timeout: 1s\n",
        sim.base_url()
    );
    let agent = AgentProcess::start(dir.path(), &yaml, port, &[]).await;
    // Several failed exports, counted where a scraper sees them.
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    wait_for(
        "three failed exports counted",
        Duration::from_secs(30),
        || async {
            let failed = crate::prometheus::value(
                &crate::prometheus::scrape(&metrics_url).await,
                "nbu_otlp_exports_total",
                &[("result", "failure")],
            )?;
            (failed >= 3.0).then_some(())
        },
    )
    .await;
    let cycles = || jobs_cycles(&sim);
    wait_for("four collections", Duration::from_secs(30), || async {
        (cycles() >= 4).then_some(())
    })
    .await;
    let (_, stderr) = agent.terminate().await;
    let warnings = stderr.matches("OTLP metric export failing").count();
    assert_eq!(warnings, 1, "one warning, not one per interval:\n{stderr}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_otel_variables_win_over_the_file() {
    let sim = sim_with(50).await;
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    // The file points OTLP at a port where nothing listens and sends a header the variable
    // replaces; the variables redirect the push, name the service and add attributes.
    let yaml = format!(
        "sites:\n  - name: envsite\n    url: {}\n    api_key: {KEY}\nserver:\n  listen: 127.0.0.1:{port}\notlp:\n  endpoint: http://127.0.0.1:9\n  export_interval: 5m\n  headers:\n    x-tenant: from-file\n    x-other: kept\nservice:\n  name: from-file\n",
        sim.base_url()
    );
    let endpoint = receiver.endpoint();
    let agent = AgentProcess::start(
        dir.path(),
        &yaml,
        port,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=from-env"),
            ("OTEL_SERVICE_NAME", "from-env"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "500"),
        ],
    )
    .await;
    // OTEL_METRIC_EXPORT_INTERVAL (500 ms) beats the file's 5 minutes: exports arrive.
    let (resource, headers) = wait_for(
        "exports at the endpoint from the variable",
        Duration::from_secs(30),
        || async {
            receiver.with(|r| {
                let req = r.metrics.last()?;
                let resource = req.resource_metrics.first()?.resource.clone()?;
                Some((resource, r.metric_headers.last()?.clone()))
            })
        },
    )
    .await;
    assert_eq!(
        attr(&resource.attributes, "service.name").as_deref(),
        Some("from-env")
    );
    assert_eq!(
        attr(&resource.attributes, "deployment.environment").as_deref(),
        Some("test")
    );
    let header = |k: &str| {
        headers
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("x-tenant").as_deref(), Some("from-env"));
    assert_eq!(header("x-other").as_deref(), Some("kept"));
    agent.terminate().await;
    receiver.stop().await;
    sim.shutdown().await;
}
