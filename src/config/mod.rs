//! Configuration: the validated, immutable [`Config`] and how it is loaded.
//!
//! [`load_file`] (or [`load_str`]) builds a [`Config`] in four steps, and the value is never
//! mutated afterwards; a reload loads again and swaps the result in only when it is `Ok`.
//!
//! 1. **Merge.** The `config` crate reads the YAML file and the environment overrides; an
//!    override **wins** over the file.
//! 2. **Expand.** `${VAR}` references in the file's string values are replaced.
//! 3. **Validate.** Every value is checked and converted; cross-field rules run.
//! 4. **Report.** Every problem is returned at once in a [`ConfigError`], one [`FieldError`]
//!    per problem, each naming its field (`sites[1].url`, `collection.jobs_page_size`,
//!    `sites[0].collection.storage_ttl`), the variable (`NBU_OTEL_COLLECTION__JOB_INTERVAL`),
//!    or the file (`<file>` for [`load_str`], the path for [`load_file`]).
//!
//! The file shape is in `examples/nbu-otel.yaml`, which a test loads so it stays true.
//!
//! # Environment overrides
//!
//! A variable `NBU_OTEL_<SECTION>__<KEY>` (a single `_` after `NBU_OTEL`, then `__` between
//! section and key) sets `<section>.<key>`, for the sections `collection`, `server`, `otlp`,
//! `traces`, `logging` and `service`:
//!
//! - `NBU_OTEL_COLLECTION__<KEY>` for each key of `collection` (`JOBS_WINDOW`,
//!   `JOBS_INTERVAL`, `STORAGE_TTL`, `JOBS_PAGE_SIZE`, `STORAGE_PAGE_SIZE`,
//!   `REQUEST_TIMEOUT`, `MAX_RETRIES`, `MAX_RETRY_TIME`, `REQUESTS_PER_SECOND`,
//!   `MAX_CONCURRENT_REQUESTS`): the global values, so they reach every site that does not
//!   override the key itself;
//! - `NBU_OTEL_SERVER__LISTEN`, `NBU_OTEL_SERVER__PROMETHEUS_BRIDGE`;
//! - `NBU_OTEL_OTLP__ENABLED`, `__ENDPOINT`, `__TIMEOUT`, `__EXPORT_INTERVAL`, `__COMPRESSION`,
//!   `__CA_FILE`, `__CLIENT_CERT_FILE`, `__CLIENT_KEY_FILE`, `__MAX_MESSAGE_BYTES`,
//!   `__MAX_SERIES_PER_METRIC`, and
//!   `NBU_OTEL_OTLP__HEADERS__<NAME>`
//!   for one header (the name is lowercased, so it can only hold letters, digits and `_`;
//!   it replaces a file header of the same name in any case);
//! - `NBU_OTEL_TRACES__ENABLED`, `NBU_OTEL_TRACES__SAMPLING_RATIO`;
//! - `NBU_OTEL_LOGGING__LEVEL`, `NBU_OTEL_LOGGING__FORMAT`;
//! - `NBU_OTEL_SERVICE__NAME`, `NBU_OTEL_SERVICE__INSTANCE_ID`.
//!
//! Rules:
//!
//! - Names are matched case-insensitively (the `config` crate lowercases them).
//! - Values are taken literally (no `${VAR}` expansion) and converted by validation like file
//!   values: `NBU_OTEL_COLLECTION__JOBS_PAGE_SIZE=50`, `..._PROMETHEUS_BRIDGE=true`,
//!   `..._JOBS_INTERVAL=30s` all work. An error on an overridden value names the variable.
//! - An empty variable counts as unset.
//! - `sources` has no environment overrides: write `${VAR}` references in the file.
//! - `sites` cannot be overridden: write `${VAR}` references in the file for per-site values
//!   (`api_key: ${NBU_A_API_KEY}`, `url: ${NBU_A_URL}`).
//! - A variable whose name after `NBU_OTEL_` contains `__` must be a known override, else
//!   loading fails naming it; so does a known override written with a single `_`
//!   (`NBU_OTEL_COLLECTION_JOBS_INTERVAL`). Other `NBU_OTEL_` names without `__` (such as
//!   `NBU_OTEL_CONFIG` for the CLI) are ignored here.
//!
//! # `${VAR}` references
//!
//! Expanded in string values after parsing (a value with `:` or `#` cannot break the YAML),
//! including in numbers and booleans written as references (`jobs_page_size: ${PAGE}`):
//! `${NAME}` is the variable's value, and an error naming the field and `NAME` when unset;
//! `${NAME:-default}` falls back to `default` when `NAME` is unset or empty; `$${` is a literal
//! `${`. Messages never contain values of secrets.
//!
//! # Values
//!
//! - Durations are humantime strings: `500ms`, `30s`, `5m`, `1h 30m`; a bare number is an
//!   error (no unit guessing).
//! - An empty string means "not set" for optional values (the default applies).
//! - Relative paths (`api_key_file`, `ca_file`, ...) are relative to the file's directory
//!   ([`load_file`]) or to `base_dir` ([`load_str`]).
//! - Secrets (`api_key`, the content of `api_key_file`, OTLP header values) become
//!   [`SecretString`]s: redacted in `Debug`, never in error messages.
//! - YAML anchors and aliases work; merge keys (`<<:`) are not supported by the YAML parser.

mod exposure;
mod interpolate;
mod load;
mod overrides;
mod raw;
mod sources;
mod validate;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::netbackup::ApiVersion;

pub use exposure::exposure_warnings;
pub use load::{
    load_file, load_file_with, load_file_with_env, load_str, load_str_with_env, parse_yaml,
};
pub use sources::{
    ClientPattern, ClientsConfig, DEFAULT_MAX_CLIENTS, MIN_SOURCE_INTERVAL, SourceConfig, SourceId,
    SourcesConfig,
};
pub use validate::{
    ConfigError, FieldError, MAX_REQUESTS_PER_SECOND, MIN_REQUESTS_PER_SECOND, metrics_path_problem,
};

/// The validated agent configuration. Built once by [`load_file`]; never mutated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The NetBackup primary servers to collect from, in file order.
    pub sites: Vec<SiteConfig>,
    /// HTTP server for `/metrics`, `/healthz` and `/readyz`.
    pub server: ServerConfig,
    /// OTLP push of metrics and traces.
    pub otlp: OtlpConfig,
    /// Traces of the agent's own work.
    pub traces: TracesConfig,
    /// Log output.
    pub logging: LoggingConfig,
    /// `service.name` and `service.instance.id` of the OpenTelemetry resource.
    pub service: ServiceConfig,
}

/// One NetBackup primary server.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// Unique name, used as the `site` label. Letters, digits, `-`, `_` and `.` only.
    pub name: String,
    /// Base URL of the API, for example `https://primary.example.com:1556/netbackup`.
    pub url: Url,
    /// The API key, from `api_key` or read from `api_key_file`.
    pub api_key: SecretString,
    /// Where the key was read from, when it came from a file (kept for reloads and messages).
    pub api_key_file: Option<PathBuf>,
    /// A pinned API version; when `None` the client negotiates newest-first.
    pub api_version: Option<ApiVersion>,
    /// TLS settings for this site.
    pub tls: TlsConfig,
    /// Collection settings, the global ones with this site's overrides applied.
    pub collection: CollectionConfig,
    /// The opt-in sources, the global `sources` with this site's overrides applied.
    pub sources: SourcesConfig,
}

/// TLS settings of a NetBackup connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// A PEM file with the CA certificate(s) that signed the server's certificate.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. Dangerous; logged as a warning at every start.
    pub insecure_skip_verify: bool,
}

/// How and how often a site is collected.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionConfig {
    /// Jobs that ended within this window before now are counted (plus all unfinished jobs).
    pub jobs_window: Duration,
    /// How often jobs are collected.
    pub jobs_interval: Duration,
    /// How long storage data is reused before it is fetched again.
    pub storage_ttl: Duration,
    /// `page[limit]` for `/admin/jobs` (1..=100).
    pub jobs_page_size: u32,
    /// `page[limit]` for `/storage/storage-units` (1..=500).
    pub storage_page_size: u32,
    /// Timeout of one HTTP request, from sending to the last byte of the body.
    pub request_timeout: Duration,
    /// How many times a failed request is retried (0 = no retry).
    pub max_retries: u32,
    /// Upper bound on the time spent retrying one request, waits included.
    pub max_retry_time: Duration,
    /// Requests per second sent to this site, at most.
    pub requests_per_second: f64,
    /// Requests in flight to this site, at most.
    pub max_concurrent_requests: u32,
    /// Longest one collection of the site (every page of every source) may take before it is
    /// abandoned; a collection longer than `jobs_interval` delays the next one instead.
    pub cycle_timeout: Duration,
    /// How often the jobs window is read whole again (between full walks, only the jobs that
    /// changed are read).
    pub jobs_resync_interval: Duration,
}

impl Default for CollectionConfig {
    fn default() -> Self {
        Self {
            jobs_window: Duration::from_secs(3600),
            jobs_interval: Duration::from_secs(60),
            storage_ttl: Duration::from_secs(300),
            jobs_page_size: 100,
            storage_page_size: 100,
            request_timeout: Duration::from_secs(30),
            max_retries: 3,
            max_retry_time: Duration::from_secs(60),
            requests_per_second: 10.0,
            max_concurrent_requests: 4,
            cycle_timeout: Duration::from_secs(600),
            jobs_resync_interval: Duration::from_secs(6 * 3600),
        }
    }
}

/// The default path of the Prometheus bridge.
pub const DEFAULT_METRICS_PATH: &str = "/metrics";

/// Whether `name` is a valid site name: letters, digits, `-`, `_` and `.`, 1 to 64 characters.
pub fn is_valid_site_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Paths the server answers itself, which the bridge may not take.
pub const RESERVED_PATHS: [&str; 3] = ["/health", "/healthz", "/readyz"];

/// The agent's own HTTP server. The default has no listen address and no bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Listen address of `/healthz`, `/readyz` and (when enabled) `/metrics`; `None` = no server.
    pub listen: Option<SocketAddr>,
    /// Serve the Prometheus compatibility bridge on `metrics_path`.
    pub prometheus_bridge: bool,
    /// Path of the bridge (the Go exporter's `server.uri`), `/metrics` by default.
    pub metrics_path: String,
    /// `/readyz` is 200 when at least this many sites are ready; `None` = every site.
    pub ready_min_sites: Option<u32>,
    /// How long a site's readiness probe result is reused, so that a flood of `/readyz`
    /// requests never becomes a flood of NetBackup requests.
    pub ready_cache: Duration,
    /// Serve HTTPS with this certificate chain (PEM); needs `tls_key_file`.
    pub tls_cert_file: Option<PathBuf>,
    /// The private key (PEM) of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// Credentials required on `/metrics` (`/healthz` and `/readyz` stay open).
    pub metrics_auth: MetricsAuth,
}

/// Credentials accepted on `/metrics`: basic auth, a bearer token, either, or none.
#[derive(Debug, Clone, Default)]
pub struct MetricsAuth {
    /// `Authorization: Basic` user name and password.
    pub basic: Option<(String, SecretString)>,
    /// `Authorization: Bearer` token.
    pub bearer: Option<SecretString>,
}

impl MetricsAuth {
    /// Whether any credential is required.
    pub fn is_required(&self) -> bool {
        self.basic.is_some() || self.bearer.is_some()
    }
}

impl PartialEq for MetricsAuth {
    fn eq(&self, other: &Self) -> bool {
        use secrecy::ExposeSecret;
        let basic = match (&self.basic, &other.basic) {
            (None, None) => true,
            (Some((u1, p1)), Some((u2, p2))) => {
                u1 == u2 && p1.expose_secret() == p2.expose_secret()
            }
            _ => false,
        };
        let bearer = match (&self.bearer, &other.bearer) {
            (None, None) => true,
            (Some(a), Some(b)) => a.expose_secret() == b.expose_secret(),
            _ => false,
        };
        basic && bearer
    }
}

impl Eq for MetricsAuth {}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: None,
            prometheus_bridge: false,
            metrics_path: DEFAULT_METRICS_PATH.to_owned(),
            ready_min_sites: None,
            ready_cache: Duration::from_secs(5),
            tls_cert_file: None,
            tls_key_file: None,
            metrics_auth: MetricsAuth::default(),
        }
    }
}

/// Compression of OTLP requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpCompression {
    /// No compression.
    None,
    /// gzip.
    #[default]
    Gzip,
}

/// OTLP/gRPC export settings (metrics and traces share the endpoint).
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    /// Push metrics over OTLP.
    pub enabled: bool,
    /// gRPC endpoint, `http://` for plaintext or `https://` for TLS.
    pub endpoint: Url,
    /// Extra request headers (gRPC metadata), for example an auth token. Values are secret.
    pub headers: Vec<(String, SecretString)>,
    /// Timeout of one export.
    pub timeout: Duration,
    /// Interval between metric exports.
    pub export_interval: Duration,
    /// Request compression.
    pub compression: OtlpCompression,
    /// CA file to verify the Collector's certificate.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    pub client_cert_file: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    pub client_key_file: Option<PathBuf>,
    /// The largest encoded size of one metrics request: an export holding more is sent as
    /// several requests (a Collector refuses gRPC messages above its receive limit).
    pub max_message_bytes: usize,
    /// The most series one instrument carries in the push; more are folded by the SDK into one
    /// series marked `otel.metric.overflow`. Instruments whose labels come from NetBackup's
    /// data get this limit, those with closed label sets their smaller bound from the catalog
    /// (`telemetry::catalog::MetricDef::series_limit`). The SDK reserves room for each
    /// instrument's limit up front, so it bounds the memory of the push.
    pub max_series_per_metric: usize,
}

/// The default of `otlp.max_series_per_metric`: the most series the SDK's table for an
/// instrument holds at the size its own default limit (2,000) reserves, 4,096 slots. One series
/// more and the SDK reserves twice the memory for every open instrument, used or not.
pub const DEFAULT_OTLP_MAX_SERIES_PER_METRIC: usize = 3583;

/// The default of `otlp.max_message_bytes`: the gRPC default receive limit of a Collector
/// (4 MiB) minus 64 KiB of headroom.
pub const DEFAULT_OTLP_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024 - 64 * 1024;

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            endpoint: default_otlp_endpoint(),
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            export_interval: Duration::from_secs(60),
            compression: OtlpCompression::Gzip,
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            max_message_bytes: DEFAULT_OTLP_MAX_MESSAGE_BYTES,
            max_series_per_metric: DEFAULT_OTLP_MAX_SERIES_PER_METRIC,
        }
    }
}

fn default_otlp_endpoint() -> Url {
    // A constant that always parses; `Url::parse` cannot fail on it.
    Url::parse("http://localhost:4317").unwrap_or_else(|_| unreachable!("constant URL parses"))
}

/// Traces of the agent's own work.
#[derive(Debug, Clone, PartialEq)]
pub struct TracesConfig {
    /// Export spans over OTLP.
    pub enabled: bool,
    /// Fraction of root traces sampled (0.0..=1.0); children follow their parent.
    pub sampling_ratio: f64,
}

impl Default for TracesConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            sampling_ratio: 1.0,
        }
    }
}

/// Log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Log output settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    /// A `tracing` filter such as `info` or `nbu_otel=debug`; `RUST_LOG` wins when set.
    pub level: String,
    /// Text or JSON.
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

/// Identity of this agent in the OpenTelemetry resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// `service.name`.
    pub name: String,
    /// `service.instance.id`; `None` = a random id chosen at start.
    pub instance_id: Option<String>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            name: "nbu-otel".to_owned(),
            instance_id: None,
        }
    }
}
