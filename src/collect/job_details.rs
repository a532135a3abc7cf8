//! What a job event tells beyond the job store's record: the job's own description
//! ([`JobDetails`]), read from the page that showed it finished, for the jobs whose status the
//! configuration reports ([`EventFilter`]). The store keeps them only while it applies a
//! batch; the events carry them on ([`super::job_event`]).

use super::label::cut_at;
use crate::netbackup::lenient::{Num, Text};
use crate::netbackup::models::JobAttributes;

/// Which finished jobs become events: every status but 0, and 0 too when asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFilter {
    /// Report jobs that succeeded (status 0).
    pub include_successes: bool,
}

impl EventFilter {
    /// Whether a finished job of `status` is reported (an unknown status is).
    pub fn reports(&self, status: Option<i64>) -> bool {
        self.include_successes || status != Some(0)
    }
}

/// The texts and numbers of a job that only its event uses, read from the page that showed it
/// finished. Each is `None` when absent, empty or invalid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobDetails {
    /// `parentJobId`, when not 0.
    pub parent_job_id: Option<u64>,
    /// `jobSubType`.
    pub sub_type: Option<Box<str>>,
    /// `policyName`.
    pub policy_name: Option<Box<str>>,
    /// `scheduleName`.
    pub schedule: Option<Box<str>>,
    /// `clientName`.
    pub client: Option<Box<str>>,
    /// `try`: the number of tries.
    pub tries: Option<u64>,
    /// `numberOfFiles`.
    pub files: Option<u64>,
    /// `destinationStorageUnitName`.
    pub storage_unit: Option<Box<str>>,
    /// `destinationMediaServerName`.
    pub media_server: Option<Box<str>>,
}

/// The longest text kept of one detail (a client or policy name is far shorter).
const MAX_DETAIL_BYTES: usize = 512;

/// A detail as kept: trimmed, cut to [`MAX_DETAIL_BYTES`], control characters (which would
/// break or forge a log line when the event is logged) as spaces.
fn owned(text: &Text<'_>) -> Option<Box<str>> {
    let t = text.as_str()?.trim();
    if t.is_empty() {
        return None;
    }
    let t = cut_at(t, MAX_DETAIL_BYTES);
    if t.chars().any(char::is_control) {
        return Some(
            t.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
                .into(),
        );
    }
    Some(t.into())
}

fn number(n: Num<u64>) -> Option<u64> {
    n.valid()
}

impl JobDetails {
    /// The details of `job`.
    pub fn of(job: &JobAttributes<'_>) -> Self {
        JobDetails {
            parent_job_id: number(job.parent_job_id).filter(|p| *p != 0),
            sub_type: owned(&job.job_sub_type),
            policy_name: owned(&job.policy_name),
            schedule: owned(&job.schedule_name),
            client: owned(&job.client_name),
            tries: number(job.try_count),
            files: number(job.number_of_files),
            storage_unit: owned(&job.destination_storage_unit_name),
            media_server: owned(&job.destination_media_server_name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_reports_failures_and_successes_only_when_asked() {
        let failures = EventFilter {
            include_successes: false,
        };
        assert!(!failures.reports(Some(0)));
        assert!(failures.reports(Some(1)) && failures.reports(Some(13)) && failures.reports(None));
        let all = EventFilter {
            include_successes: true,
        };
        assert!(all.reports(Some(0)));
    }

    #[test]
    fn details_keep_what_is_there_and_cut_what_is_huge() {
        let long = "x".repeat(5000);
        let job = JobAttributes {
            client_name: Text::Valid(long.as_str().into()),
            policy_name: Text::Valid("  ".into()),
            parent_job_id: Num::Valid(0),
            try_count: Num::Valid(3),
            ..JobAttributes::default()
        };
        let d = JobDetails::of(&job);
        assert_eq!(d.client.as_deref().map(str::len), Some(MAX_DETAIL_BYTES));
        assert_eq!(d.policy_name, None, "blank is absent");
        assert_eq!(d.parent_job_id, None, "0 means no parent");
        assert_eq!(d.tries, Some(3));
    }

    #[test]
    fn control_characters_in_names_cannot_forge_a_log_line() {
        let job = JobAttributes {
            client_name: Text::Valid("host\n2024-01-01 ERROR forged\u{1b}[2J\0".into()),
            ..JobAttributes::default()
        };
        let d = JobDetails::of(&job);
        let client = d.client.as_deref().unwrap_or_default();
        assert!(!client.chars().any(char::is_control), "{client:?}");
        assert!(
            client.starts_with("host 2024-01-01 ERROR forged"),
            "{client:?}"
        );
    }
}
