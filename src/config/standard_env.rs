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
    /// `name=value` pairs separated by commas, values percent-encoded: one header each.
    Headers,
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

/// The standard OpenTelemetry variables the agent reads. Each wins over the file and over the
/// `NBU_OTEL_` override of its option; where two set one option, the first one set is used
/// (`OTEL_EXPORTER_OTLP_METRICS_HEADERS` before `OTEL_EXPORTER_OTLP_HEADERS`). An empty
/// variable is unset. Headers are merged with `otlp.headers`, the variable winning for a
/// repeated name; a pair that is not `name=value` is skipped.
pub const STANDARD_ENV: [StandardVar; 5] = [
    StandardVar {
        name: "OTEL_EXPORTER_OTLP_ENDPOINT",
        path: "otlp.endpoint",
        form: StandardForm::Value,
    },
    StandardVar {
        name: "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        path: "otlp.headers.<name>",
        form: StandardForm::Headers,
    },
    StandardVar {
        name: "OTEL_EXPORTER_OTLP_HEADERS",
        path: "otlp.headers.<name>",
        form: StandardForm::Headers,
    },
    StandardVar {
        name: "OTEL_METRIC_EXPORT_INTERVAL",
        path: "otlp.export_interval",
        form: StandardForm::Milliseconds,
    },
    StandardVar {
        name: "OTEL_SERVICE_NAME",
        path: "service.name",
        form: StandardForm::Value,
    },
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
    for var in &STANDARD_ENV {
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
        set.insert(var.path);
        let mut segments = var.path.splitn(3, '.');
        let (Some(section), Some(key)) = (segments.next(), segments.next()) else {
            continue;
        };
        let option = format!("{section}.{key}");
        let text = match var.form {
            StandardForm::Value => value.to_owned(),
            StandardForm::Milliseconds => match value.parse::<u64>() {
                Ok(ms) if ms > 0 => format!("{ms}ms"),
                _ => {
                    errors.push(FieldError::new(
                        var.name,
                        format!("must be a positive whole number of milliseconds, got {value:?}"),
                    ));
                    continue;
                }
            },
            StandardForm::Headers => {
                add_headers(tree, section, key, value, var.name, paths);
                continue;
            }
        };
        if let Some(section) = section_of(tree, section) {
            section.insert(key.to_owned(), Value::String(text));
            paths.insert(option, var.name.to_owned());
        }
    }
}

/// Adds the headers of `value` to the map `section.key`, each recorded in `paths` as set by
/// `var`.
fn add_headers(
    tree: &mut Value,
    section: &str,
    key: &str,
    value: &str,
    var: &str,
    paths: &mut BTreeMap<String, String>,
) {
    let Some(table) = section_of(tree, section) else {
        return;
    };
    let map = table
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if map.is_null() {
        *map = Value::Object(Map::new());
    }
    let Some(map) = map.as_object_mut() else {
        return;
    };
    for (name, value) in header_pairs(value) {
        let name = name.to_ascii_lowercase();
        paths.insert(format!("{section}.{key}.{name}"), var.to_owned());
        map.insert(name, Value::String(value));
    }
}

/// The table of the section `name` in `tree`, made when the file has none; `None` when the
/// file gives the section as something else than a table (validation reports it).
fn section_of<'a>(tree: &'a mut Value, name: &str) -> Option<&'a mut Map<String, Value>> {
    let section = tree
        .as_object_mut()?
        .entry(name)
        .or_insert_with(|| Value::Object(Map::new()));
    if section.is_null() {
        *section = Value::Object(Map::new());
    }
    section.as_object_mut()
}

/// The `name=value` pairs of an `OTEL_EXPORTER_OTLP_HEADERS` value, values percent-decoded. A
/// pair without `=` or without a name, or whose value does not decode, is skipped.
fn header_pairs(text: &str) -> Vec<(String, String)> {
    text.split_terminator(',')
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            let value = percent_encoding::percent_decode_str(value.trim())
                .decode_utf8()
                .ok()?;
            Some((name.trim().to_owned(), value.into_owned()))
        })
        .filter(|(name, _)| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_headers_are_pairs_with_percent_decoded_values() {
        assert_eq!(
            header_pairs(" x-tenant = a%20b ,authorization=Bearer%3Dx,,=nameless,novalue"),
            [
                ("x-tenant".to_owned(), "a b".to_owned()),
                ("authorization".to_owned(), "Bearer=x".to_owned()),
            ]
        );
    }
}
