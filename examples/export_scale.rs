//! The export path at scale: time and memory of a `/metrics` scrape and of one OTLP export
//! interval, against the number of series. Prints one line of `key=value` results.
//!
//! ```text
//! cargo run --release --example export_scale -- <mode> <sites> <jobs per site> <units per site> <iterations> [max message bytes] [cardinality limit]
//! ```
//! Modes:
//! - `bridge`: the agent's Prometheus bridge (cached renderings), no `Accept-Encoding`;
//! - `bridge-gzip`: the same, with gzip (what Prometheus asks for);
//! - `bridge-moving`: the bridge while a counter moves before every scrape (a collection is
//!   running), with gzip;
//! - `sdk`: the reference: the OpenTelemetry SDK with the `opentelemetry-prometheus` reader
//!   and the `prometheus` text encoder (how the bridge worked before);
//! - `otlp`: one OTLP export interval as the agent's exporter does it: the SDK collects every
//!   instrument, the data are converted to OTLP metric by metric and encoded into requests of
//!   at most `otlp.max_message_bytes` (the default, or the sixth argument)
//!   ([`split::encode`]), and each is compressed with gzip.
//!
//! A seventh argument sets `otlp.max_series_per_metric` (default
//! [`DEFAULT_OTLP_MAX_SERIES_PER_METRIC`]), the SDK's cardinality limit of the instruments
//! whose labels come from NetBackup's data (the others get their bound from the catalog): the
//! SDK sizes each instrument's attribute map for its limit up front.
//!
//! Snapshots are the simulator's ground truth for a fixed dataset, published before the
//! first iteration; RSS is read from `/proc/self/statm` after they are built (`rss_data_kib`),
//! after the first iteration (`rss_first_kib`) and after the last (`rss_end_kib`); `cpu_ms` is
//! user + system time of the iterations from `/proc/self/stat`. For `otlp`, `requests` is the
//! number of requests of one export and `largest` the encoded size of the largest.

#[path = "support/measure.rs"]
mod measure;
#[path = "../tests/it/shared_reader.rs"]
mod shared_reader;
#[path = "../tests/it/common/truth.rs"]
mod truth;

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use measure::{arg, rss_kib};
use nbu_otel::collect::{SiteSnapshot, SourceData};
use nbu_otel::config::DEFAULT_OTLP_MAX_MESSAGE_BYTES;
use nbu_otel::config::DEFAULT_OTLP_MAX_SERIES_PER_METRIC;
use nbu_otel::events::Events;
use nbu_otel::telemetry::bridge::PrometheusBridge;
use nbu_otel::telemetry::instruments::{SnapshotStore, register};
use nbu_otel::telemetry::pipeline::cardinality_view;
use nbu_otel::telemetry::split;
use nbu_sim::{SimConfig, SimTruth};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader as _;
use shared_reader::SharedReader;

fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line; 12 and 13 after the `)`.
    field(11) + field(12)
}

fn snapshot(site: &str, jobs: u64, units: u32) -> SiteSnapshot {
    let anchor = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
    let config = SimConfig {
        seed: site.len() as u64 + 7,
        jobs,
        storage_units: units,
        anchor,
        ..SimConfig::default()
    };
    let truth = truth::expected(&SimTruth::compute(
        &config,
        anchor - chrono::Duration::hours(72),
    ));
    let now = SystemTime::now();
    let mut s = SiteSnapshot::empty(site);
    s.up = true;
    s.response_time = Some(Duration::from_millis(12));
    s.jobs = Some(SourceData {
        summary: Arc::new(truth.jobs),
        collected_at: now,
        max_age: Duration::MAX,
    });
    s.storage = Some(SourceData {
        summary: Arc::new(truth.storage),
        collected_at: now,
        max_age: Duration::MAX,
    });
    s.jobs_last_success = Some(now);
    s.storage_last_success = Some(now);
    s
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).cloned().unwrap_or_else(|| "bridge".to_owned());
    let sites = arg(&args, 2, 3);
    let jobs = arg(&args, 3, 30_000);
    let units = u32::try_from(arg(&args, 4, 200)).unwrap_or(200);
    let iterations = arg(&args, 5, 600);
    let limit = usize::try_from(arg(&args, 6, DEFAULT_OTLP_MAX_MESSAGE_BYTES as u64))
        .unwrap_or(DEFAULT_OTLP_MAX_MESSAGE_BYTES);

    let store = SnapshotStore::new();
    let snapshots: Vec<SiteSnapshot> = (0..sites)
        .map(|i| snapshot(&format!("primary-{i}"), jobs, units))
        .collect();
    let rss_data = rss_kib();

    let default = DEFAULT_OTLP_MAX_SERIES_PER_METRIC;
    let cardinality = usize::try_from(arg(&args, 7, default as u64)).unwrap_or(default);
    let manual = SharedReader::new();
    let mut builder = SdkMeterProvider::builder().with_view(cardinality_view(
        cardinality,
        usize::try_from(sites).unwrap_or(usize::MAX),
    ));
    let mut registry = None;
    match mode.as_str() {
        "sdk" => {
            let r = prometheus::Registry::new();
            let reader = opentelemetry_prometheus::exporter()
                .with_registry(r.clone())
                .without_units()
                .without_target_info()
                .scope_info_enabled(false)
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            builder = builder.with_reader(reader);
            registry = Some(r);
        }
        "otlp" => builder = builder.with_reader(manual.clone()),
        _ => {}
    }
    let provider = builder.build();
    let recorder = register(&provider.meter("nbu-otel"), &store);
    let events = Events::counting_in(recorder.counters.clone());
    for s in &snapshots {
        store.publish(s.clone());
    }
    for i in 0..50 {
        events.request_answered("primary-0", &format!("/admin/jobs/{i}"), "200");
    }
    let bridge = PrometheusBridge::new(store.clone(), recorder.counters.clone());

    let mut times = Vec::with_capacity(iterations as usize);
    let mut bytes = 0usize;
    let mut series = 0usize;
    let mut compressed = 0usize;
    let mut requests = 0usize;
    let mut largest = 0usize;
    let mut rss_first = 0;
    let cpu_start = cpu_ticks();
    for iteration in 0..iterations {
        if mode == "bridge-moving" {
            events.request_answered("primary-0", "/admin/jobs", "200");
        }
        let started = Instant::now();
        let out: Vec<u8> = match mode.as_str() {
            "sdk" => {
                let families = registry.as_ref().map(|r| r.gather()).unwrap_or_default();
                prometheus::TextEncoder::new()
                    .encode_to_string(&families)
                    .unwrap_or_default()
                    .into_bytes()
            }
            "otlp" => {
                let mut rm = ResourceMetrics::default();
                let _ = manual.collect(&mut rm);
                series = shared_reader::points_by_metric(&rm).values().sum();
                let encoded = split::encode(&rm, |_| true, limit);
                drop(rm);
                requests = encoded.len();
                largest = encoded.iter().map(|r| r.len()).max().unwrap_or(0);
                bytes = encoded.iter().map(|r| r.len()).sum();
                let mut out = Vec::new();
                for part in &encoded {
                    let mut gz =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                    for bytes in part.parts() {
                        let _ = gz.write_all(bytes);
                    }
                    out.extend(gz.finish().unwrap_or_default());
                }
                out
            }
            "bridge" => bridge.render().body().to_vec(),
            _ => bridge.render().gzip().to_vec(),
        };
        times.push(started.elapsed());
        if mode == "bridge" || mode == "sdk" {
            bytes = out.len();
        } else if mode != "otlp" {
            bytes = bridge.render().body().len();
        }
        std::hint::black_box(&out);
        if series == 0 && mode != "otlp" {
            let text = if mode == "sdk" || mode == "bridge" {
                String::from_utf8_lossy(&out).into_owned()
            } else {
                String::from_utf8_lossy(&bridge.render().body()).into_owned()
            };
            series = text.lines().filter(|l| !l.starts_with('#')).count();
        }
        if mode == "otlp" || mode.ends_with("gzip") || mode.ends_with("moving") {
            compressed = out.len();
        }
        if iteration == 0 {
            rss_first = rss_kib();
        }
    }
    let cpu_ms = (cpu_ticks() - cpu_start) * 10;
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0;
    println!(
        "mode={mode} sites={sites} jobs={jobs} units={units} series={series} bytes={bytes} gzip_bytes={compressed} iterations={iterations} p50_ms={:.3} p99_ms={:.3} cpu_ms_per_iter={:.3} rss_data_kib={rss_data} rss_first_kib={rss_first} rss_end_kib={} renders={} requests={requests} largest={largest}",
        pct(0.5),
        pct(0.99),
        cpu_ms as f64 / iterations as f64,
        rss_kib(),
        bridge.renders()
    );
}
