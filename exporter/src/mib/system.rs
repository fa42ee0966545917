//! SNMPv2-MIB system group and the IF-MIB change markers read on every poll.

use crate::snmp::{AtOid, Oid, SnmpError, Value, VarBind};

pub const SYS_DESCR: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 1, 0];
pub const SYS_OBJECT_ID: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 2, 0];
pub const SYS_UPTIME: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];
pub const SYS_NAME: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 5, 0];
pub const IF_NUMBER: [u32; 9] = [1, 3, 6, 1, 2, 1, 2, 1, 0];
pub const IF_TABLE_LAST_CHANGE: [u32; 10] = [1, 3, 6, 1, 2, 1, 31, 1, 5, 0];

/// What the system group says about a device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemInfo {
    pub sys_name: Vec<u8>,
    pub sys_descr: Vec<u8>,
    pub sys_object_id: String,
    /// Hundredths of a second since the agent (re)started.
    pub sys_uptime: u32,
}

/// The OIDs of a system-group GET.
pub fn system_oids() -> Vec<Oid> {
    vec![
        Oid(SYS_DESCR.to_vec()),
        Oid(SYS_OBJECT_ID.to_vec()),
        Oid(SYS_UPTIME.to_vec()),
        Oid(SYS_NAME.to_vec()),
    ]
}

/// Decode a system-group GET answer. Missing or mistyped values stay empty.
pub fn decode_system(vbs: &[VarBind]) -> SystemInfo {
    let mut s = SystemInfo::default();
    for (oid, v) in vbs {
        match oid.0.as_slice() {
            o if o == SYS_DESCR => s.sys_descr = v.as_bytes().unwrap_or_default().to_vec(),
            o if o == SYS_NAME => s.sys_name = v.as_bytes().unwrap_or_default().to_vec(),
            o if o == SYS_UPTIME => s.sys_uptime = v.as_u64().unwrap_or(0) as u32,
            o if o == SYS_OBJECT_ID => {
                if let Value::ObjectIdentifier(id) = v {
                    s.sys_object_id = id.to_string();
                }
            }
            _ => {}
        }
    }
    s
}

/// Reject an agent whose sysObjectID or sysUpTime has a type no real agent uses: such a device
/// is broken (or not speaking SNMP as it should), not merely odd, and must show as down.
pub fn check_types(vbs: &[VarBind]) -> Result<(), AtOid> {
    for (oid, v) in vbs {
        let expected = match (oid.0.as_slice(), v) {
            (_, v) if v.is_exception() => continue,
            (o, Value::ObjectIdentifier(_)) if o == SYS_OBJECT_ID => continue,
            (o, _) if o == SYS_OBJECT_ID => "OBJECT IDENTIFIER",
            (o, Value::TimeTicks(_)) if o == SYS_UPTIME => continue,
            (o, _) if o == SYS_UPTIME => "TimeTicks",
            _ => continue,
        };
        return Err(AtOid::new(
            oid,
            SnmpError::WrongType {
                expected,
                got: v.type_name(),
            },
        ));
    }
    Ok(())
}

/// The markers a counter poll reads to notice a reboot or a changed interface table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeMarkers {
    pub sys_uptime: Option<u32>,
    pub if_number: Option<i64>,
    pub if_table_last_change: Option<u32>,
}

/// OIDs of the change markers, asked in the same GET as the counters.
pub fn marker_oids() -> [Oid; 3] {
    [
        Oid(SYS_UPTIME.to_vec()),
        Oid(IF_NUMBER.to_vec()),
        Oid(IF_TABLE_LAST_CHANGE.to_vec()),
    ]
}

/// Decode the marker values: the answers to `marker_oids()`, in that order (`None`: the
/// agent answered for another OID).
pub fn decode_markers(values: &[Option<Value>]) -> ChangeMarkers {
    let mut m = ChangeMarkers::default();
    let at = |i: usize| {
        values
            .get(i)
            .and_then(Option::as_ref)
            .filter(|v| !v.is_exception())
    };
    m.sys_uptime = at(0).and_then(Value::as_u64).map(|x| x as u32);
    m.if_number = at(1).and_then(Value::as_i64);
    m.if_table_last_change = at(2).and_then(Value::as_u64).map(|x| x as u32);
    m
}

/// Why a device needs its interface tables walked again, if it does.
///
/// `elapsed` is the wall time in seconds between the two reads. A device that rebooted while
/// it was not polled (or between two polls) can show a sysUpTime above the last one but far
/// below what the time since then would give: that is a reboot too. The slack (5 s plus a
/// tenth of the gap) absorbs clock drift and request latency.
pub fn rediscovery_reason(
    prev: &ChangeMarkers,
    now: &ChangeMarkers,
    elapsed: f64,
) -> Option<&'static str> {
    match (prev.sys_uptime, now.sys_uptime) {
        (Some(a), Some(b)) if b < a => return Some("sysUpTime went backwards (reboot)"),
        // A sysUpTime that does not move at all (some recordings and broken agents) says
        // nothing about reboots.
        (Some(a), Some(b)) if b > a => {
            let elapsed = elapsed.max(0.0);
            let expected = f64::from(a) + elapsed * 100.0;
            let slack = 500.0 + elapsed * 10.0;
            if f64::from(b) + slack < expected {
                return Some("sysUpTime grew less than the time since the last poll (reboot)");
            }
        }
        _ => {}
    }
    if prev.if_number.is_some() && now.if_number.is_some() && prev.if_number != now.if_number {
        return Some("ifNumber changed");
    }
    if prev.if_table_last_change.is_some()
        && now.if_table_last_change.is_some()
        && prev.if_table_last_change != now.if_table_last_change
    {
        return Some("ifTableLastChange changed");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mistyped_sys_uptime_or_object_id_is_an_error_and_exceptions_are_not() {
        let good = vec![
            (Oid(SYS_DESCR.to_vec()), Value::Integer(7)),
            (
                Oid(SYS_OBJECT_ID.to_vec()),
                Value::ObjectIdentifier(Oid(vec![1, 3, 6, 1])),
            ),
            (Oid(SYS_UPTIME.to_vec()), Value::TimeTicks(100)),
            (Oid(SYS_NAME.to_vec()), Value::NoSuchInstance),
        ];
        assert!(check_types(&good).is_ok());
        let mut bad = good.clone();
        bad[2].1 = Value::IpAddress([169, 254, 0, 1]);
        let err = check_types(&bad).unwrap_err();
        assert_eq!(err.oid, Oid(SYS_UPTIME.to_vec()));
        assert_eq!(
            err.error.to_string(),
            "wrong value type: IpAddress where the MIB says TimeTicks"
        );
        let mut bad = good;
        bad[1].1 = Value::OctetString(b"1.3.6.1".to_vec());
        assert_eq!(check_types(&bad).unwrap_err().error.reason(), "wrong_type");
    }

    #[test]
    fn reboot_and_table_changes_trigger_rediscovery() {
        let a = ChangeMarkers {
            sys_uptime: Some(1000),
            if_number: Some(10),
            if_table_last_change: Some(5),
        };
        let mut b = a;
        b.sys_uptime = Some(2000);
        assert_eq!(rediscovery_reason(&a, &b, 10.0), None);
        b.sys_uptime = Some(10);
        assert!(rediscovery_reason(&a, &b, 10.0).unwrap().contains("reboot"));
        // Rebooted during ten minutes without answers, up for two minutes now.
        b.sys_uptime = Some(1000 + 120 * 100);
        assert!(rediscovery_reason(&a, &b, 600.0)
            .unwrap()
            .contains("reboot"));
        b.sys_uptime = Some(1000 + 600 * 100 - 300);
        assert_eq!(
            rediscovery_reason(&a, &b, 600.0),
            None,
            "drift is not a reboot"
        );
        b.sys_uptime = a.sys_uptime;
        assert_eq!(rediscovery_reason(&a, &b, 600.0), None, "a frozen clock");
        let mut c = a;
        c.if_number = Some(11);
        assert_eq!(rediscovery_reason(&a, &c, 0.0), Some("ifNumber changed"));
        let mut d = a;
        d.if_table_last_change = Some(6);
        assert_eq!(
            rediscovery_reason(&a, &d, 0.0),
            Some("ifTableLastChange changed")
        );
        let missing = ChangeMarkers::default();
        assert_eq!(rediscovery_reason(&a, &missing, 0.0), None);
    }
}
