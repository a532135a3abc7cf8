//! Reliability under load and failure: a hundred scrapers, the configured request rate, and
//! Collectors that refuse, exhaust or hang.

use std::time::Duration;

use nbu_otel::collect::SiteCollector;
use nbu_sim::SimConfig;

use crate::common::otlp::{Behaviour, Receiver};
use crate::common::process::{AgentProcess, free_port, rss_kib};
use crate::common::site;
use crate::common::{jobs_cycles, start_sim, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_scrapers_for_ten_seconds() {
    let sim = start_sim(SimConfig {
        jobs: 5_000,
        api_key: "k-load".into(),
        ..SimConfig::default()
    })
    .await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "sites:\n  - name: load\n    url: {}\n    api_key: k-load\n    collection:\n      jobs_interval: 2s\n      request_timeout: 1s\nserver:\n  listen: 127.0.0.1:{port}\n  prometheus_bridge: true\notlp:\n  enabled: false\n",
        sim.base_url()
    );
    let child = AgentProcess::start(dir.path(), &yaml, port, &[]).await;
    let pid = child.pid();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let client = reqwest::Client::new();
    let baseline = rss_kib(pid);
    let started = tokio::time::Instant::now();
    let scrapers: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u32, 0u32);
                // Bounded in time and count.
                while started.elapsed() < Duration::from_secs(10) && ok + failed < 10_000 {
                    let good = match client.get(&url).send().await {
                        Ok(r) if r.status() == 200 => {
                            r.text().await.is_ok_and(|b| b.contains("nbu_up"))
                        }
                        _ => false,
                    };
                    if good {
                        ok += 1;
                    } else {
                        failed += 1;
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(10) {
        samples.push((started.elapsed(), rss_kib(pid)));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (mut ok, mut failed) = (0, 0);
    for s in scrapers {
        let (o, f) = s.await.unwrap();
        ok += o;
        failed += f;
    }
    assert_eq!(failed, 0, "{failed} failed scrapes of {}", ok + failed);
    assert!(ok >= 200, "only {ok} scrapes in 10 s");
    let peak = samples.iter().map(|(_, r)| *r).max().unwrap();
    let mid = samples
        .iter()
        .find(|(t, _)| *t >= Duration::from_secs(4))
        .map(|(_, r)| *r)
        .unwrap();
    let end = samples.last().unwrap().1;
    eprintln!("RSS KiB: baseline {baseline}, at 4 s {mid}, peak {peak}, end {end}; {ok} scrapes");
    assert!(
        peak < baseline + 64 * 1024,
        "peak RSS {peak} KiB from {baseline} KiB"
    );
    assert!(
        end < mid + 16 * 1024,
        "RSS grew from {mid} to {end} KiB under steady load"
    );
    child.terminate().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_never_go_faster_than_the_configured_rate() {
    let sim = start_sim(SimConfig {
        jobs: 600,
        storage_units: 40,
        api_key: "k-rate".into(),
        ..SimConfig::default()
    })
    .await;
    let rate = 20;
    let collector = SiteCollector::new(site(
        "rate",
        &sim.base_url(),
        "k-rate",
        &format!(
            "      requests_per_second: {rate}\n      max_concurrent_requests: 8\n      jobs_page_size: 10\n      storage_page_size: 1\n      jobs_window: 72h\n"
        ),
    ))
    .unwrap();
    let report = collector.collect_all().await;
    assert!(report.is_ok(), "{:?}", report.errors());
    let times: Vec<_> = sim.requests().iter().map(|r| r.at).collect();
    assert!(times.len() >= 80, "only {} requests", times.len());
    // The limiter hands out one slot every 1/R. Arrival times at the server can only be later
    // than the slots (a busy machine delays requests, never hurries them), so the whole run
    // takes at least (n - 1) / R, and no window holds more than its slots plus the requests
    // in flight that a stall may have bunched up.
    let span = times[times.len() - 1].duration_since(times[0]);
    let least = Duration::from_secs_f64((times.len() - 1) as f64 / rate as f64);
    assert!(
        span + Duration::from_millis(50) >= least,
        "{} requests in {span:?}: faster than {rate}/s",
        times.len()
    );
    let window = Duration::from_secs(2);
    let mut worst = 0;
    for (i, start) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < window)
            .count();
        worst = worst.max(in_window);
    }
    let max_in_flight = 8;
    assert!(
        worst <= 2 * rate + 1 + max_in_flight,
        "{worst} requests in {window:?} at {rate}/s"
    );
    sim.shutdown().await;
}

async fn collector_misbehaving_keeps_collection_and_memory_bounded(behaviour: Behaviour) {
    let sim = start_sim(SimConfig {
        jobs: 2_000,
        api_key: "k-export".into(),
        ..SimConfig::default()
    })
    .await;
    let receiver = Receiver::start_with("127.0.0.1:0".parse().unwrap(), behaviour).await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "sites:\n  - name: exp\n    url: {}\n    api_key: k-export\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\nserver:\n  listen: 127.0.0.1:{port}\notlp:\n  endpoint: {}\n  export_interval: 1s\n  timeout: 1s\ntraces:\n  enabled: true\n",
        sim.base_url(),
        receiver.endpoint()
    );
    let child = AgentProcess::start(dir.path(), &yaml, port, &[]).await;
    let pid = child.pid();
    let cycles = || jobs_cycles(&sim);
    wait_for("three cycles", Duration::from_secs(20), || async {
        (cycles() >= 3).then_some(())
    })
    .await;
    let early = rss_kib(pid);
    let before = cycles();
    wait_for("eight more cycles", Duration::from_secs(30), || async {
        (cycles() >= before + 8).then_some(())
    })
    .await;
    let late = rss_kib(pid);
    eprintln!("{behaviour:?}: RSS {early} -> {late} KiB");
    assert!(
        late < early + 8 * 1024,
        "{behaviour:?}: RSS grew {early} -> {late} KiB"
    );
    let (_, stderr) = child.terminate().await;
    let warnings = stderr.matches("OTLP metric export failing").count();
    assert!(warnings <= 1, "{behaviour:?}: {warnings} export warnings");
    receiver.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_answering_unavailable() {
    collector_misbehaving_keeps_collection_and_memory_bounded(Behaviour::Refuse(
        tonic::Code::Unavailable,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_answering_resource_exhausted() {
    collector_misbehaving_keeps_collection_and_memory_bounded(Behaviour::Refuse(
        tonic::Code::ResourceExhausted,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_refusing_the_service() {
    collector_misbehaving_keeps_collection_and_memory_bounded(Behaviour::Refuse(
        tonic::Code::Unimplemented,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_hangs() {
    collector_misbehaving_keeps_collection_and_memory_bounded(Behaviour::Hang).await;
}
