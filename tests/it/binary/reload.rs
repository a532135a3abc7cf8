//! Reloading the running binary: a renamed configuration file, SIGHUP.

use std::time::Duration;

use nbu_sim::{SimConfig, Simulator};

use super::write_config;
use crate::common::process::{AgentProcess, free_port};
use crate::common::{jobs_cycles, start_sim, wait_for};

/// `sum(nbu_jobs_count)` on the bridge, if there is any.
async fn jobs_total(metrics_url: &str) -> Option<f64> {
    let body = reqwest::get(metrics_url).await.ok()?.text().await.ok()?;
    let families = crate::prometheus::parse_exposition(&body);
    Some(families.get("nbu_jobs_count")?.values().sum())
}

fn reload_config(dir: &std::path::Path, sim: &Simulator, key: &str, port: u16) -> String {
    // The file is named after the backend, not after the key.
    let file = format!("{}.key", sim.addr().port());
    std::fs::write(dir.join(&file), key).unwrap();
    format!(
        "sites:\n  - name: moving\n    url: {}\n    api_key_file: {file}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\n      jobs_window: 72h\nserver:\n  listen: 127.0.0.1:{port}\n  prometheus_bridge: true\notlp:\n  enabled: false\n",
        sim.base_url()
    )
}

/// Finished jobs of the 72 h window of `sim`'s truth: what `nbu_jobs_count` adds up to.
fn finished_jobs(sim: &Simulator) -> f64 {
    crate::common::truth::expected(&sim.truth(sim.config().anchor - chrono::Duration::hours(72)))
        .jobs
        .counts
        .values()
        .sum::<u64>() as f64
}

async fn switches_backend(old: &Simulator, new: &Simulator, metrics_url: &str, what: &str) {
    let expected = finished_jobs(new);
    wait_for(what, Duration::from_secs(30), || async {
        (jobs_total(metrics_url).await? == expected).then_some(())
    })
    .await;
    // From now on the old backend (and its key) hears nothing.
    old.clear_requests();
    new.clear_requests();
    wait_for("two more collections", Duration::from_secs(20), || async {
        (new.requests().len() >= 4).then_some(())
    })
    .await;
    assert!(
        old.requests().is_empty(),
        "{what}: the old site was still asked"
    );
    assert!(
        new.requests().iter().all(|r| r.authorization_matched),
        "{what}: a request without the new key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_by_file_rename_and_by_sighup_switches_backend_and_key() {
    let sim_a = start_sim(SimConfig {
        jobs: 300,
        api_key: "key-A-1111".into(),
        ..SimConfig::default()
    })
    .await;
    let sim_b = start_sim(SimConfig {
        jobs: 700,
        api_key: "key-B-2222".into(),
        ..SimConfig::default()
    })
    .await;
    let port = free_port();
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &reload_config(dir.path(), &sim_a, "key-A-1111", port),
    );

    // 1. Watched: an editor-style atomic rename is picked up without a signal.
    let agent = AgentProcess::start_file(&path, port, &[], &[]).await;
    let staged = dir.path().join("staged.yaml");
    std::fs::write(
        &staged,
        reload_config(dir.path(), &sim_b, "key-B-2222", port),
    )
    .unwrap();
    std::fs::rename(&staged, &path).unwrap();
    switches_backend(
        &sim_a,
        &sim_b,
        &metrics_url,
        "the rename to reach the agent",
    )
    .await;

    // 2. An invalid file changes nothing, and is reported.
    std::fs::write(&path, "sites:\n  - name: broken\n    url: nope\n").unwrap();
    wait_for(
        "the failed reload to be counted",
        Duration::from_secs(20),
        || async {
            let body = reqwest::get(&metrics_url).await.ok()?.text().await.ok()?;
            body.lines()
                .any(|l| l.starts_with("nbu_config_reloads_total{result=\"failure\"}"))
                .then_some(())
        },
    )
    .await;
    sim_b.clear_requests();
    wait_for("collection to go on", Duration::from_secs(10), || async {
        (!sim_b.requests().is_empty()).then_some(())
    })
    .await;
    let (_, stderr) = agent.terminate().await;
    assert!(
        stderr.contains("sites[0].url"),
        "the bad field is logged:\n{stderr}"
    );
    assert!(stderr.contains("previous configuration"), "{stderr}");
    for line in stderr.lines() {
        assert!(
            !line.contains("key-A-1111") && !line.contains("key-B-2222"),
            "a key in the log: {line}"
        );
    }

    // 3. Not watched: only SIGHUP reloads.
    std::fs::write(&path, reload_config(dir.path(), &sim_a, "key-A-1111", port)).unwrap();
    let agent = AgentProcess::start_file(&path, port, &[], &["--no-watch"]).await;
    std::fs::write(&path, reload_config(dir.path(), &sim_b, "key-B-2222", port)).unwrap();
    // Several poll periods (2 s each) pass without a reload: four more 1 s cycles...
    let a_total = finished_jobs(&sim_a);
    sim_a.clear_requests();
    wait_for(
        "four cycles on the unchanged site",
        Duration::from_secs(20),
        || async {
            let cycles = jobs_cycles(&sim_a);
            (cycles >= 5).then_some(())
        },
    )
    .await;
    assert_eq!(jobs_total(&metrics_url).await, Some(a_total));
    // ...until SIGHUP.
    agent.signal("HUP");
    switches_backend(&sim_a, &sim_b, &metrics_url, "SIGHUP to reload").await;
    agent.terminate().await;
    sim_a.shutdown().await;
    sim_b.shutdown().await;
}
