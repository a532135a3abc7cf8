//! What every part uses: the agent's configuration, CPU and memory readings, and the
//! realistic failed jobs the records are made of.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flate2::Compression;
use flate2::write::GzEncoder;
use nbu_otel::collect::job_event::{JobDetails, JobEvent, Reason, ReasonMissing};
use nbu_otel::config::{self, Config};
use nbu_otel::telemetry::pipeline::resource;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;

pub(crate) const KEY: &str = "bench-key";
/// A site for the configurations of parts 1 and 2, which read none (one is required).
pub(crate) const SITE_YAML: &str =
    "sites:\n  - name: unused\n    url: http://127.0.0.1:9\n    api_key: k\n";
/// Records per export request, as `events.max_batch` by default.
pub(crate) const BATCH: usize = 512;

pub(crate) fn env_text(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// A configuration from YAML, without the process environment's overrides.
pub(crate) fn load(yaml: &str) -> Config {
    match config::load_str_with_env(yaml, Path::new("."), &HashMap::new()) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}\n---\n{yaml}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------

/// Time this thread spent on a CPU so far (the scheduler's count, nanosecond resolution).
pub(crate) fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let nanos = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// A `kB` field of `/proc/<pid>/status` (`VmHWM`, `VmRSS`), in bytes.
pub(crate) fn status_bytes(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

pub(crate) fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

// ---------------------------------------------------------------------------------------------
// Realistic events
// ---------------------------------------------------------------------------------------------

/// Status codes of failed jobs and NetBackup's messages for them.
pub(crate) const FAILURES: [(i64, &str); 6] = [
    (84, "media write error"),
    (13, "file read failed"),
    (58, "can't connect to client"),
    (
        96,
        "unable to allocate new media for backup, storage unit has none available",
    ),
    (1, "the requested operation was partially successful"),
    (150, "termination requested by administrator"),
];
pub(crate) const POLICY_TYPES: [&str; 4] = ["VMWARE", "STANDARD", "MS_SQL_SERVER", "ORACLE"];
pub(crate) const SCHEDULES: [&str; 3] = ["daily-incr", "weekly-full", "monthly-full"];

/// The reason of job `i` as the agent builds it from the try logs (the status message and the
/// WARNING-and-above lines joined with `; `, in a `String` grown as it is filled), ~300 bytes.
pub(crate) fn reason_text(i: u64, message: &str) -> String {
    let lines = [
        message.to_owned(),
        format!(
            "11/27/2026 07:{:02}:{:02} - Error bptm (pid={}) write error on media id A{:05}, \
             drive index {}, reached end of media",
            i % 60,
            (i * 7) % 60,
            10_000 + i % 50_000,
            i % 100_000,
            i % 16,
        ),
        format!(
            "11/27/2026 07:{:02}:{:02} - Warning bpbrm (pid={}) from client \
             client-{:04}.corp.example.com: WRN - can't open file: /data/db{:02}/tablespace{:03}.dbf \
             (WIN32 32: the process cannot access the file)",
            (i + 1) % 60,
            (i * 11) % 60,
            20_000 + i % 40_000,
            i % 2000,
            i % 40,
            i % 500,
        ),
    ];
    let mut text = String::new();
    for line in &lines {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(line);
    }
    text.truncate(300);
    text
}

/// A failed job as the agent holds it once its reason is known: every detail NetBackup gives.
pub(crate) fn event(site: &Arc<str>, i: u64, with_reason: bool) -> JobEvent {
    let (status, message) = FAILURES[(i % FAILURES.len() as u64) as usize];
    let end_ms = 1_795_000_000_000 + i as i64 * 1_000;
    let seconds = 60 + (i % 7_200);
    JobEvent {
        site: site.clone(),
        job_id: 1_000_000 + i,
        job_type: if i.is_multiple_of(5) {
            "DUPLICATE"
        } else {
            "BACKUP"
        }
        .into(),
        policy_type: POLICY_TYPES[(i % 4) as usize].into(),
        status: Some(status),
        start_ms: Some(end_ms - seconds as i64 * 1_000),
        end_ms: Some(end_ms),
        bytes: (i % 1_000) * 1_048_576,
        duration_seconds: Some(seconds as f64),
        details: JobDetails {
            parent_job_id: Some(999_000 + i / 4),
            sub_type: Some("IMMEDIATE".into()),
            policy_name: Some(
                format!("pol-{}-{:03}", POLICY_TYPES[(i % 4) as usize], i % 200).into(),
            ),
            schedule: Some(SCHEDULES[(i % 3) as usize].into()),
            client: Some(format!("client-{:04}.corp.example.com", i % 2_000).into()),
            tries: Some(1 + i % 3),
            files: Some(i % 50_000),
            storage_unit: Some(format!("stu-msdp-{:02}", i % 8).into()),
            media_server: Some(format!("media-{:02}.corp.example.com", i % 8).into()),
        },
        observed_ms: end_ms + 30_000,
        reason: if with_reason {
            Reason::Found {
                status_message: Some(message.to_owned()),
                text: reason_text(i, message),
            }
        } else {
            Reason::Missing(ReasonMissing::Budget)
        },
    }
}

pub(crate) fn events(n: u64) -> Vec<JobEvent> {
    let site: Arc<str> = Arc::from("primary-a");
    (0..n).map(|i| event(&site, i, true)).collect()
}

/// The agent's resource (`service.*`, `host.name`, the SDK's attributes) as OTLP.
pub(crate) fn proto_resource(config: &Config) -> ProtoResource {
    let attributes = ResourceAttributesWithSchema::from(&resource(config, "bench-instance"));
    ProtoResource {
        attributes: attributes.attributes.0,
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    }
}

/// The baseline request: the same envelope, each record only its body.
pub(crate) fn bare_request(
    resource: &ProtoResource,
    events: &[JobEvent],
) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource.clone()),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: nbu_otel::telemetry::logs::SCOPE_NAME.to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    attributes: Vec::new(),
                    dropped_attributes_count: 0,
                }),
                log_records: events
                    .iter()
                    .map(|e| LogRecord {
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(e.body())),
                        }),
                        ..LogRecord::default()
                    })
                    .collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::default());
    if let Err(e) = encoder.write_all(bytes) {
        panic!("gzip: {e}");
    }
    encoder.finish().unwrap_or_else(|e| panic!("gzip: {e}"))
}
