//! How the agent is shipped: the Helm chart (its rules and values schema), the compose stack
//! with its Grafana provisioning, and the systemd unit.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::{LOKI_RULES, RULES, output_text, read, repo, required_tool, yaml};

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
