//! The gate every request passes: the API key, `Accept` negotiation, parameter limits, unknown
//! routes, latency, the versions served, and connection counting.

use std::time::{Duration, Instant};

use nbu_sim::*;
use reqwest::header::{ACCEPT, AUTHORIZATION};

mod common;
use common::*;

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
