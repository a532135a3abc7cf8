//! Connection accounting: a TCP listener for `axum::serve` that counts accepted and open
//! connections, and lets a fault reset (rather than close) the connection it answers on.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Pause after an accept error that is not about one connection (for example too many open
/// files), so that the accept loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(250);

/// Connection counters shared by the listener and every accepted stream.
#[derive(Debug, Default)]
pub(crate) struct ConnectionStats {
    open: AtomicUsize,
    accepted: AtomicU64,
}

impl ConnectionStats {
    /// Connections accepted and not yet closed by the server.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Connections accepted since the start.
    pub(crate) fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A [`TcpListener`] whose streams count themselves in a [`ConnectionStats`].
#[derive(Debug)]
pub(crate) struct CountingListener {
    inner: TcpListener,
    stats: Arc<ConnectionStats>,
}

impl CountingListener {
    /// Wraps `inner`, counting into `stats`.
    pub(crate) fn new(inner: TcpListener, stats: Arc<ConnectionStats>) -> Self {
        CountingListener { inner, stats }
    }
}

impl Listener for CountingListener {
    type Io = CountedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (CountedStream, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => return (CountedStream::new(stream, &self.stats), addr),
                // The peer gave up before the accept: nothing to count, try the next one.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "simulator failed to accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted TCP stream: counted as open until dropped, and reset (`SO_LINGER` 0, so the
/// kernel sends RST instead of FIN) on drop when its [`ConnectionHandle`] asked for it.
#[derive(Debug)]
pub(crate) struct CountedStream {
    stream: TcpStream,
    stats: Arc<ConnectionStats>,
    reset: Arc<AtomicBool>,
}

impl CountedStream {
    fn new(stream: TcpStream, stats: &Arc<ConnectionStats>) -> Self {
        stats.accepted.fetch_add(1, Ordering::SeqCst);
        stats.open.fetch_add(1, Ordering::SeqCst);
        CountedStream {
            stream,
            stats: stats.clone(),
            reset: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst) {
            // Best effort: without it the close is an orderly FIN, which a client still
            // detects as a short body thanks to `Content-Length`.
            let _ = self.stream.set_zero_linger();
        }
        self.stats.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Per-connection handle given to every request (as `ConnectInfo<ConnectionHandle>`): lets a
/// fault ask for the connection to be reset when the server drops it.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionHandle {
    reset: Arc<AtomicBool>,
}

impl ConnectionHandle {
    /// Makes the server reset the connection (RST) instead of closing it (FIN).
    pub(crate) fn reset_on_close(&self) {
        self.reset.store(true, Ordering::SeqCst);
    }
}

impl Connected<IncomingStream<'_, CountingListener>> for ConnectionHandle {
    fn connect_info(stream: IncomingStream<'_, CountingListener>) -> Self {
        ConnectionHandle {
            reset: stream.io().reset.clone(),
        }
    }
}
