//! The agent-bound floor of a poll cycle: the cheapest possible client sends only the minimal
//! GETs (the same OIDs and packing as a counter poll), one request in flight per device, and
//! throws the answers away.

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

/// Wall time for one cycle over `devices` devices with at most `concurrency` in flight.
pub async fn cycle(
    agent: std::net::SocketAddr,
    devices: usize,
    interfaces: u32,
    per_request: usize,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    let oids = poll_oids(interfaces);
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let start = Instant::now();
    let resent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(devices);
    for n in 1..=devices {
        let community = synth::device_name(n);
        let requests: Vec<Vec<u8>> = oids
            .chunks(per_request)
            .enumerate()
            .map(|(k, c)| encode_request(community.as_bytes(), tag::GET, k as i32 + 1, 0, 0, c))
            .collect();
        let sem = sem.clone();
        let resent = resent.clone();
        // Starts are staggered by 20 us per device, as a real poller spreads its devices, so
        // a burst of a thousand datagrams does not overflow the agent's receive buffer; a
        // datagram lost anyway is sent again after 1 s and counted.
        let offset = Duration::from_micros(20 * n as u64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(tokio::time::Instant::from_std(start + offset)).await;
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
                        Err(_) if tries < 5 => {
                            tries += 1;
                            resent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
    let resent = resent.load(std::sync::atomic::Ordering::Relaxed);
    if resent > 0 {
        eprintln!("bench: floor client resent {resent} lost requests");
    }
    Ok(start.elapsed())
}

/// Best of three cycles.
pub fn measure(
    agent: std::net::SocketAddr,
    devices: usize,
    interfaces: u32,
    concurrency: usize,
) -> anyhow::Result<f64> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut best = f64::MAX;
    for _ in 0..3 {
        let d = rt.block_on(cycle(agent, devices, interfaces, 50, concurrency))?;
        best = best.min(d.as_secs_f64());
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
