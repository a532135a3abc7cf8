//! The Prometheus compatibility bridge: an opentelemetry-prometheus reader on the agent's
//! meter provider, rendered in text format 0.0.4.
//!
//! Built without unit suffixes and without scope labels, so every instrument is exposed under
//! its name with dots turned into underscores: exactly the legacy `nbu_exporter` names. Keep
//! all use of the Prometheus crates in this module, so an upgrade shows up in one place (and in
//! the golden exposition test).

use prometheus::{Registry, TextEncoder};

/// The bridge: a registry the reader writes into, rendered on demand.
#[derive(Debug, Clone)]
pub struct PrometheusBridge {
    registry: Registry,
}

/// Content type of the text exposition format.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

impl PrometheusBridge {
    /// Builds the bridge and the reader to add to the meter provider.
    pub fn new() -> Result<(Self, opentelemetry_prometheus::PrometheusExporter), String> {
        let registry = Registry::new();
        let reader = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_units()
            .without_target_info()
            .scope_info_enabled(false)
            .build()
            .map_err(|e| e.to_string())?;
        Ok((Self { registry }, reader))
    }

    /// Collects every instrument (running the callbacks, which only read snapshots) and renders
    /// the text exposition.
    pub fn render(&self) -> Result<String, String> {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .map_err(|e| e.to_string())
    }
}
