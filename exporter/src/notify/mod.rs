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
pub mod v3;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::net::UdpSocket;
use tracing::{debug, info, warn};

use crate::snmp::session::{Credentials, V3Credentials};
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

/// How a source's notifications are authenticated.
#[derive(Debug)]
pub enum SourceAuth {
    /// v1/v2c: the target's community.
    Community(crate::secret::Secret),
    /// v3: the target's USM user (shared by every target with the same credentials, so its
    /// keys are derived once).
    Usm(Arc<Usm>),
}

/// A USM user and, once first needed, its keys.
pub struct Usm {
    creds: V3Credentials,
    keys: OnceLock<Option<v3::UserKeys>>,
}

impl std::fmt::Debug for Usm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Usm({:?})", self.creds.username)
    }
}

impl Usm {
    /// Password-to-key for both passwords, once; `None` for a user without authentication
    /// (noAuthNoPriv notifications are never accepted).
    fn keys(&self) -> Option<&v3::UserKeys> {
        self.keys
            .get_or_init(|| {
                let (proto, pass) = self.creds.auth.as_ref()?;
                Some(v3::UserKeys {
                    auth: (
                        *proto,
                        v3::password_to_key(*proto, pass.expose().as_bytes()),
                    ),
                    privacy: self.creds.privacy.as_ref().map(|(p, pass)| {
                        (*p, v3::password_to_key(*proto, pass.expose().as_bytes()))
                    }),
                })
            })
            .as_ref()
    }
}

/// Who may send notifications: per source address, the targets there and how each
/// authenticates.
#[derive(Debug, Default)]
pub struct Sources {
    by_ip: HashMap<IpAddr, Vec<(Arc<str>, SourceAuth)>>,
}

impl Sources {
    /// From (address, device, credentials) triples: a target's polling address and auth.
    pub fn build<'a>(
        targets: impl IntoIterator<Item = (IpAddr, Arc<str>, &'a Credentials)>,
    ) -> Sources {
        let mut users: Vec<Arc<Usm>> = Vec::new();
        let mut by_ip: HashMap<IpAddr, Vec<(Arc<str>, SourceAuth)>> = HashMap::new();
        for (ip, device, creds) in targets {
            let auth = match creds {
                Credentials::V1 { community } | Credentials::V2c { community } => {
                    SourceAuth::Community(community.clone())
                }
                Credentials::V3(c) => {
                    let same = |u: &Usm| {
                        let a = &u.creds;
                        a.username == c.username
                            && a.auth.as_ref().map(|(p, s)| (*p, s.expose()))
                                == c.auth.as_ref().map(|(p, s)| (*p, s.expose()))
                            && a.privacy.as_ref().map(|(p, s)| (*p, s.expose()))
                                == c.privacy.as_ref().map(|(p, s)| (*p, s.expose()))
                    };
                    let usm = match users.iter().find(|u| same(u)) {
                        Some(u) => u.clone(),
                        None => {
                            let u = Arc::new(Usm {
                                creds: c.clone(),
                                keys: OnceLock::new(),
                            });
                            users.push(u.clone());
                            u
                        }
                    };
                    SourceAuth::Usm(usm)
                }
            };
            by_ip.entry(ip).or_default().push((device, auth));
        }
        Sources { by_ip }
    }
}

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
    let n = match decode(datagram) {
        Ok(n) => n,
        Err(Reject::V3) => return judge_v3(datagram, from, sources),
        Err(r) => return Err(r.reason()),
    };
    let Some(targets) = sources.by_ip.get(&from) else {
        return Err("unknown_source");
    };
    let mut devices = Vec::new();
    for (name, auth) in targets {
        if let SourceAuth::Community(c) = auth {
            if decode::community_matches(n.community, c.expose().as_bytes()) {
                devices.push(&**name);
            }
        }
    }
    if devices.is_empty() {
        return Err("wrong_community");
    }
    Ok((n.kind, devices))
}

fn judge_v3<'s>(
    datagram: &[u8],
    from: IpAddr,
    sources: &'s Sources,
) -> Result<(Kind, Vec<&'s str>), &'static str> {
    let h = v3::parse(datagram).map_err(Reject::reason)?;
    let Some(targets) = sources.by_ip.get(&from) else {
        return Err("unknown_source");
    };
    let mut last = Reject::UnknownUser;
    let mut opened: Vec<(&Arc<Usm>, Kind)> = Vec::new();
    let mut devices = Vec::new();
    for (name, auth) in targets {
        let SourceAuth::Usm(u) = auth else { continue };
        if u.creds.username.as_bytes() != h.user {
            continue;
        }
        // Targets sharing a user share its verdict: each user is checked once per datagram.
        if let Some((_, kind)) = opened.iter().find(|(o, _)| Arc::ptr_eq(o, u)) {
            let _ = kind;
            devices.push(&**name);
            continue;
        }
        let Some(keys) = u.keys() else {
            last = Reject::V3NotAuthenticated;
            continue;
        };
        let kind = v3::open(datagram, &h, keys).and_then(|scoped| {
            let (tag, pdu) = v3::scoped_pdu(&scoped)?;
            decode::trap_kind(tag, pdu)
        });
        match kind {
            Ok(k) => {
                opened.push((u, k));
                devices.push(&**name);
            }
            Err(r) => last = r,
        }
    }
    match opened.first() {
        Some((_, kind)) => Ok((*kind, devices)),
        None => Err(last.reason()),
    }
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
        let v2 = |c: &str| Credentials::V2c {
            community: Secret::new(c.to_string()),
        };
        let (b, d1, d2) = (v2("branch"), v2("dev1"), v2("dev2"));
        let br: IpAddr = "169.254.140.1".parse().unwrap();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let s = Sources::build([
            (br, Arc::from("BR-01"), &b),
            (lo, Arc::from("dev1"), &d1),
            (lo, Arc::from("dev2"), &d2),
        ]);
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

    /// Real SNMPv3 traps sent by net-snmp's snmptrap (engine 0x80001f8880c0ffee0000000001,
    /// user wfxuser, passwords wfxauthpass1 / wfxprivpass1).
    const AUTHPRIV_SHA_AES: &[u8] =
        include_bytes!("../../tests/data/notifications/v3-authpriv-sha-aes-linkdown");
    const AUTHNOPRIV_MD5: &[u8] =
        include_bytes!("../../tests/data/notifications/v3-authnopriv-md5-linkup");
    const AUTHPRIV_SHA256_DES: &[u8] =
        include_bytes!("../../tests/data/notifications/v3-authpriv-sha256-des-coldstart");

    fn v3(
        user: &str,
        auth: Option<(AuthProtocol, &str)>,
        privacy: Option<(PrivProtocol, &str)>,
    ) -> Credentials {
        Credentials::V3(V3Credentials {
            username: user.into(),
            auth: auth.map(|(p, s)| (p, Secret::new(s))),
            privacy: privacy.map(|(p, s)| (p, Secret::new(s))),
            context_name: String::new(),
        })
    }

    fn judge_one(d: &[u8], creds: &Credentials) -> Result<Kind, &'static str> {
        let ip: IpAddr = "169.254.140.1".parse().unwrap();
        let s = Sources::build([(ip, Arc::from("BR-01"), creds)]);
        judge(d, ip, &s).map(|(k, devices)| {
            assert_eq!(devices, vec!["BR-01"]);
            k
        })
    }

    use crate::snmp::session::{AuthProtocol, PrivProtocol};

    #[test]
    fn real_v3_traps_authenticate_and_decrypt() {
        let sha_aes = v3(
            "wfxuser",
            Some((AuthProtocol::Sha1, "wfxauthpass1")),
            Some((PrivProtocol::Aes128, "wfxprivpass1")),
        );
        assert_eq!(judge_one(AUTHPRIV_SHA_AES, &sha_aes), Ok(Kind::LinkDown));
        let md5 = v3("wfxuser", Some((AuthProtocol::Md5, "wfxauthpass1")), None);
        assert_eq!(judge_one(AUTHNOPRIV_MD5, &md5), Ok(Kind::LinkUp));
        let sha256_des = v3(
            "wfxuser",
            Some((AuthProtocol::Sha256, "wfxauthpass1")),
            Some((PrivProtocol::Des, "wfxprivpass1")),
        );
        assert_eq!(
            judge_one(AUTHPRIV_SHA256_DES, &sha256_des),
            Ok(Kind::ColdStart)
        );
    }

    #[test]
    fn v3_traps_with_wrong_keys_users_or_levels_are_rejected_by_reason() {
        let user = |auth: &str, privacy: &str| {
            v3(
                "wfxuser",
                Some((AuthProtocol::Sha1, auth)),
                Some((PrivProtocol::Aes128, privacy)),
            )
        };
        assert_eq!(
            judge_one(AUTHPRIV_SHA_AES, &user("wrongpass123", "wfxprivpass1")),
            Err("bad_digest")
        );
        assert_eq!(
            judge_one(AUTHPRIV_SHA_AES, &user("wfxauthpass1", "wrongpriv123")),
            Err("bad_decryption")
        );
        let mut flipped = AUTHPRIV_SHA_AES.to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            judge_one(&flipped, &user("wfxauthpass1", "wfxprivpass1")),
            Err("bad_digest"),
            "one bit changed in the encrypted PDU"
        );
        let other = v3("someone", Some((AuthProtocol::Sha1, "wfxauthpass1")), None);
        assert_eq!(judge_one(AUTHPRIV_SHA_AES, &other), Err("unknown_user"));
        let no_priv = v3("wfxuser", Some((AuthProtocol::Sha1, "wfxauthpass1")), None);
        assert_eq!(
            judge_one(AUTHPRIV_SHA_AES, &no_priv),
            Err("wrong_security_level")
        );
        let no_auth = v3("wfxuser", None, None);
        assert_eq!(judge_one(AUTHNOPRIV_MD5, &no_auth), Err("v3_no_auth"));
        assert_eq!(
            judge(
                AUTHPRIV_SHA_AES,
                "127.0.0.9".parse().unwrap(),
                &Sources::default()
            ),
            Err("unknown_source")
        );
        for cut in 0..AUTHPRIV_SHA_AES.len() {
            let _ = judge_one(
                &AUTHPRIV_SHA_AES[..cut],
                &user("wfxauthpass1", "wfxprivpass1"),
            )
            .expect_err("a truncated message is never accepted");
        }
    }
}
