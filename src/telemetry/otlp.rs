//! The OTLP exporters of metrics and spans, over gRPC or HTTP (`otlp.protocol`, per signal).
//!
//! Metrics go through [`OtlpMetricExporter`]: the SDK's data are converted to OTLP and encoded
//! metric by metric ([`split::encode`]), the series of sites no longer configured taken out
//! ([`ExportedSites`]), into requests of at most `otlp.max_message_bytes` encoded bytes (a
//! Collector refuses larger gRPC messages, 4 MiB by default), sent one after another on one
//! lazily connected channel (gRPC) or client (HTTP), gzip-compressed unless the compression
//! is `none`, each retried as the OTLP specification says ([`super::export_retry`]). Spans use
//! the `opentelemetry-otlp` exporter with the same settings of their own signal.
//!
//! The standard `OTEL_EXPORTER_OTLP_*` and `OTEL_METRIC_EXPORT_*` variables are applied when
//! the config is loaded (see `config::standard_env::STANDARD_ENV`). An `https://` endpoint is
//! verified against its CA file, or else the system's trust store (the one NetBackup is
//! verified against). Connections are made lazily: the agent starts and collects with the
//! Collector down.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use opentelemetry_otlp::{
    Compression, LogExporter, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use prost::Message as _;
use secrecy::ExposeSecret;
use tonic::client::Grpc;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{Ascii, MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::export_retry::{Attempt, grpc_attempt, retrying};
pub use super::exporter_error::ExporterError;
use super::exporter_error::read_tls_file;
use super::otlp_http::{self, HttpSender};
use super::split::{self, EncodedRequest};
use crate::config::{
    OtlpCompression, OtlpConfig, OtlpProtocol, Signal, SignalExport, TemporalityPreference,
};
use crate::events::{Events, FailureStreak};

/// The events of exports, counted (`nbu.otlp.exports`) once an agent's counters are known: the
/// exporter is built before the agent registers its instruments.
pub type ExportCounter = Arc<OnceLock<Events>>;

/// The signal's headers as gRPC metadata.
pub(super) fn metadata(export: &SignalExport) -> Result<MetadataMap, ExporterError> {
    let mut map = MetadataMap::new();
    for (name, value) in &export.headers {
        let key = MetadataKey::<Ascii>::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| ExporterError::Header(name.clone()))?;
        let value = MetadataValue::<Ascii>::try_from(value.expose_secret())
            .map_err(|_| ExporterError::Header(name.clone()))?;
        map.insert(key, value);
    }
    Ok(map)
}

/// TLS of a gRPC endpoint: its CA file, or the system's trust store; its client identity.
fn tls(export: &SignalExport) -> Result<Option<ClientTlsConfig>, ExporterError> {
    if export.endpoint.scheme() != "https" {
        return Ok(None);
    }
    let mut tls = ClientTlsConfig::new();
    tls = match &export.ca_file {
        Some(ca) => {
            tls.ca_certificate(Certificate::from_pem(read_tls_file(export, "ca_file", ca)?))
        }
        // The system's trust store, which NetBackup is verified against too.
        None => tls.with_native_roots(),
    };
    if let (Some(cert), Some(key)) = (&export.client_cert_file, &export.client_key_file) {
        tls = tls.identity(Identity::from_pem(
            read_tls_file(export, "client_cert_file", cert)?,
            read_tls_file(export, "client_key_file", key)?,
        ));
    }
    Ok(Some(tls))
}

/// A lazily connected gRPC channel to the signal's endpoint with its TLS settings. Must be
/// called inside a Tokio runtime.
pub(super) fn channel(export: &SignalExport) -> Result<Channel, ExporterError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| ExporterError::NoRuntime)?;
    let _entered = runtime.enter();
    let mut endpoint =
        Endpoint::from_shared(export.endpoint.as_str().trim_end_matches('/').to_owned())
            .map_err(ExporterError::Endpoint)?
            .timeout(export.timeout);
    if let Some(tls) = tls(export)? {
        endpoint = endpoint.tls_config(tls).map_err(ExporterError::Endpoint)?;
    }
    Ok(endpoint.connect_lazy())
}

/// How one signal's requests travel.
#[derive(Clone)]
pub(super) enum Transport {
    /// OTLP/gRPC on one channel, with the headers as metadata.
    Grpc {
        /// The client.
        client: Grpc<Channel>,
        /// The headers: secret values, never logged.
        metadata: MetadataMap,
    },
    /// OTLP/HTTP.
    Http(HttpSender),
}

impl Transport {
    /// The transport of `export`, whose gRPC answers are at most `response_limit` bytes.
    pub(super) fn new(export: &SignalExport, response_limit: usize) -> Result<Self, ExporterError> {
        match export.protocol {
            OtlpProtocol::Grpc => {
                let mut client =
                    Grpc::new(channel(export)?).max_decoding_message_size(response_limit);
                if export.compression == OtlpCompression::Gzip {
                    client = client
                        .send_compressed(CompressionEncoding::Gzip)
                        .accept_compressed(CompressionEncoding::Gzip);
                }
                Ok(Transport::Grpc {
                    client,
                    metadata: metadata(export)?,
                })
            }
            OtlpProtocol::HttpProtobuf => {
                tokio::runtime::Handle::try_current().map_err(|_| ExporterError::NoRuntime)?;
                Ok(Transport::Http(HttpSender::new(export)?))
            }
        }
    }

    /// The number of headers, for `Debug`.
    fn headers(&self) -> usize {
        match self {
            Transport::Grpc { metadata, .. } => metadata.len(),
            Transport::Http(_) => 0,
        }
    }
}

/// Applies the shared tonic settings to a span exporter builder.
macro_rules! configure {
    ($builder:expr, $export:expr) => {{
        let export: &SignalExport = $export;
        let mut builder = $builder
            .with_tonic()
            .with_timeout(export.timeout)
            .with_metadata(metadata(export)?)
            .with_endpoint(export.endpoint.as_str().trim_end_matches('/'));
        if export.compression == OtlpCompression::Gzip {
            builder = builder.with_compression(Compression::Gzip);
        }
        if let Some(tls) = tls(export)? {
            builder = builder.with_tls_config(tls);
        }
        builder
    }};
}

/// The OTLP metric exporter, which drops the series of sites not in `sites` and cuts exports
/// to `otlp.max_message_bytes`. Must be called inside a Tokio runtime: requests are sent from
/// tasks of that runtime, whichever thread the SDK exports from.
pub fn metric_exporter(
    config: &OtlpConfig,
    sites: ExportedSites,
    counter: ExportCounter,
) -> Result<OtlpMetricExporter, ExporterError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| ExporterError::NoRuntime)?;
    let export = config.signal(Signal::Metrics);
    Ok(OtlpMetricExporter {
        transport: Transport::new(&export, RESPONSE_LIMIT)?,
        timeout: export.timeout,
        max_message_bytes: config.max_message_bytes,
        temporality: match config.temporality {
            TemporalityPreference::Cumulative => Temporality::Cumulative,
            TemporalityPreference::Delta => Temporality::Delta,
            TemporalityPreference::LowMemory => Temporality::LowMemory,
        },
        sites,
        runtime,
        shut_down: AtomicBool::new(false),
        failures: FailureStreak::new(),
        counter,
        overflowed: Mutex::default(),
    })
}

/// The largest response the metric push accepts (a response holds at most an error text).
const RESPONSE_LIMIT: usize = 1024 * 1024;

/// Builds an `opentelemetry-otlp` exporter (`$builder`: `SpanExporter::builder()`, ...) for
/// `$export`, over gRPC or HTTP as its protocol says.
macro_rules! sdk_exporter {
    ($builder:expr, $export:expr) => {{
        let export: &SignalExport = $export;
        let built = match export.protocol {
            OtlpProtocol::Grpc => configure!($builder, export).build(),
            OtlpProtocol::HttpProtobuf => {
                let mut builder = $builder
                    .with_http()
                    .with_http_client(otlp_http::runtime_client(export)?)
                    .with_endpoint(export.endpoint.as_str())
                    .with_timeout(export.timeout);
                if export.compression == OtlpCompression::Gzip {
                    builder = builder.with_compression(Compression::Gzip);
                }
                builder.build()
            }
        };
        built.map_err(|e| ExporterError::Build(e.to_string()))
    }};
}

/// The OTLP exporter of the agent's own log lines (`logging.otlp`), on `config`'s logs signal.
/// Must be called inside a Tokio runtime.
pub fn log_exporter(config: &OtlpConfig) -> Result<LogExporter, ExporterError> {
    sdk_exporter!(LogExporter::builder(), &config.signal(Signal::Logs))
}

/// The OTLP span exporter of `config`'s traces signal. Must be called inside a Tokio runtime.
pub fn span_exporter(config: &OtlpConfig) -> Result<SpanExporter, ExporterError> {
    sdk_exporter!(SpanExporter::builder(), &config.signal(Signal::Traces))
}

/// The sites whose series the metric push carries. A data point whose `site` attribute names
/// another site is dropped at export, so a site removed by a reload leaves the push at once,
/// although the SDK keeps the attribute sets its synchronous instruments have seen. Points
/// without a `site` attribute always pass; until [`ExportedSites::set`] is called, every site
/// does. Clones share one set.
#[derive(Debug, Clone, Default)]
pub struct ExportedSites(Arc<RwLock<Option<Arc<BTreeSet<String>>>>>);

impl ExportedSites {
    /// A set that lets every site pass until it is set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the set of sites whose series are exported.
    pub fn set<S: Into<String>>(&self, sites: impl IntoIterator<Item = S>) {
        let sites: BTreeSet<String> = sites.into_iter().map(Into::into).collect();
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(sites));
    }

    /// Whether the series of `site` are exported.
    pub fn allows(&self, site: &str) -> bool {
        self.current().is_none_or(|sites| sites.contains(site))
    }

    fn current(&self) -> Option<Arc<BTreeSet<String>>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
enum SendError {
    /// The exporter was shut down.
    #[error("the exporter is shut down")]
    ShutDown,
    /// Some requests of the export failed.
    #[error("{failed} of {total} requests failed; first: {first}")]
    Requests {
        failed: usize,
        total: usize,
        first: String,
    },
    /// The sending task ended without an answer (the runtime is shutting down).
    #[error("the export task did not finish: {0}")]
    Task(String),
}

/// The metric push over OTLP/gRPC.
///
/// An export failure is logged when exports start failing and when they recover, never at
/// every interval; the SDK sees success so it adds no log of its own. Nothing is buffered: a
/// failed export's points are dropped and the next export carries the current (cumulative)
/// values, so memory stays bounded while the Collector is down. All requests of one export
/// share one deadline, `otlp.timeout`.
pub struct OtlpMetricExporter {
    /// gRPC or HTTP, with the headers (secret values, never logged).
    transport: Transport,
    timeout: Duration,
    /// The temporality asked of the SDK (`otlp.temporality`).
    temporality: Temporality,
    max_message_bytes: usize,
    sites: ExportedSites,
    runtime: tokio::runtime::Handle,
    shut_down: AtomicBool,
    /// The current run of failed exports: its start and its end are logged.
    failures: FailureStreak,
    /// Where each export's outcome is counted (`nbu.otlp.exports`), once an agent gave it.
    counter: ExportCounter,
    /// The metrics whose overflow was already logged.
    overflowed: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for OtlpMetricExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpMetricExporter")
            .field("headers", &self.transport.headers())
            .field("timeout", &self.timeout)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("sites", &self.sites)
            .finish_non_exhaustive()
    }
}

impl OtlpMetricExporter {
    /// Converts, filters, cuts and sends one export.
    async fn send(&self, metrics: &ResourceMetrics) -> Result<(), SendError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SendError::ShutDown);
        }
        self.warn_overflowing(metrics);
        let requests = self.requests(metrics);
        if requests.is_empty() {
            return Ok(());
        }
        let oversized = requests
            .iter()
            .filter(|r| r.len() > self.max_message_bytes)
            .count();
        if oversized > 0 {
            self.events()
                .export_oversized(oversized, self.max_message_bytes);
        }
        let transport = self.transport.clone();
        let timeout = self.timeout;
        let events = self.events().clone();
        self.runtime
            .spawn(send_all(transport, timeout, requests, events))
            .await
            .map_err(|e| SendError::Task(e.to_string()))?
    }

    /// Where the exporter's events go: counted once an agent gave its counters.
    fn events(&self) -> &Events {
        self.counter.get().unwrap_or(Events::uncounted())
    }

    /// Warns, once per metric for the life of the process, when a metric has more series than
    /// its limit and the SDK folded the rest into its overflow series.
    fn warn_overflowing(&self, metrics: &ResourceMetrics) {
        let overflowing = split::overflowing(metrics);
        if overflowing.is_empty() {
            return;
        }
        let mut warned = self.overflowed.lock().unwrap_or_else(|p| p.into_inner());
        for metric in overflowing {
            if warned.insert(metric.clone()) {
                self.events().series_overflowed(&metric);
            }
        }
    }

    /// The requests of one export: converted, without removed sites, cut to the limit and
    /// encoded.
    fn requests(&self, metrics: &ResourceMetrics) -> Vec<EncodedRequest> {
        let sites = self.sites.current();
        let keep = |site: &str| sites.as_ref().is_none_or(|s| s.contains(site));
        split::encode(metrics, keep, self.max_message_bytes)
    }
}

/// Sends the requests one after another within `timeout` in all, each retried as the OTLP
/// specification says while time is left.
async fn send_all(
    transport: Transport,
    timeout: Duration,
    requests: Vec<EncodedRequest>,
    events: Events,
) -> Result<(), SendError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let total = requests.len();
    let mut failed = 0;
    let mut first = None;
    for request in requests {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            failed += 1;
            first.get_or_insert_with(|| "deadline passed".to_owned());
            continue;
        }
        match send_one(&transport, left, request).await {
            Ok(response) => {
                if let Some(partial) = response.partial_success
                    && (partial.rejected_data_points > 0 || !partial.error_message.is_empty())
                {
                    events.export_partially_rejected(
                        partial.rejected_data_points,
                        &partial.error_message,
                    );
                }
            }
            Err(e) => {
                failed += 1;
                first.get_or_insert(e);
            }
        }
    }
    match first {
        None => Ok(()),
        Some(first) => Err(SendError::Requests {
            failed,
            total,
            first,
        }),
    }
}

/// One request, retried within `left`.
async fn send_one(
    transport: &Transport,
    left: Duration,
    request: EncodedRequest,
) -> Result<ExportMetricsServiceResponse, String> {
    match transport {
        Transport::Grpc { client, metadata } => {
            retrying(left, |left| {
                let mut client = client.clone();
                let mut request = tonic::Request::new(request.clone());
                *request.metadata_mut() = metadata.clone();
                request.set_timeout(left);
                async move {
                    match export(&mut client, request).await {
                        Ok(response) => Attempt::Done(response.into_inner()),
                        Err(status) => grpc_attempt(&status),
                    }
                }
            })
            .await
        }
        Transport::Http(sender) => {
            let answer = sender.post(&request.to_vec()).await?;
            Ok(ExportMetricsServiceResponse::decode(answer.as_slice()).unwrap_or_default())
        }
    }
}

/// `MetricsService/Export` with a request already encoded.
async fn export(
    client: &mut Grpc<Channel>,
    request: tonic::Request<EncodedRequest>,
) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
    unary(
        client,
        request,
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
    )
    .await
}

/// `<service>/Export` with a request already encoded: what a generated client does with a
/// request message.
pub(super) async fn unary<Response: prost::Message + Default + Send + 'static>(
    client: &mut Grpc<Channel>,
    mut request: tonic::Request<EncodedRequest>,
    service: &'static str,
) -> Result<tonic::Response<Response>, tonic::Status> {
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("Service was not ready: {e}")))?;
    let codec = tonic_prost::ProstCodec::<EncodedRequest, Response>::default();
    let path = http::uri::PathAndQuery::try_from(format!("/{service}/Export"))
        .map_err(|e| tonic::Status::internal(format!("gRPC path of {service}: {e}")))?;
    request
        .extensions_mut()
        .insert(tonic::GrpcMethod::new(service, "Export"));
    client.unary(request, path, codec).await
}

impl PushMetricExporter for OtlpMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.send(metrics).await;
        let events = self.events();
        match result {
            Ok(()) => events.export_succeeded(&self.failures),
            Err(e) => events.export_failed(&self.failures, &e),
        }
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_exporter_never_shows_its_header_values_and_stops_once() {
        let config = OtlpConfig {
            headers: vec![(
                "Authorization".to_owned(),
                secrecy::SecretString::from("Bearer otlp-secret-93".to_owned()),
            )],
            ..OtlpConfig::default()
        };
        let exporter = metric_exporter(&config, ExportedSites::new(), ExportCounter::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{exporter:?}");
        assert!(shown.contains("headers: 1"), "{shown}");
        assert!(!shown.contains("otlp-secret-93"), "{shown}");
        assert!(exporter.force_flush().is_ok());
        assert!(
            exporter
                .shutdown_with_timeout(Duration::from_secs(1))
                .is_ok()
        );
        assert!(matches!(
            exporter.shutdown_with_timeout(Duration::from_secs(1)),
            Err(OTelSdkError::AlreadyShutdown)
        ));
    }

    #[tokio::test]
    async fn a_tls_endpoint_trusts_the_public_roots_or_the_given_ca_file() {
        let https = OtlpConfig {
            endpoint: url::Url::parse("https://otel.example.com:4317")
                .unwrap_or_else(|e| panic!("{e}")),
            ..OtlpConfig::default()
        };
        let public = metric_exporter(&https, ExportedSites::new(), ExportCounter::default());
        assert!(public.is_ok(), "the Mozilla roots need no file");
        let missing = OtlpConfig {
            ca_file: Some("/nonexistent/otel-ca.pem".into()),
            ..https
        };
        match metric_exporter(&missing, ExportedSites::new(), ExportCounter::default()) {
            Err(e @ ExporterError::File { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("ca_file") && text.contains("/nonexistent/otel-ca.pem"),
                    "{text}"
                );
            }
            other => panic!("expected a file error, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn an_exporter_needs_a_runtime() {
        let built = metric_exporter(
            &OtlpConfig::default(),
            ExportedSites::new(),
            ExportCounter::default(),
        );
        assert!(matches!(built, Err(ExporterError::NoRuntime)));
    }

    #[test]
    fn every_site_passes_until_the_set_is_given() {
        let sites = ExportedSites::new();
        assert!(sites.allows("any"));
        sites.set(["a", "b"]);
        assert!(sites.allows("a") && !sites.allows("c"));
        sites.set(Vec::<String>::new());
        assert!(!sites.allows("a"));
    }
}
