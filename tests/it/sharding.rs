//! Sites spread over replicas (`sharding`), through the real binary and one simulator serving
//! every site: each shard collects only its own sites, the shards together collect every site
//! exactly once, and what they collect equals what one agent collects alone.

use std::collections::{BTreeMap, BTreeSet};

use nbu_sim::SimConfig;
use serde_json::Value;

use crate::common::process::BIN;
use crate::common::start_sim;

const KEY: &str = "k-sharding-40aa";

/// The configuration of `sites` sites named `site-1` to `site-<sites>`, all on `url`.
fn config(dir: &std::path::Path, url: &str, sites: usize) -> std::path::PathBuf {
    let mut yaml = String::from("sites:\n");
    for i in 1..=sites {
        yaml.push_str(&format!(
            "  - name: site-{i}\n    url: {url}\n    api_key: {KEY}\n"
        ));
    }
    // Every job of the simulator's history is in the window: two runs see the same jobs.
    yaml.push_str(
        "collection:\n  jobs_window: 72h\n  requests_per_second: 1000\notlp:\n  enabled: false\nlogging:\n  level: warn\n",
    );
    let path = dir.join("nbu-otel.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// `nbu-otel <command> --config <path>` with `NBU_OTEL_SHARDING__*` set when `shard` is given.
async fn run(command: &[&str], path: &std::path::Path, shard: Option<(u32, u32)>) -> (i32, String) {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(command).arg("--config").arg(path);
    if let Some((count, index)) = shard {
        cmd.env("NBU_OTEL_SHARDING__COUNT", count.to_string())
            .env("NBU_OTEL_SHARDING__INDEX", index.to_string());
    }
    let out = cmd.output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(KEY), "the key in stderr:\n{stderr}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// What `once --format json` collected, by site: its job and storage counts and its series
/// of the job and storage families (none of them depends on when the collection ran).
async fn collected(
    path: &std::path::Path,
    shard: Option<(u32, u32)>,
) -> BTreeMap<String, (Value, Value, BTreeSet<String>)> {
    let (code, stdout) = run(&["once", "--format", "json"], path, shard).await;
    assert_eq!(code, 0, "{shard:?}:\n{stdout}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    json["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|site| {
            let series = site["series"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| {
                    let name = s["name"].as_str().unwrap_or("");
                    name.starts_with("nbu_jobs_") || name.starts_with("nbu_disk_")
                })
                .map(|s| s.to_string())
                .collect();
            (
                site["site"].as_str().unwrap().to_owned(),
                (
                    site["jobs"]["jobs"].clone(),
                    site["storage"]["units"].clone(),
                    series,
                ),
            )
        })
        .collect()
}

/// The acceptance case: 40 sites over 3 shards, then 4, by the standard variables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_site_is_collected_by_exactly_one_shard_and_a_new_shard_only_takes_sites() {
    let sim = start_sim(SimConfig {
        jobs: 60,
        storage_units: 2,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &sim.base_url(), 40);
    let mut owner: BTreeMap<u32, BTreeMap<String, u32>> = BTreeMap::new();
    for count in [3u32, 4] {
        for index in 0..count {
            for site in collected(&path, Some((count, index))).await.into_keys() {
                let previous = owner.entry(count).or_default().insert(site.clone(), index);
                assert_eq!(previous, None, "{site} collected by two of {count} shards");
            }
        }
        assert_eq!(
            owner[&count].len(),
            40,
            "every site collected by one of {count} shards"
        );
    }
    let moved: Vec<(&String, u32, u32)> = owner[&3]
        .iter()
        .map(|(site, from)| (site, *from, owner[&4][site]))
        .filter(|(_, from, to)| from != to)
        .collect();
    for (site, from, to) in &moved {
        assert_eq!(
            *to, 3,
            "{site} moved from shard {from} to the old shard {to}"
        );
    }
    assert!(
        moved.len() * 100 <= 35 * 40,
        "{} of 40 sites moved",
        moved.len()
    );

    // `check` shows the whole plan: this replica's shard and every shard's sites.
    let (code, stdout) = run(&["check"], &path, Some((3, 1))).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("sharding: this replica is shard 1 of 3"),
        "{stdout}"
    );
    for index in 0..3u32 {
        let sites: Vec<&str> = owner[&3]
            .iter()
            .filter(|(_, shard)| **shard == index)
            .map(|(site, _)| site.as_str())
            .collect();
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("shard {index}")))
            .unwrap_or_else(|| panic!("no line for shard {index}:\n{stdout}"));
        for site in sites {
            assert!(
                line.split([':', ',', ' ']).any(|w| w == site),
                "{site} not on shard {index}'s line: {line}"
            );
        }
    }
    sim.shutdown().await;
}

/// Two replicas collect disjoint halves whose union is what one agent collects alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_together_collect_what_one_agent_collects() {
    let sim = start_sim(SimConfig {
        jobs: 200,
        storage_units: 3,
        api_key: KEY.into(),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &sim.base_url(), 12);
    let whole = collected(&path, None).await;
    assert_eq!(whole.len(), 12);
    let first = collected(&path, Some((2, 0))).await;
    let second = collected(&path, Some((2, 1))).await;
    assert!(
        !first.is_empty() && !second.is_empty(),
        "both shards hold sites"
    );
    assert!(
        first.keys().all(|site| !second.contains_key(site)),
        "the shards overlap"
    );
    let mut union = first;
    union.extend(second);
    assert_eq!(union, whole);
    sim.shutdown().await;
}
