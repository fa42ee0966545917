//! SNMP notifications as poll triggers: a UDP listener (`--snmp.trap-listen-address`) that
//! decodes each datagram, checks it came from a target's address with that target's
//! community, and asks the poller to poll the device at once.
//!
//! Invariants: a notification is a hint, never the state (nothing here writes the inventory);
//! every datagram is counted as received and then as accepted or rejected with a reason;
//! the work per datagram is bounded (decode, one map lookup, a non-blocking channel send),
//! so a flood costs this task only; the poller runs at most one triggered poll per device per
//! second however many hints arrive.

pub mod decode;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::net::UdpSocket;
use tracing::{debug, info, warn};

use crate::snmp::session::Credentials;
pub use decode::{decode, Kind, Notification, Reject};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

/// Self-metrics of the listener and of the polls it triggered.
pub struct Metrics {
    registry: Registry,
    pub received: Counter,
    pub accepted: Family<KindLabel, Counter>,
    pub rejected: Family<ReasonLabel, Counter>,
    /// Polls run because of a notification (counted by the poller when the poll starts).
    pub polls_triggered: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let received = Counter::default();
        registry.register(
            "wardflux_snmp_notifications_received",
            "SNMP notification datagrams received on --snmp.trap-listen-address",
            received.clone(),
        );
        let accepted = Family::<KindLabel, Counter>::default();
        registry.register(
            "wardflux_snmp_notifications_accepted",
            "SNMP notifications accepted as poll triggers, by kind (linkDown, linkUp, coldStart, warmStart)",
            accepted.clone(),
        );
        let rejected = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "wardflux_snmp_notifications_rejected",
            "SNMP notification datagrams dropped, by reason",
            rejected.clone(),
        );
        let polls_triggered = Counter::default();
        registry.register(
            "wardflux_snmp_notification_polls_triggered",
            "Device polls run at once because of an accepted notification (at most one per device per second)",
            polls_triggered.clone(),
        );
        Metrics {
            registry,
            received,
            accepted,
            rejected,
            polls_triggered,
        }
    }

    pub fn render(&self, out: &mut String) {
        let mut om = String::new();
        if prometheus_client::encoding::text::encode(&mut om, &self.registry).is_ok() {
            crate::metrics::selfmetrics::to_text_format(&om, out);
        }
    }

    fn reject(&self, r: &str) {
        self.rejected
            .get_or_create(&ReasonLabel {
                reason: r.to_string(),
            })
            .inc();
    }
}

/// Who may send notifications: per source address, the targets there and their credentials.
pub type Sources = HashMap<IpAddr, Vec<(Arc<str>, Credentials)>>;

/// What the listener needs from the poller (a trait so the pure part is testable).
pub trait Triggers: Send + Sync {
    /// The current sources (targets by address).
    fn sources(&self) -> Arc<Sources>;
    /// Ask a device to be polled now; false when it is unknown.
    fn trigger(&self, device: &str) -> bool;
}

/// The devices one datagram triggers, or why none.
pub fn judge<'s>(
    datagram: &[u8],
    from: IpAddr,
    sources: &'s Sources,
) -> Result<(Kind, Vec<&'s str>), &'static str> {
    let n = decode(datagram).map_err(Reject::reason)?;
    let Some(targets) = sources.get(&from) else {
        return Err("unknown_source");
    };
    let mut devices = Vec::new();
    for (name, creds) in targets {
        let ok = match creds {
            Credentials::V1 { community } | Credentials::V2c { community } => {
                decode::community_matches(n.community, community.expose().as_bytes())
            }
            Credentials::V3(_) => false,
        };
        if ok {
            devices.push(&**name);
        }
    }
    if devices.is_empty() {
        return Err("wrong_community");
    }
    Ok((n.kind, devices))
}

/// Handle one datagram: count it and trigger the devices it names.
pub fn handle(datagram: &[u8], from: IpAddr, triggers: &dyn Triggers, metrics: &Metrics) {
    metrics.received.inc();
    let sources = triggers.sources();
    match judge(datagram, from, &sources) {
        Ok((kind, devices)) => {
            metrics
                .accepted
                .get_or_create(&KindLabel {
                    kind: kind.as_str().to_string(),
                })
                .inc();
            for d in devices {
                debug!(
                    device = d,
                    kind = kind.as_str(),
                    "notification: polling now"
                );
                triggers.trigger(d);
            }
        }
        Err(reason) => {
            debug!(%from, reason, "notification dropped");
            metrics.reject(reason);
        }
    }
}

/// Bind the listener; errors name the address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    UdpSocket::bind(addr).await
}

/// Receive datagrams until the task is dropped.
pub async fn listen(socket: UdpSocket, triggers: Arc<dyn Triggers>, metrics: Arc<Metrics>) {
    info!(address = ?socket.local_addr().ok(), "listening for SNMP notifications");
    let mut buf = vec![0u8; 65_536];
    let mut logged_error = false;
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                handle(&buf[..n], from.ip(), triggers.as_ref(), &metrics);
            }
            Err(e) => {
                if !logged_error {
                    warn!(error = %e, "receiving SNMP notifications failed");
                    logged_error = true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decode::tests::v2c_trap;
    use super::*;
    use crate::secret::Secret;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    struct Fake {
        sources: Arc<Sources>,
        triggered: Mutex<Vec<String>>,
        calls: AtomicUsize,
    }

    impl Triggers for Fake {
        fn sources(&self) -> Arc<Sources> {
            self.sources.clone()
        }
        fn trigger(&self, device: &str) -> bool {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.triggered.lock().unwrap().push(device.to_string());
            true
        }
    }

    fn fake() -> Fake {
        let mut s = Sources::new();
        let v2 = |c: &str| Credentials::V2c {
            community: Secret::new(c.to_string()),
        };
        s.insert(
            "169.254.140.1".parse().unwrap(),
            vec![(Arc::from("BR-01"), v2("branch"))],
        );
        s.insert(
            "127.0.0.1".parse().unwrap(),
            vec![
                (Arc::from("dev1"), v2("dev1")),
                (Arc::from("dev2"), v2("dev2")),
            ],
        );
        Fake {
            sources: Arc::new(s),
            triggered: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
        }
    }

    fn rejected(m: &Metrics, reason: &str) -> u64 {
        m.rejected
            .get_or_create(&ReasonLabel {
                reason: reason.into(),
            })
            .get()
    }

    #[test]
    fn a_link_down_from_a_target_with_its_community_triggers_that_device_only() {
        let f = fake();
        let m = Metrics::new();
        handle(&v2c_trap(b"dev2", 3), "127.0.0.1".parse().unwrap(), &f, &m);
        assert_eq!(*f.triggered.lock().unwrap(), vec!["dev2".to_string()]);
        assert_eq!(m.received.get(), 1);
        let linkdown = KindLabel {
            kind: "linkDown".into(),
        };
        assert_eq!(m.accepted.get_or_create(&linkdown).get(), 1);
    }

    #[test]
    fn hostile_datagrams_are_counted_by_reason_and_trigger_nothing() {
        let f = fake();
        let m = Metrics::new();
        let branch: IpAddr = "169.254.140.1".parse().unwrap();
        handle(&v2c_trap(b"wrong", 3), branch, &f, &m);
        handle(
            &v2c_trap(b"branch", 3),
            "169.254.99.9".parse().unwrap(),
            &f,
            &m,
        );
        handle(&[0x30, 0x82, 0xff], branch, &f, &m);
        handle(&v2c_trap(b"branch", 6), branch, &f, &m);
        assert_eq!(f.calls.load(Ordering::Relaxed), 0);
        assert_eq!(m.received.get(), 4);
        assert_eq!(rejected(&m, "wrong_community"), 1);
        assert_eq!(rejected(&m, "unknown_source"), 1);
        assert_eq!(rejected(&m, "malformed"), 1);
        assert_eq!(rejected(&m, "other_notification"), 1);
    }

    #[test]
    fn rendered_names_are_the_documented_ones() {
        let m = Metrics::new();
        m.received.inc();
        m.reject("malformed");
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("wardflux_snmp_notifications_received_total 1"));
        assert!(out.contains("wardflux_snmp_notifications_rejected_total{reason=\"malformed\"} 1"));
        assert!(out.contains("# TYPE wardflux_snmp_notification_polls_triggered_total counter"));
    }
}
