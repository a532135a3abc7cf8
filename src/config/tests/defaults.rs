//! Defaults, a file that sets every key, the example file, and how choices read back.

use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;
use crate::config::declare::EqWithSecrets as _;

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
fn example_file_loads_and_shows_the_defaults() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key_file = dir.path().join("b.key");
    std::fs::write(&key_file, "example-key-b\n").expect("write key");
    let text = include_str!("../../../examples/nbu-otel.yaml");
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
