//! Durations: their syntax, their ranges, and the ranges in the reference.

use std::time::Duration;

use super::*;

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
