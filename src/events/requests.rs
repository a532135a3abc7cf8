//! Events of the NetBackup client: requests answered, retried and failed, records skipped,
//! the API version agreed, and NetBackup's clock.

use std::fmt::Display;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::Span;

use super::{Counter, Events, record_error};

impl Events {
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

    /// The API version of a site was agreed with NetBackup (or the pinned one verified).
    /// Logged at `info`, in the cycle's span.
    pub fn api_version_agreed(&self, site: &str, api_version: &dyn Display) {
        tracing::info!(site = %site, api_version = %api_version, "API version agreed");
    }

    /// NetBackup answered a jobs walk without a `Date` header, so the jobs window follows the
    /// agent's clock. Logged at `warn` once per job store, in the walk's span (which names
    /// the site).
    pub fn server_clock_missing(&self) {
        tracing::warn!("NetBackup sent no Date header: the jobs window follows the agent's clock");
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
}
