//! `otlp`: the export of metrics, traces and logs. Its keys and their rules: the endpoint and
//! transport, the headers (names lowercased, values secret), the compression, the bounds of
//! the push and its TLS files; and `otlp.metrics`, `otlp.traces`, `otlp.logs`, which override
//! them for one signal (as the `OTEL_EXPORTER_OTLP_<SIGNAL>_*` variables do).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::config::declare::section;
use crate::config::option_types::{
    DEFAULT_OTLP_MAX_MESSAGE_BYTES, DEFAULT_OTLP_MAX_SERIES_PER_METRIC, OtlpCompression,
    OtlpProtocol, TemporalityPreference,
};
use crate::config::raw::{Scalar, Section};
use crate::config::standard_env::STANDARD_ENV;
use crate::config::validate::Validator;
use crate::config::validate::scalar::{self, Within, hours, mins, ms, present, secs};

section! {
    /// OTLP export settings, shared by metrics, traces and job events unless `otlp.metrics`,
    /// `otlp.traces` or `otlp.logs` override them for one signal.
    #[derive(Debug, Clone)]
    pub struct OtlpConfig {
        /// Push metrics over OTLP.
        enabled: bool = true, parse scalar::boolean;
        /// Print the metric push to standard output instead of sending it, for debugging (`OTEL_METRICS_EXPORTER=console`).
        console: bool = false, parse scalar::boolean;
        /// The Collector, `http://` for plaintext or `https://` for TLS; over http/protobuf each signal is sent to `/v1/<signal>` under it (default port 4318 then).
        endpoint: Url = default_endpoint(), parse endpoint;
        /// The transport: grpc or http/protobuf.
        protocol: OtlpProtocol = OtlpProtocol::Grpc,
            parse |v, f, x| v.choice(f, x, &PROTOCOLS);
        /// Extra request headers (gRPC metadata), for example an auth token. Values are secret.
        headers: Vec<(String, SecretString)> = Vec::new(), parse headers,
            from Section<BTreeMap<String, Scalar>>;
        /// Timeout of one export; not longer than `export_interval`.
        timeout: Duration = secs(10), within EXPORT_TIMEOUT;
        /// Interval between metric exports.
        export_interval: Duration = mins(1), within Within::between(ms(100), hours(24));
        /// Request compression: gzip or none.
        compression: OtlpCompression = OtlpCompression::Gzip,
            parse |v, f, x| v.choice(f, x, &COMPRESSIONS);
        /// CA file to verify the Collector's certificate.
        ca_file: Option<PathBuf> = None, parse scalar::file;
        /// Client certificate (PEM) for mutual TLS.
        client_cert_file: Option<PathBuf> = None, parse scalar::file;
        /// Client key (PEM) for mutual TLS.
        client_key_file: Option<PathBuf> = None, parse scalar::file;
        /// The largest encoded size of one metrics request: an export holding more is sent as
        /// several requests (a Collector refuses gRPC messages above its receive limit).
        max_message_bytes: usize = DEFAULT_OTLP_MAX_MESSAGE_BYTES,
            parse |v, f, x| {
                v.integer(f, x, MIN_MESSAGE_BYTES, MAX_MESSAGE_BYTES, " (bytes)").map(as_usize)
            };
        /// The most series one instrument carries in the push; more are folded by the SDK into one
        /// series marked `otel.metric.overflow`. Instruments whose labels come from NetBackup's
        /// data get this limit, those with closed label sets their smaller bound from the catalog
        /// (`telemetry::catalog::MetricDef::series_limit`). The SDK reserves room for each
        /// instrument's limit up front, so it bounds the memory of the push.
        max_series_per_metric: usize = DEFAULT_OTLP_MAX_SERIES_PER_METRIC,
            parse |v, f, x| v.integer(f, x, 100, 1_000_000, SERIES_WHY).map(as_usize);
        /// The temporality of the metric push: cumulative, delta (for delta-only backends) or lowmemory.
        temporality: TemporalityPreference = TemporalityPreference::Cumulative,
            parse |v, f, x| v.choice(f, x, &TEMPORALITIES);
        /// Send OTLP/HTTP through the proxy that `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` name (gRPC never uses one).
        proxy_from_env: bool = true, parse scalar::boolean;
    }
    raw RawOtlp, patch OtlpPatch;
    built {
        /// `otlp.metrics`: what differs for the metric push.
        metrics: OtlpSignalConfig = OtlpSignalConfig::default();
        /// `otlp.traces`: what differs for the agent's traces.
        traces: OtlpSignalConfig = OtlpSignalConfig::default();
        /// `otlp.logs`: what differs for log records (job events).
        logs: OtlpSignalConfig = OtlpSignalConfig::default();
    }
    keys {
        /// Settings of the metric push only (the keys of `otlp.metrics`).
        metrics: Section<RawOtlpSignal> => "unset";
        /// Settings of the agent's traces only (the keys of `otlp.traces`).
        traces: Section<RawOtlpSignal> => "unset";
        /// Settings of log records only (the keys of `otlp.logs`).
        logs: Section<RawOtlpSignal> => "unset";
    }
}

section! {
    /// What one signal's export does differently from `otlp`; unset keys take `otlp`'s value.
    #[derive(Debug, Clone)]
    pub struct OtlpSignalConfig {
        /// This signal's URL, used as given (over http/protobuf no `/v1/<signal>` is added).
        endpoint: Option<Url> = None, parse |v, f, x| endpoint(v, f, x).map(Some);
        /// This signal's transport: grpc or http/protobuf.
        protocol: Option<OtlpProtocol> = None,
            parse |v, f, x| v.choice(f, x, &PROTOCOLS).map(Some);
        /// Headers for this signal only, added to `otlp.headers` (the same name: this one wins).
        headers: Vec<(String, SecretString)> = Vec::new(), parse headers,
            from Section<BTreeMap<String, Scalar>>;
        /// Timeout of one export of this signal.
        timeout: Option<Duration> = None, within EXPORT_TIMEOUT;
        /// Compression of this signal: gzip or none.
        compression: Option<OtlpCompression> = None,
            parse |v, f, x| v.choice(f, x, &COMPRESSIONS).map(Some);
        /// CA file to verify this signal's Collector.
        ca_file: Option<PathBuf> = None, parse scalar::file;
        /// Client certificate (PEM) for this signal's mutual TLS.
        client_cert_file: Option<PathBuf> = None, parse scalar::file;
        /// Client key (PEM) for this signal's mutual TLS.
        client_key_file: Option<PathBuf> = None, parse scalar::file;
    }
    raw RawOtlpSignal, patch OtlpSignalPatch;
}

/// The range of `otlp.timeout` and of each signal's `timeout`.
const EXPORT_TIMEOUT: Within = Within::between(ms(100), hours(1));

/// The values of `otlp.protocol`. `http/json` is refused with the reason.
pub(in crate::config) const PROTOCOLS: [(&str, OtlpProtocol); 2] = [
    ("grpc", OtlpProtocol::Grpc),
    ("http/protobuf", OtlpProtocol::HttpProtobuf),
];

/// The values of `otlp.temporality`.
pub(in crate::config) const TEMPORALITIES: [(&str, TemporalityPreference); 3] = [
    ("cumulative", TemporalityPreference::Cumulative),
    ("delta", TemporalityPreference::Delta),
    ("lowmemory", TemporalityPreference::LowMemory),
];

/// The smallest `otlp.max_message_bytes`: room for the resource, a metric description and a
/// few data points.
const MIN_MESSAGE_BYTES: u32 = 4 * 1024;

/// The largest `otlp.max_message_bytes` (1 GiB).
const MAX_MESSAGE_BYTES: u32 = 1024 * 1024 * 1024;

/// The values of `otlp.compression`.
pub(in crate::config) const COMPRESSIONS: [(&str, OtlpCompression); 2] = [
    ("gzip", OtlpCompression::Gzip),
    ("none", OtlpCompression::None),
];

/// Why `otlp.max_series_per_metric` is bounded.
const SERIES_WHY: &str = " (the SDK reserves room for this many series per instrument)";

fn as_usize(n: u32) -> usize {
    n as usize
}

/// The default endpoint: a Collector on this host.
pub(in crate::config) fn default_endpoint() -> Url {
    // A constant that always parses; `Url::parse` cannot fail on it.
    Url::parse("http://localhost:4317").unwrap_or_else(|_| unreachable!("constant URL parses"))
}

/// `otlp.endpoint`: an http(s) URL.
pub(in crate::config) fn endpoint(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<Url> {
    let text = v.optional_text(field, value)?;
    v.http_url(field, &text)
}

/// `otlp.headers`: names lowercased (gRPC metadata keys are lowercase), values secret. A
/// header set by an environment override replaces a file header of the same name.
pub(in crate::config) fn headers(
    v: &mut Validator<'_>,
    path: &str,
    raw: Option<Section<BTreeMap<String, Scalar>>>,
) -> Option<Vec<(String, SecretString)>> {
    let before = v.error_count();
    let raw = v.section(path, raw)?;
    let mut headers: BTreeMap<String, (bool, SecretString)> = BTreeMap::new();
    for (name, value) in raw {
        let field = format!("{path}.{name}");
        let lower = name.to_ascii_lowercase();
        let valid_name = !lower.is_empty()
            && lower
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
        if !valid_name {
            v.err(
                &field,
                "header names are ASCII letters, digits, `-`, `_` and `.`",
            );
            continue;
        }
        let value = match v.text(&field, Some(value)) {
            Some(value) => value,
            None => {
                if !v.has_error(&field) {
                    v.err(&field, "the header value is missing");
                }
                continue;
            }
        };
        if value.is_empty() {
            v.err(&field, "the header value is empty");
            continue;
        }
        if !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            v.err(
                &field,
                "the header value may only contain printable ASCII characters",
            );
            continue;
        }
        let from_env = v.set_by_env(&field);
        let secret = SecretString::from(value);
        match headers.get(&lower) {
            None => {
                headers.insert(lower, (from_env, secret));
            }
            Some((existing_from_env, _)) if from_env && !existing_from_env => {
                headers.insert(lower, (from_env, secret));
            }
            Some((existing_from_env, _)) if *existing_from_env && !from_env => {}
            Some(_) => v.err(
                &field,
                "header given twice (header names are case-insensitive)",
            ),
        }
    }
    (v.error_count() == before).then(|| {
        headers
            .into_iter()
            .map(|(name, (_, value))| (name, value))
            .collect()
    })
}

impl Validator<'_> {
    /// The `otlp` section.
    pub(in crate::config) fn otlp(&mut self, raw: Option<Section<RawOtlp>>) -> Option<OtlpConfig> {
        let before = self.error_count();
        let Some(mut raw) = self.section("otlp", raw) else {
            return (self.error_count() == before).then(OtlpConfig::default);
        };
        let tls_given = [
            ("otlp.ca_file", present(&raw.ca_file)),
            ("otlp.client_cert_file", present(&raw.client_cert_file)),
            ("otlp.client_key_file", present(&raw.client_key_file)),
        ];
        let mut otlp = OtlpPatch::read(self, "otlp", &mut raw).apply(&OtlpConfig::default());
        otlp.metrics = self.otlp_signal("otlp.metrics", raw.metrics.take());
        otlp.traces = self.otlp_signal("otlp.traces", raw.traces.take());
        otlp.logs = self.otlp_signal("otlp.logs", raw.logs.take());
        let clean = self.clean_since(
            before,
            &[
                "otlp.compression",
                "otlp.max_message_bytes",
                "otlp.max_series_per_metric",
                "otlp.ca_file",
                "otlp.client_cert_file",
                "otlp.client_key_file",
            ],
        );
        // `OTEL_METRIC_EXPORT_INTERVAL` sets the interval alone: the timeout is not held to it.
        let standard_interval = self
            .env_var_of("otlp.export_interval")
            .is_some_and(|var| STANDARD_ENV.iter().any(|s| s.name == var));
        self.check_otlp_timeout(
            otlp.timeout,
            otlp.export_interval,
            clean && !standard_interval,
        );
        self.check_pair(tls_given[1], tls_given[2]);
        if !self.has_error("otlp.endpoint") {
            let written: Vec<&str> = tls_given
                .iter()
                .filter(|(_, given)| *given)
                .map(|(field, _)| *field)
                .collect();
            self.check_otlp_plaintext("otlp.endpoint", &otlp.endpoint, &written);
        }
        (self.error_count() == before).then_some(otlp)
    }

    /// One signal's section under `otlp` (`path`): its keys, and TLS files only with an
    /// `https://` endpoint of its own.
    fn otlp_signal(&mut self, path: &str, raw: Option<Section<RawOtlpSignal>>) -> OtlpSignalConfig {
        let signal = self
            .plain_section(path, raw, |v, raw| {
                OtlpSignalPatch::read(v, path, raw).apply(&OtlpSignalConfig::default())
            })
            .unwrap_or_default();
        let field = |key: &str| format!("{path}.{key}");
        let tls_given = [
            (field("ca_file"), signal.ca_file.is_some()),
            (field("client_cert_file"), signal.client_cert_file.is_some()),
            (field("client_key_file"), signal.client_key_file.is_some()),
        ];
        self.check_pair(
            (&tls_given[1].0, tls_given[1].1),
            (&tls_given[2].0, tls_given[2].1),
        );
        if let Some(endpoint) = &signal.endpoint {
            let written: Vec<&str> = tls_given
                .iter()
                .filter(|(_, given)| *given)
                .map(|(field, _)| field.as_str())
                .collect();
            self.check_otlp_plaintext(&field("endpoint"), endpoint, &written);
        }
        signal
    }
}

/// One of the three OpenTelemetry signals the agent exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The metric push.
    Metrics,
    /// The agent's traces.
    Traces,
    /// Log records (job events).
    Logs,
}

impl Signal {
    /// The signal's name, as in `/v1/<signal>` and `otlp.<signal>`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
            Signal::Logs => "logs",
        }
    }
}

/// How one signal is exported: `otlp` with the signal's own section applied, as the
/// specification orders the generic and the signal's variables.
#[derive(Debug, Clone)]
pub struct SignalExport {
    /// The signal.
    pub signal: Signal,
    /// Where it goes: the gRPC server, or the URL HTTP requests are posted to.
    pub endpoint: Url,
    /// The transport.
    pub protocol: OtlpProtocol,
    /// `otlp.headers` with the signal's headers (which win for a repeated name).
    pub headers: Vec<(String, SecretString)>,
    /// Timeout of one export.
    pub timeout: Duration,
    /// Compression of requests.
    pub compression: OtlpCompression,
    /// CA file; unset: the system's trust store.
    pub ca_file: Option<PathBuf>,
    /// Client certificate for mutual TLS.
    pub client_cert_file: Option<PathBuf>,
    /// Client key for mutual TLS.
    pub client_key_file: Option<PathBuf>,
    /// Whether OTLP/HTTP goes through the environment's proxy.
    pub proxy_from_env: bool,
}

/// The default endpoint of OTLP/HTTP: a Collector on this host.
fn default_http_endpoint() -> Url {
    // A constant that always parses.
    Url::parse("http://localhost:4318").unwrap_or_else(|_| unreachable!("constant URL parses"))
}

impl OtlpConfig {
    /// How `signal` is exported. Its own endpoint is used as given; otherwise `otlp.endpoint`
    /// is, over gRPC as it is, over HTTP with `/v1/<signal>` appended to its path (and
    /// `http://localhost:4318` when the endpoint was left at its gRPC default).
    pub fn signal(&self, signal: Signal) -> SignalExport {
        let own = match signal {
            Signal::Metrics => &self.metrics,
            Signal::Traces => &self.traces,
            Signal::Logs => &self.logs,
        };
        let protocol = own.protocol.unwrap_or(self.protocol);
        let endpoint = own.endpoint.clone().unwrap_or_else(|| match protocol {
            OtlpProtocol::Grpc => self.endpoint.clone(),
            OtlpProtocol::HttpProtobuf => {
                let mut url = if self.endpoint == default_endpoint() {
                    default_http_endpoint()
                } else {
                    self.endpoint.clone()
                };
                let path = format!("{}/v1/{}", url.path().trim_end_matches('/'), signal.name());
                url.set_path(&path);
                url
            }
        });
        let mut headers: Vec<(String, SecretString)> = self
            .headers
            .iter()
            .filter(|(name, _)| !own.headers.iter().any(|(n, _)| n == name))
            .cloned()
            .collect();
        headers.extend(own.headers.iter().cloned());
        SignalExport {
            signal,
            endpoint,
            protocol,
            headers,
            timeout: own.timeout.unwrap_or(self.timeout),
            compression: own.compression.unwrap_or(self.compression),
            ca_file: own.ca_file.clone().or_else(|| self.ca_file.clone()),
            client_cert_file: own
                .client_cert_file
                .clone()
                .or_else(|| self.client_cert_file.clone()),
            client_key_file: own
                .client_key_file
                .clone()
                .or_else(|| self.client_key_file.clone()),
            proxy_from_env: self.proxy_from_env,
        }
    }
}
