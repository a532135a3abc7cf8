//! Where metrics go: the path of the Prometheus bridge and the series limit of the push.

use super::*;

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
