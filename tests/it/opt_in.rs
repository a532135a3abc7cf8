//! Opt-in sources against the simulator over real HTTP.

use std::collections::BTreeMap;

use nbu_otel::collect::SiteCollector;
use nbu_otel::collect::sources::{CLIENT_LAST_SUCCESSFUL_BACKUP, CLIENTS_OVER_CAP};
use nbu_otel::config::SourceId;
use nbu_sim::{JobState, SimConfig, Simulator};

use crate::common::{anchor, load, site_yaml, start_sim};

const KEY: &str = "opt-in-key";

async fn sim() -> Simulator {
    start_sim(SimConfig {
        jobs: 3000,
        anchor: anchor(),
        api_key: KEY.to_owned(),
        ..SimConfig::default()
    })
    .await
}

/// The newest end (Unix seconds) of a successful finished backup of each client, read straight
/// from the simulator's dataset.
fn last_successful_backups(sim: &Simulator) -> BTreeMap<String, i64> {
    let now_ms = sim.now().timestamp_millis();
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for job in sim.dataset().jobs_at(now_ms) {
        let success = job.job_type == Some("BACKUP")
            && job.status == Some(0)
            && job.state == Some(JobState::Done);
        if let (true, Some(end)) = (success, job.end_ms) {
            let at = out.entry(job.client_name.to_owned()).or_insert(i64::MIN);
            *at = (*at).max(end.div_euclid(1000));
        }
    }
    out
}

/// A collector of `sim` with `sources`, reading the jobs that ended within `window`.
fn collector(sim: &Simulator, sources: &str, window: &str) -> SiteCollector {
    let yaml = format!(
        "sources:\n{sources}\nsites:\n{}",
        site_yaml(
            "opt",
            &sim.base_url(),
            &format!("      jobs_window: {window}")
        )
    );
    let site = load(&yaml, &[("NBU_KEY", KEY)]).sites.remove(0);
    SiteCollector::new(site).expect("collector")
}

fn narrow_queries(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with("/admin/jobs") && r.query.contains("clientName"))
        .count()
}

#[tokio::test]
async fn each_allowlisted_client_gets_its_last_successful_backup_from_one_query() {
    let sim = sim().await;
    let truth = last_successful_backups(&sim);
    let known: Vec<&String> = truth.keys().take(3).collect();
    assert_eq!(
        known.len(),
        3,
        "the dataset has clients with successful backups"
    );
    let allowlist: Vec<String> = known
        .iter()
        .map(|c| format!("\"{c}\""))
        .chain(["\"no-such-client\"".to_owned()])
        .collect();
    let c = collector(
        &sim,
        &format!(
            "  clients:\n    enabled: true\n    allowlist: [{}]",
            allowlist.join(", ")
        ),
        // No finished job in so short a window: every client is asked about.
        "1s",
    );
    let report = c.collect_all().await;
    let outcome = report
        .sources
        .get(&SourceId::Clients)
        .and_then(|o| o.as_ref())
        .expect("the clients source ran");
    let values = outcome
        .result
        .as_ref()
        .expect("the clients source succeeded");
    let got: BTreeMap<String, i64> = values
        .series(CLIENT_LAST_SUCCESSFUL_BACKUP.name)
        .map(|(labels, v)| (labels[0].1.clone(), v as i64))
        .collect();
    let expected: BTreeMap<String, i64> = known.iter().map(|c| ((*c).clone(), truth[*c])).collect();
    assert_eq!(
        got, expected,
        "no series for a client NetBackup never backed up"
    );
    assert_eq!(
        narrow_queries(&sim),
        4,
        "one query per client named in the allowlist"
    );
}

#[tokio::test]
async fn clients_beyond_the_cap_are_counted_not_asked_about() {
    let sim = sim().await;
    let truth = last_successful_backups(&sim);
    let names: Vec<String> = truth.keys().take(5).map(|c| format!("\"{c}\"")).collect();
    assert_eq!(names.len(), 5);
    let c = collector(
        &sim,
        &format!(
            "  clients:\n    enabled: true\n    max_clients: 2\n    allowlist: [{}]",
            names.join(", ")
        ),
        "1s",
    );
    let report = c.collect_all().await;
    let values = report.sources[&SourceId::Clients]
        .as_ref()
        .and_then(|o| o.result.as_ref().ok())
        .expect("the clients source succeeded");
    let over: Vec<f64> = values
        .series(CLIENTS_OVER_CAP.name)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(over, [3.0]);
    let covered: Vec<String> = values
        .series(CLIENT_LAST_SUCCESSFUL_BACKUP.name)
        .map(|(l, _)| l[0].1.clone())
        .collect();
    let first_two: Vec<String> = truth.keys().take(2).cloned().collect();
    assert_eq!(covered, first_two, "the first clients by name");
    assert_eq!(narrow_queries(&sim), 2);
}

mod against_the_truth {
    //! Every opt-in family on the bridge and over OTLP equals the simulator's ground truth,
    //! computed from its dataset (not through the agent's code), for each API version.

    use std::time::Duration;

    use nbu_otel::netbackup::ApiVersion;
    use nbu_sim::{Fault, FaultTarget, OptInEndpoint, SimConfig, Simulator};

    use crate::common::otlp::Receiver;
    use crate::common::{load, sim_version, site_yaml, start_sim, wait_for};
    use crate::pipeline::Running;
    use crate::prometheus::{Exposition, scrape};
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;

    const KEY: &str = "opt-in-truth-key";

    /// The opt-in families and the sources they come from.
    const FAMILIES: &[(&str, &str)] = &[
        ("nbu_alerts_count", "alerts"),
        ("nbu_malware_files_scanned", "malware"),
        ("nbu_malware_files_infected", "malware"),
        ("nbu_malware_scan_count", "malware"),
        ("nbu_catalog_images_count", "catalog"),
        ("nbu_slo_count", "slo"),
        ("nbu_tape_drives_count", "tape"),
        ("nbu_tape_drive_info", "tape"),
        ("nbu_tape_media_count", "tape"),
        ("nbu_tape_robot_device_hosts", "tape"),
        ("nbu_tape_pool_partially_full", "tape"),
        ("nbu_disk_pool_volume_count", "tape"),
    ];

    async fn running(sim: &Simulator, receiver: &Receiver) -> Running {
        let yaml = format!(
            "sources:\n  alerts: {{ enabled: true, interval: 10s }}\n  malware: {{ enabled: true, interval: 10s }}\n  \
             catalog: {{ enabled: true, interval: 10s }}\n  slo: {{ enabled: true, interval: 10s }}\n  \
             tape: {{ enabled: true, interval: 10s }}\n\
             sites:\n{}server:\n  listen: \"127.0.0.1:0\"\n  prometheus_bridge: true\notlp:\n  endpoint: {}\n  export_interval: 1s\n  timeout: 1s\n",
            site_yaml(
                "alpha",
                &sim.base_url(),
                "      jobs_window: 72h\n      jobs_interval: 1s\n      request_timeout: 900ms\n      storage_page_size: 7\n"
            ),
            receiver.endpoint()
        );
        Running::start_with(load(&yaml, &[("NBU_KEY", KEY)])).await
    }

    /// The sources `version` has endpoints for.
    fn supported(version: ApiVersion) -> Vec<&'static str> {
        let mut out = vec!["alerts", "malware", "tape"];
        if version >= ApiVersion::V13_0 {
            out.extend(["catalog", "slo"]);
        }
        out
    }

    /// The opt-in families of the latest OTLP export: Prometheus name -> series.
    fn otlp_families(receiver: &Receiver) -> Exposition {
        receiver.with(|r| {
            let mut out = Exposition::new();
            let Some(last) = r.metrics.last() else {
                return out;
            };
            for metric in last
                .resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
            {
                let name = metric.name.replace('.', "_");
                if !FAMILIES.iter().any(|(f, _)| *f == name) {
                    continue;
                }
                let Some(Data::Gauge(gauge)) = &metric.data else {
                    continue;
                };
                for dp in &gauge.data_points {
                    let mut labels = crate::common::otlp::sorted_labels(&dp.attributes);
                    labels.retain(|(k, _)| k != "site");
                    let value = crate::common::otlp::number(&dp.value);
                    out.entry(name.clone()).or_default().insert(labels, value);
                }
            }
            out
        })
    }

    fn without_site(families: &Exposition) -> Exposition {
        families
            .iter()
            .filter(|(name, _)| FAMILIES.iter().any(|(f, _)| f == name))
            .map(|(name, series)| {
                let series = series
                    .iter()
                    .map(|(labels, v)| {
                        let labels = labels
                            .iter()
                            .filter(|(k, _)| k != "site")
                            .cloned()
                            .collect();
                        (labels, *v)
                    })
                    .collect();
                (name.clone(), series)
            })
            .collect()
    }

    async fn check(version: ApiVersion) {
        let sim = start_sim(SimConfig {
            api_key: KEY.into(),
            jobs: 200,
            supported_versions: vec![sim_version(version)],
            ..SimConfig::default()
        })
        .await;
        let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
        let running = running(&sim, &receiver).await;
        let sources = supported(version);
        let bridge = wait_for(
            "every supported opt-in source collected",
            Duration::from_secs(60),
            || async {
                let families = scrape(&running.metrics_url).await;
                let stale = families.get("nbu_source_stale")?;
                let current = sources.iter().all(|s| {
                    stale
                        .iter()
                        .any(|(k, v)| *v == 0.0 && k.iter().any(|(a, b)| a == "source" && b == s))
                });
                current.then_some(families)
            },
        )
        .await;
        // The windows end at NetBackup's clock, a little after the anchor: the simulator
        // keeps its data clear of the window edges.
        let truth = sim.opt_in_truth(
            sim_version(version),
            sim.now(),
            Duration::from_secs(24 * 3600),
            Duration::from_secs(24 * 3600),
        );
        let bridge = without_site(&bridge);
        let otlp = wait_for(
            "an export with the opt-in families",
            Duration::from_secs(30),
            || async {
                let otlp = otlp_families(&receiver);
                (otlp.len() == bridge.len()).then_some(otlp)
            },
        )
        .await;
        // Tape media, robot hosts and volume pools have no endpoint before 12.0.
        let tape_media = version >= ApiVersion::V12_0;
        for (family, source) in FAMILIES {
            let expected = truth.family(family);
            let lacks_endpoint = !tape_media
                && matches!(
                    *family,
                    "nbu_tape_media_count"
                        | "nbu_tape_robot_device_hosts"
                        | "nbu_tape_pool_partially_full"
                );
            if !sources.contains(source) || lacks_endpoint {
                assert!(
                    expected.is_empty(),
                    "{family}: truth for an unsupported version"
                );
                assert!(
                    !bridge.contains_key(*family),
                    "{family} served on API {version}"
                );
                continue;
            }
            assert!(
                !expected.is_empty(),
                "{family}: the simulator has no data on API {version}"
            );
            assert_eq!(
                bridge.get(*family),
                Some(&expected),
                "{family} on the bridge, API {version}"
            );
            assert_eq!(
                otlp.get(*family),
                Some(&expected),
                "{family} over OTLP, API {version}"
            );
        }
        // Unsupported sources are said so, and have no staleness.
        for source in ["catalog", "slo"].iter().filter(|s| !sources.contains(s)) {
            let families = scrape(&running.metrics_url).await;
            let unsupported = crate::prometheus::value(
                &families,
                "nbu_source_unsupported",
                &[("source", source)],
            );
            assert_eq!(unsupported, Some(1.0), "{source} on API {version}");
            assert_eq!(
                crate::prometheus::value(&families, "nbu_source_stale", &[("source", source)]),
                None
            );
        }
        running.stop().await;
        receiver.stop().await;
        sim.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_source_leaves_the_others_and_nbu_up_alone() {
        let sim = start_sim(SimConfig {
            api_key: KEY.into(),
            jobs: 200,
            ..SimConfig::default()
        })
        .await;
        sim.set_fault(
            FaultTarget::OptIn(OptInEndpoint::Alerts),
            Fault::Status {
                code: 500,
                retry_after: None,
                body: None,
            },
            None,
        );
        let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
        let running = running(&sim, &receiver).await;
        let families = wait_for(
            "the other sources collected and the alerts failure counted",
            Duration::from_secs(60),
            || async {
                let f = scrape(&running.metrics_url).await;
                let v = |name: &str, labels: &[(&str, &str)]| {
                    crate::prometheus::value(&f, name, labels)
                };
                let others_current = ["malware", "catalog", "slo", "tape"]
                    .iter()
                    .all(|s| v("nbu_source_stale", &[("source", s)]) == Some(0.0));
                let counted = v(
                    "nbu_collection_errors_total",
                    &[("source", "alerts"), ("kind", "server_status")],
                )
                .is_some_and(|n| n >= 1.0);
                (others_current && counted).then_some(f)
            },
        )
        .await;
        let v =
            |name: &str, labels: &[(&str, &str)]| crate::prometheus::value(&families, name, labels);
        assert_eq!(
            v("nbu_up", &[]),
            Some(1.0),
            "an opt-in source never takes the site down"
        );
        assert_eq!(v("nbu_source_stale", &[("source", "alerts")]), Some(1.0));
        assert!(!families.contains_key("nbu_alerts_count"));
        assert!(families.contains_key("nbu_tape_drives_count"));
        running.stop().await;
        receiver.stop().await;
        sim.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_api_13_every_family_equals_the_truth() {
        check(ApiVersion::V13_0).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_api_10_the_sources_it_lacks_are_skipped_and_the_rest_is_exact() {
        check(ApiVersion::V10_0).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_api_12_tape_media_and_pools_are_read_by_cursor() {
        check(ApiVersion::V12_0).await;
    }
}

/// Every job of the simulator as its HTTP API serves it, read page by page with a client of
/// the test's own: (clientName, policyName, jobType, status, state, endTime in ms).
async fn served_jobs(sim: &Simulator) -> Vec<(String, String, String, i64, String, Option<i64>)> {
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{}/admin/jobs?page[limit]=100&sort=jobId", sim.base_url());
        if let Some(a) = &after {
            url.push_str(&format!("&page[after]={a}"));
        }
        let page: serde_json::Value = client
            .get(&url)
            .header("Authorization", KEY)
            .header("Accept", "application/vnd.netbackup+json;version=14.0")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let data = page["data"].as_array().cloned().unwrap_or_default();
        for job in &data {
            let a = &job["attributes"];
            let text = |k: &str| a[k].as_str().unwrap_or("").to_owned();
            let end = a["endTime"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp_millis());
            out.push((
                text("clientName"),
                text("policyName"),
                text("jobType"),
                a["status"].as_i64().unwrap_or(-1),
                text("state"),
                end,
            ));
        }
        after = page["meta"]["pagination"]["next"]
            .as_str()
            .map(str::to_owned);
        if after.is_none() || data.is_empty() {
            return out;
        }
    }
}

#[tokio::test]
async fn the_job_store_gives_the_per_client_families_and_spares_their_queries() {
    let sim = sim().await;
    let jobs = served_jobs(&sim).await;
    let truth = last_successful_backups(&sim);
    let chosen: Vec<String> = truth.keys().take(3).cloned().collect();
    // The second client by a pattern: its name with the last character as `?`.
    let pattern = format!("{}?", &chosen[1][..chosen[1].len() - 1]);
    assert!(
        !truth.keys().any(|c| c != &chosen[1]
            && c.len() == chosen[1].len()
            && c.starts_with(&pattern[..pattern.len() - 1])),
        "the pattern matches one client"
    );
    let c = collector(
        &sim,
        &format!(
            "  clients:\n    enabled: true\n    allowlist: [\"{}\", \"{pattern}\", \"{}\"]",
            chosen[0], chosen[2]
        ),
        "366d",
    );
    let report = c.collect_all().await;
    let summary = report.jobs.result.as_ref().expect("jobs collected");

    // Ground truth from the served pages.
    let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let mut successes: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    for (client, policy, action, status, state, end) in &jobs {
        if !chosen.contains(client) || state != "DONE" {
            continue;
        }
        *counts
            .entry((client.clone(), action.clone(), status.to_string()))
            .or_default() += 1;
        if let (0, Some(end)) = (status, end) {
            let at = *end as f64 / 1000.0;
            let last = successes
                .entry((client.clone(), policy.clone(), action.clone()))
                .or_insert(at);
            *last = last.max(at);
        }
    }
    let got_counts: BTreeMap<(String, String, String), u64> = summary
        .client_jobs
        .iter()
        .map(|(k, v)| ((k.client.clone(), k.action.clone(), k.status.clone()), *v))
        .collect();
    assert_eq!(got_counts, counts);
    let got_successes: BTreeMap<(String, String, String), f64> = summary
        .client_last_success
        .iter()
        .map(|(k, v)| ((k.client.clone(), k.policy.clone(), k.action.clone()), *v))
        .collect();
    assert_eq!(got_successes, successes);

    // The window covers the three clients: no narrow query, values from the store.
    assert_eq!(narrow_queries(&sim), 0);
    let values = report.sources[&SourceId::Clients]
        .as_ref()
        .and_then(|o| o.result.as_ref().ok())
        .expect("the clients source succeeded");
    let last_backup: BTreeMap<String, i64> = values
        .series(CLIENT_LAST_SUCCESSFUL_BACKUP.name)
        .map(|(l, v)| (l[0].1.clone(), v as i64))
        .collect();
    let expected: BTreeMap<String, i64> = chosen.iter().map(|c| (c.clone(), truth[c])).collect();
    assert_eq!(last_backup, expected);
}

/// Series of one family without `site`: label values in `names` order -> value.
type Keyed = BTreeMap<Vec<String>, f64>;

fn keyed(series: &BTreeMap<Vec<(String, String)>, f64>, names: &[&str]) -> Keyed {
    series
        .iter()
        .map(|(labels, v)| {
            let values = names
                .iter()
                .map(|n| {
                    labels
                        .iter()
                        .find(|(k, _)| k == n)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                })
                .collect();
            (values, *v)
        })
        .collect()
}

/// The gauge `name` of the latest OTLP export holding it: label values in `names` order.
fn pushed(receiver: &crate::common::otlp::Receiver, name: &str, names: &[&str]) -> Keyed {
    use crate::common::otlp::{attr, latest_gauge, number};
    receiver.with(|r| {
        latest_gauge(&r.metrics, name)
            .map(|g| {
                g.data_points
                    .iter()
                    .map(|dp| {
                        let values = names
                            .iter()
                            .map(|n| attr(&dp.attributes, n).unwrap_or_default())
                            .collect();
                        (values, number(&dp.value))
                    })
                    .collect()
            })
            .unwrap_or_default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_client_families_on_the_bridge_and_over_otlp_equal_a_recount_of_the_served_jobs() {
    let sim = sim().await;
    let jobs = served_jobs(&sim).await;
    let truth = last_successful_backups(&sim);
    let chosen: Vec<String> = truth.keys().take(4).cloned().collect();
    let receiver = crate::common::otlp::Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let allowlist: Vec<String> = chosen.iter().map(|c| format!("\"{c}\"")).collect();
    let yaml = format!(
        "sources:\n  clients:\n    enabled: true\n    interval: 10s\n    allowlist: [{}]\nsites:\n{}server:\n  listen: \"127.0.0.1:0\"\n  prometheus_bridge: true\notlp:\n  endpoint: {}\n  export_interval: 1s\n  timeout: 1s\n",
        allowlist.join(", "),
        site_yaml(
            "alpha",
            &sim.base_url(),
            "      jobs_window: 366d\n      jobs_interval: 1s\n      request_timeout: 900ms\n"
        ),
        receiver.endpoint()
    );
    let running = crate::pipeline::Running::start_with(load(&yaml, &[("NBU_KEY", KEY)])).await;

    // The recount, from the served pages.
    let mut counts = Keyed::new();
    let mut successes = Keyed::new();
    for (client, policy, action, status, state, end) in &jobs {
        if !chosen.contains(client) || state != "DONE" {
            continue;
        }
        *counts
            .entry(vec![client.clone(), action.clone(), status.to_string()])
            .or_default() += 1.0;
        if let (0, Some(end)) = (status, end) {
            let at = *end as f64 / 1000.0;
            let last = successes
                .entry(vec![client.clone(), policy.clone(), action.clone()])
                .or_insert(at);
            *last = last.max(at);
        }
    }
    let job_labels = ["client", "action", "status"];
    let success_labels = ["client", "policy", "action"];
    let bridge = crate::common::wait_for(
        "the per-client families on the bridge",
        std::time::Duration::from_secs(60),
        || async {
            let f = crate::prometheus::scrape(&running.metrics_url).await;
            let jobs = keyed(f.get("nbu_client_jobs_count")?, &job_labels);
            (jobs == counts).then_some(f)
        },
    )
    .await;
    let bridge_successes = keyed(
        &bridge["nbu_client_last_job_success_seconds"],
        &success_labels,
    );
    assert_eq!(bridge_successes, successes);
    crate::common::wait_for(
        "the per-client families over OTLP",
        std::time::Duration::from_secs(30),
        || async {
            let jobs = pushed(&receiver, "nbu.client_jobs_count", &job_labels);
            let last = pushed(
                &receiver,
                "nbu.client_last_job_success_seconds",
                &success_labels,
            );
            (jobs == counts && last == successes).then_some(())
        },
    )
    .await;
    running.stop().await;
    receiver.stop().await;
    sim.shutdown().await;
}
