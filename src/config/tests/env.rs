//! `${VAR}` references and the `NBU_OTEL_` environment overrides.

use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;

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
