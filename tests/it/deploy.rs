//! The operator kit in deploy/: alert rules (their promtool unit tests, every expression
//! parsing, every metric in the catalog), dashboards checked the same way, the systemd unit,
//! and the YAML and JSON files of the compose stack and the Helm chart.
//!
//! Tools absent here (promtool, systemd-analyze) make a test say SKIPPED, and fail it in CI.

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

#[test]
fn the_chart_ships_the_same_rules_and_its_values_match_its_schema() {
    assert_eq!(
        read("deploy/helm/nbu-otel/files/nbu-otel.rules.yml"),
        read(RULES)
    );
    let chart = yaml("deploy/helm/nbu-otel/Chart.yaml");
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "nbu-otel");
    let values = yaml("deploy/helm/nbu-otel/values.yaml");
    let schema: Value =
        serde_json::from_str(&read("deploy/helm/nbu-otel/values.schema.json")).unwrap();
    // The schema's required keys and declared properties cover the values, and back.
    for key in schema["required"].as_array().unwrap() {
        assert!(
            values.get(key.as_str().unwrap()).is_some(),
            "values lack {key}"
        );
    }
    let properties = schema["properties"].as_object().unwrap();
    for key in values.as_object().unwrap().keys() {
        assert!(
            properties.contains_key(key),
            "{key} is not in values.schema.json"
        );
    }
    // The pod (of the Deployment and of the StatefulSet): the probes are /healthz and
    // /readyz; the config goes in a Secret.
    let pod = read("deploy/helm/nbu-otel/templates/_pod.tpl");
    for workload in ["deployment.yaml", "statefulset.yaml"] {
        let text = read(&format!("deploy/helm/nbu-otel/templates/{workload}"));
        assert!(
            text.contains(r#"{{- include "nbu-otel.pod" . | nindent 4 }}"#),
            "{workload}"
        );
    }
    assert!(pod.contains("path: /healthz") && pod.contains("path: /readyz"));
    assert!(read("deploy/helm/nbu-otel/templates/secret.yaml").contains("kind: Secret"));
    // The default config of the chart loads, its variable given.
    let config = serde_json::to_string(&values["config"]).unwrap();
    let env = [("NBU_A_API_KEY".to_owned(), "k".to_owned())].into();
    nbu_otel::config::load_str_with_env(&config, Path::new("."), &env)
        .unwrap_or_else(|e| panic!("the chart's default config does not load:\n{e}"));
    // events.enabled: the variables the Deployment sets are the agent's, and turn job events
    // on with their state directory where the chart mounts its volume.
    let state_dir = values["events"]["stateDir"].as_str().unwrap();
    for name in ["NBU_OTEL_EVENTS__ENABLED", "NBU_OTEL_EVENTS__STATE_DIR"] {
        assert!(pod.contains(&format!("- name: {name}\n")), "{name}");
    }
    assert!(pod.contains("mountPath: {{ .Values.events.stateDir }}"));
    let env = [
        ("NBU_A_API_KEY", "k"),
        ("NBU_OTEL_EVENTS__ENABLED", "true"),
        ("NBU_OTEL_EVENTS__STATE_DIR", state_dir),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();
    let loaded = nbu_otel::config::load_str_with_env(&config, Path::new("."), &env)
        .unwrap_or_else(|e| panic!("the chart's config with events on does not load:\n{e}"));
    assert!(loaded.events.enabled);
    assert_eq!(
        loaded.events.state_dir.as_deref(),
        Some(Path::new(state_dir))
    );
    assert!(
        read("deploy/helm/nbu-otel/templates/pvc.yaml").contains("kind: PersistentVolumeClaim")
    );

    // shards > 1: a StatefulSet of that many pods started in parallel, a disruption budget,
    // and in every pod the variables that make it collect the shard its ordinal names.
    let statefulset = read("deploy/helm/nbu-otel/templates/statefulset.yaml");
    for needed in [
        "kind: StatefulSet",
        "replicas: {{ .Values.shards }}",
        "podManagementPolicy: Parallel",
        "volumeClaimTemplates:",
    ] {
        assert!(
            statefulset.contains(needed),
            "the StatefulSet lacks {needed}"
        );
    }
    assert!(read("deploy/helm/nbu-otel/templates/pdb.yaml").contains("kind: PodDisruptionBudget"));
    for needed in [
        "- name: NBU_OTEL_SHARDING__COUNT\n          value: {{ .Values.shards | quote }}",
        "- name: NBU_OTEL_SHARDING__INDEX\n          value: from_hostname",
        "- name: HOSTNAME\n          valueFrom: { fieldRef: { fieldPath: metadata.name } }",
    ] {
        assert!(pod.contains(needed), "the pod lacks {needed}");
    }
    assert_eq!(
        values["shards"], 1,
        "one replica collecting every site by default"
    );
    // What those variables make of the chart's config in the pod <release>-nbu-otel-2 of
    // three: shard 2.
    let env = [
        ("NBU_A_API_KEY", "k"),
        ("NBU_OTEL_SHARDING__COUNT", "3"),
        ("NBU_OTEL_SHARDING__INDEX", "from_hostname"),
        ("HOSTNAME", "backup-nbu-otel-2"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();
    let sharded = nbu_otel::config::load_str_with_env(&config, Path::new("."), &env)
        .unwrap_or_else(|e| panic!("the chart's config, sharded, does not load:\n{e}"));
    assert_eq!((sharded.shards.count, sharded.shards.index), (3, 2));
}

#[test]
fn the_compose_stack_and_grafana_provisioning_parse_and_point_at_real_files() {
    let compose = yaml("deploy/compose/compose.yaml");
    let services = compose["services"].as_object().unwrap();
    for service in [
        "nbu-otel",
        "otel-collector",
        "prometheus",
        "grafana",
        "tempo",
        "loki",
    ] {
        assert!(services.contains_key(service), "no {service} service");
    }
    // Every mounted repository file exists.
    for service in services.values() {
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let host = volume.as_str().unwrap().split(':').next().unwrap();
            if host.starts_with("../") {
                assert!(
                    repo("deploy/compose").join(host).exists(),
                    "{host} is mounted but missing"
                );
            }
        }
    }
    for file in [
        "deploy/compose/prometheus.yml",
        "deploy/compose/tempo.yaml",
        "deploy/compose/loki.yaml",
        "deploy/grafana/provisioning/dashboards/nbu-otel.yaml",
        "deploy/grafana/provisioning/datasources/prometheus.yaml",
    ] {
        yaml(file);
    }
    // Loki's ruler finds the job events rules in its tenant's directory; Grafana has a Loki
    // data source for the jobs dashboard's `loki` variable.
    let loki = services["loki"]["volumes"].as_array().unwrap();
    let mounted = format!(
        "../{}:/etc/loki/rules/fake/",
        LOKI_RULES.trim_start_matches("deploy/")
    );
    assert!(
        loki.iter()
            .any(|v| v.as_str().unwrap().starts_with(&mounted)),
        "{loki:?}"
    );
    let datasources = yaml("deploy/grafana/provisioning/datasources/prometheus.yaml");
    assert!(
        datasources["datasources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["type"] == "loki"),
        "no Loki data source"
    );
    for entry in std::fs::read_dir(crate::dashboards::dir()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn the_systemd_unit_verifies() {
    let Some(analyze) = required_tool("systemd-analyze", "systemd") else {
        return;
    };
    // verify wants the binary at the ExecStart path: point it at the built one.
    // events.state_dir: /var/lib/nbu-otel is the unit's own, writable state directory.
    assert!(read("deploy/systemd/nbu-otel.service").contains("\nStateDirectory=nbu-otel\n"));
    let unit = read("deploy/systemd/nbu-otel.service")
        .replace("/usr/local/bin/nbu-otel", env!("CARGO_BIN_EXE_nbu-otel"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nbu-otel.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .unwrap();
    let text = output_text(&out);
    // Findings about the unit itself (not about the machine's other units) fail the test.
    let own: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("nbu-otel.service"))
        .collect();
    assert!(out.status.success() && own.is_empty(), "{text}");
}

/// The Loki ruler's rules on job events.
pub const LOKI_RULES: &str = "deploy/loki/nbu-otel-job-events.rules.yml";

#[test]
fn the_loki_rules_read_job_events_per_site_and_are_not_prometheus_alerts() {
    let rules = yaml(LOKI_RULES);
    let prometheus: BTreeSet<String> = alerts().into_iter().map(|(name, _)| name).collect();
    let mut seen = BTreeSet::new();
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["alert"].as_str().unwrap();
            let expr = rule["expr"].as_str().unwrap();
            assert!(seen.insert(name.to_owned()), "{name} twice");
            assert!(
                !prometheus.contains(name),
                "{name} is a Prometheus alert too"
            );
            if let Err(e) = crate::dashboards::check_job_events_query(expr) {
                panic!("{LOKI_RULES}: {name}: {e}: {expr}");
            }
            // Every alert carries the site it is about, as the Prometheus rules do.
            assert!(expr.contains("by (site"), "{name}: not per site: {expr}");
            assert!(rule["labels"]["severity"].is_string(), "{name}");
            for annotation in ["summary", "description"] {
                assert!(rule["annotations"][annotation].is_string(), "{name}");
            }
        }
    }
    assert!(seen.len() >= 2, "{seen:?}");
}

#[test]
fn the_collector_config_sends_job_events_through_a_logs_pipeline() {
    let config = yaml("otel-collector.yaml");
    let pipeline = &config["service"]["pipelines"]["logs"];
    let names = |key: &str| -> Vec<String> {
        pipeline[key]
            .as_array()
            .unwrap_or_else(|| panic!("the logs pipeline has no {key}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(names("receivers").contains(&"otlp".to_owned()));
    // memory_limiter first, as in the other pipelines.
    assert_eq!(
        names("processors").first().map(String::as_str),
        Some("memory_limiter")
    );
    let exporters = names("exporters");
    assert!(
        exporters.iter().any(|e| e != "debug"),
        "the logs pipeline only logs: {exporters:?}"
    );
    for exporter in &exporters {
        assert!(
            config["exporters"][exporter].is_object(),
            "{exporter} is not defined"
        );
    }
    let loki = &config["exporters"]["otlphttp/logs"]["endpoint"];
    assert!(
        loki.as_str().is_some_and(|e| e.contains("LOGS_ENDPOINT")),
        "{loki}"
    );
}

/// The Prometheus name an OpenTelemetry Collector's `prometheus` exporter gives an OTLP metric,
/// written from the rules of its name translator (`otlptranslator`, `normalizeName` when
/// `add_metric_suffixes` is on, the plain escaping when it is off), not from the agent's code:
/// the name is cut into tokens at every character outside `[a-zA-Z0-9:]`; the unit's word
/// (`s` seconds, `By` bytes, none for `1`, for an empty unit or for an annotation in braces)
/// is added unless a token already is that word; a monotonic sum loses any `total` token and
/// ends in `total`; a gauge of unit `1` loses any `ratio` token and ends in `ratio`.
fn collector_name(name: &str, unit: &str, kind: Kind, suffixes: bool) -> String {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == ':';
    if !suffixes {
        return name
            .split(|c: char| !valid(c) && c != '_')
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("_");
    }
    let mut tokens: Vec<String> = name
        .split(|c: char| !valid(c))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    assert!(
        !unit.contains('/'),
        "{name}: per-units are not modelled here"
    );
    let word = match unit.trim() {
        u if u.is_empty() || u.contains(['{', '}']) => "",
        "1" => "",
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        "%" => "percent",
        other => panic!("{name}: unit {other} is not modelled here"),
    };
    if !word.is_empty() && !tokens.iter().any(|t| t == word) {
        tokens.push(word.to_owned());
    }
    let mut suffix = |word: &str| {
        tokens.retain(|t| t != word);
        tokens.push(word.to_owned());
    };
    match kind {
        Kind::Counter => suffix("total"),
        Kind::Gauge if unit == "1" => suffix("ratio"),
        _ => {}
    }
    tokens.join("_")
}

#[test]
fn the_collector_config_exposes_every_metric_under_the_bridge_name() {
    let config = yaml("otel-collector.yaml");
    let exporter = &config["exporters"]["prometheus"];
    assert!(
        exporter.is_object(),
        "otel-collector.yaml has a prometheus exporter"
    );
    // The exporter's default is to add the suffixes.
    let suffixes = exporter["add_metric_suffixes"].as_bool().unwrap_or(true);
    let pipeline = &config["service"]["pipelines"]["metrics"];
    let exporters: Vec<&str> = pipeline["exporters"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        exporters.contains(&"prometheus"),
        "the metrics pipeline ends in the prometheus exporter"
    );
    let differ: Vec<String> = CATALOG
        .iter()
        .filter_map(|m| {
            let through = collector_name(m.name, m.unit, m.kind, suffixes);
            (through != m.prometheus_name()).then(|| {
                format!(
                    "{} [{}]: bridge {}, Collector {through}",
                    m.name,
                    m.unit,
                    m.prometheus_name()
                )
            })
        })
        .collect();
    assert!(
        differ.is_empty(),
        "names that differ through the Collector: {differ:#?}"
    );
}

#[test]
fn the_collector_naming_rules_match_known_translations() {
    // Examples given by the translator's own documentation and tests.
    assert_eq!(
        collector_name("http.server.request.duration", "s", Kind::Histogram, true),
        "http_server_request_duration_seconds"
    );
    assert_eq!(
        collector_name("requests.count", "1", Kind::Counter, true),
        "requests_count_total"
    );
    assert_eq!(
        collector_name("memory.usage", "By", Kind::Gauge, true),
        "memory_usage_bytes"
    );
    assert_eq!(
        collector_name("cpu.utilization", "1", Kind::Gauge, true),
        "cpu_utilization_ratio"
    );
    assert_eq!(
        collector_name("system.processes.count", "{process}", Kind::Gauge, true),
        "system_processes_count"
    );
    assert_eq!(
        collector_name("nbu.api.requests", "{request}", Kind::Counter, false),
        "nbu_api_requests"
    );
}
