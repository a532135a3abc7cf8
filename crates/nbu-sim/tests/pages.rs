//! Jobs and storage-unit pages: pagination, filters, the ground truth of a walk, and
//! reproducibility.

use std::collections::{BTreeSet, HashSet};

use chrono::Utc;
use nbu_sim::*;
use serde_json::Value;

mod common;
use common::*;

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
