//! Errors: every invalid field named, all at once, and the problems of the file itself.

use std::path::Path;

use super::*;

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
