//! The agent's operational events, each declared once: what is logged (one message, one
//! vocabulary of fields), what is put on the current span (the same names as attributes, or
//! the log line itself as a span event), and what is counted.
//!
//! Seven counters are fed here, each by the events its doc names: `nbu.api.requests`
//! (requests answered), `nbu.api.records.skipped` (records skipped), `nbu.collection.errors`
//! (source failed, site setup failed, site task panicked, cycle timed out),
//! `nbu.config.reloads` (reload applied or rejected), `nbu.otlp.exports` (export failed or
//! succeeded), `nbu.job_events` (job events delivered or dropped) and
//! `nbu.job_events.try_logs` (try-log lookups). The other events are logged and put on spans
//! only; each method's doc says which it is.
//!
//! Errors carry `error.type`, the OpenTelemetry semantic-convention name, in logs and spans.
//! The error counter `nbu.collection.errors` keeps its label `kind`, a name dashboards and
//! alert rules depend on: this module is the one place that maps `error.type` to `kind`.
//! Values are bounded: error types are short fixed names (`timeout`, `unauthorized`, ...),
//! sources and endpoints come from fixed lists.
//!
//! The module sits below every layer and imports none of them. Code that emits holds an
//! [`Events`] handle; counting goes through [`CounterSink`], which the telemetry layer implements
//! and the runtime injects when it builds the agent. So the NetBackup client emits its events
//! without knowing of telemetry, and without counters (a one-shot command, a test) events are
//! still logged and put on spans.
//!
//! One word for counting: whatever counts is a counter; a [`Counter`] names one of the
//! agent's counters, a [`CounterSink`] is where events add to them, and the telemetry layer's
//! `CounterStore` keeps their series for both exports.
//!
//! Events that can repeat every cycle or every export are logged at most once per cycle, or
//! once when a run of failures starts and once when it ends ([`FailureStreak`]).
//!
//! This file holds the counters and the handle; the events are declared by area, each in its
//! own file: `requests.rs` (the NetBackup client), `collection.rs` (a site's collection),
//! `configuration.rs` (exposure, reloads, sharding), `jobs.rs` (job events), `export.rs` (the
//! OTLP metric export), `server.rs` (the HTTP server), and `streak.rs` ([`FailureStreak`]).

use std::fmt::Debug;
use std::sync::Arc;

use tracing::Span;

mod collection;
mod configuration;
mod export;
mod jobs;
mod requests;
mod server;
mod streak;

pub use jobs::JobSeverity;
pub use streak::FailureStreak;

/// A counter of the agent that events add to. The label names are the counter's own,
/// unchanged: they are part of the exposition's contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// `nbu.api.requests`: `site`, `endpoint`, `status`.
    ApiRequests,
    /// `nbu.api.records.skipped`: `site`, `endpoint`.
    RecordsSkipped,
    /// `nbu.collection.errors`: `site`, `source`, `kind`.
    CollectionErrors,
    /// `nbu.config.reloads`: `result`.
    ConfigReloads,
    /// `nbu.otlp.exports`: `result`.
    OtlpExports,
    /// `nbu.job_events`: `site`, `outcome`.
    JobEvents,
    /// `nbu.job_events.try_logs`: `site`, `outcome`.
    TryLogLookups,
}

/// Where events add to the agent's counters (the telemetry layer's counter store).
pub trait CounterSink: Debug + Send + Sync {
    /// Adds `n` to the series of `counter` with these labels, given as (name, value) pairs in
    /// the counter's label order.
    fn add(&self, counter: Counter, labels: &[(&'static str, &str)], n: u64);
}

/// The handle events are emitted through: cheap to clone, shared by every part of an agent.
#[derive(Debug, Clone, Default)]
pub struct Events {
    sink: Option<Arc<dyn CounterSink>>,
}

/// Events that count nothing, for emitters that were given no handle.
static UNCOUNTED: Events = Events { sink: None };

impl Events {
    /// Events counted in `sink`.
    pub fn counting_in(sink: Arc<dyn CounterSink>) -> Self {
        Self { sink: Some(sink) }
    }

    /// Events that are logged and put on spans but counted nowhere.
    pub fn uncounted() -> &'static Events {
        &UNCOUNTED
    }

    fn count(&self, counter: Counter, labels: &[(&'static str, &str)], n: u64) {
        if let Some(sink) = &self.sink {
            sink.add(counter, labels, n);
        }
    }

    fn count_collection_error(&self, site: &str, source: &str, error_type: &str) {
        self.count(
            Counter::CollectionErrors,
            &[("site", site), ("source", source), ("kind", error_type)],
            1,
        );
    }
}

/// `error.type` and an error status on `span`.
fn record_error(span: &Span, error_type: &'static str) {
    span.record("error.type", error_type);
    span.record("otel.status_code", "error");
}

#[cfg(test)]
mod tests;
