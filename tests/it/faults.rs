//! The fault matrix: every way a NetBackup server can misbehave, one at a time, against the
//! real binary, while a second, healthy site is collected beside it.
//!
//! For every fault: the process keeps running; the error is typed and counted as
//! `nbu_collection_errors_total{site,source,kind}`; it is logged at most once per cycle;
//! `nbu_up` of the faulty site is 0 when none of its sources can be collected and stays 1 when
//! only its jobs fail (storage is still collected, as the Go exporter counts it), the healthy
//! site stays up with fresh data; and the faulty site recovers within about one interval
//! after the fault clears.

use std::net::SocketAddr;
use std::time::Duration;

use nbu_sim::{ApiVersion, Fault, FaultTarget, LiveConfig, SimConfig, Simulator};

use crate::common::process::{AgentProcess, free_port};
use crate::common::{start_sim, wait_for};
use crate::prometheus::{Exposition, scrape, value};

const KEY: &str = "k-faults";

struct Matrix {
    agent: AgentProcess,
    metrics_url: String,
    bad: Simulator,
    bad_addr: SocketAddr,
}

impl Matrix {
    async fn scrape(&self) -> Exposition {
        scrape(&self.metrics_url).await
    }

    fn errors(families: &Exposition, source: &str, kind: &str) -> f64 {
        value(
            families,
            "nbu_collection_errors_total",
            &[("site", "bad"), ("source", source), ("kind", kind)],
        )
        .unwrap_or(0.0)
    }

    /// Applies a fault with `inject`, checks the effects (`nbu_up` of the bad site is `up`
    /// meanwhile), clears it with `clear`, checks recovery.
    #[allow(clippy::too_many_arguments)]
    async fn check(
        &mut self,
        name: &str,
        source: &str,
        kind: &str,
        up: f64,
        inject: impl AsyncFnOnce(&mut Matrix),
        clear: impl AsyncFnOnce(&mut Matrix),
    ) {
        let before = Self::errors(&self.scrape().await, source, kind);
        let log_offset = self.agent.stderr().len();
        inject(self).await;
        let families = wait_for(
            &format!("{name}: a {kind} error counted for {source}"),
            Duration::from_secs(60),
            || async {
                let f = self.scrape().await;
                (Self::errors(&f, source, kind) > before
                    && value(&f, "nbu_up", &[("site", "bad")]) == Some(up))
                .then_some(f)
            },
        )
        .await;
        let ok_collected = |f: &Exposition| {
            value(
                f,
                "nbu_last_scrape_timestamp_seconds",
                &[("site", "ok"), ("source", "jobs")],
            )
        };
        let ok_then = ok_collected(&families);
        // A few more failing cycles of the bad site, during which the healthy site goes on
        // collecting: isolation, whatever the speed of the machine.
        let first = Self::errors(&families, source, kind);
        let families_late = wait_for(
            &format!("{name}: two more failing cycles, and the ok site collecting meanwhile"),
            Duration::from_secs(60),
            || async {
                let f = self.scrape().await;
                (Self::errors(&f, source, kind) >= first + 2.0 && ok_collected(&f) > ok_then)
                    .then_some(f)
            },
        )
        .await;
        for f in [&families, &families_late] {
            assert_eq!(
                value(f, "nbu_up", &[("site", "bad")]),
                Some(up),
                "{name}: nbu_up of the faulty site"
            );
            assert_eq!(
                value(f, "nbu_up", &[("site", "ok")]),
                Some(1.0),
                "{name}: ok site down"
            );
            assert_eq!(
                value(f, "nbu_source_stale", &[("site", "ok"), ("source", "jobs")]),
                Some(0.0),
                "{name}: the healthy site's data went stale"
            );
        }
        let failed_cycles = Self::errors(&self.scrape().await, source, kind) - before;
        let log = self.agent.stderr()[log_offset..].to_owned();
        let lines = log
            .lines()
            .filter(|l| l.contains("collection failed") && l.contains("site=bad"))
            .count();
        assert!(lines >= 1, "{name}: the failure was not logged:\n{log}");
        // One line per failed cycle (plus one logged after the last scrape).
        assert!(
            (lines as f64) <= failed_cycles + 1.0,
            "{name}: {lines} log lines for {failed_cycles} failed cycles (at most one per cycle)"
        );
        assert!(!log.contains(KEY), "{name}: the key was logged");
        assert!(self.agent.is_running(), "{name}: the agent died");

        // The bad site's jobs have not been collected since the fault: a newer success is
        // the recovery.
        let bad_jobs = |f: &Exposition| {
            value(
                f,
                "nbu_last_scrape_timestamp_seconds",
                &[("site", "bad"), ("source", "jobs")],
            )
        };
        let failing_since = bad_jobs(&self.scrape().await);
        clear(self).await;
        // Recovery: the next cycle after the fault cleared succeeds.
        wait_for(
            &format!("{name}: recovery"),
            Duration::from_secs(90),
            || async {
                let f = self.scrape().await;
                (value(&f, "nbu_up", &[("site", "bad")]) == Some(1.0)
                    && bad_jobs(&f) > failing_since)
                    .then_some(())
            },
        )
        .await;
    }

    /// A fault of the jobs endpoint only: the site stays up, its storage still collected.
    async fn fault(&mut self, name: &str, kind: &str, fault: Fault) {
        let f2 = fault.clone();
        self.check(
            name,
            "jobs",
            kind,
            1.0,
            async move |m: &mut Matrix| m.bad.set_fault(FaultTarget::Jobs, f2, None),
            async |m: &mut Matrix| m.bad.clear_faults(),
        )
        .await;
    }
}

fn status(code: u16, retry_after: Option<&str>) -> Fault {
    Fault::Status {
        code,
        retry_after: retry_after.map(str::to_owned),
        body: None,
    }
}

/// A living site: every delta has jobs to read, so pagination faults have pages to break.
fn sim_config() -> SimConfig {
    SimConfig {
        jobs: 400,
        storage_units: 6,
        api_key: KEY.into(),
        live: Some(LiveConfig {
            churn_per_minute: 240,
            ..LiveConfig::default()
        }),
        ..SimConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_is_typed_counted_isolated_and_recovered_from() {
    let ok = start_sim(sim_config()).await;
    let bad_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let bad = Simulator::start(sim_config(), bad_addr).await.unwrap();
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let collection = "    collection:\n      jobs_interval: 1s\n      storage_ttl: 1s\n      request_timeout: 800ms\n      max_retries: 1\n      max_retry_time: 3s\n      jobs_window: 72h\n      jobs_page_size: 50\n";
    let yaml = format!(
        "sites:\n  - name: ok\n    url: {}\n    api_key: {KEY}\n{collection}  - name: bad\n    url: {}\n    api_key: {KEY}\n{collection}server:\n  listen: 127.0.0.1:{port}\n  prometheus_bridge: true\notlp:\n  enabled: false\n",
        ok.base_url(),
        bad.base_url()
    );
    let agent = AgentProcess::start(dir.path(), &yaml, port, &[]).await;
    let mut m = Matrix {
        agent,
        metrics_url: format!("http://127.0.0.1:{port}/metrics"),
        bad,
        bad_addr,
    };

    m.fault("HTTP 401", "unauthorized", status(401, None)).await;
    m.fault("HTTP 403", "unauthorized", status(403, None)).await;
    m.fault("HTTP 404", "server_status", status(404, None))
        .await;
    m.fault("HTTP 500", "server_status", status(500, None))
        .await;
    m.fault("HTTP 502", "server_status", status(502, Some("0")))
        .await;
    m.fault("HTTP 503", "server_status", status(503, Some("0")))
        .await;
    m.fault(
        "429, Retry-After in seconds",
        "rate_limited",
        status(429, Some("1")),
    )
    .await;
    let date = (chrono::Utc::now() + chrono::Duration::seconds(1))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    m.fault(
        "429, Retry-After as a date",
        "rate_limited",
        status(429, Some(&date)),
    )
    .await;
    m.fault("an HTML page with 200", "not_json", Fault::HtmlBody)
        .await;
    m.fault("truncated JSON", "decode", Fault::TruncatedJson)
        .await;
    m.fault("a wrong content type", "not_json", Fault::WrongContentType)
        .await;
    m.fault("invalid UTF-8", "decode", Fault::InvalidUtf8).await;
    m.fault("an empty body", "decode", Fault::EmptyBody).await;
    m.fault(
        "a cursor that repeats forever",
        "pagination",
        Fault::RepeatCursor,
    )
    .await;
    m.fault(
        "far more items than asked",
        "pagination",
        Fault::OversizedPage { items: 1_000 },
    )
    .await;
    m.fault("a reset mid-body", "connect", Fault::ResetMidBody)
        .await;
    m.fault("a request timeout", "timeout", Fault::Hang).await;
    m.fault(
        "a body dribbling one byte per second",
        "timeout",
        Fault::SlowBody {
            bytes_per_second: 1,
        },
    )
    .await;
    m.check(
        "406 for every version",
        "version",
        "version_unsupported",
        0.0,
        async |m: &mut Matrix| m.bad.set_supported_versions(vec![]),
        async |m: &mut Matrix| {
            m.bad
                .set_supported_versions(ApiVersion::NEWEST_FIRST.to_vec())
        },
    )
    .await;
    m.check(
        "connection refused",
        "jobs",
        "connect",
        0.0,
        async |m: &mut Matrix| {
            let stopped = Simulator::start(sim_config(), "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            let old = std::mem::replace(&mut m.bad, stopped);
            old.shutdown().await;
        },
        async |m: &mut Matrix| {
            let back = Simulator::start(sim_config(), m.bad_addr).await.unwrap();
            let old = std::mem::replace(&mut m.bad, back);
            old.shutdown().await;
        },
    )
    .await;

    // Nulls, missing and unknown fields, numbers beyond 2^63, 1e308: not an error. The page is
    // used, the bad values are skipped and counted, the site stays up.
    m.bad
        .set_fault(FaultTarget::Jobs, Fault::HostileValues, None);
    let families = wait_for(
        "hostile values counted",
        Duration::from_secs(20),
        || async {
            let f = m.scrape().await;
            let skipped = value(
                &f,
                "nbu_source_invalid_values",
                &[("site", "bad"), ("source", "jobs")],
            )?;
            (skipped > 0.0).then_some(f)
        },
    )
    .await;
    assert_eq!(value(&families, "nbu_up", &[("site", "bad")]), Some(1.0));
    m.bad.clear_faults();

    assert!(m.agent.is_running());
    m.agent.terminate().await;
    ok.shutdown().await;
    m.bad.shutdown().await;
}

/// One answer whose `Date` jumps a year ahead (or back) would move the jobs window past every
/// stored job. The agent refuses it: a `clock_jump` error for that cycle, every job count kept,
/// and the next answer on the true clock collected as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_from_a_jumping_clock_loses_no_jobs() {
    let sim = start_sim(SimConfig {
        jobs: 400,
        storage_units: 2,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "sites:\n  - name: bad\n    url: {}\n    api_key: {KEY}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 800ms\n      max_retries: 0\n      jobs_window: 72h\nserver:\n  listen: 127.0.0.1:{port}\n  prometheus_bridge: true\notlp:\n  enabled: false\n",
        sim.base_url()
    );
    let mut agent = AgentProcess::start(dir.path(), &yaml, port, &[]).await;
    let url = format!("http://127.0.0.1:{port}/metrics");
    let jobs =
        |f: &Exposition| -> f64 { f.get("nbu_jobs_count").map_or(0.0, |s| s.values().sum()) };
    let collected = |f: &Exposition| {
        value(
            f,
            "nbu_last_scrape_timestamp_seconds",
            &[("site", "bad"), ("source", "jobs")],
        )
    };
    let stored = wait_for("the window read", Duration::from_secs(30), || async {
        let f = scrape(&url).await;
        (jobs(&f) > 0.0).then(|| jobs(&f))
    })
    .await;
    for (name, by) in [
        ("a year ahead", chrono::Duration::days(365)),
        ("a year back", chrono::Duration::days(-365)),
    ] {
        let before = Matrix::errors(&scrape(&url).await, "jobs", "clock_jump");
        sim.set_fault(FaultTarget::Jobs, Fault::ShiftedDate { by }, Some(1));
        let refused = wait_for(
            &format!("{name}: a clock_jump counted"),
            Duration::from_secs(30),
            || async {
                let f = scrape(&url).await;
                assert_eq!(jobs(&f), stored, "{name}: the job counts changed");
                (Matrix::errors(&f, "jobs", "clock_jump") > before).then_some(f)
            },
        )
        .await;
        let since = collected(&refused);
        wait_for(
            &format!("{name}: collected again on the true clock"),
            Duration::from_secs(30),
            || async {
                let f = scrape(&url).await;
                assert_eq!(jobs(&f), stored, "{name}: the job counts changed");
                (collected(&f) > since).then_some(())
            },
        )
        .await;
    }
    let log = agent.stderr();
    assert!(
        log.contains("clock jumped"),
        "the refusal is logged:\n{log}"
    );
    assert!(agent.is_running());
    agent.terminate().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_jobs_under_fresh_cursors_stop_the_full_walk_with_a_counted_error() {
    // A site holding 50 jobs whose server answers every page of a walk with the same jobs
    // under a cursor it never sent before: no cursor repeats, yet the walk goes nowhere.
    let sim = start_sim(SimConfig {
        jobs: 50,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    sim.set_fault(FaultTarget::Jobs, Fault::FreshCursor, None);
    let site = crate::common::site_yaml(
        "fresh",
        &sim.base_url(),
        "      jobs_interval: 10s\n      jobs_window: 72h\n      jobs_page_size: 10\n      max_retries: 0\n",
    );
    let running = crate::pipeline::Running::start_with(crate::common::load(
        &crate::common::bridged::yaml(&site, ""),
        &[("NBU_KEY", KEY)],
    ))
    .await;
    let errors = |f: &Exposition| {
        value(
            f,
            "nbu_collection_errors_total",
            &[
                ("site", "fresh"),
                ("source", "jobs"),
                ("kind", "pagination"),
            ],
        )
        .unwrap_or(0.0)
    };
    wait_for(
        "the walk stopped with a pagination error",
        Duration::from_secs(30),
        || async { (errors(&scrape(&running.metrics_url).await) >= 1.0).then_some(()) },
    )
    .await;
    // Stopped at the first page that went no further: a handful of pages, not thousands.
    let pages = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/admin/jobs"))
        .count();
    assert!(pages < 60, "{pages} pages read from a site holding 50 jobs");
    // Visible where an operator looks: the site's last error names what happened.
    let ready: serde_json::Value = reqwest::get(&running.readyz_url)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last_error = ready["sites"][0]["last_error"].as_str().unwrap_or_default();
    assert!(
        last_error.contains("jobId slice") && last_error.contains("pagination stopped"),
        "{ready}"
    );
    running.stop().await;
    sim.shutdown().await;
}
