//! `traces`, `logging` and `service`: the agent's own traces, its log output and its identity.
//! Their keys and rules: the sampling ratio, the log filter and format.

use crate::config::declare::section;
use crate::config::raw::{Scalar, Section};
use crate::config::validate::{Validator, scalar};
use std::collections::BTreeMap;

use crate::config::option_types::{LogFormat, TraceSampler};

section! {
    /// Traces of the agent's own work.
    #[derive(Debug, Clone, PartialEq)]
    pub struct TracesConfig {
        /// Export spans over OTLP.
        enabled: bool = false, parse scalar::boolean;
        /// Print the spans to standard output instead of sending them, for debugging (`OTEL_TRACES_EXPORTER=console`).
        console: bool = false, parse scalar::boolean;
        /// The sampler: always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio.
        sampler: TraceSampler = TraceSampler::ParentBasedTraceIdRatio,
            parse |v, f, x| v.choice(f, x, &SAMPLERS);
        /// Fraction of traces sampled by the ratio samplers (0.0..=1.0).
        sampling_ratio: f64 = 1.0, parse sampling_ratio;
        /// The propagators of the trace context sent to NetBackup, comma-separated: tracecontext, baggage, or none.
        propagators: String = "tracecontext".to_owned(), parse propagators;
    }
    raw RawTraces, patch TracesPatch;
}

section! {
    /// Log output settings.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LoggingConfig {
        /// A `tracing` filter such as `info` or `nbu_otel=debug`; `RUST_LOG` wins when set.
        level: String = "info".to_owned(), parse log_level;
        /// Text or JSON.
        format: LogFormat = LogFormat::Text,
            parse |v, f, x| v.choice(f, x, &LOG_FORMATS);
        /// Also send the agent's own log lines as OTLP log records (to the logs signal's endpoint, as `logging.level` filters them).
        otlp: bool = false, parse scalar::boolean;
    }
    raw RawLogging, patch LoggingPatch;
}

section! {
    /// Identity of this agent in the OpenTelemetry resource.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ServiceConfig {
        /// `service.name`.
        name: String = "nbu-otel".to_owned(), parse name;
        /// `service.instance.id`; unset = the host name (stable across restarts).
        instance_id: Option<String> = None, parse instance_id;
        /// More resource attributes (`deployment.environment.name: prod`); `OTEL_RESOURCE_ATTRIBUTES` adds to them and wins.
        resource_attributes: Vec<(String, String)> = Vec::new(), parse resource_attributes,
            from Section<BTreeMap<String, Scalar>>;
    }
    raw RawService, patch ServicePatch;
}

/// The values of `logging.format`.
pub(in crate::config) const LOG_FORMATS: [(&str, LogFormat); 2] =
    [("text", LogFormat::Text), ("json", LogFormat::Json)];

/// The values of `traces.sampler`, as `OTEL_TRACES_SAMPLER` names them.
pub(in crate::config) const SAMPLERS: [(&str, TraceSampler); 6] = [
    ("always_on", TraceSampler::AlwaysOn),
    ("always_off", TraceSampler::AlwaysOff),
    ("traceidratio", TraceSampler::TraceIdRatio),
    ("parentbased_always_on", TraceSampler::ParentBasedAlwaysOn),
    ("parentbased_always_off", TraceSampler::ParentBasedAlwaysOff),
    (
        "parentbased_traceidratio",
        TraceSampler::ParentBasedTraceIdRatio,
    ),
];

/// The propagators the agent has, as `OTEL_PROPAGATORS` names them.
pub const PROPAGATORS: [&str; 3] = ["tracecontext", "baggage", "none"];

/// `traces.propagators`: names of [`PROPAGATORS`], comma-separated; `none` alone.
pub(in crate::config) fn propagators(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<String> {
    let text = v.optional_text(field, value)?;
    let names: Vec<String> = text
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    if let Some(unknown) = names.iter().find(|n| !PROPAGATORS.contains(&n.as_str())) {
        v.err(
            field,
            format!(
                "unknown propagator {unknown:?}: nbu-otel has tracecontext, baggage and none \
                 (b3, jaeger and xray are not supported)"
            ),
        );
        return None;
    }
    if names.len() > 1 && names.iter().any(|n| n == "none") {
        v.err(field, "none cannot be combined with other propagators");
        return None;
    }
    if names.is_empty() {
        v.err(field, "name at least one propagator, or none");
        return None;
    }
    Some(names.join(","))
}

/// `service.resource_attributes`: attribute keys and text values, none empty.
pub(in crate::config) fn resource_attributes(
    v: &mut Validator<'_>,
    path: &str,
    raw: Option<Section<BTreeMap<String, Scalar>>>,
) -> Option<Vec<(String, String)>> {
    let before = v.error_count();
    let raw = v.section(path, raw)?;
    let mut out = Vec::new();
    for (key, value) in raw {
        let field = format!("{path}.{key}");
        if key.trim().is_empty() {
            v.err(&field, "an attribute key is empty");
            continue;
        }
        match v.text(&field, Some(value)) {
            Some(text) if !text.is_empty() => out.push((key.trim().to_owned(), text)),
            _ => {
                if !v.has_error(&field) {
                    v.err(&field, "the attribute value is missing");
                }
            }
        }
    }
    (v.error_count() == before).then_some(out)
}

/// `traces.sampling_ratio`: a number from 0 to 1.
pub(in crate::config) fn sampling_ratio(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<f64> {
    let ratio = v.number(field, value)?;
    if (0.0..=1.0).contains(&ratio) {
        Some(ratio)
    } else {
        v.err(field, format!("must be between 0 and 1, got {ratio}"));
        None
    }
}

/// `logging.level`: a `tracing` filter (see [`check_log_filter`]).
pub(in crate::config) fn log_level(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<String> {
    let level = v.optional_text(field, value)?;
    if let Err(message) = check_log_filter(&level) {
        v.err(field, message);
    }
    Some(level)
}

/// `service.name`: not empty when given.
pub(in crate::config) fn name(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<String> {
    value.and_then(|value| v.required_text(field, Some(value)))
}

/// `service.instance_id`: any text; empty means unset.
pub(in crate::config) fn instance_id(
    v: &mut Validator<'_>,
    field: &str,
    value: Option<Scalar>,
) -> Option<Option<String>> {
    v.optional_text(field, value).map(Some)
}

/// A `tracing` filter: valid syntax, and bare words must be level names (a bare word is legal
/// filter syntax for "this target", but here it is nearly always a misspelt level).
fn check_log_filter(filter: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let bare = !directive.contains(['=', '[', ':']);
        if bare && !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(directive)) {
            return Err(format!(
                "unknown level {directive:?}: use trace, debug, info, warn, error or off, or \
                 target=level directives such as \"info,nbu_otel=debug\""
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(drop)
        .map_err(|e| format!("invalid log filter {filter:?}: {e}"))
}

impl Validator<'_> {
    /// A section whose keys have no rules between them: absent is the default, and any
    /// problem leaves it out.
    pub(in crate::config) fn plain_section<R, T: Default>(
        &mut self,
        path: &str,
        raw: Option<Section<R>>,
        read: impl FnOnce(&mut Self, &mut R) -> T,
    ) -> Option<T> {
        let before = self.error_count();
        let Some(mut raw) = self.section(path, raw) else {
            return (self.error_count() == before).then(T::default);
        };
        let value = read(self, &mut raw);
        (self.error_count() == before).then_some(value)
    }

    /// The `traces` section.
    pub(in crate::config) fn traces(
        &mut self,
        raw: Option<Section<RawTraces>>,
    ) -> Option<TracesConfig> {
        self.plain_section("traces", raw, |v, raw| {
            TracesPatch::read(v, "traces", raw).apply(&TracesConfig::default())
        })
    }

    /// The `logging` section.
    pub(in crate::config) fn logging(
        &mut self,
        raw: Option<Section<RawLogging>>,
    ) -> Option<LoggingConfig> {
        self.plain_section("logging", raw, |v, raw| {
            LoggingPatch::read(v, "logging", raw).apply(&LoggingConfig::default())
        })
    }

    /// The `service` section.
    pub(in crate::config) fn service(
        &mut self,
        raw: Option<Section<RawService>>,
    ) -> Option<ServiceConfig> {
        self.plain_section("service", raw, |v, raw| {
            ServicePatch::read(v, "service", raw).apply(&ServiceConfig::default())
        })
    }
}
