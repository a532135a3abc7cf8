use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

#[derive(Debug, Default)]
struct Recorded(Mutex<Vec<(Counter, String, u64)>>);

impl CounterSink for Recorded {
    fn add(&self, counter: Counter, labels: &[(&'static str, &str)], n: u64) {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((counter, labels.join(","), n));
    }
}

#[test]
fn error_type_is_counted_as_kind() {
    let recorded = Arc::new(Recorded::default());
    let events = Events::counting_in(recorded.clone());
    events.source_failed("a", "jobs", "timeout");
    events.site_task_panicked("a", "boom", 1, Duration::from_secs(1));
    let seen = recorded.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(
        seen,
        vec![
            (
                Counter::CollectionErrors,
                "site=a,source=jobs,kind=timeout".to_owned(),
                1
            ),
            (
                Counter::CollectionErrors,
                "site=a,source=task,kind=panic".to_owned(),
                1
            ),
        ]
    );
}

#[test]
fn a_streak_speaks_when_it_starts_and_when_it_ends() {
    let streak = FailureStreak::new();
    assert_eq!(streak.succeed(), None, "no run to end");
    assert!(streak.fail(), "the first failure starts a run");
    assert!(!streak.fail());
    assert!(!streak.fail());
    let (failures, _) = streak.succeed().expect("the run ends");
    assert_eq!(failures, 3);
    assert_eq!(streak.succeed(), None);
    assert!(streak.fail(), "a new run");
}

/// The log lines written while `emit` runs, as the agent's text format writes them.
fn logged(emit: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, emit);
    let bytes = buffer.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn a_run_of_failed_accepts_is_logged_once_and_its_end_with_the_count() {
    let events = Events::uncounted();
    let streak = FailureStreak::new();
    let log = logged(|| {
        for _ in 0..50 {
            events.accept_failed(&streak, &"too many open files");
        }
        events.accept_succeeded(&streak);
        events.accept_succeeded(&streak);
    });
    assert_eq!(
        log.matches("accepting a connection failed").count(),
        1,
        "{log}"
    );
    assert!(log.contains("too many open files"), "{log}");
    assert_eq!(
        log.matches("accepting connections again").count(),
        1,
        "{log}"
    );
    assert!(log.contains("failed_accepts=50"), "{log}");
}

#[test]
fn each_event_logs_its_message_with_its_fields_and_counts_where_documented() {
    let recorded = Arc::new(Recorded::default());
    let events = Events::counting_in(recorded.clone());
    let log = logged(|| {
        events.cycle_timed_out("a", "the cycle was abandoned after 10m");
        events.reload_applied(&["b".to_owned()], &[], &[], &["otlp"]);
        events.reload_rejected(&"collection.jobs_interval: expected a duration");
        events.sites_beyond_planned(150, 100);
        events.series_overflowed("nbu.up");
        events.export_oversized(2, 4_194_304);
        events.export_partially_rejected(7, "too many labels");
        events.flush_missed(Duration::from_secs(8));
    });
    for expected in [
        "the cycle was abandoned after 10m",
        "error.type=timeout",
        "configuration reloaded",
        "these sections changed but take effect only after a restart",
        "configuration reload failed; still running on the previous configuration",
        "collection.jobs_interval: expected a duration",
        "more sites than the OTLP push has room for",
        "sites=150",
        "metric=nbu.up",
        "a single OTLP data point is larger than otlp.max_message_bytes",
        "max_message_bytes=4194304",
        "the Collector rejected part of an OTLP metric export",
        "rejected_data_points=7",
        "telemetry did not flush before the shutdown deadline",
        "deadline_s=8",
    ] {
        assert!(log.contains(expected), "no {expected:?} in:\n{log}");
    }
    let seen = recorded.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(
        seen,
        vec![
            (
                Counter::CollectionErrors,
                "site=a,source=cycle,kind=timeout".to_owned(),
                1
            ),
            (Counter::ConfigReloads, "result=success".to_owned(), 1),
            (Counter::ConfigReloads, "result=failure".to_owned(), 1),
        ],
        "only the events documented as counted are counted"
    );
}

#[test]
fn job_event_drops_and_export_failures_are_logged_once_per_run_and_dropped_jobs_counted() {
    let recorded = Arc::new(Recorded::default());
    let events = Events::counting_in(recorded.clone());
    let (drops, exports) = (FailureStreak::new(), FailureStreak::new());
    let log = logged(|| {
        for job_id in 0..3 {
            events.job_event_dropped(&drops, "a", job_id, 20_000);
        }
        events.job_events_queued(&drops);
        events.job_events_queued(&drops);
        for _ in 0..4 {
            events.job_events_export_failed(&exports, 12, &"connection refused");
        }
        events.job_events_export_succeeded(&exports);
        events.job_events_export_succeeded(&exports);
    });
    let once = |text: &str| {
        assert_eq!(log.matches(text).count(), 1, "{text:?} in:\n{log}");
    };
    once("job events dropped: events.max_waiting records already wait");
    once("job events queued again after drops");
    once("OTLP export of job events failing");
    once("OTLP export of job events recovered");
    for field in [
        "dropped=3",
        "failed_exports=4",
        "waiting=12",
        "connection refused",
    ] {
        assert!(log.contains(field), "no {field:?} in:\n{log}");
    }
    let seen = recorded.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(
        seen,
        vec![(Counter::JobEvents, "site=a,outcome=dropped".to_owned(), 1); 3],
        "every dropped job is counted, nothing else"
    );
}

#[test]
fn a_job_event_in_the_log_takes_its_severity_as_level() {
    let events = Events::uncounted();
    let log = logged(|| {
        events.job_event_logged("a", 1, JobSeverity::Info, "job 1 succeeded", None);
        events.job_event_logged("a", 2, JobSeverity::Warn, "job 2 partly", Some("status 1"));
        events.job_event_logged("a", 3, JobSeverity::Error, "job 3 failed", Some("media"));
    });
    for (level, body) in [
        ("INFO", "job 1 succeeded"),
        ("WARN", "job 2 partly"),
        ("ERROR", "job 3 failed"),
    ] {
        let line = log
            .lines()
            .find(|line| line.contains(body))
            .unwrap_or_else(|| panic!("no {body:?} in:\n{log}"));
        assert!(line.contains(level), "{body:?} not at {level}: {line}");
    }
    assert!(log.contains("reason=\"media\""), "{log}");
}
