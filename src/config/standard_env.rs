//! The standard OpenTelemetry variables ([`STANDARD_ENV`]), applied to the merged tree of the
//! file and the `NBU_OTEL_` overrides before validation: each sets its option, so the value is
//! validated as the option's (an error names the variable) and a reload compares it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::error::FieldError;

/// How the value of a [`StandardVar`] is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandardForm {
    /// As the option's own value.
    Value,
    /// A whole number of milliseconds (the option is a duration).
    Milliseconds,
    /// `name=value` pairs separated by commas, values percent-encoded: one header each. A pair
    /// that is not `name=value` is skipped.
    Headers,
    /// `key=value` pairs separated by commas, values percent-encoded: one resource attribute
    /// each. A pair that is not `key=value` makes the whole variable an error.
    Attributes,
    /// An exporter name: `otlp` or `console` turns the option on, `none` off.
    Exporter,
    /// An exporter name: `console` turns the option on, `otlp` or `none` off.
    ConsoleExporter,
    /// An exporter name of the logs signal: `otlp` turns the option on; `none` and `console`
    /// off (the agent's lines are on standard error anyway).
    LogsExporter,
    /// `true` turns the option off; `false` leaves it.
    SdkDisabled,
    /// An OTLP protocol: `grpc` or `http/protobuf`; `http/json` is refused.
    Protocol,
}

/// A standard OpenTelemetry variable that sets an option. It is read when the configuration
/// is loaded (and reloaded), and its value validated as the option's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandardVar {
    /// The variable.
    pub name: &'static str,
    /// The option it sets, as [`options`](super::schema::options) names it.
    pub path: &'static str,
    /// How its value is written.
    pub form: StandardForm,
}

const fn var(name: &'static str, path: &'static str, form: StandardForm) -> StandardVar {
    StandardVar { name, path, form }
}

use StandardForm::{
    Attributes, ConsoleExporter, Exporter, Headers, LogsExporter, Milliseconds, Protocol,
    SdkDisabled, Value as Plain,
};

/// The standard OpenTelemetry variables the agent reads, in order of precedence. Each wins
/// over the file and over the `NBU_OTEL_` override of its option; where two set one option,
/// the first one set is used (`OTEL_SDK_DISABLED` before `OTEL_METRICS_EXPORTER`). A
/// signal's own variable (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) sets that signal's option
/// (`otlp.traces.endpoint`), which wins over the generic one for that signal, as the
/// specification says. An empty variable is unset. Headers and resource attributes are merged
/// with the file's, the variable winning for a repeated name.
pub const STANDARD_ENV: [StandardVar; 48] = [
    var("OTEL_SDK_DISABLED", "otlp.enabled", SdkDisabled),
    var("OTEL_METRICS_EXPORTER", "otlp.enabled", Exporter),
    var("OTEL_METRICS_EXPORTER", "otlp.console", ConsoleExporter),
    var("OTEL_SDK_DISABLED", "traces.enabled", SdkDisabled),
    var("OTEL_TRACES_EXPORTER", "traces.enabled", Exporter),
    var("OTEL_TRACES_EXPORTER", "traces.console", ConsoleExporter),
    var("OTEL_SDK_DISABLED", "events.enabled", SdkDisabled),
    var("OTEL_SDK_DISABLED", "logging.otlp", SdkDisabled),
    var("OTEL_LOGS_EXPORTER", "logging.otlp", LogsExporter),
    var("OTEL_EXPORTER_OTLP_ENDPOINT", "otlp.endpoint", Plain),
    var("OTEL_EXPORTER_OTLP_PROTOCOL", "otlp.protocol", Protocol),
    var("OTEL_EXPORTER_OTLP_HEADERS", "otlp.headers.<name>", Headers),
    var("OTEL_EXPORTER_OTLP_TIMEOUT", "otlp.timeout", Milliseconds),
    var("OTEL_EXPORTER_OTLP_COMPRESSION", "otlp.compression", Plain),
    var("OTEL_EXPORTER_OTLP_CERTIFICATE", "otlp.ca_file", Plain),
    var(
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
        "otlp.client_cert_file",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        "otlp.client_key_file",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "otlp.metrics.endpoint",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        "otlp.metrics.protocol",
        Protocol,
    ),
    var(
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        "otlp.metrics.headers.<name>",
        Headers,
    ),
    var(
        "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
        "otlp.metrics.timeout",
        Milliseconds,
    ),
    var(
        "OTEL_METRIC_EXPORT_TIMEOUT",
        "otlp.metrics.timeout",
        Milliseconds,
    ),
    var(
        "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
        "otlp.metrics.compression",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
        "otlp.metrics.ca_file",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
        "otlp.metrics.client_cert_file",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
        "otlp.metrics.client_key_file",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "otlp.traces.endpoint",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "otlp.traces.protocol",
        Protocol,
    ),
    var(
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "otlp.traces.headers.<name>",
        Headers,
    ),
    var(
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "otlp.traces.timeout",
        Milliseconds,
    ),
    var(
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "otlp.traces.compression",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        "otlp.traces.ca_file",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
        "otlp.traces.client_cert_file",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
        "otlp.traces.client_key_file",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "otlp.logs.endpoint",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
        "otlp.logs.protocol",
        Protocol,
    ),
    var(
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
        "otlp.logs.headers.<name>",
        Headers,
    ),
    var(
        "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
        "otlp.logs.timeout",
        Milliseconds,
    ),
    var(
        "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
        "otlp.logs.compression",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
        "otlp.logs.ca_file",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
        "otlp.logs.client_cert_file",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
        "otlp.logs.client_key_file",
        Plain,
    ),
    var(
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "otlp.temporality",
        Plain,
    ),
    var(
        "OTEL_METRIC_EXPORT_INTERVAL",
        "otlp.export_interval",
        Milliseconds,
    ),
    var("OTEL_TRACES_SAMPLER", "traces.sampler", Plain),
    var("OTEL_TRACES_SAMPLER_ARG", "traces.sampling_ratio", Plain),
    var("OTEL_PROPAGATORS", "traces.propagators", Plain),
    var("OTEL_SERVICE_NAME", "service.name", Plain),
];

/// `OTEL_RESOURCE_ATTRIBUTES`: applied to `service.resource_attributes`, after
/// [`STANDARD_ENV`]. A `service.name` in it gives way to `OTEL_SERVICE_NAME`.
pub const RESOURCE_ATTRIBUTES: StandardVar = var(
    "OTEL_RESOURCE_ATTRIBUTES",
    "service.resource_attributes.<name>",
    Attributes,
);

/// Standard variables the agent does not read, each with what to use instead. A test holds
/// the README's table of variables to this list and [`STANDARD_ENV`].
pub const UNSUPPORTED_ENV: [(&str, &str); 9] = [
    ("OTEL_LOG_LEVEL", "`logging.level` or `RUST_LOG`"),
    (
        "OTEL_EXPORTER_OTLP_INSECURE",
        "the endpoint's scheme: `http://` is plaintext, `https://` is TLS",
    ),
    (
        "OTEL_BSP_*",
        "the span batch processor keeps the SDK's defaults",
    ),
    (
        "OTEL_BLRP_*",
        "job events are batched by `events.max_batch` and `events.export_interval`",
    ),
    ("OTEL_ATTRIBUTE_*_LIMIT", "the SDK's defaults"),
    (
        "OTEL_METRICS_EXEMPLAR_FILTER",
        "the agent records no exemplars",
    ),
    ("OTEL_EXPORTER_PROMETHEUS_HOST, _PORT", "`server.listen`"),
    (
        "OTEL_EXPORTER_ZIPKIN_*, OTEL_EXPORTER_JAEGER_*",
        "OTLP only: Jaeger and Zipkin take OTLP",
    ),
    ("OTEL_CONFIG_FILE", "the agent's own file (`--config`)"),
];

/// Applies every standard variable that is set (not empty) to `tree`, recording in `paths`
/// the variable that set each option; a value that cannot be read is reported in `errors`.
pub(super) fn apply(
    tree: &mut Value,
    env: &HashMap<String, String>,
    paths: &mut BTreeMap<String, String>,
    errors: &mut Vec<FieldError>,
) {
    let mut set: BTreeSet<&str> = BTreeSet::new();
    for var in STANDARD_ENV.iter().chain([&RESOURCE_ATTRIBUTES]) {
        if set.contains(var.path) {
            continue;
        }
        let Some(value) = env
            .get(var.name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        else {
            continue;
        };
        let mut segments: Vec<&str> = var.path.split('.').collect();
        let map_of_names = segments.last() == Some(&"<name>");
        if map_of_names {
            segments.pop();
        }
        let Some((key, parents)) = segments.split_last() else {
            continue;
        };
        let text = match var.form {
            Plain => value.to_owned(),
            Milliseconds => match value.parse::<u64>() {
                Ok(ms) if ms > 0 => format!("{ms}ms"),
                _ => {
                    errors.push(FieldError::new(
                        var.name,
                        format!("must be a positive whole number of milliseconds, got {value:?}"),
                    ));
                    continue;
                }
            },
            Exporter | ConsoleExporter | LogsExporter => {
                let on = match (var.form, value.to_ascii_lowercase().as_str()) {
                    (Exporter, "otlp" | "console") | (ConsoleExporter, "console") => true,
                    (LogsExporter, "otlp") => true,
                    (_, "otlp" | "none" | "console") => false,
                    (_, other) => {
                        errors.push(FieldError::new(
                            var.name,
                            format!(
                                "{other:?} is not an exporter of nbu-otel: use otlp, console or none"
                            ),
                        ));
                        continue;
                    }
                };
                on.to_string()
            }
            SdkDisabled => match value.to_ascii_lowercase().as_str() {
                "true" => "false".to_owned(),
                "false" => continue,
                other => {
                    errors.push(FieldError::new(
                        var.name,
                        format!("must be true or false, got {other:?}"),
                    ));
                    continue;
                }
            },
            Protocol => match value.to_ascii_lowercase().as_str() {
                "http/json" => {
                    errors.push(FieldError::new(
                        var.name,
                        "http/json is not supported: use http/protobuf or grpc",
                    ));
                    continue;
                }
                other => other.to_owned(),
            },
            Headers | Attributes => {
                let pairs = match (var.form, pairs(value)) {
                    (Headers, Ok(pairs) | Err(pairs)) => pairs,
                    (_, Ok(pairs)) => pairs,
                    (_, Err(_)) => {
                        errors.push(FieldError::new(
                            var.name,
                            "must be key=value pairs separated by commas, values \
                             percent-encoded (a pair without `=`, without a key, or whose \
                             value does not decode)",
                        ));
                        continue;
                    }
                };
                set.insert(var.path);
                let lowercase = var.form == Headers;
                add_pairs(tree, &segments, pairs, lowercase, var.name, paths);
                continue;
            }
        };
        set.insert(var.path);
        if let Some(table) = table_at(tree, parents) {
            table.insert((*key).to_owned(), Value::String(text));
            paths.insert(segments.join("."), var.name.to_owned());
        }
    }
    // `OTEL_SERVICE_NAME` wins over a `service.name` of `OTEL_RESOURCE_ATTRIBUTES`.
    if paths.get("service.name").map(String::as_str) == Some("OTEL_SERVICE_NAME")
        && let Some(attributes) = table_at(tree, &["service", "resource_attributes"])
    {
        attributes.remove("service.name");
    }
}

/// The table at `path` in `tree` (made where missing); `None` when the file gives one of
/// them as something else than a table (validation reports it).
fn table_at<'a>(tree: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut here = tree;
    for name in path {
        let next = here
            .as_object_mut()?
            .entry(*name)
            .or_insert_with(|| Value::Object(Map::new()));
        if next.is_null() {
            *next = Value::Object(Map::new());
        }
        here = next;
    }
    here.as_object_mut()
}

/// Adds `pairs` to the map at `path`, each recorded in `paths` as set by `var`.
fn add_pairs(
    tree: &mut Value,
    path: &[&str],
    pairs: Vec<(String, String)>,
    lowercase: bool,
    var: &str,
    paths: &mut BTreeMap<String, String>,
) {
    let Some(map) = table_at(tree, path) else {
        return;
    };
    for (name, value) in pairs {
        let name = if lowercase {
            name.to_ascii_lowercase()
        } else {
            name
        };
        paths.insert(format!("{}.{name}", path.join(".")), var.to_owned());
        map.insert(name, Value::String(value));
    }
}

/// `name=value` pairs, decoded.
type Pairs = Vec<(String, String)>;

/// The `name=value` pairs of a variable such as `OTEL_EXPORTER_OTLP_HEADERS`, values
/// percent-decoded: `Ok` with every pair, or `Err` with the good ones when a pair has no `=`,
/// no name, or a value that does not decode.
fn pairs(text: &str) -> Result<Pairs, Pairs> {
    let mut good = Vec::new();
    let mut bad = false;
    for pair in text.split_terminator(',') {
        if pair.trim().is_empty() {
            continue;
        }
        let decoded = pair.trim().split_once('=').and_then(|(name, value)| {
            let value = percent_encoding::percent_decode_str(value.trim())
                .decode_utf8()
                .ok()?;
            let name = name.trim();
            (!name.is_empty()).then(|| (name.to_owned(), value.into_owned()))
        });
        match decoded {
            Some(pair) => good.push(pair),
            None => bad = true,
        }
    }
    if bad { Err(good) } else { Ok(good) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_headers_are_pairs_with_percent_decoded_values() {
        assert_eq!(
            pairs(" x-tenant = a%20b ,authorization=Bearer%3Dx,,=nameless,novalue"),
            Err(vec![
                ("x-tenant".to_owned(), "a b".to_owned()),
                ("authorization".to_owned(), "Bearer=x".to_owned()),
            ])
        );
        assert_eq!(
            pairs("service.name=a%2Cb,app.service.name=x"),
            Ok(vec![
                ("service.name".to_owned(), "a,b".to_owned()),
                ("app.service.name".to_owned(), "x".to_owned()),
            ])
        );
    }
}
