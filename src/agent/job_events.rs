//! The job events' runtime: the outbox the site tasks fill, the try-log lookups after each
//! jobs cycle, the checkpoints on disk, and the loop that sends what waits to the Collector.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::collect::FinishedJob;
use crate::collect::job_event::{EventFilter, JobEvent, Reason, ReasonMissing};
use crate::collect::outbox::{
    JobOutbox, Offered, OutboxSettings, check_state_dir, write_checkpoint,
};
use crate::collect::reasons::{self, Lookup};
use crate::config::EventsConfig;
use crate::events::{Events, FailureStreak};
use crate::netbackup::{ApiVersion, SiteClient};
use crate::telemetry::logs::JobEventExporter;

/// The job events of an agent: shared by its site tasks and its export loop.
#[derive(Debug)]
pub struct JobEvents {
    outbox: JobOutbox,
    config: EventsConfig,
    events: Events,
    /// The current run of events dropped because the outbox was full.
    drops: FailureStreak,
    /// Checkpoint files are written one at a time.
    writing: Mutex<()>,
}

impl JobEvents {
    /// The job events of `config`, emitting through `events`. Checks the state directory: a
    /// directory that cannot be written is said at once, and the checkpoints are kept in
    /// memory only.
    pub fn new(config: &EventsConfig, events: Events) -> Self {
        let state_dir = match &config.state_dir {
            None => {
                events.checkpoint_unkept(&"events.state_dir is not set");
                None
            }
            Some(dir) => match check_state_dir(dir) {
                Ok(()) => Some(dir.clone()),
                Err(e) => {
                    events.checkpoint_unkept(&format!("events.state_dir: {e}"));
                    None
                }
            },
        };
        JobEvents {
            outbox: JobOutbox::new(OutboxSettings {
                max_waiting: config.max_waiting,
                state_dir,
                first_start: config.first_start,
            }),
            config: config.clone(),
            events,
            drops: FailureStreak::new(),
            writing: Mutex::new(()),
        }
    }

    /// Which finished jobs become events.
    pub fn filter(&self) -> EventFilter {
        EventFilter {
            include_successes: self.config.include_successes,
        }
    }

    /// The outbox.
    pub fn outbox(&self) -> &JobOutbox {
        &self.outbox
    }

    /// Before a jobs cycle of `site`: whether its finished jobs are offered.
    pub fn begin_cycle(&self, site: &Arc<str>) -> bool {
        let (offers, error) = self.outbox.begin_cycle(site);
        if let Some(e) = error {
            self.events.checkpoint_failed(site, &e);
        }
        offers
    }

    /// A job the store saw finished for the first time.
    pub fn offer(&self, site: &Arc<str>, job: &FinishedJob<'_>) {
        if !self.filter().reports(job.status) {
            return;
        }
        let mut event = JobEvent::new(site, job, Utc::now().timestamp_millis());
        if !self.config.try_logs && event.reason == Reason::Pending {
            event.reason = Reason::Missing(ReasonMissing::Disabled);
        }
        // A success or an event without lookups is settled now; the others once their reason
        // is known, at the end of the cycle.
        let settled = (self.config.log && event.reason != Reason::Pending).then(|| event.clone());
        match self.outbox.offer(event) {
            Offered::Queued => {
                self.events.job_events_queued(&self.drops);
                if let Some(event) = settled {
                    self.log(&event);
                }
            }
            Offered::Dropped => self.events.job_event_dropped(
                &self.drops,
                site,
                job.job_id,
                self.config.max_waiting,
            ),
            Offered::AlreadyReported => {}
        }
    }

    /// After a successful jobs cycle of `site` that read NetBackup's clock at `server_time`:
    /// looks up the reasons of its new failed jobs (at most `events.try_logs_per_cycle`, through
    /// the site's limiter) and moves its checkpoint.
    pub async fn end_cycle(
        &self,
        site: &Arc<str>,
        server_time: DateTime<Utc>,
        client: &SiteClient,
        version: ApiVersion,
    ) {
        let budget = self.config.try_logs_per_cycle as usize;
        let (wanted, skipped) = self
            .outbox
            .reasons_wanted(site, budget, ReasonMissing::Budget);
        self.events
            .try_logs_looked_up(site, "skipped", skipped.len() as u64);
        let mut tally: BTreeMap<Lookup, u64> = BTreeMap::new();
        let found = reasons::look_up(client, version, &wanted, self.config.reason_max_bytes).await;
        for (job_id, reason, lookup, error) in found {
            if let Some(e) = error {
                self.events.try_logs_failed(site, job_id, &e);
            }
            *tally.entry(lookup).or_default() += 1;
            self.outbox.set_reason(site, job_id, reason);
        }
        for (lookup, n) in tally {
            self.events.try_logs_looked_up(site, lookup.as_str(), n);
        }
        if self.config.log {
            let settled: Vec<u64> = wanted.iter().chain(&skipped).copied().collect();
            for event in self.outbox.events_of(site, &settled) {
                self.log(&event);
            }
        }
        if self.outbox.end_cycle(site, server_time).is_some() {
            self.write(site);
        }
    }

    /// Writes `event` to the agent's log (`events.log`).
    fn log(&self, event: &JobEvent) {
        self.events.job_event_logged(
            &event.site,
            event.job_id,
            event.severity(),
            &event.body(),
            event.reason_text(),
        );
    }

    /// Writes `site`'s current checkpoint, when checkpoints are written.
    fn write(&self, site: &str) {
        let Some(dir) = self.outbox.settings().state_dir.clone() else {
            return;
        };
        let _one_at_a_time = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        // The checkpoint as it is now: a later one may have moved past the caller's.
        if let Some(checkpoint) = self.outbox.checkpoint(site)
            && let Err(e) = write_checkpoint(&dir, site, &checkpoint)
        {
            self.events.checkpoint_failed(site, &e);
        }
    }

    /// Sends what is ready, batch after batch, until nothing is or an export fails.
    async fn send_ready(&self, exporter: &JobEventExporter, streak: &FailureStreak) {
        loop {
            let batch = self.outbox.ready(self.config.max_batch);
            if batch.is_empty() {
                return;
            }
            let result = exporter.export(&batch).await;
            self.outbox
                .record_export(result.as_ref().map(|_| ()).map_err(ToString::to_string));
            match result {
                Ok(()) => {
                    self.events.job_events_export_succeeded(streak);
                    let mut per_site: BTreeMap<&str, u64> = BTreeMap::new();
                    for event in &batch {
                        *per_site.entry(&event.site).or_default() += 1;
                    }
                    for (site, n) in per_site {
                        self.events.job_events_delivered(site, n);
                    }
                    for (site, _) in self.outbox.delivered(&batch) {
                        self.write(&site);
                    }
                }
                Err(e) => {
                    self.events
                        .job_events_export_failed(streak, self.outbox.waiting(), &e);
                    return;
                }
            }
        }
    }

    /// Sends waiting events every `events.export_interval` until `stop`, then once more.
    pub async fn export_loop(
        self: Arc<Self>,
        exporter: JobEventExporter,
        mut stop: watch::Receiver<bool>,
    ) {
        let streak = FailureStreak::new();
        loop {
            let stopping = tokio::select! {
                _ = tokio::time::sleep(self.config.export_interval) => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            self.send_ready(&exporter, &streak).await;
            if stopping {
                return;
            }
        }
    }

    /// The state directory in use, if any.
    pub fn state_dir(&self) -> Option<&PathBuf> {
        self.outbox.settings().state_dir.as_ref()
    }

    /// How long the last flush at shutdown may take.
    pub fn flush_budget(&self) -> Duration {
        self.config.export_interval.min(Duration::from_secs(5))
    }
}
