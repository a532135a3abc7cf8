//! One job as the store keeps it (a 56-byte record: its numbers, one label set id, flags), and
//! how a job's attributes become one as its labels are interned.

use super::labels::{LabelSet, LabelTable, code};
use crate::collect::summary::UNKNOWN;
use crate::collect::timestamp::time_ms;
use crate::netbackup::lenient::{Num, Text};
use crate::netbackup::models::JobAttributes;

/// `kilobytesTransferred` is valid.
pub(super) const KILOBYTES: u8 = 1;
/// `numberOfFiles` is valid.
pub(super) const FILES: u8 = 1 << 1;
/// `dedupRatio` is valid and not negative.
pub(super) const DEDUP: u8 = 1 << 2;
/// The job is `DONE` with valid start and end times, the end not before the start.
pub(super) const DURATION: u8 = 1 << 3;
/// `endTime` is valid.
pub(super) const END: u8 = 1 << 4;
/// The job is `DONE`.
pub(super) const DONE: u8 = 1 << 5;
/// The state of a finished job.
pub(super) const DONE_STATE: &str = "DONE";
/// The finished job was reported (the store reports each finished job once).
pub(super) const REPORTED: u8 = 1 << 6;
/// Marked for removal while a delta is applied.
pub(super) const REMOVED: u8 = 1 << 7;

/// One job as the store keeps it: 56 bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobRecord {
    /// `jobId`.
    pub(super) job_id: u64,
    /// `kilobytesTransferred`, when [`KILOBYTES`] is set.
    pub(super) kilobytes: u64,
    /// `numberOfFiles`, when [`FILES`] is set.
    pub(super) files: u64,
    /// `dedupRatio`, when [`DEDUP`] is set.
    pub(super) dedup_ratio: f64,
    /// `startTime`, Unix milliseconds; `i64::MIN` when absent or unreadable.
    pub(super) start_ms: i64,
    /// `endTime`, Unix milliseconds, when [`END`] is set.
    pub(super) end_ms: i64,
    /// The id of the job's label set in the store's [`LabelTable`].
    pub(super) labels: u32,
    /// What is valid and what happened to the record: the flags above.
    pub(super) flags: u8,
    /// Values of the job that cannot be right and were skipped (saturating).
    pub(super) invalid: u8,
}

impl JobRecord {
    /// Whether the job is `DONE`.
    pub(super) fn is_done(&self) -> bool {
        self.flags & DONE != 0
    }

    /// Whether `flag` is set.
    pub(super) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Whether the jobs window holds the job: unfinished, or finished after `window_start_ms`.
    /// A finished job whose `endTime` cannot be read is kept: a full walk's filter on
    /// `endTime`, which NetBackup evaluates, decides whether it stays.
    pub(super) fn in_window(&self, window_start_ms: i64) -> bool {
        !self.is_done() || !self.has(END) || self.end_ms > window_start_ms
    }
}

/// Records are made as their labels are interned into a table.
impl LabelTable {
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
