//! A job's details: the attributes neither filters nor the jobs fold use (parent, tries, process
//! ids, policy and schedule names, storage units and media servers), drawn from the job's own
//! render stream. The jobs page and the try logs both read them from here, so the two never
//! disagree; the jobs page goes on drawing its other attributes from the same stream.

use super::data::Dataset;
use super::job::{Job, JobState};
use super::rng::Draws;
use super::vocabulary::{MEDIA_SERVERS, PRIMARY_SERVER, SCHEDULES, TIERS, policy_prefix};

/// Salt of the render stream of a job.
const RENDER: u64 = 0x7265_6e64;

/// The drawn details of one job as it is at an instant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JobDetails<'a> {
    /// `parentJobId` (0: none).
    pub parent: u64,
    /// `try`: the number of tries so far.
    pub tries: u64,
    /// `activeTryStartTime`, Unix milliseconds: the start of the last try.
    pub try_start_ms: i64,
    /// `endTime`, or for an unfinished job the instant it is seen at (never before the start).
    pub now_or_end_ms: i64,
    /// `activeProcessId`: the process of the last try.
    pub active_pid: u64,
    /// `mainProcessId`.
    pub main_pid: u64,
    /// `jobSubType`.
    pub sub_type: &'static str,
    /// The tier and number of the policy name, when the job has a policy type.
    pub policy: Option<(&'static str, &'static str, u64)>,
    /// `scheduleType`.
    pub schedule_type: &'static str,
    /// `scheduleName` (empty for jobs without a backup schedule).
    pub schedule_name: &'static str,
    /// `sourceStorageUnitName` (empty when none).
    pub source_unit: &'a str,
    /// `sourceMediaServerName` (empty when none).
    pub source_media: &'static str,
    /// `destinationStorageUnitName` (empty when none).
    pub destination_unit: &'a str,
    /// `destinationMediaServerName` (empty when none).
    pub destination_media: &'static str,
}

/// A storage unit name of the dataset, drawn from `r` (empty when there is none).
pub(crate) fn unit_name<'a>(dataset: &'a Dataset, r: &mut Draws) -> &'a str {
    let units = dataset.storage_units();
    units
        .get(r.below(units.len() as u64) as usize)
        .map_or("", |u| u.name.as_str())
}

/// A media server of the vocabulary, drawn from `r`.
pub(crate) fn media_server(r: &mut Draws) -> &'static str {
    MEDIA_SERVERS
        .get(r.below(MEDIA_SERVERS.len() as u64) as usize)
        .copied()
        .unwrap_or("")
}

/// Whether a job type writes backup images (`BACKUP`, `SNAPSHOT`, `DBBACKUP`, `ARCHIVE`).
pub(crate) fn is_backup_like(kind: &str) -> bool {
    matches!(kind, "BACKUP" | "SNAPSHOT" | "DBBACKUP" | "ARCHIVE")
}

/// Whether a job type copies or reads existing images.
pub(crate) fn is_copy_like(kind: &str) -> bool {
    matches!(
        kind,
        "DUPLICATE" | "REPLICATE" | "VERIFY" | "SNAPDUPE" | "IMPORT"
    )
}

impl<'a> JobDetails<'a> {
    /// The details of `job` (as the jobs page has it) seen at `now_ms`, and its render stream
    /// positioned after them.
    pub(crate) fn draw(dataset: &'a Dataset, job: &Job<'_>, now_ms: i64) -> (Self, Draws) {
        let id = job.job_id;
        let mut r = Draws::new(dataset.seed(), id.wrapping_sub(1), RENDER);
        let kind = job.job_type.unwrap_or("");
        let state = job.state;
        let now_or_end = job.end_ms.unwrap_or(now_ms).max(job.start_ms);
        let elapsed_ms = now_or_end - job.start_ms;
        let backup_like = is_backup_like(kind);
        let copy_like = is_copy_like(kind);

        let parent = if matches!(kind, "BACKUP" | "SNAPSHOT") && id > 1 && r.chance(0.2) {
            id - 1 - r.below((id - 1).min(20))
        } else {
            0
        };
        let tries = match state {
            Some(JobState::Requeued) => r.range(2, 3),
            Some(JobState::Incomplete) => 2,
            Some(JobState::Done) if r.chance(0.05) => 2,
            _ => 1,
        };
        let try_start_ms = if tries > 1 {
            job.start_ms + r.below(elapsed_ms.max(0) as u64 / 2 + 1) as i64
        } else {
            job.start_ms
        };
        let active_pid = r.range(1_000, 65_000);
        let main_pid = if matches!(kind, "IMAGEDELETE" | "RESTORE") {
            r.range(1_000, 65_000)
        } else {
            0
        };
        let sub_type = match kind {
            "BACKUP" | "SNAPSHOT" | "DBBACKUP" if r.chance(0.97) => "SCHEDULED",
            "BACKUP" => "USERBACKUP",
            _ => "IMMEDIATE",
        };
        let policy = job.policy_type.map(|policy_type| {
            let tier = TIERS
                .get(r.below(TIERS.len() as u64) as usize)
                .copied()
                .unwrap_or("");
            (policy_prefix(policy_type), tier, r.below(40))
        });
        let (schedule_type, schedule_name) = if backup_like {
            r.pick(SCHEDULES).unwrap_or(("FULL_BACKUP", ""))
        } else {
            ("FULL_BACKUP", "")
        };
        let (source_unit, source_media) = if copy_like || kind == "RESTORE" {
            let unit = unit_name(dataset, &mut r);
            (unit, media_server(&mut r))
        } else {
            ("", "")
        };
        let (destination_unit, destination_media) = if backup_like || copy_like {
            let unit = unit_name(dataset, &mut r);
            (unit, media_server(&mut r))
        } else {
            ("", "")
        };
        let details = JobDetails {
            parent,
            tries,
            try_start_ms,
            now_or_end_ms: now_or_end,
            active_pid,
            main_pid,
            sub_type,
            policy,
            schedule_type,
            schedule_name,
            source_unit,
            source_media,
            destination_unit,
            destination_media,
        };
        (details, r)
    }

    /// `policyName`: `<type>-<tier>-<nn>`, empty for a job without a policy type.
    pub(crate) fn policy_name(&self) -> String {
        self.policy
            .map(|(prefix, tier, n)| format!("{prefix}-{tier}-{n:02}"))
            .unwrap_or_default()
    }

    /// The media server a try ran on: the destination's, else the source's (restores), else
    /// the primary server (image cleanup, indexing, jobs without a type).
    pub(crate) fn media_server(&self) -> &'static str {
        [self.destination_media, self.source_media]
            .into_iter()
            .find(|m| !m.is_empty())
            .unwrap_or(PRIMARY_SERVER)
    }
}
