//! The ground truth of the finished-job log records: every job that finished in a time range,
//! with the facts its jobs page item and its try logs give, and the problem lines of its last
//! try. Computed from the dataset and the job details (the draws the pages are rendered from),
//! never from rendered JSON.

use chrono::{DateTime, Utc};

use crate::dataset::details::JobDetails;
use crate::dataset::status_messages::status_message;
use crate::dataset::tries::{TryLogLine, job_tries};
use crate::dataset::{Dataset, JobState};

/// One job that finished (`state` `DONE`) in a time range, as the jobs page and its try logs
/// show it at the end of the range. Attributes the jobs page omits for this job are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedJobTruth {
    /// `jobId`.
    pub job_id: u64,
    /// `parentJobId` (0: none).
    pub parent_job_id: u64,
    /// `jobType`.
    pub job_type: Option<&'static str>,
    /// `jobSubType`.
    pub sub_type: &'static str,
    /// `policyName` (empty when the job has no policy type).
    pub policy_name: String,
    /// `policyType`.
    pub policy_type: Option<&'static str>,
    /// `scheduleName` (empty for jobs without a backup schedule).
    pub schedule_name: &'static str,
    /// `clientName` (empty for image cleanup jobs).
    pub client_name: String,
    /// `status` as the jobs page has it.
    pub status: Option<u32>,
    /// The last try's `tryStatusCode`: the job's status, also where the page omits `status`.
    pub try_status: u32,
    /// The last try's `tryStatusMessage`: the standard message of `try_status`.
    pub status_message: &'static str,
    /// `try`: the number of tries, the number of try-logs elements.
    pub tries: u64,
    /// `kilobytesTransferred`.
    pub kilobytes: Option<u64>,
    /// `numberOfFiles`.
    pub files: Option<u64>,
    /// `startTime`, Unix milliseconds.
    pub start_ms: i64,
    /// `endTime`, Unix milliseconds.
    pub end_ms: i64,
    /// `destinationStorageUnitName` (the last try's `tryDestinationStorageUnit`; empty for jobs
    /// that write nowhere).
    pub storage_unit: String,
    /// The last try's `tryMediaServer`: `destinationMediaServerName`, else
    /// `sourceMediaServerName`, else the primary server.
    pub media_server: &'static str,
    /// The lines of the last try's `tryLog` of severity `WARNING` or above, in log order.
    pub problems: Vec<TryLogLine>,
}

impl FinishedJobTruth {
    /// Whether the job failed (or partly failed): its status is not 0.
    pub fn failed(&self) -> bool {
        self.try_status != 0
    }

    /// Every job whose state is `DONE` and whose `endTime` lies in `(from_ms, to_ms]` (Unix
    /// milliseconds), as seen at `to_ms` (a static dataset: as of its anchor; a live dataset:
    /// the jobs that exist then, purged ones excluded), in `jobId` order.
    pub fn between_ms(dataset: &Dataset, from_ms: i64, to_ms: i64) -> Vec<FinishedJobTruth> {
        let at = dataset.render_instant(to_ms);
        dataset
            .jobs_at(to_ms)
            .filter(|job| job.state == Some(JobState::Done))
            .filter(|job| job.end_ms.is_some_and(|end| end > from_ms && end <= to_ms))
            .filter_map(|job| {
                let (details, _) = JobDetails::draw(dataset, &job, at);
                let mut tries = job_tries(dataset, &job, &details, at);
                let last = tries.pop()?;
                let try_status = last.status.unwrap_or(0);
                Some(FinishedJobTruth {
                    job_id: job.job_id,
                    parent_job_id: details.parent,
                    job_type: job.job_type,
                    sub_type: details.sub_type,
                    policy_name: details.policy_name(),
                    policy_type: job.policy_type,
                    schedule_name: details.schedule_name,
                    client_name: job.client_name.to_owned(),
                    status: job.status,
                    try_status,
                    status_message: status_message(try_status),
                    tries: details.tries,
                    kilobytes: job.kilobytes,
                    files: job.files,
                    start_ms: job.start_ms,
                    end_ms: job.end_ms.unwrap_or(job.start_ms),
                    storage_unit: details.destination_unit.to_owned(),
                    media_server: last.media_server,
                    problems: last
                        .log
                        .into_iter()
                        .filter(TryLogLine::is_problem)
                        .collect(),
                })
            })
            .collect()
    }

    /// [`FinishedJobTruth::between_ms`] for instants.
    pub fn between(
        dataset: &Dataset,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<FinishedJobTruth> {
        FinishedJobTruth::between_ms(dataset, from.timestamp_millis(), to.timestamp_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimConfig;

    #[test]
    fn failures_carry_their_cause() {
        let cfg = SimConfig::reproducible(20_000);
        let data = Dataset::new(&cfg);
        let anchor = cfg.anchor_ms();
        let all = FinishedJobTruth::between_ms(&data, i64::MIN, anchor);
        let done = data
            .jobs()
            .filter(|j| j.state == Some(JobState::Done))
            .count();
        assert_eq!(all.len(), done);
        let mut codes = std::collections::BTreeSet::new();
        for job in &all {
            if let Some(status) = job.status {
                assert_eq!(status, job.try_status);
            }
            assert_eq!(job.failed(), !job.problems.is_empty(), "{job:?}");
            codes.insert(job.try_status);
            assert!(job.start_ms <= job.end_ms);
        }
        assert!(codes.len() >= 15, "{codes:?}");
        let recent = FinishedJobTruth::between_ms(&data, anchor - 3_600_000, anchor);
        assert!(!recent.is_empty() && recent.len() < all.len() / 10);
        assert!(recent.iter().all(|j| j.end_ms > anchor - 3_600_000));
    }
}
