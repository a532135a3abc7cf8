//! OTLP/gRPC exporters for metrics and spans, and a wrapper that keeps a failing Collector
//! from flooding the logs.
//!
//! Precedence: the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (applied when the config is loaded),
//! `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_METRIC_EXPORT_INTERVAL` variables win over the config
//! file when set (headers are merged, the variable winning for a repeated name). An `https://`
//! endpoint is verified against `otlp.ca_file`, or else the Mozilla root set. Connections are made lazily: the agent
//! starts and collects with the Collector down.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
use opentelemetry_otlp::{
    Compression, MetricExporter, SpanExporter, WithExportConfig, WithTonicConfig,
};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use secrecy::ExposeSecret;
use tonic::metadata::{Ascii, MetadataKey, MetadataValue};

use super::tally::Tallies;
use crate::config::{OtlpCompression, OtlpConfig};

/// Where export outcomes are counted (`nbu.otlp.exports`), once an agent's tallies are known:
/// the exporter is built before the agent registers its instruments.
pub type ExportCounter = Arc<OnceLock<Arc<Tallies>>>;

/// Why an exporter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// A TLS file could not be read.
    #[error("otlp.{field}: cannot read {path}: {source}")]
    File {
        /// The config field.
        field: &'static str,
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A header is not valid gRPC metadata.
    #[error("otlp.headers.{0}: not a valid gRPC metadata name or value")]
    Header(String),
    /// The OTLP builder refused the settings.
    #[error("otlp: {0}")]
    Build(String),
}

fn read(field: &'static str, path: &std::path::Path) -> Result<Vec<u8>, ExporterError> {
    std::fs::read(path).map_err(|source| ExporterError::File {
        field,
        path: path.display().to_string(),
        source,
    })
}

fn metadata(config: &OtlpConfig) -> Result<MetadataMap, ExporterError> {
    let mut map = MetadataMap::new();
    for (name, value) in &config.headers {
        let key = MetadataKey::<Ascii>::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| ExporterError::Header(name.clone()))?;
        let value = MetadataValue::<Ascii>::try_from(value.expose_secret())
            .map_err(|_| ExporterError::Header(name.clone()))?;
        map.insert(key, value);
    }
    Ok(map)
}

fn tls(config: &OtlpConfig) -> Result<Option<ClientTlsConfig>, ExporterError> {
    if config.endpoint.scheme() != "https" {
        return Ok(None);
    }
    let mut tls = ClientTlsConfig::new();
    tls = match &config.ca_file {
        Some(ca) => tls.ca_certificate(Certificate::from_pem(read("ca_file", ca)?)),
        // A Collector with a publicly trusted certificate: the Mozilla root set.
        None => tls.with_webpki_roots(),
    };
    if let (Some(cert), Some(key)) = (&config.client_cert_file, &config.client_key_file) {
        tls = tls.identity(Identity::from_pem(
            read("client_cert_file", cert)?,
            read("client_key_file", key)?,
        ));
    }
    Ok(Some(tls))
}

/// Applies the shared tonic settings to a builder.
macro_rules! configure {
    ($builder:expr, $config:expr) => {{
        let config: &OtlpConfig = $config;
        // The config already holds OTEL_EXPORTER_OTLP_ENDPOINT when it is set.
        let mut builder = $builder
            .with_tonic()
            .with_timeout(config.timeout)
            .with_metadata(metadata(config)?)
            .with_endpoint(config.endpoint.as_str().trim_end_matches('/'));
        if config.compression == OtlpCompression::Gzip {
            builder = builder.with_compression(Compression::Gzip);
        }
        if let Some(tls) = tls(config)? {
            builder = builder.with_tls_config(tls);
        }
        builder
    }};
}

/// The OTLP metric exporter (cumulative temporality), wrapped so that failures are logged
/// once per change of health instead of at every interval, and every outcome is counted in
/// `counter`. Must be called inside a Tokio runtime.
pub fn metric_exporter(
    config: &OtlpConfig,
    counter: ExportCounter,
) -> Result<QuietMetricExporter, ExporterError> {
    let exporter = configure!(MetricExporter::builder(), config)
        .with_temporality(Temporality::Cumulative)
        .build()
        .map_err(|e| ExporterError::Build(e.to_string()))?;
    Ok(QuietMetricExporter::new(exporter, counter))
}

/// The OTLP span exporter. Must be called inside a Tokio runtime.
pub fn span_exporter(config: &OtlpConfig) -> Result<SpanExporter, ExporterError> {
    configure!(SpanExporter::builder(), config)
        .build()
        .map_err(|e| ExporterError::Build(e.to_string()))
}

/// The export interval: `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds) when set, else the config.
pub fn export_interval(config: &OtlpConfig) -> Duration {
    std::env::var("OTEL_METRIC_EXPORT_INTERVAL")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map_or(config.export_interval, Duration::from_millis)
}

/// Health of the export, for logging transitions only.
#[derive(Debug)]
struct ExportHealth {
    failing_since: Option<Instant>,
    failures: u64,
}

/// Wraps the OTLP exporter: an export failure is logged when exports start failing and when
/// they recover, never at every interval; the SDK sees success so it adds no log of its own.
/// Nothing is buffered: a failed export's points are dropped and the next export carries the
/// current (cumulative) values, so memory stays bounded while the Collector is down.
#[derive(Debug)]
pub struct QuietMetricExporter {
    inner: MetricExporter,
    health: Mutex<ExportHealth>,
    counter: ExportCounter,
}

impl QuietMetricExporter {
    fn new(inner: MetricExporter, counter: ExportCounter) -> Self {
        Self {
            inner,
            health: Mutex::new(ExportHealth {
                failing_since: None,
                failures: 0,
            }),
            counter,
        }
    }
}

impl PushMetricExporter for QuietMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        if let Some(tallies) = self.counter.get() {
            let outcome = if result.is_ok() { "success" } else { "failure" };
            Tallies::add(&tallies.otlp_exports, &[outcome], 1);
        }
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        match (&result, health.failing_since) {
            (Err(e), None) => {
                tracing::warn!(error = %e, "OTLP metric export failing; collection goes on, next success will be logged");
                health.failing_since = Some(Instant::now());
                health.failures = 1;
            }
            (Err(_), Some(_)) => health.failures += 1,
            (Ok(()), Some(since)) => {
                tracing::info!(
                    failed_exports = health.failures,
                    down_for_s = since.elapsed().as_secs(),
                    "OTLP metric export recovered"
                );
                health.failing_since = None;
                health.failures = 0;
            }
            (Ok(()), None) => {}
        }
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}
