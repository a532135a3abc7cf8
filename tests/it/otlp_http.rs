//! OTLP over HTTP (`http/protobuf`) as the standard variables choose it: the metric push with
//! exact values, job events as log records, spans where `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
//! sends them (over gRPC), the resource as `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`
//! say, and retries that honour `Retry-After`.

use std::time::Duration;

use nbu_sim::SimConfig;

use crate::common::otlp::{Receiver, attr};
use crate::common::otlp_http::HttpReceiver;
use crate::common::{jobs_cycles, load, site_yaml, start_sim, wait_for};
use crate::pipeline::{KEY, Running, assert_series_equal, expected, otlp_series};

fn yaml(sim_url: &str, events: bool, state: &std::path::Path) -> String {
    format!(
        "sites:\n{}server:\n  listen: \"127.0.0.1:0\"\n  prometheus_bridge: true\n\
         otlp:\n  export_interval: 1s\n  timeout: 900ms\n\
         traces:\n  enabled: true\n\
         events:\n  enabled: {events}\n  first_start: window\n  export_interval: 200ms\n  state_dir: {}\n",
        site_yaml(
            "alpha",
            sim_url,
            "      jobs_window: 72h\n      jobs_interval: 1s\n      request_timeout: 900ms\n      storage_ttl: 1h\n"
        ),
        state.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_variables_send_metrics_and_logs_over_http_and_spans_where_they_say() {
    let sim = start_sim(SimConfig {
        jobs: 3_000,
        storage_units: 20,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let http = HttpReceiver::start("127.0.0.1:0".parse().unwrap()).await;
    let grpc = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let traces_endpoint = grpc.endpoint();
    let state = tempfile::tempdir().unwrap();
    let config = load(
        &yaml(&sim.base_url(), true, state.path()),
        &[
            ("NBU_KEY", KEY),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &http.endpoint()),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces_endpoint),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=backup%20team"),
            ("OTEL_SERVICE_NAME", "nbu-from-env"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=loses,deployment.environment.name=prod,service.instance.id=inst-7",
            ),
        ],
    );
    let running = Running::start_with(config).await;
    wait_for(
        "three collection cycles",
        Duration::from_secs(30),
        || async { (jobs_cycles(&sim) >= 3).then_some(()) },
    )
    .await;
    let before = http.with(|r| r.metrics.len());
    wait_for(
        "an HTTP export after three cycles",
        Duration::from_secs(20),
        || async { (http.with(|r| r.metrics.len()) > before + 1).then_some(()) },
    )
    .await;

    // Exact values over HTTP, as over gRPC (`pipeline.rs`).
    let exports = http.with(|r| r.metrics.clone());
    for (name, series) in &expected(&sim) {
        if series.is_empty() {
            continue;
        }
        let actual = otlp_series(&exports, name).unwrap_or_else(|| panic!("{name} not pushed"));
        assert_series_equal(name, &actual, series);
    }
    // Every request went to /v1/<signal>, as protobuf, with the variable's header.
    let arrivals = http.arrivals();
    assert!(arrivals.iter().any(|a| a.path == "/v1/metrics"));
    for a in &arrivals {
        assert!(
            a.headers
                .contains(&("x-tenant".into(), "backup team".into())),
            "{a:?}"
        );
        assert!(
            a.headers
                .contains(&("content-type".into(), "application/x-protobuf".into()))
        );
    }
    // The resource: OTEL_SERVICE_NAME wins, the variable's other keys arrive and beat the
    // agent's own defaults.
    let resource = exports[0].resource_metrics[0]
        .resource
        .clone()
        .unwrap_or_default();
    let resource_attr = |key: &str| attr(&resource.attributes, key);
    assert_eq!(
        resource_attr("service.name").as_deref(),
        Some("nbu-from-env")
    );
    assert_eq!(
        resource_attr("deployment.environment.name").as_deref(),
        Some("prod")
    );
    assert_eq!(
        resource_attr("service.instance.id").as_deref(),
        Some("inst-7")
    );
    assert!(resource_attr("host.name").is_some());

    // Job events over HTTP to /v1/logs.
    wait_for("job events over HTTP", Duration::from_secs(30), || async {
        http.with(|r| !r.logs.is_empty()).then_some(())
    })
    .await;
    assert!(http.arrivals().iter().any(|a| a.path == "/v1/logs"));
    // Spans go to the traces endpoint over gRPC, none over HTTP: one span through the
    // agent's tracer provider (this test installs no subscriber of its own).
    {
        use opentelemetry::trace::{Tracer as _, TracerProvider as _};
        let provider = running
            .pipeline
            .tracer_provider
            .as_ref()
            .expect("traces are on");
        provider.tracer("test").in_span("probe", |_| {});
        let _ = provider.force_flush();
    }
    wait_for("spans over gRPC", Duration::from_secs(30), || async {
        grpc.with(|r| !r.traces.is_empty()).then_some(())
    })
    .await;
    assert!(
        http.with(|r| r.traces.is_empty()),
        "no span went to the HTTP endpoint"
    );
    assert!(grpc.with(|r| r.metrics.is_empty() && r.logs.is_empty()));
    running.stop().await;
    http.stop().await;
    grpc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_export_answered_503_is_retried_after_retry_after_within_its_timeout() {
    let sim = start_sim(SimConfig {
        jobs: 200,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let http = HttpReceiver::start("127.0.0.1:0".parse().unwrap()).await;
    // The first two requests are refused, asking for a second's wait each.
    http.script(&[(503, Some("1")), (429, Some("1"))]);
    let state = tempfile::tempdir().unwrap();
    let mut yaml = yaml(&sim.base_url(), false, state.path());
    yaml = yaml.replace(
        "  export_interval: 1s\n  timeout: 900ms\n",
        "  export_interval: 10s\n  timeout: 5s\n",
    );
    yaml = yaml.replace("traces:\n  enabled: true\n", "");
    let config = load(
        &yaml,
        &[
            ("NBU_KEY", KEY),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &http.endpoint()),
        ],
    );
    let running = Running::start_with(config).await;
    wait_for(
        "a metric export accepted",
        Duration::from_secs(40),
        || async { http.with(|r| !r.metrics.is_empty()).then_some(()) },
    )
    .await;
    let arrivals = http.arrivals();
    assert!(arrivals.len() >= 3, "{arrivals:?}");
    let (first, second, third) = (&arrivals[0], &arrivals[1], &arrivals[2]);
    assert_eq!((first.status, second.status, third.status), (503, 429, 200));
    assert!(
        second.at - first.at >= Duration::from_millis(950),
        "Retry-After honoured"
    );
    assert!(
        third.at - second.at >= Duration::from_millis(950),
        "Retry-After honoured"
    );
    assert!(
        third.at - first.at < Duration::from_secs(5),
        "within the export's timeout"
    );
    running.stop().await;
    http.stop().await;
}
