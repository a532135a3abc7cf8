//! Proxies the way curl and the OpenTelemetry SDKs take them: the real binary reaches
//! NetBackup through the forward proxy `HTTP_PROXY` names, not for a host of `NO_PROXY`, and
//! not at all with `collection.proxy_from_env: false`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nbu_sim::SimConfig;

use crate::common::process::{AgentProcess, free_port};
use crate::common::{jobs_cycles, start_sim, wait_for};

const KEY: &str = "k-proxy-test";

/// A forward proxy: it answers absolute-form requests by sending them on (without a proxy of
/// its own) and records the URL of each.
struct ForwardProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn forward(State(seen): State<Arc<Mutex<Vec<String>>>>, request: Request) -> Response {
    let url = request.uri().to_string();
    seen.lock().unwrap().push(url.clone());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let method = request.method().clone();
    let mut headers = request.headers().clone();
    for hop in ["proxy-connection", "connection", "proxy-authorization"] {
        headers.remove(hop);
    }
    let body = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let answer = match client
        .request(method, &url)
        .headers(headers)
        .body(body)
        .send()
        .await
    {
        Ok(a) => a,
        Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        response = response.header(name, value);
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    response.body(Body::from(bytes)).unwrap()
}

impl ForwardProxy {
    async fn start() -> ForwardProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let app = Router::new().fallback(forward).with_state(seen.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ForwardProxy { addr, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netbackup_requests_go_through_the_proxy_the_environment_names() {
    let sim = start_sim(SimConfig {
        jobs: 100,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let proxy = ForwardProxy::start().await;
    let proxy_url = format!("http://{}", proxy.addr);
    for (case, collection, no_proxy, through_proxy) in [
        ("HTTP_PROXY", "", "", true),
        (
            "proxy_from_env: false",
            "      proxy_from_env: false\n",
            "",
            false,
        ),
        ("NO_PROXY names the host", "", "127.0.0.1", false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let yaml = format!(
            "sites:\n  - name: proxied\n    url: {}\n    api_key: ${{NBU_KEY}}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\n{collection}server:\n  listen: 127.0.0.1:{port}\notlp:\n  enabled: false\n",
            sim.base_url()
        );
        let before = (jobs_cycles(&sim), proxy.seen().len());
        let mut env = vec![("NBU_KEY", KEY), ("HTTP_PROXY", proxy_url.as_str())];
        if !no_proxy.is_empty() {
            env.push(("NO_PROXY", no_proxy));
        }
        let agent = AgentProcess::start(dir.path(), &yaml, port, &env).await;
        wait_for(case, Duration::from_secs(30), || async {
            (jobs_cycles(&sim) > before.0 + 1).then_some(())
        })
        .await;
        agent.terminate().await;
        let seen: Vec<String> = proxy.seen().into_iter().skip(before.1).collect();
        if through_proxy {
            assert!(
                seen.iter()
                    .any(|u| u.starts_with(&format!("{}/admin/jobs", sim.base_url()))),
                "{case}: the proxy saw {seen:?}"
            );
        } else {
            assert!(seen.is_empty(), "{case}: the proxy saw {seen:?}");
        }
    }
}

/// The password of the proxy URLs below: it must appear in no output of the agent.
const PROXY_PASSWORD: &str = "pr0xy-pa55-7f3e";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_credentials_are_never_shown_and_malformed_proxy_settings_do_not_stop_the_agent() {
    let sim = start_sim(SimConfig {
        jobs: 20,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    // Nothing listens on this port: a proxy that refuses every connection.
    let dead = free_port();
    let with_credentials = format!("http://proxyuser:{PROXY_PASSWORD}@127.0.0.1:{dead}");
    let malformed_with_credentials = format!("http://proxyuser:{PROXY_PASSWORD}@[::1");
    for (case, proxy, no_proxy, collects) in [
        (
            "a dead proxy with credentials",
            with_credentials.as_str(),
            "",
            false,
        ),
        (
            "a malformed proxy URL",
            malformed_with_credentials.as_str(),
            "",
            true,
        ),
        ("a malformed NO_PROXY", "://", "[,,*.,.,:::,\u{1}", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let yaml = format!(
            "sites:\n  - name: proxied\n    url: {}\n    api_key: ${{NBU_KEY}}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\n      max_retries: 0\nserver:\n  listen: 127.0.0.1:{port}\notlp:\n  enabled: false\nlogging:\n  level: debug\n",
            sim.base_url()
        );
        let path = dir.path().join("agent.yaml");
        std::fs::write(&path, yaml).unwrap();
        let env = [
            ("NBU_KEY", KEY),
            ("HTTP_PROXY", proxy),
            ("HTTPS_PROXY", proxy),
            ("NO_PROXY", no_proxy),
        ];
        let readyz = format!("http://127.0.0.1:{port}/readyz");
        let args = ["run".as_ref(), "--config".as_ref(), path.as_os_str()];
        // Started once its server answers at all, whether the site is ready or not.
        let agent = AgentProcess::spawn_until(&args, &env, || async {
            reqwest::get(&readyz).await.ok().map(drop)
        })
        .await;
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let readyz_body = wait_for(case, Duration::from_secs(30), || async {
            let answer = client.get(&readyz).send().await.ok()?;
            let ready = answer.status() == 200;
            let body = answer.text().await.ok()?;
            // Ready when the site is collected, else once its failure is reported.
            (ready == collects && (ready || body.contains("proxied") && body.contains("error")))
                .then_some(body)
        })
        .await;
        let (stdout, stderr) = agent.terminate().await;
        // A proxy variable that is no URL is ignored, and the agent says so (never its value).
        assert_eq!(
            stderr.contains("HTTPS_PROXY is not a proxy URL"),
            collects,
            "{case}: the warning about the malformed proxy variable:\n{stderr}"
        );
        for (place, text) in [
            ("/readyz", &readyz_body),
            ("stdout", &stdout),
            ("stderr", &stderr),
        ] {
            assert!(
                !text.contains(PROXY_PASSWORD),
                "{case}: the proxy password in {place}:\n{text}"
            );
        }
    }
    sim.shutdown().await;
}
