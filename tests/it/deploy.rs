//! The operator kit in deploy/: alert rules (their promtool unit tests, every expression
//! parsing, every metric in the catalog) and dashboards checked the same way.
//!
//! A tool absent here (promtool) makes a test say SKIPPED, and fails it in CI.

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
            .replace("$storage_unit", ".*");
        assert!(!plain.contains('$'), "an unknown variable in {expr}");
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
