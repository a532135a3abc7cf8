//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod bridged;
pub mod otlp;
pub mod otlp_http;
pub mod process;
pub mod truth;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use nbu_otel::config::{self, Config, SiteConfig};
use nbu_otel::netbackup::ApiVersion;
use nbu_sim::{SimConfig, Simulator};

/// A fixed anchor so datasets are reproducible.
pub fn anchor() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap()
}

/// The simulator's name for an API version the agent speaks.
pub fn sim_version(version: ApiVersion) -> nbu_sim::ApiVersion {
    match version {
        ApiVersion::V10_0 => nbu_sim::ApiVersion::V10_0,
        ApiVersion::V12_0 => nbu_sim::ApiVersion::V12_0,
        ApiVersion::V13_0 => nbu_sim::ApiVersion::V13_0,
        ApiVersion::V14_0 => nbu_sim::ApiVersion::V14_0,
    }
}

/// Starts a simulator on a free loopback port.
pub async fn start_sim(config: SimConfig) -> Simulator {
    Simulator::start(config, "127.0.0.1:0".parse::<SocketAddr>().unwrap())
        .await
        .expect("simulator starts")
}

/// Loads a config from YAML text through the real loader (env given explicitly).
pub fn load(yaml: &str, env: &[(&str, &str)]) -> Config {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    match config::load_str_with_env(yaml, Path::new("."), &env) {
        Ok(c) => c,
        Err(e) => panic!("config does not load:\n{e}\n---\n{yaml}"),
    }
}

/// A one-site config for `url`; `collection` lines (indented six spaces) override the
/// test defaults of the site's `collection`.
pub fn site_yaml(name: &str, url: &str, collection: &str) -> String {
    let mut lines: Vec<String> = collection.lines().map(str::to_owned).collect();
    for default in [
        "request_timeout: 2s",
        "max_retry_time: 10s",
        "requests_per_second: 500",
    ] {
        let key = default.split(':').next().unwrap_or_default();
        if !lines.iter().any(|l| l.trim_start().starts_with(key)) {
            lines.push(format!("      {default}"));
        }
    }
    format!(
        "  - name: {name}\n    url: {url}\n    api_key: ${{NBU_KEY}}\n    collection:\n{}\n",
        lines.join("\n")
    )
}

/// One site named `name` at `url` accepting `key`.
pub fn site(name: &str, url: &str, key: &str, collection: &str) -> SiteConfig {
    let yaml = format!("sites:\n{}", site_yaml(name, url, collection));
    load(&yaml, &[("NBU_KEY", key)]).sites.remove(0)
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `deadline` naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() >= until {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a request to `/admin/jobs` begins a jobs cycle: the newest-job probe of a full
/// walk, or the first page of a delta.
pub fn starts_jobs_cycle(path: &str, query: &str) -> bool {
    path.ends_with("/admin/jobs")
        && (query.contains("sort=-jobId")
            || (query.contains("lastUpdateTime") && !query.contains("page%5Bafter%5D")))
}

/// Jobs cycles begun so far (answered with 200).
pub fn jobs_cycles(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.status == 200 && starts_jobs_cycle(&r.path, &r.query))
        .count()
}

/// The `endTime gt` cutoff the agent sent in its first finished-jobs request.
pub fn cutoff_from_requests(sim: &Simulator) -> DateTime<Utc> {
    for r in sim.requests() {
        for (k, v) in url::form_urlencoded::parse(r.query.as_bytes()) {
            if k == "filter"
                && let Some(at) = v
                    .split("endTime gt ")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
            {
                return DateTime::parse_from_rfc3339(at)
                    .expect("cutoff parses")
                    .with_timezone(&Utc);
            }
        }
    }
    panic!("no finished-jobs request in the simulator's log");
}
