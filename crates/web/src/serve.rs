//! The serve loop: accept under a connection cap, TLS handshake with a deadline, HTTP/1.1 with
//! a header-read deadline and a write-stall deadline, graceful shutdown; the listening socket
//! with a deep backlog ([`bind`]).
//!
//! Invariants: at most `max_connections` connections are open (plus the one just accepted
//! and waiting for a slot), and none can hold its place forever: a handshake or request head
//! must arrive within `header_read_timeout` (which also closes idle keep-alive connections), a
//! handler must answer within the request timeout, and a peer that stops reading its answer is
//! dropped after `write_timeout`. At the cap, new clients take the places of the connections
//! idle the longest (answered at least once, no request in flight), closed at once an eighth
//! of the cap at a time; they wait only when no connection is idle. The accept loop itself
//! never waits on a client.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, Notify, Semaphore};
use tower::ServiceExt;
use tracing::{debug, warn};

use crate::live::Live;

/// Limits on connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    pub max_connections: usize,
    /// For the TLS handshake, and for each request head (and so for idle keep-alive).
    pub header_read_timeout: Duration,
    /// A write that makes no progress for this long drops the connection.
    pub write_timeout: Duration,
    /// Largest request head (request line and headers) accepted.
    pub max_header_bytes: usize,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

/// Listen backlog asked of the kernel (which caps it at `net.core.somaxconn`, 4096 on current
/// Linux). Tokio's `TcpListener::bind` asks for 128 (mio follows std): vmagent opening
/// connections to thousands of per-device targets fills that whenever the accept loop falls a
/// second or two behind, and the kernel then drops new connections' SYNs (the client sees a
/// connect timeout, `ListenOverflows` grows).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds a listening socket on `addr` with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as tokio's
/// `TcpListener::bind` sets).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// As [`bind`] for a `host:port` that may need a name lookup: the first address that binds.
pub async fn bind_host(host_port: &str) -> io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(host_port).await? {
        match bind(addr) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{host_port}: no address to listen on"),
        )
    }))
}

/// The open connections, each with whether it has a request in flight, so that at the cap
/// the ones idle the longest can be told to close.
#[derive(Default)]
struct Conns {
    open: Mutex<HashMap<u64, Arc<Track>>>,
    next_id: AtomicU64,
}

/// One connection's activity.
struct Track {
    in_flight: AtomicUsize,
    /// Requests answered: a connection that has not been answered yet may have its first
    /// request in its socket buffer, so it is never evicted as idle.
    answered: AtomicU64,
    /// Milliseconds since `epoch` when a request last started or finished.
    last_active: AtomicU64,
    epoch: Instant,
    evicted: AtomicBool,
    /// Milliseconds since `epoch` when it was told to close.
    evicted_at: AtomicU64,
    evict: Notify,
}

impl Track {
    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_active.store(ms, Ordering::Relaxed);
    }
}

/// Removes its connection from [`Conns`] when the connection ends.
struct Registered {
    conns: Arc<Conns>,
    id: u64,
    track: Arc<Track>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.conns
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl Conns {
    fn register(self: &Arc<Self>, epoch: Instant) -> Registered {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let track = Arc::new(Track {
            in_flight: AtomicUsize::new(0),
            answered: AtomicU64::new(0),
            last_active: AtomicU64::new(epoch.elapsed().as_millis() as u64),
            epoch,
            evicted: AtomicBool::new(false),
            evicted_at: AtomicU64::new(0),
            evict: Notify::new(),
        });
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, track.clone());
        Registered {
            conns: self.clone(),
            id,
            track,
        }
    }

    /// Whether a connection told to close in the last 500 ms has not closed yet (one whose
    /// request raced in finishes its answer first; it does not hold up further evictions).
    fn eviction_pending(&self, epoch: Instant) -> bool {
        let now = epoch.elapsed().as_millis() as u64;
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.values().any(|t| {
            t.evicted.load(Ordering::Relaxed)
                && now.saturating_sub(t.evicted_at.load(Ordering::Relaxed)) < 500
        })
    }

    /// Tells the connections idle the longest to close, at most `n` of them (a batch, so a
    /// burst of new clients does not pay a round through the scheduler each); false when no
    /// connection is idle. Idle: answered at least once and no request in flight.
    fn evict_idle(&self, n: usize) -> bool {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mut idle: Vec<&Arc<Track>> = open
            .values()
            .filter(|t| {
                t.in_flight.load(Ordering::Relaxed) == 0
                    && t.answered.load(Ordering::Relaxed) > 0
                    && !t.evicted.load(Ordering::Relaxed)
            })
            .collect();
        if idle.is_empty() {
            return false;
        }
        let n = n.clamp(1, idle.len());
        idle.select_nth_unstable_by_key(n - 1, |t| t.last_active.load(Ordering::Relaxed));
        for t in &idle[..n] {
            t.evicted_at
                .store(t.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
            t.evicted.store(true, Ordering::Relaxed);
            // A stored permit: the connection sees it even if it is not waiting yet.
            t.evict.notify_one();
        }
        true
    }
}

/// Connections closed at once when the cap is reached: an eighth of the cap (at least one).
fn eviction_batch(max_connections: usize) -> usize {
    (max_connections / 8).max(1)
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight
/// finish (for at most `shutdown_grace`).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    live: Arc<Live>,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let conns = Arc::new(Conns::default());
    let epoch = Instant::now();
    let (closing_tx, closing) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut full_logged = false;
    'accept: loop {
        // Accept first, then find the client a slot: at the cap an idle keep-alive connection
        // gives up its place, so a scraper's new connection never waits for a timeout while
        // the server is doing nothing.
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => {
                full_logged = false;
                p
            }
            Err(_) => {
                // At the cap: close the connections idle the longest, and while none is idle,
                // look again every 100 ms (a busy one may go idle and keep its slot).
                let mut look = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tokio::select! {
                        p = slots.clone().acquire_owned() => {
                            break p.expect("the semaphore is never closed");
                        }
                        _ = &mut shutdown => break 'accept,
                        _ = look.tick() => {
                            if conns.eviction_pending(epoch) {
                                continue;
                            }
                            if conns.evict_idle(eviction_batch(limits.max_connections)) {
                                debug!(
                                    max = limits.max_connections,
                                    "connection limit reached; closing the connections idle the longest"
                                );
                            } else if !full_logged {
                                warn!(
                                    max = limits.max_connections,
                                    "connection limit reached and no connection is idle; new connections wait"
                                );
                                full_logged = true;
                            }
                        }
                    }
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let tls = live.tls();
        let closing = closing.clone();
        let conns = conns.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => {
                    let reg = conns.register(epoch);
                    connection(stream, peer, router, limits, closing, reg.track.clone()).await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(s)) => {
                            let reg = conns.register(epoch);
                            connection(s, peer, router, limits, closing, reg.track.clone()).await
                        }
                        Ok(Err(e)) => log_handshake_failure(peer, &e),
                        Err(_) => debug!(peer = %peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    // Every connection holds a permit: when all are back, all connections are done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(all)).await;
    Ok(())
}

async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    router: Router,
    limits: ConnLimits,
    mut closing: watch::Receiver<bool>,
    track: Arc<Track>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(StallTimeout::new(stream, limits.write_timeout));
    let busy = track.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        let busy = busy.clone();
        busy.in_flight.fetch_add(1, Ordering::Relaxed);
        busy.touch();
        // Busy until the answer's head is ready; hyper finishes sending a body even after
        // a graceful shutdown, so an eviction never cuts an answer short.
        let done = InFlight(busy);
        async move {
            let r = router.oneshot(req.map(axum::body::Body::new)).await;
            drop(done);
            r
        }
    });
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .keep_alive(true);
    let conn = b.serve_connection(io, svc);
    let mut conn = std::pin::pin!(conn);
    let closed = async move {
        let _ = closing.wait_for(|c| *c).await;
    };
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = closed => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        () = track.evict.notified() => {
            // Idle at the cap: closed at once (hyper closes an idle connection on a graceful
            // shutdown, and lets a request that raced in finish first).
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        debug!(peer = %peer, error = %e, "connection ended");
    }
}

/// Counts a request as in flight on its connection until dropped (also when the handler
/// future is dropped unfinished).
struct InFlight(Arc<Track>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.answered.fetch_add(1, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A stream whose writes fail with `TimedOut` once one has made no progress for `limit`
/// (a client that stops reading its answer).
struct StallTimeout<S> {
    inner: S,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallTimeout<S> {
    fn new(inner: S, limit: Duration) -> Self {
        StallTimeout {
            inner,
            limit,
            stalled: None,
        }
    }

    fn on_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "peer stopped reading",
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => self.on_pending(cx).map(Err),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => self.on_pending(cx).map(Err),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => self.on_pending(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A failed TLS handshake: what TLS refused (a client certificate, a version, a suite) is a
/// warning with the peer and the reason, since the client often sees only `certificate
/// unknown`; a connection that closed or reset before finishing is debug noise (port
/// checks, load balancers).
fn log_handshake_failure(peer: std::net::SocketAddr, e: &std::io::Error) {
    match handshake_reason(e) {
        Some(reason) => warn!(peer = %peer, reason = %reason, "TLS handshake failed"),
        None => debug!(peer = %peer, error = %e, "TLS handshake failed"),
    }
}

/// The reason to log for a handshake TLS itself refused, with a hint where the words of
/// rustls/webpki would puzzle an operator; `None` for plain IO ends.
pub(crate) fn handshake_reason(e: &std::io::Error) -> Option<String> {
    let tls = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    let text = tls.to_string();
    let hint = if text.contains("UnsupportedCertVersion") {
        " (the client certificate is X.509 v1; issue a v3 certificate, e.g. openssl x509 -req with -extfile)"
    } else if text.contains("UnknownIssuer") {
        " (the client certificate is not signed by client_ca_file)"
    } else if text.contains("NoCertificatesPresented") {
        " (client_auth_type requires a client certificate and none was sent)"
    } else {
        ""
    };
    Some(format!("{text}{hint}"))
}
