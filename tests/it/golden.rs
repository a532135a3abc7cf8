//! Golden files: what the bridge serves and what OTLP receives for a few fixed simulator
//! states, compared line by line with files in `tests/golden/` that were reviewed by hand.
//!
//! The expectation is not computed by the agent's code: a change of any name, label, value or
//! help text shows as a diff of the file. After reviewing such a diff, bless the new output
//! with `NBU_OTEL_BLESS=1 cargo test --test it golden`. To review values, `scripts/recount.py`
//! recounts the jobs and storage gauges from the simulator's HTTP API with code of its own
//! (`nbu-otel sim --seed 7 --jobs 30 --storage-units 3`: the same dataset; the windows hold
//! every job).
//!
//! Values that change from run to run are left out: request counters and export counters
//! (they grow with every cycle), the build's version, the mean response time, the Unix time of
//! the last collection (written `<unix time>`) and the count of failed collections (`<n>`: a
//! failing source is tried again every cycle).

use std::time::Duration;

use nbu_sim::{ApiVersion, Fault, FaultTarget, SimConfig, Simulator};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};

use crate::common::otlp::Receiver;
use crate::common::{anchor, load, site_yaml, start_sim, wait_for};
use crate::pipeline::Running;

const KEY: &str = "golden-key";

/// Counters that grow with every failed cycle: their series and labels are kept, their value
/// is written `<n>`.
const COUNTED: &[&str] = &["nbu_collection_errors_total", "nbu.collection.errors"];

/// Families whose values differ between runs.
const VOLATILE: &[&str] = &[
    "nbu_api_requests_total",
    "nbu_otlp_exports_total",
    "nbu_exporter_build_info",
    "nbu_response_time_ms",
];

fn volatile(family: &str) -> bool {
    VOLATILE
        .iter()
        .any(|v| family == *v || family.starts_with(&format!("{v}_")))
}

/// The exposition without volatile lines.
fn normalize_exposition(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let family = line
            .trim_start_matches("# HELP ")
            .trim_start_matches("# TYPE ")
            .split(['{', ' '])
            .next()
            .unwrap_or("");
        if volatile(family) {
            continue;
        }
        if family == "nbu_last_scrape_timestamp_seconds" && !line.starts_with('#') {
            let (series, _) = line.rsplit_once(' ').unwrap_or((line, ""));
            out.push_str(&format!("{series} <unix time>\n"));
            continue;
        }
        if COUNTED.contains(&family) && !line.starts_with('#') {
            let (series, _) = line.rsplit_once(' ').unwrap_or((line, ""));
            out.push_str(&format!("{series} <n>\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn text_of(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn attributes(attrs: &[KeyValue]) -> String {
    let mut pairs: Vec<String> = attrs
        .iter()
        .map(|kv| format!("{}={:?}", kv.key, text_of(&kv.value)))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// One line per data point of an export, sorted: `name{attributes} value`.
fn normalize_otlp(export: &ExportMetricsServiceRequest) -> String {
    let mut lines = Vec::new();
    for metric in export
        .resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
    {
        let name = &metric.name;
        let family = name.replace('.', "_");
        if volatile(&family) || volatile(&format!("{family}_total")) {
            continue;
        }
        let number = |v: &Option<number_data_point::Value>| match v {
            Some(number_data_point::Value::AsInt(i)) => i.to_string(),
            Some(number_data_point::Value::AsDouble(d)) => d.to_string(),
            None => "none".to_owned(),
        };
        let unit = &metric.unit;
        match &metric.data {
            Some(Data::Gauge(g)) => {
                for dp in &g.data_points {
                    let value = if name == "nbu.last_scrape_timestamp_seconds" {
                        "<unix time>".to_owned()
                    } else {
                        number(&dp.value)
                    };
                    lines.push(format!(
                        "gauge {name} [{unit}] {{{}}} {value}",
                        attributes(&dp.attributes)
                    ));
                }
            }
            Some(Data::Sum(s)) => {
                for dp in &s.data_points {
                    let value = if COUNTED.contains(&name.as_str()) {
                        "<n>".to_owned()
                    } else {
                        number(&dp.value)
                    };
                    lines.push(format!(
                        "sum(monotonic={}) {name} [{unit}] {{{}}} {value}",
                        s.is_monotonic,
                        attributes(&dp.attributes),
                    ));
                }
            }
            Some(Data::Histogram(h)) => {
                for dp in &h.data_points {
                    lines.push(format!(
                        "histogram {name} [{unit}] {{{}}} count={} sum={} buckets={:?} bounds={:?}",
                        attributes(&dp.attributes),
                        dp.count,
                        dp.sum.unwrap_or(f64::NAN),
                        dp.bucket_counts,
                        dp.explicit_bounds
                    ));
                }
            }
            other => lines.push(format!("{name}: unexpected data {other:?}")),
        }
    }
    lines.sort();
    lines.join("\n") + "\n"
}

fn compare(file: &str, actual: &str) {
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("NBU_OTEL_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; bless it with NBU_OTEL_BLESS=1 after review"));
    if expected != actual {
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines())
            .enumerate()
            .filter(|(_, (e, a))| e != a)
            .take(10)
            .map(|(i, (e, a))| format!("line {}:\n  expected: {e}\n  actual:   {a}", i + 1))
            .collect();
        panic!(
            "{file} differs ({} lines expected, {} actual):\n{}\nreview, then bless with NBU_OTEL_BLESS=1",
            expected.lines().count(),
            actual.lines().count(),
            diff.join("\n")
        );
    }
}

/// A small fixed dataset whose clock stands still at the anchor.
async fn simulator(versions: Vec<ApiVersion>) -> Simulator {
    start_sim(SimConfig {
        seed: 7,
        jobs: 30,
        storage_units: 3,
        api_key: KEY.into(),
        anchor: anchor(),
        history: Duration::from_secs(24 * 3600),
        manual_clock: true,
        opt_in_scale: 0,
        supported_versions: versions,
        ..SimConfig::default()
    })
    .await
}

async fn run(sim: &Simulator, name: &str, storage_current: bool) {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let yaml = format!(
        "sites:\n{}server:\n  listen: \"127.0.0.1:0\"\n  prometheus_bridge: true\notlp:\n  endpoint: {}\n  export_interval: 1s\n  timeout: 1s\n",
        site_yaml(
            "golden",
            &sim.base_url(),
            "      jobs_window: 72h\n      jobs_interval: 1s\n      request_timeout: 900ms\n      storage_ttl: 1h\n      max_retries: 0\n"
        ),
        receiver.endpoint()
    );
    let running = Running::start_with(load(&yaml, &[("NBU_KEY", KEY)])).await;
    let exposition = wait_for(
        "the collection on the bridge",
        Duration::from_secs(60),
        || async {
            let text = reqwest::get(&running.metrics_url)
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            let jobs = text.contains("nbu_source_stale{site=\"golden\",source=\"jobs\"} 0");
            let storage = text.contains(&format!(
                "nbu_source_stale{{site=\"golden\",source=\"storage\"}} {}",
                u8::from(!storage_current)
            ));
            let counted = storage_current || text.contains("nbu_collection_errors_total{");
            (jobs && storage && counted).then_some(text)
        },
    )
    .await;
    let seen = receiver.with(|r| r.metrics.len());
    let export = wait_for(
        "an export after the collection",
        Duration::from_secs(30),
        || async {
            receiver.with(|r| {
                (r.metrics.len() > seen + 1)
                    .then(|| r.metrics.last().cloned())
                    .flatten()
            })
        },
    )
    .await;
    compare(&format!("{name}.prom"), &normalize_exposition(&exposition));
    compare(&format!("{name}.otlp.txt"), &normalize_otlp(&export));
    running.stop().await;
    receiver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_site() {
    let sim = simulator(ApiVersion::NEWEST_FIRST.to_vec()).await;
    run(&sim, "healthy", true).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_failing() {
    let sim = simulator(ApiVersion::NEWEST_FIRST.to_vec()).await;
    sim.set_fault(
        FaultTarget::Storage,
        Fault::Status {
            code: 500,
            retry_after: None,
            body: None,
        },
        None,
    );
    run(&sim, "storage-failing", false).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_10() {
    let sim = simulator(vec![ApiVersion::V10_0]).await;
    run(&sim, "api-10", true).await;
    sim.shutdown().await;
}
