//! Job outcomes as events: what the agent tells about one finished job, once.
//!
//! The job store reports each finished job once ([`FinishedJob`]); a job whose status the
//! configuration reports ([`EventFilter`]) becomes a [`JobEvent`] carrying the job's own
//! description ([`JobDetails`], read from the same page), then NetBackup's reason from the
//! job's try logs ([`Reason`]). The exporter turns events into OTLP log records.

use std::sync::Arc;

pub use super::job_details::{EventFilter, JobDetails};
use super::status_codes::status_message;
use super::store::FinishedJob;

/// Why an event carries no reason from NetBackup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonMissing {
    /// `events.try_logs` is off.
    Disabled,
    /// More failed jobs finished in one cycle than `events.try_logs_per_cycle` allows lookups.
    Budget,
    /// The try-logs request failed (an error, a timeout, a broken answer).
    Failed,
    /// NetBackup has no try logs for the job (404, or no try).
    Unavailable,
}

impl ReasonMissing {
    /// The value of the `nbu.job.reason_missing` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonMissing::Disabled => "disabled",
            ReasonMissing::Budget => "budget",
            ReasonMissing::Failed => "failed",
            ReasonMissing::Unavailable => "unavailable",
        }
    }
}

/// NetBackup's reason for a job's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Not looked up yet: the event waits for its site's next lookups.
    Pending,
    /// Not wanted: the job succeeded.
    NotNeeded,
    /// The last try's status message, and the reason as one text.
    Found {
        /// `tryStatusMessage` of the last try.
        status_message: Option<String>,
        /// The status message and the `WARNING`-and-above lines, cut to `events.reason_max_bytes`.
        text: String,
    },
    /// Looked up in vain, or not looked up.
    Missing(ReasonMissing),
}

/// The severity of a job event.
pub use crate::events::JobSeverity as Severity;

/// One finished job, as reported.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    /// The site.
    pub site: Arc<str>,
    /// `jobId`.
    pub job_id: u64,
    /// `jobType` (the `action` label).
    pub job_type: Box<str>,
    /// `policyType`.
    pub policy_type: Box<str>,
    /// The NetBackup status code, when valid.
    pub status: Option<i64>,
    /// `startTime`, Unix milliseconds.
    pub start_ms: Option<i64>,
    /// `endTime`, Unix milliseconds (NetBackup's clock).
    pub end_ms: Option<i64>,
    /// `kilobytesTransferred * 1024`.
    pub bytes: u64,
    /// `endTime - startTime`, seconds.
    pub duration_seconds: Option<f64>,
    /// What only the event tells.
    pub details: JobDetails,
    /// When the agent saw the job finished, Unix milliseconds (its own clock).
    pub observed_ms: i64,
    /// NetBackup's reason.
    pub reason: Reason,
}

impl JobEvent {
    /// The event of `job`, seen at `observed_ms`, its reason still to be looked up (or not
    /// needed, for a success).
    pub fn new(site: &Arc<str>, job: &FinishedJob<'_>, observed_ms: i64) -> Self {
        JobEvent {
            site: site.clone(),
            job_id: job.job_id,
            job_type: job.action.into(),
            policy_type: job.policy_type.into(),
            status: job.status,
            start_ms: job.start_ms,
            end_ms: job.end_ms,
            bytes: job.bytes,
            duration_seconds: job.seconds,
            details: job.details.cloned().unwrap_or_default(),
            observed_ms,
            reason: if job.status == Some(0) {
                Reason::NotNeeded
            } else {
                Reason::Pending
            },
        }
    }

    /// INFO for status 0, WARN for 1 (and an unknown status), ERROR above.
    pub fn severity(&self) -> Severity {
        match self.status {
            Some(0) => Severity::Info,
            Some(s) if s > 1 => Severity::Error,
            _ => Severity::Warn,
        }
    }

    /// NetBackup's message for the status: the last try's, else the standard one for the code.
    pub fn status_message(&self) -> Option<&str> {
        match &self.reason {
            Reason::Found {
                status_message: Some(m),
                ..
            } => Some(m),
            _ => self.status.and_then(status_message),
        }
    }

    /// The event's time: the job's end (NetBackup's clock), else when the agent saw it.
    pub fn time_ms(&self) -> i64 {
        self.end_ms.unwrap_or(self.observed_ms)
    }

    /// One sentence for a person reading a log view, for example "BACKUP of
    /// client-0042.example.com (policy pol-007, schedule daily) failed with status 13: file
    /// read failed".
    pub fn body(&self) -> String {
        let d = &self.details;
        let kind = if self.job_type.is_empty() {
            "job"
        } else {
            &self.job_type
        };
        let mut out = match &d.client {
            Some(client) => format!("{kind} of {client}"),
            None => format!("{kind} job {}", self.job_id),
        };
        let context: Vec<String> = [
            d.policy_name.as_ref().map(|p| format!("policy {p}")),
            d.schedule.as_ref().map(|s| format!("schedule {s}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !context.is_empty() {
            out.push_str(&format!(" ({})", context.join(", ")));
        }
        match self.status {
            Some(0) => out.push_str(" succeeded"),
            Some(1) => out.push_str(" partially succeeded with status 1"),
            Some(s) => out.push_str(&format!(" failed with status {s}")),
            None => out.push_str(" finished with an unknown status"),
        }
        if self.status != Some(0)
            && let Some(message) = self.status_message()
        {
            out.push_str(": ");
            out.push_str(message);
        }
        out
    }

    /// The reason as one text, when NetBackup gave one.
    pub fn reason_text(&self) -> Option<&str> {
        match &self.reason {
            Reason::Found { text, .. } if !text.is_empty() => Some(text),
            _ => None,
        }
    }

    /// Why the event has no reason, when it needed one.
    pub fn reason_missing(&self) -> Option<ReasonMissing> {
        match self.reason {
            Reason::Missing(why) => Some(why),
            _ => None,
        }
    }

    /// Roughly the memory the event holds (its size and the texts it owns), against which the
    /// job events benchmark measures what a waiting record really costs.
    pub fn heap_bytes(&self) -> usize {
        let d = &self.details;
        let text = |t: &Option<Box<str>>| t.as_ref().map_or(0, |t| t.len());
        let reason = match &self.reason {
            Reason::Found {
                status_message,
                text,
            } => status_message.as_ref().map_or(0, String::capacity) + text.capacity(),
            _ => 0,
        };
        std::mem::size_of::<Self>()
            + self.job_type.len()
            + self.policy_type.len()
            + text(&d.sub_type)
            + text(&d.policy_name)
            + text(&d.schedule)
            + text(&d.client)
            + text(&d.storage_unit)
            + text(&d.media_server)
            + reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(status: Option<i64>, details: JobDetails) -> JobEvent {
        JobEvent {
            site: Arc::from("site-a"),
            job_id: 42,
            job_type: "BACKUP".into(),
            policy_type: "STANDARD".into(),
            status,
            start_ms: Some(1_000),
            end_ms: Some(61_000),
            bytes: 2048,
            duration_seconds: Some(60.0),
            details,
            observed_ms: 70_000,
            reason: Reason::Pending,
        }
    }

    fn full() -> JobDetails {
        JobDetails {
            client: Some("client-0042.example.com".into()),
            policy_name: Some("pol-007".into()),
            schedule: Some("daily".into()),
            ..JobDetails::default()
        }
    }

    #[test]
    fn the_memory_estimate_counts_the_texts_the_event_owns() {
        let bare = event(Some(13), JobDetails::default());
        assert!(bare.heap_bytes() >= std::mem::size_of::<JobEvent>());
        let named = event(Some(13), full());
        let names = "client-0042.example.com".len() + "pol-007".len() + "daily".len();
        assert_eq!(named.heap_bytes(), bare.heap_bytes() + names);
        let mut explained = event(Some(13), full());
        explained.reason = Reason::Found {
            status_message: Some("file read failed".to_owned()),
            text: "x".repeat(300),
        };
        assert!(explained.heap_bytes() >= named.heap_bytes() + 300 + "file read failed".len());
    }

    #[test]
    fn the_body_reads_as_one_sentence() {
        assert_eq!(
            event(Some(13), full()).body(),
            "BACKUP of client-0042.example.com (policy pol-007, schedule daily) failed with \
             status 13: file read failed"
        );
        assert_eq!(
            event(Some(0), full()).body(),
            "BACKUP of client-0042.example.com (policy pol-007, schedule daily) succeeded"
        );
        let mut partial = event(Some(1), JobDetails::default());
        partial.reason = Reason::Found {
            status_message: Some("the requested operation was partially successful".into()),
            text: String::new(),
        };
        assert_eq!(
            partial.body(),
            "BACKUP job 42 partially succeeded with status 1: the requested operation was \
             partially successful"
        );
        assert_eq!(
            event(None, JobDetails::default()).body(),
            "BACKUP job 42 finished with an unknown status"
        );
        assert_eq!(
            event(Some(99_999), JobDetails::default()).body(),
            "BACKUP job 42 failed with status 99999"
        );
    }

    #[test]
    fn severity_follows_the_status() {
        assert_eq!(event(Some(0), full()).severity(), Severity::Info);
        assert_eq!(event(Some(1), full()).severity(), Severity::Warn);
        assert_eq!(event(None, full()).severity(), Severity::Warn);
        assert_eq!(event(Some(13), full()).severity(), Severity::Error);
    }
}
