//! Events of the configuration: exposed secrets, reloads applied or rejected, the shard taken,
//! and sites beyond those the push was planned for.

use std::fmt::Display;

use super::{Counter, Events};

impl Events {
    /// The deployment exposes a secret (credentials that travel over plain http, a file
    /// holding a secret that other users can read); `warning` names what to change. Logged at
    /// `warn`, at start and by `check`.
    pub fn exposure_found(&self, warning: &dyn Display) {
        tracing::warn!("{warning}");
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
}
