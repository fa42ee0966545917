//! SNMP notification datagrams (arbitrary bytes) through the exporter's decoder and the
//! listener's source and community check.
//!
//! Checked besides "no panic": an accepted notification's community is bytes of the datagram,
//! and a datagram is accepted only from a configured source with its community.

use std::net::IpAddr;
use std::sync::Arc;

use wardflux_exporter::notify::{self, Sources};
use wardflux_exporter::secret::Secret;
use wardflux_exporter::snmp::session::Credentials;

pub fn run(data: &[u8]) {
    if let Ok(n) = notify::decode(data) {
        let range = data.as_ptr_range();
        let c = n.community.as_ptr_range();
        assert!(n.community.is_empty() || (range.start <= c.start && c.end <= range.end));
    }
    let ip: IpAddr = [169, 254, 140, 1].into();
    let v2 = Credentials::V2c {
        community: Secret::new("public"),
    };
    let sources = Sources::build([(ip, Arc::from("BR-01"), &v2)]);
    if let Ok((_, devices)) = notify::judge(data, ip, &sources) {
        assert_eq!(devices, vec!["BR-01"]);
        assert_eq!(
            notify::decode(data).map(|n| n.community),
            Ok(&b"public"[..])
        );
    }
    assert!(notify::judge(data, [127, 0, 0, 1].into(), &sources).is_err());
}
