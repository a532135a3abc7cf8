//! OTLP metric requests cut to a size limit, and series of removed sites taken out of them.
//!
//! A Collector refuses a gRPC message larger than its receive limit (4 MiB by default), so
//! one export of many series is sent as several requests, each encoding to at most the
//! configured number of bytes. Requests are cut between metrics, and a metric too large for
//! one request is cut between its data points. Every data point is sent exactly once, in its
//! original order, under its original resource, scope and metric description.
//!
//! The agent's exporter uses [`encode`]: the SDK's data are converted to OTLP one metric at a
//! time and each metric is encoded as soon as it is placed, so an export holds the encoded
//! requests and one converted metric, never the whole export as protobuf messages. The
//! tests hold a reference that cuts a request already converted (`split/reference.rs`), which
//! [`encode`] must match.

use std::borrow::Cow;

use bytes::{Buf, BufMut, Bytes};
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Metric, ResourceMetrics, ScopeMetrics, metric::Data,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_sdk::metrics::data::{
    AggregatedMetrics, MetricData, ResourceMetrics as SdkResourceMetrics,
};
use prost::Message;
use prost::encoding::{
    DecodeContext, WireType, encode_key, encode_varint, encoded_len_varint, skip_field,
};

/// The most a length-delimited field's key and length can take: a one-byte key (every field
/// on the way to a data point has a number below 16) and a length varint of at most five
/// bytes (lengths below 2^35).
const FIELD_HEADER_MAX: usize = 1 + 5;

/// What a length-delimited field of `len` bytes costs in its parent, exactly.
fn field_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

/// An OTLP metrics request (`ExportMetricsServiceRequest`), already encoded, as consecutive
/// parts (field headers, the resource and scope entries, one part per metric), so that no part
/// is copied to make the whole. As a [`prost::Message`] it encodes to its bytes as they are, so
/// a gRPC client sends it without another conversion; decoding one only skips the fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EncodedRequest {
    parts: Vec<Bytes>,
    len: usize,
}

impl EncodedRequest {
    fn push(&mut self, part: impl Into<Bytes>) {
        let part = part.into();
        self.len += part.len();
        self.parts.push(part);
    }

    /// Any OTLP request encoded once (a logs request, say), sent as it is: clones share the
    /// bytes, so a retry copies nothing.
    pub fn of(message: &impl Message) -> Self {
        let mut request = EncodedRequest::default();
        request.push(message.encode_to_vec());
        request
    }

    /// The encoded length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the request encodes to no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The encoding, in consecutive parts.
    pub fn parts(&self) -> &[Bytes] {
        &self.parts
    }

    /// The encoding in one buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for part in &self.parts {
            out.extend_from_slice(part);
        }
        out
    }
}

impl Message for EncodedRequest {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        for part in &self.parts {
            buf.put_slice(part);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.len
    }

    fn clear(&mut self) {
        *self = Self::default();
    }
}

/// The requests of one export of the SDK's `metrics`, encoded: the data points whose `site`
/// attribute names a site `keep` refuses are left out, with the metrics left without points,
/// and the rest is cut between metrics, and a metric too large between its data points, each
/// request encoding to at most `limit` bytes unless a single data point is larger. Metrics are
/// converted to OTLP and encoded one at a time.
pub fn encode(
    metrics: &SdkResourceMetrics,
    keep: impl Fn(&str) -> bool,
    limit: usize,
) -> Vec<EncodedRequest> {
    let resource = ResourceMetrics {
        resource: Some(Resource::from(metrics.resource())),
        scope_metrics: Vec::new(),
        schema_url: metrics
            .resource()
            .schema_url()
            .map(Into::into)
            .unwrap_or_default(),
    };
    let rm_head = resource.encoded_len();
    let mut packer = BytesPacker::new(limit, resource.encode_to_vec());
    let wanted = |attributes: &[KeyValue]| string_attribute(attributes, "site").is_none_or(&keep);
    for (s, scope) in metrics.scope_metrics().enumerate() {
        let shell = ScopeMetrics {
            scope: Some(InstrumentationScope::from((
                scope.scope(),
                None::<Cow<'static, str>>,
            ))),
            metrics: Vec::new(),
            schema_url: scope
                .scope()
                .schema_url()
                .map(ToOwned::to_owned)
                .unwrap_or_default(),
        };
        let sm_head = shell.encoded_len();
        let shell = Bytes::from(shell.encode_to_vec());
        let alone = limit.saturating_sub(
            FIELD_HEADER_MAX + rm_head + FIELD_HEADER_MAX + sm_head + FIELD_HEADER_MAX,
        );
        for metric in scope.metrics() {
            let mut metric = Metric::from(metric);
            if !retain_points(&mut metric, wanted).0 {
                continue;
            }
            for piece in cut_metric(metric, alone) {
                packer.place(rm_head, (s, &shell), piece);
            }
        }
    }
    packer.finish()
}

/// The metrics of an export that hold the SDK's overflow series (`otel.metric.overflow`):
/// more series than their cardinality limit, the rest folded into that one. Sorted, each once.
pub fn overflowing(metrics: &SdkResourceMetrics) -> Vec<String> {
    fn overflowed<T>(data: &MetricData<T>) -> bool {
        fn marked<'a>(mut attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>) -> bool {
            attributes.any(|kv| kv.key.as_str() == "otel.metric.overflow")
        }
        match data {
            MetricData::Gauge(g) => g.data_points().any(|p| marked(p.attributes())),
            MetricData::Sum(s) => s.data_points().any(|p| marked(p.attributes())),
            MetricData::Histogram(h) => h.data_points().any(|p| marked(p.attributes())),
            MetricData::ExponentialHistogram(h) => h.data_points().any(|p| marked(p.attributes())),
        }
    }
    let mut names: Vec<String> = metrics
        .scope_metrics()
        .flat_map(|scope| scope.metrics())
        .filter(|metric| match metric.data() {
            AggregatedMetrics::F64(d) => overflowed(d),
            AggregatedMetrics::U64(d) => overflowed(d),
            AggregatedMetrics::I64(d) => overflowed(d),
        })
        .map(|metric| metric.name().to_owned())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The packer of [`encode`]: one resource, and each metric encoded as it is placed.
struct BytesPacker {
    limit: usize,
    /// The resource entry without its scopes, encoded.
    resource: Bytes,
    done: Vec<EncodedRequest>,
    /// The scopes of the current request: each one's entry without its metrics, encoded, its
    /// metrics as encoded fields, and their length.
    scopes: Vec<(Bytes, Vec<Bytes>, usize)>,
    /// An upper bound of the current request's encoded length.
    used: usize,
    /// The scope (index in the export) of the last metric placed.
    open: Option<usize>,
}

impl BytesPacker {
    fn new(limit: usize, resource: Vec<u8>) -> Self {
        Self {
            limit,
            resource: Bytes::from(resource),
            done: Vec::new(),
            scopes: Vec::new(),
            used: 0,
            open: None,
        }
    }

    fn place(&mut self, rm_head: usize, (s, shell): (usize, &Bytes), metric: Metric) {
        let metric_len = metric.encoded_len();
        let cost = |open: Option<usize>| {
            let resource = if open.is_some() {
                0
            } else {
                FIELD_HEADER_MAX + rm_head
            };
            let scope = if open == Some(s) {
                0
            } else {
                FIELD_HEADER_MAX + shell.len()
            };
            resource + scope + field_len(metric_len)
        };
        if self.open.is_some() && self.used + cost(self.open) > self.limit {
            self.flush();
        }
        self.used += cost(self.open);
        if self.open != Some(s) {
            self.scopes.push((shell.clone(), Vec::new(), 0));
        }
        if let Some((_, fields, len)) = self.scopes.last_mut() {
            // `ScopeMetrics.metrics` is field 2.
            let mut field = Vec::with_capacity(field_len(metric_len));
            encode_key(2, WireType::LengthDelimited, &mut field);
            encode_varint(metric_len as u64, &mut field);
            metric.encode_raw(&mut field);
            *len += field.len();
            fields.push(Bytes::from(field));
        }
        self.open = Some(s);
    }

    /// Closes the current request: `ExportMetricsServiceRequest.resource_metrics` (field 1)
    /// holding the resource entry and its `scope_metrics` (field 2), each holding its scope
    /// entry and its metrics.
    fn flush(&mut self) {
        let scopes = std::mem::take(&mut self.scopes);
        let scope_len = |shell: &Bytes, len: usize| shell.len() + len;
        let resource_len = self.resource.len()
            + scopes
                .iter()
                .map(|(shell, _, len)| field_len(scope_len(shell, *len)))
                .sum::<usize>();
        let header = |field: u32, len: usize| {
            let mut out = Vec::with_capacity(FIELD_HEADER_MAX);
            encode_key(field, WireType::LengthDelimited, &mut out);
            encode_varint(len as u64, &mut out);
            out
        };
        let mut request = EncodedRequest::default();
        request.push(header(1, resource_len));
        request.push(self.resource.clone());
        for (shell, fields, len) in scopes {
            request.push(header(2, scope_len(&shell, len)));
            request.push(shell);
            for field in fields {
                request.push(field);
            }
        }
        self.done.push(request);
        self.used = 0;
        self.open = None;
    }

    fn finish(mut self) -> Vec<EncodedRequest> {
        if self.open.is_some() {
            self.flush();
        }
        self.done
    }
}

/// Cuts a metric whose encoding exceeds `budget` into metrics with the same name, description,
/// unit and kind, each holding a run of the data points and encoding to at most `budget`
/// bytes (unless a single point is larger).
fn cut_metric(mut metric: Metric, budget: usize) -> Vec<Metric> {
    if metric.encoded_len() <= budget {
        return vec![metric];
    }
    let Some(data) = metric.data.take() else {
        return vec![metric];
    };
    // The metric without points; its `data` length may grow from one byte to five.
    let shell = metric.encoded_len() + FIELD_HEADER_MAX;
    let points_budget = budget.saturating_sub(shell);
    macro_rules! cut {
        ($variant:ident, $value:expr) => {{
            let mut value = $value;
            let points = std::mem::take(&mut value.data_points);
            chunks(points, points_budget)
                .into_iter()
                .map(|data_points| {
                    let mut part = value.clone();
                    part.data_points = data_points;
                    Data::$variant(part)
                })
                .collect::<Vec<Data>>()
        }};
    }
    let parts = match data {
        Data::Gauge(v) => cut!(Gauge, v),
        Data::Sum(v) => cut!(Sum, v),
        Data::Histogram(v) => cut!(Histogram, v),
        Data::ExponentialHistogram(v) => cut!(ExponentialHistogram, v),
        Data::Summary(v) => cut!(Summary, v),
    };
    parts
        .into_iter()
        .map(|data| Metric {
            data: Some(data),
            ..metric.clone()
        })
        .collect()
}

/// Consecutive runs of `points`, each costing at most `budget` bytes as repeated fields (a
/// point larger than that makes a run of its own).
fn chunks<P: Message>(points: Vec<P>, budget: usize) -> Vec<Vec<P>> {
    let mut out = Vec::new();
    let mut run = Vec::new();
    let mut used = 0;
    for point in points {
        let cost = field_len(point.encoded_len());
        if !run.is_empty() && used + cost > budget {
            out.push(std::mem::take(&mut run));
            used = 0;
        }
        used += cost;
        run.push(point);
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

/// The value of the string attribute `key`, if any.
fn string_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// Removes the data points of `metric` that `wanted` refuses. Returns whether the metric is
/// kept (it has points left, or had none to begin with) and the number of points removed.
fn retain_points(metric: &mut Metric, wanted: impl Fn(&[KeyValue]) -> bool) -> (bool, usize) {
    macro_rules! retain {
        ($points:expr) => {{
            let before = $points.len();
            $points.retain(|p| wanted(&p.attributes));
            (!$points.is_empty() || before == 0, before - $points.len())
        }};
    }
    match &mut metric.data {
        Some(Data::Gauge(v)) => retain!(v.data_points),
        Some(Data::Sum(v)) => retain!(v.data_points),
        Some(Data::Histogram(v)) => retain!(v.data_points),
        Some(Data::ExponentialHistogram(v)) => retain!(v.data_points),
        Some(Data::Summary(v)) => retain!(v.data_points),
        None => (true, 0),
    }
}

#[cfg(test)]
pub(crate) mod reference;
