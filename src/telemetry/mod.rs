//! Telemetry: the metric catalog, OpenTelemetry instruments, OTLP export, the Prometheus
//! bridge, traces and logs.

pub mod bridge;
pub mod catalog;
pub mod instruments;
pub mod logs;
pub mod otlp;
pub mod pipeline;
pub mod split;
pub mod tally;
