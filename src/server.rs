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

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{DEFAULT_METRICS_PATH, MetricsAuth};
use crate::events::{Events, FailureStreak};
use crate::readiness::Readiness;
use crate::telemetry::bridge::{CONTENT_TYPE, PrometheusBridge};

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

#[derive(Clone)]
struct AppState {
    readiness: Readiness,
    bridge: Option<PrometheusBridge>,
}

/// The credentials `/metrics` accepts: an `Authorization` scheme (compared without regard to
/// case, as HTTP says) and the exact credentials after it.
#[derive(Clone)]
struct Credentials {
    accepted: Arc<Vec<(&'static str, SecretString)>>,
    challenge: &'static str,
}

impl Credentials {
    fn from_config(auth: &MetricsAuth) -> Option<Self> {
        let mut accepted = Vec::new();
        if let Some((user, password)) = &auth.basic {
            let raw = format!("{user}:{}", password.expose_secret());
            let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
            accepted.push(("basic", SecretString::from(encoded)));
        }
        if let Some(token) = &auth.bearer {
            accepted.push((
                "bearer",
                SecretString::from(token.expose_secret().to_owned()),
            ));
        }
        let challenge = if auth.basic.is_some() {
            "Basic realm=\"nbu-otel\""
        } else {
            "Bearer realm=\"nbu-otel\""
        };
        (!accepted.is_empty()).then(|| Self {
            accepted: Arc::new(accepted),
            challenge,
        })
    }

    fn allows(&self, header: Option<&HeaderValue>) -> bool {
        let given = header.map_or(&[][..], |h| h.as_bytes());
        // `<scheme> <credentials>`: the scheme is case-insensitive, the credentials are not.
        let split = given.iter().position(|b| *b == b' ');
        let (scheme, credentials) = match split {
            Some(i) => (&given[..i], trim_spaces(&given[i + 1..])),
            None => (given, &[][..]),
        };
        // Compare against every credential, in constant time for each.
        self.accepted.iter().fold(false, |ok, (want_scheme, want)| {
            ok | (scheme.eq_ignore_ascii_case(want_scheme.as_bytes())
                & constant_time_eq(credentials, want.expose_secret().as_bytes()))
        })
    }
}

/// `bytes` without leading spaces.
fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != b' ').unwrap_or(bytes.len());
    &bytes[start..]
}

/// Whether `a` and `b` are equal, in a time that depends only on their lengths (a difference
/// in length answers at once: the length of a credential is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The router: `/health`, `/healthz`, `/readyz` and, with a bridge, `/metrics`.
pub fn router(readiness: Readiness, bridge: Option<PrometheusBridge>) -> Router {
    router_with_auth(
        readiness,
        bridge,
        &MetricsAuth::default(),
        DEFAULT_METRICS_PATH,
    )
}

/// [`router`] with the bridge on `metrics_path` (a path the configuration validated), behind
/// `auth` when it requires credentials.
pub fn router_with_auth(
    readiness: Readiness,
    bridge: Option<PrometheusBridge>,
    auth: &MetricsAuth,
    metrics_path: &str,
) -> Router {
    let mut router = Router::new()
        .route("/health", get(health))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if bridge.is_some() {
        let metrics_route = match Credentials::from_config(auth) {
            Some(credentials) => get(metrics).route_layer(middleware::from_fn_with_state(
                credentials,
                require_credentials,
            )),
            None => get(metrics),
        };
        router = router.route(metrics_path, metrics_route);
    }
    router
        .layer(middleware::from_fn(request_timeout))
        .with_state(AppState { readiness, bridge })
}

/// Why the server's TLS acceptor could not be built; the message names the field whose file
/// is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    /// The certificate file cannot be read or holds no PEM certificate.
    #[error("server.tls_cert_file {}: {reason}", path.display())]
    CertFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key file cannot be read or holds no PEM private key.
    #[error("server.tls_key_file {}: {reason}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The TLS library refused its default protocol versions.
    #[error("server TLS: {0}")]
    Protocols(rustls::Error),
    /// The key is not the certificate's.
    #[error("server.tls_key_file: does not match the certificate: {0}")]
    KeyMismatch(rustls::Error),
}

/// Builds the TLS acceptor from PEM files, naming the field whose file is wrong.
pub fn tls_acceptor(cert_file: &Path, key_file: &Path) -> Result<TlsAcceptor, ServerTlsError> {
    let cert_error = |reason: String| ServerTlsError::CertFile {
        path: cert_file.to_owned(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| cert_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(cert_error("no certificate in the file".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| ServerTlsError::KeyFile {
        path: key_file.to_owned(),
        reason: e.to_string(),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(ServerTlsError::Protocols)?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(ServerTlsError::KeyMismatch)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` resolves, then
/// lets in-flight requests finish for a few seconds.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_limited(listener, router, tls, shutdown, Limits::default()).await
}

/// What one server allows its clients: [`Limits::default`] is what [`serve`] uses.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Connections served at once.
    connections: usize,
    /// Connections kept beyond `connections` for the probes.
    probe_connections: usize,
    /// Longest wait for a request's headers (an idle keep-alive connection waits as long).
    header_timeout: Duration,
    /// Longest time writing one response may take.
    write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connections: MAX_CONNECTIONS,
            probe_connections: PROBE_CONNECTIONS,
            header_timeout: HEADER_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
        }
    }
}

/// [`serve`] within `limits`.
async fn serve_limited(
    listener: tokio::net::TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: Limits,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.connections.max(1)));
    let probe_connections = Arc::new(Semaphore::new(limits.probe_connections));
    let probe_router = router.clone().layer(middleware::from_fn(probes_only));
    let graceful = GracefulShutdown::new();
    // HTTP/1.1 only.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // A connection of the probes' reserve serves one request, then closes.
    let mut probe_builder = builder.clone();
    probe_builder.keep_alive(false);
    let failing_accepts = FailureStreak::new();
    tokio::pin!(shutdown);
    loop {
        // A free connection slot first: beyond the cap (and the probes' reserve), clients
        // wait in the backlog.
        let (permit, for_probes) = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            permit = connections.clone().acquire_owned() => match permit {
                Ok(p) => (p, false),
                Err(_) => break,
            },
            permit = probe_connections.clone().acquire_owned() => match permit {
                Ok(p) => (p, true),
                Err(_) => break,
            },
        };
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    Events::uncounted().accept_succeeded(&failing_accepts);
                    a
                }
                Err(e) => {
                    // Out of descriptors, say: back off instead of spinning.
                    Events::uncounted().accept_failed(&failing_accepts, &e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // A regular slot that came free meanwhile is taken rather than the probes' reserve.
        let (permit, for_probes) = match for_probes
            .then(|| connections.clone().try_acquire_owned().ok())
            .flatten()
        {
            Some(regular) => {
                drop(permit);
                (regular, false)
            }
            None => (permit, for_probes),
        };
        let (service, builder) = if for_probes {
            (probe_router.clone(), probe_builder.clone())
        } else {
            (router.clone(), builder.clone())
        };
        let service = TowerToHyperService::new(service);
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let stream = TimedWrites::new(stream, limits.write_timeout);
        tokio::spawn(serve_connection(
            permit, stream, tls, builder, service, watcher,
        ));
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
    Ok(())
}

/// Serves one connection (after its TLS handshake, with `tls`), holding its slot until it
/// closes.
async fn serve_connection(
    _permit: OwnedSemaphorePermit,
    stream: TimedWrites<tokio::net::TcpStream>,
    tls: Option<TlsAcceptor>,
    builder: http1::Builder,
    service: TowerToHyperService<Router>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    match tls {
        None => {
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let _ = watcher.watch(conn).await;
        }
        Some(acceptor) => {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
            if let Ok(Ok(stream)) = handshake {
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let _ = watcher.watch(conn).await;
            }
        }
    }
}

/// A connection whose responses must be written out in time: from the first byte written
/// after a flush, everything up to the next completed flush (one response: the HTTP server
/// flushes after each) must be handed to the network within `limit`. Past that, writing fails
/// with [`std::io::ErrorKind::TimedOut`] and the connection is closed: a client that stops
/// reading, or reads a trickle, cannot hold its connection.
struct TimedWrites<S> {
    inner: S,
    limit: Duration,
    /// When the bytes written since the last flush must be out; meaningful while `armed`.
    deadline: Pin<Box<Sleep>>,
    armed: bool,
}

impl<S> TimedWrites<S> {
    fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            deadline: Box::pin(tokio::time::sleep(limit)),
            armed: false,
        }
    }

    /// Starts the clock at the first write since the last flush.
    fn arm(&mut self) {
        if !self.armed {
            self.armed = true;
            let at = tokio::time::Instant::now() + self.limit;
            self.deadline.as_mut().reset(at);
        }
    }

    /// An error once the clock ran out; otherwise `cx` is woken when it does.
    fn check(&mut self, cx: &mut Context<'_>) -> std::io::Result<()> {
        if self.armed && self.deadline.as_mut().poll(cx).is_ready() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the client did not take the response within {:?}",
                    self.limit
                ),
            ));
        }
        Ok(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedWrites<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedWrites<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.arm();
        this.check(cx)?;
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.arm();
        this.check(cx)?;
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        let flushed = Pin::new(&mut this.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = flushed {
            this.armed = false;
        }
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// Binds `addr`, naming it in the error.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("server.listen {addr}: {e}")))
}

async fn request_timeout(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "request timed out\n").into_response(),
    }
}

/// On a connection of the probes' reserve: the probes are answered, anything else is told to
/// come back when a slot is free.
async fn probes_only(request: Request, next: Next) -> Response {
    if PROBE_PATHS.contains(&request.uri().path()) {
        next.run(request).await
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "every connection slot is in use; only /healthz, /readyz and /health are answered\n",
        )
            .into_response()
    }
}

async fn require_credentials(
    State(credentials): State<Credentials>,
    request: Request,
    next: Next,
) -> Response {
    if credentials.allows(request.headers().get(header::AUTHORIZATION)) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, credentials.challenge)],
            "credentials required\n",
        )
            .into_response()
    }
}

/// The Go exporter's `/health`: `200 OK` while any site is up (or before every site was
/// collected once), `503 UNHEALTHY` when every site is down; plain text.
async fn health(State(state): State<AppState>) -> Response {
    let (status, body) = if state.readiness.any_site_up() {
        (StatusCode::OK, "OK\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "UNHEALTHY: NetBackup API unreachable\n",
        )
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let Some(bridge) = state.bridge else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let gzip = accepts_gzip(&headers);
    // A scrape of unchanged data only hands out cached bytes; rendering after a change (and
    // compressing) takes longer, so keep it off the async workers.
    let rendered = tokio::task::spawn_blocking(move || {
        let rendered = bridge.render();
        if gzip {
            rendered.gzip()
        } else {
            rendered.body()
        }
    })
    .await;
    match rendered {
        Ok(body) if gzip => (
            [
                (header::CONTENT_TYPE, CONTENT_TYPE),
                (header::CONTENT_ENCODING, "gzip"),
                (header::VARY, "Accept-Encoding"),
            ],
            body,
        )
            .into_response(),
        Ok(body) => (
            [
                (header::CONTENT_TYPE, CONTENT_TYPE),
                (header::VARY, "Accept-Encoding"),
            ],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Whether the client accepts a gzip body: `gzip` (or `*`) in `Accept-Encoding` with a
/// non-zero quality.
fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match coding.as_str() {
                "gzip" | "x-gzip" => gzip = Some(quality > 0.0),
                "*" => any = Some(quality > 0.0),
                _ => {}
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

async fn readyz(State(state): State<AppState>) -> Response {
    let report = state.readiness.check().await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> bool {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}")),
        );
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_only_when_the_client_accepts_it() {
        assert!(accept("gzip"));
        assert!(accept("deflate, GZIP;q=0.5"));
        assert!(accept("*"));
        assert!(!accept("identity"));
        assert!(!accept("gzip;q=0"));
        assert!(!accept("gzip;q=0, *"));
        assert!(!accept("*;q=0"));
        assert!(!accepts_gzip(&axum::http::HeaderMap::new()));
    }

    async fn get_healthz(addr: SocketAddr) -> std::io::Result<String> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok(answer)
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_wait_for_a_free_slot() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let readiness = Readiness::new(
            crate::telemetry::instruments::SnapshotStore::new(),
            Duration::from_secs(5),
            None,
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_limited(
            listener,
            router(readiness, None),
            None,
            async {
                let _ = stopped.await;
            },
            Limits {
                connections: 2,
                probe_connections: 0,
                ..Limits::default()
            },
        ));
        // Two clients hold both slots without sending anything.
        let idle_a = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let _idle_b = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let third = tokio::spawn(get_healthz(addr));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!third.is_finished(), "a third connection was served");
        // One slot frees: the third client is served.
        drop(idle_a);
        let answer = tokio::time::timeout(Duration::from_secs(60), third)
            .await
            .unwrap_or_else(|_| panic!("the third client was never served"))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let _ = stop.send(());
        let _ = server.await;
    }

    /// A server within `limits` whose `/metrics` answers `metrics_bytes` bytes (as a large
    /// Prometheus exposition does), and its stop signal.
    async fn start_server(
        limits: Limits,
        metrics_bytes: usize,
    ) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let readiness = Readiness::new(
            crate::telemetry::instruments::SnapshotStore::new(),
            Duration::from_secs(5),
            None,
        );
        let body = axum::body::Bytes::from(vec![b'#'; metrics_bytes]);
        let app = router(readiness, None).route(
            DEFAULT_METRICS_PATH,
            get(move || {
                let body = body.clone();
                async move { body }
            }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_limited(
            listener,
            app,
            None,
            async {
                let _ = stopped.await;
            },
            limits,
        ));
        (addr, stop)
    }

    /// The answer to `GET path` on a new connection.
    async fn answer_of(addr: SocketAddr, path: &str) -> std::io::Result<String> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok(answer)
    }

    /// The status line of `GET path` on a new connection.
    async fn status_of(addr: SocketAddr, path: &str) -> std::io::Result<String> {
        let answer = answer_of(addr, path).await?;
        Ok(answer.lines().next().unwrap_or_default().to_owned())
    }

    /// A client that asks for `/metrics` `times` times in one go and never reads the answers.
    async fn non_reader(addr: SocketAddr, times: usize) -> tokio::net::TcpStream {
        use tokio::io::AsyncWriteExt as _;
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let requests = "GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n".repeat(times);
        stream
            .write_all(requests.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        stream
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn probes_answer_and_non_readers_are_cut_off_while_they_fill_every_slot() {
        let limits = Limits {
            connections: 4,
            probe_connections: 2,
            header_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(1),
        };
        // 8 answers of 4 MiB per client: far more than the sockets' buffers hold.
        let (addr, stop) = start_server(limits, 4 << 20).await;
        let mut clients = Vec::new();
        for _ in 0..6 {
            clients.push(non_reader(addr, 8).await);
        }
        // Every slot is taken by a client that does not read: the probes still answer.
        for (path, says) in [("/healthz", "ok"), ("/readyz", "\"required\"")] {
            let answer = tokio::time::timeout(Duration::from_secs(5), answer_of(addr, path))
                .await
                .unwrap_or_else(|_| panic!("{path} not answered while the slots are full"))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(answer.contains(says), "{path}: {answer}");
        }
        // The clients that never read are cut off within the write timeout: the slots come
        // free for any request again (the probes' reserve answers anything else with 503).
        let until = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let status = status_of(addr, "/nowhere")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            if status.starts_with("HTTP/1.1 404") {
                break;
            }
            assert!(status.starts_with("HTTP/1.1 503"), "{status}");
            assert!(
                tokio::time::Instant::now() < until,
                "no slot came free: the clients that never read kept their connections"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The server closed their connections before sending what they asked for.
        for mut client in clients {
            use tokio::io::AsyncReadExt as _;
            let mut received = 0usize;
            let mut buf = vec![0u8; 1 << 16];
            let closed = tokio::time::timeout(Duration::from_secs(20), async {
                loop {
                    match client.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => received += n,
                    }
                }
            })
            .await;
            assert!(closed.is_ok(), "a client that never read was not cut off");
            assert!(
                received < 8 * (4 << 20),
                "every answer was sent: {received} bytes"
            );
        }
        let _ = stop.send(());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn probes_answer_while_more_clients_than_the_real_cap_hold_connections() {
        let (addr, stop) = start_server(Limits::default(), 16).await;
        // More connections than MAX_CONNECTIONS, silent: they hold their slots until the
        // header timeout.
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS + 8 {
            idle.push(
                tokio::net::TcpStream::connect(addr)
                    .await
                    .unwrap_or_else(|e| panic!("{e}")),
            );
        }
        let status = tokio::time::timeout(HEADER_TIMEOUT / 2, status_of(addr, "/healthz"))
            .await
            .unwrap_or_else(|_| panic!("/healthz waited for the idle clients to be cut off"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        drop(idle);
        let _ = stop.send(());
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let limits = Limits {
            header_timeout: Duration::from_millis(500),
            ..Limits::default()
        };
        let (addr, stop) = start_server(limits, 16).await;
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // The answer, then the server closes the idle connection.
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("the idle connection stayed open"));
        assert!(read.is_ok(), "{read:?}");
        assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
        let _ = stop.send(());
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"Bearer abc", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer abd", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer ab", b"Bearer abc"));
    }

    #[test]
    fn credentials_accept_basic_and_bearer() {
        let auth = MetricsAuth {
            basic: Some(("prom".into(), SecretString::from("s3cret".to_owned()))),
            bearer: Some(SecretString::from("tok".to_owned())),
        };
        let c = Credentials::from_config(&auth).unwrap_or_else(|| unreachable!());
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("prom:s3cret")
        );
        assert!(c.allows(Some(
            &HeaderValue::from_str(&basic).unwrap_or_else(|e| panic!("{e}"))
        )));
        assert!(c.allows(Some(&HeaderValue::from_static("Bearer tok"))));
        assert!(!c.allows(Some(&HeaderValue::from_static("Bearer nope"))));
        assert!(!c.allows(None));
        assert!(!c.allows(Some(&HeaderValue::from_static("Basic tok"))));
        assert!(!c.allows(Some(&HeaderValue::from_static("Bearer TOK"))));
        assert!(!c.allows(Some(&HeaderValue::from_static("Bearertok"))));
    }

    #[test]
    fn the_authorization_scheme_is_case_insensitive() {
        let auth = MetricsAuth {
            basic: Some(("prom".into(), SecretString::from("s3cret".to_owned()))),
            bearer: Some(SecretString::from("tok".to_owned())),
        };
        let c = Credentials::from_config(&auth).unwrap_or_else(|| unreachable!());
        let encoded = base64::engine::general_purpose::STANDARD.encode("prom:s3cret");
        for scheme in ["basic", "BASIC", "bAsIc"] {
            let value = format!("{scheme} {encoded}");
            let header = HeaderValue::from_str(&value).unwrap_or_else(|e| panic!("{e}"));
            assert!(c.allows(Some(&header)), "{value}");
        }
        for value in ["bearer tok", "BEARER tok", "Bearer  tok"] {
            assert!(c.allows(Some(&HeaderValue::from_static(value))), "{value}");
        }
    }
}
