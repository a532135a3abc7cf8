//! Reliability under load and failure: scrapers, rate limits, misbehaving Collectors,
//! restarts, and the API key kept secret everywhere.

use std::process::Stdio;
use std::time::Duration;

use nbu_otel::collect::SiteCollector;
use nbu_otel::sim::{Fault, FaultTarget, SimConfig};

use crate::common::otlp::{Behaviour, Receiver};
use crate::common::{site, start_sim, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_nbu-otel");

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real binary, with its output drained into memory as it comes (a full pipe would block
/// the agent).
struct Agent {
    child: tokio::process::Child,
    stdout: tokio::task::JoinHandle<String>,
    stderr: tokio::task::JoinHandle<String>,
}

impl Agent {
    fn id(&self) -> Option<u32> {
        self.child.id()
    }
}

fn drain<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    pipe: Option<R>,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut text = Vec::new();
        if let Some(mut pipe) = pipe {
            use tokio::io::AsyncReadExt;
            let _ = pipe.read_to_end(&mut text).await;
        }
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// Starts the real binary on `yaml` and waits for `/readyz` at `port`.
async fn spawn_binary(dir: &std::path::Path, yaml: &str, port: u16, env: &[(&str, &str)]) -> Agent {
    let path = dir.join("agent.yaml");
    std::fs::write(&path, yaml).unwrap();
    let mut child = tokio::process::Command::new(BIN)
        .args(["run", "--config"])
        .arg(&path)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let readyz = format!("http://127.0.0.1:{port}/readyz");
    wait_for("the agent to be ready", Duration::from_secs(30), || async {
        let r = reqwest::get(&readyz).await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    Agent {
        child,
        stdout,
        stderr,
    }
}

async fn terminate(mut agent: Agent) -> (String, String) {
    let pid = agent.child.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(15), async {
        let status = agent.child.wait().await.unwrap();
        let stdout = agent.stdout.await.unwrap_or_default();
        let stderr = agent.stderr.await.unwrap_or_default();
        (status, stdout, stderr)
    })
    .await
    .expect("exits in time");
    assert_eq!(out.0.code(), Some(0), "exit status; stderr:\n{}", out.2);
    (out.1, out.2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_scrapers_for_ten_seconds() {
    let sim = start_sim(SimConfig {
        jobs: 5_000,
        api_key: "k-load".into(),
        ..SimConfig::default()
    })
    .await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "sites:\n  - name: load\n    url: {}\n    api_key: k-load\n    collection:\n      jobs_interval: 2s\n      request_timeout: 1s\nserver:\n  listen: 127.0.0.1:{port}\n  prometheus_bridge: true\notlp:\n  enabled: false\n",
        sim.base_url()
    );
    let child = spawn_binary(dir.path(), &yaml, port, &[]).await;
    let pid = child.id().unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let client = reqwest::Client::new();
    let baseline = rss_kib(pid);
    let started = tokio::time::Instant::now();
    let scrapers: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u32, 0u32);
                // Bounded in time and count.
                while started.elapsed() < Duration::from_secs(10) && ok + failed < 10_000 {
                    let good = match client.get(&url).send().await {
                        Ok(r) if r.status() == 200 => {
                            r.text().await.is_ok_and(|b| b.contains("nbu_up"))
                        }
                        _ => false,
                    };
                    if good {
                        ok += 1;
                    } else {
                        failed += 1;
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(10) {
        samples.push((started.elapsed(), rss_kib(pid)));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (mut ok, mut failed) = (0, 0);
    for s in scrapers {
        let (o, f) = s.await.unwrap();
        ok += o;
        failed += f;
    }
    assert_eq!(failed, 0, "{failed} failed scrapes of {}", ok + failed);
    assert!(ok >= 200, "only {ok} scrapes in 10 s");
    let peak = samples.iter().map(|(_, r)| *r).max().unwrap();
    let mid = samples
        .iter()
        .find(|(t, _)| *t >= Duration::from_secs(4))
        .map(|(_, r)| *r)
        .unwrap();
    let end = samples.last().unwrap().1;
    eprintln!("RSS KiB: baseline {baseline}, at 4 s {mid}, peak {peak}, end {end}; {ok} scrapes");
    assert!(
        peak < baseline + 64 * 1024,
        "peak RSS {peak} KiB from {baseline} KiB"
    );
    assert!(
        end < mid + 16 * 1024,
        "RSS grew from {mid} to {end} KiB under steady load"
    );
    terminate(child).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_one_second_window_exceeds_the_request_rate() {
    let sim = start_sim(SimConfig {
        jobs: 600,
        storage_units: 40,
        api_key: "k-rate".into(),
        ..SimConfig::default()
    })
    .await;
    let rate = 20;
    let collector = SiteCollector::new(site(
        "rate",
        &sim.base_url(),
        "k-rate",
        &format!(
            "      requests_per_second: {rate}\n      max_concurrent_requests: 8\n      jobs_page_size: 10\n      storage_page_size: 1\n      jobs_window: 72h\n"
        ),
    ))
    .unwrap();
    let report = collector.collect_all().await;
    assert!(report.is_ok(), "{:?}", report.errors());
    let times: Vec<_> = sim.requests().iter().map(|r| r.at).collect();
    assert!(times.len() >= 80, "only {} requests", times.len());
    let mut worst = 0;
    for (i, start) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < Duration::from_secs(1))
            .count();
        worst = worst.max(in_window);
    }
    // The limiter spaces requests by 1/R; a window can straddle one extra slot.
    assert!(
        worst <= rate + 1,
        "{worst} requests in one second at {rate}/s"
    );
    sim.shutdown().await;
}

async fn collector_misbehaving_keeps_collection_and_memory_bounded(behaviour: Behaviour) {
    let sim = start_sim(SimConfig {
        jobs: 2_000,
        api_key: "k-export".into(),
        ..SimConfig::default()
    })
    .await;
    let receiver = Receiver::start_with("127.0.0.1:0".parse().unwrap(), behaviour).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "sites:\n  - name: exp\n    url: {}\n    api_key: k-export\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\nserver:\n  listen: 127.0.0.1:{port}\notlp:\n  endpoint: {}\n  export_interval: 1s\n  timeout: 1s\ntraces:\n  enabled: true\n",
        sim.base_url(),
        receiver.endpoint()
    );
    let child = spawn_binary(dir.path(), &yaml, port, &[]).await;
    let pid = child.id().unwrap();
    let cycles = || {
        sim.requests()
            .iter()
            .filter(|r| r.query.contains("state%20ne"))
            .count()
    };
    wait_for("three cycles", Duration::from_secs(20), || async {
        (cycles() >= 3).then_some(())
    })
    .await;
    let early = rss_kib(pid);
    let before = cycles();
    wait_for("eight more cycles", Duration::from_secs(30), || async {
        (cycles() >= before + 8).then_some(())
    })
    .await;
    let late = rss_kib(pid);
    eprintln!("{behaviour:?}: RSS {early} -> {late} KiB");
    assert!(
        late < early + 8 * 1024,
        "{behaviour:?}: RSS grew {early} -> {late} KiB"
    );
    let (_, stderr) = terminate(child).await;
    let warnings = stderr.matches("OTLP metric export failing").count();
    assert!(warnings <= 1, "{behaviour:?}: {warnings} export warnings");
    receiver.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_answering_unavailable() {
    collector_misbehaving_keeps_collection_and_memory_bounded(Behaviour::Refuse(
        tonic::Code::Unavailable,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_answering_resource_exhausted() {
    collector_misbehaving_keeps_collection_and_memory_bounded(Behaviour::Refuse(
        tonic::Code::ResourceExhausted,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_refusing_the_service() {
    collector_misbehaving_keeps_collection_and_memory_bounded(Behaviour::Refuse(
        tonic::Code::Unimplemented,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_hangs() {
    collector_misbehaving_keeps_collection_and_memory_bounded(Behaviour::Hang).await;
}

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
    let child = spawn_binary(
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
    let (stdout, stderr) = terminate(child).await;
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
