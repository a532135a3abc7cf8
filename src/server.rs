//! The agent's HTTP server: `/metrics` (Prometheus bridge, when enabled), `/healthz`
//! (liveness) and `/readyz` (every site finished a successful collection).

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::telemetry::bridge::{CONTENT_TYPE, PrometheusBridge};
use crate::telemetry::instruments::SnapshotStore;

/// Longest time one request may take before it is answered with 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct AppState {
    store: SnapshotStore,
    bridge: Option<PrometheusBridge>,
}

/// The router: `/healthz`, `/readyz` and, with a bridge, `/metrics`.
pub fn router(store: SnapshotStore, bridge: Option<PrometheusBridge>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if bridge.is_some() {
        router = router.route("/metrics", get(metrics));
    }
    router
        .layer(middleware::from_fn(request_timeout))
        .with_state(AppState { store, bridge })
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
    let snapshots = state.store.all();
    let mut all_ready = !snapshots.is_empty();
    let sites: Vec<_> = snapshots
        .iter()
        .map(|s| {
            let ready = s.jobs_last_success.is_some() && s.api_version.is_some();
            all_ready &= ready;
            let reason = if ready {
                None
            } else {
                Some(
                    s.last_error
                        .clone()
                        .unwrap_or_else(|| "no successful collection yet".to_owned()),
                )
            };
            let last_success = s
                .jobs_last_success
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs_f64());
            json!({
                "site": s.site,
                "ready": ready,
                "up": s.up,
                "api_version": s.api_version.map(|v| v.as_str()),
                "last_success_unix": last_success,
                "last_error": s.last_error,
                "reason": reason,
            })
        })
        .collect();
    let status = if all_ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({ "ready": all_ready, "sites": sites })),
    )
        .into_response()
}
