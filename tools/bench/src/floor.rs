//! The agent-bound floor of a poll cycle: the cheapest possible client sends only the minimal
//! GETs (the same OIDs and packing as a counter poll), one request in flight per device, and
//! throws the answers away. Measured as a throughput with every device always due, as the
//! exporter is measured (`cycle.rs`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use wardflux_simagent::ber::{encode_request, tag};
use wardflux_simagent::{synth, Snapshot, Stats};

/// OIDs a counter poll of one device reads: change markers, then 14 columns per interface.
pub fn poll_oids(interfaces: u32) -> Vec<Vec<u32>> {
    let mut v = vec![
        vec![1, 3, 6, 1, 2, 1, 1, 3, 0],
        vec![1, 3, 6, 1, 2, 1, 2, 1, 0],
        vec![1, 3, 6, 1, 2, 1, 31, 1, 5, 0],
    ];
    for i in 1..=interfaces {
        for c in [8, 7, 14, 20, 13, 19] {
            v.push(vec![1, 3, 6, 1, 2, 1, 2, 2, 1, c, i]);
        }
        for c in 6..=13 {
            v.push(vec![1, 3, 6, 1, 2, 1, 31, 1, 1, 1, c, i]);
        }
    }
    v
}

/// GETs of at most this many OIDs, as the exporter packs them (`max_oids_per_request`'s
/// default): 14 requests for a 48-interface device.
pub const OIDS_PER_REQUEST: usize = 50;

/// How long the client waits for an answer before sending the request again: the exporter's
/// `timeout` in the bench config.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Worker threads of the floor client's runtime carry this name, so their CPU can be read
/// apart from the agent's (`/proc/self/task/*/comm`).
pub const THREAD_NAME: &str = "floor-client";

/// What the saturated floor client did in its window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Saturated {
    /// Device polls (all GETs of a device answered) completed in the window, per second.
    pub polls_per_second: f64,
    /// Requests sent again after [`TIMEOUT`] in the window (0 for a trustworthy floor).
    pub resent: u64,
    /// CPU seconds of the client's own threads in the window (not the agent's).
    pub cpu_seconds: f64,
    pub window_seconds: f64,
    /// The agent's counters over the window.
    pub agent: Snapshot,
}

/// The floor as a throughput: `devices` devices polled over and over, each one again as soon
/// as its last poll is done, with at most `concurrency` in flight (a semaphore, as in the
/// exporter), one request in flight per device and a fresh socket per poll (as the exporter
/// opens one per visit). Device polls completed per second are counted over `window` after
/// `warmup`; a cycle of every device is `devices / polls_per_second`.
pub fn saturated(
    agent: std::net::SocketAddr,
    devices: usize,
    interfaces: u32,
    concurrency: usize,
    warmup: Duration,
    window: Duration,
    stats: &Stats,
) -> anyhow::Result<Saturated> {
    // As many worker threads as the exporter's runtime gets (one per core).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name(THREAD_NAME)
        .enable_all()
        .build()?;
    let oids = poll_oids(interfaces);
    // Requests are encoded once, before the clock starts: the floor is the agent's, not ours.
    let plans: Vec<Arc<Vec<Vec<u8>>>> = (1..=devices)
        .map(|n| {
            let community = synth::device_name(n);
            Arc::new(
                oids.chunks(OIDS_PER_REQUEST)
                    .enumerate()
                    .map(|(k, c)| {
                        encode_request(community.as_bytes(), tag::GET, k as i32 + 1, 0, 0, c)
                    })
                    .collect(),
            )
        })
        .collect();
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let polls = Arc::new(AtomicU64::new(0));
    let resent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(devices);
    for requests in plans {
        let (sem, polls, resent, stop) = (sem.clone(), polls.clone(), resent.clone(), stop.clone());
        tasks.push(rt.spawn(async move {
            let mut buf = vec![0u8; 65536];
            while !stop.load(Ordering::Relaxed) {
                let _permit = sem.acquire().await?;
                let sock = UdpSocket::bind("127.0.0.1:0").await?;
                sock.connect(agent).await?;
                for r in requests.iter() {
                    let mut tries = 0;
                    loop {
                        sock.send(r).await?;
                        match tokio::time::timeout(TIMEOUT, sock.recv(&mut buf)).await {
                            Ok(got) => {
                                got?;
                                break;
                            }
                            // A lost datagram: counted, and the figures say so.
                            Err(_) if tries < 5 => {
                                tries += 1;
                                resent.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => anyhow::bail!("floor client: no answer after 6 tries"),
                        }
                    }
                }
                polls.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    std::thread::sleep(warmup);
    let (a0, p0, r0, c0, t0) = (
        stats.snapshot(),
        polls.load(Ordering::Relaxed),
        resent.load(Ordering::Relaxed),
        crate::procfs::threads_cpu_seconds(THREAD_NAME)?,
        Instant::now(),
    );
    std::thread::sleep(window);
    let (a1, p1, r1, c1, el) = (
        stats.snapshot(),
        polls.load(Ordering::Relaxed),
        resent.load(Ordering::Relaxed),
        crate::procfs::threads_cpu_seconds(THREAD_NAME)?,
        t0.elapsed().as_secs_f64(),
    );
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        rt.block_on(t)??;
    }
    Ok(Saturated {
        polls_per_second: (p1 - p0) as f64 / el,
        resent: r1 - r0,
        cpu_seconds: c1 - c0,
        window_seconds: el,
        agent: a1.since(&a0),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_poll_reads_markers_and_fourteen_columns_per_interface() {
        assert_eq!(super::poll_oids(48).len(), 3 + 14 * 48);
    }
}
