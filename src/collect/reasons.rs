//! NetBackup's reasons for failed jobs, from their try logs: one lookup per job through the
//! site's client (its limiter, retries and timeouts), shared by the agent's job events and
//! `once --failed-jobs`.

use super::job_event::{Reason, ReasonMissing};
use crate::netbackup::try_logs::cut;
use crate::netbackup::{ApiError, ApiFailure, ApiVersion, SiteClient};

/// How one lookup ended, as the `outcome` of `nbu.job_events.try_logs` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lookup {
    /// The try logs were read.
    Found,
    /// NetBackup has none for the job (404, or no try).
    Unavailable,
    /// The request or its answer failed.
    Failed,
}

impl Lookup {
    /// The `outcome` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Lookup::Found => "found",
            Lookup::Unavailable => "unavailable",
            Lookup::Failed => "failed",
        }
    }
}

/// The reason of each job of `job_ids`, looked up concurrently (the client's limiter bounds
/// the requests in flight), each cut to `max_bytes`. A failed lookup comes with its error.
pub async fn look_up(
    client: &SiteClient,
    version: ApiVersion,
    job_ids: &[u64],
    max_bytes: usize,
) -> Vec<(u64, Reason, Lookup, Option<ApiError>)> {
    let lookups = job_ids.iter().map(|&job_id| async move {
        let (reason, lookup, error) = match client.job_try_reason(version, job_id).await {
            Ok(Some(found)) => (
                Reason::Found {
                    status_message: found.status_message.clone().map(|m| cut(m, max_bytes)),
                    text: found.text(max_bytes),
                },
                Lookup::Found,
                None,
            ),
            Ok(None) => (
                Reason::Missing(ReasonMissing::Unavailable),
                Lookup::Unavailable,
                None,
            ),
            Err(e) if matches!(e.failure, ApiFailure::Status { status: 404, .. }) => (
                Reason::Missing(ReasonMissing::Unavailable),
                Lookup::Unavailable,
                None,
            ),
            Err(e) => (
                Reason::Missing(ReasonMissing::Failed),
                Lookup::Failed,
                Some(e),
            ),
        };
        (job_id, reason, lookup, error)
    });
    futures_util::future::join_all(lookups).await
}
