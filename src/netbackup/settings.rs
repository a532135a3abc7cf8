//! What the client of one site is built from: its address, key, TLS trust and request limits.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

/// The settings of one site's [`super::SiteClient`]. The client reads nothing else: the
/// collection builds them from the site's configuration (see `collect::site`).
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The site name, for errors, logs and span attributes.
    pub name: String,
    /// Base URL of the API, for example `https://primary.example.com:1556/netbackup`.
    pub url: Url,
    /// The API key, sent as the raw value of the `Authorization` header.
    pub api_key: SecretString,
    /// A PEM file with the CA certificate(s) trusted for this site instead of the built-in
    /// roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate.
    pub insecure_skip_verify: bool,
    /// Timeout of one HTTP request, from sending to the last byte of the body.
    pub request_timeout: Duration,
    /// How many times a failed request is retried (0 = no retry).
    pub max_retries: u32,
    /// Upper bound on the time spent retrying one request, waits included.
    pub max_retry_time: Duration,
    /// Requests per second sent to the site, at most.
    pub requests_per_second: f64,
    /// Requests in flight to the site, at most.
    pub max_concurrent_requests: u32,
    /// Whether requests go through the proxy the environment names (`HTTPS_PROXY`,
    /// `HTTP_PROXY`, `NO_PROXY`).
    pub proxy_from_env: bool,
}

/// What context the client sends with each request (`traces.propagators`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Propagation {
    /// The W3C trace context (`traceparent`, `tracestate`).
    pub trace_context: bool,
    /// The W3C baggage (`baggage`).
    pub baggage: bool,
}

impl Default for Propagation {
    /// The trace context alone.
    fn default() -> Self {
        Propagation {
            trace_context: true,
            baggage: false,
        }
    }
}

impl Propagation {
    /// The propagation of a validated `traces.propagators` list (`tracecontext,baggage`,
    /// `none`).
    pub fn named(list: &str) -> Self {
        let has = |name: &str| list.split(',').any(|n| n.trim() == name);
        Propagation {
            trace_context: has("tracecontext"),
            baggage: has("baggage"),
        }
    }
}
