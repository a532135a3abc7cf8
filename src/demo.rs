//! The `demo` command's configuration: one simulated site, the bridge on, OTLP push on.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::config::{
    ClientPattern, CollectionConfig, Config, LoggingConfig, OtlpConfig, ServerConfig,
    ServiceConfig, SiteConfig, SourcesConfig, TlsConfig, TracesConfig,
};

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
) -> Result<Config, String> {
    let mut sources = SourcesConfig::all_enabled(Duration::from_secs(30));
    sources.clients.allowlist = clients
        .iter()
        .take(DEMO_CLIENTS)
        .map(|c| ClientPattern::Exact(c.clone()))
        .collect();
    let url = Url::parse(sim_url).map_err(|e| format!("simulator URL {sim_url}: {e}"))?;
    let endpoint =
        Url::parse(otlp_endpoint).map_err(|e| format!("--otlp-endpoint {otlp_endpoint}: {e}"))?;
    Ok(Config {
        sites: vec![SiteConfig {
            name: "demo".to_owned(),
            url,
            api_key: SecretString::from(DEMO_API_KEY.to_owned()),
            api_key_file: None,
            api_version: None,
            tls: TlsConfig::default(),
            collection: CollectionConfig {
                jobs_interval: Duration::from_secs(15),
                jobs_window: Duration::from_secs(24 * 3600),
                storage_ttl: Duration::from_secs(60),
                request_timeout: Duration::from_secs(5),
                requests_per_second: 50.0,
                ..CollectionConfig::default()
            },
            sources,
        }],
        server: ServerConfig {
            listen: Some(listen),
            prometheus_bridge: true,
            ..ServerConfig::default()
        },
        otlp: OtlpConfig {
            endpoint,
            export_interval: Duration::from_secs(15),
            timeout: Duration::from_secs(3),
            ..OtlpConfig::default()
        },
        traces: TracesConfig::default(),
        logging: LoggingConfig::default(),
        service: ServiceConfig::default(),
    })
}
