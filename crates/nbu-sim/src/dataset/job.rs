//! A job as the dataset knows it: the facts that filters and the ground truth use.

/// A job state of the vendor enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// `QUEUED`.
    Queued,
    /// `ACTIVE`.
    Active,
    /// `REQUEUED`.
    Requeued,
    /// `DONE`.
    Done,
    /// `SUSPENDED`.
    Suspended,
    /// `INCOMPLETE`.
    Incomplete,
}

impl JobState {
    /// The state as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "QUEUED",
            JobState::Active => "ACTIVE",
            JobState::Requeued => "REQUEUED",
            JobState::Done => "DONE",
            JobState::Suspended => "SUSPENDED",
            JobState::Incomplete => "INCOMPLETE",
        }
    }

    /// Whether the job waits in the queue (`QUEUED` or `REQUEUED`).
    pub fn is_queued(self) -> bool {
        matches!(self, JobState::Queued | JobState::Requeued)
    }
}

/// The facts of one job that filters and the ground truth use. `None` means the attribute is
/// absent from the payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Job<'a> {
    /// `jobId` (index + 1).
    pub job_id: u64,
    /// `jobType`.
    pub job_type: Option<&'static str>,
    /// `policyType` (absent for `IMAGEDELETE` jobs, as in the vendor example).
    pub policy_type: Option<&'static str>,
    /// `state`.
    pub state: Option<JobState>,
    /// `status`: the NetBackup status code; 0 for unfinished jobs.
    pub status: Option<u32>,
    /// `jobQueueReason`: a vendor code for queued jobs, 0 for the others.
    pub queue_reason: Option<u32>,
    /// `kilobytesTransferred` (at most `u64::MAX / 1024`).
    pub kilobytes: Option<u64>,
    /// `numberOfFiles`.
    pub files: Option<u64>,
    /// `dedupRatio`: only on some finished jobs, never on unfinished ones.
    pub dedup_ratio: Option<f64>,
    /// `startTime`, Unix milliseconds.
    pub start_ms: i64,
    /// `endTime`, Unix milliseconds; absent for unfinished jobs.
    pub end_ms: Option<i64>,
    /// `lastUpdateTime`, Unix milliseconds.
    pub last_update_ms: i64,
    /// `clientName` (empty for image cleanup jobs).
    pub client_name: &'a str,
    /// Whether the JSON `id` of the item is a string (`"42"`) rather than an integer (`42`).
    pub id_as_string: bool,
}
