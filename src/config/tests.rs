//! Tests of loading and validation, through the public functions.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::declare::EqWithSecrets as _;
use super::*;

const KEY: &str = "kX9-distinctive-api-key-7Qz";
const TOKEN: &str = "tok-distinctive-header-value-5Wp";

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(yaml: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load_str_with_env(yaml, Path::new("/nonexistent-base"), &env(pairs))
}

fn ok(yaml: &str, pairs: &[(&str, &str)]) -> Config {
    match load(yaml, pairs) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

fn err(yaml: &str, pairs: &[(&str, &str)]) -> ConfigError {
    match load(yaml, pairs) {
        Ok(_) => panic!("expected an error for:\n{yaml}"),
        Err(e) => e,
    }
}

fn site(extra: &str) -> String {
    format!(
        "sites:\n  - name: a\n    url: https://nbu.example.com:1556/netbackup\n    api_key: {KEY}\n{extra}"
    )
}

fn assert_field(e: &ConfigError, field: &str) {
    assert!(
        e.has_field(field),
        "expected an error on {field}, got:\n{e}"
    );
}

#[test]
fn minimal_config_gets_defaults() {
    let config = ok(&site(""), &[]);
    assert_eq!(config.sites.len(), 1);
    let s = &config.sites[0];
    assert_eq!(s.name, "a");
    assert_eq!(s.url.as_str(), "https://nbu.example.com:1556/netbackup");
    assert_eq!(s.api_key.expose_secret(), KEY);
    assert_eq!(s.api_key_file, None);
    assert_eq!(s.api_version, None);
    assert_eq!(s.tls, TlsConfig::default());
    assert_eq!(s.collection, CollectionConfig::default());
    assert_eq!(config.server, ServerConfig::default());
    assert_eq!(config.traces, TracesConfig::default());
    assert_eq!(config.logging, LoggingConfig::default());
    assert_eq!(config.service, ServiceConfig::default());
    assert!(config.otlp.enabled);
    assert_eq!(config.otlp.endpoint.as_str(), "http://localhost:4317/");
    assert_eq!(config.otlp.compression, OtlpCompression::Gzip);
    assert_eq!(config.otlp.max_message_bytes, 4 * 1024 * 1024 - 64 * 1024);
}

#[test]
fn full_config_parses_every_key() {
    let yaml = site(
        r#"    api_version: 13.0
    tls: { insecure_skip_verify: true }
collection:
  jobs_window: 2h 30m
  jobs_interval: 90s
  storage_ttl: 10m
  jobs_page_size: 50
  storage_page_size: 500
  request_timeout: 20s
  max_retries: 0
  max_retry_time: 0s
  requests_per_second: 2.5
  max_concurrent_requests: 8
server: { listen: "[::]:9440", prometheus_bridge: true }
otlp:
  enabled: false
  endpoint: https://otel.example.com:4317
  headers: { Authorization: "Bearer ${TOKEN}", x-tenant: acme }
  timeout: 5s
  export_interval: 30s
  compression: none
  max_message_bytes: 1048576
traces: { enabled: true, sampling_ratio: 0.25 }
logging: { level: "info,nbu_otel=debug", format: json }
service: { name: nbu-otel-eu, instance_id: agent-1 }
"#,
    );
    let config = ok(&yaml, &[("TOKEN", TOKEN)]);
    let s = &config.sites[0];
    assert_eq!(s.api_version, Some(crate::netbackup::ApiVersion::V13_0));
    assert!(s.tls.insecure_skip_verify);
    let c = &s.collection;
    assert_eq!(c.jobs_window, Duration::from_secs(9000));
    assert_eq!(c.jobs_interval, Duration::from_secs(90));
    assert_eq!(c.storage_ttl, Duration::from_secs(600));
    assert_eq!((c.jobs_page_size, c.storage_page_size), (50, 500));
    assert_eq!(c.request_timeout, Duration::from_secs(20));
    assert_eq!((c.max_retries, c.max_retry_time), (0, Duration::ZERO));
    assert_eq!(c.requests_per_second, 2.5);
    assert_eq!(c.max_concurrent_requests, 8);
    assert_eq!(config.server.listen, "[::]:9440".parse().ok());
    assert!(config.server.prometheus_bridge);
    let o = &config.otlp;
    assert!(!o.enabled);
    assert_eq!(o.endpoint.as_str(), "https://otel.example.com:4317/");
    let headers: Vec<(&str, &str)> = o
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.expose_secret()))
        .collect();
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(
        headers,
        [("authorization", bearer.as_str()), ("x-tenant", "acme")]
    );
    assert_eq!(
        (o.timeout, o.export_interval),
        (Duration::from_secs(5), Duration::from_secs(30))
    );
    assert_eq!(o.compression, OtlpCompression::None);
    assert_eq!(o.max_message_bytes, 1024 * 1024);
    assert_eq!(config.traces.sampling_ratio, 0.25);
    assert!(config.traces.enabled);
    assert_eq!(config.logging.level, "info,nbu_otel=debug");
    assert_eq!(config.logging.format, LogFormat::Json);
    assert_eq!(config.service.name, "nbu-otel-eu");
    assert_eq!(config.service.instance_id.as_deref(), Some("agent-1"));
}

#[test]
fn each_invalid_field_is_named() {
    let cases: &[(&str, &str)] = &[
        ("    api_version: \"11.0\"\n", "sites[0].api_version"),
        (
            "    tls: { insecure_skip_verify: maybe }\n",
            "sites[0].tls.insecure_skip_verify",
        ),
        (
            "    tls: { ca_file: missing-ca.pem }\n",
            "sites[0].tls.ca_file",
        ),
        ("    tls: [1]\n", "sites[0].tls"),
        ("    colection: {}\n", "sites[0].colection"),
        (
            "    collection: { storage_ttl: 0s }\n",
            "sites[0].collection.storage_ttl",
        ),
        (
            "collection: { jobs_window: 0s }\n",
            "collection.jobs_window",
        ),
        (
            "collection: { jobs_interval: soon }\n",
            "collection.jobs_interval",
        ),
        (
            "collection: { request_timeout: 30 }\n",
            "collection.request_timeout",
        ),
        (
            "collection: { jobs_page_size: 0 }\n",
            "collection.jobs_page_size",
        ),
        (
            "collection: { storage_page_size: many }\n",
            "collection.storage_page_size",
        ),
        (
            "collection: { max_retries: 11 }\n",
            "collection.max_retries",
        ),
        (
            "collection: { max_retry_time: 0s }\n",
            "collection.max_retry_time",
        ),
        (
            "collection: { requests_per_second: 0 }\n",
            "collection.requests_per_second",
        ),
        (
            "collection: { requests_per_second: NaN }\n",
            "collection.requests_per_second",
        ),
        (
            "collection: { requests_per_second: 1e-30 }\n",
            "collection.requests_per_second",
        ),
        (
            "collection: { requests_per_second: 0.001 }\n",
            "collection.requests_per_second",
        ),
        (
            "collection: { max_concurrent_requests: 65 }\n",
            "collection.max_concurrent_requests",
        ),
        (
            "collection: { jobs_intervall: 1m }\n",
            "collection.jobs_intervall",
        ),
        ("server: { listen: \"localhost\" }\n", "server.listen"),
        (
            "server: { prometheus_bridge: true }\n",
            "server.prometheus_bridge",
        ),
        ("otlp: { endpoint: \"grpc://x:4317\" }\n", "otlp.endpoint"),
        ("otlp: { endpoint: \"not a url\" }\n", "otlp.endpoint"),
        ("otlp: { timeout: 0s }\n", "otlp.timeout"),
        ("otlp: { timeout: 2m }\n", "otlp.timeout"),
        ("otlp: { export_interval: 0s }\n", "otlp.export_interval"),
        ("otlp: { compression: zstd }\n", "otlp.compression"),
        (
            "otlp: { max_message_bytes: 4095 }\n",
            "otlp.max_message_bytes",
        ),
        (
            "otlp: { max_message_bytes: 4MiB }\n",
            "otlp.max_message_bytes",
        ),
        ("otlp: { enabled: 1 }\n", "otlp.enabled"),
        (
            "otlp: { headers: { \"bad header\": x } }\n",
            "otlp.headers.bad header",
        ),
        ("otlp: { headers: \"x\" }\n", "otlp.headers"),
        (
            "otlp: { client_cert_file: /nonexistent/c.pem }\n",
            "otlp.client_key_file",
        ),
        (
            "otlp: { client_cert_file: /nonexistent/c.pem }\n",
            "otlp.client_cert_file",
        ),
        ("otlp: { ca_file: /nonexistent/ca.pem }\n", "otlp.ca_file"),
        ("traces: { sampling_ratio: 1.5 }\n", "traces.sampling_ratio"),
        ("logging: { level: verbose }\n", "logging.level"),
        ("logging: { level: \"nbu_otel=loud\" }\n", "logging.level"),
        ("logging: { format: xml }\n", "logging.format"),
        ("service: { name: \"\" }\n", "service.name"),
        ("service: { name: { a: 1 } }\n", "service.name"),
        ("extra: 1\n", "extra"),
    ];
    for (extra, field) in cases {
        let e = err(&site(extra), &[]);
        assert_field(&e, field);
    }
}

#[test]
fn site_identity_problems_are_named() {
    let e = err("sites:\n  - {}\n", &[]);
    assert_field(&e, "sites[0].name");
    assert_field(&e, "sites[0].url");
    assert_field(&e, "sites[0].api_key");

    let e = err(
        "sites:\n  - name: \"a b\"\n    url: \"https://\"\n    api_key: k\n    api_key_file: f\n",
        &[],
    );
    assert_field(&e, "sites[0].name");
    assert_field(&e, "sites[0].url");
    assert_field(&e, "sites[0].api_key");

    let e = err(
        "sites:\n  - name: a\n    url: \"https://user:pw@nbu.example.com\"\n    api_key: k\n",
        &[],
    );
    assert_field(&e, "sites[0].url");
    assert!(!e.to_string().contains("pw"), "{e}");

    for yaml in ["sites: []\n", "collection: {}\n", "", "sites: { a: 1 }\n"] {
        assert_field(&err(yaml, &[]), "sites");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let yaml = format!(
        "sites:
  - name: a
    url: ftp://nbu
    api_key: {KEY}
  - name: a
    url: https://nbu-b
  - name: c
    url: https://nbu-c
    api_key: k
    collection: {{ jobs_page_size: 101, storage_ttl: forever }}
collection:
  storage_page_size: 501
  max_retry_time: 0s
otlp:
  compression: brotli
typo: 1
"
    );
    let e = err(&yaml, &[]);
    for field in [
        "sites[0].url",
        "sites[1].name",
        "sites[1].api_key",
        "sites[2].collection.jobs_page_size",
        "sites[2].collection.storage_ttl",
        "collection.storage_page_size",
        "collection.max_retry_time",
        "otlp.compression",
        "typo",
    ] {
        assert_field(&e, field);
    }
    assert_eq!(e.errors().len(), 9, "{e}");
    // One `field: message` per line.
    assert_eq!(e.to_string().lines().count(), 9);
    assert!(e.to_string().lines().all(|line| {
        e.errors()
            .iter()
            .any(|f| line.starts_with(&format!("{}: ", f.field)))
    }));
}

#[test]
fn page_sizes_above_the_api_maximum_are_rejected() {
    let e = err(
        &site("collection: { jobs_page_size: 101, storage_page_size: 501 }\n"),
        &[],
    );
    assert_field(&e, "collection.jobs_page_size");
    assert_field(&e, "collection.storage_page_size");
    assert!(e.to_string().contains("at most 100"), "{e}");
    assert!(e.to_string().contains("at most 500"), "{e}");
    ok(
        &site("collection: { jobs_page_size: 100, storage_page_size: 500 }\n"),
        &[],
    );
}

#[test]
fn bad_durations_are_explained() {
    let e = err(
        &site("collection: { jobs_interval: 5x, request_timeout: 30, storage_ttl: \"\" }\n"),
        &[],
    );
    assert_field(&e, "collection.jobs_interval");
    assert_field(&e, "collection.request_timeout");
    let text = e.to_string();
    assert!(text.contains("\"5x\""), "{text}");
    assert!(text.contains("needs a unit"), "{text}");
    // An empty value means "not set".
    assert!(!e.has_field("collection.storage_ttl"), "{text}");
}

#[test]
fn durations_outside_their_range_are_refused_naming_field_value_and_bound() {
    let cases: &[(&str, &str, &str)] = &[
        // The defects: a push every nanosecond, a jobs cycle every two.
        (
            "otlp: { export_interval: 1ns }\n",
            "otlp.export_interval",
            "must be at least 100ms, got 1ns",
        ),
        (
            "collection: { jobs_interval: 2ns, request_timeout: 1ns }\n",
            "collection.jobs_interval",
            "must be at least 1s, got 2ns",
        ),
        (
            "collection: { jobs_interval: 2ns, request_timeout: 1ns }\n",
            "collection.request_timeout",
            "must be at least 100ms, got 1ns",
        ),
        (
            "collection: { jobs_interval: 2d }\n",
            "collection.jobs_interval",
            "must be at most 1day, got 2days",
        ),
        (
            "collection: { jobs_window: 500ms }\n",
            "collection.jobs_window",
            "must be at least 1s, got 500ms",
        ),
        (
            "collection: { jobs_window: 400d }\n",
            "collection.jobs_window",
            "must be at most 366d",
        ),
        (
            "collection: { storage_ttl: 500ms }\n",
            "collection.storage_ttl",
            "must be at least 1s, got 500ms",
        ),
        (
            "collection: { request_timeout: 2h, jobs_interval: 3h }\n",
            "collection.request_timeout",
            "must be at most 1h, got 2h",
        ),
        (
            "collection: { max_retry_time: 1ns }\n",
            "collection.max_retry_time",
            "must be at least 100ms (or 0s, off), got 1ns",
        ),
        (
            "collection: { cycle_timeout: 25h }\n",
            "collection.cycle_timeout",
            "must be at most 1day, got 1day 1h",
        ),
        (
            "collection: { jobs_resync_interval: 10s }\n",
            "collection.jobs_resync_interval",
            "must be at least 1m, got 10s",
        ),
        (
            "collection: { jobs_resync_interval: 8d }\n",
            "collection.jobs_resync_interval",
            "must be at most 7d, got 8days",
        ),
        (
            "    collection: { jobs_interval: 10ms }\n",
            "sites[0].collection.jobs_interval",
            "must be at least 1s, got 10ms",
        ),
        (
            "server: { ready_cache: 1ms }\n",
            "server.ready_cache",
            "must be at least 1s, got 1ms",
        ),
        (
            "otlp: { timeout: 1us }\n",
            "otlp.timeout",
            "must be at least 100ms, got 1us",
        ),
        (
            "otlp: { export_interval: 30d }\n",
            "otlp.export_interval",
            "must be at most 1day, got 30days",
        ),
        (
            "otlp: { traces: { timeout: 5ms } }\n",
            "otlp.traces.timeout",
            "must be at least 100ms, got 5ms",
        ),
        (
            "events: { export_interval: 10ms }\n",
            "events.export_interval",
            "must be at least 100ms, got 10ms",
        ),
        (
            "sources: { alerts: { interval: 1s } }\n",
            "sources.alerts.interval",
            "must be at least 10s, got 1s: these families change slowly",
        ),
        (
            "sources: { alerts: { interval: 8d } }\n",
            "sources.alerts.interval",
            "must be at most 7d, got 8days",
        ),
        (
            "sources: { catalog: { window: 1s } }\n",
            "sources.catalog.window",
            "must be at least 1m, got 1s",
        ),
    ];
    for (extra, field, message) in cases {
        let e = err(&site(extra), &[]);
        let found = e.errors().iter().find(|f| f.field == *field);
        let Some(found) = found else {
            panic!("expected an error on {field} for {extra}, got:\n{e}");
        };
        assert!(found.message.contains(message), "{extra}: {e}");
    }
    // Set from the standard variable (milliseconds): the variable is named.
    let e = err(&site(""), &[("OTEL_METRIC_EXPORT_INTERVAL", "1")]);
    assert!(
        e.to_string()
            .contains("at least 100ms, got 1ms (set by OTEL_METRIC_EXPORT_INTERVAL)"),
        "{e}"
    );
}

#[test]
fn durations_at_their_bounds_and_zero_where_it_means_off_are_accepted() {
    let config = ok(
        &site(
            "collection:\n  jobs_interval: 1s\n  request_timeout: 100ms\n  storage_ttl: 1s\n  \
             max_retries: 0\n  max_retry_time: 0s\n  cycle_timeout: 1s\n  jobs_window: 366d\n  \
             jobs_resync_interval: 7d\n\
             otlp: { export_interval: 100ms, timeout: 100ms }\n\
             server: { ready_cache: 1h }\n\
             events: { export_interval: 100ms }\n\
             sources: { alerts: { enabled: true, interval: 7d, window: 1m } }\n",
        ),
        &[],
    );
    assert_eq!(config.sites[0].collection.max_retry_time, Duration::ZERO);
    assert_eq!(config.otlp.export_interval, Duration::from_millis(100));
}

#[test]
fn every_duration_option_states_its_range_in_the_reference() {
    let durations: Vec<_> = schema::options()
        .into_iter()
        .filter(|o| {
            // A bare number ("0": a shard index) is no duration.
            (humantime::parse_duration(&o.default).is_ok() && o.default.parse::<f64>().is_err())
                || o.path.ends_with(".timeout")
        })
        .collect();
    assert!(durations.len() >= 15, "{durations:?}");
    for option in durations {
        assert!(
            option.doc.contains("From ") || option.doc.contains("0s (off), or from"),
            "{}: {}",
            option.path,
            option.doc
        );
    }
}

#[test]
fn duplicate_site_names_are_rejected() {
    let yaml = "sites:
  - { name: a, url: https://x, api_key: k }
  - { name: b, url: https://y, api_key: k }
  - { name: a, url: https://z, api_key: k }
";
    let e = err(yaml, &[]);
    assert_eq!(e.errors().len(), 1, "{e}");
    assert_field(&e, "sites[2].name");
    assert!(e.to_string().contains("sites[0]"), "{e}");
}

#[test]
fn variables_are_expanded_in_values() {
    let yaml = "sites:
  - name: ${SITE:-fallback}
    url: https://${HOST}:1556/netbackup
    api_key: ${KEY}
collection:
  jobs_page_size: ${PAGE}
  jobs_interval: ${INTERVAL:-2m}
otlp:
  headers: { x-literal: \"$${NOT_A_VAR}\" }
";
    let config = ok(
        yaml,
        &[
            ("HOST", "nbu.example.com"),
            ("KEY", "a:b # not a comment"),
            ("PAGE", "25"),
        ],
    );
    let s = &config.sites[0];
    assert_eq!(s.name, "fallback");
    assert_eq!(s.url.host_str(), Some("nbu.example.com"));
    assert_eq!(s.api_key.expose_secret(), "a:b # not a comment");
    assert_eq!(s.collection.jobs_page_size, 25);
    assert_eq!(s.collection.jobs_interval, Duration::from_secs(120));
    assert_eq!(config.otlp.headers[0].1.expose_secret(), "${NOT_A_VAR}");
}

#[test]
fn an_undefined_variable_names_field_and_variable_only() {
    let yaml = "sites:
  - name: a
    url: https://nbu
    api_key: ${NBU_A_API_KEY}
otlp:
  headers: { authorization: \"Bearer ${TOKEN}\" }
  endpoint: ${OTLP_URL}
";
    let e = err(yaml, &[("TOKEN", TOKEN)]);
    assert_eq!(e.errors().len(), 2, "{e}");
    assert_field(&e, "sites[0].api_key");
    assert_field(&e, "otlp.endpoint");
    let text = e.to_string();
    assert!(text.contains("`NBU_A_API_KEY`"), "{text}");
    assert!(text.contains("`OTLP_URL`"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
}

#[test]
fn env_overrides_apply_and_win_over_the_file() {
    let yaml = site(
        "collection: { jobs_interval: 60s, jobs_page_size: 100 }
server: { listen: \"127.0.0.1:1\" }
otlp: { endpoint: \"http://file:4317\", headers: { Authorization: from-file } }
logging: { level: info }
",
    );
    let config = ok(
        &yaml,
        &[
            ("NBU_OTEL_COLLECTION__JOBS_INTERVAL", "30s"),
            ("NBU_OTEL_COLLECTION__JOBS_PAGE_SIZE", "50"),
            ("NBU_OTEL_COLLECTION__REQUESTS_PER_SECOND", "2.5"),
            ("NBU_OTEL_COLLECTION__REQUEST_TIMEOUT", "10s"),
            ("NBU_OTEL_SERVER__LISTEN", "0.0.0.0:9440"),
            ("NBU_OTEL_SERVER__PROMETHEUS_BRIDGE", "TRUE"),
            ("NBU_OTEL_OTLP__ENDPOINT", "https://env:4317"),
            ("NBU_OTEL_OTLP__HEADERS__AUTHORIZATION", TOKEN),
            ("NBU_OTEL_LOGGING__LEVEL", "debug"),
            ("NBU_OTEL_SERVICE__INSTANCE_ID", "1234"),
            ("NBU_OTEL_TRACES__SAMPLING_RATIO", "0.5"),
            ("NBU_OTEL_CONFIG", "/etc/nbu-otel.yaml"),
        ],
    );
    let c = &config.sites[0].collection;
    assert_eq!(c.jobs_interval, Duration::from_secs(30));
    assert_eq!(c.jobs_page_size, 50);
    assert_eq!(c.requests_per_second, 2.5);
    assert_eq!(config.server.listen, "0.0.0.0:9440".parse().ok());
    assert!(config.server.prometheus_bridge);
    assert_eq!(config.otlp.endpoint.host_str(), Some("env"));
    assert_eq!(config.otlp.headers.len(), 1);
    assert_eq!(config.otlp.headers[0].0, "authorization");
    assert_eq!(config.otlp.headers[0].1.expose_secret(), TOKEN);
    assert_eq!(config.logging.level, "debug");
    assert_eq!(config.service.instance_id.as_deref(), Some("1234"));
    assert_eq!(config.traces.sampling_ratio, 0.5);
}

#[test]
fn env_overrides_create_missing_sections_and_are_taken_literally() {
    let config = ok(
        &site(""),
        &[
            ("NBU_OTEL_COLLECTION__STORAGE_TTL", "1m"),
            ("NBU_OTEL_OTLP__HEADERS__X_TOKEN", "literal ${NOT_EXPANDED}"),
            ("NBU_OTEL_OTLP__MAX_MESSAGE_BYTES", "65536"),
        ],
    );
    assert_eq!(config.otlp.max_message_bytes, 65_536);
    assert_eq!(
        config.sites[0].collection.storage_ttl,
        Duration::from_secs(60)
    );
    assert_eq!(config.otlp.headers[0].0, "x_token");
    assert_eq!(
        config.otlp.headers[0].1.expose_secret(),
        "literal ${NOT_EXPANDED}"
    );
}

#[test]
fn bad_env_overrides_are_named() {
    let e = err(
        &site(""),
        &[
            ("NBU_OTEL_COLLECTION__JOBS_PAGE_SIZE", "500"),
            ("NBU_OTEL_COLLECTION__JOB_INTERVAL", "30s"),
            ("NBU_OTEL_SITES__0__API_KEY", KEY),
        ],
    );
    assert_field(&e, "collection.jobs_page_size");
    assert_field(&e, "NBU_OTEL_COLLECTION__JOB_INTERVAL");
    assert_field(&e, "NBU_OTEL_SITES__0__API_KEY");
    let text = e.to_string();
    assert!(
        text.contains("(set by NBU_OTEL_COLLECTION__JOBS_PAGE_SIZE)"),
        "{text}"
    );
    assert!(!text.contains(KEY), "{text}");
}

#[test]
fn standard_otel_variables_win_over_the_file_and_the_overrides() {
    let yaml = site(
        "otlp:\n  endpoint: http://file:4317\n  export_interval: 5m\n  headers:\n    X-Tenant: file\n    x-other: kept\nservice:\n  name: from-file\n",
    );
    let config = ok(
        &yaml,
        &[
            ("NBU_OTEL_OTLP__ENDPOINT", "http://override:4317"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", " http://standard:4317 "),
            ("NBU_OTEL_SERVICE__NAME", "from-override"),
            ("OTEL_SERVICE_NAME", "from-env"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=ignored,x-third=3"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                "x-tenant=from%20env,novalue",
            ),
            ("OTEL_METRIC_EXPORT_INTERVAL", "500"),
        ],
    );
    assert_eq!(config.otlp.endpoint.as_str(), "http://standard:4317/");
    assert_eq!(config.service.name, "from-env");
    // The timeout (10s) is not held to an interval the standard variable sets.
    assert_eq!(config.otlp.export_interval, Duration::from_millis(500));
    let headers: Vec<(&str, &str)> = config
        .otlp
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.expose_secret()))
        .collect();
    assert_eq!(
        headers,
        [
            ("x-other", "kept"),
            ("x-tenant", "ignored"),
            ("x-third", "3")
        ],
        "the generic variable adds to the file's headers and wins for a repeated name"
    );
    let metrics: Vec<(&str, &str)> = config
        .otlp
        .metrics
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.expose_secret()))
        .collect();
    assert_eq!(
        metrics,
        [("x-tenant", "from env")],
        "a signal's variable sets that signal's headers"
    );
    // Empty means unset.
    let config = ok(
        &yaml,
        &[
            ("OTEL_SERVICE_NAME", ""),
            ("OTEL_METRIC_EXPORT_INTERVAL", " "),
        ],
    );
    assert_eq!(config.service.name, "from-file");
    assert_eq!(config.otlp.export_interval, Duration::from_secs(300));
}

#[test]
fn bad_standard_otel_variables_are_named() {
    let e = err(
        &site(""),
        &[
            ("OTEL_METRIC_EXPORT_INTERVAL", "5s"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "bad name=x"),
        ],
    );
    assert_field(&e, "OTEL_METRIC_EXPORT_INTERVAL");
    assert_field(&e, "otlp.endpoint");
    assert_field(&e, "otlp.headers.bad name");
    let text = e.to_string();
    assert!(
        text.contains("(set by OTEL_EXPORTER_OTLP_ENDPOINT)"),
        "{text}"
    );
    assert!(
        text.contains("(set by OTEL_EXPORTER_OTLP_HEADERS)"),
        "{text}"
    );
    assert_field(
        &err(&site(""), &[("OTEL_METRIC_EXPORT_INTERVAL", "0")]),
        "OTEL_METRIC_EXPORT_INTERVAL",
    );
}

#[test]
fn site_collection_overrides_merge_with_global() {
    let yaml = "sites:
  - { name: a, url: https://a, api_key: k }
  - name: b
    url: https://b
    api_key: k
    collection: { jobs_interval: 5m, max_retries: 0 }
collection:
  jobs_interval: 2m
  storage_ttl: 10m
";
    let config = ok(yaml, &[("NBU_OTEL_COLLECTION__MAX_RETRIES", "5")]);
    let (a, b) = (&config.sites[0].collection, &config.sites[1].collection);
    assert_eq!(a.jobs_interval, Duration::from_secs(120));
    assert_eq!(a.storage_ttl, Duration::from_secs(600));
    assert_eq!(a.max_retries, 5);
    assert_eq!(b.jobs_interval, Duration::from_secs(300));
    assert_eq!(b.storage_ttl, Duration::from_secs(600));
    assert_eq!(b.max_retries, 0);
    assert_eq!(b.jobs_page_size, CollectionConfig::default().jobs_page_size);
}

#[test]
fn request_timeout_must_be_shorter_than_jobs_interval() {
    let e = err(
        &site("collection: { request_timeout: 60s, jobs_interval: 60s }\n"),
        &[],
    );
    assert_eq!(e.errors().len(), 1, "{e}");
    assert_field(&e, "collection.request_timeout");
    assert!(e.to_string().contains("collection.jobs_interval"), "{e}");

    // A site that shortens its interval below the global timeout is blamed, naming both.
    let e = err(&site("    collection: { jobs_interval: 20s }\n"), &[]);
    assert_eq!(e.errors().len(), 1, "{e}");
    assert_field(&e, "sites[0].collection.jobs_interval");
    assert!(
        e.to_string().contains("`collection.request_timeout`"),
        "{e}"
    );

    let e = err(&site("    collection: { request_timeout: 2m }\n"), &[]);
    assert_field(&e, "sites[0].collection.request_timeout");
    assert!(e.to_string().contains("`collection.jobs_interval`"), "{e}");
}

#[test]
fn key_file_is_read_trimmed_and_resolved_against_the_base_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("a.key"), format!("\n  {KEY}\n\n")).expect("write key");
    let yaml = "sites:\n  - { name: a, url: https://a, api_key_file: a.key }\n";
    let config = load_str_with_env(yaml, dir.path(), &env(&[])).expect("loads");
    let s = &config.sites[0];
    assert_eq!(s.api_key.expose_secret(), KEY);
    assert_eq!(
        s.api_key_file.as_deref(),
        Some(dir.path().join("a.key").as_path())
    );

    // load_file resolves against the file's own directory.
    let file = dir.path().join("nbu-otel.yaml");
    std::fs::write(&file, yaml).expect("write config");
    let config = load_file_with_env(&file, &env(&[])).expect("loads");
    assert_eq!(config.sites[0].api_key.expose_secret(), KEY);
}

#[test]
fn unreadable_or_empty_key_files_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("empty.key"), " \n").expect("write key");
    let yaml = "sites:
  - { name: a, url: https://a, api_key_file: missing.key }
  - { name: b, url: https://b, api_key_file: empty.key }
  - { name: c, url: https://c, api_key_file: . }
";
    let e = load_str_with_env(yaml, dir.path(), &env(&[])).expect_err("invalid");
    assert_field(&e, "sites[0].api_key_file");
    assert_field(&e, "sites[1].api_key_file");
    assert_field(&e, "sites[2].api_key_file");
    assert!(e.to_string().contains("missing.key"), "{e}");
}

#[test]
fn otlp_tls_files_are_checked_together() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["ca.pem", "c.pem", "k.pem"] {
        std::fs::write(dir.path().join(name), "PEM").expect("write");
    }
    let yaml = site(
        "otlp: { endpoint: \"https://otel:4317\", ca_file: ca.pem, client_cert_file: c.pem, client_key_file: k.pem }\n",
    );
    let config = load_str_with_env(&yaml, dir.path(), &env(&[])).expect("loads");
    assert_eq!(config.otlp.ca_file, Some(dir.path().join("ca.pem")));
    assert_eq!(config.otlp.client_key_file, Some(dir.path().join("k.pem")));

    let yaml = site("otlp: { endpoint: \"http://otel:4317\", ca_file: ca.pem }\n");
    let e = load_str_with_env(&yaml, dir.path(), &env(&[])).expect_err("http with TLS");
    assert_field(&e, "otlp.endpoint");
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let yaml = format!(
        "sites:
  - name: a
    url: https://nbu
    api_key: {KEY}
otlp:
  headers: {{ authorization: \"Bearer {TOKEN}\" }}
"
    );
    let config = ok(&yaml, &[]);
    let debug = format!("{config:?}");
    assert!(!debug.contains(KEY), "{debug}");
    assert!(!debug.contains(TOKEN), "{debug}");

    // Secrets in wrong places, with errors around them.
    let yaml = format!(
        "sites:
  - name: \"{KEY}\"
    url: \"https://nbu\"
    api_key: \"{KEY}\"
    api_key_file: /x
  - name: b
    url: \"{KEY}\"
    api_key: \"bad\\u0007{KEY}\"
  - {KEY}
otlp:
  headers: {{ authorization: \"Bearer {TOKEN}\\n\", x: [\"{TOKEN}\"] }}
  timeout: {{ t: \"{TOKEN}\" }}
"
    );
    let e = err(
        &yaml,
        &[("NBU_OTEL_OTLP__HEADERS__Y", &format!("{TOKEN}\u{1}"))],
    );
    assert!(e.errors().len() >= 6, "{e}");
    let text = format!("{e} {e:?}");
    assert!(!text.contains(TOKEN), "{text}");
    assert!(!text.contains(KEY), "{text}");
}

#[test]
fn file_level_problems_name_the_file() {
    let e = err("sites: [\n", &[]);
    assert_field(&e, "<file>");
    let e = err("- a\n- b\n", &[]);
    assert_field(&e, "<file>");
    let e = load_file_with_env(Path::new("/nonexistent/nbu-otel.yaml"), &env(&[]))
        .expect_err("missing file");
    assert_field(&e, "/nonexistent/nbu-otel.yaml");
}

#[test]
fn hostile_yaml_is_refused_before_parsing_naming_the_file_and_the_limit() {
    use super::yaml_limits::tests::{alias_bomb, deep_block};
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("hostile.yaml");
    let cases = [
        (alias_bomb(), "100000 values"),
        (deep_block(10_000), "32 levels"),
        (
            format!("{}\n{}", site(""), "# padding\n".repeat(120_000)),
            "larger than 1 MiB",
        ),
    ];
    for (text, limit) in cases {
        std::fs::write(&file, &text).expect("write");
        let e = load_file_with_env(&file, &env(&[])).expect_err("refused");
        assert_field(&e, &file.display().to_string());
        assert!(e.to_string().contains(limit), "{e}");
        // The same text given directly, and read for `migrate`.
        let e = err(&text, &[]);
        assert_field(&e, "<file>");
        let e = parse_yaml(&text).expect_err("refused");
        assert!(e.to_string().contains(limit), "{e}");
    }
    // 100,000 flow levels: stopped by the scanner's own limit, as an error, not a crash.
    let flow = format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_field(&err(&flow, &[]), "<file>");
}

#[test]
fn a_configuration_file_larger_than_any_file_read_is_refused_unread() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("huge.yaml");
    let f = std::fs::File::create(&file).expect("create");
    f.set_len(crate::file_limits::MAX_REFERENCED_FILE_BYTES + 1)
        .expect("sparse file");
    let e = load_file_with_env(&file, &env(&[])).expect_err("refused");
    assert_field(&e, &file.display().to_string());
    assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
}

#[test]
fn key_and_certificate_files_larger_than_the_limit_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let huge = crate::file_limits::MAX_REFERENCED_FILE_BYTES + 1;
    for name in ["huge.key", "huge.pem"] {
        let f = std::fs::File::create(dir.path().join(name)).expect("create");
        f.set_len(huge).expect("sparse file");
    }
    let yaml = "sites:
  - name: a
    url: https://a
    api_key_file: huge.key
  - name: b
    url: https://b
    api_key: k
    tls: { ca_file: huge.pem }
otlp: { endpoint: \"https://otel:4317\", ca_file: huge.pem }
server: { tls_cert_file: huge.pem, tls_key_file: huge.pem }
";
    let e = load_str_with_env(yaml, dir.path(), &env(&[])).expect_err("refused");
    for field in [
        "sites[0].api_key_file",
        "sites[1].tls.ca_file",
        "otlp.ca_file",
        "server.tls_cert_file",
        "server.tls_key_file",
    ] {
        assert_field(&e, field);
    }
    for line in e.to_string().lines() {
        assert!(line.contains("larger than 4 MiB"), "{line}");
        assert!(line.contains("huge."), "{line}");
    }
}

#[test]
fn example_file_loads_and_shows_the_defaults() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key_file = dir.path().join("b.key");
    std::fs::write(&key_file, "example-key-b\n").expect("write key");
    let text = include_str!("../../examples/nbu-otel.yaml");
    assert!(text.contains("/run/credentials/nbu-otel.service/b.key"));
    let text = text.replace(
        "/run/credentials/nbu-otel.service/b.key",
        &key_file.display().to_string(),
    );
    let config = load_str_with_env(
        &text,
        dir.path(),
        &env(&[("NBU_A_API_KEY", "example-key-a")]),
    )
    .unwrap_or_else(|e| panic!("example does not load:\n{e}"));

    assert_eq!(config.sites.len(), 2);
    let (a, b) = (&config.sites[0], &config.sites[1]);
    assert_eq!(a.api_key.expose_secret(), "example-key-a");
    assert_eq!(b.api_key.expose_secret(), "example-key-b");
    assert_eq!(b.api_key_file.as_deref(), Some(key_file.as_path()));
    // The global collection values written in the example are the defaults.
    assert_eq!(a.collection, CollectionConfig::default());
    assert_eq!(a.tls, TlsConfig::default());
    assert_ne!(b.collection, CollectionConfig::default());
    let o = &config.otlp;
    assert!(o.eq_with_secrets(&OtlpConfig::default()), "{o:?}");
    assert!(o.headers.is_empty() && o.ca_file.is_none() && o.client_cert_file.is_none());
    assert_eq!(config.traces, TracesConfig::default());
    assert_eq!(config.logging, LoggingConfig::default());
    assert_eq!(config.service, ServiceConfig::default());
}

#[test]
fn sources_are_off_by_default_and_switched_on_globally_or_per_site() {
    let config = ok(&site(""), &[]);
    assert_eq!(config.sites[0].sources.enabled().count(), 0);

    let yaml = format!(
        "sources:\n  alerts: {{ enabled: true, window: 2h }}\n  tape:\n    enabled: true\n    interval: 10m\n\
         sites:\n  - name: a\n    url: https://a.example.com/netbackup\n    api_key: {KEY}\n\
         \x20 - name: b\n    url: https://b.example.com/netbackup\n    api_key: {KEY}\n    sources:\n      tape: {{ enabled: false }}\n      slo: {{ enabled: true }}\n"
    );
    let config = ok(&yaml, &[]);
    let a = &config.sites[0].sources;
    let b = &config.sites[1].sources;
    let names = |s: &SourcesConfig| -> Vec<&str> { s.enabled().map(|(id, _)| id.name()).collect() };
    assert_eq!(names(a), ["alerts", "tape"]);
    assert_eq!(names(b), ["alerts", "slo"]);
    assert_eq!(
        a.get(SourceId::Alerts).window,
        Duration::from_secs(2 * 3600)
    );
    assert_eq!(a.get(SourceId::Tape).interval, Duration::from_secs(600));
    assert_eq!(
        b.get(SourceId::Catalog).window,
        Duration::from_secs(24 * 3600),
        "the default catalog window"
    );
}

#[test]
fn bad_source_settings_are_named() {
    let e = err(
        &format!(
            "sources:\n  perclient: {{ enabled: true }}\n  slo: {{ window: 1h }}\n  alerts: {{ interval: 1s, enabled: maybe }}\n{}",
            site("    sources:\n      tape: { colour: red }\n")
        ),
        &[],
    );
    assert_field(&e, "sources.perclient");
    assert_field(&e, "sources.slo.window");
    assert_field(&e, "sources.alerts.interval");
    assert_field(&e, "sources.alerts.enabled");
    assert_field(&e, "sites[0].sources.tape.colour");
    assert!(e.to_string().contains("known sources: alerts"), "{e}");
}

#[test]
fn the_client_allowlist_is_read_and_checked() {
    let yaml = format!(
        "sources:\n  clients:\n    enabled: true\n    allowlist: [db01, \"web-*\", \"o'brien\"]\n    max_clients: 20\n{}",
        site("    sources:\n      clients: { allowlist: [only-this] }\n")
    );
    let config = ok(&yaml, &[]);
    let clients = &config.sites[0].sources.clients;
    assert_eq!(clients.max_clients, 20, "kept from the global section");
    assert!(clients.allows("only-this"));
    assert!(
        !clients.allows("db01"),
        "a site's allowlist replaces the global one"
    );

    let e = err(
        &format!(
            "sources:\n  alerts: {{ allowlist: [x] }}\n  clients: {{ allowlist: [\"\", ok], max_clients: 0 }}\n{}",
            site("")
        ),
        &[],
    );
    assert_field(&e, "sources.alerts.allowlist");
    assert_field(&e, "sources.clients.allowlist[0]");
    assert_field(&e, "sources.clients.max_clients");
    let e = err(
        &format!("sources:\n  clients: {{ allowlist: db01 }}\n{}", site("")),
        &[],
    );
    assert_field(&e, "sources.clients.allowlist");
}

#[test]
fn the_metrics_path_is_configurable_by_file_and_environment() {
    assert_eq!(ok(&site(""), &[]).server.metrics_path, "/metrics");
    let yaml = site(
        "server: { listen: \"127.0.0.1:1\", prometheus_bridge: true, metrics_path: /nbu/metrics }\n",
    );
    assert_eq!(ok(&yaml, &[]).server.metrics_path, "/nbu/metrics");
    let config = ok(&yaml, &[("NBU_OTEL_SERVER__METRICS_PATH", "/prom")]);
    assert_eq!(config.server.metrics_path, "/prom");
}

#[test]
fn a_metrics_path_that_cannot_be_served_is_named() {
    for bad in [
        "metrics", "/health", "/healthz", "/readyz", "/a b", "/a//b", "/{x}", "/m?x=1",
    ] {
        let yaml = site(&format!(
            "server: {{ listen: \"127.0.0.1:1\", prometheus_bridge: true, metrics_path: \"{bad}\" }}\n"
        ));
        assert_field(&err(&yaml, &[]), "server.metrics_path");
    }
}

#[test]
fn the_series_limit_of_the_push_is_bounded() {
    assert_eq!(
        ok(&site(""), &[]).otlp.max_series_per_metric,
        DEFAULT_OTLP_MAX_SERIES_PER_METRIC
    );
    let config = ok(
        &site(""),
        &[("NBU_OTEL_OTLP__MAX_SERIES_PER_METRIC", "20000")],
    );
    assert_eq!(config.otlp.max_series_per_metric, 20_000);
    for bad in ["0", "99", "1000001", "lots"] {
        let e = err(
            &format!("otlp:\n  max_series_per_metric: {bad}\n{}", site("")),
            &[],
        );
        assert_field(&e, "otlp.max_series_per_metric");
    }
}

#[test]
fn timeouts_and_retries_that_contradict_each_other_are_named() {
    let e = err(
        &site("collection: { request_timeout: 30s, cycle_timeout: 30s }\n"),
        &[],
    );
    assert_field(&e, "collection.cycle_timeout");
    assert!(e.to_string().contains("collection.request_timeout"), "{e}");

    let e = err(
        &site("    collection: { max_retries: 2 }\ncollection: { max_retry_time: 0s }\n"),
        &[],
    );
    assert_field(&e, "sites[0].collection.max_retries");
    assert!(e.to_string().contains("collection.max_retry_time"), "{e}");

    // Both given together and contradicting: no retry budget while retries are asked for.
    let e = err(
        &site("collection: { max_retries: 2, max_retry_time: 0s }\n"),
        &[],
    );
    assert!(
        e.has_field("collection.max_retries") || e.has_field("collection.max_retry_time"),
        "{e}"
    );
}

#[test]
fn server_tls_and_metrics_credentials_come_in_pairs() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["c.pem", "k.pem"] {
        std::fs::write(dir.path().join(name), "PEM").expect("write");
    }
    let cases = [
        ("server: { tls_cert_file: c.pem }\n", "server.tls_key_file"),
        ("server: { tls_key_file: k.pem }\n", "server.tls_cert_file"),
        (
            "server: { metrics_username: prom }\n",
            "server.metrics_password",
        ),
        (
            "server: { metrics_password: pw-secret-1 }\n",
            "server.metrics_username",
        ),
    ];
    for (server, field) in cases {
        let e = load_str_with_env(&site(server), dir.path(), &env(&[])).expect_err(server);
        assert_field(&e, field);
        assert!(!e.to_string().contains("pw-secret-1"), "{e}");
    }
    let config = load_str_with_env(
        &site("server: { tls_cert_file: c.pem, tls_key_file: k.pem, metrics_username: prom, metrics_password: pw }\n"),
        dir.path(),
        &env(&[]),
    )
    .expect("both halves given");
    assert_eq!(config.server.tls_key_file, Some(dir.path().join("k.pem")));
}

#[test]
fn otlp_header_values_must_be_given_once_and_not_empty() {
    let e = err(
        &site(
            "otlp:\n  headers:\n    x-missing:\n    x-empty: \"\"\n    X-Tenant: a\n    x-tenant: b\n",
        ),
        &[],
    );
    assert_field(&e, "otlp.headers.x-missing");
    assert_field(&e, "otlp.headers.x-empty");
    assert!(
        e.to_string().contains("header given twice"),
        "case-insensitive duplicate:\n{e}"
    );
}

#[test]
fn a_key_left_empty_means_its_default() {
    let config = ok(
        &site(
            "collection:\n  request_timeout:\n  max_retries: ~\n  jobs_interval: \"\"\nserver:\n  metrics_path:\n",
        ),
        &[],
    );
    let defaults = CollectionConfig::default();
    assert_eq!(
        config.sites[0].collection.request_timeout,
        defaults.request_timeout
    );
    assert_eq!(config.sites[0].collection.max_retries, defaults.max_retries);
    assert_eq!(
        config.sites[0].collection.jobs_interval,
        defaults.jobs_interval
    );
    assert_eq!(
        config.server.metrics_path,
        ServerConfig::default().metrics_path
    );
}

#[test]
fn a_key_file_that_is_not_text_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("binary.key"), [0xff, 0xfe, 0x00, 0x41]).expect("write key");
    let yaml = "sites:\n  - { name: a, url: https://a, api_key_file: binary.key }\n";
    let e = load_str_with_env(yaml, dir.path(), &env(&[])).expect_err("invalid");
    assert_field(&e, "sites[0].api_key_file");
    assert!(e.to_string().contains("not UTF-8 text"), "{e}");
}

/// The specification's precedence, case by case: a signal's variable over the generic one,
/// any standard variable over the `NBU_OTEL_` override and the file, the generic endpoint
/// with `/v1/<signal>` over HTTP, a signal's endpoint as given.
#[test]
fn otlp_settings_per_signal_follow_the_specification() {
    type Check = fn(&Config);
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], Check);
    let cases: &[Case<'_>] = &[
        ("defaults", "", &[], |c| {
            let m = c.otlp.signal(Signal::Metrics);
            assert_eq!(m.endpoint.as_str(), "http://localhost:4317/");
            assert_eq!(m.protocol, OtlpProtocol::Grpc);
            assert_eq!(c.otlp.signal(Signal::Logs).endpoint, m.endpoint);
        }),
        (
            "http appends /v1/<signal> to the default HTTP port",
            "",
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")],
            |c| {
                let m = c.otlp.signal(Signal::Metrics);
                assert_eq!(m.endpoint.as_str(), "http://localhost:4318/v1/metrics");
                assert_eq!(m.protocol, OtlpProtocol::HttpProtobuf);
                let t = c.otlp.signal(Signal::Traces);
                assert_eq!(t.endpoint.as_str(), "http://localhost:4318/v1/traces");
            },
        ),
        (
            "http appends to the generic endpoint's path",
            "otlp:\n  protocol: http/protobuf\n",
            &[(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://gw.example.com/otlp/",
            )],
            |c| {
                let l = c.otlp.signal(Signal::Logs);
                assert_eq!(l.endpoint.as_str(), "https://gw.example.com/otlp/v1/logs");
            },
        ),
        (
            "a signal's endpoint is used as given, the others keep the generic one",
            "",
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://tempo:4318/custom/path",
                ),
            ],
            |c| {
                let t = c.otlp.signal(Signal::Traces);
                assert_eq!(t.endpoint.as_str(), "http://tempo:4318/custom/path");
                let m = c.otlp.signal(Signal::Metrics);
                assert_eq!(m.endpoint.as_str(), "http://c:4318/v1/metrics");
            },
        ),
        (
            "a signal's protocol and timeout win over the generic ones, the file loses to both",
            "otlp:\n  timeout: 5s\n  protocol: grpc\n",
            &[
                ("NBU_OTEL_OTLP__TIMEOUT", "4s"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
                ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "3000"),
                ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
            ],
            |c| {
                let (m, l) = (c.otlp.signal(Signal::Metrics), c.otlp.signal(Signal::Logs));
                assert_eq!(m.timeout, Duration::from_secs(2));
                assert_eq!(l.timeout, Duration::from_secs(3));
                assert_eq!(
                    (m.protocol, l.protocol),
                    (OtlpProtocol::Grpc, OtlpProtocol::HttpProtobuf)
                );
                assert_eq!(m.compression, OtlpCompression::None);
                assert_eq!(l.compression, OtlpCompression::Gzip);
            },
        ),
        (
            "the signal's OTLP timeout before OTEL_METRIC_EXPORT_TIMEOUT",
            "",
            &[
                ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "1000"),
                ("OTEL_METRIC_EXPORT_TIMEOUT", "4000"),
            ],
            |c| {
                assert_eq!(
                    c.otlp.signal(Signal::Metrics).timeout,
                    Duration::from_secs(1)
                )
            },
        ),
        (
            "signal headers add to the generic ones and win for a name",
            "otlp:\n  headers:\n    x-a: file\n    x-b: file\n",
            &[("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-b=traces")],
            |c| {
                let headers = |s| {
                    c.otlp
                        .signal(s)
                        .headers
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v.expose_secret()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(headers(Signal::Traces), ["x-a=file", "x-b=traces"]);
                assert_eq!(headers(Signal::Metrics), ["x-a=file", "x-b=file"]);
            },
        ),
        (
            "OTEL_SDK_DISABLED turns every exporter off, before the exporter variables",
            "traces:\n  enabled: true\nevents:\n  enabled: true\n",
            &[
                ("OTEL_SDK_DISABLED", "true"),
                ("OTEL_METRICS_EXPORTER", "otlp"),
            ],
            |c| assert!(!c.otlp.enabled && !c.traces.enabled && !c.events.enabled),
        ),
        (
            "exporter variables switch the signals",
            "",
            &[
                ("OTEL_SDK_DISABLED", "false"),
                ("OTEL_METRICS_EXPORTER", "none"),
                ("OTEL_TRACES_EXPORTER", "otlp"),
            ],
            |c| assert!(!c.otlp.enabled && c.traces.enabled),
        ),
        (
            "console exporters print instead of sending; the logs' console is standard error",
            "logging:\n  otlp: true\n",
            &[
                ("OTEL_METRICS_EXPORTER", "console"),
                ("OTEL_TRACES_EXPORTER", "console"),
                ("OTEL_LOGS_EXPORTER", "console"),
            ],
            |c| {
                assert!(c.otlp.enabled && c.otlp.console);
                assert!(c.traces.enabled && c.traces.console);
                assert!(!c.logging.otlp);
            },
        ),
        (
            "OTEL_LOGS_EXPORTER=otlp sends the agent's lines as records",
            "",
            &[
                ("OTEL_LOGS_EXPORTER", "otlp"),
                ("OTEL_METRICS_EXPORTER", "otlp"),
            ],
            |c| assert!(c.logging.otlp && c.otlp.enabled && !c.otlp.console),
        ),
        (
            "sampler, its argument, propagators and temporality",
            "",
            &[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
                ("OTEL_PROPAGATORS", "tracecontext,baggage"),
                ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
            ],
            |c| {
                assert_eq!(c.traces.sampler, TraceSampler::TraceIdRatio);
                assert_eq!(c.traces.sampling_ratio, 0.25);
                assert_eq!(c.traces.propagators, "tracecontext,baggage");
                assert_eq!(c.otlp.temporality, TemporalityPreference::Delta);
            },
        ),
        (
            "resource attributes: the variable adds to the file and wins; OTEL_SERVICE_NAME beats its service.name",
            "service:\n  resource_attributes:\n    team: storage\n    deployment.environment.name: test\n",
            &[
                (
                    "OTEL_RESOURCE_ATTRIBUTES",
                    "deployment.environment.name=prod,service.name=loses,app.service.name=x%2Cy",
                ),
                ("OTEL_SERVICE_NAME", "wins"),
            ],
            |c| {
                let mut attributes = c.service.resource_attributes.clone();
                attributes.sort();
                assert_eq!(
                    attributes,
                    [
                        ("app.service.name".to_owned(), "x,y".to_owned()),
                        ("deployment.environment.name".to_owned(), "prod".to_owned()),
                        ("team".to_owned(), "storage".to_owned()),
                    ]
                );
                assert_eq!(c.service.name, "wins");
            },
        ),
    ];
    for (case, yaml, env, check) in cases {
        let config = match load(&site(yaml), env) {
            Ok(c) => c,
            Err(e) => panic!("{case}: {e}"),
        };
        check(&config);
    }
}

/// Every standard variable's bad value stops loading and names the variable (or the option it
/// set, with the variable).
#[test]
fn bad_values_of_the_new_standard_variables_are_named() {
    for (var, value, field) in [
        (
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "http/json",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "udp",
            "otlp.traces.protocol",
        ),
        (
            "OTEL_METRICS_EXPORTER",
            "prometheus",
            "OTEL_METRICS_EXPORTER",
        ),
        ("OTEL_LOGS_EXPORTER", "otlp/json", "OTEL_LOGS_EXPORTER"),
        ("OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER"),
        ("OTEL_SDK_DISABLED", "maybe", "OTEL_SDK_DISABLED"),
        (
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "10s",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "not a url",
            "otlp.logs.endpoint",
        ),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", "otlp.compression"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
            "/nonexistent/ca.pem",
            "otlp.metrics.ca_file",
        ),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "novalue,a=b",
            "OTEL_RESOURCE_ATTRIBUTES",
        ),
        ("OTEL_TRACES_SAMPLER", "jaeger_remote", "traces.sampler"),
        ("OTEL_TRACES_SAMPLER_ARG", "2", "traces.sampling_ratio"),
        ("OTEL_PROPAGATORS", "b3", "traces.propagators"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "sometimes",
            "otlp.temporality",
        ),
    ] {
        let e = err(&site(""), &[(var, value)]);
        assert_field(&e, field);
        assert!(e.to_string().contains(var), "{var}: {e}");
    }
}

/// The option reference shows a choice by the word the parser takes for it: every value of
/// every choice table reads back as itself, and its text is its word.
#[test]
fn every_choice_is_shown_by_the_word_that_selects_it() {
    use super::declare::DefaultText;
    fn check<T: DefaultText + super::declare::EqWithSecrets>(table: &[(&str, T)]) {
        for (word, value) in table {
            assert_eq!(value.default_text(), *word);
            assert!(value.eq_with_secrets(value), "{word}");
        }
    }
    check(&section::events::FIRST_STARTS);
    check(&section::otlp::PROTOCOLS);
    check(&section::otlp::TEMPORALITIES);
    check(&section::otlp::COMPRESSIONS);
    check(&section::service::LOG_FORMATS);
    check(&section::service::SAMPLERS);
    assert_eq!(ShardIndex::FromHostname.default_text(), "from_hostname");
    assert_eq!(ShardIndex::Fixed(7).default_text(), "7");
    assert!(!ShardIndex::Fixed(1).eq_with_secrets(&ShardIndex::FromHostname));
}

#[test]
fn an_events_state_dir_that_is_a_file_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap_or_else(|e| panic!("{e}"));
    let e = err(
        &site(&format!("events:\n  state_dir: {}\n", file.display())),
        &[],
    )
    .to_string();
    assert!(
        e.contains("events.state_dir") && e.contains("is a file, not a directory"),
        "{e}"
    );
}

#[test]
fn an_empty_key_is_named_as_yaml_writes_it() {
    for (yaml, field) in [
        (format!("'':\n{}", site("")), "''"),
        (site("collection:\n  '': 1\n"), "collection.''"),
    ] {
        let e = err(&yaml, &[]);
        assert!(
            e.errors()
                .iter()
                .any(|p| p.field == field && p.message.starts_with("unknown key")),
            "{e}"
        );
    }
}
