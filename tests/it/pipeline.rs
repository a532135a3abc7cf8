//! The OpenTelemetry pipeline end to end: simulator -> agent -> OTLP receiver and /metrics.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use nbu_otel::Agent;
use nbu_otel::collect::{SiteSnapshot, SourceData};
use nbu_otel::server;
use nbu_otel::telemetry::catalog::{CATALOG, Kind, Origin, Value};
use nbu_otel::telemetry::pipeline::Pipeline;
use nbu_sim::{SimConfig, Simulator};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;

use crate::common::otlp::{Receiver, attr};
use crate::common::{jobs_cycles, load, start_sim, wait_for};

/// The legacy label sets (besides `site`), from the drop-in contract.
pub const LEGACY_LABELS: &[(&str, &[&str])] = &[
    ("nbu_up", &[]),
    ("nbu_api_version", &["version"]),
    ("nbu_response_time_ms", &[]),
    ("nbu_last_scrape_timestamp_seconds", &["source"]),
    ("nbu_jobs_count", &["action", "policy_type", "status"]),
    ("nbu_jobs_bytes", &["action", "policy_type", "status"]),
    ("nbu_status_count", &["action", "status"]),
    ("nbu_jobs_state_count", &["action", "state"]),
    ("nbu_jobs_queued_count", &["action", "reason"]),
    ("nbu_jobs_files_count", &["action", "policy_type"]),
    ("nbu_jobs_dedup_ratio", &["action", "policy_type"]),
    ("nbu_job_duration_seconds", &["action", "policy_type"]),
    ("nbu_disk_bytes", &["name", "type", "size"]),
    ("nbu_disk_capacity_bytes", &["name", "type"]),
    ("nbu_storage_max_concurrent_jobs", &["name", "type"]),
    ("nbu_storage_max_fragment_size_bytes", &["name", "type"]),
    (
        "nbu_storage_info",
        &[
            "name",
            "type",
            "subtype",
            "is_cloud",
            "worm_capable",
            "use_worm",
            "replication_capable",
            "instant_access",
        ],
    ),
];

pub const KEY: &str = "k-pipeline-secret-42";

/// A running agent with its telemetry, reading `sim`, pushing to `otlp_endpoint`.
pub struct Running {
    pub agent: Agent,
    pub pipeline: Pipeline,
    pub metrics_url: String,
    pub readyz_url: String,
    stop_server: tokio::sync::oneshot::Sender<()>,
}

impl Running {
    pub async fn start(sim: &Simulator, otlp_endpoint: &str, export_interval: &str) -> Running {
        let yaml = format!(
            "sites:\n{}server:\n  listen: \"127.0.0.1:0\"\n  prometheus_bridge: true\notlp:\n  endpoint: {otlp_endpoint}\n  export_interval: {export_interval}\n  timeout: 1s\n",
            crate::common::site_yaml(
                "alpha",
                &sim.base_url(),
                "      jobs_window: 72h\n      jobs_interval: 1s\n      request_timeout: 900ms\n      storage_ttl: 1h\n"
            )
        );
        Running::start_with(load(&yaml, &[("NBU_KEY", KEY)])).await
    }

    /// Starts an agent, its telemetry and its HTTP server for `config`.
    pub async fn start_with(config: nbu_otel::config::Config) -> Running {
        let pipeline = Pipeline::build(&config).expect("pipeline builds");
        let config_bridge = config.server.prometheus_bridge;
        let mut agent = Agent::new(config, &pipeline.meter_provider)
            .with_exported_sites(pipeline.exported_sites.clone());
        if let Some(exporter) = pipeline.job_events.clone() {
            agent = agent.with_job_events(exporter);
        }
        agent.start();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let bridge = config_bridge.then(|| agent.prometheus_bridge());
        let router = server::router(agent.readiness().clone(), bridge);
        let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::serve(listener, router, None, async {
            let _ = stopped.await;
        }));
        Running {
            agent,
            pipeline,
            metrics_url: format!("http://{addr}/metrics"),
            readyz_url: format!("http://{addr}/readyz"),
            stop_server,
        }
    }

    pub async fn stop(self) {
        let _ = self.stop_server.send(());
        self.agent.shutdown().await;
        self.pipeline.shutdown(Duration::from_secs(5)).await;
    }
}

/// Series of one metric: sorted label pairs (with `site`) -> value.
pub type Series = BTreeMap<Vec<(String, String)>, f64>;

/// What the catalog would report for the ground truth (expected values).
pub fn expected(sim: &Simulator) -> BTreeMap<String, Series> {
    let truth = crate::common::truth::expected(
        &sim.truth(sim.config().anchor - chrono::Duration::hours(72)),
    );
    let mut snapshot = SiteSnapshot::empty("alpha");
    snapshot.jobs = Some(SourceData {
        summary: std::sync::Arc::new(truth.jobs),
        collected_at: std::time::SystemTime::now(),
        max_age: Duration::MAX,
    });
    snapshot.storage = Some(SourceData {
        summary: std::sync::Arc::new(truth.storage),
        collected_at: std::time::SystemTime::now(),
        max_age: Duration::MAX,
    });
    let mut out = BTreeMap::new();
    for m in CATALOG
        .iter()
        .filter(|m| matches!(m.origin, Origin::Jobs | Origin::Storage) && m.kind == Kind::Gauge)
    {
        let mut series = Series::new();
        m.read_series(&snapshot, &mut |labels, value| {
            let mut key: Vec<(String, String)> = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            key.push(("site".into(), "alpha".into()));
            key.sort();
            let v = match value {
                Value::U64(v) => v as f64,
                Value::F64(v) => v,
                Value::Histogram(_) => unreachable!(),
            };
            series.insert(key, v);
        });
        out.insert(m.name.to_owned(), series);
    }
    out
}

/// Gauge series of the last export that carries `name`.
pub fn otlp_series(exports: &[ExportMetricsServiceRequest], name: &str) -> Option<Series> {
    use crate::common::otlp::{latest_gauge, number, sorted_labels};
    latest_gauge(exports, name).map(|g| {
        g.data_points
            .iter()
            .map(|dp| (sorted_labels(&dp.attributes), number(&dp.value)))
            .collect()
    })
}

pub fn assert_series_equal(name: &str, actual: &Series, expected: &Series) {
    let a: BTreeSet<_> = actual.keys().collect();
    let e: BTreeSet<_> = expected.keys().collect();
    assert_eq!(a, e, "{name}: label sets differ");
    for (k, v) in expected {
        let got = actual[k];
        assert!(
            (got - v).abs() <= 1e-9 * v.abs().max(1.0),
            "{name}{k:?}: got {got}, expected {v}"
        );
    }
    assert!(
        !expected.is_empty() || name.contains("queued"),
        "{name}: no series"
    );
}

fn cycles(sim: &Simulator) -> usize {
    jobs_cycles(sim)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_push_and_bridge_report_the_ground_truth() {
    let sim = start_sim(SimConfig {
        jobs: 3_000,
        storage_units: 20,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let running = Running::start(&sim, &receiver.endpoint(), "1s").await;

    // Three collections, then an export taken after them.
    wait_for(
        "three collection cycles",
        Duration::from_secs(30),
        || async { (cycles(&sim) >= 3).then_some(()) },
    )
    .await;
    let exports_before = receiver.with(|r| r.metrics.len());
    wait_for(
        "an export after three cycles",
        Duration::from_secs(20),
        || async { (receiver.with(|r| r.metrics.len()) > exports_before + 1).then_some(()) },
    )
    .await;

    let expected = expected(&sim);
    let exports = receiver.with(|r| r.metrics.clone());
    for (name, series) in &expected {
        if series.is_empty() {
            // Families with nothing to report (the per-client ones, with no allowlist).
            let pushed = otlp_series(&exports, name).unwrap_or_default();
            assert!(
                pushed.is_empty(),
                "{name}: {pushed:?} pushed, none expected"
            );
            continue;
        }
        let actual = otlp_series(&exports, name).unwrap_or_else(|| panic!("{name} not pushed"));
        assert_series_equal(name, &actual, series);
    }

    // Label sets of every legacy family, and units.
    let last = exports.last().unwrap();
    let metrics: Vec<_> = last
        .resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .collect();
    for (prom_name, labels) in LEGACY_LABELS {
        let def = CATALOG
            .iter()
            .find(|m| m.prometheus_name() == *prom_name)
            .unwrap();
        let metric = metrics
            .iter()
            .find(|m| m.name == def.name)
            .unwrap_or_else(|| panic!("{} missing from the push", def.name));
        let mut want: Vec<&str> = labels.to_vec();
        want.push("site");
        want.sort();
        let points_labels: Vec<Vec<String>> = match &metric.data {
            Some(Data::Gauge(g)) => g
                .data_points
                .iter()
                .map(|dp| dp.attributes.iter().map(|kv| kv.key.clone()).collect())
                .collect(),
            Some(Data::Histogram(h)) => h
                .data_points
                .iter()
                .map(|dp| dp.attributes.iter().map(|kv| kv.key.clone()).collect())
                .collect(),
            other => panic!("{}: unexpected data {other:?}", def.name),
        };
        for mut got in points_labels {
            got.sort();
            assert_eq!(got, want, "{}", def.name);
        }
        assert_eq!(metric.unit, def.unit, "{} unit", def.name);
    }
    let jobs_bytes = metrics.iter().find(|m| m.name == "nbu.jobs_bytes").unwrap();
    assert_eq!(jobs_bytes.unit, "By");

    // The duration histogram: each finished job recorded once, although seen in 3+ cycles.
    let truth = crate::common::truth::expected(
        &sim.truth(sim.config().anchor - chrono::Duration::hours(72)),
    );
    let hist = metrics
        .iter()
        .find(|m| m.name == "nbu.job.duration.seconds")
        .unwrap();
    let Some(Data::Histogram(h)) = &hist.data else {
        panic!("not a histogram")
    };
    assert_eq!(h.aggregation_temporality, 2, "cumulative");
    let mut total = 0;
    for dp in &h.data_points {
        let action = attr(&dp.attributes, "action").unwrap();
        let policy = attr(&dp.attributes, "policy_type").unwrap();
        let key = nbu_otel::collect::summary::ActionPolicyKey {
            action,
            policy_type: policy,
        };
        let want = &truth.jobs.durations[&key];
        assert_eq!(dp.count, want.count, "{key:?}: recorded more than once?");
        assert_eq!(dp.bucket_counts, want.bucket_counts.to_vec(), "{key:?}");
        assert_eq!(
            dp.explicit_bounds,
            nbu_otel::collect::summary::DURATION_BUCKETS.to_vec()
        );
        total += dp.count;
    }
    let finished: u64 = truth.jobs.durations.values().map(|h| h.count).sum();
    assert_eq!(total, finished);

    // Resource attributes.
    let resource = last.resource_metrics[0].resource.as_ref().unwrap();
    assert_eq!(
        attr(&resource.attributes, "service.name").as_deref(),
        Some("nbu-otel")
    );
    assert_eq!(
        attr(&resource.attributes, "service.version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert!(attr(&resource.attributes, "service.instance.id").is_some());
    assert!(attr(&resource.attributes, "host.name").is_some());

    // The bridge serves the same values under the legacy names.
    let body = reqwest::get(&running.metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let families = crate::prometheus::parse_exposition(&body);
    for (name, series) in &expected {
        let prom_name = name.replace('.', "_");
        if series.is_empty() {
            assert!(
                families.get(&prom_name).is_none_or(|f| f.is_empty()),
                "{prom_name} on /metrics, none expected"
            );
            continue;
        }
        let actual = families
            .get(&prom_name)
            .unwrap_or_else(|| panic!("{prom_name} not on /metrics"));
        assert_series_equal(&prom_name, actual, series);
    }
    let names: BTreeSet<&str> = families.keys().map(|s| s.as_str()).collect();
    for (prom_name, _) in LEGACY_LABELS {
        if *prom_name == "nbu_job_duration_seconds" {
            assert!(names.contains("nbu_job_duration_seconds_bucket"));
        } else {
            assert!(names.contains(prom_name), "{prom_name} missing: {names:?}");
        }
    }
    assert!(
        !body.contains("otel_scope"),
        "no scope labels on the bridge"
    );
    assert!(!body.contains(KEY));

    running.stop().await;
    receiver.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_down_at_start_gets_data_once_it_is_up() {
    let sim = start_sim(SimConfig {
        jobs: 500,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    // Reserve a port, then free it: nothing listens there at first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let running = Running::start(&sim, &endpoint, "1s").await;
    wait_for(
        "collections while the Collector is down",
        Duration::from_secs(20),
        || async { (cycles(&sim) >= 3).then_some(()) },
    )
    .await;
    let ready = reqwest::get(&running.readyz_url).await.unwrap();
    assert_eq!(
        ready.status(),
        200,
        "collection goes on without a Collector"
    );

    let receiver = Receiver::start(format!("127.0.0.1:{port}").parse().unwrap()).await;
    let up = wait_for(
        "data at the late Collector",
        Duration::from_secs(30),
        || async {
            receiver.with(|r| {
                otlp_series(&r.metrics, "nbu.up").and_then(|s| s.values().next().copied())
            })
        },
    )
    .await;
    assert_eq!(up, 1.0);
    running.stop().await;
    receiver.stop().await;
    sim.shutdown().await;
}
