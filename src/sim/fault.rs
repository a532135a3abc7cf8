//! Fault injection: scheduled misbehaviour of the next requests to an endpoint.
//!
//! A fault applies to requests that passed authentication and version negotiation (so that a
//! broken body can still carry the negotiated media type). Rules are consulted in the order they
//! were added; the first rule covering the endpoint fires and counts down, and exhausted rules
//! are removed. New kinds of fault are new [`Fault`] variants handled in [`apply`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::response::{error_body, with_media_type};
use crate::netbackup::ApiVersion;

/// A way to misbehave.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status instead of serving the request, e.g. 429 with `Retry-After: 2`
    /// (or an HTTP-date), or 500/502/503/504. Without `body`, the vendor error body in the
    /// negotiated media type; with one, that text as `text/plain` (or as the media type when
    /// it starts with `{`). A code outside 100..=999 becomes 500.
    Status {
        /// HTTP status code.
        code: u16,
        /// Value of the `Retry-After` header, if any.
        retry_after: Option<String>,
        /// Response body, if not the vendor error body.
        body: Option<String>,
    },
    /// 200 with an HTML error page (`text/html`), as a proxy or login portal would send.
    HtmlBody,
    /// The real response, cut in the middle of the document, with the correct media type.
    TruncatedJson,
    /// The real JSON response labelled `text/plain`.
    WrongContentType,
    /// The real response with an invalid UTF-8 sequence inside the first string value.
    InvalidUtf8,
    /// 200 with the correct media type and an empty body.
    EmptyBody,
    /// The real response, dribbled at about this many bytes per second.
    SlowBody {
        /// Body bytes per second (0 counts as 1).
        bytes_per_second: u64,
    },
    /// Never answer; the request is only released when the simulator shuts down.
    Hang,
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTarget {
    /// `GET /netbackup/admin/jobs`.
    Jobs,
    /// `GET /netbackup/storage/storage-units`.
    Storage,
    /// Every request.
    Any,
}

/// The endpoint a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Jobs,
    Storage,
    Other,
}

impl Endpoint {
    /// The endpoint of a request path.
    pub(crate) fn of_path(path: &str) -> Endpoint {
        match path {
            "/netbackup/admin/jobs" => Endpoint::Jobs,
            "/netbackup/storage/storage-units" => Endpoint::Storage,
            _ => Endpoint::Other,
        }
    }
}

impl FaultTarget {
    fn covers(self, endpoint: Endpoint) -> bool {
        match self {
            FaultTarget::Any => true,
            FaultTarget::Jobs => endpoint == Endpoint::Jobs,
            FaultTarget::Storage => endpoint == Endpoint::Storage,
        }
    }
}

#[derive(Debug)]
struct Rule {
    target: FaultTarget,
    fault: Fault,
    remaining: Option<u32>,
}

/// The scheduled faults.
#[derive(Debug, Default)]
pub(crate) struct FaultSchedule {
    rules: Mutex<Vec<Rule>>,
}

impl FaultSchedule {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Rule>> {
        self.rules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a rule for the next `times` matching requests (`None`: until cleared).
    pub(crate) fn add(&self, target: FaultTarget, fault: Fault, times: Option<u32>) {
        if times == Some(0) {
            return;
        }
        self.lock().push(Rule {
            target,
            fault,
            remaining: times,
        });
    }

    /// Removes every rule.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The fault for a request to `endpoint`, counting it against its rule.
    pub(crate) fn take(&self, endpoint: Endpoint) -> Option<Fault> {
        let mut rules = self.lock();
        let index = rules.iter().position(|r| r.target.covers(endpoint))?;
        let rule = rules.get_mut(index)?;
        let fault = rule.fault.clone();
        if let Some(remaining) = rule.remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                rules.remove(index);
            }
        }
        Some(fault)
    }
}

const HTML_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\
<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response from an upstream \
server.</p></body></html>\n";

/// Produces the response of `fault` (anything but [`Fault::Hang`], which the server handles);
/// `serve` is the real response, awaited only when the fault needs it.
pub(crate) async fn apply(
    fault: Fault,
    version: ApiVersion,
    shutdown: watch::Receiver<bool>,
    serve: impl Future<Output = Response>,
) -> Response {
    match fault {
        Fault::Status {
            code,
            retry_after,
            body,
        } => status_response(code, retry_after, body, version),
        Fault::HtmlBody => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            HTML_PAGE,
        )
            .into_response(),
        Fault::EmptyBody => with_media_type(StatusCode::OK, version, String::new()),
        Fault::Hang => status_response(503, None, None, version),
        Fault::TruncatedJson => {
            rework(serve.await, |mut bytes| {
                let cut = bytes.len() / 2;
                bytes.truncate(cut);
                bytes
            })
            .await
        }
        Fault::WrongContentType => {
            let mut response = serve.await;
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            response
        }
        Fault::InvalidUtf8 => rework(serve.await, corrupt_utf8).await,
        Fault::SlowBody { bytes_per_second } => {
            let (mut parts, body) = serve.await.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(
                parts,
                Body::new(SlowBody::new(bytes, bytes_per_second, shutdown)),
            )
        }
    }
}

fn status_response(
    code: u16,
    retry_after: Option<String>,
    body: Option<String>,
    version: ApiVersion,
) -> Response {
    let status = StatusCode::from_u16(code)
        .ok()
        .filter(|s| s.as_u16() >= 100)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match body {
        Some(text) if text.trim_start().starts_with('{') => with_media_type(status, version, text),
        Some(text) => (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            text,
        )
            .into_response(),
        None => {
            let message = status.canonical_reason().unwrap_or("Simulated failure.");
            with_media_type(status, version, error_body(status, message, &[]))
        }
    };
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Replaces the body of a response with a transformation of its bytes.
async fn rework(response: Response, change: impl FnOnce(Vec<u8>) -> Vec<u8>) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(change(bytes.to_vec())))
}

/// Inserts an invalid UTF-8 sequence after the opening quote of the first string value.
fn corrupt_utf8(mut bytes: Vec<u8>) -> Vec<u8> {
    const BAD: [u8; 2] = [0xC3, 0x28];
    let at = bytes
        .windows(3)
        .position(|w| w == b"\":\"")
        .map_or(bytes.len().min(1), |p| p + 3);
    bytes.splice(at..at, BAD);
    bytes
}

/// A body that sends its bytes in small chunks at a fixed rate, and fails (so that the
/// connection is reset) once the simulator shuts down.
struct SlowBody {
    data: Bytes,
    chunk: usize,
    interval: Duration,
    sleep: Pin<Box<Sleep>>,
    shutdown: watch::Receiver<bool>,
}

impl SlowBody {
    fn new(data: Bytes, bytes_per_second: u64, shutdown: watch::Receiver<bool>) -> Self {
        let rate = bytes_per_second.max(1);
        // About ten chunks per second, at least one byte each.
        let chunk = (rate / 10).max(1);
        let interval = Duration::from_nanos(chunk.saturating_mul(1_000_000_000) / rate);
        SlowBody {
            data,
            chunk: usize::try_from(chunk).unwrap_or(usize::MAX),
            interval,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            shutdown,
        }
    }
}

impl http_body::Body for SlowBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.data.is_empty() {
            return Poll::Ready(None);
        }
        if this.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if *this.shutdown.borrow() {
            return Poll::Ready(Some(Err(std::io::Error::other("simulator shutting down"))));
        }
        let chunk = this.data.split_to(this.chunk.min(this.data.len()));
        let deadline = Instant::now() + this.interval;
        this.sleep.as_mut().reset(deadline);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fire_in_order_and_count_down() {
        let schedule = FaultSchedule::default();
        schedule.add(FaultTarget::Jobs, Fault::EmptyBody, Some(2));
        schedule.add(FaultTarget::Any, Fault::HtmlBody, None);
        schedule.add(FaultTarget::Storage, Fault::Hang, Some(0));
        assert_eq!(schedule.take(Endpoint::Storage), Some(Fault::HtmlBody));
        assert_eq!(schedule.take(Endpoint::Jobs), Some(Fault::EmptyBody));
        assert_eq!(schedule.take(Endpoint::Jobs), Some(Fault::EmptyBody));
        assert_eq!(schedule.take(Endpoint::Jobs), Some(Fault::HtmlBody));
        assert_eq!(schedule.take(Endpoint::Other), Some(Fault::HtmlBody));
        schedule.clear();
        assert_eq!(schedule.take(Endpoint::Jobs), None);
    }

    #[test]
    fn utf8_corruption_lands_in_a_string() {
        let bad = corrupt_utf8(br#"{"data":[{"type":"job"}]}"#.to_vec());
        assert!(std::str::from_utf8(&bad).is_err());
        assert!(bad.starts_with(br#"{"data":[{"type":""#));
        assert!(std::str::from_utf8(&corrupt_utf8(b"{}".to_vec())).is_err());
        assert!(std::str::from_utf8(&corrupt_utf8(Vec::new())).is_err());
    }

    #[test]
    fn status_faults_carry_retry_after_and_bodies() {
        let r = status_response(429, Some("2".to_owned()), None, ApiVersion::V13_0);
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            ApiVersion::V13_0.media_type()
        );
        let r = status_response(
            42,
            Some("bad\nvalue".to_owned()),
            Some("oops".to_owned()),
            ApiVersion::V13_0,
        );
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
    }
}
