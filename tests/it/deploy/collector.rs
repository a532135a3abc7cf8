//! The job events' path and the Collector: Loki rules that read job events, the Collector's
//! logs pipeline, and the names the Collector gives every metric.

use std::collections::BTreeSet;

use nbu_otel::telemetry::catalog::{CATALOG, Kind};
use serde_json::Value;

use super::{LOKI_RULES, alerts, yaml};

#[test]
fn the_loki_rules_read_job_events_per_site_and_are_not_prometheus_alerts() {
    let rules = yaml(LOKI_RULES);
    let prometheus: BTreeSet<String> = alerts().into_iter().map(|(name, _)| name).collect();
    let mut seen = BTreeSet::new();
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["alert"].as_str().unwrap();
            let expr = rule["expr"].as_str().unwrap();
            assert!(seen.insert(name.to_owned()), "{name} twice");
            assert!(
                !prometheus.contains(name),
                "{name} is a Prometheus alert too"
            );
            if let Err(e) = crate::dashboards::check_job_events_query(expr) {
                panic!("{LOKI_RULES}: {name}: {e}: {expr}");
            }
            // Every alert carries the site it is about, as the Prometheus rules do.
            assert!(expr.contains("by (site"), "{name}: not per site: {expr}");
            assert!(rule["labels"]["severity"].is_string(), "{name}");
            for annotation in ["summary", "description"] {
                assert!(rule["annotations"][annotation].is_string(), "{name}");
            }
        }
    }
    assert!(seen.len() >= 2, "{seen:?}");
}

#[test]
fn the_collector_config_sends_job_events_through_a_logs_pipeline() {
    let config = yaml("otel-collector.yaml");
    let pipeline = &config["service"]["pipelines"]["logs"];
    let names = |key: &str| -> Vec<String> {
        pipeline[key]
            .as_array()
            .unwrap_or_else(|| panic!("the logs pipeline has no {key}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(names("receivers").contains(&"otlp".to_owned()));
    // memory_limiter first, as in the other pipelines.
    assert_eq!(
        names("processors").first().map(String::as_str),
        Some("memory_limiter")
    );
    let exporters = names("exporters");
    assert!(
        exporters.iter().any(|e| e != "debug"),
        "the logs pipeline only logs: {exporters:?}"
    );
    for exporter in &exporters {
        assert!(
            config["exporters"][exporter].is_object(),
            "{exporter} is not defined"
        );
    }
    let loki = &config["exporters"]["otlphttp/logs"]["endpoint"];
    assert!(
        loki.as_str().is_some_and(|e| e.contains("LOGS_ENDPOINT")),
        "{loki}"
    );
}

/// The Prometheus name an OpenTelemetry Collector's `prometheus` exporter gives an OTLP metric,
/// written from the rules of its name translator (`otlptranslator`, `normalizeName` when
/// `add_metric_suffixes` is on, the plain escaping when it is off), not from the agent's code:
/// the name is cut into tokens at every character outside `[a-zA-Z0-9:]`; the unit's word
/// (`s` seconds, `By` bytes, none for `1`, for an empty unit or for an annotation in braces)
/// is added unless a token already is that word; a monotonic sum loses any `total` token and
/// ends in `total`; a gauge of unit `1` loses any `ratio` token and ends in `ratio`.
fn collector_name(name: &str, unit: &str, kind: Kind, suffixes: bool) -> String {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == ':';
    if !suffixes {
        return name
            .split(|c: char| !valid(c) && c != '_')
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("_");
    }
    let mut tokens: Vec<String> = name
        .split(|c: char| !valid(c))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    assert!(
        !unit.contains('/'),
        "{name}: per-units are not modelled here"
    );
    let word = match unit.trim() {
        u if u.is_empty() || u.contains(['{', '}']) => "",
        "1" => "",
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        "%" => "percent",
        other => panic!("{name}: unit {other} is not modelled here"),
    };
    if !word.is_empty() && !tokens.iter().any(|t| t == word) {
        tokens.push(word.to_owned());
    }
    let mut suffix = |word: &str| {
        tokens.retain(|t| t != word);
        tokens.push(word.to_owned());
    };
    match kind {
        Kind::Counter => suffix("total"),
        Kind::Gauge if unit == "1" => suffix("ratio"),
        _ => {}
    }
    tokens.join("_")
}

#[test]
fn the_collector_config_exposes_every_metric_under_the_bridge_name() {
    let config = yaml("otel-collector.yaml");
    let exporter = &config["exporters"]["prometheus"];
    assert!(
        exporter.is_object(),
        "otel-collector.yaml has a prometheus exporter"
    );
    // The exporter's default is to add the suffixes.
    let suffixes = exporter["add_metric_suffixes"].as_bool().unwrap_or(true);
    let pipeline = &config["service"]["pipelines"]["metrics"];
    let exporters: Vec<&str> = pipeline["exporters"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        exporters.contains(&"prometheus"),
        "the metrics pipeline ends in the prometheus exporter"
    );
    let differ: Vec<String> = CATALOG
        .iter()
        .filter_map(|m| {
            let through = collector_name(m.name, m.unit, m.kind, suffixes);
            (through != m.prometheus_name()).then(|| {
                format!(
                    "{} [{}]: bridge {}, Collector {through}",
                    m.name,
                    m.unit,
                    m.prometheus_name()
                )
            })
        })
        .collect();
    assert!(
        differ.is_empty(),
        "names that differ through the Collector: {differ:#?}"
    );
}

#[test]
fn the_collector_naming_rules_match_known_translations() {
    // Examples given by the translator's own documentation and tests.
    assert_eq!(
        collector_name("http.server.request.duration", "s", Kind::Histogram, true),
        "http_server_request_duration_seconds"
    );
    assert_eq!(
        collector_name("requests.count", "1", Kind::Counter, true),
        "requests_count_total"
    );
    assert_eq!(
        collector_name("memory.usage", "By", Kind::Gauge, true),
        "memory_usage_bytes"
    );
    assert_eq!(
        collector_name("cpu.utilization", "1", Kind::Gauge, true),
        "cpu_utilization_ratio"
    );
    assert_eq!(
        collector_name("system.processes.count", "{process}", Kind::Gauge, true),
        "system_processes_count"
    );
    assert_eq!(
        collector_name("nbu.api.requests", "{request}", Kind::Counter, false),
        "nbu_api_requests"
    );
}
