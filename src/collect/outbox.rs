//! The outbox of job events: every event waits here until an export that carried it
//! succeeded, and a checkpoint per site says which jobs were reported, so that each job is
//! reported once across Collector outages, reloads, resyncs and restarts.
//!
//! # The checkpoint
//!
//! A site's checkpoint is "every job that ended at or before `reported_to` (NetBackup's clock)
//! was reported, and so were the jobs listed after it". After each jobs cycle `reported_to`
//! moves up to the cycle's server time minus [`DELTA_OVERLAP`] (a job that ended earlier was
//! seen by that cycle), but never past a job still waiting (it stays one millisecond before the
//! oldest end among them). A job the Collector acknowledged that ended later is listed by id
//! until `reported_to` passes it. When a site's store is filled again (a restart, a site added
//! back, a resync), a job the checkpoint covers is not offered again.
//!
//! With `events.state_dir` the checkpoint is written to `<state_dir>/events-<site>.json`
//! (written whole to a temporary file, then renamed) whenever it moves, and read at the site's
//! first cycle. Without it, it lives as long as the process.
//!
//! # First start
//!
//! A site without a checkpoint reports, under [`FirstStart::New`], only jobs that finish after
//! its first jobs cycle (the window's jobs are taken as reported), and under
//! [`FirstStart::Window`] every job of the window once.
//!
//! # Bounds
//!
//! At most `events.max_waiting` events wait in all; an event offered beyond it is dropped and
//! counted, and `reported_to` passes it with the others: it is never sent later.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use super::job_event::{JobEvent, Reason};
use super::sync::DELTA_OVERLAP;
use crate::config::FirstStart;
use crate::file_limits::{read_at_most, too_large_limit};

/// The outbox's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxSettings {
    /// The most events waiting in all.
    pub max_waiting: usize,
    /// Where checkpoints are kept; `None`: in memory only.
    pub state_dir: Option<PathBuf>,
    /// What a site without a checkpoint reports.
    pub first_start: FirstStart,
}

/// What became of an offered event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// It waits for export.
    Queued,
    /// The checkpoint says it was reported already.
    AlreadyReported,
    /// The outbox was full: dropped.
    Dropped,
}

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a checkpoint.
    #[error("{path}: not a job events checkpoint ({detail})")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
}

/// A site's checkpoint, as kept and as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Every job that ended at or before this instant (Unix ms, NetBackup's clock) was
    /// reported.
    pub reported_to_ms: i64,
    /// Jobs reported that ended after `reported_to_ms`: `jobId` to its end (Unix ms).
    #[serde(default)]
    pub reported_after: BTreeMap<u64, i64>,
}

impl Checkpoint {
    /// Whether a job of `job_id` that ended at `end_ms` was reported.
    pub fn covers(&self, job_id: u64, end_ms: i64) -> bool {
        end_ms <= self.reported_to_ms || self.reported_after.contains_key(&job_id)
    }
}

/// One site's part of the outbox.
#[derive(Debug, Default)]
struct SiteBox {
    /// The checkpoint, once known (read, or set by the first cycle).
    checkpoint: Option<Checkpoint>,
    /// Whether the file was looked for.
    loaded: bool,
    /// The events waiting, in the order they were offered.
    waiting: VecDeque<JobEvent>,
    /// The job ids of `waiting`, so an offer or a delivery never scans it.
    waiting_ids: FxHashSet<u64>,
    /// The latest instant every job ending before it was seen: the last cycle's server time
    /// minus the delta overlap.
    seen_to_ms: Option<i64>,
}

/// The state behind the lock.
#[derive(Debug, Default)]
struct State {
    sites: BTreeMap<Arc<str>, SiteBox>,
    waiting: usize,
    export: ExportStatus,
}

/// How the exports of the events went, for `/readyz`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportStatus {
    /// Unix time of the last export the Collector accepted.
    pub last_success_unix: Option<u64>,
    /// Unix time of the first failure of the current run of failed exports.
    pub failing_since_unix: Option<u64>,
    /// The last export's error, while exports fail.
    pub last_error: Option<String>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The outbox of every site's job events. Clones share it.
#[derive(Debug, Clone)]
pub struct JobOutbox {
    settings: Arc<OutboxSettings>,
    state: Arc<Mutex<State>>,
}

/// The file of `site`'s checkpoint under `dir`.
pub fn checkpoint_path(dir: &Path, site: &str) -> PathBuf {
    // Site names are letters, digits, `-`, `_` and `.` (validated), so they are file names;
    // anything else is replaced all the same.
    let name: String = site
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("events-{name}.json"))
}

/// Reads `site`'s checkpoint from `dir`: `None` when there is none.
pub fn read_checkpoint(dir: &Path, site: &str) -> Result<Option<Checkpoint>, CheckpointError> {
    let path = checkpoint_path(dir, site);
    // A checkpoint is small: a few ids past the mark. A larger file is refused unread.
    let bytes = match read_at_most(&path, 16 * 1024 * 1024) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if too_large_limit(&e).is_some() => {
            return Err(CheckpointError::Invalid {
                path: path.display().to_string(),
                detail: e.to_string(),
            });
        }
        Err(source) => {
            return Err(CheckpointError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| CheckpointError::Invalid {
            path: path.display().to_string(),
            detail: e.to_string(),
        })
}

/// Writes `site`'s checkpoint under `dir`, whole or not at all (a temporary file renamed).
pub fn write_checkpoint(
    dir: &Path,
    site: &str,
    checkpoint: &Checkpoint,
) -> Result<(), CheckpointError> {
    let path = checkpoint_path(dir, site);
    let io = |source| CheckpointError::Io {
        path: path.display().to_string(),
        source,
    };
    let text = serde_json::to_vec(checkpoint).map_err(|e| io(std::io::Error::other(e)))?;
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text).map_err(io)?;
    std::fs::rename(&temporary, &path).map_err(io)
}

/// Whether the agent can keep checkpoints in `dir`: it exists (or can be made) and a file can
/// be written there.
pub fn check_state_dir(dir: &Path) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let probe = dir.join(".nbu-otel-write-test");
    std::fs::write(&probe, b"").map_err(io)?;
    std::fs::remove_file(&probe).map_err(io)
}

impl JobOutbox {
    /// An empty outbox.
    pub fn new(settings: OutboxSettings) -> Self {
        JobOutbox {
            settings: Arc::new(settings),
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &OutboxSettings {
        &self.settings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Prepares `site` for a jobs cycle: reads its checkpoint the first time. Returns whether
    /// the cycle's finished jobs are offered (false for the first cycle of a site without a
    /// checkpoint under [`FirstStart::New`]), and the error of a checkpoint that could not be
    /// read (the site then starts as without one).
    pub fn begin_cycle(&self, site: &Arc<str>) -> (bool, Option<CheckpointError>) {
        let mut state = self.lock();
        let entry = state.sites.entry(site.clone()).or_default();
        let mut error = None;
        if !entry.loaded {
            entry.loaded = true;
            if let Some(dir) = &self.settings.state_dir {
                match read_checkpoint(dir, site) {
                    Ok(found) => entry.checkpoint = found,
                    Err(e) => error = Some(e),
                }
            }
        }
        let offers = entry.checkpoint.is_some() || self.settings.first_start == FirstStart::Window;
        (offers, error)
    }

    /// Offers the event of a job the store saw finished for the first time.
    pub fn offer(&self, event: JobEvent) -> Offered {
        let mut state = self.lock();
        let full = state.waiting >= self.settings.max_waiting;
        let entry = state.sites.entry(event.site.clone()).or_default();
        if entry
            .checkpoint
            .as_ref()
            .is_some_and(|c| c.covers(event.job_id, event.time_ms()))
            || entry.waiting_ids.contains(&event.job_id)
        {
            return Offered::AlreadyReported;
        }
        if full {
            return Offered::Dropped;
        }
        entry.waiting_ids.insert(event.job_id);
        entry.waiting.push_back(event);
        state.waiting += 1;
        Offered::Queued
    }

    /// Ends `site`'s jobs cycle that read the server's clock at `server_time`: everything that
    /// ended `DELTA_OVERLAP` before it was seen. The first cycle of a site without a checkpoint
    /// sets it. Returns the checkpoint to write when it moved and a state directory is set.
    pub fn end_cycle(&self, site: &Arc<str>, server_time: DateTime<Utc>) -> Option<Checkpoint> {
        let overlap = chrono::Duration::from_std(DELTA_OVERLAP).unwrap_or_default();
        let seen_to = server_time
            .checked_sub_signed(overlap)
            .unwrap_or(server_time)
            .timestamp_millis();
        let mut state = self.lock();
        let entry = state.sites.entry(site.clone()).or_default();
        entry.seen_to_ms = Some(entry.seen_to_ms.map_or(seen_to, |s| s.max(seen_to)));
        let created = entry.checkpoint.is_none();
        if created {
            // First cycle: under `new` the window counts as reported; under `window` nothing
            // does, except what waits.
            let reported_to_ms = match self.settings.first_start {
                FirstStart::New => server_time.timestamp_millis(),
                FirstStart::Window => i64::MIN,
            };
            entry.checkpoint = Some(Checkpoint {
                reported_to_ms,
                reported_after: BTreeMap::new(),
            });
        }
        let moved = advance(entry);
        (created || moved).then(|| self.persisted(entry)).flatten()
    }

    /// The checkpoint of `entry` when checkpoints are written.
    fn persisted(&self, entry: &SiteBox) -> Option<Checkpoint> {
        self.settings.state_dir.as_ref()?;
        entry.checkpoint.clone()
    }

    /// The jobs of `site` waiting for their reason, oldest first: the first `budget` are for
    /// the caller to look up ([`JobOutbox::set_reason`]); the others get `missing` as their
    /// reason and go out without one (their ids come second).
    pub fn reasons_wanted(
        &self,
        site: &str,
        budget: usize,
        missing: super::job_event::ReasonMissing,
    ) -> (Vec<u64>, Vec<u64>) {
        let mut state = self.lock();
        let Some(entry) = state.sites.get_mut(site) else {
            return (Vec::new(), Vec::new());
        };
        let mut wanted = Vec::new();
        let mut skipped = Vec::new();
        for event in entry
            .waiting
            .iter_mut()
            .filter(|e| e.reason == Reason::Pending)
        {
            if wanted.len() < budget {
                wanted.push(event.job_id);
            } else {
                event.reason = Reason::Missing(missing);
                skipped.push(event.job_id);
            }
        }
        (wanted, skipped)
    }

    /// Sets the reason of a waiting job.
    pub fn set_reason(&self, site: &str, job_id: u64, reason: Reason) {
        let mut state = self.lock();
        if let Some(event) = state
            .sites
            .get_mut(site)
            .and_then(|s| s.waiting.iter_mut().find(|e| e.job_id == job_id))
        {
            event.reason = reason;
        }
    }

    /// Up to `max` events ready to send (their reason known or given up), oldest first per
    /// site, sites in name order. They stay in the outbox until [`JobOutbox::delivered`].
    pub fn ready(&self, max: usize) -> Vec<JobEvent> {
        let state = self.lock();
        state
            .sites
            .values()
            .flat_map(|s| s.waiting.iter())
            .filter(|e| e.reason != Reason::Pending)
            .take(max)
            .cloned()
            .collect()
    }

    /// Takes out the events an export carried, and moves their sites' checkpoints. Returns
    /// the checkpoints to write, by site.
    pub fn delivered(&self, events: &[JobEvent]) -> Vec<(Arc<str>, Checkpoint)> {
        let mut state = self.lock();
        let mut moved = Vec::new();
        let mut removed = 0;
        let mut by_site: BTreeMap<&Arc<str>, Vec<&JobEvent>> = BTreeMap::new();
        for event in events {
            by_site.entry(&event.site).or_default().push(event);
        }
        for (site, sent) in by_site {
            let Some(entry) = state.sites.get_mut(site) else {
                continue;
            };
            let before = entry.waiting.len();
            let sent_ids: FxHashSet<u64> = sent.iter().map(|s| s.job_id).collect();
            entry.waiting.retain(|w| !sent_ids.contains(&w.job_id));
            for id in &sent_ids {
                entry.waiting_ids.remove(id);
            }
            removed += before - entry.waiting.len();
            let checkpoint = entry.checkpoint.get_or_insert_with(Checkpoint::default);
            for event in &sent {
                if !checkpoint.covers(event.job_id, event.time_ms()) {
                    checkpoint
                        .reported_after
                        .insert(event.job_id, event.time_ms());
                }
            }
            advance(entry);
            if let Some(c) = self.persisted(entry) {
                moved.push((site.clone(), c));
            }
        }
        state.waiting = state.waiting.saturating_sub(removed);
        moved
    }

    /// Notes the outcome of an export.
    pub fn record_export(&self, result: Result<(), String>) {
        let mut state = self.lock();
        match result {
            Ok(()) => {
                state.export = ExportStatus {
                    last_success_unix: Some(unix_now()),
                    failing_since_unix: None,
                    last_error: None,
                };
            }
            Err(e) => {
                let export = &mut state.export;
                export.failing_since_unix.get_or_insert_with(unix_now);
                export.last_error = Some(e);
            }
        }
    }

    /// How the exports went.
    pub fn export_status(&self) -> ExportStatus {
        self.lock().export.clone()
    }

    /// The waiting events of `site` among `job_ids`, as they are now.
    pub fn events_of(&self, site: &str, job_ids: &[u64]) -> Vec<JobEvent> {
        let state = self.lock();
        state.sites.get(site).map_or_else(Vec::new, |s| {
            s.waiting
                .iter()
                .filter(|e| job_ids.contains(&e.job_id))
                .cloned()
                .collect()
        })
    }

    /// The events waiting, in all.
    pub fn waiting(&self) -> usize {
        self.lock().waiting
    }

    /// The events of `site` waiting.
    pub fn waiting_of(&self, site: &str) -> usize {
        self.lock().sites.get(site).map_or(0, |s| s.waiting.len())
    }

    /// `site`'s checkpoint, when known.
    pub fn checkpoint(&self, site: &str) -> Option<Checkpoint> {
        self.lock()
            .sites
            .get(site)
            .and_then(|s| s.checkpoint.clone())
    }
}

/// Moves `entry`'s checkpoint up to what was seen, never past a job still waiting, and forgets
/// the ids it passes. Returns whether it changed.
fn advance(entry: &mut SiteBox) -> bool {
    let Some(checkpoint) = entry.checkpoint.as_mut() else {
        return false;
    };
    let Some(seen_to) = entry.seen_to_ms else {
        return false;
    };
    let oldest_waiting = entry.waiting.iter().map(JobEvent::time_ms).min();
    let limit = oldest_waiting.map_or(seen_to, |t| seen_to.min(t.saturating_sub(1)));
    let before = checkpoint.clone();
    if limit > checkpoint.reported_to_ms {
        checkpoint.reported_to_ms = limit;
    }
    let mark = checkpoint.reported_to_ms;
    checkpoint.reported_after.retain(|_, end| *end > mark);
    *checkpoint != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::job_event::{JobDetails, ReasonMissing};

    fn event(site: &Arc<str>, id: u64, end_ms: i64) -> JobEvent {
        JobEvent {
            site: site.clone(),
            job_id: id,
            job_type: "BACKUP".into(),
            policy_type: "STANDARD".into(),
            status: Some(13),
            start_ms: Some(end_ms - 1000),
            end_ms: Some(end_ms),
            bytes: 0,
            duration_seconds: Some(1.0),
            details: JobDetails::default(),
            observed_ms: end_ms + 5,
            reason: Reason::Pending,
        }
    }

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap_or_default()
    }

    fn outbox(first_start: FirstStart, dir: Option<&Path>, max: usize) -> JobOutbox {
        JobOutbox::new(OutboxSettings {
            max_waiting: max,
            state_dir: dir.map(Path::to_path_buf),
            first_start,
        })
    }

    const OVERLAP_MS: i64 = DELTA_OVERLAP.as_millis() as i64;

    #[test]
    fn a_first_start_under_new_reports_only_what_finishes_afterwards() {
        let site: Arc<str> = Arc::from("a");
        let outbox = outbox(FirstStart::New, None, 100);
        assert!(
            !outbox.begin_cycle(&site).0,
            "the first fill is not offered"
        );
        outbox.end_cycle(&site, at(1_000_000));
        assert!(outbox.begin_cycle(&site).0);
        // Ended before the first cycle's server time: counted as reported.
        assert_eq!(
            outbox.offer(event(&site, 1, 999_000)),
            Offered::AlreadyReported
        );
        assert_eq!(outbox.offer(event(&site, 2, 1_000_500)), Offered::Queued);
        assert_eq!(
            outbox.offer(event(&site, 2, 1_000_500)),
            Offered::AlreadyReported
        );
        assert_eq!(outbox.waiting(), 1);
    }

    #[test]
    fn under_window_every_job_of_the_first_fill_is_offered() {
        let site: Arc<str> = Arc::from("a");
        let outbox = outbox(FirstStart::Window, None, 100);
        assert!(outbox.begin_cycle(&site).0);
        assert_eq!(outbox.offer(event(&site, 1, 5)), Offered::Queued);
        outbox.end_cycle(&site, at(1_000_000));
        let checkpoint = outbox.checkpoint("a").unwrap_or_default();
        assert_eq!(checkpoint.reported_to_ms, 4, "stops before the waiting job");
    }

    #[test]
    fn delivered_jobs_are_never_offered_again_and_the_mark_passes_them() {
        let site: Arc<str> = Arc::from("a");
        let outbox = outbox(FirstStart::Window, None, 100);
        outbox.begin_cycle(&site);
        for (id, end) in [(1, 100_000), (2, 200_000), (3, 300_000)] {
            outbox.offer(event(&site, id, end));
        }
        let (wanted, skipped) = outbox.reasons_wanted("a", 2, ReasonMissing::Budget);
        assert_eq!((wanted, skipped), (vec![1, 2], vec![3]));
        assert!(
            outbox.ready(10).len() == 1,
            "two still wait for their reason"
        );
        outbox.set_reason("a", 1, Reason::Missing(ReasonMissing::Failed));
        outbox.set_reason("a", 2, Reason::Missing(ReasonMissing::Unavailable));
        let ready = outbox.ready(10);
        assert_eq!(
            ready.iter().map(|e| e.job_id).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        outbox.end_cycle(&site, at(250_000 + OVERLAP_MS));
        // Delivered 1 and 3; 2 fails to export and stays.
        outbox.delivered(&[ready[0].clone(), ready[2].clone()]);
        assert_eq!(outbox.waiting(), 1);
        let c = outbox.checkpoint("a").unwrap_or_default();
        assert_eq!(c.reported_to_ms, 199_999, "not past job 2, still waiting");
        assert!(c.reported_after.contains_key(&3));
        for (id, end) in [(1, 100_000), (3, 300_000)] {
            assert_eq!(
                outbox.offer(event(&site, id, end)),
                Offered::AlreadyReported
            );
        }
        outbox.delivered(&[ready[1].clone()]);
        let c = outbox.checkpoint("a").unwrap_or_default();
        assert_eq!(c.reported_to_ms, 250_000, "up to what the cycle saw");
        assert!(c.reported_after.contains_key(&3), "3 ended after the mark");
        outbox.end_cycle(&site, at(400_000 + OVERLAP_MS));
        let c = outbox.checkpoint("a").unwrap_or_default();
        assert_eq!(c.reported_to_ms, 400_000);
        assert!(c.reported_after.is_empty(), "the mark passed job 3");
    }

    #[test]
    fn a_full_outbox_drops_and_says_so() {
        let site: Arc<str> = Arc::from("a");
        let outbox = outbox(FirstStart::Window, None, 2);
        outbox.begin_cycle(&site);
        assert_eq!(outbox.offer(event(&site, 1, 10)), Offered::Queued);
        assert_eq!(outbox.offer(event(&site, 2, 20)), Offered::Queued);
        assert_eq!(outbox.offer(event(&site, 3, 30)), Offered::Dropped);
        assert_eq!(outbox.waiting(), 2);
    }

    #[test]
    fn checkpoints_survive_a_new_outbox_through_the_state_dir() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let site: Arc<str> = Arc::from("site.one");
        let first = outbox(FirstStart::New, Some(dir.path()), 100);
        assert!(check_state_dir(dir.path()).is_ok());
        first.begin_cycle(&site);
        let written = first.end_cycle(&site, at(1_000_000));
        let written = written.unwrap_or_else(|| panic!("the first cycle sets the checkpoint"));
        assert!(write_checkpoint(dir.path(), &site, &written).is_ok());
        first.begin_cycle(&site);
        first.offer(event(&site, 7, 2_000_000));
        first.reasons_wanted("site.one", 0, ReasonMissing::Budget);
        let sent = first.ready(10);
        assert_eq!(sent.len(), 1);
        for (s, c) in first.delivered(&sent) {
            assert!(write_checkpoint(dir.path(), &s, &c).is_ok());
        }
        // A restart: a new outbox reads the file and offers nothing twice.
        let second = outbox(FirstStart::New, Some(dir.path()), 100);
        let (offers, error) = second.begin_cycle(&site);
        assert!(offers && error.is_none(), "{error:?}");
        assert_eq!(
            second.offer(event(&site, 7, 2_000_000)),
            Offered::AlreadyReported
        );
        assert_eq!(second.offer(event(&site, 8, 2_000_001)), Offered::Queued);
        assert!(
            checkpoint_path(dir.path(), "site.one").ends_with("events-site_one.json"),
            "{:?}",
            checkpoint_path(dir.path(), "site.one")
        );
    }

    #[test]
    fn a_broken_checkpoint_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = checkpoint_path(dir.path(), "a");
        std::fs::write(&path, b"{not json").unwrap_or_else(|e| panic!("{e}"));
        let site: Arc<str> = Arc::from("a");
        let outbox = outbox(FirstStart::New, Some(dir.path()), 100);
        let (offers, error) = outbox.begin_cycle(&site);
        assert!(!offers, "started as without one");
        let text = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("events-a.json"), "{text}");
    }
}
