//! Fault injection: scheduled misbehaviour of the next requests to an endpoint.
//!
//! A fault applies to requests that passed authentication and version negotiation (so that a
//! broken body can still carry the negotiated media type). Rules are consulted in the order they
//! were added; the first rule covering the endpoint fires and counts down, and exhausted rules
//! are removed. New kinds of fault are new [`Fault`] variants handled in `apply`, or, when
//! they reshape a page (`PageShape`), by the endpoints, which find the shape in the request
//! extensions.

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

use crate::conn::ConnectionHandle;
use crate::optin::OptInEndpoint;
use crate::render::PageShape;
use crate::render::response::{error_body, with_media_type};
use crate::version::ApiVersion;

/// How long [`Fault::ResetMidBody`] waits between the partial body and the reset, so that the
/// bytes already written reach the client before the RST discards anything still queued.
const RESET_PAUSE: Duration = Duration::from_millis(50);

/// A way to misbehave.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status instead of serving the request, e.g. 429 with `Retry-After: 2`
    /// (or an HTTP-date), or 401/403/404/500/502/503/504. Without `body`, the vendor error
    /// body (`errorCode` = the status, a vendor-style `errorMessage`, empty `errorDetails`) in
    /// the negotiated media type; with one, that text as `text/plain` (or as the media type
    /// when it starts with `{`). A code outside 100..=999 becomes 500.
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
    /// The real response with an invalid UTF-8 sequence between two tokens (after the
    /// document's opening brace): a broken document, whatever a client tolerates in strings.
    InvalidUtf8,
    /// The real response where, in every page, the string value of attribute `member` of the
    /// first record that has one starts with an invalid UTF-8 sequence: one broken record per
    /// page. Pages without such a member are sent unchanged.
    InvalidUtf8InRecord {
        /// The attribute name, such as `clientName` or `jobType`.
        member: String,
    },
    /// 200 with the correct media type and an empty body.
    EmptyBody,
    /// The real response, dribbled at about this many bytes per second.
    SlowBody {
        /// Body bytes per second (0 counts as 1).
        bytes_per_second: u64,
    },
    /// Never answer; the request is only released when the simulator shuts down.
    Hang,
    /// The real response's status line and headers, with the `Content-Length` of the whole
    /// body, then the first half of the body, then (after a short pause, so that those bytes
    /// reach the client) the connection is reset: the server closes it with `SO_LINGER` 0, so
    /// the client sees a TCP RST (or, at worst, an early EOF) before the body is complete. A
    /// client gets its headers, then a body or transport error, never a clean short body.
    /// Keep-alive is lost: the next request needs a new connection. An empty real body is
    /// sent whole.
    ResetMidBody,
    /// Pagination that does not advance. Jobs: every page is the first page of the query
    /// again, and `meta.pagination.next` (and `links.next`) is the request's `page[after]`
    /// cursor, or on a first page the cursor of its last job, even when no job follows; the
    /// request after it gets the same page and the same `next` again, forever. Storage
    /// units: `next` is the request's own `page[offset]`, even on the last page, with the
    /// real items.
    RepeatCursor,
    /// Pagination that goes nowhere under cursors that look new. Jobs: every page is the first
    /// page of the query again, and `meta.pagination.next` (and `links.next`) is a cursor never
    /// sent before (on a first page the cursor of its last job, then the request's
    /// `page[after]` plus one), even when no job follows: the same jobs forever, under a fresh
    /// cursor each time. Other endpoints are served unchanged.
    FreshCursor,
    /// A page of `items` entries whatever `page[limit]` asked (even 0; the parameters are
    /// still validated, so an out-of-range limit is a 400 as usual), fewer only when the
    /// matching data runs out; capped at [`OVERSIZED_PAGE_CAP`].
    /// `meta.pagination.limit` still echoes the requested limit; `next` continues after the
    /// last item sent, so following it visits every item once.
    OversizedPage {
        /// Entries in the page.
        items: u32,
    },
    /// Syntactically valid JSON in the negotiated media type and with sane pagination, whose
    /// items are hostile. Jobs rotate (by `jobId`) through: nulls, missing attributes (down to
    /// no `jobId`, `attributes` null or an array), integers beyond 2^63 and 2^64
    /// (`9223372036854775808`, `123456789012345678901234567890`), floats such as `1e308` and
    /// `-1e308`, negative `kilobytesTransferred` and `numberOfFiles`, strings where numbers belong
    /// (`"status":"abc"`), numbers where strings belong (`"jobType":12`), and an `id` that is
    /// an object; every job also carries unknown fields holding nested objects and arrays.
    /// Storage units rotate through capacities that are huge, `1e308`, null, negative or
    /// strings, booleans as strings (`"isCloudSTU":"true"`) or numbers, and odd `id`s.
    /// Items of the opt-in endpoints rotate through label values longer than 1 KB (severity,
    /// pool and drive names, statuses), numbers that are negative, strings, `1e308` or 2^64
    /// (`partiallyFullMedia`, file counts, robot numbers), nulls in both places, and unknown
    /// nested fields.
    HostileValues,
    /// The real response with its `Date` header moved by `by` from the simulator's clock (a
    /// year ahead, say): a server clock that jumps for one answer.
    ShiftedDate {
        /// How far the `Date` header is moved.
        by: chrono::Duration,
    },
}

/// Largest page [`Fault::OversizedPage`] renders, to bound the memory of one response.
pub const OVERSIZED_PAGE_CAP: u32 = 100_000;

impl Fault {
    /// The page shape of a fault the endpoints implement, if it is one.
    pub(crate) fn page_shape(&self) -> Option<PageShape> {
        match self {
            Fault::RepeatCursor => Some(PageShape::RepeatCursor),
            Fault::FreshCursor => Some(PageShape::FreshCursor),
            Fault::OversizedPage { items } => Some(PageShape::Oversized(u64::from(
                (*items).min(OVERSIZED_PAGE_CAP),
            ))),
            Fault::HostileValues => Some(PageShape::Hostile),
            _ => None,
        }
    }
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTarget {
    /// `GET /netbackup/admin/jobs`.
    Jobs,
    /// `GET /netbackup/storage/storage-units`.
    Storage,
    /// `GET /netbackup/admin/jobs/{jobId}/try-logs`, every job (not covered by
    /// [`FaultTarget::Jobs`]).
    TryLogs,
    /// One opt-in endpoint (`/manage/alerts`, `/storage/drives`, ...).
    OptIn(OptInEndpoint),
    /// Every request.
    Any,
}

/// The endpoint a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Jobs,
    Storage,
    TryLogs,
    OptIn(OptInEndpoint),
    Other,
}

impl Endpoint {
    /// The endpoint of a request path.
    pub(crate) fn of_path(path: &str) -> Endpoint {
        match path {
            "/netbackup/admin/jobs" => Endpoint::Jobs,
            "/netbackup/storage/storage-units" => Endpoint::Storage,
            other if is_try_logs_path(other) => Endpoint::TryLogs,
            other => OptInEndpoint::of_request_path(other).map_or(Endpoint::Other, Endpoint::OptIn),
        }
    }
}

/// Whether `path` is `/netbackup/admin/jobs/<one segment>/try-logs`.
fn is_try_logs_path(path: &str) -> bool {
    path.strip_prefix("/netbackup/admin/jobs/")
        .and_then(|rest| rest.strip_suffix("/try-logs"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

impl FaultTarget {
    fn covers(self, endpoint: Endpoint) -> bool {
        match self {
            FaultTarget::Any => true,
            FaultTarget::Jobs => endpoint == Endpoint::Jobs,
            FaultTarget::Storage => endpoint == Endpoint::Storage,
            FaultTarget::TryLogs => endpoint == Endpoint::TryLogs,
            FaultTarget::OptIn(target) => endpoint == Endpoint::OptIn(target),
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
/// `serve` is the real response, awaited only when the fault needs it (page-shaping faults are
/// implemented by the endpoints: `serve` already carries them). `connection` is the connection
/// the request came on, when known.
pub(crate) async fn apply(
    fault: Fault,
    version: ApiVersion,
    shutdown: watch::Receiver<bool>,
    connection: Option<ConnectionHandle>,
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
        Fault::InvalidUtf8InRecord { member } => {
            let member = member.clone();
            rework(serve.await, move |bytes| corrupt_member(bytes, &member)).await
        }
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
        Fault::ResetMidBody => {
            let (mut parts, body) = serve.await.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            Response::from_parts(parts, Body::new(ResetBody::new(bytes, connection)))
        }
        Fault::RepeatCursor
        | Fault::FreshCursor
        | Fault::OversizedPage { .. }
        | Fault::HostileValues
        | Fault::ShiftedDate { .. } => serve.await,
    }
}

/// The vendor-style message of an error status.
fn status_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad request. The request is invalid.",
        401 => {
            "The Authorization header is missing, the token is invalid, or you do not have permission for this action."
        }
        403 => "Forbidden. You do not have the required permissions for this operation.",
        404 => "No entity found.",
        429 => "Too many requests. Retry later.",
        500 => "An internal server error occurred.",
        502 => "Bad gateway. The server received an invalid response from an upstream server.",
        503 => "The service is temporarily unavailable.",
        504 => "Gateway timeout. The upstream server did not answer in time.",
        _ => status.canonical_reason().unwrap_or("Simulated failure."),
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
        None => with_media_type(
            status,
            version,
            error_body(status, status_message(status), &[]),
        ),
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

/// Not UTF-8: a lead byte followed by an ASCII byte.
const BAD_UTF8: [u8; 2] = [0xC3, 0x28];

/// Inserts an invalid UTF-8 sequence after the first byte (a document's opening brace).
fn corrupt_utf8(mut bytes: Vec<u8>) -> Vec<u8> {
    let at = bytes.len().min(1);
    bytes.splice(at..at, BAD_UTF8);
    bytes
}

/// Inserts an invalid UTF-8 sequence after the opening quote of the first string value of
/// attribute `member`.
fn corrupt_member(mut bytes: Vec<u8>, member: &str) -> Vec<u8> {
    let pattern = format!("\"{member}\":\"");
    if let Some(at) = bytes
        .windows(pattern.len())
        .position(|w| w == pattern.as_bytes())
        .map(|p| p + pattern.len())
    {
        bytes.splice(at..at, BAD_UTF8);
    }
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

/// The body of [`Fault::ResetMidBody`]: a first part, a pause, then an error, which makes
/// hyper abort the connection (and the connection handle turns the close into a reset).
struct ResetBody {
    head: Bytes,
    /// Declared bytes not yet sent.
    remaining: u64,
    pause: Option<Pin<Box<Sleep>>>,
    connection: Option<ConnectionHandle>,
    failed: bool,
}

impl ResetBody {
    fn new(mut data: Bytes, connection: Option<ConnectionHandle>) -> Self {
        let remaining = data.len() as u64;
        data.truncate(data.len() / 2);
        ResetBody {
            head: data,
            remaining,
            pause: None,
            connection,
            failed: false,
        }
    }
}

impl http_body::Body for ResetBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.failed || this.remaining == 0 {
            return Poll::Ready(None);
        }
        if !this.head.is_empty() {
            let head = std::mem::take(&mut this.head);
            this.remaining = this.remaining.saturating_sub(head.len() as u64);
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        let pause = this
            .pause
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(RESET_PAUSE)));
        if pause.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if let Some(connection) = &this.connection {
            connection.reset_on_close();
        }
        this.failed = true;
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated connection reset",
        ))))
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
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
    fn try_logs_are_their_own_target() {
        assert_eq!(
            Endpoint::of_path("/netbackup/admin/jobs/42/try-logs"),
            Endpoint::TryLogs
        );
        for other in [
            "/netbackup/admin/jobs//try-logs",
            "/netbackup/admin/jobs/4/2/try-logs",
            "/netbackup/admin/jobs/42/try-logs/1",
            "/netbackup/admin/jobs/42",
        ] {
            assert_eq!(Endpoint::of_path(other), Endpoint::Other, "{other}");
        }
        let schedule = FaultSchedule::default();
        schedule.add(FaultTarget::TryLogs, Fault::EmptyBody, None);
        assert_eq!(schedule.take(Endpoint::Jobs), None);
        assert_eq!(schedule.take(Endpoint::TryLogs), Some(Fault::EmptyBody));
        schedule.clear();
        schedule.add(FaultTarget::Jobs, Fault::EmptyBody, None);
        assert_eq!(schedule.take(Endpoint::TryLogs), None);
    }

    #[test]
    fn page_shapes_are_capped() {
        assert_eq!(
            Fault::OversizedPage { items: u32::MAX }.page_shape(),
            Some(PageShape::Oversized(u64::from(OVERSIZED_PAGE_CAP)))
        );
        assert_eq!(
            Fault::OversizedPage { items: 0 }.page_shape(),
            Some(PageShape::Oversized(0))
        );
        assert_eq!(Fault::HostileValues.page_shape(), Some(PageShape::Hostile));
        assert_eq!(Fault::ResetMidBody.page_shape(), None);
        let r = status_response(403, None, None, ApiVersion::V14_0);
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            ApiVersion::V14_0.media_type()
        );
    }

    #[test]
    fn utf8_corruption_breaks_the_document_or_one_member() {
        let page = br#"{"data":[{"attributes":{"jobType":"A"}},{"attributes":{"jobType":"B"}}]}"#;
        let bad = corrupt_utf8(page.to_vec());
        assert_eq!(bad.get(..3), Some(&b"{\xc3("[..]));
        assert!(std::str::from_utf8(&corrupt_utf8(Vec::new())).is_err());
        // Only the first record's member, after its opening quote.
        let bad = corrupt_member(page.to_vec(), "jobType");
        let expected =
            b"{\"data\":[{\"attributes\":{\"jobType\":\"\xc3(A\"}},{\"attributes\":{\"jobType\":\"B\"}}]}";
        assert_eq!(bad, expected.to_vec());
        assert_eq!(corrupt_member(page.to_vec(), "state"), page.to_vec());
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
