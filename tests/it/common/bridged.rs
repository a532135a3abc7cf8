//! The small agent most operation tests run: a few hundred jobs, the Prometheus bridge on, the
//! OTLP push off.

use nbu_sim::{SimConfig, Simulator};

/// A simulator of 300 jobs and 8 storage units answering to `key`.
pub fn sim_config(key: &str) -> SimConfig {
    SimConfig {
        jobs: 300,
        storage_units: 8,
        api_key: key.into(),
        ..SimConfig::default()
    }
}

/// How many walks of `path` started (first pages answered 200 whose query holds `first_page`).
pub fn walks(sim: &Simulator, path: &str, first_page: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with(path) && r.status == 200 && r.query.contains(first_page))
        .filter(|r| !r.query.contains("page%5Bafter%5D"))
        .count()
}

/// A configuration of `sites` (YAML list items) with the bridge on a free port, `server_extra`
/// (YAML lines of `server`) and the OTLP push off.
pub fn yaml(sites: &str, server_extra: &str) -> String {
    format!(
        "sites:\n{sites}server:\n  listen: \"127.0.0.1:0\"\n  prometheus_bridge: true\n{server_extra}otlp:\n  enabled: false\n"
    )
}
