//! The real `nbu-otel` binary: exit codes, `once`, `check`, and SIGTERM handling.

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

/// `sum(nbu_jobs_count)` on the bridge, if there is any.
async fn jobs_total(metrics_url: &str) -> Option<f64> {
    let body = reqwest::get(metrics_url).await.ok()?.text().await.ok()?;
    let families = crate::prometheus::parse_exposition(&body);
    Some(families.get("nbu_jobs_count")?.values().sum())
}

fn reload_config(dir: &std::path::Path, sim: &Simulator, key: &str, port: u16) -> String {
    // The file is named after the backend, not after the key.
    let file = format!("{}.key", sim.addr().port());
    std::fs::write(dir.join(&file), key).unwrap();
    format!(
        "sites:\n  - name: moving\n    url: {}\n    api_key_file: {file}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\n      jobs_window: 72h\nserver:\n  listen: 127.0.0.1:{port}\n  prometheus_bridge: true\notlp:\n  enabled: false\n",
        sim.base_url()
    )
}

/// Finished jobs of the 72 h window of `sim`'s truth: what `nbu_jobs_count` adds up to.
fn finished_jobs(sim: &Simulator) -> f64 {
    crate::common::truth::expected(&sim.truth(sim.config().anchor - chrono::Duration::hours(72)))
        .jobs
        .counts
        .values()
        .sum::<u64>() as f64
}

async fn switches_backend(old: &Simulator, new: &Simulator, metrics_url: &str, what: &str) {
    let expected = finished_jobs(new);
    wait_for(what, Duration::from_secs(30), || async {
        (jobs_total(metrics_url).await? == expected).then_some(())
    })
    .await;
    // From now on the old backend (and its key) hears nothing.
    old.clear_requests();
    new.clear_requests();
    wait_for("two more collections", Duration::from_secs(20), || async {
        (new.requests().len() >= 4).then_some(())
    })
    .await;
    assert!(
        old.requests().is_empty(),
        "{what}: the old site was still asked"
    );
    assert!(
        new.requests().iter().all(|r| r.authorization_matched),
        "{what}: a request without the new key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_by_file_rename_and_by_sighup_switches_backend_and_key() {
    let sim_a = start_sim(SimConfig {
        jobs: 300,
        api_key: "key-A-1111".into(),
        ..SimConfig::default()
    })
    .await;
    let sim_b = start_sim(SimConfig {
        jobs: 700,
        api_key: "key-B-2222".into(),
        ..SimConfig::default()
    })
    .await;
    let port = free_port();
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &reload_config(dir.path(), &sim_a, "key-A-1111", port),
    );

    // 1. Watched: an editor-style atomic rename is picked up without a signal.
    let agent = AgentProcess::start_file(&path, port, &[], &[]).await;
    let staged = dir.path().join("staged.yaml");
    std::fs::write(
        &staged,
        reload_config(dir.path(), &sim_b, "key-B-2222", port),
    )
    .unwrap();
    std::fs::rename(&staged, &path).unwrap();
    switches_backend(
        &sim_a,
        &sim_b,
        &metrics_url,
        "the rename to reach the agent",
    )
    .await;

    // 2. An invalid file changes nothing, and is reported.
    std::fs::write(&path, "sites:\n  - name: broken\n    url: nope\n").unwrap();
    wait_for(
        "the failed reload to be counted",
        Duration::from_secs(20),
        || async {
            let body = reqwest::get(&metrics_url).await.ok()?.text().await.ok()?;
            body.lines()
                .any(|l| l.starts_with("nbu_config_reloads_total{result=\"failure\"}"))
                .then_some(())
        },
    )
    .await;
    sim_b.clear_requests();
    wait_for("collection to go on", Duration::from_secs(10), || async {
        (!sim_b.requests().is_empty()).then_some(())
    })
    .await;
    let (_, stderr) = agent.terminate().await;
    assert!(
        stderr.contains("sites[0].url"),
        "the bad field is logged:\n{stderr}"
    );
    assert!(stderr.contains("previous configuration"), "{stderr}");
    for line in stderr.lines() {
        assert!(
            !line.contains("key-A-1111") && !line.contains("key-B-2222"),
            "a key in the log: {line}"
        );
    }

    // 3. Not watched: only SIGHUP reloads.
    std::fs::write(&path, reload_config(dir.path(), &sim_a, "key-A-1111", port)).unwrap();
    let agent = AgentProcess::start_file(&path, port, &[], &["--no-watch"]).await;
    std::fs::write(&path, reload_config(dir.path(), &sim_b, "key-B-2222", port)).unwrap();
    // Several poll periods (2 s each) pass without a reload: four more 1 s cycles...
    let a_total = finished_jobs(&sim_a);
    sim_a.clear_requests();
    wait_for(
        "four cycles on the unchanged site",
        Duration::from_secs(20),
        || async {
            let cycles = jobs_cycles(&sim_a);
            (cycles >= 5).then_some(())
        },
    )
    .await;
    assert_eq!(jobs_total(&metrics_url).await, Some(a_total));
    // ...until SIGHUP.
    agent.signal("HUP");
    switches_backend(&sim_a, &sim_b, &metrics_url, "SIGHUP to reload").await;
    agent.terminate().await;
    sim_a.shutdown().await;
    sim_b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_requires_credentials_while_probes_stay_open() {
    let sim = sim_with(50).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "sites:\n  - name: auth\n    url: {}\n    api_key: {KEY}\nserver:\n  listen: 127.0.0.1:{port}\n  prometheus_bridge: true\n  metrics_username: prom\n  metrics_password: ${{PROM_PASSWORD}}\n  metrics_bearer_token: tok-123\notlp:\n  enabled: false\n",
        sim.base_url()
    );
    let agent = AgentProcess::start(dir.path(), &yaml, port, &[("PROM_PASSWORD", "pw-456")]).await;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let get = |auth: Option<&'static str>| {
        let mut req = client.get(format!("{base}/metrics"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        req.send()
    };
    let denied = get(None).await.unwrap();
    assert_eq!(denied.status(), 401);
    assert!(denied.headers().contains_key("www-authenticate"));
    assert_eq!(get(Some("Bearer wrong")).await.unwrap().status(), 401);
    // prom:pw-456
    assert_eq!(
        get(Some("Basic cHJvbTpwdy00NTY=")).await.unwrap().status(),
        200
    );
    let body = get(Some("Bearer tok-123"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("nbu_up{site=\"auth\"} 1"), "{body}");
    assert_eq!(
        reqwest::get(format!("{base}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    agent.terminate().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_sends_its_headers_is_cut_off() {
    let sim = sim_with(10).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "sites:\n  - name: slow\n    url: {}\n    api_key: {KEY}\nserver:\n  listen: 127.0.0.1:{port}\notlp:\n  enabled: false\n",
        sim.base_url()
    );
    let agent = AgentProcess::start(dir.path(), &yaml, port, &[]).await;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Never finish the headers: the server must close the connection by itself.
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(
        nbu_otel::server::HEADER_TIMEOUT + Duration::from_secs(5),
        stream.read_to_end(&mut buf),
    )
    .await;
    assert!(
        closed.is_ok(),
        "the connection was still open after the header timeout"
    );
    agent.terminate().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_as_the_go_exporter_and_the_metrics_path_is_configurable() {
    let a = sim_with(20).await;
    let b = sim_with(20).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let collection = "    collection:\n      jobs_interval: 1s\n      storage_ttl: 1s\n      request_timeout: 500ms\n      max_retries: 0\n";
    let yaml = format!(
        "sites:\n  - name: a\n    url: {}\n    api_key: {KEY}\n{collection}  - name: b\n    url: {}\n    api_key: {KEY}\n{collection}server:\n  listen: 127.0.0.1:{port}\n  prometheus_bridge: true\n  metrics_path: /nbu/metrics\notlp:\n  enabled: false\n",
        a.base_url(),
        b.base_url()
    );
    let agent = AgentProcess::start(dir.path(), &yaml, port, &[]).await;
    let base = format!("http://127.0.0.1:{port}");
    let get = |path: &'static str| {
        let url = format!("{base}{path}");
        async move {
            let r = reqwest::get(url).await.unwrap();
            let status = r.status().as_u16();
            let content_type = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, content_type, r.text().await.unwrap())
        }
    };
    // The exposition is served on the configured path only.
    let (status, _, body) = wait_for("both sites collected", Duration::from_secs(30), || async {
        let answer = get("/nbu/metrics").await;
        (answer.2.contains("nbu_up{site=\"a\"} 1") && answer.2.contains("nbu_up{site=\"b\"} 1"))
            .then_some(answer)
    })
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("nbu_jobs_state_count"), "{body}");
    assert_eq!(get("/metrics").await.0, 404);

    let (status, content_type, body) = get("/health").await;
    assert_eq!((status, body.as_str()), (200, "OK\n"));
    assert!(content_type.unwrap_or_default().starts_with("text/plain"));

    // One site down: still healthy, as in Go (any site up).
    a.shutdown().await;
    wait_for("site a down", Duration::from_secs(30), || async {
        get("/nbu/metrics")
            .await
            .2
            .contains("nbu_up{site=\"a\"} 0")
            .then_some(())
    })
    .await;
    assert_eq!(get("/health").await.0, 200);

    // Every site down: 503 with Go's body.
    b.shutdown().await;
    let (_, content_type, body) = wait_for("every site down", Duration::from_secs(30), || async {
        let answer = get("/health").await;
        (answer.0 == 503).then_some(answer)
    })
    .await;
    assert_eq!(body, "UNHEALTHY: NetBackup API unreachable\n");
    assert!(content_type.unwrap_or_default().starts_with("text/plain"));
    // Liveness is not NetBackup's health.
    assert_eq!(get("/healthz").await.0, 200);
    // The container health check asks one of them.
    let healthcheck = |path: &str| {
        std::process::Command::new(BIN)
            .args(["healthcheck", "--url", &format!("{base}{path}")])
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(healthcheck("/healthz"), Some(0));
    assert_eq!(healthcheck("/health"), Some(1));
    agent.terminate().await;
}

/// The hex trace ids of every span `receiver` got.
fn exported_trace_ids(receiver: &Receiver) -> Vec<String> {
    receiver.with(|r| {
        r.traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|s| s.trace_id.iter().map(|b| format!("{b:02x}")).collect())
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_lines_written_in_a_cycle_carry_the_trace_id_of_its_exported_spans() {
    let sim = sim_with(50).await;
    // Storage fails at every cycle: the site is collected in part, and says so.
    sim.set_fault(
        nbu_sim::FaultTarget::Storage,
        nbu_sim::Fault::Status {
            code: 500,
            retry_after: None,
            body: None,
        },
        None,
    );
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "sites:\n  - name: linked\n    url: {}\n    api_key: {KEY}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\nserver:\n  listen: 127.0.0.1:{port}\notlp:\n  endpoint: {}\n  export_interval: 1s\n  timeout: 1s\ntraces:\n  enabled: true\n  sampling_ratio: 1.0\nlogging:\n  level: info\n  format: json\n",
        sim.base_url(),
        receiver.endpoint()
    );
    let path = write_config(dir.path(), &yaml);
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    let agent = AgentProcess::spawn(
        &["run".as_ref(), "--config".as_ref(), path.as_os_str()],
        &[("RUST_LOG", "info")],
        &healthz,
    )
    .await;
    wait_for(
        "a failed collection logged",
        Duration::from_secs(30),
        || async { agent.stderr().contains("collection failed").then_some(()) },
    )
    .await;
    let (_, stderr) = agent.terminate().await;
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let message = |l: &serde_json::Value| l["fields"]["message"].as_str().map(str::to_owned);
    assert!(
        lines
            .iter()
            .any(|l| message(l).as_deref() == Some("collection failed")),
        "{stderr}"
    );
    // Written in the cycle's span: its trace id is one of the exported traces.
    let agreed = lines
        .iter()
        .find(|l| message(l).as_deref() == Some("collection failed"))
        .unwrap_or_else(|| panic!("no failed collection line:\n{stderr}"));
    assert_eq!(agreed["span"]["name"], "nbu.collect", "{agreed}");
    let trace_id = agreed["trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no trace_id: {agreed}"));
    let span_id = agreed["span_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no span_id: {agreed}"));
    assert_eq!((trace_id.len(), span_id.len()), (32, 16), "{agreed}");
    let exported = exported_trace_ids(&receiver);
    assert!(
        exported.iter().any(|t| t == trace_id),
        "trace {trace_id} not among the exported spans' {exported:?}"
    );
    // Lines outside spans carry no ids.
    let outside = lines
        .iter()
        .find(|l| l.get("span").is_none() && l.get("spans").is_none())
        .unwrap_or_else(|| panic!("no line outside spans:\n{stderr}"));
    assert!(outside.get("trace_id").is_none(), "{outside}");
    assert!(outside.get("span_id").is_none(), "{outside}");
    receiver.stop().await;
    sim.shutdown().await;
}

/// `run` of one site of a small simulator with the OTLP endpoint at a test receiver (`otlp`
/// lines given, indented two spaces) and `env`, once its `/healthz` answers.
async fn run_against_a_receiver(
    otlp: &str,
    env: &[(&str, &str)],
) -> (Simulator, Receiver, AgentProcess, tempfile::TempDir) {
    let sim = start_sim(SimConfig {
        jobs: 50,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "sites:\n  - name: printed\n    url: {}\n    api_key: {KEY}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\nserver:\n  listen: 127.0.0.1:{port}\notlp:\n  endpoint: {}\n{otlp}",
        sim.base_url(),
        receiver.endpoint()
    );
    let path = write_config(dir.path(), &yaml);
    let agent = AgentProcess::spawn(
        &["run".as_ref(), "--config".as_ref(), path.as_os_str()],
        env,
        &format!("http://127.0.0.1:{port}/healthz"),
    )
    .await;
    (sim, receiver, agent, dir)
}

/// `OTEL_LOGS_EXPORTER=otlp`: the agent's own log lines also reach the Collector as OTLP log
/// records, in a scope other than the job events', on the agent's resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_own_logs_go_out_as_otlp_log_records_when_asked() {
    let (sim, receiver, agent, _dir) = run_against_a_receiver(
        "  enabled: false\n",
        &[
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_SERVICE_NAME", "nbu-logs-test"),
        ],
    )
    .await;
    let records = wait_for("the agent's start line as a record", Duration::from_secs(30), || async {
        let records: Vec<(String, String, String)> = receiver.with(|r| {
            r.logs
                .iter()
                .flat_map(|req| &req.resource_logs)
                .flat_map(|rl| {
                    let service = rl
                        .resource
                        .as_ref()
                        .and_then(|res| attr(&res.attributes, "service.name"))
                        .unwrap_or_default();
                    rl.scope_logs.iter().flat_map(move |sl| {
                        let scope = sl.scope.as_ref().map(|s| s.name.clone()).unwrap_or_default();
                        let service = service.clone();
                        sl.log_records.iter().map(move |l| {
                            let body = match l.body.as_ref().and_then(|b| b.value.as_ref()) {
                                Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => s.clone(),
                                _ => String::new(),
                            };
                            (service.clone(), scope.clone(), body)
                        })
                    })
                })
                .collect()
        });
        records
            .iter()
            .any(|(_, _, body)| body == "nbu-otel started")
            .then_some(records)
    })
    .await;
    agent.terminate().await;
    for (service, scope, body) in &records {
        assert_eq!(service, "nbu-logs-test", "{body}");
        assert_ne!(scope, nbu_otel::telemetry::logs::SCOPE_NAME, "{body}");
        assert!(
            !body.contains("opentelemetry") || body.contains("nbu"),
            "{body}"
        );
    }
    receiver.stop().await;
    sim.shutdown().await;
}

/// `OTEL_METRICS_EXPORTER=console` and `OTEL_TRACES_EXPORTER=console`: the push and the spans
/// are printed to standard output instead of sent, for debugging; nothing reaches a Collector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_exporters_print_metrics_and_spans_instead_of_sending_them() {
    let (sim, receiver, agent, _dir) = run_against_a_receiver(
        "  export_interval: 1s\n  timeout: 900ms\n",
        &[
            ("OTEL_METRICS_EXPORTER", "console"),
            ("OTEL_TRACES_EXPORTER", "console"),
        ],
    )
    .await;
    wait_for(
        "metrics and spans on standard output",
        Duration::from_secs(30),
        || async {
            let out = agent.stdout();
            (out.contains("nbu.up") && out.contains("nbu.collect")).then_some(())
        },
    )
    .await;
    let (stdout, _) = agent.terminate().await;
    assert!(stdout.contains("nbu.jobs_count"), "{stdout}");
    assert!(
        receiver.with(|r| r.metrics.is_empty() && r.traces.is_empty()),
        "nothing was sent"
    );
    receiver.stop().await;
    sim.shutdown().await;
}
