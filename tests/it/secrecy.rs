//! The API key is kept secret everywhere: at trace level, through faults and a reload.

use std::time::Duration;

use nbu_sim::{Fault, FaultTarget, SimConfig};

use crate::common::otlp::Receiver;
use crate::common::process::{AgentProcess, free_port};
use crate::common::{start_sim, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_appears_nowhere_at_trace_level_through_faults_and_a_reload() {
    const KEY_A: &str = "SECRET-A-key-5f2c9e1d";
    const KEY_B: &str = "SECRET-B-key-0a7b3c4e";
    let sim = start_sim(SimConfig {
        jobs: 500,
        api_key: KEY_A.into(),
        ..SimConfig::default()
    })
    .await;
    let sim_b = start_sim(SimConfig {
        jobs: 200,
        api_key: KEY_B.into(),
        ..SimConfig::default()
    })
    .await;
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.key"), format!("{KEY_A}\n")).unwrap();
    std::fs::write(dir.path().join("b.key"), KEY_B).unwrap();
    let yaml = |url: &str, key_file: &str| {
        format!(
            "sites:\n  - name: secret\n    url: {url}\n    api_key_file: {}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\n      max_retries: 1\nserver:\n  listen: 127.0.0.1:{port}\n  prometheus_bridge: true\notlp:\n  endpoint: {}\n  export_interval: 1s\n  timeout: 1s\ntraces:\n  enabled: true\nlogging:\n  level: trace\n",
            dir.path().join(key_file).display(),
            receiver.endpoint()
        )
    };
    let child = AgentProcess::start(
        dir.path(),
        &yaml(&sim.base_url(), "a.key"),
        port,
        &[("RUST_LOG", "trace")],
    )
    .await;
    // Faults that quote bodies, including one that echoes the key back.
    for fault in [
        Fault::Status {
            code: 500,
            retry_after: None,
            body: Some(format!("<html>Authorization: {KEY_A}</html>")),
        },
        Fault::HtmlBody,
        Fault::TruncatedJson,
        Fault::Status {
            code: 429,
            retry_after: Some("0".into()),
            body: Some(format!(
                "{{\"errorCode\":429,\"errorMessage\":\"slow down {KEY_A}\"}}"
            )),
        },
        Fault::Status {
            code: 401,
            retry_after: None,
            body: Some(format!(
                "{{\"errorCode\":401,\"errorMessage\":\"bad key {KEY_A}\"}}"
            )),
        },
    ] {
        sim.clear_requests();
        let what = format!("{fault:?} to be served, then a recovery");
        sim.set_fault(FaultTarget::Jobs, fault, Some(1));
        wait_for(&what, Duration::from_secs(10), || async {
            (sim.requests().iter().filter(|r| r.status == 200).count() >= 3).then_some(())
        })
        .await;
    }
    // A reload to another site and key (the key file path changes).
    std::fs::write(
        dir.path().join("agent.yaml"),
        yaml(&sim_b.base_url(), "b.key"),
    )
    .unwrap();
    wait_for(
        "the reload to reach site b",
        Duration::from_secs(20),
        || async { (sim_b.requests().len() >= 3).then_some(()) },
    )
    .await;
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let readyz = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    wait_for("spans at the receiver", Duration::from_secs(20), || async {
        receiver.with(|r| (!r.traces.is_empty()).then_some(()))
    })
    .await;
    let (stdout, stderr) = child.terminate().await;
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "trace logging was on"
    );
    let pushed = receiver.with(|r| format!("{:?}{:?}{:?}", r.metrics, r.traces, r.metric_headers));
    for (what, text) in [
        ("stdout", &stdout),
        ("stderr", &stderr),
        ("/metrics", &metrics),
        ("/readyz", &readyz),
        ("pushed spans and metrics", &pushed),
    ] {
        assert!(!text.contains(KEY_A), "key A in {what}");
        assert!(!text.contains(KEY_B), "key B in {what}");
    }
    receiver.stop().await;
    sim.shutdown().await;
    sim_b.shutdown().await;
}
