//! Builds the binary's telemetry from config: resource, meter provider with its readers,
//! tracer provider, and the log subscriber. The library never installs global providers; the
//! binary does this once, here.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{Instrument, PeriodicReader, SdkMeterProvider, Stream};
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Sampler, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use super::catalog::{CATALOG, sites_planned};
use super::counter_store::CounterStore;
use super::logs::JobEventExporter;
use super::otlp::{self, ExportedSites, ExporterError};
use crate::config::{Config, LogFormat, LoggingConfig, TraceSampler};
use crate::events::Events;

/// The telemetry of a running binary.
#[derive(Debug)]
pub struct Pipeline {
    /// The meter provider the agent registers its instruments on.
    pub meter_provider: SdkMeterProvider,
    /// The tracer provider, when traces are enabled.
    pub tracer_provider: Option<SdkTracerProvider>,
    /// The logger provider of the agent's own log lines, when `logging.otlp` is on.
    pub logger_provider: Option<SdkLoggerProvider>,
    /// Where the OTLP metric exporter counts its outcomes; see [`Pipeline::count_exports_in`].
    exports: otlp::ExportCounter,
    /// The sites whose series the OTLP push carries: give it to the agent
    /// ([`crate::Agent::with_exported_sites`]) so a site removed by a reload leaves the push.
    pub exported_sites: ExportedSites,
    /// The exporter of job events, when the `events` section is on: give it to the agent
    /// ([`crate::Agent::with_job_events`]).
    pub job_events: Option<JobEventExporter>,
    /// Whether the meter provider has a reader (the OTLP push). Without one, build the agent
    /// with [`crate::Agent::bridge_only`]: instruments nothing collects are not created.
    pub has_metric_reader: bool,
}

/// A view that sets the SDK's cardinality limit of each of the agent's instruments from the
/// catalog ([`series_limit`](super::catalog::MetricDef::series_limit)): instruments whose
/// labels come from NetBackup's data get `limit` series (`otlp.max_series_per_metric`), those
/// bounded per site or in all get their bound (per site: for
/// [`sites_planned`]`(sites)` sites, `sites` being the number
/// configured at start), never more than `limit`. Series beyond an
/// instrument's limit are folded into one `otel.metric.overflow` series. The SDK reserves room
/// for the limit in every instrument up front, so the limits bound the memory of the push; its
/// own default (2,000) is below what one agent for many sites can reach. Library users who
/// build their own `SdkMeterProvider` add it with `.with_view(..)`.
pub fn cardinality_view(
    limit: usize,
    sites: usize,
) -> impl Fn(&Instrument) -> Option<Stream> + Send + Sync {
    let planned = sites_planned(sites);
    move |instrument: &Instrument| {
        if !instrument.name().starts_with("nbu.") {
            return None;
        }
        let limit = CATALOG
            .iter()
            .find(|m| m.name == instrument.name())
            .map_or(limit, |m| m.series_limit(limit, planned));
        Stream::builder().with_cardinality_limit(limit).build().ok()
    }
}

/// The resource, from the lowest precedence to the highest: the agent's own values
/// (`service.version`, `service.instance.id` = `instance_id`, `host.name`), the file's
/// `service.name`, `service.resource_attributes` (where `OTEL_RESOURCE_ATTRIBUTES` was merged
/// when the configuration was loaded, winning for a key it repeats), and `OTEL_SERVICE_NAME`
/// (applied to `service.name` at load, which then drops a `service.name` of the variable).
/// No key a user gave is replaced by the agent's defaults. Besides the SDK's
/// `telemetry.sdk.*`, its detectors (and their reading of the variables) are not used: the
/// configuration has already applied the variables.
pub fn resource(config: &Config, instance_id: &str) -> Resource {
    let mut attributes: Vec<(String, String)> = vec![
        ("service.name".to_owned(), config.service.name.clone()),
        (
            "service.version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
        ("service.instance.id".to_owned(), instance_id.to_owned()),
        ("host.name".to_owned(), host_name()),
    ];
    for (key, value) in &config.service.resource_attributes {
        match attributes.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1.clone_from(value),
            None => attributes.push((key.clone(), value.clone())),
        }
    }
    // `telemetry.sdk.*` first, then everything above.
    Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(
            attributes
                .into_iter()
                .map(|(key, value)| KeyValue::new(key, value)),
        )
        .build()
}

/// The SDK sampler of `traces.sampler` (ratio samplers keep `ratio` of the traces).
pub fn sampler(kind: TraceSampler, ratio: f64) -> Sampler {
    let parent_based = |root| Sampler::ParentBased(Box::new(root));
    match kind {
        TraceSampler::AlwaysOn => Sampler::AlwaysOn,
        TraceSampler::AlwaysOff => Sampler::AlwaysOff,
        TraceSampler::TraceIdRatio => Sampler::TraceIdRatioBased(ratio),
        TraceSampler::ParentBasedAlwaysOn => parent_based(Sampler::AlwaysOn),
        TraceSampler::ParentBasedAlwaysOff => parent_based(Sampler::AlwaysOff),
        TraceSampler::ParentBasedTraceIdRatio => parent_based(Sampler::TraceIdRatioBased(ratio)),
    }
}

/// The machine's host name, or `unknown`.
pub fn host_name() -> String {
    crate::host::kernel_host_name()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The default `service.instance.id`: the host name, stable across restarts, so series pushed
/// through a Collector continue instead of doubling at every restart. Two agents on one host
/// (or two replicas of one pod template) set `service.instance_id` each.
pub fn default_instance_id() -> String {
    host_name()
}

impl Pipeline {
    /// Builds the providers. Must run inside a Tokio runtime (the OTLP channel is lazy but
    /// spawns its worker on the current runtime).
    pub fn build(config: &Config) -> Result<Self, ExporterError> {
        let instance_id = config
            .service
            .instance_id
            .clone()
            .unwrap_or_else(default_instance_id);
        let resource = resource(config, &instance_id);
        let exports = otlp::ExportCounter::default();
        let mut builder = SdkMeterProvider::builder()
            .with_resource(resource.clone())
            .with_view(cardinality_view(
                config.otlp.max_series_per_metric,
                config.sites.len(),
            ));
        let exported_sites = ExportedSites::new();
        if config.otlp.enabled && config.otlp.console {
            let reader = PeriodicReader::builder(opentelemetry_stdout::MetricExporter::default())
                .with_interval(config.otlp.export_interval)
                .build();
            builder = builder.with_reader(reader);
        } else if config.otlp.enabled {
            let exporter =
                otlp::metric_exporter(&config.otlp, exported_sites.clone(), exports.clone())?;
            let reader = PeriodicReader::builder(exporter)
                .with_interval(config.otlp.export_interval)
                .build();
            builder = builder.with_reader(reader);
        }
        let job_events = if config.events.enabled {
            Some(JobEventExporter::new(&config.otlp, &resource)?)
        } else {
            None
        };
        let logger_provider = if config.logging.otlp {
            let exporter = otlp::log_exporter(&config.otlp)?;
            Some(
                SdkLoggerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource.clone())
                    .build(),
            )
        } else {
            None
        };
        let tracer_provider = if config.traces.enabled {
            let processor = if config.traces.console {
                BatchSpanProcessor::builder(opentelemetry_stdout::SpanExporter::default()).build()
            } else {
                BatchSpanProcessor::builder(otlp::span_exporter(&config.otlp)?).build()
            };
            Some(
                SdkTracerProvider::builder()
                    .with_span_processor(processor)
                    .with_sampler(sampler(config.traces.sampler, config.traces.sampling_ratio))
                    .with_resource(resource)
                    .build(),
            )
        } else {
            None
        };
        Ok(Self {
            meter_provider: builder.build(),
            tracer_provider,
            exports,
            exported_sites,
            job_events,
            logger_provider,
            has_metric_reader: config.otlp.enabled,
        })
    }

    /// Counts the OTLP metric exports (`nbu.otlp.exports`) in `counters`, an agent's counters,
    /// from now on. The first call wins.
    pub fn count_exports_in(&self, counters: Arc<CounterStore>) {
        let _ = self.exports.set(Events::counting_in(counters));
    }

    /// Installs the log subscriber (and the span bridge to OpenTelemetry when traces are on).
    /// `RUST_LOG` wins over `logging.level`.
    pub fn init_logging(&self, logging: &LoggingConfig) -> Result<(), LoggingError> {
        install_subscriber(
            logging,
            self.tracer_provider.as_ref(),
            self.logger_provider.as_ref(),
        )
    }

    /// Flushes and shuts down the providers, waiting at most `deadline` in total.
    pub async fn shutdown(self, deadline: Duration) {
        let Pipeline {
            meter_provider,
            tracer_provider,
            logger_provider,
            ..
        } = self;
        let work = tokio::task::spawn_blocking(move || {
            if let Some(l) = logger_provider {
                let _ = l.force_flush();
                let _ = l.shutdown_with_timeout(deadline);
            }
            if let Some(t) = tracer_provider {
                let _ = t.force_flush();
                let _ = t.shutdown_with_timeout(deadline);
            }
            let _ = meter_provider.shutdown_with_timeout(deadline);
        });
        if tokio::time::timeout(deadline, work).await.is_err() {
            Events::uncounted().flush_missed(deadline);
        }
    }
}

/// Why the log subscriber could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// `RUST_LOG` is unset or invalid, and `logging.level` is not a valid filter either.
    #[error("logging.level: {0}")]
    Level(tracing_subscriber::filter::ParseError),
    /// A subscriber is installed already.
    #[error("{0}")]
    Installed(tracing_subscriber::util::TryInitError),
}

/// Installs a log subscriber: text or JSON lines on stderr, filtered by `RUST_LOG` or the
/// configured level; with a tracer provider, spans are also exported over OTLP.
///
/// The two have their own filters: the log shows what `logging.level` asks for, while the
/// trace export takes every span of the agent (the per-request spans are at `debug`, so a log
/// at `info` does not pay for formatting them) and warnings of its libraries.
pub fn install_subscriber(
    logging: &LoggingConfig,
    tracer_provider: Option<&SdkTracerProvider>,
    logger_provider: Option<&SdkLoggerProvider>,
) -> Result<(), LoggingError> {
    let quiet = ",h2=warn,hyper=warn,hyper_util=warn,tonic=warn,tower=warn,reqwest=warn,opentelemetry=warn,opentelemetry_sdk=warn";
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{}{quiet}", logging.level)))
        .map_err(LoggingError::Level)?;
    // Lines written in a span carry its trace_id and span_id (when traces are on).
    let fmt_layer: Box<dyn Layer<Registry> + Send + Sync> = match logging.format {
        LogFormat::Json => super::log_format::json_layer(std::io::stderr).boxed(),
        // Colours only on a terminal: log files and journald get plain text.
        LogFormat::Text => {
            super::log_format::text_layer(std::io::stderr, std::io::stderr().is_terminal()).boxed()
        }
    };
    let otel_layer = tracer_provider.map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("nbu-otel"))
            .with_location(false)
            .with_threads(false)
            .with_filter(EnvFilter::new(format!("warn,nbu_otel=debug{quiet}")))
    });
    // The agent's own lines as log records, as `logging.level` filters them; the libraries
    // that carry the records are left out, so an export never logs about itself in a loop.
    let logs_layer = logger_provider
        .map(|p| {
            EnvFilter::try_new(format!(
                "{},h2=off,hyper=off,hyper_util=off,tonic=off,tower=off,reqwest=off,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off",
                logging.level
            ))
            .map(|f| OpenTelemetryTracingBridge::new(p).with_filter(f))
        })
        .transpose()
        .map_err(LoggingError::Level)?;
    tracing_subscriber::registry()
        .with(fmt_layer.with_filter(filter))
        .with(otel_layer)
        .with(logs_layer)
        .try_init()
        .map_err(LoggingError::Installed)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Weak;

    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
    use opentelemetry_sdk::metrics::reader::MetricReader;
    use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};
    use prost::Message as _;

    use super::*;
    use crate::collect::SiteSnapshot;
    use crate::telemetry::catalog::{MIN_SITES_PLANNED, SOURCES, Series};
    use crate::telemetry::instruments::{SnapshotStore, register};
    use crate::telemetry::split;

    /// A manual reader the provider and the test share.
    #[derive(Debug, Clone)]
    struct Shared(Arc<ManualReader>);

    impl MetricReader for Shared {
        fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
            self.0.register_pipeline(pipeline);
        }
        fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
            self.0.collect(rm)
        }
        fn force_flush(&self) -> OTelSdkResult {
            self.0.force_flush()
        }
        fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
            self.0.shutdown_with_timeout(timeout)
        }
        fn temporality(&self, kind: InstrumentKind) -> Temporality {
            self.0.temporality(kind)
        }
    }

    /// The agent's instruments on a provider with the view for `configured` sites, `sites`
    /// sites up, and `endpoints` endpoints requested once on the first site; one collection.
    fn collected(
        max_series: usize,
        configured: usize,
        sites: usize,
        endpoints: usize,
    ) -> ResourceMetrics {
        let reader = Shared(Arc::new(ManualReader::builder().build()));
        let provider = SdkMeterProvider::builder()
            .with_view(cardinality_view(max_series, configured))
            .with_reader(reader.clone())
            .build();
        let store = SnapshotStore::new();
        let recorder = register(&provider.meter("nbu-otel"), &store);
        let events = Events::counting_in(recorder.counters.clone());
        for i in 0..sites {
            let mut s = SiteSnapshot::empty(&format!("site-{i:03}"));
            s.up = true;
            store.publish(s);
        }
        for i in 0..endpoints {
            events.request_answered("site-000", &format!("/admin/jobs/{i}"), "200");
        }
        let mut rm = ResourceMetrics::default();
        reader.collect(&mut rm).unwrap_or_else(|e| panic!("{e}"));
        rm
    }

    /// The data points of a metric: how many, and how many are the overflow series.
    fn points(rm: &ResourceMetrics, name: &str) -> (usize, usize) {
        fn count<T>(data: &MetricData<T>) -> (usize, usize) {
            fn overflow<'a>(mut attrs: impl Iterator<Item = &'a KeyValue>) -> usize {
                usize::from(attrs.any(|kv| kv.key.as_str() == "otel.metric.overflow"))
            }
            let marks: Vec<usize> = match data {
                MetricData::Gauge(g) => g.data_points().map(|p| overflow(p.attributes())).collect(),
                MetricData::Sum(s) => s.data_points().map(|p| overflow(p.attributes())).collect(),
                MetricData::Histogram(h) => {
                    h.data_points().map(|p| overflow(p.attributes())).collect()
                }
                MetricData::ExponentialHistogram(h) => {
                    h.data_points().map(|p| overflow(p.attributes())).collect()
                }
            };
            (marks.len(), marks.iter().sum())
        }
        rm.scope_metrics()
            .flat_map(|sm| sm.metrics())
            .filter(|m| m.name() == name)
            .map(|m| match m.data() {
                AggregatedMetrics::F64(d) => count(d),
                AggregatedMetrics::U64(d) => count(d),
                AggregatedMetrics::I64(d) => count(d),
            })
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }

    #[test]
    fn instruments_bounded_per_site_get_small_limits_from_the_catalog() {
        let limit = |name: &str| {
            CATALOG
                .iter()
                .find(|m| m.name == name)
                .map(|m| m.series_limit(4000, MIN_SITES_PLANNED))
        };
        assert_eq!(limit("nbu.up"), Some(MIN_SITES_PLANNED));
        assert_eq!(limit("nbu.source.stale"), Some(SOURCES * MIN_SITES_PLANNED));
        assert_eq!(limit(crate::telemetry::catalog::BUILD_INFO), Some(1));
        assert_eq!(limit("nbu.disk_bytes"), Some(4000));
        assert_eq!(limit("nbu.jobs_count"), Some(4000));
        // Never above otlp.max_series_per_metric.
        assert_eq!(
            CATALOG
                .iter()
                .find(|m| m.name == "nbu.source.stale")
                .map(|m| m.series_limit(10, MIN_SITES_PLANNED)),
            Some(10)
        );
        for m in CATALOG.iter() {
            // A metric with no label besides `site` has one series per site; one whose
            // labels come from NetBackup's data (a storage unit, a job's labels) is open.
            if m.labels.is_empty() && m.origin != crate::telemetry::catalog::Origin::Agent {
                assert_eq!(m.series, Series::PerSite(1), "{}", m.name);
            }
            if m.labels
                .iter()
                .any(|l| ["name", "action", "policy_type", "client", "endpoint"].contains(l))
            {
                assert_eq!(m.series, Series::Open, "{}", m.name);
            }
        }
    }

    #[test]
    fn the_default_limit_fills_the_table_the_sdks_own_default_reserves() {
        // The SDK reserves `HashMap::with_capacity(1 + limit)` (std's map) per instrument.
        let reserved = |limit: usize| HashMap::<Vec<KeyValue>, Arc<u64>>::with_capacity(1 + limit);
        let default = crate::config::DEFAULT_OTLP_MAX_SERIES_PER_METRIC;
        // The same table as the SDK's default of 2,000 ...
        assert_eq!(reserved(default).capacity(), reserved(2000).capacity());
        // ... filled to the last slot: one series more takes a table twice the size.
        assert_eq!(reserved(default).capacity(), 1 + default);
        assert!(reserved(default + 1).capacity() >= 2 * reserved(default).capacity() - 1);
    }

    #[test]
    fn series_beyond_an_instruments_limit_fold_into_the_overflow_series() {
        // nbu.up is bounded per site: 120 sites are more than its room; nbu.source.stale
        // (two series per site here) has room; nbu.api.requests is open, limited to
        // otlp.max_series_per_metric (300). An overflowing instrument keeps its limit's
        // series and folds the rest into one.
        // Here one site was configured at start and a reload added 119.
        let rm = collected(300, 1, MIN_SITES_PLANNED + 20, 350);
        assert_eq!(points(&rm, "nbu.up"), (MIN_SITES_PLANNED + 1, 1));
        assert_eq!(
            points(&rm, "nbu.source.stale"),
            (2 * (MIN_SITES_PLANNED + 20), 0)
        );
        assert_eq!(
            points(&rm, crate::telemetry::catalog::API_REQUESTS),
            (301, 1)
        );
        // What overflowed is found, so the agent can say so.
        assert_eq!(
            split::overflowing(&rm),
            ["nbu.api.requests", "nbu.up"].map(String::from)
        );
        let rm = collected(4000, 3, 3, 60);
        assert_eq!(points(&rm, "nbu.up"), (3, 0));
        assert_eq!(
            points(&rm, crate::telemetry::catalog::API_REQUESTS),
            (60, 0)
        );
        assert!(split::overflowing(&rm).is_empty());
    }

    #[test]
    fn an_agent_started_with_many_sites_has_room_for_each_of_them() {
        // 120 sites configured at start: room for twice as many, none folded.
        let rm = collected(4000, MIN_SITES_PLANNED + 20, MIN_SITES_PLANNED + 20, 1);
        assert_eq!(points(&rm, "nbu.up"), (MIN_SITES_PLANNED + 20, 0));
        assert!(split::overflowing(&rm).is_empty());
        assert_eq!(
            sites_planned(MIN_SITES_PLANNED + 20),
            2 * (MIN_SITES_PLANNED + 20)
        );
        assert_eq!(sites_planned(3), MIN_SITES_PLANNED);
    }

    #[test]
    fn encoded_requests_are_the_converted_request_filtered_and_cut() {
        let rm = collected(4000, 40, 40, 30);
        let keep = |site: &str| site != "site-001";
        for limit in [700, 4000, 4 * 1024 * 1024] {
            let mut request = ExportMetricsServiceRequest::from(&rm);
            split::reference::retain_sites(&mut request, keep);
            let expected = split::reference::split(request, limit);
            let encoded = split::encode(&rm, keep, limit);
            let decoded: Vec<ExportMetricsServiceRequest> = encoded
                .iter()
                .map(|r| {
                    assert!(r.len() <= limit, "{} > {limit}", r.len());
                    assert_eq!(r.to_vec().len(), r.len());
                    ExportMetricsServiceRequest::decode(r.to_vec().as_slice())
                        .unwrap_or_else(|e| panic!("{e}"))
                })
                .collect();
            assert_eq!(decoded, expected, "limit {limit}");
            assert!(limit > 4000 || decoded.len() > 1, "limit {limit}: not cut");
        }
    }
}
