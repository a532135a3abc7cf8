//! The Grafana dashboards of deploy/grafana/dashboards, generated from one description here so
//! that every dashboard shares the same variables, tags and query conventions:
//! `NBU_OTEL_BLESS=1 cargo test --test it dashboards` rewrites them; the test fails on drift.
//!
//! Conventions (as the Go exporter's): tags `netbackup`, `nbu`, `backup`; a `datasource`
//! variable and a multi-value `site` variable from `label_values(nbu_up, site)`; every query
//! filters `site=~"$site"`. Counters and the cumulative duration histogram are read with
//! `rate()`/`increase()`; job types are the vendor's (`DUPLICATE`, not `DUPLICATION`); a
//! success rate counts a missing `status="0"` series as 0 (every job failed), not as no data.
//!
//! Panels of job events (the agent's OTLP log records of failed jobs) query Loki instead, through
//! a `loki` data source variable, in LogQL: they select the records by the agent's service and
//! the events' instrumentation scope (Loki keeps no `event_name`), filter `site=~"$site"` too,
//! and name only fields Loki makes of the records (attributes with `_` for `.`).

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// Where a panel's queries go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// PromQL, to the `datasource` variable (Prometheus or Mimir).
    Prometheus,
    /// LogQL over the job events, to the `loki` variable.
    Loki,
}

/// One panel: title, kind, unit, where its queries go, and its queries (expression, legend).
struct Panel {
    title: &'static str,
    kind: &'static str,
    unit: &'static str,
    source: Source,
    queries: &'static [(&'static str, &'static str)],
}

const fn p(
    title: &'static str,
    kind: &'static str,
    unit: &'static str,
    queries: &'static [(&'static str, &'static str)],
) -> Panel {
    Panel {
        title,
        kind,
        unit,
        source: Source::Prometheus,
        queries,
    }
}

/// A panel of job events, from Loki.
const fn logs(
    title: &'static str,
    kind: &'static str,
    unit: &'static str,
    queries: &'static [(&'static str, &'static str)],
) -> Panel {
    Panel {
        title,
        kind,
        unit,
        source: Source::Loki,
        queries,
    }
}

/// The job event records of the selected sites in Loki, with further LogQL (`$more`), as a
/// literal for `concat!`. The stream is the agent's `service.name` (Loki indexes it as
/// `service_name`); the scope (`nbu-otel.job_events`, structured metadata `scope_name`) keeps
/// out the agent's other logs.
macro_rules! job_events {
    ($more:literal) => {
        concat!(
            r#"{service_name="nbu-otel"} | scope_name="nbu-otel.job_events" | site=~"$site""#,
            $more
        )
    };
}

/// The age of each source's data, on the overview and the agent's dashboard.
const DATA_AGE: Panel = p(
    "Data age / Âge des données",
    "timeseries",
    "s",
    &[(
        r#"max by (site, source) (time() - nbu_last_scrape_timestamp_seconds{site=~"$site"})"#,
        "{{site}} {{source}}",
    )],
);

/// Infected files of the latest malware scans, on the overview and data protection.
const INFECTED_FILES: Panel = p(
    "Infected files / Fichiers infectés",
    "stat",
    "none",
    &[(
        r#"sum by (site) (nbu_malware_files_infected{site=~"$site"})"#,
        "{{site}}",
    )],
);

/// NetBackup's alerts of the alerts window by severity, on the overview and data protection.
const ALERTS_BY_SEVERITY: Panel = p(
    "Alerts by severity / Alertes par gravité",
    "bargauge",
    "none",
    &[(
        r#"sum by (site, severity) (nbu_alerts_count{site=~"$site"})"#,
        "{{site}} {{severity}}",
    )],
);

/// Age of each allowlisted client's last successful backup (the clients source), as a
/// literal for `concat!`.
macro_rules! client_age {
    () => {
        r#"time() - max by (site, client) (nbu_client_last_successful_backup_timestamp_seconds{site=~"$site", client=~"$client"})"#
    };
}

/// The finished jobs of the window of each allowlisted client, of the three phases, with a
/// further selector (`, status="0"` or nothing), as a literal for `concat!`.
macro_rules! client_phase_jobs {
    ($more:literal) => {
        concat!(
            r#"sum by (site, client, action) (nbu_client_jobs_count{site=~"$site", client=~"$client", action=~"BACKUP|DUPLICATE|IMPORT""#,
            $more,
            "})"
        )
    };
}

/// Age of the last successful job of one phase (`action`) of each allowlisted client and
/// policy, as a literal for `concat!`.
macro_rules! client_phase_age {
    ($action:literal) => {
        concat!(
            r#"time() - max by (site, client, policy) (nbu_client_last_job_success_seconds{site=~"$site", client=~"$client", action=""#,
            $action,
            r#""})"#
        )
    };
}

/// Clients of one phase (`action`) whose last success is older than `seconds`, on the
/// multi-site dashboard (every client: it has no client variable).
macro_rules! clients_late {
    ($action:literal, $seconds:literal) => {
        concat!(
            r#"time() - max by (site, client, policy) (nbu_client_last_job_success_seconds{site=~"$site", action=""#,
            $action,
            r#""}) > "#,
            $seconds
        )
    };
}

// The panels of each dashboard, after the macros they use.
mod agent;
mod dataprotection;
mod jobs;
mod lifecycle;
mod multisite;
mod overview;
mod storage;
mod tape;

/// Every dashboard: file name (and uid), title, panels.
const DASHBOARDS: &[(&str, &str, &[Panel])] = &[
    (
        "nbu-overview",
        "NetBackup — Overview / Vue d'ensemble",
        overview::PANELS,
    ),
    ("nbu-jobs", "NetBackup — Jobs / Sauvegardes", jobs::PANELS),
    (
        "nbu-storage",
        "NetBackup — Storage / Stockage",
        storage::PANELS,
    ),
    (
        "nbu-multisite",
        "NetBackup — Comparaison multi-sites / Multi-site Comparison",
        multisite::PANELS,
    ),
    (
        "nbu-dataprotection",
        "NetBackup — Data Protection / Protection des données",
        dataprotection::PANELS,
    ),
    (
        "nbu-tape",
        "NetBackup — Bande & Disques / Tape & Disk Pools",
        tape::PANELS,
    ),
    (
        "nbu-lifecycle",
        "NetBackup — Cycle de vie des sauvegardes / Backup Lifecycle",
        lifecycle::PANELS,
    ),
    ("nbu-agent", "nbu-otel — Agent", agent::PANELS),
];

fn query_variable(name: &str, label: &str, query: &str) -> Value {
    json!({
        "name": name, "label": label, "type": "query",
        "datasource": { "type": "prometheus", "uid": "${datasource}" },
        "query": { "query": query, "refId": format!("{name}-var") },
        "definition": query, "refresh": 2, "multi": true, "includeAll": true,
        "allValue": ".*", "current": { "text": "All", "value": "$__all" }, "sort": 1
    })
}

/// The data source reference of a panel or query of `source`.
fn datasource(source: Source) -> Value {
    match source {
        Source::Prometheus => json!({ "type": "prometheus", "uid": "${datasource}" }),
        Source::Loki => json!({ "type": "loki", "uid": "${loki}" }),
    }
}

/// One query of a panel: PromQL as the Go dashboards have it; LogQL a range query for the
/// panels that draw time (logs, time series), an instant one over the dashboard's range else.
fn target(panel: &Panel, expr: &str, legend: &str, ref_id: char) -> Value {
    let mut target = json!({
        "datasource": datasource(panel.source),
        "expr": expr, "legendFormat": legend, "refId": ref_id.to_string()
    });
    if panel.source == Source::Loki {
        let range = matches!(panel.kind, "logs" | "timeseries");
        target["queryType"] = json!(if range { "range" } else { "instant" });
    }
    target
}

fn dashboard(uid: &str, title: &str, panels: &[Panel]) -> Value {
    let mut variables = vec![
        json!({ "name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus" }),
        query_variable("site", "Site", "label_values(nbu_up, site)"),
    ];
    if panels.iter().any(|p| p.source == Source::Loki) {
        variables.push(json!({
            "name": "loki", "label": "Logs data source (job events)", "type": "datasource",
            "query": "loki"
        }));
    }
    if uid == "nbu-jobs" {
        variables.push(query_variable(
            "policy_type",
            "Policy type",
            r#"label_values(nbu_jobs_count{site=~"$site"}, policy_type)"#,
        ));
    }
    if uid == "nbu-lifecycle" {
        variables.push(query_variable(
            "client",
            "Client",
            r#"label_values(nbu_client_last_successful_backup_timestamp_seconds{site=~"$site"}, client)"#,
        ));
    }
    if uid == "nbu-storage" {
        variables.push(query_variable(
            "storage_unit",
            "Storage unit",
            r#"label_values(nbu_disk_bytes{site=~"$site"}, name)"#,
        ));
    }
    let panels: Vec<Value> = panels
        .iter()
        .enumerate()
        .map(|(i, panel)| {
            let targets: Vec<Value> = panel
                .queries
                .iter()
                .zip('A'..)
                .map(|((expr, legend), ref_id)| target(panel, expr, legend, ref_id))
                .collect();
            let mut out = json!({
                "id": i + 1,
                "title": panel.title,
                "type": panel.kind,
                "datasource": datasource(panel.source),
                "gridPos": { "h": 8, "w": 12, "x": (i % 2) * 12, "y": (i / 2) * 8 },
                "fieldConfig": { "defaults": { "unit": panel.unit }, "overrides": [] },
                "targets": targets
            });
            if panel.kind == "logs" {
                // Newest first, each record's attributes a click away.
                out["options"] = json!({
                    "showTime": true, "wrapLogMessage": true, "sortOrder": "Descending",
                    "enableLogDetails": true, "dedupStrategy": "none"
                });
            }
            out
        })
        .collect();
    json!({
        "uid": uid,
        "title": title,
        "tags": ["netbackup", "nbu", "backup"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": { "from": "now-24h", "to": "now" },
        "templating": { "list": variables },
        "panels": panels
    })
}

/// Directory of the dashboard files.
pub fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/dashboards")
}

/// Every query of `source` of every generated dashboard, with where it comes from.
fn queries_of(source: Source) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (uid, _, panels) in DASHBOARDS {
        for panel in panels.iter().filter(|p| p.source == source) {
            for (expr, _) in panel.queries {
                out.push((format!("{uid}: {}", panel.title), (*expr).to_owned()));
            }
        }
    }
    out
}

/// Every PromQL expression of every generated dashboard, with where it comes from.
pub fn expressions() -> Vec<(String, String)> {
    queries_of(Source::Prometheus)
}

/// Every LogQL query (of job events, from Loki) of every generated dashboard.
pub fn log_queries() -> Vec<(String, String)> {
    queries_of(Source::Loki)
}

/// The fields Loki's OTLP ingestion makes of a job event record: its attributes (every one the
/// agent can send, from an event with every detail), its resource's indexed `service_name`,
/// the scope's name, the severity; each name with `_` for any character outside
/// `[A-Za-z0-9_]`.
pub fn job_event_fields() -> BTreeSet<String> {
    use nbu_otel::collect::job_event::{JobDetails, JobEvent, Reason, ReasonMissing};
    let full = JobDetails {
        parent_job_id: Some(1),
        sub_type: Some("s".into()),
        policy_name: Some("p".into()),
        schedule: Some("s".into()),
        client: Some("c".into()),
        tries: Some(1),
        files: Some(1),
        storage_unit: Some("u".into()),
        media_server: Some("m".into()),
    };
    let event = |reason| JobEvent {
        site: "a".into(),
        job_id: 1,
        job_type: "BACKUP".into(),
        policy_type: "Standard".into(),
        status: Some(13),
        start_ms: Some(0),
        end_ms: Some(1_000),
        bytes: 1,
        duration_seconds: Some(1.0),
        details: full.clone(),
        observed_ms: 2_000,
        reason,
    };
    let found = Reason::Found {
        status_message: Some("m".into()),
        text: "t".into(),
    };
    let loki = |key: &str| -> String {
        key.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    };
    let mut fields: BTreeSet<String> = [found, Reason::Missing(ReasonMissing::Budget)]
        .into_iter()
        .flat_map(|reason| nbu_otel::telemetry::logs::attributes(&event(reason)))
        .map(|kv| loki(&kv.key))
        .collect();
    fields.extend(
        [
            "service_name",
            "scope_name",
            "severity_text",
            "severity_number",
        ]
        .map(String::from),
    );
    fields
}

/// The field names a LogQL query reads: identifiers outside strings and outside the range's
/// brackets followed by a matcher (`=`, `!=`, `=~`, `!~`), and those of `by (...)` and
/// `without (...)`.
pub fn logql_fields(query: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_string = None;
    let mut word = String::new();
    // The last identifier, waiting to see whether a matcher follows it.
    let mut last = String::new();
    let mut grouping = false;
    let chars: Vec<char> = query.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match in_string {
            Some(q) if c == q => in_string = None,
            Some(_) => {}
            None if c == '"' || c == '`' => in_string = Some(c),
            None if c.is_ascii_alphanumeric() || c == '_' => word.push(c),
            None => {
                if !word.is_empty() {
                    if grouping {
                        names.insert(word.clone());
                    }
                    last = std::mem::take(&mut word);
                }
                let next = chars.get(i + 1).copied();
                let matcher = c == '=' || (c == '!' && matches!(next, Some('=' | '~')));
                if matcher && !last.is_empty() {
                    names.insert(std::mem::take(&mut last));
                } else if c == '(' {
                    grouping = last == "by" || last == "without";
                    last.clear();
                } else if c == ')' {
                    grouping = false;
                    last.clear();
                } else if !c.is_whitespace() {
                    last.clear();
                }
            }
        }
    }
    names
}

/// Whether a LogQL query (a dashboard's or an alert rule's) reads job events as the kit does:
/// the agent's stream and the events' scope, and only fields the records have. `Err` says why
/// not.
pub fn check_job_events_query(query: &str) -> Result<(), String> {
    let scope = format!(
        r#"{{service_name="nbu-otel"}} | scope_name="{}""#,
        nbu_otel::telemetry::logs::SCOPE_NAME
    );
    if !query.contains(&scope) {
        return Err(format!("does not select {scope}"));
    }
    let known = job_event_fields();
    let unknown: Vec<String> = logql_fields(query)
        .into_iter()
        .filter(|f| !known.contains(f))
        .collect();
    if !unknown.is_empty() {
        return Err(format!("reads fields job events do not have: {unknown:?}"));
    }
    Ok(())
}

#[test]
fn dashboards_are_generated_from_one_description() {
    let dir = dir();
    let bless = std::env::var_os("NBU_OTEL_BLESS").is_some();
    for (uid, title, panels) in DASHBOARDS {
        let path = dir.join(format!("{uid}.json"));
        let mut expected = serde_json::to_string_pretty(&dashboard(uid, title, panels)).unwrap();
        expected.push('\n');
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        if actual != expected {
            assert!(
                bless,
                "{} is out of date; regenerate with NBU_OTEL_BLESS=1 cargo test --test it dashboards",
                path.display()
            );
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &expected).unwrap();
        }
    }
    // No stray dashboard that the description does not make.
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), DASHBOARDS.len(), "{files:?}");
}

#[test]
fn every_query_filters_by_site_and_uses_real_job_types() {
    let logs = log_queries();
    assert!(logs.len() >= 2, "{logs:?}");
    for (what, query) in &logs {
        assert!(query.contains(r#"site=~"$site""#), "{what}: {query}");
        if let Err(e) = check_job_events_query(query) {
            panic!("{what}: {e}: {query}");
        }
    }
    // The legends of Loki panels name fields of the records too.
    for (uid, _, panels) in DASHBOARDS {
        for panel in panels.iter().filter(|p| p.source == Source::Loki) {
            for (_, legend) in panel.queries {
                for field in legend
                    .split("{{")
                    .skip(1)
                    .filter_map(|s| s.split("}}").next())
                {
                    assert!(
                        job_event_fields().contains(field.trim()),
                        "{uid}: {}: legend {legend}",
                        panel.title
                    );
                }
            }
        }
    }
    // The field extraction itself: strings, ranges and functions are not fields.
    assert_eq!(
        logql_fields(
            r#"sum by (site, nbu_job_client) (count_over_time({service_name="x"} | a_b!="by (z)" | c=~"d" [$__range]))"#
        ),
        ["a_b", "c", "nbu_job_client", "service_name", "site"]
            .map(String::from)
            .into()
    );
    assert!(job_event_fields().contains("nbu_job_reason_missing"));
    assert!(job_event_fields().contains("error_type"));
    for (what, expr) in expressions() {
        // The agent's own site-less families.
        let site_free = [
            "nbu_exporter_build_info",
            "nbu_config_reloads_total",
            "nbu_otlp_exports_total",
        ]
        .iter()
        .any(|name| expr.contains(name));
        assert!(
            site_free || expr.contains(r#"site=~"$site""#),
            "{what}: {expr}"
        );
        assert!(!expr.contains("DUPLICATION"), "{what}: {expr}");
        // Counters and the cumulative histogram only through rate() or increase().
        for name in ["_total{", "_bucket{"] {
            if let Some(at) = expr.find(name) {
                let before = &expr[..at];
                assert!(
                    before.ends_with_any_call(),
                    "{what}: a counter or bucket read without rate()/increase(): {expr}"
                );
            }
        }
    }
}

trait EndsWithCall {
    fn ends_with_any_call(&self) -> bool;
}

impl EndsWithCall for &str {
    /// Whether the metric name that follows is the argument of `rate(` or `increase(`.
    fn ends_with_any_call(&self) -> bool {
        let start = self
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let head = &self[..start];
        head.ends_with("rate(") || head.ends_with("increase(")
    }
}
