//! The draws a static job and a live job share: identity, huge transfers, omitted attributes.

use super::job::{Job, JobState};
use super::rng::Draws;
use super::vocabulary::{JOB_TYPES, POLICY_TYPES};

/// About one job in this many moves a huge amount of data (near 2^52 KB).
pub(crate) const HUGE_ONE_IN: u64 = 2000;

/// A job's type, policy type (none for image cleanup, the catalog's for catalog backups) and
/// client (none for image cleanup), drawn in this order from `d`.
pub(crate) fn draw_identity<'a>(
    d: &mut Draws,
    clients: &'a [String],
) -> (&'static str, Option<&'static str>, &'a str) {
    let job_type = d.pick(JOB_TYPES).unwrap_or("BACKUP");
    let policy_type = match job_type {
        "IMAGEDELETE" => None,
        "DBBACKUP" => Some("NBU_CATALOG"),
        _ => d.pick(POLICY_TYPES),
    };
    let client_name = if job_type == "IMAGEDELETE" {
        ""
    } else {
        let client = d.below(clients.len() as u64) as usize;
        clients.get(client).map_or("", String::as_str)
    };
    (job_type, policy_type, client_name)
}

/// Drops the attributes selected by the bits of `mask`. `state` is only dropped from
/// unfinished jobs, so that every job without a state is still picked by `state ne 'DONE'`.
pub(crate) fn omit_attributes(job: &mut Job<'_>, mask: u64) {
    let bit = |n: u32| mask & (1 << n) != 0;
    if bit(0) {
        job.job_type = None;
    }
    if bit(1) {
        job.policy_type = None;
    }
    if bit(2) {
        job.status = None;
    }
    if bit(3) {
        job.kilobytes = None;
    }
    if bit(4) {
        job.files = None;
    }
    if bit(5) && job.state != Some(JobState::Done) {
        job.state = None;
    }
    if bit(6) {
        job.queue_reason = None;
    }
}
