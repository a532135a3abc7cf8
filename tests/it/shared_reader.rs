//! A manual metric reader that the meter provider and the test (or benchmark) share, to
//! collect the SDK's data when they choose, and the data points of a collection. Also used
//! by `examples/`.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};

/// A [`ManualReader`] behind an `Arc`: one clone goes to the provider, another collects.
#[derive(Debug, Clone)]
pub struct SharedReader(Arc<ManualReader>);

impl SharedReader {
    /// A manual reader with the SDK's default (cumulative) temporality.
    pub fn new() -> Self {
        Self(Arc::new(ManualReader::builder().build()))
    }
}

impl MetricReader for SharedReader {
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

/// The data points of a collection, by metric (metrics without points left out).
pub fn points_by_metric(rm: &ResourceMetrics) -> BTreeMap<String, usize> {
    fn count<T>(data: &MetricData<T>) -> usize {
        match data {
            MetricData::Gauge(g) => g.data_points().count(),
            MetricData::Sum(s) => s.data_points().count(),
            MetricData::Histogram(h) => h.data_points().count(),
            MetricData::ExponentialHistogram(h) => h.data_points().count(),
        }
    }
    rm.scope_metrics()
        .flat_map(|sm| sm.metrics())
        .map(|m| {
            let n = match m.data() {
                AggregatedMetrics::F64(d) => count(d),
                AggregatedMetrics::U64(d) => count(d),
                AggregatedMetrics::I64(d) => count(d),
            };
            (m.name().to_owned(), n)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}
