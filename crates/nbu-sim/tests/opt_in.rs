//! The opt-in endpoints over real HTTP: pagination to the end, filters, version gates, faults,
//! and the ground truth against a naive recount of the served pages.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use nbu_sim::*;

mod common;

const KEY: &str = "optin-key";
const DAY: Duration = Duration::from_secs(86_400);

async fn start(scale: u32) -> Simulator {
    let config = SimConfig {
        api_key: KEY.to_owned(),
        manual_clock: true,
        opt_in_scale: scale,
        ..SimConfig::reproducible(10)
    };
    Simulator::start(config, std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("simulator starts")
}

async fn fetch(sim: &Simulator, version: ApiVersion, path_and_query: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path_and_query}", sim.base_url()))
        .header("Authorization", KEY)
        .header("Accept", version.media_type())
        .send()
        .await
        .expect("response");
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Every item of an offset endpoint, following `meta.pagination.next` (or, without `meta`,
/// until a short page); checks `count` when there is one.
async fn walk_offset(sim: &Simulator, v: ApiVersion, path: &str, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut offset = 0u64;
    let mut pages = 0;
    loop {
        let (status, doc) = fetch(
            sim,
            v,
            &format!("{path}?page%5Blimit%5D=100&page%5Boffset%5D={offset}{query}"),
        )
        .await;
        assert_eq!(status, 200, "{path} {doc}");
        let data = doc["data"].as_array().expect("data").clone();
        let short = data.len() < 100;
        items.extend(data);
        pages += 1;
        assert!(pages < 1000, "{path} never ends");
        match doc.get("meta") {
            Some(meta) => {
                let pagination = &meta["pagination"];
                assert_eq!(pagination["offset"], offset);
                match pagination["next"].as_u64() {
                    Some(next) => offset = next,
                    None => {
                        assert_eq!(pagination["count"].as_u64(), Some(items.len() as u64));
                        break;
                    }
                }
            }
            None if short => break,
            None => offset += 100,
        }
    }
    items
}

/// Every item of a cursor endpoint, following `meta.pagination.next` into `page[after]`.
async fn walk_cursor(sim: &Simulator, v: ApiVersion, path: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let cursor = after
            .as_deref()
            .map(|a| format!("&page%5Bafter%5D={}", enc(a)))
            .unwrap_or_default();
        let (status, doc) = fetch(sim, v, &format!("{path}?page%5Blimit%5D=100{cursor}")).await;
        assert_eq!(status, 200, "{path} {doc}");
        assert!(doc["meta"]["pagination"].get("count").is_none());
        items.extend(doc["data"].as_array().expect("data").iter().cloned());
        pages += 1;
        assert!(pages < 1000, "{path} never ends");
        match doc["meta"]["pagination"]["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    (items, pages)
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn add(counts: &mut BTreeMap<SeriesKey, f64>, family: &str, labels: &[(&str, String)], v: f64) {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    labels.sort();
    *counts.entry((family.to_owned(), labels)).or_insert(0.0) += v;
}

fn assert_unique(items: &[Value], path: &str) {
    let ids: BTreeSet<String> = items.iter().map(|i| text(&i["id"])).collect();
    assert_eq!(ids.len(), items.len(), "{path}: every item once");
}

/// The opt-in families recounted by hand from the pages an agent would fetch.
async fn recount(sim: &Simulator, v: ApiVersion) -> BTreeMap<SeriesKey, f64> {
    let now = sim.now();
    let mut counts = BTreeMap::new();
    let since = iso(now - chrono::Duration::days(1));
    let filter = enc(&format!("createdDateTime ge {since}"));
    let alerts = walk_offset(sim, v, "/manage/alerts", &format!("&filter={filter}")).await;
    for a in &alerts {
        let at = &a["attributes"];
        let labels = [
            ("severity", text(&at["severity"])),
            ("category", text(&at["category"])),
        ];
        add(&mut counts, "nbu_alerts_count", &labels, 1.0);
    }
    let scans = walk_offset(sim, v, "/malware/latest-scan-results", "").await;
    assert_unique(&scans, "scans");
    let impacted = if v < ApiVersion::V12_0 {
        "noOfFilesImpacted"
    } else {
        "numberOfFilesImpacted"
    };
    add(&mut counts, "nbu_malware_files_scanned", &[], 0.0);
    add(&mut counts, "nbu_malware_files_infected", &[], 0.0);
    for s in &scans {
        let at = &s["attributes"];
        let scanned = at["numberOfFilesScanned"].as_f64().expect("scanned");
        add(&mut counts, "nbu_malware_files_scanned", &[], scanned);
        let infected = at[impacted].as_f64().expect("impacted");
        add(&mut counts, "nbu_malware_files_infected", &[], infected);
        let status = [("status", text(&at["scanState"]))];
        add(&mut counts, "nbu_malware_scan_count", &status, 1.0);
    }
    if v >= ApiVersion::V13_0 {
        let window = format!(
            "backupTime ge {} and backupTime le {}",
            iso(now - chrono::Duration::days(1)),
            iso(now)
        );
        for m in ["CLEAN", "INFECTION_DETECTED_BY_MALWARE_SCAN", "NOT_SCANNED"] {
            for a in ["ANOMALOUS", "NOT_ANOMALOUS", "NOT_PROCESSED"] {
                let filter =
                    format!("{window} and malwareStatus eq '{m}' and anomalyStatus eq '{a}'");
                let path = format!("/catalog/images?page%5Blimit%5D=1&filter={}", enc(&filter));
                let (status, doc) = fetch(sim, v, &path).await;
                assert_eq!(status, 200, "{doc}");
                let count = doc["meta"]["pagination"]["count"].as_f64().expect("count");
                let labels = [
                    ("malware_status", m.to_owned()),
                    ("anomaly_status", a.to_owned()),
                ];
                add(&mut counts, "nbu_catalog_images_count", &labels, count);
            }
        }
    }
    if v >= ApiVersion::V13_0 {
        let slos = walk_offset(sim, v, "/servicecatalog/slos", "").await;
        assert_unique(&slos, "slos");
        add(&mut counts, "nbu_slo_count", &[], slos.len() as f64);
    }
    let drives = walk_offset(sim, v, "/storage/drives", "").await;
    assert_unique(&drives, "drives");
    for d in &drives {
        let at = &d["attributes"];
        let (kind, robot, status) = (
            text(&at["driveType"]),
            text(&at["robotType"]),
            text(&at["driveStatus"]),
        );
        let labels = [
            ("drive_type", kind.clone()),
            ("robot_type", robot),
            ("status", status.clone()),
        ];
        add(&mut counts, "nbu_tape_drives_count", &labels, 1.0);
        let info = [
            ("drive_name", text(&d["id"])),
            ("media_server", text(&at["deviceHost"])),
            ("drive_type", kind),
            ("robot_number", text(&at["robotNumber"])),
            ("status", status),
        ];
        add(&mut counts, "nbu_tape_drive_info", &info, 1.0);
    }
    if v >= ApiVersion::V12_0 {
        let (media, pages) = walk_cursor(sim, v, "/storage/tape-media").await;
        assert!(pages >= 3, "tape media take several pages: {pages}");
        assert_unique(&media, "media");
        for m in &media {
            let at = &m["attributes"];
            let labels = [
                ("pool", text(&at["volumePool"])),
                ("media_type", text(&at["mediaType"])),
                ("robot_type", text(&at["robot"]["robotType"])),
            ];
            add(&mut counts, "nbu_tape_media_count", &labels, 1.0);
        }
        let (status, hosts) = fetch(sim, v, "/storage/robots-device-hosts").await;
        assert_eq!(status, 200);
        let hosts = hosts["data"].as_array().expect("hosts").len();
        add(
            &mut counts,
            "nbu_tape_robot_device_hosts",
            &[],
            hosts as f64,
        );
        let (pools, _) = walk_cursor(sim, v, "/storage/tape-volume-pools").await;
        for p in &pools {
            let at = &p["attributes"];
            let labels = [
                ("pool_name", text(&at["volumePoolName"])),
                ("pool_type", text(&at["poolType"])),
            ];
            let value = at["partiallyFullMedia"].as_f64().expect("number");
            add(&mut counts, "nbu_tape_pool_partially_full", &labels, value);
        }
    }
    let disk_pools = walk_offset(sim, v, "/storage/disk-pools", "").await;
    assert_unique(&disk_pools, "disk pools");
    for p in &disk_pools {
        let at = &p["attributes"];
        for volume in at["diskVolumes"].as_array().expect("volumes") {
            let labels = [
                ("pool_name", text(&at["name"])),
                ("storage_category", text(&at["storageCategory"])),
                ("state", text(&volume["state"])),
            ];
            add(&mut counts, "nbu_disk_pool_volume_count", &labels, 1.0);
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truth_equals_a_recount_of_the_served_pages_in_every_version() {
    let sim = start(1).await;
    for v in ApiVersion::NEWEST_FIRST {
        let truth = sim.opt_in_truth(v, sim.now(), DAY, DAY);
        let counted = recount(&sim, v).await;
        assert_eq!(truth.series, counted, "API {}", v.as_str());
        let families = truth.families();
        assert_eq!(families.contains("nbu_slo_count"), v >= ApiVersion::V13_0);
        assert_eq!(
            families.contains("nbu_tape_media_count"),
            v >= ApiVersion::V12_0
        );
        assert_eq!(
            families.contains("nbu_catalog_images_count"),
            v >= ApiVersion::V13_0
        );
        assert!(families.contains("nbu_tape_drive_info") && families.contains("nbu_alerts_count"));
    }
    let truth = sim.opt_in_truth(ApiVersion::V13_0, sim.now(), DAY, DAY);
    let pairs = truth.family("nbu_catalog_images_count");
    assert_eq!(pairs.len(), 9);
    assert!(
        pairs.values().all(|v| *v >= 1.0),
        "every pair in the last day: {pairs:?}"
    );
    assert_eq!(
        truth.get(
            "nbu_tape_pool_partially_full",
            &[
                ("pool_type", "SCRATCH_MEDIA_POOL"),
                ("pool_name", "Scratch")
            ]
        ),
        truth.get(
            "nbu_tape_pool_partially_full",
            &[
                ("pool_name", "Scratch"),
                ("pool_type", "SCRATCH_MEDIA_POOL")
            ]
        )
    );
    let all_alerts = sim.opt_in_truth(v13(), sim.now(), 10 * DAY, DAY);
    let day: f64 = truth.family("nbu_alerts_count").values().sum();
    let week: f64 = all_alerts.family("nbu_alerts_count").values().sum();
    assert!(
        day > 0.0 && day < week,
        "a day holds only some alerts: {day} of {week}"
    );
    sim.shutdown().await;
}

fn v13() -> ApiVersion {
    ApiVersion::V13_0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_without_an_endpoint_answer_404() {
    let sim = start(1).await;
    let missing = [
        (ApiVersion::V10_0, "/servicecatalog/slos"),
        (ApiVersion::V12_0, "/servicecatalog/slos"),
        (ApiVersion::V10_0, "/storage/tape-media"),
        (ApiVersion::V10_0, "/storage/robots-device-hosts"),
        (ApiVersion::V10_0, "/storage/tape-volume-pools"),
    ];
    for (v, path) in missing {
        let (status, doc) = fetch(&sim, v, path).await;
        assert_eq!(
            (status, doc["errorCode"].as_u64()),
            (404, Some(404)),
            "{path}"
        );
    }
    for v in ApiVersion::NEWEST_FIRST {
        for endpoint in OptInEndpoint::ALL {
            let (status, _) = fetch(&sim, v, endpoint.path()).await;
            let expected = if endpoint.available(v) { 200 } else { 404 };
            assert_eq!(status, expected, "{} {}", v.as_str(), endpoint.path());
        }
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_sorts_and_limits() {
    let sim = start(1).await;
    let v = ApiVersion::V14_0;
    let (_, doc) = fetch(&sim, v, "/manage/alerts?sort=alertId&page%5Blimit%5D=50").await;
    let ids: Vec<u64> = doc["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|a| text(&a["id"]).parse().expect("numeric id"))
        .collect();
    assert_eq!(ids, (1..=50).collect::<Vec<u64>>());
    let (_, doc) = fetch(&sim, v, "/manage/alerts").await;
    let times: Vec<String> = doc["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|a| text(&a["attributes"]["createdDateTime"]))
        .collect();
    assert_eq!(times.len(), 10, "default limit");
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(times.iter().all(|t| t.len() == 24 && t.ends_with('Z')));
    let now = sim.now();
    let from = now - chrono::Duration::hours(30);
    let to = now - chrono::Duration::hours(6);
    let filter = enc(&format!(
        "createdDateTime gt {} and createdDateTime lt {}",
        iso(from),
        iso(to)
    ));
    let window = walk_offset(&sim, v, "/manage/alerts", &format!("&filter={filter}")).await;
    assert!(!window.is_empty());
    for a in &window {
        let t: DateTime<Utc> = text(&a["attributes"]["createdDateTime"])
            .parse()
            .expect("time");
        assert!(t > from && t < to);
    }
    // Catalog: the server's default window is the last 24 hours by the simulator's clock.
    let (_, doc) = fetch(&sim, v, "/catalog/images?page%5Blimit%5D=1").await;
    let default_count = doc["meta"]["pagination"]["count"].as_u64().expect("count");
    let explicit = enc(&format!(
        "backupTime ge {} and backupTime le {}",
        iso(now - chrono::Duration::days(1)),
        iso(now)
    ));
    let (_, doc) = fetch(
        &sim,
        v,
        &format!("/catalog/images?page%5Blimit%5D=1&filter={explicit}"),
    )
    .await;
    assert_eq!(
        doc["meta"]["pagination"]["count"].as_u64(),
        Some(default_count)
    );
    let wide = enc(&format!(
        "backupTime ge {} and backupTime le {}",
        iso(now - chrono::Duration::days(10)),
        iso(now)
    ));
    let (_, doc) = fetch(
        &sim,
        v,
        &format!("/catalog/images?page%5Blimit%5D=1&filter={wide}"),
    )
    .await;
    let all = doc["meta"]["pagination"]["count"].as_u64().expect("count");
    assert!(
        default_count > 0 && default_count < all,
        "{default_count} of {all}"
    );
    sim.clock().advance(chrono::Duration::days(3));
    let (_, doc) = fetch(&sim, v, "/catalog/images?page%5Blimit%5D=1").await;
    assert!(
        doc["meta"]["pagination"]["count"].as_u64() < Some(default_count),
        "the window follows the clock"
    );
    // Version-gated filters and bad parameters are 400.
    let malware = enc("malwareStatus eq 'CLEAN'");
    let anomaly = enc("anomalyStatus eq 'ANOMALOUS'");
    for (version, query, expected) in [
        (
            ApiVersion::V12_0,
            format!("/catalog/images?filter={malware}"),
            400,
        ),
        (
            ApiVersion::V13_0,
            format!("/catalog/images?filter={malware}"),
            200,
        ),
        (
            ApiVersion::V10_0,
            format!("/catalog/images?filter={anomaly}"),
            400,
        ),
        (
            ApiVersion::V12_0,
            format!("/catalog/images?filter={anomaly}"),
            200,
        ),
        (v, "/catalog/images?page%5Blimit%5D=0".to_owned(), 400),
        (v, "/catalog/images?page%5Blimit%5D=101".to_owned(), 400),
        (
            v,
            "/malware/latest-scan-results?page%5Blimit%5D=101".to_owned(),
            400,
        ),
        (v, "/storage/disk-pools?page%5Blimit%5D=500".to_owned(), 200),
        (v, "/storage/disk-pools?page%5Blimit%5D=501".to_owned(), 400),
        (
            v,
            "/storage/tape-media?page%5Bafter%5D=nope".to_owned(),
            400,
        ),
        (v, "/manage/alerts?sort=severity".to_owned(), 400),
        (v, "/storage/drives?filter=x".to_owned(), 400),
        (v, "/storage/drives?sort=id".to_owned(), 200),
        (v, "/storage/drives?sort=driveType".to_owned(), 400),
        (v, "/storage/disk-pools?sort=name".to_owned(), 200),
        (v, "/storage/tape-media?sort=-mediaId".to_owned(), 200),
        (
            v,
            "/storage/tape-volume-pools?sort=poolNumber".to_owned(),
            200,
        ),
    ] {
        let (status, doc) = fetch(&sim, version, &query).await;
        assert_eq!(status, expected, "{} {query}: {doc}", version.as_str());
    }
    let (_, up) = fetch(&sim, v, "/storage/drives?sort=id&page%5Blimit%5D=100").await;
    let (_, down) = fetch(&sim, v, "/storage/drives?sort=-id&page%5Blimit%5D=100").await;
    let first = |doc: &Value| text(&doc["data"][0]["id"]);
    assert!(first(&up) < first(&down), "-id reverses the order");
    // SLOs answer only `data`; malware 10.0 uses its own field and states.
    let (_, doc) = fetch(&sim, ApiVersion::V13_0, "/servicecatalog/slos").await;
    assert_eq!(doc.as_object().map(|o| o.len()), Some(1));
    assert_eq!(doc["data"].as_array().map(Vec::len), Some(10));
    let scans = walk_offset(&sim, ApiVersion::V10_0, "/malware/latest-scan-results", "").await;
    let states: BTreeSet<String> = scans
        .iter()
        .map(|s| text(&s["attributes"]["scanState"]))
        .collect();
    assert!(!states.contains("SCAN_STARTED") && !states.contains("CANCELLATION_INITIATED"));
    assert!(
        scans
            .iter()
            .all(|s| s["attributes"].get("noOfFilesImpacted").is_some())
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_target_one_opt_in_endpoint() {
    let sim = start(1).await;
    let v = ApiVersion::V13_0;
    let fault = Fault::Status {
        code: 500,
        retry_after: None,
        body: None,
    };
    sim.set_fault(FaultTarget::OptIn(OptInEndpoint::Drives), fault, Some(1));
    assert_eq!(fetch(&sim, v, "/storage/disk-pools").await.0, 200);
    assert_eq!(fetch(&sim, v, "/storage/drives").await.0, 500);
    assert_eq!(fetch(&sim, v, "/storage/drives").await.0, 200);
    sim.set_fault(
        FaultTarget::OptIn(OptInEndpoint::TapeVolumePools),
        Fault::HostileValues,
        None,
    );
    let (status, doc) = fetch(&sim, v, "/storage/tape-volume-pools?page%5Blimit%5D=8").await;
    assert_eq!(status, 200);
    let pools = doc["data"].as_array().expect("data");
    assert!(
        pools
            .iter()
            .any(|p| text(&p["attributes"]["volumePoolName"]).len() > 1024)
    );
    assert!(pools.iter().any(|p| {
        let value = &p["attributes"]["partiallyFullMedia"];
        value.is_string() || value.as_i64().is_some_and(|n| n < 0)
    }));
    sim.clear_faults();
    let (_, doc) = fetch(&sim, v, "/storage/tape-volume-pools?page%5Blimit%5D=8").await;
    assert!(
        doc["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|p| p["attributes"]["partiallyFullMedia"].is_u64())
    );
    sim.set_fault(
        FaultTarget::OptIn(OptInEndpoint::Alerts),
        Fault::HtmlBody,
        Some(1),
    );
    let (status, doc) = fetch(&sim, v, "/manage/alerts").await;
    assert_eq!((status, doc), (200, Value::Null), "an HTML page, not JSON");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_zero_serves_empty_lists() {
    let sim = start(0).await;
    let (status, doc) = fetch(&sim, ApiVersion::V14_0, "/manage/alerts").await;
    assert_eq!(
        (status, doc["meta"]["pagination"]["count"].as_u64()),
        (200, Some(0))
    );
    let truth = sim.opt_in_truth(ApiVersion::V14_0, sim.now(), DAY, DAY);
    assert_eq!(truth.get("nbu_slo_count", &[]), Some(0.0));
    assert_eq!(truth.family("nbu_catalog_images_count").len(), 9);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_shaping_faults_apply_to_offset_and_cursor_pages() {
    let sim = start(1).await;
    let v = ApiVersion::V14_0;
    let alerts = FaultTarget::OptIn(OptInEndpoint::Alerts);
    sim.set_fault(alerts, Fault::RepeatCursor, Some(1));
    let (_, doc) = fetch(&sim, v, "/manage/alerts?page%5Boffset%5D=20").await;
    assert_eq!(
        doc["meta"]["pagination"]["next"], 20,
        "next repeats the offset"
    );
    sim.set_fault(alerts, Fault::HostileValues, Some(1));
    let (_, doc) = fetch(&sim, v, "/manage/alerts?page%5Blimit%5D=8").await;
    let data = doc["data"].as_array().expect("data");
    assert_eq!(data.len(), 8);
    assert!(
        data.iter()
            .any(|a| text(&a["attributes"]["severity"]).len() > 1024)
    );
    assert!(data.iter().any(|a| a["attributes"]["severity"].is_null()));
    let media = FaultTarget::OptIn(OptInEndpoint::TapeMedia);
    sim.set_fault(media, Fault::OversizedPage { items: 250 }, Some(1));
    let (_, doc) = fetch(&sim, v, "/storage/tape-media?page%5Blimit%5D=10").await;
    let first = doc["data"].as_array().expect("data").clone();
    assert_eq!(first.len(), 250);
    let next = text(&doc["meta"]["pagination"]["next"]);
    assert_eq!(
        next,
        text(&first[249]["id"]),
        "next follows the last item sent"
    );
    let path = format!("/storage/tape-media?page%5Blimit%5D=100&page%5Bafter%5D={next}");
    let (_, doc) = fetch(&sim, v, &path).await;
    let prev = text(&doc["meta"]["pagination"]["prev"]);
    let path = format!("/storage/tape-media?page%5Blimit%5D=10&page%5Bbefore%5D={prev}");
    let (_, back) = fetch(&sim, v, &path).await;
    let back = back["data"].as_array().expect("data");
    assert_eq!(
        text(&back[9]["id"]),
        next,
        "page[before] ends right before the cursor"
    );
    sim.set_fault(media, Fault::RepeatCursor, Some(1));
    let (_, doc) = fetch(
        &sim,
        v,
        &format!("/storage/tape-media?page%5Bafter%5D={next}"),
    )
    .await;
    assert_eq!(text(&doc["meta"]["pagination"]["next"]), next);
    sim.shutdown().await;
}
