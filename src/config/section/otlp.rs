//! `otlp`: the push of metrics and traces. Its keys and their rules: the endpoint, the
//! headers (names lowercased, values secret), the compression, the bounds of the push and its
//! TLS files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::config::declare::section;
use crate::config::raw::{Scalar, Section};
use crate::config::standard_env::STANDARD_ENV;
use crate::config::validate::Validator;
use crate::config::validate::scalar::{self, present};
use crate::config::values::{
    DEFAULT_OTLP_MAX_MESSAGE_BYTES, DEFAULT_OTLP_MAX_SERIES_PER_METRIC, OtlpCompression,
};

section! {
    /// OTLP/gRPC export settings (metrics and traces share the endpoint).
    #[derive(Debug, Clone)]
    pub struct OtlpConfig {
        /// Push metrics over OTLP.
        enabled: bool = true, parse scalar::boolean;
        /// gRPC endpoint, `http://` for plaintext or `https://` for TLS.
        endpoint: Url = default_endpoint(), parse endpoint;
        /// Extra request headers (gRPC metadata), for example an auth token. Values are secret.
        headers: Vec<(String, SecretString)> = Vec::new(), parse headers,
            from Section<BTreeMap<String, Scalar>>;
        /// Timeout of one export; not longer than `export_interval`.
        timeout: Duration = Duration::from_secs(10), parse scalar::duration;
        /// Interval between metric exports.
        export_interval: Duration = Duration::from_secs(60), parse scalar::duration;
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
    }
    raw RawOtlp, patch OtlpPatch;
}

/// The smallest `otlp.max_message_bytes`: room for the resource, a metric description and a
/// few data points.
const MIN_MESSAGE_BYTES: u32 = 4 * 1024;

/// The largest `otlp.max_message_bytes` (1 GiB).
const MAX_MESSAGE_BYTES: u32 = 1024 * 1024 * 1024;

/// The values of `otlp.compression`.
const COMPRESSIONS: [(&str, OtlpCompression); 2] = [
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
        let otlp = OtlpPatch::read(self, "otlp", &mut raw).apply(&OtlpConfig::default());
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
            self.check_otlp_plaintext(&otlp.endpoint, &written);
        }
        (self.error_count() == before).then_some(otlp)
    }
}
