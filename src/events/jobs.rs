//! Events of the job events: delivered, logged, dropped, exported, try-log lookups, and their
//! checkpoints.

use std::fmt::Display;

use super::{Counter, Events, FailureStreak};

/// The severity of a job event written to the agent's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobSeverity {
    /// A success.
    Info,
    /// A partial success.
    Warn,
    /// A failure.
    Error,
}

impl Events {
    /// Job events of `site` reached the Collector: counted in `nbu.job_events` with
    /// `outcome="delivered"`; logged at `debug`.
    pub fn job_events_delivered(&self, site: &str, n: u64) {
        self.count(
            Counter::JobEvents,
            &[("site", site), ("outcome", "delivered")],
            n,
        );
        tracing::debug!(site = %site, records = n, "job events delivered");
    }

    /// A job event was queued, and the configuration asks for it in the agent's log
    /// (`events.log`): logged at the event's severity with its sentence and reason.
    pub fn job_event_logged(
        &self,
        site: &str,
        job_id: u64,
        severity: JobSeverity,
        body: &str,
        reason: Option<&str>,
    ) {
        match severity {
            JobSeverity::Info => tracing::info!(site = %site, job_id, reason, "{body}"),
            JobSeverity::Warn => tracing::warn!(site = %site, job_id, reason, "{body}"),
            JobSeverity::Error => tracing::error!(site = %site, job_id, reason, "{body}"),
        }
    }

    /// A job event of `site` was dropped because `max_waiting` events already wait for the
    /// Collector: counted in `nbu.job_events` with `outcome="dropped"`; logged at `warn` when
    /// a run of drops starts (`streak`), and when it ends.
    pub fn job_event_dropped(
        &self,
        streak: &FailureStreak,
        site: &str,
        job_id: u64,
        max_waiting: usize,
    ) {
        self.count(
            Counter::JobEvents,
            &[("site", site), ("outcome", "dropped")],
            1,
        );
        if streak.fail() {
            tracing::warn!(
                site = %site,
                job_id,
                max_waiting,
                "job events dropped: events.max_waiting records already wait for the Collector; \
                 the dropped jobs are counted in nbu_job_events_total{{outcome=\"dropped\"}} and never sent"
            );
        }
    }

    /// A job event was queued after a run of drops: logged at `info` with the drops' count.
    pub fn job_events_queued(&self, streak: &FailureStreak) {
        if let Some((dropped, since)) = streak.succeed() {
            tracing::info!(
                dropped,
                for_s = since.as_secs(),
                "job events queued again after drops"
            );
        }
    }

    /// An export of job events failed; they wait and are sent again. Logged at `warn` when a
    /// run of failures starts (`streak`), not at every try.
    pub fn job_events_export_failed(
        &self,
        streak: &FailureStreak,
        waiting: usize,
        error: &dyn Display,
    ) {
        if streak.fail() {
            tracing::warn!(
                waiting,
                error = %error,
                "OTLP export of job events failing; they wait and are sent when the Collector answers"
            );
        }
    }

    /// An export of job events succeeded: logged at `info` when it ends a run of failures.
    pub fn job_events_export_succeeded(&self, streak: &FailureStreak) {
        if let Some((failures, since)) = streak.succeed() {
            tracing::info!(
                failed_exports = failures,
                down_for_s = since.as_secs(),
                "OTLP export of job events recovered"
            );
        }
    }

    /// Try-log lookups of `site` ended with `outcome` (`found`, `unavailable`, `failed`,
    /// `skipped`): counted in `nbu.job_events.try_logs`; a failure is logged at `debug`.
    pub fn try_logs_looked_up(&self, site: &str, outcome: &str, n: u64) {
        if n == 0 {
            return;
        }
        self.count(
            Counter::TryLogLookups,
            &[("site", site), ("outcome", outcome)],
            n,
        );
    }

    /// A job's try logs could not be read; its event goes out without NetBackup's reason.
    /// Logged at `debug` (counted by [`Events::try_logs_looked_up`]).
    pub fn try_logs_failed(&self, site: &str, job_id: u64, error: &dyn Display) {
        tracing::debug!(site = %site, job_id, error = %error, "try logs not read");
    }

    /// A site's job events checkpoint could not be read or written. Logged at `warn`.
    pub fn checkpoint_failed(&self, site: &str, error: &dyn Display) {
        tracing::warn!(
            site = %site,
            error = %error,
            "job events checkpoint not kept; after a restart, jobs may be reported twice or missed"
        );
    }

    /// The job events have no durable checkpoint (`why`). Logged at `warn` at start: what a
    /// restart costs.
    pub fn checkpoint_unkept(&self, why: &dyn Display) {
        tracing::warn!(
            why = %why,
            "job events are kept in memory only: jobs that finish while the agent is down are \
             not reported after a restart (set events.state_dir to a writable directory)"
        );
    }
}
