//! nbu-otel: an OpenTelemetry-first metrics agent for Veritas NetBackup.
//!
//! The library reads the NetBackup REST API of one or more primary servers ("sites"),
//! folds jobs and storage units into per-site aggregates, and exposes them as
//! OpenTelemetry instruments. The binary (`src/main.rs`) is only a command-line front end.
//!
//! Modules follow the data path:
//! - [`events`]: the operational events (logged, put on spans, counted), below every layer.
//! - [`file_limits`]: the most the agent reads of one file, below every layer.
//! - [`config`]: loading and validating the immutable [`config::Config`].
//! - [`netbackup`]: the REST client (version negotiation, pagination, retry, rate limit).
//! - [`collect`]: per-site collection and the aggregates it produces.
//! - [`telemetry`]: the metric catalog and OpenTelemetry plumbing.
//! - [`readiness`]: whether each site answered recently, for `/readyz`.
//! - [`server`]: the bridge on `server.metrics_path`, `/health`, `/healthz`, `/readyz`.
//! - [`agent`]: the runtime: one task per site, the service loop, hot reload.
//! - [`commands`]: the work of `check` and `once` on every site.
//! - [`report`]: rendering of `check` and `once` results as a table or JSON.
//! - [`migrate`]: conversion of a Go `nbu_exporter` configuration file.
//! - [`demo`]: the configuration of the `demo` command (cargo feature `sim`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use agent::Agent;

pub mod agent;
pub mod collect;
pub mod commands;
pub mod config;
#[cfg(feature = "sim")]
pub mod demo;
pub mod events;
pub mod file_limits;
pub mod host;
pub mod migrate;
pub mod netbackup;
pub mod readiness;
pub mod report;
pub mod server;
pub mod telemetry;
