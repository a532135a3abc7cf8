//! The standard `OTEL_` variables, and the OTLP settings of each signal.

use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;

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
