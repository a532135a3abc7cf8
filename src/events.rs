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

use std::fmt::{Debug, Display};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tracing::Span;

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

    /// One HTTP exchange with NetBackup ended: `outcome` is the status code (`"200"`) or the
    /// error type of a transport failure (`"timeout"`, `"connect"`, `"tls"`). Counted in
    /// `nbu.api.requests`; not logged.
    pub fn request_answered(&self, site: &str, endpoint: &str, outcome: &str) {
        self.count(
            Counter::ApiRequests,
            &[("site", site), ("endpoint", endpoint), ("status", outcome)],
            1,
        );
    }

    /// A request failed in a way worth another try, which comes after `wait`. Logged at
    /// `debug` (a retry that later succeeds is not an error); in a request span the line is a
    /// span event with the same fields.
    pub fn request_retried(
        &self,
        site: &str,
        endpoint: &str,
        attempt: u32,
        wait: Duration,
        error_type: &'static str,
    ) {
        tracing::debug!(
            site = %site,
            endpoint = %endpoint,
            attempt,
            wait_ms = wait.as_millis() as u64,
            error.type = %error_type,
            "retrying NetBackup request"
        );
    }

    /// A request (or the decoding of its answer) failed for good: `error.type` and an error
    /// status on `span`, the request's span. The failure itself is reported by the source that
    /// made the request ([`Events::source_failed`]).
    pub fn request_failed(&self, span: &Span, error_type: &'static str) {
        record_error(span, error_type);
    }

    /// One attempt of a request failed (it may be retried, or be the last): `error.type` and
    /// an error status on `span`, the attempt's client span. Retries are logged by
    /// [`Events::request_retried`], the request's failure by [`Events::request_failed`].
    pub fn attempt_failed(&self, span: &Span, error_type: &'static str) {
        record_error(span, error_type);
    }

    /// `count` records of one page of `endpoint` were skipped because they are broken (`what`:
    /// `"job"`, `"storage unit"`); the rest of the page is kept. Logged at `warn`, one line per
    /// page naming the first broken record (`job_id`, when known) and why; counted in
    /// `nbu.api.records.skipped`.
    pub fn records_skipped(
        &self,
        site: &str,
        endpoint: &str,
        what: &str,
        count: u64,
        job_id: Option<u64>,
        reason: &dyn Display,
    ) {
        tracing::warn!(
            site = %site,
            endpoint = %endpoint,
            job_id,
            skipped = count,
            "skipped {count} broken {what} record(s) of a page, the rest is kept: {reason}"
        );
        self.count(
            Counter::RecordsSkipped,
            &[("site", site), ("endpoint", endpoint)],
            count,
        );
    }

    /// A source of a site failed in this cycle: counted in `nbu.collection.errors`, with
    /// `error.type` as its `kind`, and `error.type` put on the current span (the cycle's).
    /// The failures of a cycle are logged together once ([`Events::collection_failed`]).
    pub fn source_failed(&self, site: &str, source: &str, error_type: &'static str) {
        self.count_collection_error(site, source, error_type);
        Span::current().record("error.type", error_type);
    }

    /// The sources of a site that failed in one cycle, logged at `warn` in one line per cycle
    /// whatever their number (a site that is down fills no log): `error.type` of the first,
    /// `error` the messages of all.
    pub fn collection_failed(
        &self,
        site: &str,
        sources: &[&str],
        error_type: &'static str,
        error: &str,
    ) {
        tracing::warn!(
            site = %site,
            sources = ?sources,
            error.type = %error_type,
            error = %error,
            "collection failed"
        );
    }

    /// The client of a site could not be built: the site is not collected until its
    /// configuration changes. Logged at `error`; counted in `nbu.collection.errors` with
    /// `source="setup"`.
    pub fn site_setup_failed(&self, site: &str, error_type: &'static str, error: &dyn Display) {
        tracing::error!(site = %site, error.type = %error_type, error = %error, "site cannot be collected");
        self.count_collection_error(site, "setup", error_type);
    }

    /// A site's collection task panicked (a bug) and is restarted after `restart_in`; `panics`
    /// in a row so far. Logged at `error`; counted in `nbu.collection.errors` with
    /// `source="task"`, `kind="panic"`.
    pub fn site_task_panicked(&self, site: &str, message: &str, panics: u32, restart_in: Duration) {
        tracing::error!(
            site = %site,
            error.type = %"panic",
            panic = %message,
            panics,
            restart_in_s = restart_in.as_secs_f64(),
            "the site's collection task panicked; restarting it"
        );
        self.count_collection_error(site, "task", "panic");
    }

    /// A cycle of a site was abandoned after `cycle_timeout`; `message` says so for the
    /// snapshot too. Logged at `warn`; counted in `nbu.collection.errors` with
    /// `source="cycle"`, `kind="timeout"`.
    pub fn cycle_timed_out(&self, site: &str, message: &str) {
        tracing::warn!(site = %site, error.type = %"timeout", "{message}");
        self.count_collection_error(site, "cycle", "timeout");
    }

    /// A cycle took longer than `interval`: logged at `warn` when a run of such cycles starts
    /// (`streak`, the site's), not at every one.
    pub fn cycle_overran(
        &self,
        streak: &FailureStreak,
        site: &str,
        took: Duration,
        interval: Duration,
    ) {
        if streak.fail() {
            tracing::warn!(
                site = %site,
                took_s = took.as_secs_f64(),
                interval_s = interval.as_secs_f64(),
                "a collection took longer than jobs_interval; the next starts one interval after it ended"
            );
        }
    }

    /// A cycle fit in its interval: logged at `info` when it ends a run of cycles that did not.
    pub fn cycle_fit(&self, streak: &FailureStreak, site: &str) {
        if streak.succeed().is_some() {
            tracing::info!(site = %site, "collections fit in jobs_interval again");
        }
    }

    /// A site's new snapshot replaced the previous one. Logged at `debug`.
    pub fn snapshot_published(&self, site: &str, up: bool) {
        tracing::debug!(site = %site, up, "snapshot published");
    }

    /// The deployment exposes a secret (credentials that travel over plain http, a file
    /// holding a secret that other users can read); `warning` names what to change. Logged at
    /// `warn`, at start and by `check`.
    pub fn exposure_found(&self, warning: &dyn Display) {
        tracing::warn!("{warning}");
    }

    /// A setting of `site` exposes its API key (`warning` names what to change; `key_file`,
    /// the API key file and its permission bits, when the file is what is exposed). Logged
    /// at `warn` each time the site's client is built.
    pub fn site_exposure_found(&self, site: &str, warning: &str, key_file: Option<(&Path, u32)>) {
        tracing::warn!(
            site = %site,
            file = key_file.map(|(file, _)| file.display().to_string()),
            mode = key_file.map(|(_, mode)| format!("{mode:o}")),
            "{warning}"
        );
    }

    /// A new configuration was applied: sites added, removed and restarted, and sections that
    /// changed but wait for a restart (logged at `warn` when there are any). Logged at `info`;
    /// counted in `nbu.config.reloads` with `result="success"`.
    pub fn reload_applied(
        &self,
        added: &[String],
        removed: &[String],
        changed: &[String],
        needs_restart: &[&str],
    ) {
        self.count(Counter::ConfigReloads, &[("result", "success")], 1);
        tracing::info!(
            added = ?added,
            removed = ?removed,
            changed = ?changed,
            "configuration reloaded"
        );
        if !needs_restart.is_empty() {
            tracing::warn!(
                sections = ?needs_restart,
                "these sections changed but take effect only after a restart"
            );
        }
    }

    /// A new configuration was refused (every problem in `error`); the agent runs on the
    /// previous one. Logged at `error`; counted in `nbu.config.reloads` with
    /// `result="failure"`.
    pub fn reload_rejected(&self, error: &dyn Display) {
        self.count(Counter::ConfigReloads, &[("result", "failure")], 1);
        tracing::error!(
            "configuration reload failed; still running on the previous configuration:\n{error}"
        );
    }

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

    /// The API version of a site was agreed with NetBackup (or the pinned one verified).
    /// Logged at `info`, in the cycle's span.
    pub fn api_version_agreed(&self, site: &str, api_version: &dyn Display) {
        tracing::info!(site = %site, api_version = %api_version, "API version agreed");
    }

    /// An enabled opt-in source has no endpoint in the site's API version, so it is not
    /// collected. Logged at `info` when the version that lacks it is first seen, not at every
    /// cycle.
    pub fn source_unsupported(&self, site: &str, source: &str, api_version: &dyn Display) {
        tracing::info!(
            site = %site,
            source = %source,
            api_version = %api_version,
            "the source is enabled but NetBackup's API version has no endpoint for it; it is not collected"
        );
    }

    /// NetBackup answered a jobs walk without a `Date` header, so the jobs window follows the
    /// agent's clock. Logged at `warn` once per job store, in the walk's span (which names
    /// the site).
    pub fn server_clock_missing(&self) {
        tracing::warn!("NetBackup sent no Date header: the jobs window follows the agent's clock");
    }

    /// This replica collects shard `index` of `count`: `own` of the configuration's `total`
    /// sites. Logged at `info` when the agent starts; at `warn` when the shard holds no site.
    pub fn shard_taken(&self, index: u32, count: u32, own: usize, total: usize) {
        if own == 0 {
            tracing::warn!(
                shard = index,
                shards = count,
                sites = total,
                "this replica's shard holds no site: it collects nothing (fewer sites than shards)"
            );
        } else {
            tracing::info!(
                shard = index,
                shards = count,
                own,
                sites = total,
                "collecting the sites of this replica's shard"
            );
        }
    }

    /// Answers of `site` agreed, several in a row, on a clock other than the one trusted so
    /// far (which would stand at `expected`): the jobs source follows NetBackup's new clock
    /// `said`. Logged at `warn`.
    pub fn server_clock_changed(&self, site: &str, expected: DateTime<Utc>, said: DateTime<Utc>) {
        tracing::warn!(
            site = %site,
            source = "jobs",
            %expected,
            %said,
            "NetBackup's clock changed and its answers agree on the new one: following it"
        );
    }

    /// More clients are allowlisted than `sources.clients.max_clients`: `over` are left out
    /// (and reported in `nbu_clients_over_cap`). Logged at `warn` at each collection of the
    /// clients source, in its span.
    pub fn clients_over_cap(&self, site: &str, over: usize, max_clients: usize) {
        tracing::warn!(
            site = %site,
            source = "clients",
            over,
            max_clients,
            "more allowlisted clients than sources.clients.max_clients; the first by name are covered"
        );
    }

    /// A configuration has more sites than the OTLP push was planned for at start
    /// (`planned`, logged as `room`). Logged at `warn` at each reload that applies such a
    /// configuration.
    pub fn sites_beyond_planned(&self, sites: usize, planned: usize) {
        tracing::warn!(
            sites,
            room = planned,
            "more sites than the OTLP push has room for until a restart: the per-site series (nbu.up, nbu.source.stale, ...) of the sites beyond are folded into one series marked otel.metric.overflow=\"true\"; the /metrics bridge has them all"
        );
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

    /// The HTTP server could not accept a connection (out of file descriptors, say). Logged
    /// at `warn` when a run of such failures starts (`streak`, the server's), not at each
    /// one: the server retries every 100 ms.
    pub fn accept_failed(&self, streak: &FailureStreak, error: &dyn Display) {
        if streak.fail() {
            tracing::warn!(error = %error, "accepting a connection failed");
        }
    }

    /// The HTTP server accepted a connection: logged at `info` when it ends a run of failed
    /// accepts, with their number.
    pub fn accept_succeeded(&self, streak: &FailureStreak) {
        if let Some((failures, since)) = streak.succeed() {
            tracing::info!(
                failed_accepts = failures,
                down_for_s = since.as_secs(),
                "accepting connections again"
            );
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

/// A run of failures of something tried again on its own (an export, a cycle that overruns,
/// an accept): the failure that starts the run and the success that ends it are worth a log
/// line each, the failures between only a count.
#[derive(Debug, Default)]
pub struct FailureStreak {
    /// When the current run started, and its failures so far.
    run: Mutex<Option<(Instant, u64)>>,
}

impl FailureStreak {
    /// A streak with no failure yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes a failure: whether it starts a run.
    pub fn fail(&self) -> bool {
        let mut run = self.run.lock().unwrap_or_else(|p| p.into_inner());
        match run.as_mut() {
            Some((_, failures)) => {
                *failures += 1;
                false
            }
            None => {
                *run = Some((Instant::now(), 1));
                true
            }
        }
    }

    /// Notes a success: the failures and the duration of the run it ends, if it ends one.
    pub fn succeed(&self) -> Option<(u64, Duration)> {
        let mut run = self.run.lock().unwrap_or_else(|p| p.into_inner());
        run.take()
            .map(|(since, failures)| (failures, since.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Recorded(Mutex<Vec<(Counter, String, u64)>>);

    impl CounterSink for Recorded {
        fn add(&self, counter: Counter, labels: &[(&'static str, &str)], n: u64) {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((counter, labels.join(","), n));
        }
    }

    #[test]
    fn error_type_is_counted_as_kind() {
        let recorded = Arc::new(Recorded::default());
        let events = Events::counting_in(recorded.clone());
        events.source_failed("a", "jobs", "timeout");
        events.site_task_panicked("a", "boom", 1, Duration::from_secs(1));
        let seen = recorded.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(
            seen,
            vec![
                (
                    Counter::CollectionErrors,
                    "site=a,source=jobs,kind=timeout".to_owned(),
                    1
                ),
                (
                    Counter::CollectionErrors,
                    "site=a,source=task,kind=panic".to_owned(),
                    1
                ),
            ]
        );
    }

    #[test]
    fn a_streak_speaks_when_it_starts_and_when_it_ends() {
        let streak = FailureStreak::new();
        assert_eq!(streak.succeed(), None, "no run to end");
        assert!(streak.fail(), "the first failure starts a run");
        assert!(!streak.fail());
        assert!(!streak.fail());
        let (failures, _) = streak.succeed().expect("the run ends");
        assert_eq!(failures, 3);
        assert_eq!(streak.succeed(), None);
        assert!(streak.fail(), "a new run");
    }

    /// The log lines written while `emit` runs, as the agent's text format writes them.
    fn logged(emit: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = buffer.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn a_run_of_failed_accepts_is_logged_once_and_its_end_with_the_count() {
        let events = Events::uncounted();
        let streak = FailureStreak::new();
        let log = logged(|| {
            for _ in 0..50 {
                events.accept_failed(&streak, &"too many open files");
            }
            events.accept_succeeded(&streak);
            events.accept_succeeded(&streak);
        });
        assert_eq!(
            log.matches("accepting a connection failed").count(),
            1,
            "{log}"
        );
        assert!(log.contains("too many open files"), "{log}");
        assert_eq!(
            log.matches("accepting connections again").count(),
            1,
            "{log}"
        );
        assert!(log.contains("failed_accepts=50"), "{log}");
    }

    #[test]
    fn each_event_logs_its_message_with_its_fields_and_counts_where_documented() {
        let recorded = Arc::new(Recorded::default());
        let events = Events::counting_in(recorded.clone());
        let log = logged(|| {
            events.cycle_timed_out("a", "the cycle was abandoned after 10m");
            events.reload_applied(&["b".to_owned()], &[], &[], &["otlp"]);
            events.reload_rejected(&"collection.jobs_interval: expected a duration");
            events.sites_beyond_planned(150, 100);
            events.series_overflowed("nbu.up");
            events.export_oversized(2, 4_194_304);
            events.export_partially_rejected(7, "too many labels");
            events.flush_missed(Duration::from_secs(8));
        });
        for expected in [
            "the cycle was abandoned after 10m",
            "error.type=timeout",
            "configuration reloaded",
            "these sections changed but take effect only after a restart",
            "configuration reload failed; still running on the previous configuration",
            "collection.jobs_interval: expected a duration",
            "more sites than the OTLP push has room for",
            "sites=150",
            "metric=nbu.up",
            "a single OTLP data point is larger than otlp.max_message_bytes",
            "max_message_bytes=4194304",
            "the Collector rejected part of an OTLP metric export",
            "rejected_data_points=7",
            "telemetry did not flush before the shutdown deadline",
            "deadline_s=8",
        ] {
            assert!(log.contains(expected), "no {expected:?} in:\n{log}");
        }
        let seen = recorded.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(
            seen,
            vec![
                (
                    Counter::CollectionErrors,
                    "site=a,source=cycle,kind=timeout".to_owned(),
                    1
                ),
                (Counter::ConfigReloads, "result=success".to_owned(), 1),
                (Counter::ConfigReloads, "result=failure".to_owned(), 1),
            ],
            "only the events documented as counted are counted"
        );
    }
}
