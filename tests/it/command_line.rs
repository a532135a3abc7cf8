//! The `demo` and `sim` commands and the human output of `once` and `check`, through the real
//! binary. Long-running commands are stopped with SIGTERM and must exit 0.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::time::Duration;

use nbu_otel::config::SourceId;
use nbu_otel::netbackup::ApiVersion;
use nbu_sim::{Dataset, Fault, FaultTarget, OptInEndpoint, SimConfig, Simulator};

use crate::common::otlp::Receiver;
use crate::common::process::{AgentProcess, BIN, free_port, run_with_config};
use crate::common::{cutoff_from_requests, start_sim, wait_for};
use crate::prometheus::{Exposition, parse_exposition};

const KEY: &str = "k-command-line-51e0";

fn write_config(dir: &std::path::Path, yaml: &str) -> std::path::PathBuf {
    let path = dir.join("nbu-otel.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

async fn scrape(url: &str) -> Option<Exposition> {
    let body = reqwest::get(url).await.ok()?.text().await.ok()?;
    Some(parse_exposition(&body))
}

/// The label `name` of every series of `family`.
fn label_values(families: &Exposition, family: &str, name: &str) -> BTreeSet<String> {
    families
        .get(family)
        .into_iter()
        .flat_map(|series| series.keys())
        .flat_map(|labels| labels.iter().filter(|(k, _)| k == name))
        .map(|(_, v)| v.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_every_source_of_its_simulator_and_pushes_until_sigterm() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap()).await;
    let (port, sim_port) = (free_port(), free_port());
    let jobs = 2_000;
    let (listen, sim_listen) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{sim_port}"));
    let endpoint = receiver.endpoint();
    let jobs_arg = jobs.to_string();
    let args: Vec<&OsStr> = [
        "demo",
        "--listen",
        &listen,
        "--sim-listen",
        &sim_listen,
        "--jobs",
        &jobs_arg,
        "--otlp-endpoint",
        &endpoint,
    ]
    .into_iter()
    .map(OsStr::new)
    .collect();
    let demo = AgentProcess::spawn(&args, &[], &format!("http://{listen}/readyz")).await;
    // Both addresses are announced.
    let (bridge, simulator) = (
        format!("http://{listen}/metrics"),
        format!("http://{sim_listen}/netbackup"),
    );
    wait_for("the announcement", Duration::from_secs(30), || async {
        let stdout = demo.stdout();
        (stdout.contains(&bridge) && stdout.contains(&simulator)).then_some(())
    })
    .await;

    // Every source, the opt-in ones included, is collected from the simulator.
    let metrics_url = format!("http://{listen}/metrics");
    let expected_sources: BTreeSet<String> = ["jobs", "storage"]
        .into_iter()
        .map(str::to_owned)
        .chain(SourceId::ALL.iter().map(|id| id.name().to_owned()))
        .collect();
    let families = wait_for(
        "every source of the demo site current",
        Duration::from_secs(120),
        || async {
            let families = scrape(&metrics_url).await?;
            let stale = families.get("nbu_source_stale")?;
            let current: BTreeSet<String> = stale
                .iter()
                .filter(|(labels, value)| {
                    **value == 0.0 && labels.contains(&("site".into(), "demo".into()))
                })
                .flat_map(|(labels, _)| labels.iter().filter(|(k, _)| k == "source"))
                .map(|(_, v)| v.clone())
                .collect();
            (current == expected_sources && families.contains_key("nbu_client_jobs_count"))
                .then_some(families)
        },
    )
    .await;
    assert_eq!(
        crate::prometheus::value(&families, "nbu_up", &[("site", "demo")]),
        Some(1.0)
    );
    let counted: f64 = families["nbu_jobs_count"].values().sum();
    assert!(
        counted > 0.0 && counted <= jobs as f64,
        "jobs counted: {counted}"
    );
    // The per-client families cover the simulator's first clients only (the same seed, the
    // same clients).
    let dataset = Dataset::new(&SimConfig {
        jobs,
        ..SimConfig::default()
    });
    let first: BTreeSet<String> = dataset
        .client_names()
        .iter()
        .take(nbu_otel::demo::DEMO_CLIENTS)
        .cloned()
        .collect();
    let clients = label_values(&families, "nbu_client_jobs_count", "client");
    assert!(
        !clients.is_empty() && clients.is_subset(&first),
        "clients {clients:?} not among the first {first:?}"
    );

    // The OTLP push reaches the endpoint given on the command line.
    wait_for("an OTLP export", Duration::from_secs(120), || async {
        receiver.with(|r| {
            r.metrics
                .iter()
                .flat_map(|req| &req.resource_metrics)
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .any(|m| m.name == "nbu.jobs_count")
                .then_some(())
        })
    })
    .await;

    // The living simulator's failed jobs arrive as log records, and in the demo's own log.
    wait_for("a job event", Duration::from_secs(120), || async {
        receiver.with(|r| {
            r.logs
                .iter()
                .flat_map(|req| &req.resource_logs)
                .flat_map(|rl| &rl.scope_logs)
                .flat_map(|sl| &sl.log_records)
                .any(|l| l.event_name == "netbackup.job.finished")
                .then_some(())
        })
    })
    .await;
    assert!(
        demo.stderr().contains("failed with status"),
        "{}",
        demo.stderr()
    );

    demo.terminate().await;
    // The simulator stopped with the agent.
    assert!(
        tokio::net::TcpStream::connect(&sim_listen).await.is_err(),
        "the simulator still listens after the demo exited"
    );
    receiver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_command_serves_the_dataset_and_versions_it_is_given() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let args: Vec<&OsStr> = [
        "sim",
        "--listen",
        &listen,
        "--jobs",
        "400",
        "--storage-units",
        "7",
        "--seed",
        "5",
        "--versions",
        "12.0,10.0",
        "--live",
        "--churn-per-minute",
        "120",
        "--retention",
        "1h",
    ]
    .into_iter()
    .map(OsStr::new)
    .collect();
    // The simulator answers 401 to a request without the key: it listens.
    let base = format!("http://{listen}/netbackup");
    let sim = AgentProcess::spawn_until(&args, &[("NBU_SIM_API_KEY", KEY)], || async {
        let r = reqwest::get(format!("{base}/admin/jobs")).await.ok()?;
        (r.status() == 401).then_some(())
    })
    .await;
    let announced = format!("{base} (400 jobs, 7 storage units)");
    wait_for("the announcement", Duration::from_secs(30), || async {
        sim.stdout().contains(&announced).then_some(())
    })
    .await;

    // The agent negotiates the newest version offered and reads the seeded storage units.
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &format!(
            "sites:\n  - name: simulated\n    url: {base}\n    api_key: {KEY}\n    sources:\n      alerts:\n        enabled: true\n      slo:\n        enabled: true\n"
        ),
    );
    let checked = run_with_config(&["check"], &path).await;
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert_eq!(checked.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("configuration valid, 1 site(s) OK"),
        "{stdout}"
    );
    let out = run_with_config(&["once", "--format", "json"], &path).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let site = &json["sites"][0];
    assert_eq!(site["api_version"], ApiVersion::V12_0.as_str());
    let expected_units: BTreeSet<String> = Dataset::new(&SimConfig {
        storage_units: 7,
        seed: 5,
        jobs: 400,
        ..SimConfig::default()
    })
    .storage_units()
    .iter()
    .map(|u| u.name.clone())
    .collect();
    let served_units: BTreeSet<String> = site["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "nbu_storage_info")
        .filter_map(|s| s["labels"]["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(served_units, expected_units);
    assert_eq!(site["storage"]["units"], 7);
    // API 12.0 has alerts but no service catalog: the SLO source is reported unsupported,
    // which is no failure.
    assert_eq!(site["ok"], true);
    let series = |name: &str, source: &str| {
        site["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name && s["labels"]["source"] == source)
            .map(|s| s["value"].clone())
    };
    assert_eq!(series("nbu_source_unsupported", "slo"), Some(1.into()));
    assert_eq!(series("nbu_source_unsupported", "alerts"), None);
    assert_eq!(series("nbu_source_stale", "alerts"), Some(0.into()));

    sim.terminate().await;
}

#[test]
fn sim_command_refuses_an_unknown_api_version() {
    let out = std::process::Command::new(BIN)
        .args(["sim", "--listen", "127.0.0.1:0", "--versions", "14.0,11.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--versions") && stderr.contains("\"11.0\""),
        "{stderr}"
    );
}

/// The cells of a table row: the columns are separated by two spaces or more.
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A byte count as the tables print it (`512 B`, `1.5 GiB`), back in bytes, and the
/// rounding error of its one decimal.
fn parse_bytes(text: &str) -> (f64, f64) {
    let (number, unit) = text.split_once(' ').expect("a number and a unit");
    let number: f64 = number.parse().expect("a number");
    let power = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        .iter()
        .position(|u| *u == unit)
        .expect("a binary unit");
    let scale = 1024f64.powi(power as i32);
    let error = if power == 0 { 0.0 } else { 0.05 * scale };
    (number * scale, error)
}

/// The rows of the table whose header line holds `columns` (up to the first blank line), as
/// cells cut at the columns' positions in the header (a cell may be empty).
fn table_after(out: &str, columns: &[&str]) -> Vec<Vec<String>> {
    let mut lines = out.lines();
    let header = lines
        .by_ref()
        .find(|l| cells(l) == columns)
        .unwrap_or_else(|| panic!("no table with columns {columns:?}:\n{out}"));
    let starts: Vec<usize> = columns
        .iter()
        .map(|c| header.find(&format!(" {c}")).expect("a column") + 1)
        .collect();
    lines
        .take_while(|l| !l.trim().is_empty())
        .map(|line| {
            starts
                .iter()
                .enumerate()
                .map(|(i, start)| {
                    let end = starts.get(i + 1).copied().unwrap_or(line.len());
                    line.get(*start..end.min(line.len()))
                        .unwrap_or("")
                        .trim()
                        .to_owned()
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_prints_readable_tables_that_match_netbackup() {
    let sim = start_sim(SimConfig {
        jobs: 600,
        storage_units: 6,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    // A NetBackup whose storage units and alerts fail while its jobs are fine.
    let broken = start_sim(SimConfig {
        jobs: 50,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let error_500 = || Fault::Status {
        code: 500,
        retry_after: None,
        body: None,
    };
    broken.set_fault(FaultTarget::Storage, error_500(), None);
    broken.set_fault(FaultTarget::OptIn(OptInEndpoint::Alerts), error_500(), None);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
    let path = write_config(
        dir.path(),
        &format!(
            "sites:\n  - name: tables\n    url: {url}\n    api_key: {KEY}\n  - name: refused\n    url: {url}\n    api_key: wrong\n  - name: badca\n    url: {url}\n    api_key: {KEY}\n    tls:\n      ca_file: ca.pem\n  - name: broken\n    url: {broken}\n    api_key: {KEY}\n    collection:\n      max_retries: 0\n    sources:\n      alerts:\n        enabled: true\n",
            url = sim.base_url(),
            broken = broken.base_url()
        ),
    );
    let out = run_with_config(&["once"], &path).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "one site failed:\n{stdout}");
    assert!(
        stdout.contains("site tables: OK (API 14.0"),
        "the good site's verdict:\n{stdout}"
    );
    assert!(
        stdout.contains("site refused: FAILED (API -"),
        "the refused site's verdict:\n{stdout}"
    );
    assert!(
        stdout.contains("  error [version, unauthorized]: "),
        "the refused site's error:\n{stdout}"
    );
    assert!(
        stdout.contains("site badca: FAILED (API -")
            && stdout
                .contains("  error [version, setup]: site badca: cannot build the HTTP client"),
        "the site whose client cannot be built:\n{stdout}"
    );
    // Each failing source is named; the jobs of that site are still shown.
    assert!(
        stdout.contains("site broken: FAILED (API 14.0"),
        "the partly failing site's verdict:\n{stdout}"
    );
    for source in ["storage", "alerts"] {
        assert!(
            stdout.contains(&format!("  error [{source}, server_status]: ")),
            "the {source} error:\n{stdout}"
        );
    }
    assert!(!stdout.contains("  error [jobs, "), "{stdout}");
    assert_eq!(stdout.matches("\n  jobs: ").count(), 2, "{stdout}");
    assert!(!stdout.contains(KEY), "the key is never printed");

    let truth = crate::common::truth::expected(&sim.truth(cutoff_from_requests(&sim)));
    // Jobs: one row per action, policy type and status, with the count and the bytes.
    let rows = table_after(
        &stdout,
        &["ACTION", "POLICY TYPE", "STATUS", "JOBS", "BYTES"],
    );
    assert_eq!(rows.len(), truth.jobs.counts.len(), "{stdout}");
    for (key, count) in &truth.jobs.counts {
        let row = rows
            .iter()
            .find(|r| {
                r[..3]
                    == [
                        key.action.clone(),
                        key.policy_type.clone(),
                        key.status.clone(),
                    ]
            })
            .unwrap_or_else(|| panic!("no row for {key:?}:\n{stdout}"));
        assert_eq!(row[3], count.to_string(), "{key:?}");
        let (bytes, error) = parse_bytes(&row[4]);
        let truth_bytes = truth.jobs.bytes.get(key).copied().unwrap_or(0) as f64;
        assert!((bytes - truth_bytes).abs() <= error, "{key:?}: {}", row[4]);
    }
    // Queued jobs by reason.
    let queued = table_after(&stdout, &["ACTION", "QUEUE REASON", "QUEUED"]);
    assert!(!truth.jobs.queued_counts.is_empty());
    assert_eq!(queued.len(), truth.jobs.queued_counts.len(), "{stdout}");
    for (key, n) in &truth.jobs.queued_counts {
        assert!(
            queued.contains(&vec![key.action.clone(), key.reason.clone(), n.to_string()]),
            "no queued row for {key:?}:\n{stdout}"
        );
    }
    // Storage: every unit with its free, used and total capacity ("-" where it has none).
    let units = table_after(&stdout, &["NAME", "TYPE", "FREE", "USED", "CAPACITY"]);
    assert_eq!(units.len(), truth.storage.units.len(), "{stdout}");
    for (key, unit) in &truth.storage.units {
        let row = units
            .iter()
            .find(|r| r[0] == key.name)
            .unwrap_or_else(|| panic!("no row for unit {}:\n{stdout}", key.name));
        assert_eq!(row[1], key.server_type);
        for (cell, expected) in
            row[2..]
                .iter()
                .zip([unit.free_bytes, unit.used_bytes, unit.capacity_bytes])
        {
            match expected {
                None => assert_eq!(cell, "-", "{}", key.name),
                Some(v) => {
                    let (bytes, error) = parse_bytes(cell);
                    assert!((bytes - v as f64).abs() <= error, "{}: {cell}", key.name);
                }
            }
        }
    }
    sim.shutdown().await;
    broken.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_explains_a_refused_key_a_missing_version_a_bad_ca_file_and_skipped_sources() {
    let v12 = start_sim(SimConfig {
        jobs: 10,
        api_key: KEY.into(),
        supported_versions: vec![nbu_sim::ApiVersion::V12_0],
        ..SimConfig::default()
    })
    .await;
    // A NetBackup that offers none of the API versions the agent speaks.
    let none: Simulator = start_sim(SimConfig {
        jobs: 10,
        api_key: KEY.into(),
        supported_versions: Vec::new(),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &format!(
            "sites:\n  - name: old\n    url: {old}\n    api_key: {KEY}\n    sources:\n      alerts:\n        enabled: true\n      slo:\n        enabled: true\n  - name: refused\n    url: {old}\n    api_key: wrong\n  - name: versionless\n    url: {none}\n    api_key: {KEY}\n  - name: badca\n    url: {old}\n    api_key: {KEY}\n    tls:\n      ca_file: ca.pem\n",
            old = v12.base_url(),
            none = none.base_url()
        ),
    );
    // A CA file without a certificate: the site cannot even be asked.
    std::fs::write(dir.path().join("ca.pem"), "not a certificate\n").unwrap();
    let out = run_with_config(&["check"], &path).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let row = |site: &str| {
        stdout
            .lines()
            .map(cells)
            .find(|c| c.first().map(String::as_str) == Some(site))
            .unwrap_or_else(|| panic!("no row for {site}:\n{stdout}"))
    };
    // SITE URL REACHABLE TLS KEY API VERDICT
    assert_eq!(
        row("old")[2..],
        ["yes", "plain http", "accepted", "12.0", "OK"]
    );
    assert_eq!(
        row("refused")[2..],
        ["yes", "plain http", "REFUSED", "-", "FAILED (unauthorized)"]
    );
    assert_eq!(
        row("versionless")[2..],
        [
            "yes",
            "plain http",
            "accepted",
            "none",
            "FAILED (version_unsupported)"
        ]
    );
    assert!(
        stdout.contains(
            "old: opt-in sources: alerts collected, slo skipped (API 12.0 has no endpoint for it)"
        ),
        "{stdout}"
    );
    assert_eq!(row("badca")[2..], ["-", "-", "-", "-", "FAILED (setup)"]);
    assert!(
        stdout.contains("badca: site badca: cannot build the HTTP client: CA file")
            && stdout.contains("holds no PEM certificate"),
        "{stdout}"
    );
    assert!(stdout.contains("3 of 4 site(s) FAILED"), "{stdout}");
    v12.shutdown().await;
    none.shutdown().await;
}

#[test]
fn an_agent_that_cannot_listen_exits_1_naming_the_address() {
    // The port is held for the whole run.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &format!(
            "sites:\n  - name: a\n    url: http://127.0.0.1:9/netbackup\n    api_key: x\nserver:\n  listen: {addr}\notlp:\n  enabled: false\n"
        ),
    );
    let out = std::process::Command::new(BIN)
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn healthcheck_fails_when_nothing_answers() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let out = std::process::Command::new(BIN)
        .args(["healthcheck", "--url", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("nbu-otel: "), "{stderr}");
}

#[test]
fn usage_errors_exit_2_and_help_and_version_exit_0() {
    let run = |args: &[&str]| {
        std::process::Command::new(BIN)
            .args(args)
            .env_remove("NBU_OTEL_CONFIG")
            .output()
            .unwrap()
    };
    let unknown = run(&["frobnicate"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("frobnicate"));
    let missing = run(&["once"]);
    assert_eq!(missing.status.code(), Some(2), "--config is required");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--config"));
    let version = run(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("nbu-otel {}", env!("CARGO_PKG_VERSION"))
    );
    let help = run(&["help", "demo"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--sim-listen"));
}
