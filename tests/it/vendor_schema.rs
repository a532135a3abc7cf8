//! The simulator stays faithful to the vendor's OpenAPI files in `../shared/netbackup-api`:
//! every attribute it sends is one the vendor schema declares for that endpoint. Without the
//! files the test says SKIPPED, except in CI (`CI` set), where it fails.

use std::collections::BTreeSet;
use std::path::PathBuf;

use nbu_otel::sim::SimConfig;

use crate::common::start_sim;

const KEY: &str = "k-schema";

fn spec_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/netbackup-api");
    if dir.is_dir() {
        Some(dir)
    } else if std::env::var_os("CI").is_some() {
        // In CI a missing reference is a broken checkout, not a reason to pass.
        panic!(
            "{} is absent and CI is set: the vendor-schema conformance tests must run",
            dir.display()
        );
    } else {
        eprintln!(
            "\n*** SKIPPED: {} is absent; the vendor-schema conformance tests did not run ***\n",
            dir.display()
        );
        None
    }
}

/// The text of the `path:` item of an OpenAPI file, up to the next path item.
fn path_section(spec: &str, path: &str) -> String {
    let start = spec
        .find(&format!("\n  {path}:\n"))
        .unwrap_or_else(|| panic!("{path} not in the vendor file"));
    let rest = &spec[start + 1..];
    let end = rest[3..]
        .find("\n  /")
        .map_or(rest.len(), |i| i + 3)
        .min(rest.find("\ncomponents:").unwrap_or(rest.len()));
    rest[..end].to_owned()
}

fn declared(section: &str, key: &str) -> bool {
    section.lines().any(|l| {
        l.trim_start() == format!("{key}:") || l.trim_start().starts_with(&format!("{key}: "))
    })
}

async fn attribute_keys(url: &str, version: &str) -> BTreeSet<String> {
    let client = reqwest::Client::new();
    let body: serde_json::Value = client
        .get(url)
        .header("Authorization", KEY)
        .header(
            "Accept",
            format!("application/vnd.netbackup+json;version={version}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|item| item["attributes"].as_object().unwrap().keys().cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_and_storage_attributes_are_declared_by_the_vendor_schemas() {
    let Some(dir) = spec_dir() else { return };
    let sim = start_sim(SimConfig {
        jobs: 400,
        storage_units: 30,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    for (folder, version) in [("11.2", "14.0"), ("11.0", "13.0"), ("10.5", "12.0")] {
        let admin = std::fs::read_to_string(dir.join(folder).join("admin.yaml")).unwrap();
        let jobs = path_section(&admin, "/admin/jobs");
        let keys = attribute_keys(
            &format!("{}/admin/jobs?page%5Blimit%5D=100", sim.base_url()),
            version,
        )
        .await;
        assert!(
            keys.len() >= 60,
            "a realistic job has many attributes: {}",
            keys.len()
        );
        assert!(!declared(&jobs, "bogusAttribute"), "the check can fail");
        let undeclared: Vec<_> = keys.iter().filter(|k| !declared(&jobs, k)).collect();
        // `done` is in the vendor's own example but not in its schema.
        let undeclared: Vec<_> = undeclared.into_iter().filter(|k| *k != "done").collect();
        assert!(
            undeclared.is_empty(),
            "{folder}: job attributes not in the schema: {undeclared:?}"
        );
    }
    let storage = std::fs::read_to_string(dir.join("11.0/storage.yaml")).unwrap();
    let units = path_section(&storage, "/storage/storage-units");
    let keys = attribute_keys(
        &format!(
            "{}/storage/storage-units?page%5Blimit%5D=100",
            sim.base_url()
        ),
        "13.0",
    )
    .await;
    let undeclared: Vec<_> = keys.iter().filter(|k| !declared(&units, k)).collect();
    assert!(
        undeclared.is_empty(),
        "storage unit attributes not in the schema: {undeclared:?}"
    );
    sim.shutdown().await;
}
