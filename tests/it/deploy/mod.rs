//! The operator kit in deploy/: alert rules (their promtool unit tests, every expression
//! parsing, every metric in the catalog) and dashboards checked the same way here; the Helm
//! chart, the compose stack and the systemd unit in `packaging`; the Loki rules and the
//! Collector's configuration in `collector`.
//!
//! Tools absent here (promtool, systemd-analyze) make a test say SKIPPED, and fail it in CI.

mod collector;
mod packaging;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use nbu_otel::telemetry::catalog::{CATALOG, Kind};
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A repository file's text.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `None` (after saying SKIPPED) when `name` is not installed; in CI its absence fails.
pub fn required_tool(name: &str, package: &str) -> Option<PathBuf> {
    let found = crate::prometheus::tool(name);
    if found.is_none() {
        eprintln!(
            "\n*** SKIPPED: `{name}` is not installed (Debian package `{package}`); .ci/run installs it ***\n"
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} must be installed in CI (.ci/run installs {package})"
        );
    }
    found
}

/// What a tool printed, stdout then stderr.
fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn yaml(path: &str) -> Value {
    nbu_otel::config::parse_yaml(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The alert rules file.
pub const RULES: &str = "deploy/prometheus/nbu-otel.rules.yml";

/// The Loki ruler's rules on job events.
pub const LOKI_RULES: &str = "deploy/loki/nbu-otel-job-events.rules.yml";

/// Every alert of the rule file: (name, expression).
fn alerts() -> Vec<(String, String)> {
    let rules = yaml(RULES);
    let mut out = Vec::new();
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            out.push((
                rule["alert"].as_str().unwrap().to_owned(),
                rule["expr"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

/// The metric names an expression reads: identifiers outside strings that start with `nbu_`
/// (label names and values never do), plus `up`.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_string = None;
    let mut word = String::new();
    let mut flush = |word: &mut String| {
        if word.starts_with("nbu_") {
            names.insert(std::mem::take(word));
        }
        word.clear();
    };
    for c in expr.chars() {
        match in_string {
            Some(q) if c == q => in_string = None,
            Some(_) => {}
            None if c == '"' || c == '\'' || c == '`' => {
                flush(&mut word);
                in_string = Some(c);
            }
            None if c.is_ascii_alphanumeric() || c == '_' || c == ':' => word.push(c),
            None => flush(&mut word),
        }
    }
    flush(&mut word);
    names
}

/// Whether the catalog exposes `name` on the bridge (a histogram also as `_bucket`, `_sum`
/// and `_count`).
fn in_catalog(name: &str) -> bool {
    CATALOG.iter().any(|m| {
        let exposed = m.prometheus_name();
        name == exposed
            || (m.kind == Kind::Histogram
                && ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name == format!("{exposed}{suffix}")))
    })
}

/// Every expression of the rules and the dashboards, with where it comes from.
fn every_expression() -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = alerts()
        .into_iter()
        .map(|(name, expr)| (format!("{RULES}: {name}"), expr))
        .collect();
    all.extend(crate::dashboards::expressions());
    all
}

#[test]
fn every_metric_of_every_rule_and_dashboard_is_in_the_catalog() {
    let mut seen = 0;
    for (what, expr) in every_expression() {
        let names = metric_names(&expr);
        assert!(
            !names.is_empty() || expr.contains("up{"),
            "{what}: reads no metric: {expr}"
        );
        for name in names {
            assert!(
                in_catalog(&name),
                "{what}: {name} is not in the metric catalog"
            );
            seen += 1;
        }
    }
    assert!(seen > 40, "{seen}");
    // The extraction itself: strings and label names are not metric names.
    assert_eq!(
        metric_names(
            r#"sum by (site) (rate(nbu_api_requests_total{status!~"nbu_x"}[5m])) / nbu_up"#
        ),
        ["nbu_api_requests_total", "nbu_up"]
            .map(String::from)
            .into()
    );
    assert!(!in_catalog("nbu_jobs_count_bucket"));
    assert!(in_catalog("nbu_job_duration_seconds_bucket"));
}

/// The metrics each dashboard of the Go `nbu_exporter` queries, by uid.
const GO_DASHBOARDS: &[(&str, &[&str])] = &[
    (
        "nbu-overview",
        &[
            "nbu_up",
            "nbu_api_version",
            "nbu_last_scrape_timestamp_seconds",
            "nbu_response_time_ms",
            "nbu_status_count",
            "nbu_disk_bytes",
            "nbu_malware_files_infected",
            "nbu_alerts_count",
        ],
    ),
    (
        "nbu-jobs",
        &[
            "nbu_status_count",
            "nbu_jobs_state_count",
            "nbu_jobs_count",
            "nbu_jobs_bytes",
            "nbu_jobs_queued_count",
            "nbu_job_duration_seconds_bucket",
            "nbu_jobs_files_count",
            "nbu_jobs_dedup_ratio",
        ],
    ),
    (
        "nbu-storage",
        &[
            "nbu_disk_bytes",
            "nbu_disk_capacity_bytes",
            "nbu_storage_info",
            "nbu_storage_max_concurrent_jobs",
            "nbu_storage_max_fragment_size_bytes",
        ],
    ),
    (
        "nbu-dataprotection",
        &[
            "nbu_alerts_count",
            "nbu_malware_files_scanned",
            "nbu_malware_files_infected",
            "nbu_malware_scan_count",
            "nbu_catalog_images_count",
            "nbu_slo_count",
        ],
    ),
    (
        "nbu-lifecycle",
        &[
            "nbu_client_last_job_success_seconds",
            "nbu_client_jobs_count",
            "nbu_jobs_bytes",
            "nbu_job_duration_seconds_bucket",
        ],
    ),
    (
        "nbu-tape",
        &[
            "nbu_tape_drives_count",
            "nbu_tape_media_count",
            "nbu_tape_pool_partially_full",
            "nbu_disk_pool_volume_count",
        ],
    ),
    (
        "nbu-multisite",
        &[
            "nbu_jobs_count",
            "nbu_jobs_bytes",
            "nbu_status_count",
            "nbu_client_last_job_success_seconds",
            "nbu_tape_drives_count",
            "nbu_tape_media_count",
        ],
    ),
];

/// The alerts of the Go `nbu_exporter` and the family each needs.
const GO_ALERTS: &[(&str, &str)] = &[
    ("NbuExporterDown", "up"),
    ("NbuApiUnreachable", "nbu_up"),
    ("NbuMetricsStale", "nbu_last_scrape_timestamp_seconds"),
    ("NbuBackupSuccessRateLow", "nbu_status_count"),
    ("NbuJobsQueuedSustained", "nbu_jobs_queued_count"),
    ("NbuStorageAlmostFull", "nbu_disk_bytes"),
    ("NbuStorageWarning", "nbu_disk_bytes"),
    (
        "NbuClientBackupStale",
        "nbu_client_last_successful_backup_timestamp_seconds",
    ),
    (
        "NbuClientBackupCritical",
        "nbu_client_last_successful_backup_timestamp_seconds",
    ),
    (
        "NbuClientNoRecentTapeCopy",
        "nbu_client_last_job_success_seconds",
    ),
    (
        "NbuClientNoRecentReplication",
        "nbu_client_last_job_success_seconds",
    ),
    ("NbuClientBackupFailureRate", "nbu_client_jobs_count"),
    ("NbuTapeDriveDown", "nbu_tape_drives_count"),
    ("NbuTapeDriveDisabled", "nbu_tape_drives_count"),
    ("NbuTapePoolScratchLow", "nbu_tape_media_count"),
    ("NbuDiskPoolVolumeDegraded", "nbu_disk_pool_volume_count"),
    ("NbuInterSiteDivergence", "nbu_jobs_bytes"),
];

#[test]
fn every_go_dashboard_and_alert_has_its_counterpart() {
    let dashboards = crate::dashboards::expressions();
    for (uid, metrics) in GO_DASHBOARDS {
        let read: BTreeSet<String> = dashboards
            .iter()
            .filter(|(what, _)| what.starts_with(&format!("{uid}: ")))
            .flat_map(|(_, expr)| metric_names(expr))
            .collect();
        assert!(!read.is_empty(), "no dashboard {uid}");
        for metric in *metrics {
            assert!(read.contains(*metric), "{uid} does not show {metric}");
        }
    }
    let ours = alerts();
    for (alert, family) in GO_ALERTS {
        let (_, expr) = ours
            .iter()
            .find(|(name, _)| name == alert)
            .unwrap_or_else(|| panic!("no {alert} rule"));
        assert!(
            *family == "up" || metric_names(expr).contains(*family),
            "{alert} does not read {family}: {expr}"
        );
    }
}

#[test]
fn every_rule_and_dashboard_expression_parses() {
    let Some(promtool) = required_tool("promtool", "prometheus") else {
        return;
    };
    // Each expression as a recording rule; Grafana's variables replaced by plain values.
    let mut file = String::from("groups:\n  - name: parse\n    rules:\n");
    for (i, (_, expr)) in every_expression().iter().enumerate() {
        let plain = expr
            .replace("$__rate_interval", "5m")
            .replace("$site", ".*")
            .replace("$policy_type", ".*")
            .replace("$storage_unit", ".*")
            .replace("$client", ".*");
        // `$1` of a label_replace() is PromQL's own; `$name` would be an unknown variable.
        let variable = plain
            .match_indices('$')
            .any(|(at, _)| !plain[at + 1..].starts_with(|c: char| c.is_ascii_digit()));
        assert!(!variable, "an unknown variable in {expr}");
        file.push_str(&format!(
            "      - record: parse:expression_{i}\n        expr: {}\n",
            serde_json::to_string(&plain).unwrap()
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("expressions.yml");
    std::fs::write(&path, &file).unwrap();
    let out = Command::new(promtool)
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{file}", output_text(&out));
}

#[test]
fn the_alert_rules_pass_their_promtool_unit_tests() {
    let Some(promtool) = required_tool("promtool", "prometheus") else {
        return;
    };
    let out = Command::new(promtool)
        .args(["test", "rules", "nbu-otel.rules.test.yml"])
        .current_dir(repo("deploy/prometheus"))
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    // Every alert has a test.
    let tests = read("deploy/prometheus/nbu-otel.rules.test.yml");
    for (alert, _) in alerts() {
        assert!(
            tests.contains(&format!("alertname: {alert}\n")),
            "{alert} has no promtool test"
        );
    }
}
