//! The routes: `/health`, `/healthz`, `/readyz` and the Prometheus bridge, with the request
//! timeout, and the middleware of the probes' reserve.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::auth::{Credentials, require_credentials};
use super::{PROBE_PATHS, REQUEST_TIMEOUT};
use crate::config::{DEFAULT_METRICS_PATH, MetricsAuth};
use crate::readiness::Readiness;
use crate::telemetry::bridge::{CONTENT_TYPE, PrometheusBridge};

#[derive(Clone)]
struct AppState {
    readiness: Readiness,
    bridge: Option<PrometheusBridge>,
}

/// The router: `/health`, `/healthz`, `/readyz` and, with a bridge, `/metrics`.
pub fn router(readiness: Readiness, bridge: Option<PrometheusBridge>) -> Router {
    router_with_auth(
        readiness,
        bridge,
        &MetricsAuth::default(),
        DEFAULT_METRICS_PATH,
    )
}

/// [`router`] with the bridge on `metrics_path` (a path the configuration validated), behind
/// `auth` when it requires credentials.
pub fn router_with_auth(
    readiness: Readiness,
    bridge: Option<PrometheusBridge>,
    auth: &MetricsAuth,
    metrics_path: &str,
) -> Router {
    let mut router = Router::new()
        .route("/health", get(health))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if bridge.is_some() {
        let metrics_route = match Credentials::from_config(auth) {
            Some(credentials) => get(metrics).route_layer(middleware::from_fn_with_state(
                credentials,
                require_credentials,
            )),
            None => get(metrics),
        };
        router = router.route(metrics_path, metrics_route);
    }
    router
        .layer(middleware::from_fn(request_timeout))
        .with_state(AppState { readiness, bridge })
}

async fn request_timeout(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "request timed out\n").into_response(),
    }
}

/// On a connection of the probes' reserve: the probes are answered, anything else is told to
/// come back when a slot is free.
pub(super) async fn probes_only(request: Request, next: Next) -> Response {
    if PROBE_PATHS.contains(&request.uri().path()) {
        next.run(request).await
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "every connection slot is in use; only /healthz, /readyz and /health are answered\n",
        )
            .into_response()
    }
}

/// The Go exporter's `/health`: `200 OK` while any site is up (or before every site was
/// collected once), `503 UNHEALTHY` when every site is down; plain text.
async fn health(State(state): State<AppState>) -> Response {
    let (status, body) = if state.readiness.any_site_up() {
        (StatusCode::OK, "OK\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "UNHEALTHY: NetBackup API unreachable\n",
        )
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let Some(bridge) = state.bridge else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let gzip = accepts_gzip(&headers);
    // A scrape of unchanged data only hands out cached bytes; rendering after a change (and
    // compressing) takes longer, so keep it off the async workers.
    let rendered = tokio::task::spawn_blocking(move || {
        let rendered = bridge.render();
        if gzip {
            rendered.gzip()
        } else {
            rendered.body()
        }
    })
    .await;
    match rendered {
        Ok(body) if gzip => (
            [
                (header::CONTENT_TYPE, CONTENT_TYPE),
                (header::CONTENT_ENCODING, "gzip"),
                (header::VARY, "Accept-Encoding"),
            ],
            body,
        )
            .into_response(),
        Ok(body) => (
            [
                (header::CONTENT_TYPE, CONTENT_TYPE),
                (header::VARY, "Accept-Encoding"),
            ],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Whether the client accepts a gzip body: `gzip` (or `*`) in `Accept-Encoding` with a
/// non-zero quality.
fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match coding.as_str() {
                "gzip" | "x-gzip" => gzip = Some(quality > 0.0),
                "*" => any = Some(quality > 0.0),
                _ => {}
            }
        }
    }
    gzip.or(any).unwrap_or(false)
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

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::HeaderValue;

    fn accept(value: &str) -> bool {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
        );
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_only_when_the_client_accepts_it() {
        assert!(accept("gzip"));
        assert!(accept("deflate, GZIP;q=0.5"));
        assert!(accept("*"));
        assert!(!accept("identity"));
        assert!(!accept("gzip;q=0"));
        assert!(!accept("gzip;q=0, *"));
        assert!(!accept("*;q=0"));
        assert!(!accepts_gzip(&axum::http::HeaderMap::new()));
    }
}
