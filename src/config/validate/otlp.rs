//! The rules of `otlp`: the endpoint, the headers (names lowercased, values secret), the
//! compression, the bounds of the push and its TLS files.

use std::collections::BTreeMap;

use secrecy::SecretString;
use url::Url;

use super::Validator;
use super::scalar::present;
use crate::config::raw::{Scalar, Section};
use crate::config::schema::{OtlpPatch, RawOtlp};
use crate::config::{OtlpCompression, OtlpConfig};

/// The smallest `otlp.max_message_bytes`: room for the resource, a metric description and a
/// few data points.
const MIN_OTLP_MESSAGE_BYTES: u32 = 4 * 1024;

/// The largest `otlp.max_message_bytes` (1 GiB).
const MAX_OTLP_MESSAGE_BYTES: u32 = 1024 * 1024 * 1024;

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

/// `otlp.compression`: gzip or none.
pub(in crate::config) fn compression(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<OtlpCompression> {
    let text = v.optional_text(field, value)?;
    match text.to_ascii_lowercase().as_str() {
        "gzip" => Some(OtlpCompression::Gzip),
        "none" => Some(OtlpCompression::None),
        _ => {
            v.err(field, format!("expected gzip or none, got {text:?}"));
            None
        }
    }
}

/// `otlp.max_message_bytes`: 4 KiB to 1 GiB.
pub(in crate::config) fn max_message_bytes(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<usize> {
    v.integer(
        field,
        value,
        MIN_OTLP_MESSAGE_BYTES,
        MAX_OTLP_MESSAGE_BYTES,
        " (bytes)",
    )
    .map(|n| n as usize)
}

/// `otlp.max_series_per_metric`: 100 to 1,000,000.
pub(in crate::config) fn max_series_per_metric(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<usize> {
    v.integer(
        field,
        value,
        100,
        1_000_000,
        " (the SDK reserves room for this many series per instrument)",
    )
    .map(|n| n as usize)
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
        let from_env = v.env_paths.contains_key(&field);
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
    pub(super) fn otlp(&mut self, raw: Option<Section<RawOtlp>>) -> Option<OtlpConfig> {
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
        self.check_otlp_timeout(&otlp, clean);
        self.check_pair(tls_given[1], tls_given[2]);
        if !self.has_error("otlp.endpoint") {
            let written: Vec<&str> = tls_given
                .iter()
                .filter(|(_, given)| *given)
                .map(|(field, _)| *field)
                .collect();
            self.check_otlp_plaintext(&otlp, &written);
        }
        (self.error_count() == before).then_some(otlp)
    }
}
