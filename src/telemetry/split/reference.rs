//! The reference [`encode`](super::encode) must match: an OTLP request already converted as a
//! whole, with the series of removed sites taken out ([`retain_sites`]) and cut to a size limit
//! ([`split`]) as protobuf messages. It holds every metric of an export at once, so only the
//! tests use it.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    Metric, ResourceMetrics, ScopeMetrics, metric::Data,
};
use prost::Message;

use super::{FIELD_HEADER_MAX, cut_metric, field_len, retain_points, string_attribute};

/// Splits `request` into requests that each encode to at most `limit` bytes.
///
/// A single data point larger than `limit` with its resource, scope and metric description
/// cannot be cut further: it goes alone in a request of its own, which may exceed the limit
/// (see [`oversized`]). An empty request gives no request at all.
pub(crate) fn split(
    request: ExportMetricsServiceRequest,
    limit: usize,
) -> Vec<ExportMetricsServiceRequest> {
    if request.encoded_len() <= limit {
        return if request.resource_metrics.is_empty() {
            Vec::new()
        } else {
            vec![request]
        };
    }
    let mut packer = Packer::new(limit);
    for (r, mut rm) in request.resource_metrics.into_iter().enumerate() {
        let scopes = std::mem::take(&mut rm.scope_metrics);
        let rm_head = rm.encoded_len();
        for (s, mut sm) in scopes.into_iter().enumerate() {
            let metrics = std::mem::take(&mut sm.metrics);
            let sm_head = sm.encoded_len();
            // What a metric may take in a request of its own.
            let alone = limit.saturating_sub(
                FIELD_HEADER_MAX + rm_head + FIELD_HEADER_MAX + sm_head + FIELD_HEADER_MAX,
            );
            for metric in metrics {
                for piece in cut_metric(metric, alone) {
                    packer.place((r, &rm, rm_head), (s, &sm, sm_head), piece);
                }
            }
        }
    }
    packer.finish()
}

/// The requests of `requests` that encode to more than `limit` bytes: those holding a single
/// data point too large for the limit.
pub(crate) fn oversized(requests: &[ExportMetricsServiceRequest], limit: usize) -> usize {
    requests.iter().filter(|r| r.encoded_len() > limit).count()
}

/// Fills requests one after another, opening a resource or scope entry when the metric placed
/// comes from another one than the last.
struct Packer {
    limit: usize,
    done: Vec<ExportMetricsServiceRequest>,
    current: ExportMetricsServiceRequest,
    /// An upper bound of the current request's encoded length.
    used: usize,
    /// The resource and scope (indices in the original request) of the last metric placed.
    open: Option<(usize, usize)>,
}

impl Packer {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            done: Vec::new(),
            current: ExportMetricsServiceRequest::default(),
            used: 0,
            open: None,
        }
    }

    fn place(
        &mut self,
        (r, rm, rm_head): (usize, &ResourceMetrics, usize),
        (s, sm, sm_head): (usize, &ScopeMetrics, usize),
        metric: Metric,
    ) {
        let metric_cost = field_len(metric.encoded_len());
        let cost = |open: Option<(usize, usize)>| {
            let resource = match open {
                Some((open_r, _)) if open_r == r => 0,
                _ => FIELD_HEADER_MAX + rm_head,
            };
            let scope = if open == Some((r, s)) {
                0
            } else {
                FIELD_HEADER_MAX + sm_head
            };
            resource + scope + metric_cost
        };
        if self.open.is_some() && self.used + cost(self.open) > self.limit {
            self.flush();
        }
        let cost = cost(self.open);
        if self.open.map(|(open_r, _)| open_r) != Some(r) {
            self.current.resource_metrics.push(ResourceMetrics {
                resource: rm.resource.clone(),
                scope_metrics: Vec::new(),
                schema_url: rm.schema_url.clone(),
            });
        }
        let Some(resource) = self.current.resource_metrics.last_mut() else {
            return;
        };
        if self.open != Some((r, s)) {
            resource.scope_metrics.push(ScopeMetrics {
                scope: sm.scope.clone(),
                metrics: Vec::new(),
                schema_url: sm.schema_url.clone(),
            });
        }
        if let Some(scope) = resource.scope_metrics.last_mut() {
            scope.metrics.push(metric);
        }
        self.used += cost;
        self.open = Some((r, s));
    }

    fn flush(&mut self) {
        self.done.push(std::mem::take(&mut self.current));
        self.used = 0;
        self.open = None;
    }

    fn finish(mut self) -> Vec<ExportMetricsServiceRequest> {
        if self.open.is_some() {
            self.flush();
        }
        self.done
    }
}

/// Removes the data points whose `site` attribute names a site `keep` refuses (points without
/// a `site` attribute stay), then the metrics, scopes and resources left without points.
/// Returns the number of points removed.
pub(crate) fn retain_sites(
    request: &mut ExportMetricsServiceRequest,
    keep: impl Fn(&str) -> bool,
) -> usize {
    let mut removed = 0;
    let wanted = |attributes: &[KeyValue]| string_attribute(attributes, "site").is_none_or(&keep);
    for rm in &mut request.resource_metrics {
        for sm in &mut rm.scope_metrics {
            sm.metrics.retain_mut(|metric| {
                let (kept, gone) = retain_points(metric, wanted);
                removed += gone;
                kept
            });
        }
        rm.scope_metrics.retain(|sm| !sm.metrics.is_empty());
    }
    request
        .resource_metrics
        .retain(|rm| !rm.scope_metrics.is_empty());
    removed
}

/// The number of data points of a request.
pub(crate) fn data_points(request: &ExportMetricsServiceRequest) -> usize {
    request
        .resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(|m| match &m.data {
            Some(Data::Gauge(v)) => v.data_points.len(),
            Some(Data::Sum(v)) => v.data_points.len(),
            Some(Data::Histogram(v)) => v.data_points.len(),
            Some(Data::ExponentialHistogram(v)) => v.data_points.len(),
            Some(Data::Summary(v)) => v.data_points.len(),
            None => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, any_value};
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Histogram, HistogramDataPoint, NumberDataPoint, Sum, number_data_point,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.to_owned())),
            }),
            ..KeyValue::default()
        }
    }

    fn number(site: &str, i: usize) -> NumberDataPoint {
        NumberDataPoint {
            attributes: vec![kv("site", site), kv("name", &format!("unit-{i:05}"))],
            time_unix_nano: 1,
            value: Some(number_data_point::Value::AsInt(i as i64)),
            ..NumberDataPoint::default()
        }
    }

    fn metric(name: &str, data: Data) -> Metric {
        Metric {
            name: name.to_owned(),
            description: format!("{name}, described"),
            unit: "By".to_owned(),
            metadata: Vec::new(),
            data: Some(data),
        }
    }

    /// Two resources, the first with two scopes; a large gauge, a histogram, a small sum and
    /// a point without a site.
    fn request() -> ExportMetricsServiceRequest {
        let gauge = |sites: &[&str], n: usize| {
            Data::Gauge(Gauge {
                data_points: sites
                    .iter()
                    .flat_map(|s| (0..n).map(move |i| number(s, i)))
                    .collect(),
            })
        };
        let histogram = Data::Histogram(Histogram {
            data_points: (0..120)
                .map(|i| HistogramDataPoint {
                    attributes: vec![kv("site", if i % 2 == 0 { "a" } else { "b" })],
                    count: i,
                    bucket_counts: vec![i; 12],
                    explicit_bounds: (0..11).map(f64::from).collect(),
                    ..HistogramDataPoint::default()
                })
                .collect(),
            aggregation_temporality: 2,
        });
        let sum = Data::Sum(Sum {
            data_points: vec![number("a", 1), number("b", 2)],
            aggregation_temporality: 2,
            is_monotonic: true,
        });
        let info = Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                attributes: vec![kv("version", "1")],
                ..NumberDataPoint::default()
            }],
        });
        let resource = |name: &str| {
            Some(Resource {
                attributes: vec![kv("service.name", name)],
                ..Resource::default()
            })
        };
        let scope = |name: &str| {
            Some(InstrumentationScope {
                name: name.to_owned(),
                ..InstrumentationScope::default()
            })
        };
        ExportMetricsServiceRequest {
            resource_metrics: vec![
                ResourceMetrics {
                    resource: resource("one"),
                    scope_metrics: vec![
                        ScopeMetrics {
                            scope: scope("first"),
                            metrics: vec![
                                metric("big", gauge(&["a", "b", "c"], 300)),
                                metric("hist", histogram),
                                metric("sum", sum),
                            ],
                            schema_url: String::new(),
                        },
                        ScopeMetrics {
                            scope: scope("second"),
                            metrics: vec![metric("info", info)],
                            schema_url: String::new(),
                        },
                    ],
                    schema_url: "https://opentelemetry.io/schemas/1.0".to_owned(),
                },
                ResourceMetrics {
                    resource: resource("two"),
                    scope_metrics: vec![ScopeMetrics {
                        scope: scope("third"),
                        metrics: vec![metric("small", gauge(&["a"], 5))],
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                },
            ],
        }
    }

    /// Every data point with its resource, scope and metric (all but the points), encoded.
    fn flatten(requests: &[ExportMetricsServiceRequest]) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        for request in requests {
            for rm in &request.resource_metrics {
                let resource = ResourceMetrics {
                    scope_metrics: Vec::new(),
                    ..rm.clone()
                }
                .encode_to_vec();
                for sm in &rm.scope_metrics {
                    let scope = ScopeMetrics {
                        metrics: Vec::new(),
                        ..sm.clone()
                    }
                    .encode_to_vec();
                    for m in &sm.metrics {
                        let mut each = |shell: Data, point: Vec<u8>| {
                            let head = Metric {
                                data: Some(shell),
                                ..m.clone()
                            }
                            .encode_to_vec();
                            out.push(([resource.clone(), scope.clone()].concat(), head, point));
                        };
                        match m.data.clone() {
                            Some(Data::Gauge(v)) => v.data_points.iter().for_each(|p| {
                                each(Data::Gauge(Gauge::default()), p.encode_to_vec())
                            }),
                            Some(Data::Sum(v)) => v.data_points.iter().for_each(|p| {
                                each(
                                    Data::Sum(Sum {
                                        data_points: Vec::new(),
                                        ..v.clone()
                                    }),
                                    p.encode_to_vec(),
                                )
                            }),
                            Some(Data::Histogram(v)) => v.data_points.iter().for_each(|p| {
                                each(
                                    Data::Histogram(Histogram {
                                        data_points: Vec::new(),
                                        ..v.clone()
                                    }),
                                    p.encode_to_vec(),
                                )
                            }),
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_point_is_sent_once_in_order_under_the_limit() {
        let original = request();
        let total = original.encoded_len();
        let want = flatten(std::slice::from_ref(&original));
        for limit in [
            1_000,
            2_048,
            4_096,
            10_000,
            33_333,
            total - 1,
            total,
            total * 2,
        ] {
            let parts = split(original.clone(), limit);
            assert_eq!(
                flatten(&parts),
                want,
                "limit {limit}: points lost, added or moved"
            );
            for part in &parts {
                assert!(
                    part.encoded_len() <= limit,
                    "limit {limit}: a request of {} bytes",
                    part.encoded_len()
                );
            }
            let expected_parts = total.div_ceil(limit);
            assert!(
                parts.len() >= expected_parts,
                "limit {limit}: {} parts for {total} bytes",
                parts.len()
            );
            if limit >= total {
                assert_eq!(parts.len(), 1, "a request under the limit stays whole");
            }
        }
    }

    #[test]
    fn a_point_larger_than_the_limit_goes_alone() {
        let original = request();
        let parts = split(original.clone(), 200);
        assert_eq!(flatten(&parts), flatten(std::slice::from_ref(&original)));
        for part in &parts {
            assert!(
                part.encoded_len() <= 200 || data_points(part) == 1,
                "a request over the limit holds one point, not {}",
                data_points(part)
            );
        }
        assert!(oversized(&parts, 200) > 0);
    }

    #[test]
    fn an_empty_request_sends_nothing() {
        assert!(split(ExportMetricsServiceRequest::default(), 4_096).is_empty());
    }

    #[test]
    fn series_of_other_sites_are_removed_and_empty_entries_with_them() {
        let mut r = request();
        let before = data_points(&r);
        let removed = retain_sites(&mut r, |site| site == "b");
        assert_eq!(removed, 300 * 2 + 60 + 1 + 5);
        assert_eq!(data_points(&r), before - removed);
        let names: Vec<&str> = r
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["big", "hist", "sum", "info"],
            "\"small\" had only site a"
        );
        assert_eq!(r.resource_metrics.len(), 1);
        for m in r.resource_metrics[0]
            .scope_metrics
            .iter()
            .flat_map(|sm| &sm.metrics)
        {
            let sites: Vec<Option<&str>> = match &m.data {
                Some(Data::Gauge(v)) => v
                    .data_points
                    .iter()
                    .map(|p| string_attribute(&p.attributes, "site"))
                    .collect(),
                Some(Data::Sum(v)) => v
                    .data_points
                    .iter()
                    .map(|p| string_attribute(&p.attributes, "site"))
                    .collect(),
                Some(Data::Histogram(v)) => v
                    .data_points
                    .iter()
                    .map(|p| string_attribute(&p.attributes, "site"))
                    .collect(),
                other => panic!("unexpected {other:?}"),
            };
            assert!(
                sites.iter().all(|s| *s != Some("a")),
                "{}: {sites:?}",
                m.name
            );
        }
    }
}
