//! The agent's HTTP server: the Prometheus bridge (when enabled) on `server.metrics_path`,
//! `/healthz` (liveness), `/readyz` (every site, or `server.ready_min_sites`, answered
//! recently) and `/health` (the Go exporter's: 503 when every site is down).
//!
//! Plain HTTP or HTTPS (`server.tls_cert_file`, `server.tls_key_file`); `/metrics` can require
//! basic auth or a bearer token while `/healthz` and `/readyz` stay open for probes. Slow
//! clients are cut off: headers must arrive within [`HEADER_TIMEOUT`], a TLS handshake within
//! [`HANDSHAKE_TIMEOUT`], and a request is answered within [`REQUEST_TIMEOUT`].

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use secrecy::{ExposeSecret, SecretString};
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
/// Most connections served at once; further clients wait in the listen backlog until one
/// closes (slow or idle clients are cut off by the timeouts above).
pub const MAX_CONNECTIONS: usize = 512;
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
    serve_limited(listener, router, tls, shutdown, MAX_CONNECTIONS).await
}

/// [`serve`] with at most `max_connections` connections at once.
async fn serve_limited(
    listener: tokio::net::TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    max_connections: usize,
) -> std::io::Result<()> {
    let connections = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let builder = builder.http1_only();
    let failing_accepts = FailureStreak::new();
    tokio::pin!(shutdown);
    loop {
        // A free connection slot first: beyond the cap, clients wait in the backlog.
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
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
        let service = TowerToHyperService::new(router.clone());
        let watcher = graceful.watcher();
        let builder = builder.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    if let Ok(Ok(stream)) = handshake {
                        let conn = builder.serve_connection(TokioIo::new(stream), service);
                        let _ = watcher.watch(conn.into_owned()).await;
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
    Ok(())
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
            2,
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
