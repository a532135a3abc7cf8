//! One site's task: the schedule of its collection cycles, their timeout, panic supervision,
//! and publishing each cycle's snapshot. The cycle itself is [`SiteCycle`].

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::collect::{
    CycleHooks, FinishedJob, JobSync, JobsRead, SiteCollector, SiteCycle, SiteSnapshot,
};
use crate::config::SiteConfig;
use crate::events::{Events, FailureStreak};
use crate::netbackup::ApiError;
use crate::telemetry::instruments::{JobRecorder, SnapshotStore};

use super::job_events::JobEvents;

/// What a site task hands to its successor when a reload restarts it.
#[derive(Debug, Default)]
pub(super) struct Handover {
    /// The last published snapshot.
    pub snapshot: Option<SiteSnapshot>,
    /// The job store, with the record of which finished jobs were reported.
    pub jobs: Option<JobSync>,
}

/// One site's collection loop.
#[derive(Clone)]
pub(super) struct SiteTask {
    pub site: SiteConfig,
    pub store: SnapshotStore,
    pub recorder: JobRecorder,
    pub events: Events,
    /// The agent's job events, when on.
    pub job_events: Option<Arc<JobEvents>>,
    pub stop: watch::Receiver<bool>,
}

/// Restarts of a panicked site task wait this long, doubling per consecutive panic...
const RESTART_BACKOFF: Duration = Duration::from_secs(1);
/// ...up to this.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(300);
/// A task that ran this long before panicking starts the backoff afresh.
const HEALTHY_RUN: Duration = Duration::from_secs(600);

/// The wait before restart number `panics` (1 = first) of a panicked site task.
fn restart_backoff(panics: u32) -> Duration {
    RESTART_BACKOFF
        .saturating_mul(1u32 << panics.saturating_sub(1).min(16))
        .min(MAX_RESTART_BACKOFF)
}

/// The text of a panic payload.
pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

impl SiteTask {
    /// Runs the site's loop under supervision: a panic (a bug) is logged, counted in
    /// `nbu.collection.errors` (`source="task"`, `kind="panic"`), shown as the site's last
    /// error, and the loop restarted after a backoff, with the last snapshot but a fresh job
    /// store. Returns what the loop hands over when it is stopped.
    pub async fn supervise(
        self,
        collector: Result<Arc<SiteCollector>, ApiError>,
        handover: Handover,
    ) -> Handover {
        let name = self.site.name.clone();
        let mut stop = self.stop.clone();
        let mut handover = handover;
        let mut panics = 0u32;
        loop {
            let started = Instant::now();
            let run = tokio::spawn(self.clone().run(collector.clone(), handover));
            let error = match run.await {
                Ok(handover) => return handover,
                Err(e) if e.is_panic() => e,
                // Cancelled: the runtime is shutting down.
                Err(_) => return Handover::default(),
            };
            let message = panic_message(error.into_panic().as_ref());
            if started.elapsed() >= HEALTHY_RUN {
                panics = 0;
            }
            panics = panics.saturating_add(1);
            let wait = restart_backoff(panics);
            self.events
                .site_task_panicked(&name, &message, panics, wait);
            let mut snapshot = self
                .store
                .get(&name)
                .map_or_else(|| SiteSnapshot::empty(&name), |s| (*s).clone());
            snapshot.up = false;
            snapshot.last_error = Some(format!(
                "the collection task panicked ({message}); restarting in {wait:?}"
            ));
            self.publish(snapshot.clone());
            handover = Handover {
                snapshot: Some(snapshot),
                jobs: None,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|stop| *stop) => return handover,
            }
        }
    }

    /// Runs the site's cycles on their schedule until stopped, and returns what it hands to
    /// its successor.
    pub async fn run(
        self,
        collector: Result<Arc<SiteCollector>, ApiError>,
        handover: Handover,
    ) -> Handover {
        let name = self.site.name.clone();
        let mut stop = self.stop.clone();
        let collector = match collector {
            Ok(c) => c,
            Err(e) => {
                self.events.site_setup_failed(&name, e.kind(), &e);
                let mut snapshot = SiteSnapshot::empty(&name);
                snapshot.last_error = Some(e.to_string());
                self.publish(snapshot);
                let _ = stop.wait_for(|stop| *stop).await;
                return handover;
            }
        };
        let snapshot = handover
            .snapshot
            .unwrap_or_else(|| SiteSnapshot::empty(&name));
        let mut state = SiteCycle::resume(snapshot, handover.jobs, self.site.api_version);
        // Sources switched off by a reload leave the snapshot; new ones are due at once.
        state.configure(
            self.job_events.as_ref().map(|j| j.filter()),
            &self.site.sources,
        );
        let interval = self.site.collection.jobs_interval;
        let cycle_timeout = self.site.collection.cycle_timeout;
        let overrunning = FailureStreak::new();
        // A small start delay spreads sites (and agents) over the interval.
        let mut next = Instant::now() + start_delay(&name, interval);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = stop.wait_for(|stop| *stop) => return into_handover(state),
            }
            let started = Instant::now();
            // A full walk of a large window may take longer than a cycle may: it is bounded by
            // its requests' own timeouts and retries, and logs its progress.
            let limit = if state.needs_full_walk(&collector) {
                Duration::MAX
            } else {
                cycle_timeout
            };
            let cycle = tokio::time::timeout(limit, self.cycle(&collector, &mut state));
            tokio::select! {
                finished = cycle => {
                    if finished.is_err() {
                        let e = format!(
                            "collection abandoned after cycle_timeout ({cycle_timeout:?})"
                        );
                        self.events.cycle_timed_out(&name, &e);
                        state.abandoned(e);
                    }
                }
                _ = stop.wait_for(|stop| *stop) => return into_handover(state),
            }
            state.close(&collector);
            self.publish(state.snapshot().clone());
            // A collection longer than the interval delays the next one by a whole interval:
            // a slow NetBackup is not asked again at once.
            let took = started.elapsed();
            if took > interval {
                self.events
                    .cycle_overran(&overrunning, &name, took, interval);
                next = Instant::now() + interval;
            } else {
                self.events.cycle_fit(&overrunning, &name);
                next = started + interval;
            }
        }
    }

    /// Publishes the site's new snapshot.
    fn publish(&self, snapshot: SiteSnapshot) {
        self.events.snapshot_published(&snapshot.site, snapshot.up);
        self.store.publish(snapshot);
    }

    /// One cycle in the site's `nbu.collect` span: the collection, then its failures logged
    /// (in the span, so the line carries its trace id).
    async fn cycle(&self, collector: &SiteCollector, state: &mut SiteCycle) {
        let span = tracing::info_span!(
            "nbu.collect",
            site = %self.site.name,
            nbu.api_version = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        async {
            state.run(collector, self).await;
            self.log_failures(state.take_errors());
        }
        .instrument(span)
        .await;
    }

    /// One line per failed cycle, whatever the number of failed sources: a site that is down
    /// fills no log.
    fn log_failures(&self, errors: Vec<(&'static str, ApiError)>) {
        let Some((_, first)) = errors.first() else {
            return;
        };
        let sources: Vec<&str> = errors.iter().map(|(s, _)| *s).collect();
        let details: Vec<String> = errors
            .iter()
            .map(|(source, e)| format!("{source}: {e}"))
            .collect();
        self.events
            .collection_failed(&self.site.name, &sources, first.kind(), &details.join("; "));
    }
}

/// The running agent's part in a cycle: the instruments record each finished job once, and
/// job events (when on) take them and look up their reasons after the walk.
impl CycleHooks for SiteTask {
    fn before_jobs(&self, site: &Arc<str>) -> bool {
        self.job_events
            .as_ref()
            .is_some_and(|j| j.begin_cycle(site))
    }

    fn job_finished(&self, site: &Arc<str>, job: &FinishedJob<'_>, offered: bool) {
        self.recorder.job_finished(site, job);
        if offered && let Some(j) = &self.job_events {
            j.offer(site, job);
        }
    }

    fn after_jobs<'a>(
        &'a self,
        site: &'a Arc<str>,
        read: Option<JobsRead<'a>>,
    ) -> BoxFuture<'a, Option<u64>> {
        Box::pin(async move {
            let j = self.job_events.as_ref()?;
            if let Some(read) = read {
                j.end_cycle(site, read.server_time, read.client, read.version)
                    .instrument(tracing::info_span!("nbu.collect.job_events", site = %site))
                    .await;
            }
            Some(j.outbox().waiting_of(site) as u64)
        })
    }
}

/// What a stopped site hands over: its snapshot and job store.
fn into_handover(state: SiteCycle) -> Handover {
    let (snapshot, jobs) = state.into_parts();
    Handover {
        snapshot: Some(snapshot),
        jobs: Some(jobs),
    }
}

/// A start delay in [0, min(interval / 10, 5 s)), derived from the site name so that sites
/// spread out but a restart keeps the same phase.
fn start_delay(site: &str, interval: Duration) -> Duration {
    let max = (interval / 10).min(Duration::from_secs(5));
    let hash = site.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    max.mul_f64((hash % 1000) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_backoff_doubles_and_is_capped() {
        assert_eq!(restart_backoff(1), RESTART_BACKOFF);
        assert_eq!(restart_backoff(2), RESTART_BACKOFF * 2);
        assert_eq!(restart_backoff(100), MAX_RESTART_BACKOFF);
    }

    #[test]
    fn start_delay_is_bounded() {
        for site in ["a", "b", "primary-1", "x.y.z"] {
            assert!(start_delay(site, Duration::from_secs(60)) < Duration::from_secs(5));
            assert!(start_delay(site, Duration::from_secs(1)) < Duration::from_millis(100));
        }
    }
}
