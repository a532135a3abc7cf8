//! Telemetry: the metric catalog, OpenTelemetry instruments, OTLP export, the Prometheus
//! bridge, traces and logs.
//!
//! One word for counting: whatever counts is a counter; [`crate::events::Counter`] names one
//! of the agent's counters, [`crate::events::CounterSink`] is where events add to them,
//! [`counter_store::CounterStore`] keeps their series (and the job duration histogram's) for
//! both exports, and [`instruments::JobRecorder`] records each finished job into that store
//! and into the push's duration histogram.

pub mod bridge;
pub mod catalog;
pub mod counter_store;
pub mod export_retry;
pub mod exporter_error;
pub mod instruments;
pub mod log_format;
pub mod logs;
pub mod otlp;
pub mod otlp_http;
pub mod pipeline;
pub mod split;
