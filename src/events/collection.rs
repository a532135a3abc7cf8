//! Events of a site's collection: sources and cycles that fail, overrun or time out, a site
//! that cannot be set up or whose task panicked, snapshots, and what a site's settings expose.

use std::fmt::Display;
use std::path::Path;
use std::time::Duration;

use tracing::Span;

use super::{Events, FailureStreak};

impl Events {
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
}
