//! The HTTP client of one site: headers, limits, retries, status and body checks.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, DATE, HeaderMap, HeaderValue, RETRY_AFTER,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;
use tracing::{Instrument as _, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use url::Url;

use super::error::{ApiError, ApiFailure, DecodeKind, snippet};
use super::limit::RequestLimiter;
use super::models::ErrorBody;
use super::retry::{backoff, is_retryable_status, parse_http_date, parse_retry_after};
use super::settings::{ClientSettings, Propagation};
use super::version::ApiVersion;
use crate::events::Events;
use crate::file_limits::{MAX_REFERENCED_FILE_BYTES, read_at_most};

/// The largest response body accepted for one page. A page of 100 jobs is about 300 KiB;
/// anything far larger is a broken or hostile server, not data.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Largest body buffer kept for reuse (a page of 100 jobs needs about 300 KiB).
const SPARE_BODY_BYTES: usize = 1024 * 1024;

/// Where negotiation sends its probe: the cheapest versioned request there is.
const PROBE_ENDPOINT: &str = "/admin/jobs";

/// A successful response body.
#[derive(Debug)]
pub struct Body {
    /// The raw bytes, checked to be of a JSON media type.
    pub bytes: Vec<u8>,
    /// Requests sent for it, retries included.
    pub attempts: u32,
    /// The server's clock when it answered (the `Date` header), if it sent a valid one.
    pub server_time: Option<DateTime<Utc>>,
}

/// The pooled HTTP client of one site. Cheap to share by reference; dropping it closes the
/// site's connections.
pub struct SiteClient {
    site: String,
    base: Url,
    key: SecretString,
    http: reqwest::Client,
    limiter: RequestLimiter,
    timeout: Duration,
    max_retries: u32,
    max_retry_time: Duration,
    events: Events,
    /// What context travels with each request.
    propagation: Propagation,
    /// Buffers of bodies already decoded, reused for the next ones: a walk does not touch
    /// fresh memory for every page. At most one per request in flight.
    spare_bodies: Mutex<Vec<Vec<u8>>>,
    spare_limit: usize,
    /// When a request last succeeded.
    last_success: Mutex<Option<Instant>>,
    /// Requests timed since the last [`SiteClient::take_mean_request_time`], and their total.
    timed: Mutex<(u32, Duration)>,
}

impl std::fmt::Debug for SiteClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteClient")
            .field("site", &self.site)
            .field("base", &self.base.as_str())
            .field("key", &self.key)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// Connections kept open to a site between requests. Between two collections a site needs
/// one (a delta walk is a page or two); each idle connection keeps the read buffer its largest
/// response grew (up to ~400 KiB), so the others a full walk opened, up to
/// `max_concurrent_requests`, are closed once idle.
const IDLE_CONNECTIONS: usize = 1;

impl SiteClient {
    /// Builds the client of one site: TLS per its settings, timeouts, limits.
    pub fn new(site: &ClientSettings) -> Result<Self, ApiError> {
        let setup_error =
            |detail: String| ApiError::of_site(&site.name, ApiFailure::Setup { detail });
        let mut builder = reqwest::Client::builder()
            .timeout(site.request_timeout)
            .connect_timeout(site.request_timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(IDLE_CONNECTIONS)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("nbu-otel/", env!("CARGO_PKG_VERSION")));
        // With it, reqwest reads HTTPS_PROXY, HTTP_PROXY and NO_PROXY (and their lowercase
        // forms) as curl does.
        if !site.proxy_from_env {
            builder = builder.no_proxy();
        }
        if let Some(ca_file) = &site.ca_file {
            let pem = read_at_most(ca_file, MAX_REFERENCED_FILE_BYTES).map_err(|e| {
                setup_error(format!("cannot read CA file {}: {e}", ca_file.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                setup_error(format!("CA file {} is not PEM: {e}", ca_file.display()))
            })?;
            if certs.is_empty() {
                // An empty trust store would refuse every server with a confusing
                // "UnknownIssuer"; say what is actually wrong.
                return Err(setup_error(format!(
                    "CA file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    ca_file.display()
                )));
            }
            builder = builder.tls_certs_only(certs);
        }
        if site.insecure_skip_verify {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|e| setup_error(e.to_string()))?;
        Ok(Self {
            site: site.name.clone(),
            base: site.url.clone(),
            key: site.api_key.clone(),
            http,
            limiter: RequestLimiter::new(site.requests_per_second, site.max_concurrent_requests),
            timeout: site.request_timeout,
            max_retries: site.max_retries,
            max_retry_time: site.max_retry_time,
            events: Events::default(),
            spare_bodies: Mutex::new(Vec::new()),
            propagation: Propagation::default(),
            spare_limit: site.max_concurrent_requests as usize,
            last_success: Mutex::new(None),
            timed: Mutex::new((0, Duration::ZERO)),
        })
    }

    /// Emits the client's events (requests answered and retried, records skipped) through
    /// `events` from now on, instead of counting them nowhere.
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = events;
        self
    }

    /// Sends the context `propagation` names with each request, from now on (the W3C trace
    /// context alone by default).
    pub fn with_propagation(mut self, propagation: Propagation) -> Self {
        self.propagation = propagation;
        self
    }

    /// Where the client's events go.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// When the server last answered a request successfully (2xx).
    pub fn last_success(&self) -> Option<Instant> {
        *self.last_success.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The mean duration of the requests answered since the last call (sent until the last
    /// byte of the body, waits for the rate limit excluded), and resets it.
    pub fn take_mean_request_time(&self) -> Option<Duration> {
        let mut timed = self.timed.lock().unwrap_or_else(|p| p.into_inner());
        let (count, total) = std::mem::take(&mut *timed);
        (count > 0).then(|| total / count)
    }

    /// Hands back the bytes of a body that was decoded, for a later body to reuse.
    pub fn recycle_body(&self, bytes: Vec<u8>) {
        if bytes.capacity() <= SPARE_BODY_BYTES {
            let mut spare = self.spare_bodies.lock().unwrap_or_else(|p| p.into_inner());
            if spare.len() < self.spare_limit {
                spare.push(bytes);
            }
        }
    }

    /// Drops the body buffers kept for reuse: between two collections of a site they would
    /// only hold memory (up to one large page per request in flight, per site). The next
    /// collection starts with fresh buffers and reuses them from its second page on.
    pub fn release_spare_bodies(&self) {
        let spare =
            std::mem::take(&mut *self.spare_bodies.lock().unwrap_or_else(|p| p.into_inner()));
        drop(spare);
    }

    fn spare_body(&self) -> Vec<u8> {
        let mut spare = self.spare_bodies.lock().unwrap_or_else(|p| p.into_inner());
        spare.pop().unwrap_or_default()
    }

    /// The site name.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// The host and port of the site's URL, for messages and span attributes.
    pub fn server(&self) -> (String, u16) {
        (
            self.base.host_str().unwrap_or_default().to_owned(),
            self.base.port_or_known_default().unwrap_or(443),
        )
    }

    /// Finds the API version to use: the pinned one if any (verified with one request), else
    /// the newest the server accepts, trying 14.0, 13.0, 12.0 and 10.0 in turn. Nothing is
    /// stored: the caller keeps the returned value, so a cancelled negotiation leaves no state.
    pub async fn negotiate(&self, pinned: Option<ApiVersion>) -> Result<ApiVersion, ApiError> {
        let candidates: &[ApiVersion] = match &pinned {
            Some(v) => std::slice::from_ref(v),
            None => &ApiVersion::NEWEST_FIRST,
        };
        let probe = [("page[limit]", "1".to_owned())];
        for version in candidates {
            let span = self.request_span(PROBE_ENDPOINT, *version, None);
            match self
                .get(PROBE_ENDPOINT, &probe, *version)
                .instrument(span)
                .await
            {
                Ok(_) => return Ok(*version),
                Err(ApiError {
                    failure: ApiFailure::VersionUnsupported { .. },
                    ..
                }) => continue,
                Err(e) => return Err(e),
            }
        }
        let tried = candidates
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        Err(ApiError::of_site(
            &self.site,
            ApiFailure::VersionUnsupported { tried },
        ))
    }

    /// The span of one logical request to `endpoint` (level `debug`: always exported with
    /// traces, in the log only at `debug`), named `nbu.request {endpoint}`, of kind internal,
    /// with `site`, the API version and the page number. Each attempt [`SiteClient::get`]
    /// sends inside it is a client span of its own, as the HTTP semantic conventions describe
    /// retries (`GET {endpoint}`, with `url.full`, `http.response.status_code`,
    /// `http.request.resend_count` from the second attempt on, and `error.type` when it
    /// failed). `get` records on this span `error.type` and an error status when the request
    /// failed for good; the caller records `nbu.records`.
    pub fn request_span(&self, endpoint: &str, version: ApiVersion, page: Option<u64>) -> Span {
        tracing::debug_span!(
            "nbu.request",
            otel.name = %format!("nbu.request {endpoint}"),
            otel.kind = "internal",
            otel.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
            site = %self.site,
            nbu.api_version = version.as_str(),
            nbu.page = page,
            nbu.records = tracing::field::Empty,
        )
    }

    /// The client span of one attempt (HTTP semantic conventions): `GET {endpoint}` of kind
    /// client, with the attributes known before sending; `resends` is the number of attempts
    /// before this one (`http.request.resend_count`, absent on the first).
    fn attempt_span(&self, endpoint: &str, url_full: &str, resends: u32) -> Span {
        let (address, port) = self.server();
        tracing::debug_span!(
            "nbu.request.attempt",
            otel.name = %format!("GET {endpoint}"),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            http.request.method = "GET",
            http.request.resend_count = (resends > 0).then_some(resends),
            url.full = %url_full,
            server.address = %address,
            server.port = port,
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
            site = %self.site,
        )
    }

    /// `GET {base}{endpoint}?{query}` with the API key and `version`, retried on 429, 502, 503,
    /// 504, timeouts and connection errors within the configured attempts and time. Returns the body of a
    /// 2xx answer whose content type is JSON.
    pub async fn get(
        &self,
        endpoint: &str,
        query: &[(&str, String)],
        version: ApiVersion,
    ) -> Result<Body, ApiError> {
        self.get_at(endpoint, endpoint, query, version).await
    }

    /// [`SiteClient::get`] of `path`, counted and named in errors as `endpoint` (the template
    /// of a path with an id in it, such as `/admin/jobs/{jobId}/try-logs`, so the request
    /// counter's `endpoint` label stays bounded).
    pub async fn get_at(
        &self,
        endpoint: &str,
        path: &str,
        query: &[(&str, String)],
        version: ApiVersion,
    ) -> Result<Body, ApiError> {
        let url = self.url(path, query)?;
        let url_full = without_userinfo(&url);
        let headers = self.headers(version)?;
        let started = Instant::now();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let outcome = self
                .send_once(endpoint, &url, &url_full, &headers, attempts, version)
                .await;
            let retry_wait = match outcome {
                Attempt::Done(result) => return self.finish(result),
                Attempt::Retry { wait, error } => {
                    let elapsed = started.elapsed();
                    let budget_left = self.max_retry_time.saturating_sub(elapsed);
                    if attempts > self.max_retries {
                        return self.finish(Err(error));
                    }
                    if let Some(asked) = wait
                        && asked <= budget_left
                    {
                        // The server asked the whole client to wait, not only this request.
                        self.limiter.pause_for(asked).await;
                    }
                    let asked_by_server = wait.is_some();
                    let wait = wait.unwrap_or_else(|| backoff(attempts));
                    if wait > budget_left {
                        let asked_by = if asked_by_server {
                            "the server's Retry-After"
                        } else {
                            "backoff"
                        };
                        let why = format!(
                            "gave up: the next retry would wait {} ({asked_by}), beyond the retry \
                             budget (max_retry_time {}, {} left)",
                            humantime::format_duration(wait),
                            humantime::format_duration(self.max_retry_time),
                            humantime::format_duration(whole_millis(budget_left)),
                        );
                        return self.finish(Err(with_detail(error, why)));
                    }
                    self.events
                        .request_retried(&self.site, endpoint, attempts, wait, error.kind());
                    wait
                }
            };
            tokio::time::sleep(retry_wait).await;
        }
    }

    /// Records the outcome of a request on its span (on failure `error.type` and an error
    /// status, whichever way retrying ended) and returns it.
    fn finish(&self, result: Result<Body, ApiError>) -> Result<Body, ApiError> {
        if let Err(e) = &result {
            self.events.request_failed(&Span::current(), e.kind());
        }
        result
    }

    fn url(&self, endpoint: &str, query: &[(&str, String)]) -> Result<Url, ApiError> {
        let mut url = self.base.clone();
        let path = format!("{}{}", self.base.path().trim_end_matches('/'), endpoint);
        url.set_path(&path);
        let encoded: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
            .collect();
        url.set_query((!encoded.is_empty()).then(|| encoded.join("&")).as_deref());
        Ok(url)
    }

    fn headers(&self, version: ApiVersion) -> Result<HeaderMap, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(version.media_type()));
        let mut key = HeaderValue::from_str(self.key.expose_secret()).map_err(|_| {
            let detail = "the API key contains characters not allowed in an HTTP header";
            ApiError::of_site(
                &self.site,
                ApiFailure::Setup {
                    detail: detail.into(),
                },
            )
        })?;
        key.set_sensitive(true);
        headers.insert(AUTHORIZATION, key);
        Ok(headers)
    }

    /// One attempt, in a client span of its own that starts once the rate limit lets it go.
    async fn send_once(
        &self,
        endpoint: &str,
        url: &Url,
        url_full: &str,
        headers: &HeaderMap,
        attempts: u32,
        version: ApiVersion,
    ) -> Attempt {
        let _permit = self.limiter.acquire().await;
        let span = self.attempt_span(endpoint, url_full, attempts.saturating_sub(1));
        let attempt = self
            .exchange(endpoint, url, headers, attempts, version)
            .instrument(span.clone())
            .await;
        match &attempt {
            Attempt::Done(Err(error)) | Attempt::Retry { error, .. } => {
                self.events.attempt_failed(&span, error.kind());
            }
            Attempt::Done(Ok(_)) => {}
        }
        attempt
    }

    /// One HTTP exchange, inside the attempt's span: its status code goes on the span, and
    /// its `traceparent` names the span.
    async fn exchange(
        &self,
        endpoint: &str,
        url: &Url,
        headers: &HeaderMap,
        attempts: u32,
        version: ApiVersion,
    ) -> Attempt {
        let sent_at = Instant::now();
        let mut headers = headers.clone();
        inject_context(&mut headers, self.propagation);
        let sent = self.http.get(url.clone()).headers(headers).send().await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => return self.transport_error(endpoint, attempts, &e),
        };
        let status = response.status().as_u16();
        Span::current().record("http.response.status_code", status);
        self.events
            .request_answered(&self.site, endpoint, &status.to_string());
        if response.status().is_success() {
            *self.last_success.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let server_time = response
            .headers()
            .get(DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date);
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = match read_body(response, self.spare_body()).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                return Attempt::Done(Err(self.decode_error(
                    endpoint,
                    DecodeKind::TooLarge,
                    format!("more than {MAX_BODY_BYTES} bytes"),
                    &[],
                )));
            }
            Err(BodyError::Transport(e)) => return self.transport_error(endpoint, attempts, &e),
        };
        {
            let mut timed = self.timed.lock().unwrap_or_else(|p| p.into_inner());
            timed.0 = timed.0.saturating_add(1);
            timed.1 = timed.1.saturating_add(sent_at.elapsed());
        }
        let answer = Answer {
            status,
            retry_after,
            server_time,
            content_type: &content_type,
            body,
        };
        self.classify(endpoint, attempts, version, answer)
    }

    fn classify(
        &self,
        endpoint: &str,
        attempts: u32,
        version: ApiVersion,
        answer: Answer<'_>,
    ) -> Attempt {
        let Answer {
            status,
            retry_after,
            server_time,
            content_type,
            body,
        } = answer;
        let error = |failure| ApiError::at(&self.site, endpoint, failure);
        let server_message = || {
            ErrorBody::summary(&body)
                .map(|m| snippet(m.as_bytes(), self.key.expose_secret()))
                .unwrap_or_else(|| snippet(&body, self.key.expose_secret()))
        };
        match status {
            200..=299 => {
                if !is_json_media_type(content_type) {
                    return Attempt::Done(Err(self.decode_error(
                        endpoint,
                        DecodeKind::NotJson,
                        format!("content type {content_type:?}"),
                        &body,
                    )));
                }
                if body.iter().all(u8::is_ascii_whitespace) {
                    return Attempt::Done(Err(self.decode_error(
                        endpoint,
                        DecodeKind::Empty,
                        format!("HTTP {status} with no body"),
                        &body,
                    )));
                }
                Attempt::Done(Ok(Body {
                    bytes: body,
                    attempts,
                    server_time,
                }))
            }
            401 | 403 => {
                let message = ErrorBody::summary(&body)
                    .map(|m| format!(": {}", snippet(m.as_bytes(), self.key.expose_secret())))
                    .unwrap_or_default();
                Attempt::Done(Err(error(ApiFailure::Unauthorized {
                    status,
                    detail: message,
                })))
            }
            406 => Attempt::Done(Err(ApiError::of_site(
                &self.site,
                ApiFailure::VersionUnsupported {
                    tried: version.as_str().to_owned(),
                },
            ))),
            429 => Attempt::Retry {
                wait: retry_after,
                error: error(ApiFailure::RateLimited {
                    attempts,
                    detail: String::new(),
                }),
            },
            s if is_retryable_status(s) => Attempt::Retry {
                wait: retry_after,
                error: error(ApiFailure::Status {
                    status,
                    attempts,
                    snippet: server_message(),
                    detail: String::new(),
                }),
            },
            _ => Attempt::Done(Err(error(ApiFailure::Status {
                status,
                attempts,
                snippet: server_message(),
                detail: String::new(),
            }))),
        }
    }

    /// A decode error with a redacted snippet of `body`.
    pub(crate) fn decode_error(
        &self,
        endpoint: &str,
        kind: DecodeKind,
        detail: String,
        body: &[u8],
    ) -> ApiError {
        ApiError::at(
            &self.site,
            endpoint,
            ApiFailure::Decode {
                kind,
                detail,
                snippet: snippet(body, self.key.expose_secret()),
            },
        )
    }

    fn transport_error(&self, endpoint: &str, attempts: u32, e: &reqwest::Error) -> Attempt {
        let attempt = self.classify_transport(endpoint, attempts, e);
        let kind = match &attempt {
            Attempt::Done(Err(e)) | Attempt::Retry { error: e, .. } => e.kind(),
            Attempt::Done(Ok(_)) => "ok",
        };
        self.events.request_answered(&self.site, endpoint, kind);
        attempt
    }

    fn classify_transport(&self, endpoint: &str, attempts: u32, e: &reqwest::Error) -> Attempt {
        let detail = transport_detail(e);
        let error = |failure| ApiError::at(&self.site, endpoint, failure);
        if e.is_timeout() {
            // A slow answer (or connection) is often a passing load peak: worth another try
            // within the retry budget, rather than losing the whole walk.
            return Attempt::Retry {
                wait: None,
                error: error(ApiFailure::Timeout {
                    timeout: self.timeout,
                    attempts,
                }),
            };
        }
        if is_certificate_error(e) {
            let detail = match certificate_advice(e) {
                Some(advice) => format!("{advice} ({detail})"),
                None => detail,
            };
            return Attempt::Done(Err(error(ApiFailure::Tls { detail })));
        }
        Attempt::Retry {
            wait: None,
            error: error(ApiFailure::Connect { attempts, detail }),
        }
    }
}

/// `url` as `url.full` shows it: without user name and password, should the configured URL
/// carry any (the API key is a header, never part of the URL).
fn without_userinfo(url: &Url) -> String {
    let mut url = url.clone();
    // Fails only for URLs that cannot have a user (no host), which then have none.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.into()
}

/// Adds the context `propagation` names: the W3C `traceparent` of the current span (when it
/// is valid) and the `baggage` of the current context.
fn inject_context(headers: &mut HeaderMap, propagation: Propagation) {
    struct Injector<'a>(&'a mut HeaderMap);
    impl opentelemetry::propagation::Injector for Injector<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(key.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                self.0.insert(name, value);
            }
        }
    }
    let context = Span::current().context();
    if propagation.trace_context && context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut Injector(headers));
    }
    if propagation.baggage {
        // The span's context, or else the thread's (where a library user attaches baggage).
        use opentelemetry::baggage::BaggageExt as _;
        let with_baggage = if !context.baggage().is_empty() {
            context.clone()
        } else {
            opentelemetry::Context::current()
        };
        BaggagePropagator::new().inject_context(&with_baggage, &mut Injector(headers));
    }
}

/// What one HTTP exchange answered.
struct Answer<'a> {
    status: u16,
    retry_after: Option<Duration>,
    server_time: Option<DateTime<Utc>>,
    content_type: &'a str,
    body: Vec<u8>,
}

/// The result of one request: final, or worth another try.
enum Attempt {
    Done(Result<Body, ApiError>),
    Retry {
        wait: Option<Duration>,
        error: ApiError,
    },
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads the body chunk by chunk into `body` (emptied first), refusing more than
/// [`MAX_BODY_BYTES`].
async fn read_body(
    mut response: reqwest::Response,
    mut body: Vec<u8>,
) -> Result<Vec<u8>, BodyError> {
    body.clear();
    body.reserve(
        response
            .content_length()
            .map_or(64 * 1024, |n| n.min(MAX_BODY_BYTES as u64) as usize),
    );
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A rate-limited or server-status error saying why retrying stopped; other errors as they
/// are.
fn with_detail(mut error: ApiError, why: String) -> ApiError {
    if let ApiFailure::RateLimited { detail, .. } | ApiFailure::Status { detail, .. } =
        &mut error.failure
    {
        *detail = format!("; {why}");
    }
    error
}

/// `d` without its sub-millisecond part, for messages.
fn whole_millis(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Percent-encodes a query component, spaces as `%20` (never `+`, which NetBackup may read
/// literally).
fn encode_component(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `application/vnd.netbackup+json;version=...` or `application/json`.
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// What went wrong on the wire, without the URL (reqwest puts it in its own message): the
/// kind of failure, then the sources' messages.
fn transport_detail(e: &reqwest::Error) -> String {
    let what = if e.is_connect() {
        "connecting failed"
    } else if e.is_body() || e.is_decode() {
        "reading the response failed"
    } else if e.is_request() {
        "sending the request failed"
    } else {
        "the request failed"
    };
    let mut parts = vec![what.to_owned()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Whether the failure is a TLS verdict (untrusted or mismatched certificate, refused
/// handshake), found by type in the error's sources, never by words in its message. A
/// connection dropped during the handshake is a connection error, and is retried.
fn is_certificate_error(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if wraps_rustls_error(s) {
            return true;
        }
        source = s.source();
    }
    false
}

/// Plain words for a certificate refusal whose library message tells an operator nothing.
fn certificate_advice(e: &reqwest::Error) -> Option<&'static str> {
    use tokio_rustls::rustls::{CertificateError, Error as TlsError};
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let tls = find_rustls_error(s);
        if let Some(TlsError::InvalidCertificate(CertificateError::Other(other))) = tls
            && matches!(
                other.0.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            )
        {
            return Some(
                "the server's own certificate is a CA certificate (basic constraints CA:TRUE, \
                 as `openssl req -x509` makes by default), which TLS refuses as a server \
                 certificate; set tls.ca_file to the CA that issued NetBackup's web server \
                 certificate (NetBackup serves it at GET /security/cacert), or re-issue the \
                 server certificate without CA:TRUE",
            );
        }
        source = s.source();
    }
    None
}

/// The rustls error `e` is, or that an io::Error wraps (at any depth).
fn find_rustls_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a tokio_rustls::rustls::Error> {
    if let Some(tls) = e.downcast_ref::<tokio_rustls::rustls::Error>() {
        return Some(tls);
    }
    let io = e.downcast_ref::<std::io::Error>()?;
    let inner: &(dyn std::error::Error + 'static) = io.get_ref()?;
    find_rustls_error(inner)
}

/// Whether `e` is a rustls error, or an io::Error wrapping one (at any depth: an io::Error's
/// source() skips the error it wraps, so look inside).
fn wraps_rustls_error(e: &(dyn std::error::Error + 'static)) -> bool {
    find_rustls_error(e).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_propagators_decide_what_context_travels() {
        use opentelemetry::baggage::BaggageExt as _;
        let context = opentelemetry::Context::current_with_baggage([opentelemetry::KeyValue::new(
            "team", "backup",
        )]);
        let _attached = context.attach();
        let headers = |list: &str| {
            let mut headers = HeaderMap::new();
            inject_context(&mut headers, Propagation::named(list));
            headers
        };
        assert_eq!(
            headers("tracecontext,baggage")
                .get("baggage")
                .and_then(|v| v.to_str().ok()),
            Some("team=backup")
        );
        assert!(headers("tracecontext").get("baggage").is_none());
        assert!(headers("none").is_empty());
        // No span: no traceparent, whatever the propagators.
        assert!(headers("tracecontext").get("traceparent").is_none());
    }

    #[test]
    fn query_components_encode_spaces_quotes_and_percent() {
        assert_eq!(
            encode_component("clientName eq 'a b%+'"),
            "clientName%20eq%20%27a%20b%25%2B%27"
        );
        assert_eq!(encode_component("page[limit]"), "page%5Blimit%5D");
    }

    #[test]
    fn url_full_drops_the_user_name_and_password() {
        let url = Url::parse(
            "https://admin:s3cret@nbu.example:1556/netbackup/admin/jobs?page%5Blimit%5D=1",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            without_userinfo(&url),
            "https://nbu.example:1556/netbackup/admin/jobs?page%5Blimit%5D=1"
        );
        let plain = Url::parse("https://nbu.example/netbackup/admin/jobs?a=b")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(without_userinfo(&plain), plain.as_str());
    }

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type(
            "application/vnd.netbackup+json;version=14.0"
        ));
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(!is_json_media_type("text/html"));
        assert!(!is_json_media_type(""));
    }
}
