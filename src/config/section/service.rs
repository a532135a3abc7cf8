//! `traces`, `logging` and `service`: the agent's own traces, its log output and its identity.
//! Their keys and rules: the sampling ratio, the log filter and format.

use crate::config::declare::section;
use crate::config::raw::{Scalar, Section};
use crate::config::validate::{Validator, scalar};
use crate::config::values::LogFormat;

section! {
    /// Traces of the agent's own work.
    #[derive(Debug, Clone, PartialEq)]
    pub struct TracesConfig {
        /// Export spans over OTLP.
        enabled: bool = false, parse scalar::boolean;
        /// Fraction of root traces sampled (0.0..=1.0); children follow their parent.
        sampling_ratio: f64 = 1.0, parse sampling_ratio;
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
    }
    raw RawService, patch ServicePatch;
}

/// The values of `logging.format`.
const LOG_FORMATS: [(&str, LogFormat); 2] = [("text", LogFormat::Text), ("json", LogFormat::Json)];

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
