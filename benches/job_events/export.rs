//! Part 2: exporting the records to a receiver, in this process or another.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nbu_otel::collect::job_event::JobEvent;
use nbu_otel::telemetry::logs::JobEventExporter;
use nbu_otel::telemetry::pipeline::resource;

use super::common::process_cpu;
use super::receiver::{Counter, serve};
use super::roles::Child;
use super::support::{BATCH, SITE_YAML, events, load};

/// Sends `events` `rounds` times in requests of [`BATCH`] to `endpoint` from a runtime worker;
/// returns this process's CPU time and the wall time.
pub(super) async fn export_to(
    endpoint: &str,
    compression: &str,
    events: &Arc<Vec<JobEvent>>,
    rounds: u64,
) -> (Duration, Duration) {
    let config = load(&format!(
        "{SITE_YAML}otlp:\n  endpoint: {endpoint}\n  timeout: 30s\n  compression: {compression}\n"
    ));
    let exporter = JobEventExporter::new(&config.otlp, &resource(&config, "bench-instance"))
        .unwrap_or_else(|e| panic!("exporter: {e}"));
    let events = events.clone();
    tokio::spawn(async move {
        let send = |events: &[JobEvent]| {
            let exporter = exporter.clone();
            let batch = events.to_vec();
            async move {
                exporter
                    .export(&batch)
                    .await
                    .unwrap_or_else(|e| panic!("export: {e}"));
            }
        };
        // Warm up: the connection, the allocator.
        for chunk in events.chunks(BATCH) {
            send(chunk).await;
        }
        let (wall, cpu) = (Instant::now(), process_cpu("self"));
        for _ in 0..rounds {
            for chunk in events.chunks(BATCH) {
                exporter
                    .export(chunk)
                    .await
                    .unwrap_or_else(|e| panic!("export: {e}"));
            }
        }
        (process_cpu("self").saturating_sub(cpu), wall.elapsed())
    })
    .await
    .unwrap_or_else(|e| panic!("export task: {e}"))
}

pub(super) async fn exporting(n: u64, rounds: u64, encode_per_record: Option<Duration>) {
    let events = Arc::new(events(n));
    let records = (n * rounds) as f64;
    println!(
        "2. export of {n} records x {rounds} rounds by JobEventExporter, {BATCH} per request, one request at a time, loopback"
    );
    println!(
        "   receiver           compression  this process CPU  records/CPU-s  us/record  receiver us/record  wall records/s  / encode-only"
    );
    let counter = Counter::default();
    let endpoint = serve(counter.clone()).await;
    let (cpu, wall) = export_to(&endpoint, "gzip", &events, rounds).await;
    let report = |what: &str,
                  compression: &str,
                  cpu: Duration,
                  wall: Duration,
                  receiver: Option<Duration>| {
        let per = cpu.as_secs_f64() / records;
        println!(
            "   {what:<18} {compression:<11}  {:>14.2} s  {:>13.0}  {:>9.2}  {:>18}  {:>14.0}  {:>11}",
            cpu.as_secs_f64(),
            1.0 / per,
            per * 1e6,
            receiver.map_or_else(
                || "(included)".to_owned(),
                |r| format!("{:.2}", r.as_secs_f64() * 1e6 / records)
            ),
            records / wall.as_secs_f64(),
            encode_per_record.map_or_else(
                || "-".to_owned(),
                |e| format!("{:.1} x", per / e.as_secs_f64())
            ),
        );
    };
    report("in this process", "gzip", cpu, wall, None);
    let got = counter.records.load(Ordering::SeqCst);
    assert_eq!(got, n * (rounds + 1), "the receiver counted every record");
    for compression in ["gzip", "none"] {
        let mut receiver = Child::start("sim", &[("NBU_BENCH_SIM_JOBS", "0".to_owned())]);
        let endpoint = receiver.expect("otlp", Duration::from_secs(30)).await;
        let pid = receiver.pid();
        let endpoint = endpoint.first().cloned().unwrap_or_default();
        let before = process_cpu(&pid);
        let (cpu, wall) = export_to(&endpoint, compression, &events, rounds).await;
        let receiver_cpu = process_cpu(&pid).saturating_sub(before);
        report(
            "another process",
            compression,
            cpu,
            wall,
            Some(receiver_cpu),
        );
    }
}
