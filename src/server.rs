//! The agent's HTTP server: `/metrics` (Prometheus bridge, when enabled), `/healthz`
//! (liveness) and `/readyz` (every site, or `server.ready_min_sites`, answered recently).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::readiness::Readiness;
use crate::telemetry::bridge::{CONTENT_TYPE, PrometheusBridge};

/// Longest time one request may take before it is answered with 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct AppState {
    readiness: Readiness,
    bridge: Option<PrometheusBridge>,
}

/// The router: `/healthz`, `/readyz` and, with a bridge, `/metrics`.
pub fn router(readiness: Readiness, bridge: Option<PrometheusBridge>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if bridge.is_some() {
        router = router.route("/metrics", get(metrics));
    }
    router
        .layer(middleware::from_fn(request_timeout))
        .with_state(AppState { readiness, bridge })
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `addr`, naming it in the error.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("server.listen {addr}: {e}")))
}

async fn request_timeout(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "request timed out\n").into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<AppState>) -> Response {
    let Some(bridge) = state.bridge else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Rendering runs the instrument callbacks; they only read snapshots, but keep the work
    // off the async workers anyway.
    match tokio::task::spawn_blocking(move || bridge.render()).await {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    let report = state.readiness.check().await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report)).into_response()
}
