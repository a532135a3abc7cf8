//! Typed errors for refused keys, rate limits and malformed responses; never a panic.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nbu_otel::collect::SiteCollector;
use nbu_otel::netbackup::{ApiError, ApiFailure, ApiVersion, DecodeKind};
use nbu_sim::{Fault, FaultTarget, SimConfig, Simulator};

use crate::common::{site, start_sim};

const KEY: &str = "k-errors-0123456789";

async fn sim() -> Simulator {
    start_sim(SimConfig {
        jobs: 300,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await
}

fn collector(sim: &Simulator, key: &str, collection: &str) -> SiteCollector {
    SiteCollector::new(site("errsite", &sim.base_url(), key, collection)).expect("client builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_names_the_site_and_never_the_key() {
    let sim = sim().await;
    let wrong = "WRONG-key-abcdefghijkl";
    let c = collector(&sim, wrong, "");
    let err = c.negotiate().await.expect_err("401");
    assert!(
        matches!(&err.failure, ApiFailure::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    let text = format!("{err} {err:?}");
    assert!(text.contains("errsite"), "{text}");
    assert!(!text.contains(wrong) && !text.contains(KEY), "{text}");
    assert_eq!(err.kind(), "unauthorized");
    // Not retried: a refused key does not get better by asking again.
    assert_eq!(sim.requests().len(), 1);
    sim.shutdown().await;
}

/// A single 429 with `retry_after` is retried once, after a wait within `bounds`.
async fn retry_after_is_honoured(
    retry_after: String,
    bounds: impl std::ops::RangeBounds<Duration> + std::fmt::Debug,
) {
    let sim = sim().await;
    let c = collector(&sim, KEY, "");
    sim.set_fault(
        FaultTarget::Jobs,
        Fault::Status {
            code: 429,
            retry_after: Some(retry_after.clone()),
            body: None,
        },
        Some(1),
    );
    let version = c.negotiate().await.expect("retried after the 429");
    assert_eq!(version, ApiVersion::V14_0);
    let log = sim.requests();
    assert_eq!(log.len(), 2, "one 429 then one success");
    assert_eq!(log[0].status, 429);
    assert_eq!(log[1].status, 200);
    let waited = log[1].at.duration_since(log[0].at);
    assert!(
        bounds.contains(&waited),
        "Retry-After {retry_after:?}: waited {waited:?}, expected {bounds:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_the_retry_after_seconds() {
    // Seconds: exact, so the lower bound is strict; the upper one only rules out a wait of a
    // different order (an exponential backoff, the retry budget), whatever the machine's load.
    retry_after_is_honoured("2".into(), Duration::from_secs(2)..Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_an_http_date() {
    // HTTP dates have one-second resolution: allow a second of rounding.
    let at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let expected = Duration::from_secs(3);
    retry_after_is_honoured(
        date,
        expected.saturating_sub(Duration::from_millis(1100))..=expected + Duration::from_secs(20),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_beyond_the_budget_gives_up_at_once() {
    let sim = sim().await;
    let c = collector(&sim, KEY, "");
    sim.set_fault(
        FaultTarget::Jobs,
        Fault::Status {
            code: 429,
            retry_after: Some("3600".into()),
            body: None,
        },
        None,
    );
    // Generous: what matters is not waiting the hour asked for.
    let err = tokio::time::timeout(Duration::from_secs(120), c.negotiate())
        .await
        .expect("gave up without waiting an hour")
        .expect_err("rate limited");
    assert!(
        matches!(&err.failure, ApiFailure::RateLimited { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("retry budget"), "{err}");
    assert_eq!(sim.requests().len(), 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_asking_to_wait_beyond_max_retry_time_says_so() {
    let sim = sim().await;
    let c = collector(
        &sim,
        KEY,
        "      max_retries: 3\n      max_retry_time: 10s\n",
    );
    sim.set_fault(
        FaultTarget::Jobs,
        Fault::Status {
            code: 503,
            retry_after: Some("86400".into()),
            body: Some(r#"{"errorCode":503,"errorMessage":"maintenance"}"#.into()),
        },
        None,
    );
    let err = tokio::time::timeout(Duration::from_secs(60), c.negotiate())
        .await
        .expect("gave up without waiting a day")
        .expect_err("503");
    let text = err.to_string();
    assert!(text.contains("HTTP 503"), "{text}");
    assert!(text.contains("maintenance"), "the server's words: {text}");
    assert!(
        text.contains("would wait 1day (the server's Retry-After)"),
        "the wait asked: {text}"
    );
    assert!(
        text.contains("beyond the retry budget (max_retry_time 10s"),
        "the bound: {text}"
    );
    assert_eq!(sim.requests().len(), 1, "no retry was sent");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let sim = sim().await;
    let c = collector(&sim, KEY, "      max_retries: 2\n");
    sim.set_fault(
        FaultTarget::Any,
        Fault::Status {
            code: 503,
            retry_after: Some("0".into()),
            body: Some(r#"{"errorCode":503,"errorMessage":"maintenance"}"#.into()),
        },
        None,
    );
    let err = c.negotiate().await.expect_err("503 every time");
    match &err.failure {
        ApiFailure::Status {
            status: 503,
            attempts: 3,
            snippet,
            ..
        } => assert!(snippet.contains("maintenance"), "{snippet}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.requests().len(), 3);
    sim.shutdown().await;
}

async fn fault_gives(fault: Fault, check: impl Fn(&ApiError) -> bool, what: &str) {
    let sim = sim().await;
    let c = collector(
        &sim,
        KEY,
        "      request_timeout: 1s\n      max_retries: 0\n",
    );
    let version = c.negotiate().await.expect("negotiates before the fault");
    sim.set_fault(FaultTarget::Jobs, fault.clone(), Some(1));
    let outcome = c.collect_jobs(version, None).await;
    let err = outcome.result.expect_err(what);
    assert!(check(&err), "{what}: got {err:?}");
    let text = err.to_string();
    assert!(text.contains("errsite") && !text.contains(KEY), "{text}");
    // The next collection, without the fault, succeeds: nothing is left broken.
    let again = c.collect_jobs(version, None).await;
    assert!(
        again.result.is_ok(),
        "{what}: recovery failed: {:?}",
        again.result.err()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_malformed_response_gives_its_typed_error() {
    fault_gives(
        Fault::HtmlBody,
        |e| matches!(&e.failure, ApiFailure::Decode { kind: DecodeKind::NotJson, snippet, .. } if snippet.contains("<")),
        "an HTML page",
    )
    .await;
    fault_gives(
        Fault::TruncatedJson,
        |e| {
            matches!(
                &e.failure,
                ApiFailure::Decode {
                    kind: DecodeKind::InvalidJson,
                    ..
                }
            )
        },
        "truncated JSON",
    )
    .await;
    fault_gives(
        Fault::WrongContentType,
        |e| {
            matches!(
                &e.failure,
                ApiFailure::Decode {
                    kind: DecodeKind::NotJson,
                    ..
                }
            )
        },
        "a wrong content type",
    )
    .await;
    fault_gives(
        Fault::InvalidUtf8,
        |e| {
            matches!(
                &e.failure,
                ApiFailure::Decode {
                    kind: DecodeKind::InvalidJson,
                    ..
                }
            )
        },
        "invalid UTF-8",
    )
    .await;
    fault_gives(
        Fault::EmptyBody,
        |e| {
            matches!(
                &e.failure,
                ApiFailure::Decode {
                    kind: DecodeKind::Empty,
                    ..
                }
            )
        },
        "an empty body",
    )
    .await;
    fault_gives(
        Fault::Status {
            code: 500,
            retry_after: None,
            body: Some("<html>Internal error</html>".into()),
        },
        |e| matches!(&e.failure, ApiFailure::Status { status: 500, .. }),
        "a 500",
    )
    .await;
    fault_gives(
        Fault::Hang,
        |e| matches!(&e.failure, ApiFailure::Timeout { .. }),
        "a server that never answers",
    )
    .await;
    fault_gives(
        Fault::SlowBody {
            bytes_per_second: 1,
        },
        |e| matches!(&e.failure, ApiFailure::Timeout { .. }),
        "a body dribbling one byte per second",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_faults_stop_with_a_pagination_error() {
    for fault in [Fault::RepeatCursor, Fault::OversizedPage { items: 1_000 }] {
        let sim = sim().await;
        let c = collector(
            &sim,
            KEY,
            "      max_retries: 0\n      jobs_page_size: 50\n      jobs_window: 72h\n",
        );
        let version = c.negotiate().await.expect("negotiates");
        sim.set_fault(FaultTarget::Jobs, fault.clone(), None);
        let outcome = c.collect_jobs(version, None).await;
        let err = outcome.result.expect_err("pagination must fail");
        assert!(
            matches!(&err.failure, ApiFailure::Pagination { .. }),
            "{fault:?}: {err:?}"
        );
        assert!(
            sim.requests().len() < 20,
            "{fault:?}: {} requests",
            sim.requests().len()
        );
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_times_out_once_is_retried_and_the_walk_completes() {
    let sim = sim().await;
    let c = collector(
        &sim,
        KEY,
        "      request_timeout: 1s\n      max_retries: 2\n      max_retry_time: 60s\n      jobs_page_size: 50\n      jobs_window: 72h\n",
    );
    let version = c.negotiate().await.expect("negotiates");
    let reference = c
        .collect_jobs(version, None)
        .await
        .result
        .expect("a clean walk");
    // The next page request never gets an answer; its retry does.
    sim.set_fault(FaultTarget::Jobs, Fault::Hang, Some(1));
    let outcome = c.collect_jobs(version, None).await;
    let summary = outcome
        .result
        .expect("one slow request does not fail the walk");
    assert_eq!(summary.jobs, reference.jobs);
    assert_eq!(summary.counts, reference.counts);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_gives_a_timeout_after_the_retries() {
    let sim = sim().await;
    let c = collector(
        &sim,
        KEY,
        "      request_timeout: 500ms\n      max_retries: 2\n      max_retry_time: 60s\n",
    );
    let version = c.negotiate().await.expect("negotiates");
    sim.set_fault(FaultTarget::Jobs, Fault::Hang, None);
    let err = c
        .collect_jobs(version, None)
        .await
        .result
        .expect_err("never answered");
    match &err.failure {
        ApiFailure::Timeout { attempts: 3, .. } => {}
        other => panic!("expected a timeout after 3 attempts, got {other:?}"),
    }
    assert!(err.to_string().contains("3 attempts"), "{err}");
    sim.shutdown().await;
}

/// The fields recorded on `nbu.request` spans after their creation, and the fields of every
/// attempt (`nbu.request.attempt`), by attempt.
#[derive(Clone, Default)]
struct RequestSpanFields(Arc<Mutex<Fields>>, Arc<Mutex<Vec<Fields>>>);

/// Field names and values, in the order recorded.
type Fields = Vec<(String, String)>;

/// Which attempt a span is: its index in the attempts' fields.
struct AttemptIndex(usize);

struct FieldVisitor<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S> tracing_subscriber::Layer<S> for RequestSpanFields
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().name() == "nbu.request.attempt" {
            let mut attempts = self.1.lock().unwrap();
            let mut fields = Vec::new();
            attrs.record(&mut FieldVisitor(&mut fields));
            attempts.push(fields);
            if let Some(span) = ctx.span(id) {
                span.extensions_mut()
                    .insert(AttemptIndex(attempts.len() - 1));
            }
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let Some(span) = ctx.span(id) else { return };
        if span.metadata().name() == "nbu.request" {
            let mut fields = self.0.lock().unwrap();
            values.record(&mut FieldVisitor(&mut fields));
        } else if let Some(AttemptIndex(i)) = span.extensions().get::<AttemptIndex>() {
            let mut attempts = self.1.lock().unwrap();
            values.record(&mut FieldVisitor(&mut attempts[*i]));
        }
    }
}

#[tokio::test]
async fn a_request_span_ends_in_error_when_the_retry_budget_runs_out() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let fields = RequestSpanFields::default();
    let subscriber = tracing_subscriber::registry().with(fields.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let sim = sim().await;
    let c = collector(
        &sim,
        KEY,
        "      max_retries: 3\n      max_retry_time: 10s\n",
    );
    // The server asks for an hour: far beyond the retry budget, so retrying stops at once.
    sim.set_fault(
        FaultTarget::Jobs,
        Fault::Status {
            code: 503,
            retry_after: Some("3600".into()),
            body: None,
        },
        None,
    );
    let err = c.negotiate().await.expect_err("503 beyond the budget");
    assert_eq!(err.kind(), "server_status");
    let recorded = fields.0.lock().unwrap().clone();
    let has = |k: &str, v: &str| recorded.iter().any(|(key, value)| key == k && value == v);
    assert!(has("error.type", "server_status"), "{recorded:?}");
    assert!(has("otel.status_code", "error"), "{recorded:?}");
    // One attempt, a client span of its own that failed the same way, no resend.
    let attempts = fields.1.lock().unwrap().clone();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    let attempt = &attempts[0];
    let has = |k: &str, v: &str| attempt.iter().any(|(key, value)| key == k && value == v);
    assert!(has("error.type", "server_status"), "{attempt:?}");
    assert!(has("otel.status_code", "error"), "{attempt:?}");
    assert!(has("http.response.status_code", "503"), "{attempt:?}");
    assert!(has("otel.kind", "client"), "{attempt:?}");
    assert!(
        !attempt
            .iter()
            .any(|(key, _)| key == "http.request.resend_count"),
        "{attempt:?}"
    );
    sim.shutdown().await;
}
