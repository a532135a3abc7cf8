//! The `demo` command's configuration: one simulated site, the bridge on, OTLP push on, job
//! events on (every failure of the window once, then each new one, written to the agent's log
//! too, with the checkpoints of the run in the system's temporary directory).
//!
//! The configuration is written as YAML and loaded like any file, so the demo runs on exactly
//! what validation accepts.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use crate::config::{Config, ConfigError, SourceId, load_str_with_env};

/// The API key shared by the demo's simulator and agent.
pub const DEMO_API_KEY: &str = "demo-api-key";

/// How many of the simulator's clients the demo's per-client families cover.
pub const DEMO_CLIENTS: usize = 8;

/// The demo configuration for a simulator at `sim_url` whose jobs come from `clients`: every
/// opt-in source on, the per-client families for the first [`DEMO_CLIENTS`] clients.
pub fn config(
    sim_url: &str,
    listen: SocketAddr,
    otlp_endpoint: &str,
    clients: &[String],
) -> Result<Config, ConfigError> {
    let yaml = yaml(sim_url, listen, otlp_endpoint, clients);
    load_str_with_env(&yaml, Path::new("."), &HashMap::new())
}

/// The demo configuration as the text of a configuration file.
fn yaml(sim_url: &str, listen: SocketAddr, otlp_endpoint: &str, clients: &[String]) -> String {
    let mut sources = String::new();
    for id in SourceId::ALL {
        let _ = writeln!(
            sources,
            "      {id}:\n        enabled: true\n        interval: 30s"
        );
        if id == SourceId::Clients {
            let allowlist: Vec<String> = clients
                .iter()
                .take(DEMO_CLIENTS)
                .map(|c| quoted(c))
                .collect();
            let _ = writeln!(sources, "        allowlist: [{}]", allowlist.join(", "));
        }
    }
    format!(
        "sites:
  - name: demo
    url: {url}
    api_key: {key}
    collection:
      jobs_interval: 15s
      jobs_window: 24h
      storage_ttl: 60s
      request_timeout: 5s
      requests_per_second: 50
    sources:
{sources}server:
  listen: {listen}
  prometheus_bridge: true
otlp:
  endpoint: {endpoint}
  export_interval: 15s
  timeout: 3s
events:
  enabled: true
  log: true
  first_start: window
  state_dir: {state_dir}
",
        url = quoted(sim_url),
        key = quoted(DEMO_API_KEY),
        listen = quoted(&listen.to_string()),
        endpoint = quoted(otlp_endpoint),
        state_dir = quoted(&state_dir().display().to_string()),
    )
}

/// The demo's checkpoint directory: its own simulator's jobs are new at every run, so every
/// run has its own directory, removed when the demo ends ([`remove_state_dir`]).
pub fn state_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("nbu-otel-demo-{}", std::process::id()))
}

/// Removes the demo's checkpoint directory (best effort).
pub fn remove_state_dir() {
    let _ = std::fs::remove_dir_all(state_dir());
}

/// `text` as a double-quoted YAML scalar taken literally: JSON string syntax is YAML, and
/// `${` is escaped so no variable is expanded.
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.replace("${", "$${")).to_string()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::ExposeSecret as _;

    use super::*;

    fn listen() -> SocketAddr {
        "127.0.0.1:9440".parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_demo_configuration_is_valid_and_turns_every_source_on() {
        let clients: Vec<String> = (0..12).map(|i| format!("client-{i:02}")).collect();
        let config = config(
            "http://127.0.0.1:1556/netbackup",
            listen(),
            "http://127.0.0.1:4317",
            &clients,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let site = &config.sites[0];
        assert_eq!(site.name, "demo");
        assert_eq!(site.api_key.expose_secret(), DEMO_API_KEY);
        assert_eq!(site.collection.jobs_interval, Duration::from_secs(15));
        assert_eq!(site.collection.requests_per_second, 50.0);
        assert_eq!(site.sources.enabled().count(), SourceId::ALL.len());
        assert_eq!(site.sources.clients.allowlist.len(), DEMO_CLIENTS);
        assert!(site.sources.clients.allows("client-07"));
        assert!(!site.sources.clients.allows("client-08"));
        assert_eq!(config.server.listen, Some(listen()));
        assert!(config.server.prometheus_bridge);
        assert_eq!(config.otlp.export_interval, Duration::from_secs(15));
        assert_eq!(config.otlp.timeout, Duration::from_secs(3));
        assert!(
            config.events.enabled,
            "the demo shows failed jobs as log records"
        );
        assert_eq!(config.events.first_start, crate::config::FirstStart::Window);
        assert!(config.events.state_dir.is_some());
    }

    #[test]
    fn a_bad_endpoint_is_a_config_error_naming_the_field() {
        let err = config("http://127.0.0.1:1/netbackup", listen(), "not a url", &[])
            .expect_err("not a URL");
        assert!(err.has_field("otlp.endpoint"), "{err}");
    }

    #[test]
    fn values_are_taken_literally() {
        let clients = ["${HOME}: #odd".to_owned()];
        let config = config(
            "http://127.0.0.1:1/netbackup",
            listen(),
            "http://x:4317",
            &clients,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(config.sites[0].sources.clients.allows("${HOME}: #odd"));
    }
}
