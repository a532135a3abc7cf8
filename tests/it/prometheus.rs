//! The Prometheus bridge against a real Prometheus and promtool (Debian's `prometheus`).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use nbu_sim::{SimConfig, Simulator};

use crate::common::otlp::Receiver;

use crate::common::{start_sim, wait_for};
use crate::pipeline::{KEY, Running};

/// Series of one family: sorted label pairs -> value.
pub type Family = BTreeMap<Vec<(String, String)>, f64>;

/// Metric name -> its series.
pub type Exposition = BTreeMap<String, Family>;

/// Parses text exposition lines into metric name -> (sorted labels -> value).
pub fn parse_exposition(body: &str) -> Exposition {
    let mut out = Exposition::new();
    for line in body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut pairs = Vec::new();
        let mut rest = labels;
        while let Some((k, after)) = rest.split_once("=\"") {
            let mut value = String::new();
            let mut chars = after.char_indices();
            let mut end = after.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(if n == 'n' { '\n' } else { n });
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            pairs.push((k.trim_start_matches(',').to_owned(), value));
            rest = &after[end..];
        }
        pairs.sort();
        let v: f64 = value.parse().expect("sample value");
        out.entry(name.to_owned()).or_default().insert(pairs, v);
    }
    out
}

/// Scrapes `url` and parses the exposition.
pub async fn scrape(url: &str) -> Exposition {
    let body = reqwest::get(url).await.unwrap().text().await.unwrap();
    parse_exposition(&body)
}

/// The value of the first series of `name` whose labels include `labels`.
pub fn value(families: &Exposition, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    families.get(name)?.iter().find_map(|(k, v)| {
        labels
            .iter()
            .all(|(lk, lv)| k.iter().any(|(a, b)| a == lk && b == lv))
            .then_some(*v)
    })
}

/// The path of `name` on `PATH`, if installed.
pub fn tool(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|p| p.join(name))
        .find(|p| p.is_file())
}

fn skip(what: &str) {
    eprintln!(
        "\n*** SKIPPED: `{what}` is not installed (Debian package `prometheus`); .ci/run installs it ***\n"
    );
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} must be installed in CI (.ci/run installs the prometheus package)"
    );
}

/// Starts `prometheus` with `config` (written to `dir/prometheus.yml`; relative rule files are
/// read from `dir`) and its data in `dir`, on a free loopback port; returns it and the port.
pub fn start_prometheus(
    prometheus: &std::path::Path,
    dir: &std::path::Path,
    config: &str,
) -> (tokio::process::Child, u16) {
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, config).unwrap();
    let port = crate::common::process::free_port();
    let child = tokio::process::Command::new(prometheus)
        .arg(format!("--config.file={}", path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus starts");
    (child, port)
}

/// A simulator of 800 jobs, an OTLP receiver, and an agent reading the one and pushing to the
/// other, with the bridge on.
async fn agent_with_bridge() -> (Simulator, Receiver, Running) {
    let sim = start_sim(SimConfig {
        jobs: 800,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let running = Running::start(&sim, &receiver.endpoint(), "1s").await;
    (sim, receiver, running)
}

/// Findings promtool 2.42 reports for the legacy names themselves: the contract keeps them.
const ALLOWED_FINDINGS: &[&str] = &[
    "nbu_jobs_count",
    "nbu_jobs_files_count",
    "nbu_jobs_queued_count",
    "nbu_jobs_state_count",
    "nbu_status_count",
    "nbu_response_time_ms",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_finds_only_the_legacy_name_habits() {
    let Some(promtool) = tool("promtool") else {
        return skip("promtool");
    };
    let (sim, receiver, running) = agent_with_bridge().await;
    let body = wait_for("a populated /metrics", Duration::from_secs(20), || async {
        let body = reqwest::get(&running.metrics_url)
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        body.contains("nbu_disk_bytes").then_some(body)
    })
    .await;
    let mut child = tokio::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(body.as_bytes()).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut legacy_findings = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let allowed = ALLOWED_FINDINGS
            .iter()
            .any(|name| line.starts_with(&format!("{name} ")));
        assert!(
            allowed,
            "promtool finding outside the legacy contract: {line}\n{text}"
        );
        legacy_findings += 1;
    }
    assert!(
        legacy_findings >= 4,
        "expected the known legacy findings, got:\n{text}"
    );
    running.stop().await;
    receiver.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_bridge() {
    let Some(prometheus) = tool("prometheus") else {
        return skip("prometheus");
    };
    let (sim, receiver, running) = agent_with_bridge().await;
    let target = running
        .metrics_url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = start_prometheus(
        &prometheus,
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: nbu\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    );
    let query = format!("http://127.0.0.1:{port}/api/v1/query?query=sum(nbu_jobs_count)");
    let total = wait_for(
        "Prometheus to have nbu_jobs_count",
        Duration::from_secs(60),
        || async {
            let json: serde_json::Value = reqwest::get(&query).await.ok()?.json().await.ok()?;
            let value = json["data"]["result"][0]["value"][1].as_str()?.to_owned();
            value.parse::<f64>().ok()
        },
    )
    .await;
    let truth = crate::common::truth::expected(
        &sim.truth(sim.config().anchor - chrono::Duration::hours(72)),
    );
    assert_eq!(total as u64, truth.jobs.counts.values().sum::<u64>());
    let _ = child.kill().await;
    running.stop().await;
    receiver.stop().await;
    sim.shutdown().await;
}
