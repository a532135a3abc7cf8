//! The job store: one compact record per job of the jobs window, sorted by `jobId`.
//!
//! A site's jobs source keeps its store across cycles (see [`super::sync`]): a full walk fills
//! it, delta walks upsert what changed, and jobs leave it when they leave the window (finished
//! before the window's start, by NetBackup's clock) or when a full resync no longer finds them.
//! The legacy gauges are folded from the store ([`JobStore::summary`], in `store/fold.rs`)
//! without any I/O, so a snapshot is always one consistent view.
//!
//! Label texts are interned into *label sets* (`store/labels.rs`): a record holds one `u32` for
//! all of them. A record is 56 bytes; the label tables are shared by every record. A walk
//! interns the labels of every job it reads, stored or not (a job outside the window, say);
//! when the table has grown past twice what the stored jobs reference, it is rebuilt with only
//! those ([`JobStore::held_labels`]), so label churn (new client, policy or type names every
//! day) never grows it for good.
//!
//! Finished jobs are reported once, when the store first holds them finished: the flag lives in
//! the record and leaves with it, so there is no separate, ever-growing set of recorded ids.

mod fold;
mod labels;
mod record;

use std::sync::Arc;

use rustc_hash::FxHashMap;

use self::labels::LABEL_SLACK;
use self::record::{DURATION, END, KILOBYTES, REMOVED, REPORTED};
use super::job_details::{EventFilter, JobDetails};
use super::summary::{JobsSummary, UNKNOWN};
use super::timestamp::time_ms;
use crate::config::ClientsConfig;
use crate::netbackup::models::JobAttributes;

pub use self::labels::LabelTable;
pub use self::record::JobRecord;

/// The spare room a delta that adds jobs leaves in the records, as a fraction of them
/// (1/32, ~3 %): a few deltas' worth of new jobs before the next reallocation.
const DELTA_SLACK_DIVISOR: usize = 32;

/// A finished job, reported once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FinishedJob<'a> {
    /// `jobId`.
    pub job_id: u64,
    /// The `action` label (`jobType`).
    pub action: &'a str,
    /// The `policy_type` label.
    pub policy_type: &'a str,
    /// The NetBackup status code, when valid.
    pub status: Option<i64>,
    /// `endTime - startTime`, seconds, when both are valid.
    pub seconds: Option<f64>,
    /// `kilobytesTransferred * 1024` (saturating; 0 when absent).
    pub bytes: u64,
    /// `startTime`, Unix milliseconds, when valid.
    pub start_ms: Option<i64>,
    /// `endTime`, Unix milliseconds, when valid.
    pub end_ms: Option<i64>,
    /// What only a job event uses, read from the page that showed the job finished: present
    /// when the store captures details ([`JobStore::set_event_filter`]) and the filter reports
    /// the job's status.
    pub details: Option<&'a JobDetails>,
}

impl FinishedJob<'_> {
    /// The `status` label: the code as text, or `UNKNOWN`.
    pub fn status_label(&self) -> String {
        self.status
            .map_or_else(|| UNKNOWN.to_owned(), |s| s.to_string())
    }
}

/// Jobs read by one walk (or several), before they are applied to a store.
#[derive(Debug, Clone, Default)]
pub struct JobBatch {
    records: Vec<JobRecord>,
    labels: LabelTable,
    /// Jobs that could not be stored (no valid `jobId`).
    pub unkeyed: u64,
    /// The `lastUpdateTime` of each job read that has a valid one, Unix milliseconds.
    last_updates: Vec<i64>,
    /// Which finished jobs get their details kept, for job events.
    events: Option<EventFilter>,
    /// The details of finished jobs the filter reports, by `jobId`.
    details: FxHashMap<u64, JobDetails>,
}

impl JobBatch {
    /// An empty batch whose label ids extend those of `store`.
    pub fn for_store(store: &JobStore) -> Self {
        JobBatch {
            records: Vec::new(),
            labels: store.labels.clone(),
            unkeyed: 0,
            last_updates: Vec::new(),
            events: store.events,
            details: FxHashMap::default(),
        }
    }

    /// Adds one job.
    pub fn add(&mut self, job: &JobAttributes<'_>) {
        if let Some(Ok(t)) = time_ms(&job.last_update_time) {
            self.last_updates.push(t);
        }
        match self.labels.record(job) {
            Some(record) => {
                if let Some(filter) = self.events
                    && record.is_done()
                    && filter.reports(job.status.valid())
                {
                    self.details.insert(record.job_id, JobDetails::of(job));
                }
                self.records.push(record);
            }
            None => self.unkeyed += 1,
        }
    }

    /// Jobs added.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no job was added.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The largest `lastUpdateTime` of the batch not after `latest_ms` (Unix milliseconds),
    /// and how many jobs carry one after it (a time that cannot be right yet).
    pub fn newest_update_until(&self, latest_ms: i64) -> (Option<i64>, u64) {
        let mut newest = None;
        let mut future = 0;
        for &t in &self.last_updates {
            if t > latest_ms {
                future += 1;
            } else {
                newest = newest.max(Some(t));
            }
        }
        (newest, future)
    }

    /// Sorts by `jobId` and keeps one record per job. Two walks of a full walk meet the same
    /// job only when it finished between them (once unfinished, once finished): the finished
    /// copy is kept, since a finished job never runs again.
    fn into_sorted(self) -> (Vec<JobRecord>, LabelTable, FxHashMap<u64, JobDetails>) {
        let mut records = self.records;
        records
            .sort_unstable_by(|a, b| a.job_id.cmp(&b.job_id).then(b.is_done().cmp(&a.is_done())));
        records.dedup_by_key(|r| r.job_id);
        (records, self.labels, self.details)
    }
}

/// What applying a batch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Jobs new to the store.
    pub added: u64,
    /// Jobs already stored, updated.
    pub updated: u64,
    /// Jobs that left the store (out of the window, or gone from NetBackup on a full walk).
    pub removed: u64,
    /// Finished jobs reported for the first time.
    pub finished: u64,
}

/// The job store of one site.
#[derive(Debug, Clone, Default)]
pub struct JobStore {
    /// Sorted by `jobId`, one record per job.
    records: Vec<JobRecord>,
    labels: LabelTable,
    /// What the label table held when it was last rebuilt: the measure of its growth.
    labels_after_compaction: usize,
    /// Which finished jobs get their details kept for job events; `None`: no details.
    events: Option<EventFilter>,
}

impl JobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Jobs stored.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no job is stored.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Bytes held by the records (capacity included), for memory accounting.
    pub fn record_bytes(&self) -> usize {
        self.records.capacity() * std::mem::size_of::<JobRecord>()
    }

    /// Replaces the contents with the result of a full walk: jobs not in it are gone from
    /// NetBackup (purged) or from the window. Jobs already reported stay reported; finished
    /// jobs new to the store are reported through `on_finished`.
    pub fn replace(
        &mut self,
        batch: JobBatch,
        window_start_ms: i64,
        mut on_finished: impl FnMut(&FinishedJob<'_>),
    ) -> ApplyStats {
        let (mut records, labels, details) = batch.into_sorted();
        records.retain(|r| r.in_window(window_start_ms));
        let mut stats = ApplyStats::default();
        let mut old = self.records.iter().peekable();
        for record in &mut records {
            while old.next_if(|o| o.job_id < record.job_id).is_some() {
                stats.removed += 1;
            }
            match old.next_if(|o| o.job_id == record.job_id) {
                Some(previous) => {
                    record.flags |= previous.flags & REPORTED;
                    stats.updated += 1;
                }
                None => stats.added += 1,
            }
        }
        stats.removed += old.count() as u64;
        records.shrink_to_fit();
        self.records = records;
        self.labels = labels;
        for record in &mut self.records {
            if report_once(record, &self.labels, &details, &mut on_finished) {
                stats.finished += 1;
            }
        }
        self.compact_labels();
        stats
    }

    /// Upserts the jobs of a delta walk: changed jobs are replaced, new ones added, finished
    /// jobs that left the window removed. Finished jobs are reported once.
    pub fn apply(
        &mut self,
        batch: JobBatch,
        window_start_ms: i64,
        mut on_finished: impl FnMut(&FinishedJob<'_>),
    ) -> ApplyStats {
        let (records, labels, details) = batch.into_sorted();
        self.labels = labels;
        let mut stats = ApplyStats::default();
        let mut inserts = Vec::new();
        for mut record in records {
            let found = self
                .records
                .binary_search_by_key(&record.job_id, |r| r.job_id);
            let keep = record.in_window(window_start_ms);
            match (found, keep) {
                (Ok(i), true) => {
                    if let Some(slot) = self.records.get_mut(i) {
                        record.flags |= slot.flags & REPORTED;
                        if report_once(&mut record, &self.labels, &details, &mut on_finished) {
                            stats.finished += 1;
                        }
                        *slot = record;
                        stats.updated += 1;
                    }
                }
                (Ok(i), false) => {
                    if let Some(slot) = self.records.get_mut(i) {
                        slot.flags |= REMOVED;
                        stats.removed += 1;
                    }
                }
                (Err(_), true) => {
                    if report_once(&mut record, &self.labels, &details, &mut on_finished) {
                        stats.finished += 1;
                    }
                    inserts.push(record);
                    stats.added += 1;
                }
                (Err(_), false) => {}
            }
        }
        if stats.removed > 0 {
            self.records.retain(|r| !r.has(REMOVED));
        }
        if !inserts.is_empty() {
            let in_order = match (self.records.last(), inserts.first()) {
                (Some(last), Some(first)) => first.job_id > last.job_id,
                _ => true,
            };
            // Room for these and a little more, not the doubling of `extend`: a store filled
            // to its length by a full walk would otherwise hold twice its records after the
            // first delta that adds a job.
            if self.records.capacity() - self.records.len() < inserts.len() {
                self.records
                    .reserve_exact(inserts.len().max(self.records.len() / DELTA_SLACK_DIVISOR));
            }
            self.records.extend(inserts);
            if !in_order {
                self.records.sort_unstable_by_key(|r| r.job_id);
            }
        }
        stats
    }

    /// Removes finished jobs that ended at or before `window_start_ms`. Returns how many left.
    pub fn expire(&mut self, window_start_ms: i64) -> u64 {
        let before = self.records.len();
        self.records.retain(|r| r.in_window(window_start_ms));
        self.compact_labels();
        (before - self.records.len()) as u64
    }

    /// Label texts plus label sets the store holds (those of its jobs, and those read since
    /// the table was last rebuilt).
    pub fn held_labels(&self) -> usize {
        self.labels.held()
    }

    /// Rebuilds the label table with only what the stored jobs use, once it has grown past
    /// twice that.
    fn compact_labels(&mut self) {
        if self.labels.held() <= 2 * self.labels_after_compaction + LABEL_SLACK {
            return;
        }
        self.labels = self
            .labels
            .compacted(self.records.iter_mut().map(|r| &mut r.labels));
        self.labels_after_compaction = self.labels.held();
    }

    /// The legacy aggregates of the stored jobs, folded in `jobId` order: counts, bytes,
    /// statuses, files, dedup ratios and durations of the finished (`DONE`) jobs; states and
    /// queue reasons of every stored job. `pages` is 0 and
    /// `invalid_values` counts the skipped values of the stored jobs; the caller adds what its
    /// walks read.
    pub fn summary(&self) -> JobsSummary {
        fold::summary(&self.records, &self.labels)
    }

    /// Sets which finished jobs get their details kept for job events (`None`: none), from
    /// the next batch on.
    pub fn set_event_filter(&mut self, filter: Option<EventFilter>) {
        self.events = filter;
    }

    /// Sets the clients whose jobs carry their names (`None`: the clients source is off).
    /// Returns whether that changed: the jobs already stored were labelled under the old
    /// allowlist, so the window must be read whole again.
    pub fn set_clients(&mut self, clients: Option<Arc<ClientsConfig>>) -> bool {
        if self.labels.clients == clients {
            return false;
        }
        self.labels.clients = clients;
        true
    }
}

/// Reports `record` through `on_finished` if it is finished and was never reported; returns
/// whether it did.
fn report_once(
    record: &mut JobRecord,
    labels: &LabelTable,
    details: &FxHashMap<u64, JobDetails>,
    on_finished: &mut impl FnMut(&FinishedJob<'_>),
) -> bool {
    if !record.is_done() || record.has(REPORTED) {
        return false;
    }
    record.flags |= REPORTED;
    let Some(set) = labels.sets.get(record.labels as usize) else {
        return false;
    };
    on_finished(&FinishedJob {
        job_id: record.job_id,
        action: labels.text(set.action),
        policy_type: labels.text(set.policy),
        status: set.status,
        seconds: record
            .has(DURATION)
            .then(|| (record.end_ms - record.start_ms) as f64 / 1000.0),
        bytes: if record.has(KILOBYTES) {
            record.kilobytes.saturating_mul(1024)
        } else {
            0
        },
        start_ms: (record.start_ms != i64::MIN).then_some(record.start_ms),
        end_ms: record.has(END).then_some(record.end_ms),
        details: details.get(&record.job_id),
    });
    true
}

#[cfg(test)]
mod tests;
