//! The typed configuration as a whole ([`Config`]): every section's typed struct, built once
//! from the file shape ([`raw`](super::raw)) by loading and never mutated.

use super::option_types::FilesFingerprint;
use super::section::events::EventsConfig;
use super::section::otlp::OtlpConfig;
use super::section::server::ServerConfig;
use super::section::service::{LoggingConfig, ServiceConfig, TracesConfig};
use super::section::sharding::ShardingConfig;
use super::section::site::SiteConfig;
use super::shards::ShardPlan;

/// The validated agent configuration. Built once by [`load_file`](super::load_file); never mutated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The NetBackup primary servers this replica collects, in file order: every site of the
    /// file, or with `sharding` only those of this replica's shard.
    pub sites: Vec<SiteConfig>,
    /// `sharding` as written.
    pub sharding: ShardingConfig,
    /// This replica's shard and where every site of the file goes.
    pub shards: ShardPlan,
    /// HTTP server for `/metrics`, `/healthz` and `/readyz`.
    pub server: ServerConfig,
    /// OTLP push of metrics and traces.
    pub otlp: OtlpConfig,
    /// Job outcomes as OTLP log records.
    pub events: EventsConfig,
    /// Traces of the agent's own work.
    pub traces: TracesConfig,
    /// Log output.
    pub logging: LoggingConfig,
    /// `service.name` and `service.instance.id` of the OpenTelemetry resource.
    pub service: ServiceConfig,
    /// The contents of the certificate files of the server and the OTLP exporter when the
    /// configuration was loaded ([`global_files`](super::files::global_files)), so that a reload notices a renewal.
    pub files: FilesFingerprint,
}
