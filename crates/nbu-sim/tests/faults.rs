//! Fault injection: scheduled faults, hangs, resets, reshaped pages, hostile values and vendor
//! error bodies.

use std::time::{Duration, Instant};

use nbu_sim::*;
use reqwest::header::{ACCEPT, AUTHORIZATION, HOST};
use serde_json::Value;

mod common;
use common::*;

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
async fn fresh_cursor_serves_the_first_page_under_a_new_cursor_every_time() {
    let sim = Simulator::start(config(100), local()).await.expect("start");
    sim.set_fault(FaultTarget::Jobs, Fault::FreshCursor, None);
    let page = |after: Option<String>| {
        let path = match after {
            Some(a) => format!("/admin/jobs?page[limit]=10&sort=jobId&page[after]={a}"),
            None => "/admin/jobs?page[limit]=10&sort=jobId".to_owned(),
        };
        let sim = &sim;
        async move { get(sim, &path).await.json() }
    };
    let mut cursors = std::collections::HashSet::new();
    let mut after = None;
    for _ in 0..5 {
        let doc = page(after.clone()).await;
        assert_eq!(doc["data"].as_array().map(Vec::len), Some(10));
        assert_eq!(
            doc["data"][0]["attributes"]["jobId"], 1,
            "the first page again"
        );
        let next = doc["meta"]["pagination"]["next"]
            .as_str()
            .expect("next")
            .to_owned();
        assert!(cursors.insert(next.clone()), "cursor {next} sent twice");
        after = Some(next);
    }
    // Even past the last job.
    let doc = page(Some("100".to_owned())).await;
    assert_eq!(doc["meta"]["pagination"]["next"], "101");
    sim.shutdown().await;
}
