//! Hostile configuration files: an alias bomb ("billion laughs") and ten thousand nested
//! levels are refused by `check`, `run` and `migrate` with exit code 2, and a running agent
//! given one on reload refuses it and keeps serving on the configuration it has.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nbu_sim::SimConfig;

use crate::common::process::{AgentProcess, BIN, free_port, run_with_config};
use crate::common::{start_sim, wait_for};

const KEY: &str = "k-hostile-51f0";

/// Nine levels of ten aliases: 10^9 strings once expanded, in under 600 bytes.
fn alias_bomb() -> String {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let items = vec![format!("*{}", pair[0]); 10].join(",");
        text.push_str(&format!("{0}: &{0} [{items}]\n", pair[1]));
    }
    text
}

/// Ten thousand sequences nested in block style (`- - - ... x`), 20 kB.
fn deep_nesting() -> String {
    format!("sites:\n{}x\n", "- ".repeat(10_000))
}

/// The hostile texts and the words of the limit each must be refused with.
fn hostile() -> [(&'static str, String, &'static str); 2] {
    [
        ("alias bomb", alias_bomb(), "more than 100000 values"),
        ("deep nesting", deep_nesting(), "more than 32 levels"),
    ]
}

/// Replaces `path` with `text` at once (as editors and ConfigMaps do), so a reload never
/// sees it half written.
fn replace(path: &Path, text: &str) {
    let staged = path.with_extension("staged");
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_run_and_migrate_refuse_hostile_yaml_with_exit_2_naming_file_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    for (what, text, limit) in hostile() {
        let path = write(dir.path(), "hostile.yaml", &text);
        for command in ["check", "run"] {
            let out = run_with_config(&[command], &path).await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command}, {what}: {stderr}");
            assert!(stderr.contains(limit), "{command}, {what}: {stderr}");
            assert!(
                stderr.contains(&path.display().to_string()),
                "{command}, {what}: {stderr}"
            );
        }
        let out = tokio::process::Command::new(BIN)
            .args(["migrate", "--from"])
            .arg(&path)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "migrate, {what}: {stderr}");
        assert!(stderr.contains(limit), "migrate, {what}: {stderr}");
        assert!(stderr.contains("hostile.yaml"), "migrate, {what}: {stderr}");
    }
}

/// `nbu_config_reloads_total{result="failure"}` on the bridge.
async fn failed_reloads(metrics_url: &str) -> Option<f64> {
    let body = reqwest::get(metrics_url).await.ok()?.text().await.ok()?;
    let line = body
        .lines()
        .find(|l| l.starts_with("nbu_config_reloads_total{result=\"failure\"}"))?;
    line.rsplit(' ').next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_agent_refuses_a_hostile_reload_and_keeps_serving() {
    let sim = start_sim(SimConfig {
        jobs: 50,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let good = format!(
        "sites:\n  - name: steady\n    url: {}\n    api_key: {KEY}\n    collection:\n      jobs_interval: 1s\n      request_timeout: 900ms\nserver:\n  listen: 127.0.0.1:{port}\n  prometheus_bridge: true\notlp:\n  enabled: false\n",
        sim.base_url()
    );
    let path = write(dir.path(), "agent.yaml", &good);
    let mut agent = AgentProcess::start_file(&path, port, &[], &[]).await;
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let healthz_url = format!("http://127.0.0.1:{port}/healthz");

    for (round, (what, text, _)) in hostile().into_iter().enumerate() {
        replace(&path, &text);
        // The file watch notices the change; SIGHUP asks for a reload at once.
        agent.signal("HUP");
        let failures = (round + 1) as f64;
        wait_for(
            &format!("the {what} to be refused"),
            Duration::from_secs(30),
            || async { (failed_reloads(&metrics_url).await? >= failures).then_some(()) },
        )
        .await;
        assert!(agent.is_running(), "the {what} stopped the agent");
        let health = reqwest::get(&healthz_url).await.unwrap();
        assert_eq!(health.status(), 200, "/healthz after the {what}");
        // The old configuration keeps collecting.
        sim.clear_requests();
        wait_for(
            &format!("collection to go on after the {what}"),
            Duration::from_secs(10),
            || async { (!sim.requests().is_empty()).then_some(()) },
        )
        .await;
        let metrics = reqwest::get(&metrics_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("nbu_up{site=\"steady\"} 1"),
            "the bridge still serves the old site after the {what}:\n{metrics}"
        );
    }

    let (_, stderr) = agent.terminate().await;
    for (what, _, limit) in hostile() {
        assert!(stderr.contains(limit), "the {what} is explained:\n{stderr}");
    }
    assert!(stderr.contains("previous configuration"), "{stderr}");
    sim.shutdown().await;
}
