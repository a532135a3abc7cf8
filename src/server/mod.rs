//! The agent's HTTP server: the Prometheus bridge (when enabled) on `server.metrics_path`,
//! `/healthz` (liveness), `/readyz` (every site, or `server.ready_min_sites`, answered
//! recently) and `/health` (the Go exporter's: 503 when every site is down).
//!
//! Plain HTTP or HTTPS (`server.tls_cert_file`, `server.tls_key_file`); `/metrics` can require
//! basic auth or a bearer token while `/healthz` and `/readyz` stay open for probes. Slow
//! clients are cut off: headers must arrive within [`HEADER_TIMEOUT`] (an idle keep-alive
//! connection too), a TLS handshake within [`HANDSHAKE_TIMEOUT`], a request is answered within
//! [`REQUEST_TIMEOUT`], and the answer must be written out within [`WRITE_TIMEOUT`]: a client
//! that never reads its responses cannot keep its connection. [`MAX_CONNECTIONS`] connections
//! are served at once, and [`PROBE_CONNECTIONS`] more are kept for the probes, so that
//! `/healthz` and `/readyz` answer while every other slot is taken.

mod auth;
mod listener;
mod routes;
mod timed_writes;
mod tls;

use std::time::Duration;

pub use listener::{bind, serve};
pub use routes::{router, router_with_auth};
pub use tls::{ServerTlsError, tls_acceptor};

/// Longest time one request may take before it is answered with 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time a client may take to send its request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time writing one response may take, from its first byte to its last: a client
/// that does not read what it asked for is cut off.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections served at once; further clients wait in the listen backlog until one
/// closes (slow or idle clients are cut off by the timeouts above).
pub const MAX_CONNECTIONS: usize = 512;
/// Connections kept beyond [`MAX_CONNECTIONS`] for the probes: taken only when every other
/// slot is in use, they serve one request each, and only [`PROBE_PATHS`] (anything else is
/// answered 503).
pub const PROBE_CONNECTIONS: usize = 16;
/// The paths a connection of the probes' reserve answers.
pub const PROBE_PATHS: [&str; 3] = ["/healthz", "/readyz", "/health"];
/// How long shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
