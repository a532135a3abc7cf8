//! The binary's HTTP endpoints: credentials on `/metrics`, open probes, slow clients, the
//! health answer and a configurable metrics path.

use std::time::Duration;

use super::{KEY, sim_with};
use crate::common::process::{AgentProcess, BIN, free_port};
use crate::common::wait_for;

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
