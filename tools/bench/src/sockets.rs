//! What the kernel says about a TCP listener: its accept queue (from `/proc/net/tcp{,6}`),
//! the connections open to it, and the system-wide listen overflows and drops
//! (`TcpExt: ListenOverflows ListenDrops` in `/proc/net/netstat`). Read once a second by the
//! scale run so an overflowing listen backlog or a starved accept loop shows up in figures.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    /// Connections waiting in the listener's accept queue.
    pub accept_queue: u64,
    /// Connections to the port in ESTABLISHED state (accepted or waiting to be).
    pub established: u64,
    /// System-wide `TcpExt` counters since boot.
    pub listen_overflows: u64,
    pub listen_drops: u64,
}

/// Reads `/proc/net/tcp` and `/proc/net/tcp6` for local port `port`, and `/proc/net/netstat`.
pub fn read(port: u16) -> Reading {
    let mut r = Reading::default();
    for f in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(f) {
            scan_tcp(&text, port, &mut r);
        }
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/netstat") {
        let (o, d) = listen_counters(&text);
        r.listen_overflows = o;
        r.listen_drops = d;
    }
    r
}

/// Adds the listener's queue and the established connections of `port` in one
/// `/proc/net/tcp` table (`sl local rem st tx_queue:rx_queue ...`; for a listener rx_queue is
/// the accept queue).
fn scan_tcp(text: &str, port: u16, r: &mut Reading) {
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 {
            continue;
        }
        let Some(local_port) = f[1]
            .rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
        else {
            continue;
        };
        if local_port != port {
            continue;
        }
        let rx = f[4].split_once(':').map_or("0", |(_, rx)| rx);
        let rx = u64::from_str_radix(rx, 16).unwrap_or(0);
        match f[3] {
            "0A" => r.accept_queue += rx,
            "01" => r.established += 1,
            _ => {}
        }
    }
}

/// `ListenOverflows` and `ListenDrops` from the `TcpExt:` lines of `/proc/net/netstat`.
fn listen_counters(text: &str) -> (u64, u64) {
    let mut lines = text.lines();
    while let Some(names) = lines.next() {
        let Some(values) = lines.next() else { break };
        if !names.starts_with("TcpExt:") {
            continue;
        }
        let pick = |key: &str| {
            names
                .split_whitespace()
                .position(|n| n == key)
                .and_then(|i| values.split_whitespace().nth(i))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        return (pick("ListenOverflows"), pick("ListenDrops"));
    }
    (0, 0)
}

/// The listener's backlog as `ss` shows it (Send-Q of the LISTEN line; `/proc/net/tcp` shows
/// 0 there on current kernels); 0 when `ss` (Debian iproute2) is missing.
fn backlog(port: u16) -> u64 {
    let out = std::process::Command::new("ss")
        .args(["-Hlnt", &format!("sport = :{port}")])
        .output();
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(2).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Peaks and totals over a span, with the first minute's on their own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub accept_queue_peak: u64,
    pub accept_queue_peak_first_minute: u64,
    pub backlog: u64,
    pub established_peak: u64,
    pub listen_overflows: u64,
    pub listen_overflows_first_minute: u64,
    pub listen_drops: u64,
    pub samples: u64,
}

/// Samples `port` once a second on a thread until dropped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    summary: Arc<Mutex<Summary>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    pub fn start(port: u16) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let summary = Arc::new(Mutex::new(Summary {
            backlog: backlog(port),
            ..Summary::default()
        }));
        let (s, sum) = (stop.clone(), summary.clone());
        let thread = std::thread::spawn(move || {
            let first = read(port);
            let t0 = Instant::now();
            while !s.load(Ordering::Relaxed) {
                let r = read(port);
                let mut m = sum.lock().unwrap_or_else(|p| p.into_inner());
                m.samples += 1;
                m.accept_queue_peak = m.accept_queue_peak.max(r.accept_queue);
                m.established_peak = m.established_peak.max(r.established);
                m.listen_overflows = r.listen_overflows - first.listen_overflows;
                m.listen_drops = r.listen_drops - first.listen_drops;
                if t0.elapsed() < Duration::from_secs(60) {
                    m.accept_queue_peak_first_minute = m.accept_queue_peak;
                    m.listen_overflows_first_minute = m.listen_overflows;
                }
                drop(m);
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        Sampler {
            stop,
            summary,
            thread: Some(thread),
        }
    }

    pub fn summary(&self) -> Summary {
        *self.summary.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_queue_and_connections_of_one_port() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:23A1 00000000:0000 0A 00001000:00000007 00:00000000 00000000     0        0 1
   1: 0100007F:23A1 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2
   2: 0100007F:C350 0100007F:23A1 01 00000000:00000000 00:00000000 00000000     0        0 3
   3: 0100007F:1F90 00000000:0000 0A 00000400:00000002 00:00000000 00000000     0        0 4
";
        let mut r = Reading::default();
        scan_tcp(t, 0x23A1, &mut r);
        assert_eq!((r.accept_queue, r.established), (7, 1));
    }

    #[test]
    fn listen_counters_from_netstat() {
        let t = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 1 12 13\nIpExt: InNoRoutes\nIpExt: 0\n";
        assert_eq!(listen_counters(t), (12, 13));
    }
}
