//! The UDP edge: receives datagrams, asks the pure agent, sends answers (after an optional
//! delay that never blocks other requests), and counts everything. Tests change a running
//! agent through [`Running`] (reboot a device, make it misbehave): the agent is swapped
//! whole, so the pure handler stays pure.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::agent::Agent;
use crate::ber::tag;

/// Traffic counters, readable while the agent runs.
#[derive(Debug)]
pub struct Stats {
    pub requests: AtomicU64,
    pub bytes_received: AtomicU64,
    pub responses: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub varbinds_sent: AtomicU64,
    /// Datagrams not answered: malformed, unknown community, silent device.
    pub unanswered: AtomicU64,
    pub get: AtomicU64,
    pub get_next: AtomicU64,
    pub get_bulk: AtomicU64,
    /// Requests per device, in device order.
    pub per_device: Vec<AtomicU64>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub requests: u64,
    pub bytes_received: u64,
    pub responses: u64,
    pub bytes_sent: u64,
    pub varbinds_sent: u64,
    pub unanswered: u64,
    pub get: u64,
    pub get_next: u64,
    pub get_bulk: u64,
}

impl Stats {
    pub fn new(devices: usize) -> Stats {
        Stats {
            requests: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            responses: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            varbinds_sent: AtomicU64::new(0),
            unanswered: AtomicU64::new(0),
            get: AtomicU64::new(0),
            get_next: AtomicU64::new(0),
            get_bulk: AtomicU64::new(0),
            per_device: (0..devices).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            requests: l(&self.requests),
            bytes_received: l(&self.bytes_received),
            responses: l(&self.responses),
            bytes_sent: l(&self.bytes_sent),
            varbinds_sent: l(&self.varbinds_sent),
            unanswered: l(&self.unanswered),
            get: l(&self.get),
            get_next: l(&self.get_next),
            get_bulk: l(&self.get_bulk),
        }
    }
}

impl Snapshot {
    /// Counter differences since `earlier`.
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        Snapshot {
            requests: self.requests - earlier.requests,
            bytes_received: self.bytes_received - earlier.bytes_received,
            responses: self.responses - earlier.responses,
            bytes_sent: self.bytes_sent - earlier.bytes_sent,
            varbinds_sent: self.varbinds_sent - earlier.varbinds_sent,
            unanswered: self.unanswered - earlier.unanswered,
            get: self.get - earlier.get,
            get_next: self.get_next - earlier.get_next,
            get_bulk: self.get_bulk - earlier.get_bulk,
        }
    }
}

impl std::fmt::Display for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "requests={} bytes_received={} responses={} bytes_sent={} varbinds_sent={} unanswered={} get={} getnext={} getbulk={}",
            self.requests,
            self.bytes_received,
            self.responses,
            self.bytes_sent,
            self.varbinds_sent,
            self.unanswered,
            self.get,
            self.get_next,
            self.get_bulk
        )
    }
}

/// How the UDP edge runs.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Held back before each answer, without blocking other requests.
    pub delay: Duration,
    /// Receive loops (and runtime worker threads) reading the one socket.
    pub threads: usize,
    /// Receive buffer asked of the kernel (capped by `net.core.rmem_max`), so bursts of
    /// requests from thousands of devices wait in the socket instead of being dropped.
    pub recv_buffer: usize,
}

impl ServeOptions {
    /// `delay`, one receive loop per core (at least two), a 16 MB receive buffer.
    pub fn with_delay(delay: Duration) -> ServeOptions {
        ServeOptions {
            delay,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .max(2),
            recv_buffer: 16 << 20,
        }
    }
}

/// The agent the receive loops answer with; replaced whole when a test changes a device.
pub type SharedAgent = Arc<std::sync::RwLock<Arc<Agent>>>;

/// Serves `agent` on `socket` with one receive loop until `shutdown` turns true. Each answer
/// leaves `delay` after its request arrived; with a constant delay a FIFO queue per receive
/// loop keeps that order exactly. Several loops may share one socket (see [`spawn_with`]).
pub async fn serve(
    socket: Arc<UdpSocket>,
    agent: Arc<Agent>,
    stats: Arc<Stats>,
    delay: Duration,
    started: Instant,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let shared = Arc::new(std::sync::RwLock::new(agent));
    serve_shared(socket, shared, stats, delay, started, shutdown).await
}

/// [`serve`] with an agent that may be swapped while it runs. Slow devices
/// (`Hostile::Slow`) answer on timers of their own; `Hostile::OtherSource` devices answer
/// from a socket bound to their other address.
pub async fn serve_shared(
    socket: Arc<UdpSocket>,
    shared: SharedAgent,
    stats: Arc<Stats>,
    delay: Duration,
    started: Instant,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let port = socket.local_addr()?.port();
    let mut other_sockets: std::collections::HashMap<[u8; 4], Arc<UdpSocket>> =
        std::collections::HashMap::new();
    let (tx, mut rx) = mpsc::unbounded_channel::<(tokio::time::Instant, SocketAddr, Vec<u8>)>();
    let sender = {
        let socket = socket.clone();
        tokio::spawn(async move {
            while let Some((at, to, msg)) = rx.recv().await {
                tokio::time::sleep_until(at).await;
                let _ = socket.send_to(&msg, to).await;
            }
        })
    };
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                // ICMP errors from earlier sends surface here on some systems: keep serving.
                Err(_) => continue,
            },
            _ = shutdown.changed() => break,
        };
        let arrived = tokio::time::Instant::now();
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let agent = shared.read().unwrap_or_else(|p| p.into_inner()).clone();
        let out = agent.handle(&buf[..n], elapsed_ms);
        stats.requests.fetch_add(1, Ordering::Relaxed);
        stats.bytes_received.fetch_add(n as u64, Ordering::Relaxed);
        match out.kind {
            Some(tag::GET) => &stats.get,
            Some(tag::GET_NEXT) => &stats.get_next,
            Some(tag::GET_BULK) => &stats.get_bulk,
            _ => &stats.unanswered,
        }
        .fetch_add(u64::from(out.kind.is_some()), Ordering::Relaxed);
        if let Some(i) = out.device {
            stats.per_device[i].fetch_add(1, Ordering::Relaxed);
        }
        let Some(reply) = out.reply else {
            stats.unanswered.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        stats.responses.fetch_add(1, Ordering::Relaxed);
        stats
            .bytes_sent
            .fetch_add(reply.len() as u64, Ordering::Relaxed);
        stats
            .varbinds_sent
            .fetch_add(out.varbinds as u64, Ordering::Relaxed);
        let hostile = out.device.and_then(|i| agent.devices()[i].hostile);
        if let Some(crate::data::Hostile::OtherSource(ip)) = hostile {
            let other = match other_sockets.get(&ip) {
                Some(s) => s.clone(),
                None => {
                    let bound = std::net::Ipv4Addr::from(ip);
                    // The same port on the other address, else any port on it.
                    let s = match UdpSocket::bind((bound, port)).await {
                        Ok(s) => s,
                        Err(_) => UdpSocket::bind((bound, 0)).await?,
                    };
                    let s = Arc::new(s);
                    other_sockets.insert(ip, s.clone());
                    s
                }
            };
            let _ = other.send_to(&reply, from).await;
        } else if let Some(crate::data::Hostile::Slow(ms)) = hostile {
            let socket = socket.clone();
            let at = arrived + delay + Duration::from_millis(u64::from(ms));
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let _ = socket.send_to(&reply, from).await;
            });
        } else if delay.is_zero() {
            let _ = socket.send_to(&reply, from).await;
        } else {
            let _ = tx.send((arrived + delay, from, reply));
        }
    }
    drop(tx);
    sender.abort();
    Ok(())
}

/// An agent running on threads of its own.
pub struct Running {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    /// Receive buffer the kernel granted (Linux reports twice the usable size).
    pub recv_buffer: usize,
    agent: SharedAgent,
    started: Instant,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// The index of a device (its slot in `stats.per_device`).
    pub fn device_index(&self, name: &str) -> Option<usize> {
        self.agent
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .device_index(name)
    }

    /// Requests the device named `name` has received so far.
    pub fn device_requests(&self, name: &str) -> u64 {
        self.device_index(name)
            .map(|i| self.stats.per_device[i].load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    fn change(&self, name: &str, f: impl FnOnce(&Agent, usize, u64) -> Agent) {
        let mut a = self.agent.write().unwrap_or_else(|p| p.into_inner());
        let idx = a
            .device_index(name)
            .unwrap_or_else(|| panic!("no simulated device named {name}"));
        let now = self.started.elapsed().as_millis() as u64;
        *a = Arc::new(f(&a, idx, now));
    }

    /// Reboots a device now (sysUpTime and counters from zero); with `renumber > 0` its
    /// interfaces come back with indexes moved up by that much.
    pub fn reboot(&self, name: &str, renumber: u32) {
        self.change(name, |a, idx, now| a.rebooted(idx, now, renumber));
    }

    /// Makes a device misbehave from now on (`None`: behave again).
    pub fn set_hostile(&self, name: &str, mode: Option<crate::data::Hostile>) {
        self.change(name, |a, idx, _| a.with_hostile(idx, mode));
    }

    /// Stops the agent and waits for its threads.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Binds `bind` (port 0 picks a free one) and serves `agent` with the default options.
pub fn spawn(bind: SocketAddr, agent: Agent, delay: Duration) -> std::io::Result<Running> {
    spawn_with(bind, agent, ServeOptions::with_delay(delay))
}

/// Binds `bind` and serves `agent` on a runtime of `opts.threads` worker threads, each
/// running one receive loop on the same socket (the kernel hands each datagram to one
/// reader). Counters are atomics shared by all loops, so they stay exact.
pub fn spawn_with(bind: SocketAddr, agent: Agent, opts: ServeOptions) -> std::io::Result<Running> {
    let std_socket = std::net::UdpSocket::bind(bind)?;
    std_socket.set_nonblocking(true)?;
    let sock = socket2::SockRef::from(&std_socket);
    // Best effort: the kernel caps the size at net.core.rmem_max.
    let _ = sock.set_recv_buffer_size(opts.recv_buffer);
    let recv_buffer = sock.recv_buffer_size().unwrap_or(0);
    let addr = std_socket.local_addr()?;
    let stats = Arc::new(Stats::new(agent.devices().len()));
    let (stop, rx) = watch::channel(false);
    let agent: SharedAgent = Arc::new(std::sync::RwLock::new(Arc::new(agent)));
    let shared = agent.clone();
    let started = Instant::now();
    let st = stats.clone();
    let threads = opts.threads.max(1);
    let thread = std::thread::Builder::new()
        .name("simagent".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("simagent-worker")
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let socket = Arc::new(UdpSocket::from_std(std_socket)?);
                let loops: Vec<_> = (0..threads)
                    .map(|_| {
                        tokio::spawn(serve_shared(
                            socket.clone(),
                            shared.clone(),
                            st.clone(),
                            opts.delay,
                            started,
                            rx.clone(),
                        ))
                    })
                    .collect();
                for l in loops {
                    l.await.map_err(std::io::Error::other)??;
                }
                Ok(())
            })
        })?;
    Ok(Running {
        addr,
        stats,
        recv_buffer,
        agent,
        started,
        stop,
        thread: Some(thread),
    })
}
