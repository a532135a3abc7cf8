//! Spans of the agent's own work, pushed over OTLP, and the API key kept out of every span,
//! log line (at trace level), error and `Debug` output. Its own test binary: it installs the
//! process-wide tracing subscriber.

#[path = "it/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nbu_otel::Agent;
use nbu_otel::collect::SiteCollector;
use nbu_otel::telemetry::pipeline::Pipeline;
use nbu_sim::{Fault, FaultTarget, SimConfig};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_proto::tonic::trace::v1::Span;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use common::otlp::{Receiver, attr};
use common::{load, start_sim, wait_for};

const KEY: &str = "TRACE-k3y-must-never-leak-7f3a";

/// A log writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn all_spans(receiver: &Receiver) -> Vec<Span> {
    receiver.with(|r| {
        r.traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| ss.spans.clone())
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_have_cycle_to_request_structure_and_no_secret_leaks() {
    let sim = start_sim(SimConfig {
        jobs: 400,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let yaml = format!(
        "sites:\n{}otlp:\n  endpoint: {}\n  export_interval: 1s\n  timeout: 1s\ntraces:\n  enabled: true\n  sampling_ratio: 1.0\n",
        common::site_yaml(
            "tracesite",
            &sim.base_url(),
            "      jobs_interval: 1s\n      request_timeout: 900ms\n      jobs_page_size: 100\n      max_retries: 1\n"
        ),
        receiver.endpoint()
    );
    let config = load(&yaml, &[("NBU_KEY", KEY)]);
    let pipeline = Pipeline::build(&config).expect("pipeline builds");
    let tracer = pipeline
        .tracer_provider
        .as_ref()
        .expect("traces enabled")
        .tracer("nbu-otel");
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(move || writer.clone())
                .with_ansi(false),
        )
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .init();

    // Faults along the way: a 503 that is retried, an HTML page, a refused key.
    sim.set_fault(
        FaultTarget::Jobs,
        Fault::Status {
            code: 503,
            retry_after: Some("0".into()),
            body: Some(format!("<html>echo of {KEY}</html>")),
        },
        Some(1),
    );
    let mut agent = Agent::new(config.clone(), &pipeline.meter_provider);
    agent.start();
    wait_for("a few collections", Duration::from_secs(30), || async {
        // Cycles begun: the newest-job probe of a full walk, or the first page of a delta.
        let n = sim
            .requests()
            .iter()
            .filter(|r| {
                r.query.contains("sort=-jobId")
                    || (r.query.contains("lastUpdateTime") && !r.query.contains("page%5Bafter%5D"))
            })
            .count();
        (n >= 2).then_some(())
    })
    .await;
    sim.set_fault(FaultTarget::Jobs, Fault::HtmlBody, Some(1));
    // A second, misconfigured collector: its 401 and errors must not show the key either.
    let mut wrong = config.sites[0].clone();
    wrong.api_key = secrecy::SecretString::from(format!("{KEY}-wrong"));
    let wrong_collector = SiteCollector::new(wrong).unwrap();
    let report = wrong_collector.collect_all().await;
    let errors: Vec<String> = report
        .errors()
        .iter()
        .map(|e| format!("{e} {e:?}"))
        .collect();
    assert!(!errors.is_empty());

    wait_for(
        "request spans at the receiver, the failed one among them",
        Duration::from_secs(60),
        || async {
            let spans = all_spans(&receiver);
            let read = spans.iter().any(|s| {
                s.name == "nbu.request /admin/jobs" && attr(&s.attributes, "nbu.records").is_some()
            });
            let failed = spans
                .iter()
                .any(|s| attr(&s.attributes, "error.type").is_some());
            (read && failed).then_some(())
        },
    )
    .await;
    agent.shutdown().await;

    let spans = all_spans(&receiver);
    let by_id: HashMap<Vec<u8>, &Span> = spans.iter().map(|s| (s.span_id.clone(), s)).collect();
    // A page of jobs: one logical request (internal), its attempt a client span.
    let logical = spans
        .iter()
        .find(|s| {
            s.name == "nbu.request /admin/jobs"
                && attr(&s.attributes, "nbu.page").as_deref() == Some("1")
                && attr(&s.attributes, "error.type").is_none()
                && spans.iter().any(|a| {
                    a.parent_span_id == s.span_id
                        && attr(&a.attributes, "http.response.status_code").as_deref()
                            == Some("200")
                })
        })
        .expect("a request span of a page");
    assert_eq!(logical.kind, 1, "the logical request is internal");
    assert!(attr(&logical.attributes, "nbu.api_version").is_some());
    assert!(attr(&logical.attributes, "nbu.records").is_some());
    assert_eq!(
        attr(&logical.attributes, "site").as_deref(),
        Some("tracesite")
    );
    let request = spans
        .iter()
        .find(|s| s.parent_span_id == logical.span_id)
        .expect("an attempt span");
    assert_eq!(request.name, "GET /admin/jobs");
    assert_eq!(request.kind, 3, "client span");
    assert_eq!(
        attr(&request.attributes, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        attr(&request.attributes, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attr(&request.attributes, "http.request.resend_count"),
        None,
        "a first attempt is no resend"
    );
    let url_full = attr(&request.attributes, "url.full").expect("url.full");
    assert!(
        url_full.starts_with(&format!("{}/admin/jobs?", sim.base_url())),
        "{url_full}"
    );
    assert!(
        url_full.contains("page%5Blimit%5D=") && url_full.contains("sort="),
        "the query is in it: {url_full}"
    );
    assert_eq!(
        attr(&request.attributes, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        attr(&request.attributes, "server.port"),
        Some(sim.addr().port().to_string())
    );
    assert_eq!(
        attr(&request.attributes, "site").as_deref(),
        Some("tracesite")
    );
    // No URL anywhere carries the key, and no span says `nbu.site` any more.
    for s in &spans {
        if let Some(url) = attr(&s.attributes, "url.full") {
            assert!(!url.contains(KEY), "key in url.full: {url}");
        }
        assert!(attr(&s.attributes, "nbu.site").is_none(), "{}", s.name);
        assert!(attr(&s.attributes, "nbu.attempts").is_none(), "{}", s.name);
    }
    // attempt -> request -> jobs source -> cycle.
    let source = by_id
        .get(&logical.parent_span_id)
        .expect("parent span exported");
    assert_eq!(source.name, "nbu.collect.jobs");
    assert_eq!(
        attr(&source.attributes, "site").as_deref(),
        Some("tracesite")
    );
    let cycle = by_id
        .get(&source.parent_span_id)
        .expect("cycle span exported");
    assert_eq!(cycle.name, "nbu.collect");
    assert_eq!(
        attr(&cycle.attributes, "site").as_deref(),
        Some("tracesite")
    );
    assert!(cycle.parent_span_id.is_empty(), "the cycle is a root span");
    // The 503 answered once: one span per attempt under one request, the second a resend.
    let retried = spans
        .iter()
        .find(|s| {
            s.name == "nbu.request /admin/jobs"
                && spans
                    .iter()
                    .filter(|a| a.parent_span_id == s.span_id)
                    .count()
                    == 2
        })
        .expect("a request retried once");
    let mut attempts: Vec<&Span> = spans
        .iter()
        .filter(|a| a.parent_span_id == retried.span_id)
        .collect();
    attempts.sort_by_key(|a| a.start_time_unix_nano);
    let [first, second] = attempts.as_slice() else {
        unreachable!()
    };
    for a in [first, second] {
        assert_eq!(a.name, "GET /admin/jobs");
        assert_eq!(a.kind, 3, "each attempt is a client span");
        assert_eq!(attr(&a.attributes, "site").as_deref(), Some("tracesite"));
        assert_eq!(
            attr(&a.attributes, "url.full"),
            Some(attr(&first.attributes, "url.full").unwrap())
        );
    }
    assert_eq!(
        attr(&first.attributes, "http.response.status_code").as_deref(),
        Some("503")
    );
    assert_eq!(
        attr(&first.attributes, "error.type").as_deref(),
        Some("server_status")
    );
    assert_eq!(
        first.status.as_ref().map(|s| s.code),
        Some(2),
        "error status"
    );
    assert_eq!(attr(&first.attributes, "http.request.resend_count"), None);
    assert_eq!(
        attr(&second.attributes, "http.request.resend_count").as_deref(),
        Some("1")
    );
    assert_eq!(
        attr(&second.attributes, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(attr(&second.attributes, "error.type"), None);
    // The request succeeded in the end: no error on it.
    assert_eq!(attr(&retried.attributes, "error.type"), None);
    // A failed request carries error.type.
    assert!(
        spans
            .iter()
            .any(|s| attr(&s.attributes, "error.type").is_some()),
        "no span recorded error.type"
    );
    // W3C trace context reached NetBackup, with the request's trace id.
    let trace_hex: String = request
        .trace_id
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        sim.requests()
            .iter()
            .filter_map(|r| r.traceparent.clone())
            .any(|tp| tp.contains(&trace_hex)),
        "no traceparent with trace id {trace_hex}"
    );

    // The key appears nowhere: spans (attributes, events, status), logs, errors, Debug.
    let span_text = format!("{spans:?}");
    assert!(!span_text.contains(KEY), "key in a span");
    let log_text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        log_text.contains("TRACE") || log_text.contains("DEBUG"),
        "trace logging was on"
    );
    assert!(!log_text.contains(KEY), "key in a log line");
    for e in &errors {
        assert!(!e.contains(KEY), "key in an error: {e}");
    }
    let debug = format!("{config:?} {wrong_collector:?}");
    assert!(!debug.contains(KEY), "key in Debug output");
    pipeline.shutdown(Duration::from_secs(5)).await;
    receiver.stop().await;
    sim.shutdown().await;
}
