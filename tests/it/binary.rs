//! The real `nbu-otel` binary: exit codes, `once`, `check`, and SIGTERM handling.

use std::process::Stdio;
use std::time::Duration;

use nbu_otel::sim::SimConfig;

use crate::common::otlp::Receiver;
use crate::common::{start_sim, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_nbu-otel");
const KEY: &str = "k-binary-9d8c";

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
    let sim = start_sim(SimConfig {
        jobs: 300,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
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
    let out = tokio::process::Command::new(BIN)
        .args(["once", "--format", "json", "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
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
        supported_versions: vec![nbu_otel::netbackup::ApiVersion::V13_0],
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
    let out = tokio::process::Command::new(BIN)
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
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
    let sim = start_sim(SimConfig {
        jobs: 300,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    // A long export interval: the only export is the one shutdown flushes.
    let path = write_config(
        dir.path(),
        &format!(
            "sites:\n  - name: term\n    url: {}\n    api_key: {KEY}\nserver:\n  listen: 127.0.0.1:{port}\notlp:\n  endpoint: {}\n  export_interval: 5m\n",
            sim.base_url(),
            receiver.endpoint()
        ),
    );
    let mut child = tokio::process::Command::new(BIN)
        .args(["run", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    wait_for("the agent to be ready", Duration::from_secs(30), || async {
        let r = reqwest::get(&readyz).await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    assert_eq!(
        receiver.with(|r| r.metrics.len()),
        0,
        "no export before the signal"
    );
    let pid = child.id().unwrap();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits within the shutdown timeout")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let exported_up = receiver.with(|r| {
        r.metrics.iter().any(|req| {
            req.resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .any(|m| m.name == "nbu.jobs_count")
        })
    });
    assert!(exported_up, "the last export was flushed at shutdown");
    receiver.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_0_in_time_with_the_collector_unreachable() {
    let sim = start_sim(SimConfig {
        jobs: 50,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &format!(
            "sites:\n  - name: term\n    url: {}\n    api_key: {KEY}\notlp:\n  endpoint: http://127.0.0.1:9\n  export_interval: 1s\n  timeout: 1s\n",
            sim.base_url()
        ),
    );
    let mut child = tokio::process::Command::new(BIN)
        .args(["run", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for("a collection", Duration::from_secs(30), || async {
        (sim.requests().len() > 3).then_some(())
    })
    .await;
    let pid = child.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits within the shutdown timeout")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let stderr = child.stderr.take();
    if let Some(mut stderr) = stderr {
        use tokio::io::AsyncReadExt;
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        let warnings = text.matches("OTLP metric export failing").count();
        assert!(warnings <= 1, "one warning, not one per interval:\n{text}");
    }
    sim.shutdown().await;
}
