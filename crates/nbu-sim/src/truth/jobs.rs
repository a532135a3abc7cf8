//! The ground truth of the jobs source, and the one fold of the jobs window that computes it.
//!
//! A job counts when it is `DONE` and ended after the cutoff, or when it is not `DONE` (an
//! absent state is not `DONE`). Job counts, bytes, statuses, files, dedup ratios and durations
//! are those of the `DONE` jobs only (as the legacy exporter's, so success rates stay true);
//! states and queue reasons cover every counted job.
//!
//! The fold reads [`JobFacts`], the attributes of one job as they are (absent ones `None`), so
//! the simulator's jobs and jobs read from elsewhere (rendered pages, generated test jobs) are
//! folded by the same code. The histogram buckets, sums and counts are computed here, with
//! bounds written out here: the truth shares no code with any agent, so a bug in an agent's
//! aggregation cannot hide in both.
//!
//! Jobs are folded in the order given (`jobId` order for a dataset). Only finished jobs carry
//! `dedupRatio` and only finished jobs have durations, so an agent that folds the finished walk
//! in `jobId` order (then the unfinished walk) adds the same floats in the same order and gets
//! bit-identical sums.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::dataset::{Job, JobState};

/// Upper bounds (seconds, inclusive) of the job duration histogram buckets: 1 min, 5 min,
/// 15 min, 30 min, 1 h, 2 h, 4 h, 8 h, 24 h. A duration equal to a bound falls in that bound's
/// bucket (`le`); longer than the last bound is the overflow bucket.
pub const DURATION_BOUNDS: [f64; 9] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
];

/// The label value of an absent `state`, `status` or (queued) `jobQueueReason`. An absent
/// `jobType` or `policyType` is the empty string.
pub const UNKNOWN: &str = "UNKNOWN";

/// The bucket of a duration: the first bound it does not exceed, else the overflow bucket.
fn bucket_index(seconds: f64) -> usize {
    let mut index = 0;
    while index < DURATION_BOUNDS.len() && seconds > DURATION_BOUNDS[index] {
        index += 1;
    }
    index
}

/// One job as the ground truth reads it: each attribute as the API has it, `None` when absent
/// (or, for jobs read from a page, when it cannot be read).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JobFacts<'a> {
    /// `jobType`.
    pub job_type: Option<&'a str>,
    /// `policyType`.
    pub policy_type: Option<&'a str>,
    /// `state`, as the API spells it (`DONE`, `QUEUED`, ...).
    pub state: Option<&'a str>,
    /// `status`.
    pub status: Option<i64>,
    /// `jobQueueReason`.
    pub queue_reason: Option<i64>,
    /// `kilobytesTransferred`.
    pub kilobytes: Option<u64>,
    /// `numberOfFiles`.
    pub files: Option<u64>,
    /// `dedupRatio`.
    pub dedup_ratio: Option<f64>,
    /// `startTime`, Unix milliseconds.
    pub start_ms: Option<i64>,
    /// `endTime`, Unix milliseconds.
    pub end_ms: Option<i64>,
}

impl<'a> From<&Job<'a>> for JobFacts<'a> {
    fn from(job: &Job<'a>) -> Self {
        JobFacts {
            job_type: job.job_type,
            policy_type: job.policy_type,
            state: job.state.map(JobState::as_str),
            status: job.status.map(i64::from),
            queue_reason: job.queue_reason.map(i64::from),
            kilobytes: job.kilobytes,
            files: job.files,
            dedup_ratio: job.dedup_ratio,
            start_ms: Some(job.start_ms),
            end_ms: job.end_ms,
        }
    }
}

impl JobFacts<'_> {
    /// Whether the job is `DONE`.
    fn is_done(&self) -> bool {
        self.state == Some(JobState::Done.as_str())
    }

    /// Whether the job waits in the queue (`QUEUED` or `REQUEUED`).
    fn is_queued(&self) -> bool {
        self.state
            .is_some_and(|s| s == JobState::Queued.as_str() || s == JobState::Requeued.as_str())
    }
}

/// Which jobs a fold counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Every job given (they were chosen already, for example by the filters of a walk).
    Everything,
    /// The jobs window starting at this cutoff: a job counts when it is not `DONE`, or is
    /// `DONE` and ended after the cutoff (a `DONE` job without `endTime` does not count).
    Since(DateTime<Utc>),
}

/// Whether `window` counts the job.
pub fn counted(job: &JobFacts<'_>, window: Window) -> bool {
    match window {
        Window::Everything => true,
        Window::Since(cutoff) => {
            !job.is_done()
                || job
                    .end_ms
                    .and_then(DateTime::from_timestamp_millis)
                    .is_some_and(|end| end > cutoff)
        }
    }
}

/// Labels `action`, `policy_type`, `status`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobKey {
    /// `jobType` (empty when absent).
    pub action: String,
    /// `policyType` (empty when absent).
    pub policy_type: String,
    /// `status` as text ([`UNKNOWN`] when absent).
    pub status: String,
}

/// Labels `action`, `status`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatusKey {
    /// `jobType`.
    pub action: String,
    /// `status` as text.
    pub status: String,
}

/// Labels `action`, `state`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StateKey {
    /// `jobType`.
    pub action: String,
    /// `state` ([`UNKNOWN`] when absent).
    pub state: String,
}

/// Labels `action`, `reason`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReasonKey {
    /// `jobType`.
    pub action: String,
    /// `jobQueueReason` as text ([`UNKNOWN`] when absent).
    pub reason: String,
}

/// Labels `action`, `policy_type`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyKey {
    /// `jobType`.
    pub action: String,
    /// `policyType`.
    pub policy_type: String,
}

/// Job durations over [`DURATION_BOUNDS`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Durations {
    /// Non-cumulative counts: `bucket_counts[i]` counts durations `d` with
    /// `DURATION_BOUNDS[i-1] < d <= DURATION_BOUNDS[i]`; the last entry counts the overflow.
    pub bucket_counts: [u64; DURATION_BOUNDS.len() + 1],
    /// Sum of the durations, seconds.
    pub sum: f64,
    /// Number of durations.
    pub count: u64,
}

/// Dedup ratios, as sum and count (their mean is `sum / count`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ratios {
    /// Sum of the ratios.
    pub sum: f64,
    /// Number of ratios.
    pub count: u64,
}

/// What a correct agent reports for the jobs of one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobsTruth {
    /// Counted jobs, finished or not.
    pub jobs: u64,
    /// Finished jobs.
    pub counts: BTreeMap<JobKey, u64>,
    /// `kilobytesTransferred * 1024` of finished jobs, summed (saturating).
    pub bytes: BTreeMap<JobKey, u64>,
    /// Finished jobs by action and status.
    pub status_counts: BTreeMap<StatusKey, u64>,
    /// Counted jobs by action and state, finished or not.
    pub state_counts: BTreeMap<StateKey, u64>,
    /// Queued jobs (`QUEUED`, `REQUEUED`) by queue reason.
    pub queued_counts: BTreeMap<ReasonKey, u64>,
    /// `numberOfFiles` of finished jobs, summed (saturating).
    pub files: BTreeMap<PolicyKey, u64>,
    /// `dedupRatio` of the finished jobs that have one.
    pub dedup_ratio: BTreeMap<PolicyKey, Ratios>,
    /// `endTime - startTime` of the finished jobs that have both, the end not before the start.
    pub durations: BTreeMap<PolicyKey, Durations>,
}

/// The ground-truth fold: what a correct agent reports for the jobs `window` counts among
/// `jobs`, folded in the order given.
pub fn fold_jobs<'a>(jobs: impl IntoIterator<Item = JobFacts<'a>>, window: Window) -> JobsTruth {
    let mut truth = JobsTruth::default();
    for job in jobs.into_iter().filter(|job| counted(job, window)) {
        truth.add(&job);
    }
    truth
}

impl JobsTruth {
    /// Adds one counted job.
    fn add(&mut self, job: &JobFacts<'_>) {
        let action = job.job_type.unwrap_or("").to_owned();
        let policy_type = job.policy_type.unwrap_or("").to_owned();
        let status = job
            .status
            .map_or_else(|| UNKNOWN.to_owned(), |s| s.to_string());
        let state = job.state.unwrap_or(UNKNOWN).to_owned();

        self.jobs += 1;
        *self
            .state_counts
            .entry(StateKey {
                action: action.clone(),
                state,
            })
            .or_default() += 1;
        if job.is_queued() {
            let reason = job
                .queue_reason
                .map_or_else(|| UNKNOWN.to_owned(), |r| r.to_string());
            *self
                .queued_counts
                .entry(ReasonKey {
                    action: action.clone(),
                    reason,
                })
                .or_default() += 1;
        }
        // Everything below describes results: a job that has not finished has none yet.
        if !job.is_done() {
            return;
        }
        let key = JobKey {
            action: action.clone(),
            policy_type: policy_type.clone(),
            status: status.clone(),
        };
        *self.counts.entry(key.clone()).or_default() += 1;
        let bytes = job.kilobytes.unwrap_or(0).saturating_mul(1024);
        let total = self.bytes.entry(key).or_default();
        *total = total.saturating_add(bytes);
        *self
            .status_counts
            .entry(StatusKey {
                action: action.clone(),
                status,
            })
            .or_default() += 1;
        let pair = PolicyKey {
            action,
            policy_type,
        };
        let files = self.files.entry(pair.clone()).or_default();
        *files = files.saturating_add(job.files.unwrap_or(0));
        if let Some(ratio) = job.dedup_ratio {
            let ratios = self.dedup_ratio.entry(pair.clone()).or_default();
            ratios.sum += ratio;
            ratios.count += 1;
        }
        if let (Some(start), Some(end)) = (job.start_ms, job.end_ms)
            && end >= start
        {
            let seconds = (end - start) as f64 / 1000.0;
            let durations = self.durations.entry(pair).or_default();
            if let Some(bucket) = durations.bucket_counts.get_mut(bucket_index(seconds)) {
                *bucket += 1;
            }
            durations.sum += seconds;
            durations.count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_on_a_bound_fall_in_that_bound_bucket() {
        assert_eq!(bucket_index(0.0), 0);
        assert_eq!(bucket_index(60.0), 0);
        assert_eq!(bucket_index(60.001), 1);
        assert_eq!(bucket_index(300.0), 1);
        assert_eq!(bucket_index(900.0), 2);
        assert_eq!(bucket_index(1800.0), 3);
        assert_eq!(bucket_index(3600.0), 4);
        assert_eq!(bucket_index(7200.0), 5);
        assert_eq!(bucket_index(14400.0), 6);
        assert_eq!(bucket_index(28800.0), 7);
        assert_eq!(bucket_index(86400.0), 8);
        assert_eq!(bucket_index(86400.001), 9);
        assert_eq!(bucket_index(1e12), 9);
    }

    #[test]
    fn a_window_counts_unfinished_jobs_and_jobs_that_ended_after_its_cutoff() {
        let cutoff = DateTime::from_timestamp_millis(1_000_000).unwrap_or_default();
        let done = |end_ms| JobFacts {
            state: Some("DONE"),
            start_ms: Some(0),
            end_ms,
            ..JobFacts::default()
        };
        let window = Window::Since(cutoff);
        assert!(counted(&done(Some(1_000_001)), window));
        assert!(!counted(&done(Some(1_000_000)), window));
        assert!(!counted(&done(None), window));
        assert!(counted(&done(None), Window::Everything));
        let active = JobFacts {
            state: Some("ACTIVE"),
            ..JobFacts::default()
        };
        assert!(counted(&active, window));
        assert!(
            counted(&JobFacts::default(), window),
            "an absent state is not DONE"
        );
    }
}
