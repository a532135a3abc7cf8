//! `GET /netbackup/admin/jobs/{jobId}/try-logs`: the parsed try logs of one job, one
//! `parsedTryLogResponse` per try, as the job is at the request's instant.
//!
//! A `jobId` that is not a decimal integer is a 400; a job that does not exist at the request's
//! instant (never created, purged, or beyond the dataset) is a 404 with the vendor error body.
//! The endpoint can be switched off ([`Simulator::set_try_logs_served`]) to stand in for a server
//! without it: every request then gets the 404 of an unknown path. Page-shaping faults do not
//! apply to this document (it has no pagination); the others do, under [`FaultTarget::TryLogs`].
//!
//! [`Simulator::set_try_logs_served`]: crate::Simulator::set_try_logs_served
//! [`FaultTarget::TryLogs`]: crate::FaultTarget::TryLogs

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::state::{RequestInstant, Shared};
use crate::render::response::{error, ok_json};
use crate::render::try_logs::render_try_logs;
use crate::version::ApiVersion;

/// Handler of `GET /netbackup/admin/jobs/{jobId}/try-logs`.
pub(crate) async fn get_try_logs(
    State(shared): State<Arc<Shared>>,
    Extension(version): Extension<ApiVersion>,
    instant: Option<Extension<RequestInstant>>,
    Path(job_id): Path<String>,
) -> Response {
    if !shared.try_logs_served() {
        return error(
            StatusCode::NOT_FOUND,
            version,
            "The requested resource was not found.",
            &[format!(
                "The simulator does not serve /netbackup/admin/jobs/{job_id}/try-logs."
            )],
        );
    }
    let Ok(id) = job_id.trim().parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            version,
            &format!("Invalid jobId '{job_id}': expected an integer."),
            &[],
        );
    };
    let now_ms = instant.map_or_else(|| shared.clock.now_ms(), |Extension(RequestInstant(ms))| ms);
    let dataset = &shared.dataset;
    let job = id
        .checked_sub(1)
        .and_then(|index| dataset.job_at(index, now_ms));
    match job {
        Some(job) => ok_json(
            version,
            render_try_logs(dataset, &job, dataset.render_instant(now_ms)),
        ),
        None => error(
            StatusCode::NOT_FOUND,
            version,
            "No entity found.",
            &[format!("The job with ID {id} does not exist.")],
        ),
    }
}
