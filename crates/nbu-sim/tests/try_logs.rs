//! `GET /admin/jobs/{jobId}/try-logs`: the vendor document, its agreement with the jobs page,
//! unknown jobs, faults aimed at it alone, a server without it, and the ground truth of the
//! finished jobs (static and live, after the clock moved).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use nbu_sim::*;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde_json::Value;

mod common;
use common::*;

const SEVERITIES: &[&str] = &["UNKNOWN", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

fn try_logs_path(job_id: u64) -> String {
    format!("/admin/jobs/{job_id}/try-logs")
}

/// The try logs of one job, over one client kept for many requests (a new client per request
/// costs more than the request).
async fn logs_of(client: &reqwest::Client, sim: &Simulator, job_id: u64) -> (u16, Value) {
    let response = client
        .get(format!("{}{}", sim.base_url(), try_logs_path(job_id)))
        .header(AUTHORIZATION, KEY_HEADER)
        .header(ACCEPT, ApiVersion::V14_0.media_type())
        .send()
        .await
        .expect("response");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if status == 200 {
        assert_eq!(
            content_type.as_deref(),
            Some(ApiVersion::V14_0.media_type())
        );
    }
    let body = response.json::<Value>().await.expect("JSON body");
    (status, body)
}

fn millis(text: &Value) -> i64 {
    text.as_str()
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|| panic!("a date-time: {text}"))
}

fn is_problem(line: &Value) -> bool {
    matches!(
        line.get("severity").and_then(Value::as_str),
        Some("WARNING" | "ERROR" | "CRITICAL")
    )
}

/// Checks a try-logs document against the 11.2 schema (`parsedTryLogResponse`, its required
/// attributes and their types); returns its elements.
fn validate(doc: &Value, job_id: u64) -> Vec<Value> {
    let data = doc["data"].as_array().expect("data is required").clone();
    assert!(!data.is_empty(), "{job_id}: no tries");
    for (k, item) in data.iter().enumerate() {
        let n = k as u64 + 1;
        assert_eq!(item["type"], "parsedTryLogResponse");
        assert_eq!(item["id"], format!("{job_id}-{n}"));
        assert_eq!(
            item["links"]["self"]["href"],
            format!("/admin/jobs/{job_id}/try-logs/{n}")
        );
        let a = &item["attributes"];
        assert_eq!(a["tryJobId"].as_u64(), Some(job_id));
        assert_eq!(a["tryNumber"].as_u64(), Some(n));
        let (start, end) = (millis(&a["tryStartTime"]), millis(&a["tryEndTime"]));
        assert!(start <= end, "{job_id}: {a}");
        assert!(a["tryStatusCode"].is_u64(), "{a}");
        assert!(a["tryStatusMessage"].is_string(), "{a}");
        for number in ["tryProcessId", "tryFilesWritten"] {
            assert!(a[number].is_u64(), "{number}: {a}");
        }
        for number in ["tryKbps", "tryKbWritten"] {
            assert!(a[number].is_number(), "{number}: {a}");
        }
        for text in [
            "tryMediaServer",
            "trySourceStorageUnit",
            "tryDestinationStorageUnit",
        ] {
            assert!(a[text].is_string(), "{text}: {a}");
        }
        let log = a["tryLog"].as_array().expect("tryLog is required");
        assert!(!log.is_empty());
        for line in log {
            assert!(line["message"].is_string(), "{line}");
            if let Some(severity) = line.get("severity") {
                assert!(
                    SEVERITIES.contains(&severity.as_str().unwrap_or("")),
                    "{line}"
                );
            }
            let at = millis(&line["timestamp"]);
            assert!(start <= at && at <= end, "{line}");
        }
    }
    data
}

#[tokio::test]
async fn try_logs_follow_the_schema_and_the_jobs_page() {
    let manual = SimConfig {
        manual_clock: true,
        ..config(400)
    };
    let sim = Simulator::start(manual, local()).await.expect("start");
    let (items, _) = walk(&sim, "", "jobId", 100).await;
    assert_eq!(items.len(), 400);
    let client = reqwest::Client::new();
    let (mut multi, mut failed, mut unfinished) = (0, 0, 0);
    for item in &items {
        let a = &item["attributes"];
        let id = a["jobId"].as_u64().expect("jobId");
        let (status, doc) = logs_of(&client, &sim, id).await;
        assert_eq!(status, 200, "{id}");
        let tries = validate(&doc, id);
        assert_eq!(Some(tries.len() as u64), a["try"].as_u64(), "{id}");
        multi += usize::from(tries.len() > 1);
        let last = &tries[tries.len() - 1]["attributes"];
        assert_eq!(last["tryProcessId"], a["activeProcessId"], "{id}");
        assert_eq!(last["tryStartTime"], a["activeTryStartTime"], "{id}");
        for t in &tries {
            let t = &t["attributes"];
            let dest_media = a["destinationMediaServerName"].as_str().unwrap_or("");
            if !dest_media.is_empty() {
                assert_eq!(t["tryMediaServer"], dest_media, "{id}");
            }
            assert_eq!(
                t["tryDestinationStorageUnit"], a["destinationStorageUnitName"],
                "{id}"
            );
            assert_eq!(
                t["trySourceStorageUnit"], a["sourceStorageUnitName"],
                "{id}"
            );
        }
        // Earlier tries failed: NetBackup retried them.
        for t in &tries[..tries.len() - 1] {
            assert_ne!(t["attributes"]["tryStatusCode"], 0, "{id}");
            let log = t["attributes"]["tryLog"].as_array().expect("tryLog");
            assert!(log.iter().any(is_problem), "{id}");
        }
        if a["state"] == "DONE" {
            assert_eq!(last["tryEndTime"], a["endTime"], "{id}");
            if let Some(status) = a.get("status") {
                assert_eq!(&last["tryStatusCode"], status, "{id}");
                if status != 0 {
                    failed += 1;
                    let log = last["tryLog"].as_array().expect("tryLog");
                    assert!(log.iter().any(is_problem), "{id}: {log:?}");
                    let message = last["tryStatusMessage"].as_str().unwrap_or("");
                    assert!(!message.is_empty());
                    let summary = log.last().and_then(|l| l["message"].as_str());
                    assert_eq!(summary, Some(format!("{message}  ({status})").as_str()));
                } else {
                    assert_eq!(
                        last["tryStatusMessage"],
                        "the requested operation was successfully completed"
                    );
                }
            }
        } else {
            unfinished += 1;
            assert_eq!(last["tryStatusCode"], 0, "{id}");
        }
    }
    assert!(
        multi > 10 && failed > 20 && unfinished > 20,
        "{multi} {failed} {unfinished}"
    );
    // The gate: API key, Accept, Date, request log.
    let path = try_logs_path(7);
    let no_key = fetch(&sim, &path, None, ApiVersion::V14_0.media_type()).await;
    assert_eq!(no_key.status, 401);
    let old = fetch(&sim, &path, Some(KEY_HEADER), "application/json").await;
    assert_eq!(old.status, 406);
    let reply = get(&sim, &path).await;
    assert_eq!(reply.date, Some(http_date(sim.config().anchor)));
    assert_eq!(get(&sim, &path).await.body, reply.body, "deterministic");
    let logged = sim.requests();
    assert!(
        logged
            .iter()
            .any(|r| r.path == format!("/netbackup{path}") && r.status == 200)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_jobs_are_404_with_the_vendor_body() {
    let sim = Simulator::start(config(50), local()).await.expect("start");
    for id in [0, 51, u64::MAX] {
        let reply = get(&sim, &try_logs_path(id)).await;
        assert_eq!(reply.status, 404, "{id}");
        assert_eq!(reply.content_type, ApiVersion::V14_0.media_type());
        let body = reply.json();
        assert_eq!(body["errorCode"], 404);
        assert!(body["errorMessage"].is_string());
        assert!(body["errorDetails"].is_array());
    }
    let reply = get(&sim, "/admin/jobs/abc/try-logs").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["errorCode"], 400);
    assert_eq!(get(&sim, &try_logs_path(50)).await.status, 200);
    sim.shutdown().await;

    // Live: a job that is not created yet, then created, then purged long after its end.
    let sim = Simulator::start(live(100, 60), local())
        .await
        .expect("start");
    assert_eq!(get(&sim, &try_logs_path(100)).await.status, 200);
    assert_eq!(get(&sim, &try_logs_path(101)).await.status, 404);
    sim.clock().advance(chrono::Duration::minutes(1));
    let created = get(&sim, &try_logs_path(101)).await;
    assert_eq!(created.status, 200);
    let first = &created.json()["data"][0]["attributes"];
    assert_eq!(first["tryStatusCode"], 0);
    assert_eq!(first["tryStatusMessage"], "");
    sim.clock().advance(chrono::Duration::days(10));
    let purged = get(&sim, &try_logs_path(1)).await;
    assert_eq!(purged.status, 404);
    assert_eq!(purged.json()["errorCode"], 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_aim_at_try_logs_alone() {
    let sim = Simulator::start(config(50), local()).await.expect("start");
    let (jobs, logs) = ("/admin/jobs?page[limit]=5", try_logs_path(3));
    let status = |code| Fault::Status {
        code,
        retry_after: None,
        body: None,
    };
    sim.set_fault(FaultTarget::TryLogs, status(500), None);
    for _ in 0..3 {
        assert_eq!(get(&sim, jobs).await.status, 200);
        let reply = get(&sim, &logs).await;
        assert_eq!(reply.status, 500);
        assert_eq!(reply.json()["errorCode"], 500);
    }
    sim.clear_faults();
    sim.set_fault(FaultTarget::TryLogs, status(404), Some(1));
    assert_eq!(get(&sim, &logs).await.status, 404);
    assert_eq!(get(&sim, &logs).await.status, 200);
    sim.set_fault(FaultTarget::Jobs, status(503), Some(1));
    assert_eq!(get(&sim, &logs).await.status, 200);
    assert_eq!(get(&sim, jobs).await.status, 503);
    sim.set_fault(FaultTarget::TryLogs, Fault::TruncatedJson, Some(1));
    let cut = get(&sim, &logs).await;
    assert_eq!(cut.status, 200);
    assert!(serde_json::from_slice::<Value>(&cut.body).is_err());

    // A timeout: the request hangs while the jobs walk goes on.
    sim.set_fault(FaultTarget::TryLogs, Fault::Hang, Some(1));
    let hung = reqwest::Client::new()
        .get(format!("{}{logs}", sim.base_url()))
        .header(AUTHORIZATION, KEY_HEADER)
        .header(ACCEPT, ApiVersion::V14_0.media_type())
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung.is_err_and(|e| e.is_timeout()));
    assert_eq!(get(&sim, jobs).await.status, 200);
    assert_eq!(get(&sim, &logs).await.status, 200);

    // A server without the endpoint.
    sim.set_try_logs_served(false);
    for id in [1, 3, 50, 51] {
        let reply = get(&sim, &try_logs_path(id)).await;
        assert_eq!(reply.status, 404, "{id}");
        assert_eq!(reply.json()["errorCode"], 404);
    }
    assert_eq!(get(&sim, jobs).await.status, 200);
    sim.set_try_logs_served(true);
    assert_eq!(get(&sim, &logs).await.status, 200);
    sim.shutdown().await;
}

/// Checks one truth entry against its jobs page item and its try logs.
fn agree(truth: &FinishedJobTruth, item: &Value, logs: &Value) {
    let a = &item["attributes"];
    let id = truth.job_id;
    let text = |name: &str| a.get(name).and_then(Value::as_str);
    assert_eq!(a["parentJobId"].as_u64(), Some(truth.parent_job_id), "{id}");
    assert_eq!(text("jobType"), truth.job_type, "{id}");
    assert_eq!(text("jobSubType"), Some(truth.sub_type), "{id}");
    assert_eq!(text("policyName"), Some(truth.policy_name.as_str()), "{id}");
    assert_eq!(text("policyType"), truth.policy_type, "{id}");
    assert_eq!(text("scheduleName"), Some(truth.schedule_name), "{id}");
    assert_eq!(text("clientName"), Some(truth.client_name.as_str()), "{id}");
    assert_eq!(
        a.get("status").and_then(Value::as_u64),
        truth.status.map(u64::from),
        "{id}"
    );
    assert_eq!(a["try"].as_u64(), Some(truth.tries), "{id}");
    assert_eq!(
        a.get("kilobytesTransferred").and_then(Value::as_u64),
        truth.kilobytes
    );
    assert_eq!(a.get("numberOfFiles").and_then(Value::as_u64), truth.files);
    assert_eq!(millis(&a["startTime"]), truth.start_ms, "{id}");
    assert_eq!(millis(&a["endTime"]), truth.end_ms, "{id}");
    assert_eq!(
        text("destinationStorageUnitName"),
        Some(truth.storage_unit.as_str())
    );
    let tries = validate(logs, id);
    assert_eq!(tries.len() as u64, truth.tries, "{id}");
    let last = &tries[tries.len() - 1]["attributes"];
    assert_eq!(
        last["tryStatusCode"].as_u64(),
        Some(u64::from(truth.try_status))
    );
    assert_eq!(last["tryStatusMessage"], truth.status_message, "{id}");
    assert_eq!(last["tryMediaServer"], truth.media_server, "{id}");
    assert_eq!(
        last["tryDestinationStorageUnit"],
        truth.storage_unit.as_str()
    );
    let problems: Vec<(i64, Option<&str>, &str)> = last["tryLog"]
        .as_array()
        .expect("tryLog")
        .iter()
        .filter(|line| is_problem(line))
        .map(|line| {
            (
                millis(&line["timestamp"]),
                line["severity"].as_str(),
                line["message"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let expected: Vec<(i64, Option<&str>, &str)> = truth
        .problems
        .iter()
        .map(|l| (l.timestamp_ms, l.severity, l.message.as_str()))
        .collect();
    assert_eq!(problems, expected, "{id}");
    assert_eq!(truth.failed(), !truth.problems.is_empty(), "{id}");
}

#[tokio::test]
async fn the_truth_agrees_with_the_pages_after_the_clock_moved() {
    let sim = Simulator::start(live(300, 5), local())
        .await
        .expect("start");
    let anchor = sim.config().anchor;
    let client = reqwest::Client::new();
    let mut failed = 0;
    let mut codes = BTreeMap::new();
    for hours in [3, 30] {
        sim.clock().set(anchor + chrono::Duration::hours(hours));
        let now = sim.now();
        let from = now - chrono::Duration::hours(2);
        let truth = sim.finished_jobs(from, now);
        let filter = format!(
            "state eq 'DONE' and endTime gt {} and endTime le {}",
            timestamp(from),
            timestamp(now)
        );
        let (items, _) = walk(&sim, &filter, "jobId", 100).await;
        assert_eq!(
            truth.iter().map(|t| t.job_id).collect::<Vec<_>>(),
            job_ids(&items),
            "{hours} h"
        );
        assert!(truth.len() > 300, "{hours} h: {}", truth.len());
        for (t, item) in truth.iter().zip(&items) {
            let (status, logs) = logs_of(&client, &sim, t.job_id).await;
            assert_eq!(status, 200);
            agree(t, item, &logs);
            failed += usize::from(t.failed());
            *codes.entry(t.try_status).or_insert(0) += 1;
        }
        // Nothing outside the range.
        assert!(
            truth
                .iter()
                .all(|t| t.end_ms > from.timestamp_millis() && t.end_ms <= now.timestamp_millis())
        );
    }
    assert!(failed > 50 && codes.len() > 8, "{failed} {codes:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_truth_of_a_static_dataset_covers_its_history() {
    let sim = Simulator::start(config(500), local()).await.expect("start");
    let anchor = sim.config().anchor;
    let from = anchor - chrono::Duration::hours(12);
    let truth = sim.finished_jobs(from, anchor);
    let filter = format!("state eq 'DONE' and endTime gt {}", timestamp(from));
    let (items, _) = walk(&sim, &filter, "jobId", 100).await;
    assert_eq!(
        truth.iter().map(|t| t.job_id).collect::<Vec<_>>(),
        job_ids(&items)
    );
    let client = reqwest::Client::new();
    for (t, item) in truth.iter().zip(&items) {
        let (status, logs) = logs_of(&client, &sim, t.job_id).await;
        assert_eq!(status, 200);
        agree(t, item, &logs);
    }
    let everything = sim.finished_jobs(anchor - chrono::Duration::days(30), anchor);
    let done = sim
        .dataset()
        .jobs()
        .filter(|j| j.state == Some(JobState::Done))
        .count();
    assert_eq!(everything.len(), done);
    assert!(sim.finished_jobs(anchor, anchor).is_empty());
    sim.shutdown().await;
}
