//! An in-process OTLP/HTTP receiver (`http/protobuf`): `POST /v1/metrics`, `/v1/traces`,
//! `/v1/logs`, bodies gzip-decoded when sent so, decoded with opentelemetry-proto's messages
//! into the same [`Received`] as the gRPC receiver. It can answer the first requests with a
//! status of the test's choosing (a 503 with `Retry-After`, say).

use std::collections::VecDeque;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

use super::otlp::Received;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The path (`/v1/metrics`).
    pub path: String,
    /// When it came.
    pub at: Instant,
    /// The status it was answered with.
    pub status: u16,
    /// Its headers, names lowercased.
    pub headers: Vec<(String, String)>,
}

#[derive(Default)]
struct Inner {
    received: Received,
    arrivals: Vec<Arrival>,
    /// Answers for the next requests: status and `Retry-After`.
    scripted: VecDeque<(u16, Option<String>)>,
}

/// A running OTLP/HTTP receiver.
pub struct HttpReceiver {
    /// Where it listens.
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn export(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(signal): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = inner.lock().unwrap();
    let scripted = inner.scripted.pop_front();
    let status = scripted.as_ref().map_or(200, |(s, _)| *s);
    inner.arrivals.push(Arrival {
        path: format!("/v1/{signal}"),
        at: Instant::now(),
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
    });
    if let Some((status, retry_after)) = scripted {
        let mut response = StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
        if let Some(after) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, after.parse().unwrap());
        }
        return response;
    }
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/x-protobuf")
    {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let mut bytes = body.to_vec();
    if gzip {
        let mut decoded = Vec::new();
        if flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut decoded)
            .is_err()
        {
            return StatusCode::BAD_REQUEST.into_response();
        }
        bytes = decoded;
    }
    let decoded = match signal.as_str() {
        "metrics" => ExportMetricsServiceRequest::decode(bytes.as_slice())
            .map(|r| inner.received.metrics.push(r)),
        "traces" => ExportTraceServiceRequest::decode(bytes.as_slice())
            .map(|r| inner.received.traces.push(r)),
        "logs" => {
            ExportLogsServiceRequest::decode(bytes.as_slice()).map(|r| inner.received.logs.push(r))
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match decoded {
        // An empty ExportXServiceResponse: no partial success.
        Ok(()) => (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            Vec::<u8>::new(),
        )
            .into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

impl HttpReceiver {
    /// Starts a receiver on `addr` (port 0 for any).
    pub async fn start(addr: SocketAddr) -> HttpReceiver {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner: Arc<Mutex<Inner>> = Arc::default();
        let app = Router::new()
            .route("/v1/{signal}", post(export))
            .with_state(inner.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        HttpReceiver {
            addr,
            inner,
            stop: Some(stop),
        }
    }

    /// The base URL (`http://127.0.0.1:port`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next requests, in order, with these statuses and `Retry-After` values.
    pub fn script(&self, answers: &[(u16, Option<&str>)]) {
        let mut inner = self.inner.lock().unwrap();
        inner
            .scripted
            .extend(answers.iter().map(|(s, a)| (*s, a.map(str::to_owned))));
    }

    /// Runs `f` on what was received so far.
    pub fn with<T>(&self, f: impl FnOnce(&Received) -> T) -> T {
        f(&self.inner.lock().unwrap().received)
    }

    /// Every request so far.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.inner.lock().unwrap().arrivals.clone()
    }

    /// Stops it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
