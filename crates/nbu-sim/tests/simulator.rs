//! End-to-end tests over real HTTP.

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, RETRY_AFTER};
use serde_json::Value;

use nbu_sim::*;

mod common;
use common::test_config;

const KEY_HEADER: &str = "test-key-xyz";

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn config(jobs: u64) -> SimConfig {
    SimConfig {
        api_key: KEY_HEADER.to_owned(),
        unfinished_fraction: 0.2,
        sparse_fraction: 0.05,
        ..test_config(jobs)
    }
}

struct Reply {
    status: u16,
    content_type: String,
    retry_after: Option<String>,
    date: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

async fn fetch(sim: &Simulator, path_and_query: &str, key: Option<&str>, accept: &str) -> Reply {
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

async fn get(sim: &Simulator, path_and_query: &str) -> Reply {
    fetch(
        sim,
        path_and_query,
        Some(KEY_HEADER),
        ApiVersion::V14_0.media_type(),
    )
    .await
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn timestamp(ms: DateTime<Utc>) -> String {
    ms.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Walks every page of a jobs query; returns the items and the number of pages.
async fn walk(sim: &Simulator, filter: &str, sort: &str, limit: u32) -> (Vec<Value>, u64) {
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

fn job_ids(items: &[Value]) -> Vec<u64> {
    items
        .iter()
        .map(|item| item["attributes"]["jobId"].as_u64().expect("jobId"))
        .collect()
}

/// The facts of a JSON item, read straightforwardly (standing in for an agent in these tests).
fn facts(item: &Value) -> JobFacts<'_> {
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
fn fold<'a>(items: impl IntoIterator<Item = &'a Value>) -> JobsTruth {
    fold_jobs(items.into_iter().map(facts), Window::Everything)
}

#[tokio::test]
async fn pagination_walks_every_matching_job_once_and_matches_the_truth() {
    let sim = Simulator::start(config(400), local()).await.expect("start");
    let cutoff = sim.config().anchor - chrono::Duration::hours(12);
    let finished_filter = format!("state eq 'DONE' and endTime gt {}", timestamp(cutoff));
    let (finished, finished_pages) = walk(&sim, &finished_filter, "jobId", 7).await;
    let (unfinished, unfinished_pages) = walk(&sim, "state ne 'DONE'", "jobId", 7).await;

    let finished_ids = job_ids(&finished);
    let unfinished_ids = job_ids(&unfinished);
    let expected = |f: &dyn Fn(&Job<'_>) -> bool| -> Vec<u64> {
        sim.dataset()
            .jobs()
            .filter(|j| f(j))
            .map(|j| j.job_id)
            .collect()
    };
    assert_eq!(
        finished_ids,
        expected(&|j| j.state == Some(JobState::Done) && j.end_ms > Some(cutoff.timestamp_millis()))
    );
    assert_eq!(
        unfinished_ids,
        expected(&|j| j.state != Some(JobState::Done))
    );
    let all: HashSet<u64> = finished_ids
        .iter()
        .chain(&unfinished_ids)
        .copied()
        .collect();
    assert_eq!(
        all.len(),
        finished_ids.len() + unfinished_ids.len(),
        "a job was returned twice"
    );
    assert!(finished_ids.len() > 50 && unfinished_ids.len() > 30);
    assert_eq!(
        finished_pages,
        (finished_ids.len() as u64).div_ceil(7).max(1)
    );
    assert!(unfinished_pages >= 5);

    let walked = fold(finished.iter().chain(&unfinished));
    let truth = sim.truth(cutoff);
    assert_eq!(walked, truth.jobs);
    assert_eq!(truth.jobs.jobs, all.len() as u64);

    // Descending (the default sort) visits the same jobs in reverse.
    let (descending, _) = walk(&sim, "state ne 'DONE'", "-jobId", 9).await;
    let mut reversed = job_ids(&descending);
    reversed.reverse();
    assert_eq!(reversed, unfinished_ids);
    sim.shutdown().await;
}

#[tokio::test]
async fn filters_select_the_right_jobs() {
    let sim = Simulator::start(config(300), local()).await.expect("start");
    let check = |filter: &'static str, f: fn(&Job<'_>) -> bool| {
        let sim = &sim;
        async move {
            let (items, _) = walk(sim, filter, "jobId", 100).await;
            let want: Vec<u64> = sim
                .dataset()
                .jobs()
                .filter(|j| f(j))
                .map(|j| j.job_id)
                .collect();
            assert_eq!(job_ids(&items), want, "{filter}");
            assert!(!want.is_empty(), "{filter} matches nothing");
        }
    };
    check("jobType eq 'BACKUP' and policyType ne 'VMWARE'", |j| {
        j.job_type == Some("BACKUP") && j.policy_type != Some("VMWARE")
    })
    .await;
    check("status gt 0", |j| j.status.is_some_and(|s| s > 0)).await;
    check("state eq 'QUEUED'", |j| j.state == Some(JobState::Queued)).await;
    check("policyType eq null", |j| j.policy_type.is_none()).await;
    check("jobId ge 100 and jobId lt 150 and state eq 'DONE'", |j| {
        (100..150).contains(&j.job_id) && j.state == Some(JobState::Done)
    })
    .await;
    let special = sim
        .dataset()
        .jobs()
        .find(|j| j.client_name.contains('\''))
        .map(|j| j.client_name.to_owned());
    if let Some(name) = special {
        let filter = format!("clientName eq '{}'", name.replace('\'', "''"));
        let (items, _) = walk(&sim, &filter, "jobId", 50).await;
        assert!(!items.is_empty());
        assert!(
            items
                .iter()
                .all(|i| i["attributes"]["clientName"] == name.as_str())
        );
    }

    let reply = get(
        &sim,
        &format!("/admin/jobs?filter={}", encode("color eq 'red'")),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.content_type, ApiVersion::V14_0.media_type());
    let body = reply.json();
    assert_eq!(body["errorCode"], 400);
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("'color'")),
        "{body}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn authentication_and_version_negotiation() {
    let cfg = SimConfig {
        supported_versions: vec![ApiVersion::V13_0, ApiVersion::V12_0],
        ..config(20)
    };
    let sim = Simulator::start(cfg, local()).await.expect("start");
    let v13 = ApiVersion::V13_0.media_type();

    let reply = fetch(&sim, "/admin/jobs", None, v13).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.content_type, v13);
    let body = reply.json();
    assert_eq!(body["errorCode"], 401);
    assert!(body["errorMessage"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(
        fetch(&sim, "/admin/jobs", Some("wrong"), v13).await.status,
        401
    );
    assert_eq!(
        fetch(
            &sim,
            "/admin/jobs",
            Some(&format!("Bearer {KEY_HEADER}")),
            v13
        )
        .await
        .status,
        401
    );

    let reply = fetch(
        &sim,
        "/admin/jobs",
        Some(KEY_HEADER),
        ApiVersion::V14_0.media_type(),
    )
    .await;
    assert_eq!(reply.status, 406);
    assert_eq!(reply.content_type, v13);
    let body = reply.json();
    assert_eq!(body["errorCode"], 406);
    assert!(
        body["errorDetails"][0]
            .as_str()
            .is_some_and(|d| d.contains("13.0")),
        "{body}"
    );
    assert_eq!(
        fetch(&sim, "/admin/jobs", Some(KEY_HEADER), "application/json")
            .await
            .status,
        406
    );

    let reply = fetch(
        &sim,
        "/admin/jobs",
        Some(KEY_HEADER),
        "application/vnd.netbackup+json; version=12.0",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, ApiVersion::V12_0.media_type());
    assert_eq!(reply.json()["data"].as_array().map(Vec::len), Some(10));

    let records = sim.requests();
    assert_eq!(records.len(), 6);
    let summary: Vec<(u16, bool, bool, Option<&str>)> = records
        .iter()
        .map(|r| {
            (
                r.status,
                r.authorized,
                r.authorization_matched,
                r.accept_version.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (401, false, false, Some("13.0")),
            (401, true, false, Some("13.0")),
            (401, true, false, Some("13.0")),
            (406, true, true, Some("14.0")),
            (406, true, true, None),
            (200, true, true, Some("12.0")),
        ]
    );
    assert!(
        records
            .iter()
            .all(|r| r.path == "/netbackup/admin/jobs" && r.method == "GET")
    );
    assert!(!format!("{records:?}").contains(KEY_HEADER));
    sim.clear_requests();
    assert!(sim.requests().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn parameter_limits_and_unknown_routes() {
    let sim = Simulator::start(config(20), local()).await.expect("start");
    for (path, needle) in [
        ("/admin/jobs?page[limit]=101", "page[limit]"),
        ("/admin/jobs?page[limit]=-1", "page[limit]"),
        ("/admin/jobs?page[after]=x", "cursor"),
        ("/admin/jobs?sort=startTime", "sort"),
        ("/storage/storage-units?page[limit]=501", "page[limit]"),
        ("/storage/storage-units?page[offset]=-3", "page[offset]"),
    ] {
        let reply = get(&sim, path).await;
        assert_eq!(reply.status, 400, "{path}");
        let body = reply.json();
        assert_eq!(body["errorCode"], 400);
        assert!(
            body["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains(needle)),
            "{path}: {body}"
        );
    }
    assert_eq!(get(&sim, "/admin/jobs?page[limit]=100").await.status, 200);
    let reply = get(&sim, "/admin/nothing").await;
    assert_eq!(
        (reply.status, reply.json()["errorCode"].as_u64()),
        (404, Some(404))
    );
    let url = format!("{}/admin/jobs", sim.base_url());
    let response = reqwest::Client::new()
        .post(url)
        .header(AUTHORIZATION, KEY_HEADER)
        .header(ACCEPT, ApiVersion::V14_0.media_type())
        .send()
        .await
        .expect("response");
    assert_eq!(response.status().as_u16(), 405);
    sim.shutdown().await;
}

#[tokio::test]
async fn storage_units_paginate_by_offset() {
    let cfg = SimConfig {
        storage_units: 23,
        ..config(1)
    };
    let sim = Simulator::start(cfg, local()).await.expect("start");
    let mut names = Vec::new();
    let mut offset = Some(0);
    let mut pages = 0;
    while let Some(at) = offset {
        let doc = get(
            &sim,
            &format!("/storage/storage-units?page[offset]={at}&page[limit]=5"),
        )
        .await
        .json();
        let p = &doc["meta"]["pagination"];
        assert_eq!(
            (p["count"].as_u64(), p["pages"].as_u64(), p["last"].as_u64()),
            (Some(23), Some(5), Some(20))
        );
        assert_eq!(
            (
                p["offset"].as_u64(),
                p["limit"].as_u64(),
                p["page"].as_u64()
            ),
            (Some(at), Some(5), Some(pages))
        );
        for item in doc["data"].as_array().expect("data") {
            assert_eq!(item["type"], "storageUnit");
            assert_eq!(item["id"], item["attributes"]["name"]);
            names.push(item["id"].as_str().expect("id").to_owned());
        }
        offset = p.get("next").and_then(Value::as_u64);
        pages += 1;
    }
    assert_eq!(pages, 5);
    let expected: Vec<String> = sim
        .dataset()
        .storage_units()
        .iter()
        .map(|u| u.name.clone())
        .collect();
    assert_eq!(names, expected);
    let kinds: BTreeSet<String> = sim
        .dataset()
        .storage_units()
        .iter()
        .map(|u| u.storage_category.to_owned())
        .collect();
    assert!(kinds.len() >= 6, "{kinds:?}");
    let truth = sim.truth(Utc::now());
    assert_eq!(truth.storage.units.len(), 23);
    sim.shutdown().await;
}

#[tokio::test]
async fn same_seed_same_bytes() {
    let a = Simulator::start(config(500), local()).await.expect("start");
    let b = Simulator::start(config(500), local()).await.expect("start");
    for path in [
        "/admin/jobs?page[limit]=100&sort=jobId&page[after]=250",
        "/admin/jobs?filter=state%20ne%20%27DONE%27",
        "/storage/storage-units?page[limit]=500",
    ] {
        let (x, y) = (get(&a, path).await, get(&b, path).await);
        assert_eq!(x.status, 200);
        assert!(x.body.len() > 1000);
        assert!(x.body == y.body, "{path} differs");
    }
    let other = Simulator::start(
        SimConfig {
            seed: 7,
            ..config(500)
        },
        local(),
    )
    .await
    .expect("start");
    let path = "/admin/jobs?page[limit]=100";
    assert!(get(&a, path).await.body != get(&other, path).await.body);
    a.shutdown().await;
    b.shutdown().await;
    other.shutdown().await;
}

#[tokio::test]
async fn faults_apply_then_clear() {
    let sim = Simulator::start(config(50), local()).await.expect("start");
    let jobs = "/admin/jobs?page[limit]=5";
    let storage = "/storage/storage-units";

    sim.set_fault(
        FaultTarget::Jobs,
        Fault::Status {
            code: 429,
            retry_after: Some("2".to_owned()),
            body: None,
        },
        Some(1),
    );
    assert_eq!(get(&sim, storage).await.status, 200);
    let reply = get(&sim, jobs).await;
    assert_eq!(
        (reply.status, reply.retry_after.as_deref()),
        (429, Some("2"))
    );
    assert_eq!(reply.json()["errorCode"], 429);
    assert_eq!(get(&sim, jobs).await.status, 200);

    sim.set_fault(FaultTarget::Any, Fault::TruncatedJson, None);
    for path in [jobs, storage] {
        let reply = get(&sim, path).await;
        assert_eq!(
            (reply.status, reply.content_type.as_str()),
            (200, ApiVersion::V14_0.media_type())
        );
        assert!(!reply.body.is_empty());
        assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
    }
    sim.clear_faults();
    assert!(serde_json::from_slice::<Value>(&get(&sim, jobs).await.body).is_ok());

    sim.set_fault(FaultTarget::Jobs, Fault::WrongContentType, Some(1));
    sim.set_fault(FaultTarget::Jobs, Fault::InvalidUtf8, Some(1));
    sim.set_fault(FaultTarget::Jobs, Fault::EmptyBody, Some(1));
    sim.set_fault(FaultTarget::Jobs, Fault::HtmlBody, Some(1));
    sim.set_fault(
        FaultTarget::Jobs,
        Fault::Status {
            code: 503,
            retry_after: None,
            body: Some("busy".to_owned()),
        },
        Some(1),
    );
    let reply = get(&sim, jobs).await;
    assert_eq!(
        (reply.status, reply.content_type.as_str()),
        (200, "text/plain")
    );
    assert!(serde_json::from_slice::<Value>(&reply.body).is_ok());
    let reply = get(&sim, jobs).await;
    assert!(std::str::from_utf8(&reply.body).is_err());
    let reply = get(&sim, jobs).await;
    assert_eq!((reply.status, reply.body.len()), (200, 0));
    let reply = get(&sim, jobs).await;
    assert!(reply.content_type.starts_with("text/html"));
    let reply = get(&sim, jobs).await;
    assert_eq!(
        (reply.status, reply.body.as_slice()),
        (503, b"busy".as_slice())
    );
    assert_eq!(get(&sim, jobs).await.status, 200);

    let normal = get(&sim, "/storage/storage-units?page[limit]=1").await.body;
    sim.set_fault(
        FaultTarget::Storage,
        Fault::SlowBody {
            bytes_per_second: 4000,
        },
        Some(1),
    );
    let started = Instant::now();
    let slow = get(&sim, "/storage/storage-units?page[limit]=1").await.body;
    assert_eq!(slow, normal);
    let expected = Duration::from_millis(normal.len() as u64 * 1000 / 4000);
    assert!(
        started.elapsed() + Duration::from_millis(150) >= expected,
        "{:?}",
        started.elapsed()
    );

    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert!(statuses.contains(&429) && statuses.contains(&503));
    sim.shutdown().await;
}

#[tokio::test]
async fn hanging_requests_are_released_by_shutdown() {
    let sim = Simulator::start(config(10), local()).await.expect("start");
    sim.set_fault(FaultTarget::Any, Fault::Hang, None);
    let url = format!("{}/admin/jobs", sim.base_url());
    let hung = tokio::spawn(async move {
        reqwest::Client::new()
            .get(url)
            .header(AUTHORIZATION, KEY_HEADER)
            .header(ACCEPT, ApiVersion::V14_0.media_type())
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!hung.is_finished());
    assert_eq!(sim.requests().last().map(|r| r.status), Some(0));
    let started = Instant::now();
    sim.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    let outcome = tokio::time::timeout(Duration::from_secs(3), hung)
        .await
        .expect("released");
    assert!(matches!(outcome, Ok(Ok(503)) | Ok(Err(_))), "{outcome:?}");
}

#[tokio::test]
async fn latency_is_added_and_drop_stops_the_server() {
    let cfg = SimConfig {
        latency: Duration::from_millis(150),
        ..config(5)
    };
    let sim = Simulator::start(cfg, local()).await.expect("start");
    let started = Instant::now();
    assert_eq!(get(&sim, "/admin/jobs").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let addr = sim.addr();
    drop(sim);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// Polls `condition` every few milliseconds until it holds or `within` elapses.
async fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
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
struct RawExchange {
    head: String,
    body: Vec<u8>,
    end: std::io::Result<()>,
}

/// Sends one GET over a fresh TCP connection and reads until the server closes it (or the
/// deadline passes, which fails the test).
async fn raw_get(sim: &Simulator, path_and_query: &str) -> RawExchange {
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

fn content_length(head: &str) -> Option<usize> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

#[tokio::test]
async fn reset_mid_body_sends_headers_and_part_of_the_body_then_resets() {
    let sim = Simulator::start(config(100), local()).await.expect("start");
    let path = "/admin/jobs?page[limit]=20";
    let full = get(&sim, path).await.body;
    assert!(full.len() > 10_000);

    sim.set_fault(FaultTarget::Jobs, Fault::ResetMidBody, Some(1));
    let raw = raw_get(&sim, path).await;
    assert!(raw.head.starts_with("HTTP/1.1 200"), "{}", raw.head);
    assert!(
        raw.head.contains(ApiVersion::V14_0.media_type()),
        "{}",
        raw.head
    );
    assert_eq!(content_length(&raw.head), Some(full.len()), "{}", raw.head);
    assert_eq!(raw.body, full[..full.len() / 2]);
    let kind = raw.end.as_ref().err().map(std::io::Error::kind);
    assert_eq!(
        kind,
        Some(std::io::ErrorKind::ConnectionReset),
        "{:?}",
        raw.end
    );

    // A real client gets the status and headers, then a body error.
    sim.set_fault(FaultTarget::Any, Fault::ResetMidBody, Some(1));
    let response = reqwest::Client::new()
        .get(format!("{}{path}", sim.base_url()))
        .header(AUTHORIZATION, KEY_HEADER)
        .header(ACCEPT, ApiVersion::V14_0.media_type())
        .header(HOST, "nbu.test:1556")
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.content_length(), Some(full.len() as u64));
    let body = response.bytes().await;
    assert!(body.is_err(), "a short body was accepted: {body:?}");

    // The fault is spent: the next request is whole.
    assert_eq!(get(&sim, path).await.body, full);
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 200, 200]);
    assert!(eventually(Duration::from_secs(5), || sim.open_connections() == 0).await);
    sim.shutdown().await;
}

#[tokio::test]
async fn repeat_cursor_never_advances() {
    let cfg = SimConfig {
        storage_units: 12,
        ..config(100)
    };
    let sim = Simulator::start(cfg, local()).await.expect("start");
    sim.set_fault(FaultTarget::Any, Fault::RepeatCursor, None);

    let first = get(&sim, "/admin/jobs?page[limit]=10&sort=jobId")
        .await
        .json();
    let next = first["meta"]["pagination"]["next"]
        .as_str()
        .expect("next")
        .to_owned();
    assert_eq!(next, "10");
    for _ in 0..3 {
        let doc = get(
            &sim,
            &format!("/admin/jobs?page[limit]=10&sort=jobId&page[after]={next}"),
        )
        .await
        .json();
        assert_eq!(doc["meta"]["pagination"]["next"], next.as_str());
        assert!(
            doc["links"]["next"]["href"]
                .as_str()
                .is_some_and(|h| h.contains(&format!("page%5Bafter%5D={next}")))
        );
        assert_eq!(doc["data"].as_array().map(Vec::len), Some(10));
        assert_eq!(
            doc["data"][0]["attributes"]["jobId"], 1,
            "the first page again"
        );
    }
    // Even past the last job.
    let doc = get(
        &sim,
        "/admin/jobs?page[limit]=10&sort=jobId&page[after]=100",
    )
    .await
    .json();
    assert_eq!(doc["meta"]["pagination"]["next"], "100");

    for offset in [0, 5, 10] {
        let doc = get(
            &sim,
            &format!("/storage/storage-units?page[offset]={offset}&page[limit]=5"),
        )
        .await
        .json();
        assert_eq!(doc["meta"]["pagination"]["next"], offset);
        assert_eq!(doc["meta"]["pagination"]["offset"], offset);
        assert!(
            doc["links"]["next"]["href"]
                .as_str()
                .is_some_and(|h| h.contains(&format!("page%5Boffset%5D={offset}&")))
        );
    }
    sim.clear_faults();
    let doc = get(&sim, "/storage/storage-units?page[offset]=10&page[limit]=5")
        .await
        .json();
    assert!(doc["meta"]["pagination"].get("next").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn oversized_pages_ignore_the_limit() {
    let cfg = SimConfig {
        storage_units: 40,
        ..config(400)
    };
    let sim = Simulator::start(cfg, local()).await.expect("start");
    sim.set_fault(FaultTarget::Jobs, Fault::OversizedPage { items: 150 }, None);
    for limit in [5, 0, 100] {
        let doc = get(&sim, &format!("/admin/jobs?page[limit]={limit}&sort=jobId"))
            .await
            .json();
        assert_eq!(doc["data"].as_array().map(Vec::len), Some(150), "{limit}");
        assert_eq!(doc["meta"]["pagination"]["limit"], limit);
        assert_eq!(doc["meta"]["pagination"]["next"], "150");
    }
    let doc = get(&sim, "/admin/jobs?page[limit]=5&sort=jobId&page[after]=300")
        .await
        .json();
    assert_eq!(doc["data"].as_array().map(Vec::len), Some(100));
    assert!(doc["meta"]["pagination"].get("next").is_none());

    sim.set_fault(
        FaultTarget::Storage,
        Fault::OversizedPage { items: 25 },
        None,
    );
    let doc = get(&sim, "/storage/storage-units?page[limit]=5")
        .await
        .json();
    assert_eq!(doc["data"].as_array().map(Vec::len), Some(25));
    let p = &doc["meta"]["pagination"];
    assert_eq!(
        (p["limit"].as_u64(), p["next"].as_u64()),
        (Some(5), Some(25))
    );
    let doc = get(&sim, "/storage/storage-units?page[limit]=5&page[offset]=25")
        .await
        .json();
    assert_eq!(doc["data"].as_array().map(Vec::len), Some(15));
    assert!(doc["meta"]["pagination"].get("next").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn hostile_values_are_valid_json_with_every_kind_of_bad_value() {
    let cfg = SimConfig {
        storage_units: 10,
        ..config(60)
    };
    let sim = Simulator::start(cfg, local()).await.expect("start");
    sim.set_fault(FaultTarget::Any, Fault::HostileValues, None);

    let reply = get(&sim, "/admin/jobs?page[limit]=20&sort=jobId").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, ApiVersion::V14_0.media_type());
    let text = String::from_utf8(reply.body.clone()).expect("UTF-8");
    for needle in [
        "\"kilobytesTransferred\":123456789012345678901234567890",
        "\"kilobytesTransferred\":1e308",
        "\"kilobytesTransferred\":-1024",
        "\"numberOfFiles\":-5",
        "\"status\":\"abc\"",
        "\"jobType\":12",
        "\"status\":null",
        "\"id\":{",
        "\"attributes\":null",
        "\"xSimUnknownObject\":{\"level1\":{",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
    let doc = reply.json();
    let data = doc["data"].as_array().expect("data");
    assert_eq!(data.len(), 20);
    assert!(data.iter().any(|j| j["attributes"].is_array()));
    assert!(
        data.iter()
            .any(|j| j["attributes"].as_object().is_some_and(|a| a.len() == 5))
    );
    assert_eq!(doc["meta"]["pagination"]["next"], "20");

    // Pagination stays sane: a walk over hostile pages ends.
    let (items, pages) = walk(&sim, "jobId gt 0", "jobId", 25).await;
    assert_eq!((items.len(), pages), (60, 3));

    let reply = get(&sim, "/storage/storage-units?page[limit]=10").await;
    assert_eq!(reply.content_type, ApiVersion::V14_0.media_type());
    let text = String::from_utf8(reply.body.clone()).expect("UTF-8");
    for needle in [
        "\"freeCapacityBytes\":123456789012345678901234567890",
        "\"totalCapacityBytes\":1e308",
        "\"totalCapacityBytes\":null",
        "\"usedCapacityBytes\":-5",
        "\"isCloudSTU\":\"true\"",
        "\"accelerator\":\"false\"",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
    assert_eq!(reply.json()["data"].as_array().map(Vec::len), Some(10));
    sim.shutdown().await;
}

#[tokio::test]
async fn status_faults_carry_the_vendor_error_body() {
    let sim = Simulator::start(config(5), local()).await.expect("start");
    for code in [401u16, 403, 404, 500, 502, 503] {
        sim.set_fault(
            FaultTarget::Jobs,
            Fault::Status {
                code,
                retry_after: None,
                body: None,
            },
            Some(1),
        );
        let reply = get(&sim, "/admin/jobs").await;
        assert_eq!(reply.status, code);
        assert_eq!(reply.content_type, ApiVersion::V14_0.media_type());
        let body = reply.json();
        assert_eq!(body["errorCode"], code);
        assert!(
            body["errorMessage"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert!(body["errorDetails"].is_array(), "{body}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn supported_versions_change_at_runtime() {
    let sim = Simulator::start(config(5), local()).await.expect("start");
    let all = sim.config().supported_versions.clone();
    assert_eq!(sim.supported_versions(), all);
    assert_eq!(get(&sim, "/admin/jobs").await.status, 200);

    sim.set_supported_versions(Vec::new());
    assert!(sim.supported_versions().is_empty());
    assert_eq!(sim.config().supported_versions, all);
    for version in ApiVersion::NEWEST_FIRST {
        let reply = fetch(&sim, "/admin/jobs", Some(KEY_HEADER), version.media_type()).await;
        assert_eq!(reply.status, 406, "{version:?}");
        assert_eq!(reply.json()["errorCode"], 406);
    }

    sim.set_supported_versions(vec![ApiVersion::V12_0]);
    let reply = get(&sim, "/admin/jobs").await;
    assert_eq!(
        (reply.status, reply.content_type.as_str()),
        (406, ApiVersion::V12_0.media_type())
    );
    let reply = fetch(
        &sim,
        "/admin/jobs",
        Some(KEY_HEADER),
        ApiVersion::V12_0.media_type(),
    )
    .await;
    assert_eq!(reply.status, 200);

    sim.set_supported_versions(all);
    assert_eq!(get(&sim, "/admin/jobs").await.status, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn connections_are_counted_while_open() {
    let sim = Simulator::start(config(5), local()).await.expect("start");
    assert_eq!((sim.open_connections(), sim.accepted_connections()), (0, 0));

    let client = reqwest::Client::new();
    let url = format!("{}/admin/jobs", sim.base_url());
    for _ in 0..3 {
        let response = client
            .get(&url)
            .header(AUTHORIZATION, KEY_HEADER)
            .header(ACCEPT, ApiVersion::V14_0.media_type())
            .send()
            .await
            .expect("response");
        assert_eq!(response.status().as_u16(), 200);
        response.bytes().await.expect("body");
    }
    // One keep-alive connection served the three requests.
    assert_eq!((sim.open_connections(), sim.accepted_connections()), (1, 1));

    let raw = tokio::net::TcpStream::connect(sim.addr())
        .await
        .expect("connect");
    assert!(eventually(Duration::from_secs(5), || sim.open_connections() == 2).await);
    assert_eq!(sim.accepted_connections(), 2);

    drop(client);
    assert!(
        eventually(Duration::from_secs(5), || sim.open_connections() == 1).await,
        "the dropped client's connection is still open"
    );
    drop(raw);
    assert!(
        eventually(Duration::from_secs(5), || sim.open_connections() == 0).await,
        "the raw connection is still open"
    );
    assert_eq!(sim.accepted_connections(), 2);
    sim.shutdown().await;
}

fn live(jobs: u64, churn: u32) -> SimConfig {
    SimConfig {
        manual_clock: true,
        live: Some(LiveConfig {
            churn_per_minute: churn,
            ..LiveConfig::default()
        }),
        ..config(jobs)
    }
}

fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[tokio::test]
async fn date_header_follows_the_clock() {
    let sim = Simulator::start(live(10, 60), local())
        .await
        .expect("start");
    let anchor = sim.config().anchor;
    assert_eq!(sim.now(), anchor);
    for path in ["/admin/jobs", "/storage/storage-units", "/nowhere"] {
        let reply = get(&sim, path).await;
        assert_eq!(
            reply.date.as_deref(),
            Some(http_date(anchor).as_str()),
            "{path}"
        );
    }
    let unauthorized = fetch(&sim, "/admin/jobs", None, ApiVersion::V14_0.media_type()).await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(unauthorized.date, Some(http_date(anchor)));
    sim.clock().advance(chrono::Duration::seconds(90));
    let later = anchor + chrono::Duration::seconds(90);
    assert_eq!(sim.now(), later);
    assert_eq!(get(&sim, "/admin/jobs").await.date, Some(http_date(later)));
    sim.set_fault(
        FaultTarget::Any,
        Fault::Status {
            code: 503,
            retry_after: None,
            body: None,
        },
        Some(1),
    );
    let failed = get(&sim, "/admin/jobs").await;
    assert_eq!(failed.status, 503);
    assert_eq!(failed.date, Some(http_date(later)));
    sim.shutdown().await;

    // A wall clock 15 minutes behind.
    let skewed = Simulator::start(
        SimConfig {
            clock_offset: chrono::Duration::minutes(-15),
            ..config(10)
        },
        local(),
    )
    .await
    .expect("start");
    let reply = get(&skewed, "/admin/jobs").await;
    let date = reply
        .date
        .and_then(|d| DateTime::parse_from_rfc2822(&d).ok())
        .expect("a Date header");
    let skew = date.with_timezone(&Utc) - (Utc::now() - chrono::Duration::minutes(15));
    assert!(skew.num_seconds().abs() <= 2, "{skew}");
    skewed.shutdown().await;
}

#[tokio::test]
async fn live_jobs_change_with_the_clock() {
    let sim = Simulator::start(live(300, 5), local())
        .await
        .expect("start");
    let anchor = sim.config().anchor;
    let (at_anchor, _) = walk(&sim, "", "jobId", 100).await;
    assert_eq!(job_ids(&at_anchor), (1..=300).collect::<Vec<_>>());
    let states = |items: &[Value]| -> BTreeSet<String> {
        items
            .iter()
            .filter_map(|i| i["attributes"]["state"].as_str().map(str::to_owned))
            .collect()
    };
    assert!(states(&at_anchor).contains("ACTIVE"));
    assert!(states(&at_anchor).contains("DONE"));

    // Ten minutes later: 50 new jobs, and the delta query returns exactly the changed ones.
    let since = sim.now();
    sim.clock().advance(chrono::Duration::minutes(10));
    let now = sim.now();
    let delta_filter = format!("lastUpdateTime ge {}", timestamp(since));
    let (delta, _) = walk(&sim, &delta_filter, "jobId", 50).await;
    let delta_ids = job_ids(&delta);
    let data = sim.dataset();
    let (now_ms, since_ms) = (now.timestamp_millis(), since.timestamp_millis());
    let changed: Vec<u64> = data
        .jobs_at(now_ms)
        .filter(|job| data.job_at(job.job_id - 1, since_ms).as_ref() != Some(job))
        .map(|job| job.job_id)
        .collect();
    assert_eq!(delta_ids, changed);
    assert_eq!(delta_ids.iter().filter(|id| **id > 300).count(), 50);
    assert!(delta_ids.iter().filter(|id| **id <= 300).count() > 10);
    for item in &delta {
        let updated = item["attributes"]["lastUpdateTime"]
            .as_str()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
            .expect("lastUpdateTime");
        assert!(updated >= since && updated <= now);
    }
    let (all_now, _) = walk(&sim, "", "-jobId", 100).await;
    assert_eq!(all_now.len(), 350);

    // The truth at an instant is what a full walk at that instant folds to.
    for hours in [0, 3, 30, 70] {
        sim.clock().set(anchor + chrono::Duration::hours(hours));
        let now = sim.now();
        let window = Duration::from_secs(6 * 3600);
        let cutoff = now - chrono::Duration::hours(6);
        let finished_filter = format!("state eq 'DONE' and endTime gt {}", timestamp(cutoff));
        let (finished, _) = walk(&sim, &finished_filter, "jobId", 100).await;
        let (unfinished, _) = walk(&sim, "state ne 'DONE'", "jobId", 100).await;
        let walked = fold(finished.iter().chain(&unfinished));
        let truth = sim.truth_at(now, window);
        assert_eq!(walked, truth.jobs, "{hours} h");
        assert_eq!(sim.truth(cutoff), truth);
        assert!(truth.jobs.jobs > 100, "{hours} h: {}", truth.jobs.jobs);
    }
    sim.shutdown().await;
}

#[test]
fn a_day_window_counts_a_day_of_churn() {
    let cfg = live(0, 10);
    let data = Dataset::new(&cfg);
    // Steady state: three days after the start, at 10 new jobs a minute.
    let now = cfg.anchor + chrono::Duration::hours(72);
    let truth = SimTruth::at(&data, now, now - chrono::Duration::hours(24));
    let done: u64 = truth
        .jobs
        .state_counts
        .iter()
        .filter(|(k, _)| k.state == "DONE")
        .map(|(_, n)| n)
        .sum();
    let expected = 10 * 1440;
    assert!(done.abs_diff(expected) < expected / 20, "{done}");
    let unfinished = truth.jobs.jobs - done;
    assert!(unfinished > 100 && unfinished < 3000, "{unfinished}");
    // Nothing exists before the first job, everything is purged long after the last one.
    assert_eq!(data.jobs_at(cfg.anchor.timestamp_millis() - 1).count(), 0);
}
