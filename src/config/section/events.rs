//! `events`: job outcomes as OpenTelemetry log records. Its keys and rules: the switch, which
//! statuses are reported, the try-log lookups for NetBackup's reason, the bound of the records
//! waiting for the Collector, and the checkpoint directory.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::declare::section;
use crate::config::option_types::FirstStart;
use crate::config::raw::{Scalar, Section};
use crate::config::validate::Validator;
use crate::config::validate::scalar::{self, Within, hours, ms, secs};

section! {
    /// One OTLP log record per finished job (by default, per job that did not succeed), sent to
    /// `otlp.endpoint` with the OTLP settings of the metric push.
    #[derive(Debug, Clone, PartialEq)]
    pub struct EventsConfig {
        /// Send job outcomes as OTLP log records.
        enabled: bool = false, parse scalar::boolean;
        /// Also report jobs that succeeded (status 0); by default only status 1 and above.
        include_successes: bool = false, parse scalar::boolean;
        /// Ask NetBackup for each failed job's try logs (`/admin/jobs/{jobId}/try-logs`), for its reason.
        try_logs: bool = true, parse scalar::boolean;
        /// The most try-log requests per site and jobs cycle; failed jobs beyond it are sent without their reason.
        try_logs_per_cycle: u32 = 20,
            parse |v, f, x| v.integer(f, x, 0, 1_000, " (requests per cycle)");
        /// The largest reason kept, in bytes (the last try's status message and its WARNING and worse lines).
        reason_max_bytes: usize = 2048,
            parse |v, f, x| v.integer(f, x, 64, 65_536, " (bytes)").map(|n| n as usize);
        /// The most records held for the Collector; more are dropped, counted and logged.
        max_waiting: usize = 20_000,
            parse |v, f, x| v.integer(f, x, 100, 1_000_000, " (records)").map(|n| n as usize);
        /// The most records in one export request.
        max_batch: usize = 512,
            parse |v, f, x| v.integer(f, x, 1, 10_000, " (records)").map(|n| n as usize);
        /// How often waiting records are sent.
        export_interval: Duration = secs(5), within Within::between(ms(100), hours(1));
        /// Also write each job event to the agent's own log (at info, warn or error, as its severity), for a terminal or journald.
        log: bool = false, parse scalar::boolean;
        /// Directory of the per-site checkpoints that carry "reported up to" across restarts; unset = memory only.
        state_dir: Option<PathBuf> = None, parse state_dir;
        /// Without a checkpoint: `new` reports only jobs that finish from now on, `window` every failure of the jobs window once.
        first_start: FirstStart = FirstStart::New,
            parse |v, f, x| v.choice(f, x, &FIRST_STARTS);
    }
    raw RawEvents, patch EventsPatch;
}

/// The values of `events.first_start`.
pub(in crate::config) const FIRST_STARTS: [(&str, FirstStart); 2] =
    [("new", FirstStart::New), ("window", FirstStart::Window)];

/// `events.state_dir`: a path (relative to the configuration file's directory). Whether it can
/// be written is checked when the agent starts, which says what it cannot promise without it.
fn state_dir(v: &mut Validator<'_>, field: &str, value: Option<Scalar>) -> Option<Option<PathBuf>> {
    let text = v.optional_text(field, value)?;
    let path = v.resolve(&text);
    if path.is_file() {
        v.err(
            field,
            format!("{} is a file, not a directory", path.display()),
        );
        return None;
    }
    Some(Some(path))
}

impl Validator<'_> {
    /// The `events` section.
    pub(in crate::config) fn events(
        &mut self,
        raw: Option<Section<RawEvents>>,
    ) -> Option<EventsConfig> {
        self.plain_section("events", raw, |v, raw| {
            EventsPatch::read(v, "events", raw).apply(&EventsConfig::default())
        })
    }
}
