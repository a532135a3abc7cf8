//! The accept loop: HTTP/1.1 connections within the connection cap, the probes' reserve, the
//! header and write timeouts, the TLS handshake, and the graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::routes::probes_only;
use super::timed_writes::TimedWrites;
use super::{
    DRAIN_TIMEOUT, HANDSHAKE_TIMEOUT, HEADER_TIMEOUT, MAX_CONNECTIONS, PROBE_CONNECTIONS,
    WRITE_TIMEOUT,
};
use crate::events::{Events, FailureStreak};

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

/// Binds `addr`, naming it in the error.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("server.listen {addr}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::routing::get;

    use super::super::router;
    use crate::config::DEFAULT_METRICS_PATH;
    use crate::readiness::Readiness;

    /// A listener on a free loopback port, its address, and the readiness of an agent without
    /// sites.
    async fn bound() -> (tokio::net::TcpListener, SocketAddr, Readiness) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let readiness = Readiness::new(
            crate::telemetry::instruments::SnapshotStore::new(),
            Duration::from_secs(5),
            None,
        );
        (listener, addr, readiness)
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_wait_for_a_free_slot() {
        let (listener, addr, readiness) = bound().await;
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
        let third = tokio::spawn(answer_of(addr, "/healthz"));
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
        let (listener, addr, readiness) = bound().await;
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
}
