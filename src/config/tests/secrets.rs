//! Secrets and the files that hold them or certificates: read, checked, never shown.

use secrecy::ExposeSecret;

use super::*;

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
fn a_key_file_that_is_not_text_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("binary.key"), [0xff, 0xfe, 0x00, 0x41]).expect("write key");
    let yaml = "sites:\n  - { name: a, url: https://a, api_key_file: binary.key }\n";
    let e = load_str_with_env(yaml, dir.path(), &env(&[])).expect_err("invalid");
    assert_field(&e, "sites[0].api_key_file");
    assert!(e.to_string().contains("not UTF-8 text"), "{e}");
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
