//! The agent-bound floor of a poll cycle: the cheapest possible client sends only the minimal
//! GETs (the same OIDs and packing as a counter poll), one request in flight per device, and
//! throws the answers away.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use wardflux_simagent::ber::{encode_request, tag};
use wardflux_simagent::synth;

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

/// One floor cycle: its wall time and the requests that had to be sent again because the
/// agent dropped them (0 for a trustworthy floor).
#[derive(Debug, Clone, Copy)]
pub struct Cycle {
    pub seconds: f64,
    pub resent: u64,
}

/// One cycle over `devices` devices, all due at once, with at most `concurrency` in flight.
pub async fn cycle(
    agent: std::net::SocketAddr,
    devices: usize,
    interfaces: u32,
    per_request: usize,
    concurrency: usize,
) -> anyhow::Result<Cycle> {
    let oids = poll_oids(interfaces);
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let resent = Arc::new(AtomicU64::new(0));
    // Requests are encoded before the clock starts: the floor is the agent's, not ours.
    let plans: Vec<Vec<Vec<u8>>> = (1..=devices)
        .map(|n| {
            let community = synth::device_name(n);
            oids.chunks(per_request)
                .enumerate()
                .map(|(k, c)| encode_request(community.as_bytes(), tag::GET, k as i32 + 1, 0, 0, c))
                .collect()
        })
        .collect();
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(devices);
    for requests in plans {
        let sem = sem.clone();
        let resent = resent.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await?;
            let sock = UdpSocket::bind("127.0.0.1:0").await?;
            sock.connect(agent).await?;
            let mut buf = vec![0u8; 65536];
            for r in &requests {
                let mut tries = 0;
                loop {
                    sock.send(r).await?;
                    match tokio::time::timeout(Duration::from_secs(1), sock.recv(&mut buf)).await {
                        Ok(got) => {
                            got?;
                            break;
                        }
                        // A lost datagram: counted, and the cycle says so.
                        Err(_) if tries < 5 => {
                            tries += 1;
                            resent.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => anyhow::bail!("floor client: no answer after 6 tries"),
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(Cycle {
        seconds: start.elapsed().as_secs_f64(),
        resent: resent.load(Ordering::Relaxed),
    })
}

/// Best of three cycles, with the requests resent over all three.
pub fn measure(
    agent: std::net::SocketAddr,
    devices: usize,
    interfaces: u32,
    concurrency: usize,
) -> anyhow::Result<Cycle> {
    // As many worker threads as the exporter's runtime gets (one per core).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut best = Cycle {
        seconds: f64::MAX,
        resent: 0,
    };
    for _ in 0..3 {
        let c = rt.block_on(cycle(agent, devices, interfaces, 50, concurrency))?;
        best.seconds = best.seconds.min(c.seconds);
        best.resent += c.resent;
    }
    if best.resent > 0 {
        eprintln!(
            "bench: floor client resent {} lost requests over 3 cycles (agent dropped them)",
            best.resent
        );
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_poll_reads_markers_and_fourteen_columns_per_interface() {
        assert_eq!(super::poll_oids(48).len(), 3 + 14 * 48);
    }
}
