//! The tries of a job, as `GET /admin/jobs/{jobId}/try-logs` shows them: one per attempt, the
//! last one the job's current (or final) try, each with its status and its parsed log.
//!
//! The number of tries, the start of the last one, its process id, media server and storage
//! units are the job's details (`details`), shared with the jobs page. A finished job's last try
//! ends with the job's status (the real one, even where the page omits `status`); earlier tries
//! failed with a retryable status. The current try of an unfinished job has no status yet
//! (rendered as 0 with an empty message). Everything else is drawn from the job's own try
//! stream, before looking at the instant, so a live job's tries only grow as it runs.

use super::data::Dataset;
use super::details::{JobDetails, is_backup_like, is_copy_like};
use super::job::{Job, JobState};
use super::rng::Draws;
use super::status_messages::{RETRY_STATUSES, status_message};
use super::try_causes::{CauseContext, WARNING, cause_lines};
use super::vocabulary::NO_DATA_STATUSES;

/// Salt of the try stream of a job.
const TRIES: u64 = 0x7472_6965;
/// Salt of the process id of `nbjm` (one per dataset).
const NBJM: u64 = 0x6e62_6a6d;
/// At most this many tries precede the last one.
const MAX_EARLIER: usize = 2;

/// One parsed line of a try's log (an element of `tryLog`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryLogLine {
    /// `timestamp`, Unix milliseconds.
    pub timestamp_ms: i64,
    /// `severity` (`INFO`, `WARNING`, `ERROR`, `CRITICAL`); `None` for lines without one
    /// (`begin writing`, the final status line), which the API renders without `severity`.
    pub severity: Option<&'static str>,
    /// `message`.
    pub message: String,
}

impl TryLogLine {
    /// Whether the line's severity is `WARNING` or above.
    pub fn is_problem(&self) -> bool {
        matches!(self.severity, Some("WARNING" | "ERROR" | "CRITICAL"))
    }
}

/// One try of a job.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Try<'a> {
    /// `tryNumber`, from 1.
    pub number: u64,
    /// `tryStartTime`, Unix milliseconds.
    pub start_ms: i64,
    /// `tryEndTime`: the end, or for a running try its last update.
    pub end_ms: i64,
    /// `tryStatusCode`; `None` while the try runs.
    pub status: Option<u32>,
    /// `tryProcessId`.
    pub pid: u64,
    /// `tryKbWritten`.
    pub kilobytes: u64,
    /// `tryFilesWritten`.
    pub files: u64,
    /// `tryMediaServer`.
    pub media_server: &'static str,
    /// `trySourceStorageUnit`.
    pub source_unit: &'a str,
    /// `tryDestinationStorageUnit`.
    pub destination_unit: &'a str,
    /// `tryLog`.
    pub log: Vec<TryLogLine>,
}

impl Try<'_> {
    /// `tryStatusMessage`: the standard message of the status, empty while the try runs.
    pub(crate) fn status_message(&self) -> &'static str {
        self.status.map_or("", status_message)
    }

    /// `tryKbps`: kilobytes per second of the try, to the hundredth.
    pub(crate) fn kbps(&self) -> f64 {
        let ms = u128::try_from((self.end_ms - self.start_ms).max(1)).unwrap_or(1);
        let hundredths = u128::from(self.kilobytes) * 100_000 / ms;
        hundredths as f64 / 100.0
    }
}

/// The verb of a job type in `nbjm`'s lines.
fn verb(kind: &str) -> &'static str {
    match kind {
        "BACKUP" | "SNAPSHOT" | "ARCHIVE" => "backup",
        "DBBACKUP" => "catalog backup",
        "DUPLICATE" | "SNAPDUPE" => "duplication",
        "REPLICATE" => "replication",
        "RESTORE" => "restore",
        "VERIFY" => "verify",
        "IMPORT" => "import",
        "IMAGEDELETE" => "image cleanup",
        "INDEXING" => "indexing",
        _ => "",
    }
}

/// What a try's log says, as (per mille of the try, severity, message).
type Lines = Vec<(i64, Option<&'static str>, String)>;

/// The opening lines of a try: up to its resource request, and once `running` up to its
/// start (`begin writing` when it `writes` data).
fn opening(
    kind: &str,
    d: &JobDetails<'_>,
    c: &CauseContext<'_>,
    running: bool,
    writes: bool,
) -> Lines {
    let (id, nbjm, pid, client) = (c.job_id, c.nbjm, c.bpbrm, c.client);
    let what = verb(kind);
    let info = Some("INFO");
    let mut lines: Lines = Vec::with_capacity(8);
    let mut start = format!("nbjm (pid={nbjm}) starting {what} job (jobid={id})");
    if !c.policy.is_empty() {
        start.push_str(&format!(" for client {client}, policy {}", c.policy));
    }
    if !c.schedule.is_empty() {
        start.push_str(&format!(", schedule {}", c.schedule));
    }
    lines.push((0, info, start));
    lines.push((
        0,
        info,
        format!("nbjm (pid={nbjm}) requesting STANDARD_RESOURCE resources from RB for {what} job (jobid={id})"),
    ));
    if !running {
        return lines;
    }
    let granted = if c.storage_unit.is_empty() {
        format!(
            "nbjm (pid={nbjm}) granted resource(s) for {what} job (jobid={id}): media server {}",
            c.media_server
        )
    } else {
        format!(
            "nbjm (pid={nbjm}) granted resource(s) for {what} job (jobid={id}): media server {}, storage unit {}",
            c.media_server, c.storage_unit
        )
    };
    lines.push((5, info, granted));
    if is_backup_like(kind) {
        lines.push((
            10,
            info,
            format!("bpbrm (pid={pid}) {client} is the host to backup data from"),
        ));
        lines.push((
            12,
            info,
            format!("bpbrm (pid={pid}) reading file list for client"),
        ));
        lines.push((
            15,
            info,
            format!("bpbrm (pid={pid}) starting bpbkar on client"),
        ));
    } else if is_copy_like(kind) {
        let images = if d.source_unit.is_empty() {
            "the selected images".to_owned()
        } else {
            format!("images on storage unit {}", d.source_unit)
        };
        lines.push((
            10,
            info,
            format!("bpduplicate (pid={pid}) processing {images}"),
        ));
    } else if kind == "RESTORE" {
        lines.push((
            10,
            info,
            format!(
                "bprd (pid={pid}) restoring to client {client} from media server {}",
                c.media_server
            ),
        ));
    } else if kind == "IMAGEDELETE" {
        lines.push((10, info, format!("bpdbm (pid={pid}) image catalog cleanup")));
    } else {
        lines.push((
            10,
            info,
            format!("bpjobd (pid={pid}) {what} job (jobid={id}) started"),
        ));
    }
    if writes {
        lines.push((20, None, "begin writing".to_owned()));
    }
    lines
}

/// The closing lines of a finished try with `status` (`end writing` when it `writes` data).
fn closing(t: &Try<'_>, status: u32, c: &CauseContext<'_>, writes: bool) -> Lines {
    let mut lines: Lines = Vec::with_capacity(5);
    let (pid, bptm) = (c.bpbrm, c.bptm);
    if matches!(status, 0 | 1) && writes {
        lines.push((
                970,
                Some("INFO"),
                format!(
                    "bptm (pid={bptm}) wrote backup id {}_{}, copy 1, fragment 1, {} Kbytes at {} Kbytes/sec",
                    c.client,
                    t.start_ms.div_euclid(1000),
                    t.kilobytes,
                    t.kbps()
                ),
            ));
    }
    for (severity, message) in cause_lines(status, c) {
        lines.push((980, Some(severity), message));
    }
    if writes {
        let seconds = (t.end_ms - t.start_ms).max(0) / 1000;
        lines.push((
            990,
            None,
            format!(
                "end writing; write time: {}:{:02}:{:02}",
                seconds / 3600,
                seconds / 60 % 60,
                seconds % 60
            ),
        ));
    }
    lines.push((
        995,
        Some("INFO"),
        format!(
            "bpbrm (pid={pid}) done. status: {status}: {}",
            status_message(status)
        ),
    ));
    lines.push((
        1000,
        None,
        format!("{}  ({status})", status_message(status)),
    ));
    lines
}

/// The lines of a try still running in `state`.
fn running_tail(state: Option<JobState>, c: &CauseContext<'_>) -> Lines {
    let (id, nbjm, pid) = (c.job_id, c.nbjm, c.bpbrm);
    match state {
        Some(JobState::Suspended) => vec![(
            1000,
            Some(WARNING),
            format!("nbjm (pid={nbjm}) job (jobid={id}) suspended by administrator root"),
        )],
        Some(JobState::Incomplete) => vec![(
            1000,
            Some(WARNING),
            format!(
                "bpbrm (pid={pid}) job (jobid={id}) is incomplete; it can be resumed from its last checkpoint"
            ),
        )],
        Some(JobState::Queued | JobState::Requeued) | None => vec![(
            1000,
            Some("INFO"),
            format!("nbjm (pid={nbjm}) job (jobid={id}) is waiting for resources"),
        )],
        Some(JobState::Active | JobState::Done) => Vec::new(),
    }
}

fn timed(start: i64, end: i64, lines: Lines) -> Vec<TryLogLine> {
    let span = i128::from((end - start).max(0));
    lines
        .into_iter()
        .map(|(permille, severity, message)| TryLogLine {
            timestamp_ms: start + i64::try_from(span * i128::from(permille) / 1000).unwrap_or(0),
            severity,
            message,
        })
        .collect()
}

/// The tries of `job` (as the jobs page has it) seen at `now_ms` (the page's instant: the
/// anchor for a static dataset), oldest first; `details` are the job's details at that instant.
pub(crate) fn job_tries<'a>(
    dataset: &'a Dataset,
    job: &Job<'_>,
    details: &JobDetails<'a>,
    now_ms: i64,
) -> Vec<Try<'a>> {
    let index = job.job_id.wrapping_sub(1);
    let full = dataset.full_job_at(index, now_ms);
    let kind = full.as_ref().and_then(|j| j.job_type).unwrap_or("");
    let status = full.as_ref().and_then(|j| j.status);
    let state = job.state;
    let done = state == Some(JobState::Done);

    let nbjm = Draws::new(dataset.seed(), 0, NBJM).range(1_000, 65_000);
    let mut d = Draws::new(dataset.seed(), index, TRIES);
    let earlier: Vec<(u32, u64, u64, u64)> = (0..MAX_EARLIER)
        .map(|_| {
            let status = d.pick(RETRY_STATUSES).unwrap_or(41);
            (
                status,
                d.range(1_000, 65_000),
                d.range(50, 95),
                d.next_u64(),
            )
        })
        .collect();
    let bptm_offset = d.range(1, 400);
    let last_variant = d.next_u64();

    let policy = details.policy_name();
    let media_server = details.media_server();
    let storage_unit = if details.destination_unit.is_empty() {
        details.source_unit
    } else {
        details.destination_unit
    };
    let context = |bpbrm: u64, variant: u64| CauseContext {
        job_id: job.job_id,
        client: job.client_name,
        policy: &policy,
        schedule: details.schedule_name,
        media_server,
        storage_unit,
        bpbrm,
        bptm: bpbrm + bptm_offset,
        nbjm,
        variant,
    };
    let blank = |number: u64, start_ms: i64, end_ms: i64, status: Option<u32>, pid: u64| Try {
        number,
        start_ms,
        end_ms,
        status,
        pid,
        kilobytes: 0,
        files: 0,
        media_server,
        source_unit: details.source_unit,
        destination_unit: details.destination_unit,
        log: Vec::new(),
    };

    // Whether a try with `status` (`None`: running) writes data.
    let writes = |status: Option<u32>| {
        (is_backup_like(kind) || is_copy_like(kind))
            && !status.is_some_and(|s| NO_DATA_STATUSES.contains(&s))
    };
    let tries = details.tries.max(1);
    let previous = usize::try_from(tries - 1).unwrap_or(0).min(MAX_EARLIER);
    let mut out = Vec::with_capacity(previous + 1);
    // Earlier tries share the time before the last one, each failing part-way through its slot.
    let slot = (details.try_start_ms - job.start_ms).max(0) / (previous as i64).max(1);
    for (k, (code, pid, permille, variant)) in earlier.into_iter().take(previous).enumerate() {
        let start = job.start_ms + slot * k as i64;
        let end = start + slot * permille as i64 / 100;
        let mut t = blank(k as u64 + 1, start, end, Some(code), pid);
        let c = context(pid, variant);
        let mut lines = opening(kind, details, &c, true, writes(Some(code)));
        lines.extend(closing(&t, code, &c, writes(Some(code))));
        t.log = timed(start, end, lines);
        out.push(t);
    }

    let start = details.try_start_ms;
    let end = if done {
        details.now_or_end_ms
    } else {
        job.last_update_ms.max(start)
    };
    let final_status = if done {
        Some(status.unwrap_or(0))
    } else {
        None
    };
    let mut last = blank(tries, start, end, final_status, details.active_pid);
    last.kilobytes = job.kilobytes.unwrap_or(0);
    last.files = job.files.unwrap_or(0);
    let c = context(details.active_pid, last_variant);
    let running = !matches!(state, Some(JobState::Queued | JobState::Requeued) | None);
    let mut lines = opening(kind, details, &c, running, writes(final_status));
    match final_status {
        Some(code) => lines.extend(closing(&last, code, &c, writes(final_status))),
        None => lines.extend(running_tail(state, &c)),
    }
    last.log = timed(start, end, lines);
    out.push(last);
    out
}
