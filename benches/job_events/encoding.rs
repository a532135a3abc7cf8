//! Part 1: encoding the records, against bare records carrying only their body.

use std::time::Duration;

use nbu_otel::collect::job_event::JobEvent;
use nbu_otel::telemetry::logs::encode;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use prost::Message as _;

use super::support::{
    BATCH, SITE_YAML, bare_request, events, gzip, load, median, proto_resource, thread_cpu,
};

/// One pass over `events` in requests of [`BATCH`]: (this thread's CPU, bytes, the requests).
pub(super) fn encode_pass(
    resource: &ProtoResource,
    events: &[JobEvent],
    bare: bool,
) -> (Duration, u64, Vec<Vec<u8>>) {
    let mut requests = Vec::with_capacity(events.len().div_ceil(BATCH));
    let mut bytes = 0u64;
    let cpu = thread_cpu();
    for chunk in events.chunks(BATCH) {
        let request = if bare {
            bare_request(resource, chunk)
        } else {
            encode(resource, chunk)
        };
        let body = request.encode_to_vec();
        bytes += body.len() as u64;
        requests.push(body);
    }
    let cpu = thread_cpu().saturating_sub(cpu);
    (cpu, bytes, std::hint::black_box(requests))
}

/// Part 1; returns the CPU time per record of the full encoding.
pub(super) fn encoding(n: u64, rounds: u64) -> Duration {
    let config = load(&format!(
        "{SITE_YAML}otlp:\n  endpoint: http://127.0.0.1:4317\n"
    ));
    let resource = proto_resource(&config);
    let events = events(n);
    let records = events.len() as f64;
    let (mut full_cpu, mut bare_cpu) = (Vec::new(), Vec::new());
    let (mut full_bytes, mut bare_bytes) = (0, 0);
    let (mut full_requests, mut bare_requests) = (Vec::new(), Vec::new());
    // A warm-up pass of each, then the two alternately.
    let _ = encode_pass(&resource, &events, false);
    let _ = encode_pass(&resource, &events, true);
    for _ in 0..rounds {
        let (cpu, bytes, requests) = encode_pass(&resource, &events, false);
        full_cpu.push(cpu.as_secs_f64());
        (full_bytes, full_requests) = (bytes, requests);
        let (cpu, bytes, requests) = encode_pass(&resource, &events, true);
        bare_cpu.push(cpu.as_secs_f64());
        (bare_bytes, bare_requests) = (bytes, requests);
    }
    let gzipped = |requests: &[Vec<u8>]| -> (u64, f64) {
        let cpu = thread_cpu();
        let bytes = requests.iter().map(|r| gzip(r).len() as u64).sum();
        (bytes, thread_cpu().saturating_sub(cpu).as_secs_f64())
    };
    let (full_gz, full_gz_cpu) = gzipped(&full_requests);
    let (bare_gz, bare_gz_cpu) = gzipped(&bare_requests);
    let full = median(&mut full_cpu);
    let bare = median(&mut bare_cpu);
    let reason_len = events
        .first()
        .and_then(JobEvent::reason_text)
        .map_or(0, str::len);
    println!(
        "1. encoding {n} failed jobs (reason of {reason_len} bytes, every detail) in requests of {BATCH}; median of {rounds} passes each, this thread's CPU"
    );
    println!(
        "   records                       records/CPU-s  us/record  bytes/record  gzip bytes/record  gzip us/record"
    );
    println!(
        "   full (encode + encode_to_vec)  {:>13.0}  {:>9.2}  {:>12.1}  {:>17.1}  {:>14.2}",
        records / full,
        full * 1e6 / records,
        full_bytes as f64 / records,
        full_gz as f64 / records,
        full_gz_cpu * 1e6 / records
    );
    println!(
        "   baseline, body only            {:>13.0}  {:>9.2}  {:>12.1}  {:>17.1}  {:>14.2}",
        records / bare,
        bare * 1e6 / records,
        bare_bytes as f64 / records,
        bare_gz as f64 / records,
        bare_gz_cpu * 1e6 / records
    );
    println!(
        "   full / baseline: {:.2} x the CPU, {:.2} x the bytes, {:.2} x the gzip bytes",
        full / bare,
        full_bytes as f64 / bare_bytes as f64,
        full_gz as f64 / bare_gz as f64
    );
    Duration::from_secs_f64(full / records)
}
