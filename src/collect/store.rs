//! The job store: one compact record per job of the jobs window, sorted by `jobId`.
//!
//! A site's jobs source keeps its store across cycles (see [`super::sync`]): a full walk fills
//! it, delta walks upsert what changed, and jobs leave it when they leave the window (finished
//! before the window's start, by NetBackup's clock) or when a full resync no longer finds them.
//! The legacy gauges are folded from the store ([`JobStore::summary`]) without any I/O, so a
//! snapshot is always one consistent view.
//!
//! Label texts are interned into *label sets* (action, policy type, state, status, queue
//! reason): a record holds one `u32` for all of them. A record is 56 bytes; the label tables
//! are shared by every record. A walk interns the labels of every job it reads, stored or not
//! (a job outside the window, say); when the table has grown past twice what the stored jobs
//! reference, it is rebuilt with only those ([`JobStore::held_labels`]), so label churn (new
//! client, policy or type names every day) never grows it for good.
//!
//! Finished jobs are reported once, when the store first holds them finished: the flag lives in
//! the record and leaves with it, so there is no separate, ever-growing set of recorded ids.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use chrono::DateTime;

use super::job_details::{EventFilter, JobDetails};
use super::label::cap_label;
use super::summary::{
    ActionPolicyKey, ActionReasonKey, ActionStateKey, ActionStatusKey, ClientJobKey,
    ClientPolicyKey, DurationHistogram, JobKey, JobsSummary, Mean, UNKNOWN,
};
use crate::config::ClientsConfig;
use crate::netbackup::lenient::{Num, Text};
use crate::netbackup::models::JobAttributes;

/// An interned label text.
type Sym = u32;

/// Label texts and sets a table may hold beyond twice what the stored jobs reference before it
/// is rebuilt.
const LABEL_SLACK: usize = 1024;

/// A numeric label (status, queue reason): `None` when absent or invalid.
type Code = Option<i64>;

/// `kilobytesTransferred` is valid.
const KILOBYTES: u8 = 1;
/// `numberOfFiles` is valid.
const FILES: u8 = 1 << 1;
/// `dedupRatio` is valid and not negative.
const DEDUP: u8 = 1 << 2;
/// The job is `DONE` with valid start and end times, the end not before the start.
const DURATION: u8 = 1 << 3;
/// `endTime` is valid.
const END: u8 = 1 << 4;
/// The job is `DONE`.
const DONE: u8 = 1 << 5;
/// The state of a finished job.
const DONE_STATE: &str = "DONE";
/// The finished job was reported ([`JobStore`] reports each finished job once).
const REPORTED: u8 = 1 << 6;
/// Marked for removal while a delta is applied.
const REMOVED: u8 = 1 << 7;

/// The spare room a delta that adds jobs leaves in the records, as a fraction of them
/// (1/32, ~3 %): a few deltas' worth of new jobs before the next reallocation.
const DELTA_SLACK_DIVISOR: usize = 32;

/// One job as the store keeps it: 56 bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobRecord {
    job_id: u64,
    kilobytes: u64,
    files: u64,
    dedup_ratio: f64,
    start_ms: i64,
    end_ms: i64,
    labels: u32,
    flags: u8,
    /// Values of the job that cannot be right and were skipped (saturating).
    invalid: u8,
}

impl JobRecord {
    /// Whether the job is `DONE`.
    fn is_done(&self) -> bool {
        self.flags & DONE != 0
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Whether the jobs window holds the job: unfinished, or finished after `window_start_ms`.
    /// A finished job whose `endTime` cannot be read is kept: a full walk's filter on
    /// `endTime`, which NetBackup evaluates, decides whether it stays.
    fn in_window(&self, window_start_ms: i64) -> bool {
        !self.is_done() || !self.has(END) || self.end_ms > window_start_ms
    }
}

/// The labels of a job, interned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct LabelSet {
    action: Sym,
    policy: Sym,
    state: Sym,
    status: Code,
    /// Only for queued jobs (`QUEUED`, `REQUEUED`).
    reason: Option<Code>,
    /// `clientName` and `policyName`, only for clients of the per-client allowlist.
    client: Option<(Sym, Sym)>,
}

/// Interned label texts and label sets. Ids stay valid as the table grows.
#[derive(Debug, Clone, Default)]
pub struct LabelTable {
    text_ids: FxHashMap<Box<str>, Sym>,
    texts: Vec<Box<str>>,
    set_ids: FxHashMap<LabelSet, u32>,
    sets: Vec<LabelSet>,
    /// The clients whose jobs carry their client and policy names (the per-client families).
    clients: Option<Arc<ClientsConfig>>,
}

impl LabelTable {
    fn intern(&mut self, text: &str) -> Sym {
        if let Some(id) = self.text_ids.get(text) {
            return *id;
        }
        let id = Sym::try_from(self.texts.len()).unwrap_or(Sym::MAX);
        self.texts.push(text.into());
        self.text_ids.insert(text.into(), id);
        id
    }

    fn text(&self, id: Sym) -> &str {
        self.texts.get(id as usize).map_or("", |t| t)
    }

    /// Label texts plus label sets held.
    fn held(&self) -> usize {
        self.texts.len() + self.sets.len()
    }

    /// A table of only the label sets `records` use, with the records' ids rewritten to it.
    fn compacted(&self, records: &mut [JobRecord]) -> LabelTable {
        let mut table = LabelTable {
            clients: self.clients.clone(),
            ..LabelTable::default()
        };
        let mut new_ids: Vec<Option<u32>> = vec![None; self.sets.len()];
        for record in records {
            let old = record.labels as usize;
            let (Some(slot), Some(set)) = (new_ids.get_mut(old), self.sets.get(old)) else {
                continue;
            };
            record.labels = match slot {
                Some(id) => *id,
                None => {
                    let set = LabelSet {
                        action: table.intern(self.text(set.action)),
                        policy: table.intern(self.text(set.policy)),
                        state: table.intern(self.text(set.state)),
                        client: set.client.map(|(client, policy)| {
                            (
                                table.intern(self.text(client)),
                                table.intern(self.text(policy)),
                            )
                        }),
                        ..*set
                    };
                    *slot.insert(table.set_id(set))
                }
            };
        }
        table
    }

    fn set_id(&mut self, set: LabelSet) -> u32 {
        if let Some(id) = self.set_ids.get(&set) {
            return *id;
        }
        let id = u32::try_from(self.sets.len()).unwrap_or(u32::MAX);
        self.sets.push(set);
        self.set_ids.insert(set, id);
        id
    }

    fn label(&mut self, text: &Text<'_>, absent: &str, invalid: &mut u8) -> Sym {
        match text {
            Text::Valid(t) => {
                let (t, cut) = cap_label(t);
                if cut {
                    *invalid = invalid.saturating_add(1);
                }
                self.intern(t)
            }
            Text::Absent => self.intern(absent),
            Text::Invalid => {
                *invalid = invalid.saturating_add(1);
                self.intern(absent)
            }
        }
    }

    /// The interned client and policy names of a job of an allowlisted client.
    fn client_labels(&mut self, job: &JobAttributes<'_>) -> Option<(Sym, Sym)> {
        let allowlist = self.clients.as_ref()?;
        let client = job.client_name.as_str().filter(|c| allowlist.allows(c))?;
        let (client, _) = cap_label(client);
        let (policy, _) = cap_label(job.policy_name.as_str().unwrap_or(""));
        let client = client.to_owned();
        let policy = policy.to_owned();
        Some((self.intern(&client), self.intern(&policy)))
    }

    /// The record of a job, or `None` when it has no valid `jobId` (it cannot be stored).
    pub fn record(&mut self, job: &JobAttributes<'_>) -> Option<JobRecord> {
        let job_id = job.job_id.valid()?;
        let mut invalid = 0u8;
        let bad = |n: &mut u8| *n = n.saturating_add(1);
        let action = self.label(&job.job_type, "", &mut invalid);
        let policy = self.label(&job.policy_type, "", &mut invalid);
        let state_text = job.state.as_str();
        let state = self.label(&job.state, UNKNOWN, &mut invalid);
        let status = code(job.status, &mut invalid);
        let queued = matches!(state_text, Some("QUEUED" | "REQUEUED"));
        let reason = queued.then(|| code(job.job_queue_reason, &mut invalid));
        let client = self.client_labels(job);
        let labels = self.set_id(LabelSet {
            action,
            policy,
            state,
            status,
            reason,
            client,
        });

        let mut flags = 0u8;
        let mut kilobytes = 0;
        match job.kilobytes_transferred {
            Num::Valid(kb) => {
                kilobytes = kb;
                flags |= KILOBYTES;
            }
            Num::Invalid => bad(&mut invalid),
            Num::Absent => {}
        }
        let mut files = 0;
        match job.number_of_files {
            Num::Valid(n) => {
                files = n;
                flags |= FILES;
            }
            Num::Invalid => bad(&mut invalid),
            Num::Absent => {}
        }
        let mut dedup_ratio = 0.0;
        match job.dedup_ratio {
            Num::Valid(r) if r >= 0.0 => {
                dedup_ratio = r;
                flags |= DEDUP;
            }
            Num::Valid(_) | Num::Invalid => bad(&mut invalid),
            Num::Absent => {}
        }
        let start = time_ms(&job.start_time);
        let end = time_ms(&job.end_time);
        if let Some(Ok(_)) = end {
            flags |= END;
        }
        if state_text == Some(DONE_STATE) {
            flags |= DONE;
            // A time of the wrong type is a bad value; text that does not parse, or an end
            // before the start, is one when both times are there.
            match (&job.start_time, &job.end_time) {
                (Text::Invalid, _) | (_, Text::Invalid) => bad(&mut invalid),
                (Text::Valid(_), Text::Valid(_)) => match (start, end) {
                    (Some(Ok(s)), Some(Ok(e))) if e >= s => flags |= DURATION,
                    _ => bad(&mut invalid),
                },
                _ => {}
            }
        }
        Some(JobRecord {
            job_id,
            kilobytes,
            files,
            dedup_ratio,
            start_ms: start.and_then(Result::ok).unwrap_or(i64::MIN),
            end_ms: end.and_then(Result::ok).unwrap_or(i64::MIN),
            labels,
            flags,
            invalid,
        })
    }
}

fn code(value: Num<i64>, invalid: &mut u8) -> Code {
    match value {
        Num::Valid(v) => Some(v),
        Num::Absent => None,
        Num::Invalid => {
            *invalid = invalid.saturating_add(1);
            None
        }
    }
}

/// A time attribute as Unix milliseconds: `None` when absent, `Err` when it does not parse.
fn time_ms(text: &Text<'_>) -> Option<Result<i64, ()>> {
    match text {
        Text::Absent => None,
        Text::Invalid => Some(Err(())),
        Text::Valid(t) => Some(utc_ms(t).map_or_else(
            || {
                DateTime::parse_from_rfc3339(t)
                    .map(|d| d.timestamp_millis())
                    .map_err(|_| ())
            },
            Ok,
        )),
    }
}

/// Unix milliseconds of the form NetBackup writes, `YYYY-MM-DDTHH:MM:SS[.fraction]Z` from
/// 1970 on, read directly (three of them per job); `None` for anything else, which is left to
/// the general RFC 3339 parser.
fn utc_ms(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let (&last, _) = b.split_last()?;
    if b.len() < 20
        || last != b'Z'
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || b.get(10) != Some(&b'T')
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b.get(from..to)?.iter().try_fold(0i64, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let millis = match b.len() {
        20 => 0,
        n if b.get(19) == Some(&b'.') && (22..=30).contains(&n) => {
            let digits = b.get(20..n - 1)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            digits
                .iter()
                .chain(std::iter::repeat(&b'0'))
                .take(3)
                .fold(0i64, |n, c| n * 10 + i64::from(c - b'0'))
        }
        _ => return None,
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year < 1970 || day < 1 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

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
        self.labels = self.labels.compacted(&mut self.records);
        self.labels_after_compaction = self.labels.held();
    }

    /// The legacy aggregates of the stored jobs, folded in `jobId` order: counts, bytes,
    /// statuses, files, dedup ratios and durations of the finished (`DONE`) jobs; states and
    /// queue reasons of every stored job. `pages` is 0 and
    /// `invalid_values` counts the skipped values of the stored jobs; the caller adds what its
    /// walks read.
    pub fn summary(&self) -> JobsSummary {
        let labels = &self.labels;
        // Each label set's (action, policy type) pair, numbered.
        let mut pair_ids: FxHashMap<(Sym, Sym), usize> = FxHashMap::default();
        let mut pairs: Vec<(Sym, Sym)> = Vec::new();
        let pair_of: Vec<usize> = labels
            .sets
            .iter()
            .map(|s| {
                *pair_ids.entry((s.action, s.policy)).or_insert_with(|| {
                    pairs.push((s.action, s.policy));
                    pairs.len() - 1
                })
            })
            .collect();
        let mut per_set = vec![(0u64, 0u64); labels.sets.len()];
        // The newest end of the finished jobs of each label set that carries a client.
        let mut newest_end: Vec<Option<i64>> = vec![None; labels.sets.len()];
        let mut per_pair = vec![PairAcc::default(); pairs.len()];
        let mut summary = JobsSummary::default();
        let mut seen_pair = vec![false; pairs.len()];
        for r in &self.records {
            let set = r.labels as usize;
            let (Some(counts), Some(&pair)) = (per_set.get_mut(set), pair_of.get(set)) else {
                continue;
            };
            counts.0 += 1;
            summary.invalid_values += u64::from(r.invalid);
            summary.jobs += 1;
            // Sizes, files and ratios describe finished jobs only: an active job's numbers are
            // still growing, and its status is not a result yet.
            if !r.is_done() {
                continue;
            }
            if r.has(KILOBYTES) {
                counts.1 = counts.1.saturating_add(r.kilobytes.saturating_mul(1024));
            }
            if r.has(END)
                && let Some(newest) = newest_end.get_mut(set)
            {
                *newest = Some(newest.map_or(r.end_ms, |n| n.max(r.end_ms)));
            }
            let (Some(acc), Some(seen)) = (per_pair.get_mut(pair), seen_pair.get_mut(pair)) else {
                continue;
            };
            *seen = true;
            if r.has(FILES) {
                acc.files = acc.files.saturating_add(r.files);
            }
            if r.has(DEDUP) {
                acc.dedup.add(r.dedup_ratio);
            }
            if r.has(DURATION) {
                acc.durations
                    .record((r.end_ms - r.start_ms) as f64 / 1000.0);
            }
        }
        let text = |id: Sym| labels.text(id).to_owned();
        let code = |c: Code| c.map_or_else(|| UNKNOWN.to_owned(), |v| v.to_string());
        for ((set, &(count, bytes)), newest) in labels.sets.iter().zip(&per_set).zip(&newest_end) {
            if count == 0 {
                continue;
            }
            // Counts by status are results: finished jobs only.
            if labels.text(set.state) == DONE_STATE {
                if let Some((client, policy)) = set.client {
                    let key = ClientJobKey {
                        client: text(client),
                        action: text(set.action),
                        status: code(set.status),
                    };
                    *summary.client_jobs.entry(key).or_default() += count;
                    if let (Some(0), Some(end)) = (set.status, newest) {
                        let key = ClientPolicyKey {
                            client: text(client),
                            policy: text(policy),
                            action: text(set.action),
                        };
                        let at = *end as f64 / 1000.0;
                        let last = summary.client_last_success.entry(key).or_insert(at);
                        *last = last.max(at);
                    }
                }
                let key = JobKey {
                    action: text(set.action),
                    policy_type: text(set.policy),
                    status: code(set.status),
                };
                *summary
                    .status_counts
                    .entry(ActionStatusKey {
                        action: key.action.clone(),
                        status: key.status.clone(),
                    })
                    .or_default() += count;
                let total = summary.bytes.entry(key.clone()).or_default();
                *total = total.saturating_add(bytes);
                *summary.counts.entry(key).or_default() += count;
            }
            *summary
                .state_counts
                .entry(ActionStateKey {
                    action: text(set.action),
                    state: text(set.state),
                })
                .or_default() += count;
            if let Some(reason) = set.reason {
                *summary
                    .queued_counts
                    .entry(ActionReasonKey {
                        action: text(set.action),
                        reason: code(reason),
                    })
                    .or_default() += count;
            }
        }
        for ((&(action, policy), acc), seen) in pairs.iter().zip(per_pair).zip(seen_pair) {
            if !seen {
                continue;
            }
            let key = ActionPolicyKey {
                action: text(action),
                policy_type: text(policy),
            };
            summary.files.insert(key.clone(), acc.files);
            if acc.dedup.count > 0 {
                summary.dedup_ratio.insert(key.clone(), acc.dedup);
            }
            if acc.durations.count > 0 {
                summary.durations.insert(key, acc.durations);
            }
        }
        if let Some(clients) = &labels.clients {
            cap_clients(&mut summary, clients.max_clients as usize);
        }
        summary
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

/// Keeps the per-client series of the first `max` clients by name.
fn cap_clients(summary: &mut JobsSummary, max: usize) {
    let mut names: Vec<&String> = summary
        .client_jobs
        .keys()
        .map(|k| &k.client)
        .chain(summary.client_last_success.keys().map(|k| &k.client))
        .collect();
    names.sort_unstable();
    names.dedup();
    let Some(first_out) = names.get(max).map(|n| (*n).clone()) else {
        return;
    };
    summary.client_jobs.retain(|k, _| k.client < first_out);
    summary
        .client_last_success
        .retain(|k, _| k.client < first_out);
}

#[derive(Debug, Clone, Default)]
struct PairAcc {
    files: u64,
    dedup: Mean,
    durations: DurationHistogram,
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
mod tests {
    use super::*;
    use crate::netbackup::models::JobsPage;

    fn batch(store: &JobStore, json: &str) -> JobBatch {
        let page: JobsPage<'_> = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        let mut batch = JobBatch::for_store(store);
        for r in &page.data {
            if let Some(a) = &r.attributes {
                batch.add(a);
            }
        }
        batch
    }

    fn job(id: u64, state: &str, end: Option<&str>, updated: &str) -> String {
        let end = end.map_or(String::new(), |e| format!(r#","endTime":"{e}""#));
        format!(
            r#"{{"attributes":{{"jobId":{id},"jobType":"BACKUP","policyType":"VMWARE","status":0,
            "state":"{state}","kilobytesTransferred":2,"numberOfFiles":3,
            "startTime":"2026-11-27T07:00:00.000Z"{end},"lastUpdateTime":"{updated}"}}}}"#
        )
    }

    fn page(jobs: &[String]) -> String {
        format!(r#"{{"data":[{}]}}"#, jobs.join(","))
    }

    fn ms(t: &str) -> i64 {
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.timestamp_millis())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn netbackup_times_read_directly_equal_the_rfc3339_parser() {
        let chrono_ms = |t: &str| DateTime::parse_from_rfc3339(t).map(|d| d.timestamp_millis());
        let mut checked = 0;
        // Every day from 1970 to 2100 at a few times of day, with 0 to 9 fraction digits.
        let mut day = DateTime::<chrono::Utc>::from_timestamp(0, 0).unwrap_or_default();
        while day.timestamp() < 4_102_444_800 {
            for (i, fraction) in ["", ".5", ".123", ".000", ".999999", ".123456789"]
                .iter()
                .enumerate()
            {
                let at = day + chrono::Duration::seconds(i as i64 * 13_337);
                let t = format!("{}{fraction}Z", at.format("%Y-%m-%dT%H:%M:%S"));
                assert_eq!(utc_ms(&t).map(Ok), Some(chrono_ms(&t)), "{t}");
                checked += 1;
            }
            day += chrono::Duration::days(1);
        }
        assert!(checked > 280_000);
        // Anything else is left to the general parser, which decides.
        for t in [
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-27T24:00:00Z",
            "2026-11-27T23:59:60Z",
            "2026-11-27T07:00:00+05:30",
            "2026-11-27t07:00:00z",
            "1969-12-31T23:59:59.999Z",
            "2026-11-27T07:00:00.Z",
            "2026-11-27T07:00:00.1234567890Z",
            "+2026-11-27T07:00:00Z",
            "2026-11-27 07:00:00Z",
            "２026-11-27T07:00:00Z",
        ] {
            assert_eq!(utc_ms(t), None, "{t}");
        }
        assert_eq!(
            time_ms(&Text::Valid("2026-11-27T07:00:00+05:30".into())),
            Some(chrono_ms("2026-11-27T07:00:00+05:30").map_err(|_| ()))
        );
    }

    #[test]
    fn a_record_is_56_bytes() {
        assert_eq!(std::mem::size_of::<JobRecord>(), 56);
    }

    #[test]
    fn folds_every_family_in_job_id_order() {
        let store_json = r#"{"data":[
            {"attributes":{"jobId":2,"jobType":"BACKUP","policyType":"VMWARE","status":0,"state":"DONE",
              "kilobytesTransferred":3,"numberOfFiles":5,"dedupRatio":2.0,
              "startTime":"2026-11-27T07:00:00.000Z","endTime":"2026-11-27T07:00:30.000Z"}},
            {"attributes":{"jobId":1,"jobType":"BACKUP","policyType":"VMWARE","status":0,"state":"DONE",
              "kilobytesTransferred":2,"numberOfFiles":10,"dedupRatio":4.0,
              "startTime":"2026-11-27T07:00:00.000Z","endTime":"2026-11-27T07:02:00.500Z"}},
            {"attributes":{"jobId":3,"jobType":"BACKUP","policyType":"VMWARE","status":0,"state":"QUEUED",
              "jobQueueReason":2,"kilobytesTransferred":100,"numberOfFiles":7,"dedupRatio":9.0,
              "startTime":"2026-11-27T07:00:00.000Z"}}
            ]}"#;
        let mut store = JobStore::new();
        let mut reported = Vec::new();
        let b = batch(&store, store_json);
        store.replace(b, 0, |f| reported.push((f.job_id, f.seconds, f.bytes)));
        assert_eq!(
            reported,
            vec![(1, Some(120.5), 2048), (2, Some(30.0), 3072)],
            "finished jobs are reported in jobId order, the queued one is not"
        );
        let s = store.summary();
        let key = JobKey {
            action: "BACKUP".into(),
            policy_type: "VMWARE".into(),
            status: "0".into(),
        };
        // The queued job is no result yet: it shows in states and the queue only.
        assert_eq!(s.counts.get(&key), Some(&2));
        assert_eq!(s.bytes.get(&key), Some(&(5 * 1024)));
        let status = ActionStatusKey {
            action: "BACKUP".into(),
            status: "0".into(),
        };
        assert_eq!(s.status_counts.get(&status), Some(&2));
        let state = |state: &str| ActionStateKey {
            action: "BACKUP".into(),
            state: state.into(),
        };
        assert_eq!(s.state_counts.get(&state("DONE")), Some(&2));
        assert_eq!(s.state_counts.get(&state("QUEUED")), Some(&1));
        let ap = ActionPolicyKey {
            action: "BACKUP".into(),
            policy_type: "VMWARE".into(),
        };
        assert_eq!(s.files.get(&ap), Some(&15));
        assert_eq!(s.dedup_ratio.get(&ap).and_then(Mean::value), Some(3.0));
        let h = s.durations.get(&ap).cloned().unwrap_or_default();
        assert_eq!((h.count, h.bucket_counts[0], h.bucket_counts[1]), (2, 1, 1));
        assert_eq!(h.sum, 150.5);
        let queued = ActionReasonKey {
            action: "BACKUP".into(),
            reason: "2".into(),
        };
        assert_eq!(s.queued_counts.get(&queued), Some(&1));
        assert_eq!((s.jobs, s.invalid_values), (3, 0));
    }

    #[test]
    fn label_values_longer_than_the_cap_are_cut_and_counted() {
        let mut store = JobStore::new();
        let huge = "X".repeat(100_000);
        let b = batch(
            &store,
            &format!(
                r#"{{"data":[{{"attributes":{{"jobId":1,"jobType":"{huge}","policyType":"{huge}","state":"DONE",
                "status":0,"startTime":"2026-11-27T07:00:00Z","endTime":"2026-11-27T07:30:00Z"}}}}]}}"#
            ),
        );
        store.replace(b, 0, |_| {});
        let s = store.summary();
        assert_eq!(s.invalid_values, 2, "both long values are counted");
        let lengths: Vec<(usize, usize)> = s
            .counts
            .keys()
            .map(|k| (k.action.len(), k.policy_type.len()))
            .collect();
        let cap = crate::collect::label::MAX_LABEL_BYTES;
        assert_eq!(lengths, [(cap, cap)]);
    }

    #[test]
    fn hostile_values_are_skipped_and_counted() {
        let mut store = JobStore::new();
        let b = batch(
            &store,
            r#"{"data":[
            {"attributes":{"jobId":1,"jobType":"BACKUP","kilobytesTransferred":-1,"numberOfFiles":1e308,
              "dedupRatio":-3,"state":"DONE","status":"x",
              "startTime":"2026-11-27T07:00:00Z","endTime":"2026-11-27T07:30:00Z"}},
            {"attributes":{"jobId":2,"jobType":"BACKUP","state":"DONE","kilobytesTransferred":1,
              "startTime":"2026-11-27T07:00:00Z","endTime":"2026-11-27T06:00:00Z"}},
            {"attributes":{"jobId":3,"jobType":"BACKUP","state":"DONE","kilobytesTransferred":18446744073709551615}},
            {"attributes":{"jobId":4,"jobType":"BACKUP","state":"DONE","kilobytesTransferred":18446744073709551615}},
            {"attributes":{"jobType":"BACKUP"}},
            {"attributes":{"jobId":5}}
            ]}"#,
        );
        assert_eq!(b.unkeyed, 1, "a job without jobId cannot be stored");
        let mut seconds = Vec::new();
        store.replace(b, 0, |f| seconds.push(f.seconds));
        assert_eq!(
            seconds,
            vec![Some(1800.0), None, None, None],
            "no duration when the end is before the start"
        );
        let s = store.summary();
        // kb < 0, files 1e308, dedup < 0, status text; end before start.
        assert_eq!(s.invalid_values, 5);
        assert_eq!(s.jobs, 5);
        let key = JobKey {
            action: "BACKUP".into(),
            policy_type: "".into(),
            status: UNKNOWN.into(),
        };
        assert_eq!(s.bytes.get(&key), Some(&u64::MAX), "saturates, never wraps");
        let empty = ActionStateKey {
            action: "".into(),
            state: UNKNOWN.into(),
        };
        assert_eq!(s.state_counts.get(&empty), Some(&1));
    }

    /// A day of label churn in five-minute deltas: each delta reads 500 jobs that finished
    /// before the window (never stored) under policy types never seen before, and 50 stored
    /// jobs of clients (`*` allowlist) and policies renamed at every step, replacing the
    /// oldest. The label table stays bounded by what the stored jobs use, and the counts stay
    /// those of the jobs the test itself keeps.
    #[test]
    fn a_day_of_label_churn_leaves_the_label_table_bounded() {
        use std::collections::BTreeMap;
        const STEPS: u64 = 288;
        const STORED_PER_STEP: u64 = 50;
        const KEPT_STEPS: u64 = 12;
        const UNSTORED_PER_STEP: u64 = 500;
        let mut store = JobStore::new();
        store.set_clients(Some(Arc::new(ClientsConfig {
            allowlist: vec![crate::config::ClientPattern::parse("*")],
            max_clients: u32::MAX,
        })));
        let window_start = ms("2026-11-27T00:00:00Z");
        let updated = "2026-11-27T08:00:00.000Z";
        let mut next_id = 1u64;
        // The test's own view of the stored jobs: id -> policy type.
        let mut kept: BTreeMap<u64, String> = BTreeMap::new();
        let mut most_held = 0;
        for step in 0..STEPS {
            let mut jobs = Vec::new();
            for n in 0..UNSTORED_PER_STEP {
                jobs.push(format!(
                    r#"{{"attributes":{{"jobId":{next_id},"jobType":"BACKUP","policyType":"GONE-{step}-{n}",
                    "state":"DONE","status":0,"clientName":"old-{step}-{n}","policyName":"p-{step}-{n}",
                    "startTime":"2026-11-26T01:00:00Z","endTime":"2026-11-26T02:00:00Z",
                    "lastUpdateTime":"{updated}"}}}}"#
                ));
                next_id += 1;
            }
            for n in 0..STORED_PER_STEP {
                let policy_type = format!("T-{step}-{}", n % 5);
                jobs.push(format!(
                    r#"{{"attributes":{{"jobId":{next_id},"jobType":"BACKUP","policyType":"{policy_type}",
                    "state":"DONE","status":0,"clientName":"client-{step}-{n}","policyName":"policy-{step}-{n}",
                    "startTime":"2026-11-27T07:00:00Z","endTime":"2026-11-27T07:30:00Z",
                    "lastUpdateTime":"{updated}"}}}}"#
                ));
                kept.insert(next_id, policy_type);
                next_id += 1;
            }
            let b = batch(&store, &page(&jobs));
            store.apply(b, window_start, |_| {});
            // The oldest stored step leaves (purged from NetBackup): a full walk without it.
            if step >= KEPT_STEPS {
                let gone = (step - KEPT_STEPS) * (UNSTORED_PER_STEP + STORED_PER_STEP)
                    + UNSTORED_PER_STEP
                    + 1;
                kept.retain(|id, _| *id < gone || *id >= gone + STORED_PER_STEP);
                let remaining: Vec<String> = kept
                    .iter()
                    .map(|(id, policy_type)| {
                        let n = (id - 1) % (UNSTORED_PER_STEP + STORED_PER_STEP) - UNSTORED_PER_STEP;
                        let step = (id - 1) / (UNSTORED_PER_STEP + STORED_PER_STEP);
                        format!(
                            r#"{{"attributes":{{"jobId":{id},"jobType":"BACKUP","policyType":"{policy_type}",
                            "state":"DONE","status":0,"clientName":"client-{step}-{n}","policyName":"policy-{step}-{n}",
                            "startTime":"2026-11-27T07:00:00Z","endTime":"2026-11-27T07:30:00Z",
                            "lastUpdateTime":"{updated}"}}}}"#
                        )
                    })
                    .collect();
                let b = batch(&store, &page(&remaining));
                store.replace(b, window_start, |_| {});
            }
            store.expire(window_start);
            most_held = most_held.max(store.held_labels());

            let summary = store.summary();
            let mut expected: BTreeMap<String, u64> = BTreeMap::new();
            for policy_type in kept.values() {
                *expected.entry(policy_type.clone()).or_default() += 1;
            }
            let mut counted: BTreeMap<String, u64> = BTreeMap::new();
            for (key, n) in &summary.counts {
                *counted.entry(key.policy_type.clone()).or_default() += n;
            }
            assert_eq!(counted, expected, "step {step}");
            assert_eq!(summary.client_jobs.values().sum::<u64>(), kept.len() as u64);
        }
        // 288 x 550 jobs read with 2 x 288 x 550 client and policy names and 288 x 505 types;
        // the store holds 600 jobs using about 1,900 texts and 600 sets.
        assert!(
            most_held < 20_000,
            "the label table held {most_held} texts and sets at most"
        );
        assert!(store.held_labels() < 10_000, "{}", store.held_labels());
    }

    #[test]
    fn deltas_upsert_expire_and_report_each_finished_job_once() {
        let t0 = "2026-11-27T08:00:00.000Z";
        let mut store = JobStore::new();
        let b = batch(
            &store,
            &page(&[
                job(10, "DONE", Some("2026-11-27T07:10:00.000Z"), t0),
                job(11, "ACTIVE", None, t0),
                job(12, "QUEUED", None, t0),
            ]),
        );
        let mut reported = Vec::new();
        let stats = store.replace(b, ms("2026-11-27T07:00:00Z"), |f| reported.push(f.job_id));
        assert_eq!((stats.added, stats.finished), (3, 1));
        // 11 finishes, 12 is unchanged, 13 is new and active, 10 is seen again.
        let t1 = "2026-11-27T08:01:00.000Z";
        let b = batch(
            &store,
            &page(&[
                job(10, "DONE", Some("2026-11-27T07:10:00.000Z"), t1),
                job(11, "DONE", Some("2026-11-27T08:00:30.000Z"), t1),
                job(13, "ACTIVE", None, t1),
            ]),
        );
        let stats = store.apply(b, ms("2026-11-27T07:01:00Z"), |f| reported.push(f.job_id));
        assert_eq!((stats.added, stats.updated, stats.finished), (1, 2, 1));
        assert_eq!(reported, vec![10, 11], "10 is not reported twice");
        assert_eq!(store.len(), 4);
        // The window moves past job 10's end: it leaves the store.
        assert_eq!(store.expire(ms("2026-11-27T07:10:00Z")), 1);
        assert!(store.records.iter().all(|r| r.job_id != 10));
        assert_eq!(store.summary().jobs, 3);
        // A job older than every stored one arrives late: the store stays sorted.
        let b = batch(&store, &page(&[job(5, "SUSPENDED", None, t1)]));
        store.apply(b, ms("2026-11-27T07:10:00Z"), |f| reported.push(f.job_id));
        let ids: Vec<u64> = store.records.iter().map(|r| r.job_id).collect();
        assert_eq!(ids, vec![5, 11, 12, 13]);
        // A full walk that no longer returns 12 (purged) removes it and keeps 11 reported.
        let b = batch(
            &store,
            &page(&[
                job(5, "SUSPENDED", None, t1),
                job(11, "DONE", Some("2026-11-27T08:00:30.000Z"), t1),
                job(13, "DONE", Some("2026-11-27T08:02:00.000Z"), t1),
            ]),
        );
        let stats = store.replace(b, ms("2026-11-27T07:10:00Z"), |f| reported.push(f.job_id));
        assert_eq!((stats.removed, stats.finished), (1, 1));
        assert_eq!(reported, vec![10, 11, 13]);
    }

    #[test]
    fn a_delta_that_adds_jobs_leaves_little_spare_room() {
        const JOBS: u64 = 3_200;
        let t0 = "2026-11-27T08:00:00.000Z";
        let mut store = JobStore::new();
        let jobs: Vec<String> = (1..=JOBS).map(|id| job(id, "ACTIVE", None, t0)).collect();
        let b = batch(&store, &page(&jobs));
        store.replace(b, ms("2026-11-27T07:00:00Z"), |_| {});
        let filled = store.record_bytes();
        for step in 1..=3 {
            let b = batch(&store, &page(&[job(JOBS + step, "ACTIVE", None, t0)]));
            store.apply(b, ms("2026-11-27T07:00:00Z"), |_| {});
        }
        assert_eq!(store.len(), JOBS as usize + 3);
        // One reallocation to 1/32 more, not twice the records.
        let most = filled + filled / DELTA_SLACK_DIVISOR + std::mem::size_of::<JobRecord>();
        assert!(
            store.record_bytes() <= most,
            "{} bytes after the deltas, {filled} after the fill",
            store.record_bytes()
        );
    }

    #[test]
    fn a_job_met_unfinished_then_finished_is_kept_finished() {
        let store = JobStore::new();
        let b = batch(
            &store,
            &page(&[
                job(
                    7,
                    "DONE",
                    Some("2026-11-27T08:00:30.000Z"),
                    "2026-11-27T08:00:30.000Z",
                ),
                job(7, "ACTIVE", None, "2026-11-27T08:00:00.000Z"),
            ]),
        );
        let (records, _, _) = b.into_sorted();
        assert_eq!(records.len(), 1);
        assert!(records[0].is_done());
    }
}
