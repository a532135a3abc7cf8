//! The HTTP client of one site: headers, limits, retries. What an answer means is read in
//! `client/answer.rs`, failures on the wire in `client/transport.rs`, bodies in
//! `client/body.rs`, and what a request tells the traces in `client/spans.rs`.

mod answer;
mod body;
mod spans;
mod transport;

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, DATE, HeaderMap, HeaderValue, RETRY_AFTER,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;
use tracing::{Instrument as _, Span};
use url::Url;

use self::answer::{Answer, Attempt, classify, decode_error};
use self::body::{BodyError, SpareBodies, read_body};
use self::spans::{attempt_span, inject_context, request_span, without_userinfo};
use self::transport::classify_transport;
use super::error::{ApiError, ApiFailure, DecodeKind};
use super::limit::RequestLimiter;
use super::retry::{backoff, parse_http_date, parse_retry_after};
use super::settings::{ClientSettings, Propagation};
use super::version::ApiVersion;
use crate::events::Events;
use crate::file_limits::{MAX_REFERENCED_FILE_BYTES, read_at_most};

pub use self::answer::Body;
pub use self::body::MAX_BODY_BYTES;

/// Where negotiation sends its probe: the cheapest versioned request there is.
const PROBE_ENDPOINT: &str = "/admin/jobs";

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
    /// Buffers of bodies already decoded, reused for the next ones.
    spare_bodies: SpareBodies,
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
            spare_bodies: SpareBodies::new(site.max_concurrent_requests as usize),
            propagation: Propagation::default(),
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
        self.spare_bodies.recycle(bytes);
    }

    /// Drops the body buffers kept for reuse: between two collections of a site they would
    /// only hold memory (up to one large page per request in flight, per site). The next
    /// collection starts with fresh buffers and reuses them from its second page on.
    pub fn release_spare_bodies(&self) {
        self.spare_bodies.release();
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
        request_span(&self.site, endpoint, version, page)
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
        let span = attempt_span(
            &self.site,
            self.server(),
            endpoint,
            url_full,
            attempts.saturating_sub(1),
        );
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
        let body = match read_body(response, self.spare_bodies.take()).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                return Attempt::Done(Err(decode_error(
                    &self.site,
                    &self.key,
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
        classify(&self.site, &self.key, endpoint, attempts, version, answer)
    }

    /// A decode error with a redacted snippet of `body`.
    pub(crate) fn decode_error(
        &self,
        endpoint: &str,
        kind: DecodeKind,
        detail: String,
        body: &[u8],
    ) -> ApiError {
        decode_error(&self.site, &self.key, endpoint, kind, detail, body)
    }

    /// A failure on the wire as the attempt's outcome, counted as the request's answer.
    fn transport_error(&self, endpoint: &str, attempts: u32, e: &reqwest::Error) -> Attempt {
        let attempt = classify_transport(&self.site, endpoint, attempts, self.timeout, e);
        let kind = match &attempt {
            Attempt::Done(Err(e)) | Attempt::Retry { error: e, .. } => e.kind(),
            Attempt::Done(Ok(_)) => "ok",
        };
        self.events.request_answered(&self.site, endpoint, kind);
        attempt
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_components_encode_spaces_quotes_and_percent() {
        assert_eq!(
            encode_component("clientName eq 'a b%+'"),
            "clientName%20eq%20%27a%20b%25%2B%27"
        );
        assert_eq!(encode_component("page[limit]"), "page%5Blimit%5D");
    }
}
