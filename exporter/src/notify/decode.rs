//! Pure decoding of an inbound SNMP notification datagram (v1 Trap, v2c SNMPv2-Trap) into
//! what the exporter acts on: version, community and which of the four standard events it is.
//!
//! Invariants: no IO, no allocation that grows with the input; any bytes give a value or a
//! `Reject`, never a panic (`fuzz/fuzz_targets/notification.rs`); a v2c trap counts only
//! with sysUpTime.0 first and snmpTrapOID.0 second, as RFC 3416 requires.

use snmp2::{MessageType, Pdu, Value};

/// The notifications that make a device be polled at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ColdStart,
    WarmStart,
    LinkDown,
    LinkUp,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ColdStart => "coldStart",
            Kind::WarmStart => "warmStart",
            Kind::LinkDown => "linkDown",
            Kind::LinkUp => "linkUp",
        }
    }

    /// From the last arc of snmpTraps (1.3.6.1.6.3.1.1.5.N), which is also v1's
    /// generic-trap + 1.
    fn from_arc(n: u8) -> Option<Kind> {
        match n {
            1 => Some(Kind::ColdStart),
            2 => Some(Kind::WarmStart),
            3 => Some(Kind::LinkDown),
            4 => Some(Kind::LinkUp),
            _ => None,
        }
    }
}

/// SNMP version of a community-based notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2c,
}

/// A decoded notification; `community` borrows the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification<'a> {
    pub version: Version,
    pub community: &'a [u8],
    pub kind: Kind,
}

/// Why a datagram is not acted on; `reason()` is the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("malformed BER")]
    Malformed,
    #[error("SNMPv3 message (decoded with a USM user's keys, `notify::v3`)")]
    V3,
    #[error("SNMPv3 without authentication (noAuthNoPriv is not accepted)")]
    V3NotAuthenticated,
    #[error("SNMPv3 user not configured for the source")]
    UnknownUser,
    #[error("SNMPv3 digest does not match")]
    V3BadDigest,
    #[error("SNMPv3 scoped PDU does not decrypt")]
    V3BadDecryption,
    #[error("SNMPv3 security level differs from the user's")]
    V3WrongSecurityLevel,
    #[error("SNMPv3 privacy protocol not accepted for notifications")]
    V3Unsupported,
    #[error("not a trap PDU")]
    NotATrap,
    #[error("inform request (configure traps, not informs)")]
    Inform,
    #[error("trap without sysUpTime.0 and snmpTrapOID.0 first")]
    MissingTrapOid,
    #[error("a notification other than coldStart, warmStart, linkDown, linkUp")]
    OtherNotification,
}

impl Reject {
    pub fn reason(self) -> &'static str {
        match self {
            Reject::Malformed => "malformed",
            Reject::V3 => "v3",
            Reject::V3NotAuthenticated => "v3_no_auth",
            Reject::UnknownUser => "unknown_user",
            Reject::V3BadDigest => "bad_digest",
            Reject::V3BadDecryption => "bad_decryption",
            Reject::V3WrongSecurityLevel => "wrong_security_level",
            Reject::V3Unsupported => "v3_unsupported",
            Reject::NotATrap => "not_a_trap",
            Reject::Inform => "inform",
            Reject::MissingTrapOid => "missing_trap_oid",
            Reject::OtherNotification => "other_notification",
        }
    }
}

/// sysUpTime.0 and snmpTrapOID.0, BER content bytes.
const SYS_UPTIME_0: &[u8] = &[0x2b, 6, 1, 2, 1, 1, 3, 0];
const SNMP_TRAP_OID_0: &[u8] = &[0x2b, 6, 1, 6, 3, 1, 1, 4, 1, 0];
/// snmpTraps (1.3.6.1.6.3.1.1.5), the prefix of the four standard notifications.
const SNMP_TRAPS: &[u8] = &[0x2b, 6, 1, 6, 3, 1, 1, 5];

/// Decode one datagram.
pub fn decode(datagram: &[u8]) -> Result<Notification<'_>, Reject> {
    // The version is the first INTEGER of the message SEQUENCE: 0 v1, 1 v2c, 3 v3.
    if version_of(datagram) == Some(3) {
        return Err(Reject::V3);
    }
    let pdu = Pdu::from_bytes(datagram).map_err(|_| Reject::Malformed)?;
    match pdu.message_type {
        MessageType::TrapV1 => {
            let info = pdu.v1_trap_info.as_ref().ok_or(Reject::Malformed)?;
            let kind = u8::try_from(info.generic_trap + 1)
                .ok()
                .and_then(Kind::from_arc)
                .ok_or(Reject::OtherNotification)?;
            Ok(Notification {
                version: Version::V1,
                community: pdu.community,
                kind,
            })
        }
        MessageType::Trap => {
            let mut vbs = pdu.varbinds.clone();
            let first = vbs.next().ok_or(Reject::MissingTrapOid)?;
            let second = vbs.next().ok_or(Reject::MissingTrapOid)?;
            if first.0.as_bytes() != SYS_UPTIME_0 || second.0.as_bytes() != SNMP_TRAP_OID_0 {
                return Err(Reject::MissingTrapOid);
            }
            let Value::ObjectIdentifier(trap) = second.1 else {
                return Err(Reject::MissingTrapOid);
            };
            let kind = match trap.as_bytes() {
                [prefix @ .., last] if prefix == SNMP_TRAPS => Kind::from_arc(*last),
                _ => None,
            }
            .ok_or(Reject::OtherNotification)?;
            Ok(Notification {
                version: Version::V2c,
                community: pdu.community,
                kind,
            })
        }
        MessageType::InformRequest => Err(Reject::Inform),
        _ => Err(Reject::NotATrap),
    }
}

/// The notification a PDU (tag and contents, as in a v3 scoped PDU) carries.
pub fn trap_kind(tag: u8, pdu: &[u8]) -> Result<Kind, Reject> {
    use super::v3::tlv;
    match tag {
        0xa7 => {}
        0xa6 => return Err(Reject::Inform),
        0xa0..=0xa8 => return Err(Reject::NotATrap),
        _ => return Err(Reject::Malformed),
    }
    let mut rest = pdu;
    for _ in 0..3 {
        let (t, _, r) = tlv(rest).ok_or(Reject::Malformed)?;
        if t != 0x02 {
            return Err(Reject::Malformed);
        }
        rest = r;
    }
    let (t, vbs, _) = tlv(rest).ok_or(Reject::Malformed)?;
    if t != 0x30 {
        return Err(Reject::Malformed);
    }
    let varbind = |b: &mut &[u8]| -> Result<(Vec<u8>, u8, Vec<u8>), Reject> {
        let (t, vb, r) = tlv(b).ok_or(Reject::MissingTrapOid)?;
        *b = r;
        let (ot, oid, v) = tlv(vb).ok_or(Reject::Malformed)?;
        let (vt, val, _) = tlv(v).ok_or(Reject::Malformed)?;
        if t != 0x30 || ot != 0x06 {
            return Err(Reject::Malformed);
        }
        Ok((oid.to_vec(), vt, val.to_vec()))
    };
    let mut b = vbs;
    let (first, _, _) = varbind(&mut b)?;
    let (second, vt, value) = varbind(&mut b)?;
    if first != SYS_UPTIME_0 || second != SNMP_TRAP_OID_0 || vt != 0x06 {
        return Err(Reject::MissingTrapOid);
    }
    match value.as_slice() {
        [prefix @ .., last] if prefix == SNMP_TRAPS => Kind::from_arc(*last),
        _ => None,
    }
    .ok_or(Reject::OtherNotification)
}

/// The message version, if the datagram starts like an SNMP message.
fn version_of(b: &[u8]) -> Option<i64> {
    // SEQUENCE, length (short or long form), INTEGER of one byte.
    if *b.first()? != 0x30 {
        return None;
    }
    let len_byte = *b.get(1)?;
    let at = if len_byte & 0x80 == 0 {
        2
    } else {
        2 + usize::from(len_byte & 0x7f)
    };
    match (b.get(at)?, b.get(at + 1)?, b.get(at + 2)?) {
        (0x02, 0x01, v) => Some(i64::from(*v)),
        _ => None,
    }
}

/// Compare a received community with a configured one without an early exit on the first
/// different byte.
pub fn community_matches(got: &[u8], want: &[u8]) -> bool {
    if got.len() != want.len() {
        return false;
    }
    got.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A v2c SNMPv2-Trap as net-snmp sends it: sysUpTime.0, snmpTrapOID.0, then ifIndex,
    /// ifAdminStatus, ifOperStatus of the port.
    pub fn v2c_trap(community: &[u8], trap_last_arc: u8) -> Vec<u8> {
        let mut vbs = Vec::new();
        vbs.extend(varbind(SYS_UPTIME_0, &[0x43, 2, 0x12, 0x34]));
        let mut oid = vec![0x06, (SNMP_TRAPS.len() + 1) as u8];
        oid.extend_from_slice(SNMP_TRAPS);
        oid.push(trap_last_arc);
        vbs.extend(varbind(SNMP_TRAP_OID_0, &oid));
        vbs.extend(varbind(&[0x2b, 6, 1, 2, 1, 2, 2, 1, 1, 2], &[0x02, 1, 2]));
        let mut pdu = vec![0x02, 1, 7, 0x02, 1, 0, 0x02, 1, 0];
        pdu.extend(tlv(0x30, &vbs));
        let mut msg = vec![0x02, 1, 1];
        msg.extend(tlv(0x04, community));
        msg.extend(tlv(0xa7, &pdu));
        tlv(0x30, &msg)
    }

    fn varbind(oid: &[u8], value: &[u8]) -> Vec<u8> {
        let mut body = tlv(0x06, oid);
        body.extend_from_slice(value);
        tlv(0x30, &body)
    }

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if body.len() < 128 {
            out.push(body.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn the_four_standard_traps_decode() {
        for (arc, kind) in [
            (1, Kind::ColdStart),
            (2, Kind::WarmStart),
            (3, Kind::LinkDown),
            (4, Kind::LinkUp),
        ] {
            let d = v2c_trap(b"public", arc);
            let n = decode(&d).unwrap();
            assert_eq!(n.kind, kind);
            assert_eq!(n.community, b"public");
            assert_eq!(n.version, Version::V2c);
        }
    }

    #[test]
    fn other_notifications_and_other_pdus_are_rejected_with_a_reason() {
        assert_eq!(
            decode(&v2c_trap(b"public", 5)),
            Err(Reject::OtherNotification),
            "authenticationFailure"
        );
        let mut inform = v2c_trap(b"public", 3);
        let at = inform.iter().position(|&b| b == 0xa7).unwrap();
        inform[at] = 0xa6;
        assert_eq!(decode(&inform), Err(Reject::Inform));
        inform[at] = 0xa0;
        assert_eq!(decode(&inform), Err(Reject::NotATrap), "a GET request");
    }

    #[test]
    fn v3_is_named_and_truncated_input_is_malformed() {
        let mut v3 = v2c_trap(b"public", 3);
        v3[4] = 3;
        assert_eq!(decode(&v3), Err(Reject::V3));
        // The raw PDU reader agrees with snmp2's on a v2c trap's PDU.
        let d = v2c_trap(b"public", 4);
        let (_, msg, _) = super::super::v3::tlv(&d).unwrap();
        let (_, _, rest) = super::super::v3::tlv(msg).unwrap();
        let (_, _, rest) = super::super::v3::tlv(rest).unwrap();
        let (tag, pdu, _) = super::super::v3::tlv(rest).unwrap();
        assert_eq!(trap_kind(tag, pdu), Ok(Kind::LinkUp));
        let whole = v2c_trap(b"public", 3);
        for cut in 0..whole.len() {
            assert!(decode(&whole[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(decode(b""), Err(Reject::Malformed));
    }

    #[test]
    fn a_trap_must_start_with_sysuptime_and_snmptrapoid() {
        let good = v2c_trap(b"public", 3);
        // Swap the sysUpTime.0 OID's last arc: the first varbind is then another OID.
        let mut bad = good.clone();
        let at = bad
            .windows(SYS_UPTIME_0.len())
            .position(|w| w == SYS_UPTIME_0)
            .unwrap();
        bad[at + SYS_UPTIME_0.len() - 1] = 1;
        assert_eq!(decode(&bad), Err(Reject::MissingTrapOid));
    }

    #[test]
    fn communities_compare_whole() {
        assert!(community_matches(b"public", b"public"));
        assert!(!community_matches(b"public", b"publix"));
        assert!(!community_matches(b"pub", b"public"));
        assert!(!community_matches(b"", b"public"));
    }
}
