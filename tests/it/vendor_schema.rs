//! The simulator stays faithful to the vendor's OpenAPI files in `../shared/netbackup-api`:
//! every attribute it sends is one the vendor schema declares for that endpoint. Without the
//! files the test says SKIPPED, except in CI (`CI` set), where it fails.

use std::collections::BTreeSet;
use std::path::PathBuf;

use nbu_sim::SimConfig;

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

/// The JSON body of a `GET` in API `version`.
async fn get_json(url: &str, version: &str) -> serde_json::Value {
    reqwest::Client::new()
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
        .unwrap()
}

async fn attribute_keys(url: &str, version: &str) -> BTreeSet<String> {
    let body = get_json(url, version).await;
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

/// The indented block of the line at byte `at`: that line and the following ones indented
/// deeper.
fn block_at(spec: &str, at: usize) -> &str {
    let start = spec[..at].rfind('\n').map_or(0, |i| i + 1);
    let indent = |line: &str| line.len() - line.trim_start().len();
    let own = indent(&spec[start..]);
    let mut end = spec[start..]
        .find('\n')
        .map_or(spec.len(), |i| start + i + 1);
    while end < spec.len() {
        let line_end = spec[end..].find('\n').map_or(spec.len(), |i| end + i + 1);
        let line = &spec[end..line_end];
        if !line.trim().is_empty() && indent(line) <= own {
            break;
        }
        end = line_end;
    }
    &spec[start..end]
}

/// Positions of `needle` in `text` not followed by an identifier character.
fn whole_matches<'a>(text: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    text.match_indices(needle).map(|(i, _)| i).filter(move |i| {
        !text[i + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The text of a path item with its YAML aliases (`*ref_N`) and local component references
/// (`#/components/schemas/X`) expanded, so that every key its responses declare is in it.
fn resolved_section(spec: &str, path: &str) -> String {
    let mut text = path_section(spec, path);
    let mut seen = BTreeSet::new();
    loop {
        let mut names = Vec::new();
        for (i, _) in text.match_indices("*ref_") {
            let name: String = text[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            names.push((format!("&{name}"), name));
        }
        for (i, _) in text.match_indices("#/components/schemas/") {
            let name: String = text[i + 21..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            names.push((format!("\n    {name}:"), name));
        }
        let mut added = String::new();
        for (needle, name) in names {
            if !seen.insert(name) {
                continue;
            }
            if let Some(at) = whole_matches(spec, &needle).next() {
                let at = if needle.starts_with('\n') { at + 1 } else { at };
                added.push_str(block_at(spec, at));
            }
        }
        if added.is_empty() {
            return text;
        }
        text.push_str(&added);
    }
}

/// Every key of a JSON value, recursively (array elements included).
fn keys_of(value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                out.insert(key.clone());
                keys_of(inner, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| keys_of(i, out)),
        _ => {}
    }
}

/// Every value of `key` anywhere in `value`.
fn values_of(value: &serde_json::Value, key: &str, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, inner) in map {
                if k == key
                    && let Some(text) = inner.as_str()
                {
                    out.insert(text.to_owned());
                }
                values_of(inner, key, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| values_of(i, key, out)),
        _ => {}
    }
}

/// Whether `value` is an entry of a YAML list (an enum value) in `section`.
fn enumerated(section: &str, value: &str) -> bool {
    section
        .lines()
        .any(|l| l.trim() == format!("- {value}") || l.trim() == format!("- '{value}'"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_in_responses_are_declared_by_the_vendor_schemas_of_each_version() {
    let Some(dir) = spec_dir() else { return };
    let sim = start_sim(SimConfig {
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let now = sim.now();
    let window: String = url::form_urlencoded::byte_serialize(
        format!(
            "backupTime ge {} and backupTime le {}",
            (now - chrono::Duration::days(10)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
        .as_bytes(),
    )
    .collect();
    let images = format!("/catalog/images?page%5Blimit%5D=100&filter={window}");
    // (file, path, request, keys whose values must be enum entries of the schema)
    let endpoints: [(&str, &str, &str, &[&str]); 9] = [
        (
            "manage",
            "/manage/alerts",
            "/manage/alerts?page%5Blimit%5D=300",
            &["severity", "category", "subCategory", "context"],
        ),
        (
            "malware",
            "/malware/latest-scan-results",
            "/malware/latest-scan-results?page%5Blimit%5D=100",
            &[
                "scanState",
                "scanResult",
                "policyType",
                "backupType",
                "triggerMethod",
            ],
        ),
        (
            "catalog",
            "/catalog/images",
            &images,
            &[
                "scheduleType",
                "malwareStatus",
                "anomalyStatus",
                "anomalySeverity",
                "fileScanResult",
                "malwareScanResult",
                "fileHashSearchResult",
            ],
        ),
        (
            "servicecatalog",
            "/servicecatalog/slos",
            "/servicecatalog/slos?page%5Blimit%5D=100",
            &["workloadType", "scheduleType"],
        ),
        (
            "storage",
            "/storage/drives",
            "/storage/drives?page%5Blimit%5D=100",
            &[
                "driveType",
                "robotType",
                "driveStatus",
                "driveControl",
                "pathStatus",
                "robotControl",
            ],
        ),
        (
            "storage",
            "/storage/tape-media",
            "/storage/tape-media?page%5Blimit%5D=100",
            &["mediaType", "robotType", "application"],
        ),
        (
            "storage",
            "/storage/robots-device-hosts",
            "/storage/robots-device-hosts",
            &["type"],
        ),
        (
            "storage",
            "/storage/tape-volume-pools",
            "/storage/tape-volume-pools?page%5Blimit%5D=100",
            &["poolType"],
        ),
        (
            "storage",
            "/storage/disk-pools",
            "/storage/disk-pools?page%5Blimit%5D=300",
            &["storageCategory", "diskPoolState", "state"],
        ),
    ];
    let mut checked = 0;
    for (folder, version) in [
        ("10.3", "10.0"),
        ("10.5", "12.0"),
        ("11.0", "13.0"),
        ("11.2", "14.0"),
    ] {
        for (file, path, request, enums) in endpoints {
            let Ok(spec) = std::fs::read_to_string(dir.join(folder).join(format!("{file}.yaml")))
            else {
                continue;
            };
            if !spec.contains(&format!("\n  {path}:\n")) {
                continue;
            }
            let section = resolved_section(&spec, path);
            assert!(!declared(&section, "bogusAttribute"), "the check can fail");
            // The version differences the simulator follows are visible to the check.
            let absent: &[&str] = match (folder, path) {
                ("10.3", "/malware/latest-scan-results") => {
                    &["numberOfFilesImpacted", "SCAN_STARTED"]
                }
                ("10.5" | "11.0", "/malware/latest-scan-results") => &["noOfFilesImpacted"],
                ("10.3", "/catalog/images") => &["anomalyStatus", "malwareStatus"],
                ("10.5", "/catalog/images") => &["malwareStatus"],
                _ => &[],
            };
            for key in absent {
                assert!(
                    !declared(&section, key) && !enumerated(&section, key),
                    "{folder} {path} declares {key}"
                );
            }
            let doc = get_json(&format!("{}{request}", sim.base_url()), version).await;
            let items = doc["data"]
                .as_array()
                .unwrap_or_else(|| panic!("{folder} {path}: {doc}"));
            assert!(items.len() >= 3, "{folder} {path}: a page of items");
            let mut keys = BTreeSet::new();
            keys_of(&doc, &mut keys);
            let undeclared: Vec<_> = keys.iter().filter(|k| !declared(&section, k)).collect();
            assert!(
                undeclared.is_empty(),
                "{folder} {path}: keys not in the schema: {undeclared:?}"
            );
            for key in enums {
                let mut values = BTreeSet::new();
                values_of(&doc, key, &mut values);
                let odd: Vec<_> = values.iter().filter(|v| !enumerated(&section, v)).collect();
                assert!(
                    odd.is_empty(),
                    "{folder} {path}: {key} values outside the enum: {odd:?}"
                );
            }
            checked += 1;
        }
    }
    // alerts, malware and images in four versions; drives and disk pools in three; tape media,
    // robot hosts and volume pools in two; SLOs in one.
    assert_eq!(checked, 3 * 4 + 2 * 3 + 3 * 2 + 1);
    sim.shutdown().await;
}
