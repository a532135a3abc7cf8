//! Job events as OTLP log records, sent over OTLP (gRPC or HTTP) with the settings of the logs
//! signal (`otlp.logs`, else `otlp`: endpoint, TLS, headers, compression, timeout) and the
//! agent's resource.
//!
//! One record per event, in a scope of its own (`nbu-otel.job_events`), with:
//! - `time_unix_nano` the job's `endTime` (NetBackup's clock), `observed_time_unix_nano` when
//!   the agent saw it finished;
//! - severity INFO for status 0, WARN for 1 (and an unknown status), ERROR above;
//! - `event_name` [`EVENT_NAME`] and a one-sentence body ([`JobEvent::body`]);
//! - the attributes of [`attributes`]: `site`, `error.type` for a failure, the rest under
//!   `nbu.job.`.
//!
//! The exporter sends what it is given and says whether the Collector took it; what waits and
//! what is sent again is the outbox's business ([`crate::collect::outbox`]). The events do not
//! go through the SDK's `LoggerProvider`: its batch processor drops a batch whose export
//! failed and cannot say which records were delivered, and each event must be sent until the
//! Collector has it, exactly once.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;

use super::export_retry::{Attempt, grpc_attempt, retrying};
use super::otlp::{ExporterError, Transport, unary};
use super::split::EncodedRequest;
use crate::collect::job_event::{JobEvent, Severity};
use crate::config::{OtlpConfig, Signal};

/// The `event_name` of every job event record.
pub const EVENT_NAME: &str = "netbackup.job.finished";

/// The instrumentation scope of job event records.
pub const SCOPE_NAME: &str = "nbu-otel.job_events";

/// The largest answer to an export (a partial-success message at most).
const RESPONSE_LIMIT: usize = 1024 * 1024;

/// Sends job events to the Collector, over the transport of the logs signal
/// (`otlp.logs`, else `otlp`).
#[derive(Clone)]
pub struct JobEventExporter {
    transport: Transport,
    timeout: Duration,
    resource: ProtoResource,
}

impl std::fmt::Debug for JobEventExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobEventExporter")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why an export of job events failed: the Collector refused it, could not be reached, or
/// did not answer in time, after the retries the timeout allowed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LogExportError(String);

impl JobEventExporter {
    /// An exporter of `config`'s logs signal for records of `resource`. Must be called inside
    /// a Tokio runtime; connects lazily.
    pub fn new(config: &OtlpConfig, resource: &Resource) -> Result<Self, ExporterError> {
        let export = config.signal(Signal::Logs);
        let attributes = ResourceAttributesWithSchema::from(resource);
        Ok(Self {
            transport: Transport::new(&export, RESPONSE_LIMIT)?,
            timeout: export.timeout,
            resource: ProtoResource {
                attributes: attributes.attributes.0,
                dropped_attributes_count: 0,
                entity_refs: Vec::new(),
            },
        })
    }

    /// Sends `events` in one request, retried as the OTLP specification says within the
    /// timeout; `Ok` when the Collector accepted it. A partial success counts as success: the
    /// Collector has decided about every record.
    pub async fn export(&self, events: &[JobEvent]) -> Result<(), LogExportError> {
        // Encoded once: every attempt sends the same bytes.
        let request = EncodedRequest::of(&encode(&self.resource, events));
        match &self.transport {
            Transport::Grpc { client, metadata } => retrying(self.timeout, |left| {
                let mut client = client.clone();
                let mut request = tonic::Request::new(request.clone());
                *request.metadata_mut() = metadata.clone();
                request.set_timeout(left);
                async move {
                    match send(&mut client, request).await {
                        Ok(_) => Attempt::Done(()),
                        Err(status) => grpc_attempt(&status),
                    }
                }
            })
            .await
            .map_err(LogExportError),
            Transport::Http(sender) => sender
                .post(&request.to_vec())
                .await
                .map(drop)
                .map_err(LogExportError),
        }
    }
}

/// `LogsService/Export` with a request already encoded.
async fn send(
    client: &mut tonic::client::Grpc<tonic::transport::Channel>,
    request: tonic::Request<EncodedRequest>,
) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
    unary(
        client,
        request,
        "opentelemetry.proto.collector.logs.v1.LogsService",
    )
    .await
}

/// One request carrying `events`.
pub fn encode(resource: &ProtoResource, events: &[JobEvent]) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource.clone()),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: SCOPE_NAME.to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    attributes: Vec::new(),
                    dropped_attributes_count: 0,
                }),
                log_records: events.iter().map(record).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn nanos(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0).saturating_mul(1_000_000)
}

fn text(value: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(value.to_owned())),
    })
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// The record of one event.
pub fn record(event: &JobEvent) -> LogRecord {
    let (number, name) = match event.severity() {
        Severity::Info => (SeverityNumber::Info, "INFO"),
        Severity::Warn => (SeverityNumber::Warn, "WARN"),
        Severity::Error => (SeverityNumber::Error, "ERROR"),
    };
    LogRecord {
        time_unix_nano: nanos(event.time_ms()),
        observed_time_unix_nano: nanos(event.observed_ms),
        severity_number: number as i32,
        severity_text: name.to_owned(),
        body: text(&event.body()),
        attributes: attributes(event),
        dropped_attributes_count: 0,
        flags: 0,
        trace_id: Vec::new(),
        span_id: Vec::new(),
        event_name: EVENT_NAME.to_owned(),
    }
}

/// The attributes of an event's record: `site`; `error.type` (the status code as text) for a
/// job that did not succeed; and under `nbu.job.`: `id`, `parent_id`, `type`, `sub_type`,
/// `policy.name`, `policy.type`, `schedule`, `client`, `status`, `status_message`, `tries`,
/// `bytes`, `files`, `duration` (seconds), `storage_unit`, `media_server`, `reason` (NetBackup's,
/// from the try logs) or `reason_missing` (why not: `disabled`, `budget`, `failed`,
/// `unavailable`). An attribute NetBackup did not give is left out.
pub fn attributes(event: &JobEvent) -> Vec<KeyValue> {
    use any_value::Value::{DoubleValue, IntValue, StringValue};
    let d = &event.details;
    let int = |n: u64| IntValue(i64::try_from(n).unwrap_or(i64::MAX));
    let string = |s: &str| StringValue(s.to_owned());
    let mut out = vec![attribute("site", string(&event.site))];
    if event.status != Some(0) {
        let class = event
            .status
            .map_or_else(|| "unknown".to_owned(), |s| s.to_string());
        out.push(attribute("error.type", StringValue(class)));
    }
    out.push(attribute("nbu.job.id", int(event.job_id)));
    let mut optional = |key: &str, value: Option<any_value::Value>| {
        if let Some(value) = value {
            out.push(attribute(key, value));
        }
    };
    optional("nbu.job.parent_id", d.parent_job_id.map(int));
    optional(
        "nbu.job.type",
        (!event.job_type.is_empty()).then(|| string(&event.job_type)),
    );
    optional("nbu.job.sub_type", d.sub_type.as_deref().map(string));
    optional("nbu.job.policy.name", d.policy_name.as_deref().map(string));
    optional(
        "nbu.job.policy.type",
        (!event.policy_type.is_empty()).then(|| string(&event.policy_type)),
    );
    optional("nbu.job.schedule", d.schedule.as_deref().map(string));
    optional("nbu.job.client", d.client.as_deref().map(string));
    optional("nbu.job.status", event.status.map(IntValue));
    optional("nbu.job.status_message", event.status_message().map(string));
    optional("nbu.job.tries", d.tries.map(int));
    optional("nbu.job.bytes", Some(int(event.bytes)));
    optional("nbu.job.files", d.files.map(int));
    optional("nbu.job.duration", event.duration_seconds.map(DoubleValue));
    optional(
        "nbu.job.storage_unit",
        d.storage_unit.as_deref().map(string),
    );
    optional(
        "nbu.job.media_server",
        d.media_server.as_deref().map(string),
    );
    optional("nbu.job.reason", event.reason_text().map(string));
    optional(
        "nbu.job.reason_missing",
        event.reason_missing().map(|m| string(m.as_str())),
    );
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::collect::job_event::{JobDetails, Reason, ReasonMissing};

    fn event(status: Option<i64>, reason: Reason) -> JobEvent {
        JobEvent {
            site: Arc::from("primary-a"),
            job_id: 4711,
            job_type: "BACKUP".into(),
            policy_type: "VMWARE".into(),
            status,
            start_ms: Some(1_700_000_000_000),
            end_ms: Some(1_700_000_060_000),
            bytes: 4096,
            duration_seconds: Some(60.0),
            details: JobDetails {
                client: Some("client-0042.example.com".into()),
                policy_name: Some("pol-007".into()),
                schedule: Some("daily".into()),
                tries: Some(2),
                ..JobDetails::default()
            },
            observed_ms: 1_700_000_090_000,
            reason,
        }
    }

    fn find<'a>(record: &'a LogRecord, key: &str) -> Option<&'a any_value::Value> {
        record
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    #[test]
    fn a_failed_job_is_an_error_record_at_its_end_time_with_its_reason() {
        let r = record(&event(
            Some(13),
            Reason::Found {
                status_message: Some("file read failed".into()),
                text: "file read failed; cannot open /data".into(),
            },
        ));
        assert_eq!(r.time_unix_nano, 1_700_000_060_000_000_000);
        assert_eq!(r.observed_time_unix_nano, 1_700_000_090_000_000_000);
        assert_eq!(r.severity_number, SeverityNumber::Error as i32);
        assert_eq!(r.severity_text, "ERROR");
        assert_eq!(r.event_name, EVENT_NAME);
        assert_eq!(
            find(&r, "error.type"),
            Some(&any_value::Value::StringValue("13".into()))
        );
        assert_eq!(
            find(&r, "nbu.job.reason"),
            Some(&any_value::Value::StringValue(
                "file read failed; cannot open /data".into()
            ))
        );
        assert_eq!(find(&r, "nbu.job.reason_missing"), None);
        assert_eq!(
            find(&r, "nbu.job.tries"),
            Some(&any_value::Value::IntValue(2))
        );
        assert_eq!(find(&r, "nbu.job.parent_id"), None, "absent is left out");
        let body = match r.body.and_then(|b| b.value) {
            Some(any_value::Value::StringValue(s)) => s,
            other => panic!("{other:?}"),
        };
        assert!(
            body.ends_with("failed with status 13: file read failed"),
            "{body}"
        );
    }

    #[test]
    fn a_success_has_no_error_type_and_a_missing_reason_says_why() {
        let ok = record(&event(Some(0), Reason::NotNeeded));
        assert_eq!(ok.severity_text, "INFO");
        assert_eq!(find(&ok, "error.type"), None);
        let partial = record(&event(Some(1), Reason::Missing(ReasonMissing::Budget)));
        assert_eq!(partial.severity_text, "WARN");
        assert_eq!(
            find(&partial, "nbu.job.reason_missing"),
            Some(&any_value::Value::StringValue("budget".into()))
        );
        // The standard message stands in for the try's.
        assert_eq!(
            find(&partial, "nbu.job.status_message"),
            Some(&any_value::Value::StringValue(
                "the requested operation was partially successful".into()
            ))
        );
    }
}
