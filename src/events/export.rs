//! Events of the OTLP metric export: exports failed or succeeded, series beyond a limit, data
//! points too large, points the Collector rejected, and a flush missed at shutdown.

use std::fmt::Display;
use std::time::Duration;

use super::{Counter, Events, FailureStreak};

impl Events {
    /// An OTLP metric export failed: counted in `nbu.otlp.exports` with `result="failure"`;
    /// logged at `warn` when a run of failures starts (`streak`, the exporter's), not at every
    /// interval.
    pub fn export_failed(&self, streak: &FailureStreak, error: &dyn Display) {
        self.count(Counter::OtlpExports, &[("result", "failure")], 1);
        if streak.fail() {
            tracing::warn!(
                error = %error,
                "OTLP metric export failing; collection goes on, next success will be logged"
            );
        }
    }

    /// An OTLP metric export succeeded: counted in `nbu.otlp.exports` with
    /// `result="success"`; logged at `info` when it ends a run of failures.
    pub fn export_succeeded(&self, streak: &FailureStreak) {
        self.count(Counter::OtlpExports, &[("result", "success")], 1);
        if let Some((failures, since)) = streak.succeed() {
            tracing::info!(
                failed_exports = failures,
                down_for_s = since.as_secs(),
                "OTLP metric export recovered"
            );
        }
    }

    /// A metric has more series than its limit in the OTLP push, and the SDK folded the rest
    /// into its overflow series. Logged at `warn`; the exporter logs each metric once for the
    /// life of the process.
    pub fn series_overflowed(&self, metric: &str) {
        tracing::warn!(
            metric = %metric,
            "a metric has more series than its limit in the OTLP push (otlp.max_series_per_metric for all sites together, or its bound per site); the rest are folded into one series marked otel.metric.overflow=\"true\" (the /metrics bridge has them all)"
        );
    }

    /// `requests` OTLP requests of one export each hold a single data point larger than
    /// `otlp.max_message_bytes`, and are sent anyway. Logged at `warn`.
    pub fn export_oversized(&self, requests: usize, max_message_bytes: usize) {
        tracing::warn!(
            requests,
            max_message_bytes,
            "a single OTLP data point is larger than otlp.max_message_bytes; sent alone"
        );
    }

    /// The Collector accepted an OTLP request but rejected `rejected_data_points` of it
    /// (`message`, its reason). Logged at `warn`; the export counts as a success.
    pub fn export_partially_rejected(&self, rejected_data_points: i64, message: &str) {
        tracing::warn!(
            rejected_data_points,
            message = %message,
            "the Collector rejected part of an OTLP metric export"
        );
    }

    /// The telemetry providers did not flush within the shutdown `deadline`; the agent exits
    /// anyway. Logged at `warn`.
    pub fn flush_missed(&self, deadline: Duration) {
        tracing::warn!(
            deadline_s = deadline.as_secs(),
            "telemetry did not flush before the shutdown deadline; exiting anyway"
        );
    }
}
