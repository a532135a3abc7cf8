//! What the simulator's own tests share: a reproducible configuration, requests over real
//! HTTP, walks of the jobs pages, and the ground-truth fold of what a walk read.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use nbu_sim::*;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, RETRY_AFTER};
use serde_json::Value;

pub const KEY_HEADER: &str = "test-key-xyz";

pub fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

pub fn config(jobs: u64) -> SimConfig {
    SimConfig {
        api_key: KEY_HEADER.to_owned(),
        unfinished_fraction: 0.2,
        sparse_fraction: 0.05,
        ..SimConfig::reproducible(jobs)
    }
}

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub retry_after: Option<String>,
    pub date: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

pub async fn fetch(
    sim: &Simulator,
    path_and_query: &str,
    key: Option<&str>,
    accept: &str,
) -> Reply {
    let url = format!("{}{path_and_query}", sim.base_url());
    let mut request = reqwest::Client::new()
        .get(url)
        .header(ACCEPT, accept)
        .header(HOST, "nbu.test:1556");
    if let Some(key) = key {
        request = request.header(AUTHORIZATION, key);
    }
    let response = request.send().await.expect("response");
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    let retry_after = header(RETRY_AFTER);
    let date = header(reqwest::header::DATE);
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body").to_vec();
    Reply {
        status,
        content_type,
        retry_after,
        date,
        body,
    }
}

pub async fn get(sim: &Simulator, path_and_query: &str) -> Reply {
    fetch(
        sim,
        path_and_query,
        Some(KEY_HEADER),
        ApiVersion::V14_0.media_type(),
    )
    .await
}

pub fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub fn timestamp(ms: DateTime<Utc>) -> String {
    ms.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Walks every page of a jobs query; returns the items and the number of pages.
pub async fn walk(sim: &Simulator, filter: &str, sort: &str, limit: u32) -> (Vec<Value>, u64) {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!(
            "/admin/jobs?page[limit]={limit}&sort={sort}&filter={}",
            encode(filter)
        );
        if let Some(cursor) = &after {
            path.push_str(&format!("&page[after]={cursor}"));
        }
        let reply = get(sim, &path).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let doc = reply.json();
        pages += 1;
        let data = doc["data"].as_array().expect("data").clone();
        assert!(data.len() <= limit as usize);
        let pagination = &doc["meta"]["pagination"];
        assert_eq!(pagination["limit"], limit);
        match pagination.get("next").and_then(Value::as_str) {
            Some(next) => {
                assert_eq!(data.len(), limit as usize);
                assert_eq!(
                    data.last().map(|d| d["meta"]["page"]["cursor"].clone()),
                    Some(next.into())
                );
                assert!(
                    doc["links"]["next"]["href"]
                        .as_str()
                        .is_some_and(|h| h.contains(next))
                );
                after = Some(next.to_owned());
            }
            None => {
                items.extend(data);
                return (items, pages);
            }
        }
        items.extend(data);
        assert!(pages < 10_000, "runaway walk");
    }
}

pub fn job_ids(items: &[Value]) -> Vec<u64> {
    items
        .iter()
        .map(|item| item["attributes"]["jobId"].as_u64().expect("jobId"))
        .collect()
}

/// The facts of a JSON item, read straightforwardly (standing in for an agent in these tests).
pub fn facts(item: &Value) -> JobFacts<'_> {
    let a = &item["attributes"];
    let text = |name: &str| a.get(name).and_then(Value::as_str);
    let number = |name: &str| a.get(name).and_then(Value::as_u64);
    let time = |name: &str| {
        text(name)
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
            .map(|t| t.timestamp_millis())
    };
    JobFacts {
        job_type: text("jobType"),
        policy_type: text("policyType"),
        state: text("state"),
        status: a.get("status").and_then(Value::as_i64),
        queue_reason: a.get("jobQueueReason").and_then(Value::as_i64),
        kilobytes: number("kilobytesTransferred"),
        files: number("numberOfFiles"),
        dedup_ratio: a.get("dedupRatio").and_then(Value::as_f64),
        start_ms: time("startTime"),
        end_ms: time("endTime"),
    }
}

/// The ground-truth fold of walked items (the walks' filters chose them: every one counts).
pub fn fold<'a>(items: impl IntoIterator<Item = &'a Value>) -> JobsTruth {
    fold_jobs(items.into_iter().map(facts), Window::Everything)
}

/// Polls `condition` every few milliseconds until it holds or `within` elapses.
pub async fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How a raw HTTP/1.1 exchange ended.
pub struct RawExchange {
    pub head: String,
    pub body: Vec<u8>,
    pub end: std::io::Result<()>,
}

/// Sends one GET over a fresh TCP connection and reads until the server closes it (or the
/// deadline passes, which fails the test).
pub async fn raw_get(sim: &Simulator, path_and_query: &str) -> RawExchange {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(sim.addr())
        .await
        .expect("connect");
    let request = format!(
        "GET /netbackup{path_and_query} HTTP/1.1\r\nHost: nbu.test:1556\r\nAuthorization: {KEY_HEADER}\r\nAccept: {}\r\n\r\n",
        ApiVersion::V14_0.media_type()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut received = Vec::new();
    let read_all = async {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) => return Ok(()),
                Ok(n) => received.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(e),
            }
        }
    };
    let end = tokio::time::timeout(Duration::from_secs(10), read_all)
        .await
        .expect("the server ends the exchange");
    let split = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    RawExchange {
        head: String::from_utf8_lossy(&received[..split]).into_owned(),
        body: received[split + 4..].to_vec(),
        end,
    }
}

pub fn content_length(head: &str) -> Option<usize> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

pub fn live(jobs: u64, churn: u32) -> SimConfig {
    SimConfig {
        manual_clock: true,
        live: Some(LiveConfig {
            churn_per_minute: churn,
            ..LiveConfig::default()
        }),
        ..config(jobs)
    }
}

pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
