//! The HTTP surface: routes under `/netbackup`, and the gate every request passes
//! (request log, latency, `Authorization`, `Accept` negotiation, faults, the `Date` header).
//!
//! Order of checks: a wrong or missing API key is a 401, then an unsupported `Accept` is a 406;
//! both carry the vendor error body in a NetBackup media type (the negotiated one when there is
//! one, else the newest supported). Unknown paths are a 404 and other methods a 405, in the same
//! shape, once the request passed the gate.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;

use super::accept::negotiate;
use super::jobs_endpoint::get_jobs;
use super::log::RequestRecord;
use super::optin_endpoints::route;
use super::state::{RequestInstant, Shared};
use super::storage_endpoint::get_units;
use super::try_logs_endpoint::get_try_logs;
use crate::clock::http_date;
use crate::conn::ConnectionHandle;
use crate::faults::{self, Endpoint, Fault};
use crate::optin::OptInEndpoint;
use crate::render::response::error;
use crate::version::ApiVersion;

/// Sets the `Date` header to `at` (hyper only adds its own when there is none).
fn dated(mut response: Response, at: chrono::DateTime<chrono::Utc>) -> Response {
    if let Ok(value) = HeaderValue::from_str(&http_date(at)) {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

/// The media type version of errors raised before negotiation succeeded: the newest supported.
fn fallback_version(supported: &[ApiVersion]) -> ApiVersion {
    supported.iter().max().copied().unwrap_or(ApiVersion::V14_0)
}

/// The application: routes plus the gate.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/netbackup/admin/jobs",
            get(get_jobs).fallback(method_not_allowed),
        )
        .route(
            "/netbackup/admin/jobs/{job_id}/try-logs",
            get(get_try_logs).fallback(method_not_allowed),
        )
        .route(
            "/netbackup/storage/storage-units",
            get(get_units).fallback(method_not_allowed),
        )
        .merge(opt_in_routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// The routes of the opt-in endpoints.
fn opt_in_routes() -> Router<Arc<Shared>> {
    OptInEndpoint::ALL
        .into_iter()
        .fold(Router::new(), |router, endpoint| {
            router.route(
                &format!("/netbackup{}", endpoint.path()),
                route(endpoint, method_not_allowed),
            )
        })
}

async fn not_found(request: Request) -> Response {
    let version = negotiated(&request);
    let path = request.uri().path().to_owned();
    error(
        StatusCode::NOT_FOUND,
        version,
        "The requested resource was not found.",
        &[format!("The simulator does not serve {path}.")],
    )
}

async fn method_not_allowed(request: Request) -> Response {
    let version = negotiated(&request);
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        version,
        "Method not allowed. The specified HTTP operation is invalid.",
        &[],
    )
}

fn negotiated(request: &Request) -> ApiVersion {
    request
        .extensions()
        .get::<ApiVersion>()
        .copied()
        .unwrap_or(ApiVersion::V14_0)
}

/// Logs, delays, authenticates and negotiates every request, then serves it or its fault.
async fn gate(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    let supported = shared.supported_versions();
    let headers = request.headers();
    let negotiation = negotiate(headers.get(header::ACCEPT), &supported);
    let authorization = headers.get(header::AUTHORIZATION);
    let record = RequestRecord {
        at: Instant::now(),
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().unwrap_or("").to_owned(),
        accept_version: negotiation.requested.clone(),
        authorized: authorization.is_some(),
        status: 0,
        authorization_matched: authorization
            .is_some_and(|key| key.as_bytes() == shared.config.api_key.as_bytes()),
        traceparent: headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let now = shared.clock.now();
    let mut date = now;
    request
        .extensions_mut()
        .insert(RequestInstant(now.timestamp_millis()));
    let response = if !record.authorization_matched {
        error(
            StatusCode::UNAUTHORIZED,
            negotiation
                .version
                .unwrap_or_else(|| fallback_version(&supported)),
            "The Authorization header is missing, the token is invalid, or you do not have permission for this action.",
            &[],
        )
    } else if let Some(version) = negotiation.version {
        request.extensions_mut().insert(version);
        let fault = shared.faults.take(Endpoint::of_path(&record.path));
        if let Some(Fault::ShiftedDate { by }) = &fault {
            date = now.checked_add_signed(*by).unwrap_or(now);
        }
        match fault {
            None => next.run(request).await,
            Some(Fault::Hang) => {
                shared.log.push(record);
                let mut shutdown = shared.shutdown.clone();
                let _ = shutdown.wait_for(|down| *down).await;
                return dated(
                    error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        version,
                        "The simulator is shutting down.",
                        &[],
                    ),
                    now,
                );
            }
            Some(fault) => {
                if let Some(shape) = fault.page_shape() {
                    request.extensions_mut().insert(shape);
                }
                let connection = request
                    .extensions()
                    .get::<ConnectInfo<ConnectionHandle>>()
                    .map(|info| info.0.clone());
                faults::apply(
                    fault,
                    version,
                    shared.shutdown.clone(),
                    connection,
                    next.run(request),
                )
                .await
            }
        }
    } else {
        let names: Vec<&str> = supported.iter().map(|v| v.as_str()).collect();
        let asked = negotiation.requested.as_deref().unwrap_or("none");
        error(
            StatusCode::NOT_ACCEPTABLE,
            fallback_version(&supported),
            "Invalid Accept type. Make sure your Accept header matches what this API produces.",
            &[format!(
                "Requested version: {asked}; supported: application/vnd.netbackup+json;version= {}.",
                names.join(", ")
            )],
        )
    };
    tracing::debug!(
        method = %record.method,
        path = %record.path,
        status = response.status().as_u16(),
        "simulator request"
    );
    shared.log.push(RequestRecord {
        status: response.status().as_u16(),
        ..record
    });
    dated(response, date)
}
