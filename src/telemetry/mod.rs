//! Telemetry: the metric catalog, OpenTelemetry instruments, OTLP export, the Prometheus
//! bridge, traces and logs.

pub mod bridge;
pub mod catalog;
pub mod export_retry;
pub mod exporter_error;
pub mod instruments;
pub mod log_format;
pub mod logs;
pub mod otlp;
pub mod otlp_http;
pub mod pipeline;
pub mod split;
pub mod tally;
