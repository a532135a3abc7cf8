//! The service loop of `nbu-otel run` (and `demo`): telemetry pipeline, HTTP server, the
//! agent, signals and configuration reloads, then an orderly shutdown.

use std::path::Path;
use std::time::Duration;

use super::Agent;
use super::reload;
use crate::config::{Config, ConfigWatcher, FileSnapshot};
use crate::events::Events;
use crate::server::{self, ServerTlsError};
use crate::telemetry::otlp::ExporterError;
use crate::telemetry::pipeline::{LoggingError, Pipeline};

/// How long shutdown may take: stop collection, flush metrics and spans.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(8);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The OpenTelemetry pipeline could not be set up.
    #[error("telemetry: {0}")]
    Telemetry(ExporterError),
    /// The log subscriber could not be installed.
    #[error("telemetry: {0}")]
    Logging(LoggingError),
    /// The HTTP server's address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server's certificate or key could not be loaded.
    #[error("server TLS: {0}")]
    Tls(ServerTlsError),
    /// A signal handler could not be installed.
    #[error("installing the signal handlers: {0}")]
    Signals(std::io::Error),
}

/// Runs the agent until SIGTERM or SIGINT, then shuts down within [`SHUTDOWN_TIMEOUT`].
/// With a config file, SIGHUP reloads it, and so does a change of the file (or of a file it
/// references) when `watch` is on.
pub async fn run(config: Config, file: Option<(&Path, bool)>) -> Result<(), ServiceError> {
    let path = file.map(|(p, _)| p);
    let watch = file.is_some_and(|(_, w)| w);
    let pipeline = Pipeline::build(&config).map_err(ServiceError::Telemetry)?;
    pipeline
        .init_logging(&config.logging)
        .map_err(ServiceError::Logging)?;
    let listener = match config.server.listen {
        Some(addr) => Some(
            server::bind(addr)
                .await
                .map_err(|source| ServiceError::Bind { addr, source })?,
        ),
        None => None,
    };
    let tls = match (&config.server.tls_cert_file, &config.server.tls_key_file) {
        (Some(cert), Some(key)) => {
            Some(server::tls_acceptor(cert, key).map_err(ServiceError::Tls)?)
        }
        _ => None,
    };
    for warning in crate::config::exposure_warnings(&config, path) {
        Events::uncounted().exposure_found(&warning);
    }
    let mut signals = Signals::new().map_err(ServiceError::Signals)?;
    let mut agent = if pipeline.has_metric_reader {
        Agent::new(config.clone(), &pipeline.meter_provider)
            .with_exported_sites(pipeline.exported_sites.clone())
    } else {
        Agent::bridge_only(config.clone())
    };
    if let Some(exporter) = pipeline.job_events.clone() {
        agent = agent.with_job_events(exporter);
    }
    pipeline.count_exports_in(agent.counters());
    agent.start();
    tracing::info!(
        sites = config.sites.len(),
        otlp = config
            .otlp
            .enabled
            .then(|| config.otlp.endpoint.to_string()),
        "nbu-otel started"
    );
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server_task = listener.map(|listener| {
        let router = server::router_with_auth(
            agent.readiness().clone(),
            config
                .server
                .prometheus_bridge
                .then(|| agent.prometheus_bridge()),
            &config.server.metrics_auth,
            &config.server.metrics_path,
        );
        tokio::spawn(server::serve(listener, router, tls, async {
            let _ = server_stopped.await;
        }))
    });
    let mut watcher = path.map(|p| ConfigWatcher::new(p, agent.config()));
    let mut poll = tokio::time::interval(reload::POLL_INTERVAL);
    loop {
        tokio::select! {
            signal = signals.next() => {
                if matches!(signal, Signal::Terminate) {
                    break;
                }
                if let (Some(path), Some(w)) = (path, watcher.as_mut()) {
                    tracing::info!("SIGHUP: reloading the configuration");
                    let files = FileSnapshot::new();
                    let _ = reload::reload_from(&mut agent, path, &files).await;
                    w.rebase(agent.config(), &files);
                }
            }
            _ = poll.tick() => {
                if let (true, Some(path), Some(w)) = (watch, path, watcher.as_mut())
                    && let Some(files) = w.poll(agent.config())
                {
                    tracing::info!("configuration files changed: reloading");
                    let _ = reload::reload_from(&mut agent, path, &files).await;
                    w.rebase(agent.config(), &files);
                }
            }
        }
    }
    tracing::info!("shutting down");
    let deadline = tokio::time::Instant::now() + SHUTDOWN_TIMEOUT;
    let _ = tokio::time::timeout_at(deadline, agent.shutdown()).await;
    let _ = stop_server.send(());
    if let Some(task) = server_task {
        let _ = tokio::time::timeout_at(deadline, task).await;
    }
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    pipeline.shutdown(left.max(Duration::from_secs(1))).await;
    Ok(())
}

/// Waits for SIGTERM or SIGINT (for commands without reload, such as `sim`).
pub async fn wait_for_termination() -> Result<(), ServiceError> {
    let mut signals = Signals::new().map_err(ServiceError::Signals)?;
    while !matches!(signals.next().await, Signal::Terminate) {}
    Ok(())
}

/// The signals the agent reacts to.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                hup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The next signal: SIGTERM or SIGINT ends the agent, SIGHUP reloads.
    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => Signal::Terminate,
            _ = tokio::signal::ctrl_c() => Signal::Terminate,
            _ = self.hup.recv() => Signal::Hangup,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Terminate
        }
    }
}

/// A signal the agent acts on.
enum Signal {
    Terminate,
    Hangup,
}
