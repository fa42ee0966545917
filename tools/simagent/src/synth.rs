//! Synthetic devices: N branch routers x M interfaces with system group, ifTable, ifXTable and
//! EtherLike duplex, counters that grow with time. All devices of one size share a template.

use std::sync::Arc;

use crate::data::{Device, Entry, Source, Template, Value};

const SYSTEM: [u32; 7] = [1, 3, 6, 1, 2, 1, 1];
const IF_NUMBER: [u32; 9] = [1, 3, 6, 1, 2, 1, 2, 1, 0];
const IF_ENTRY: [u32; 9] = [1, 3, 6, 1, 2, 1, 2, 2, 1];
const IFX_ENTRY: [u32; 10] = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1];
const IF_TABLE_LAST_CHANGE: [u32; 10] = [1, 3, 6, 1, 2, 1, 31, 1, 5, 0];
const DOT3_DUPLEX: [u32; 11] = [1, 3, 6, 1, 2, 1, 10, 7, 2, 1, 19];

fn oid(prefix: &[u32], tail: &[u32]) -> Vec<u32> {
    let mut o = prefix.to_vec();
    o.extend_from_slice(tail);
    o
}

/// Per-interface counters: (counter kind, bytes-or-packets-per-second at full rate).
/// Counter32 and Counter64 columns of one kind share the kind, so ifInOctets is the low
/// 32 bits of ifHCInOctets, as on a real agent.
const IN_OCTETS: u32 = 0;
const OUT_OCTETS: u32 = 1;
const IN_UCAST: u32 = 2;
const OUT_UCAST: u32 = 3;
const IN_MCAST: u32 = 4;
const OUT_MCAST: u32 = 5;
const IN_BCAST: u32 = 6;
const OUT_BCAST: u32 = 7;
const IN_DISCARDS: u32 = 8;
const IN_ERRORS: u32 = 9;
const OUT_DISCARDS: u32 = 10;
const OUT_ERRORS: u32 = 11;
const IN_UNKNOWN: u32 = 12;
const IN_NUCAST: u32 = 13;
const OUT_NUCAST: u32 = 14;

fn rate(kind: u32) -> u32 {
    match kind {
        IN_OCTETS => 1_250_000,
        OUT_OCTETS => 625_000,
        IN_UCAST | OUT_UCAST => 1_200,
        IN_MCAST | OUT_MCAST | IN_BCAST | OUT_BCAST | IN_NUCAST | OUT_NUCAST => 10,
        _ => 1,
    }
}

fn counter(i: u32, kind: u32, bits64: bool, up: bool) -> Source {
    Source::Counter {
        id: i * 32 + kind,
        rate: if up { rate(kind) } else { 0 },
        bits64,
    }
}

/// Builds the shared template of a device with `interfaces` interfaces (ifIndex 1..=M).
pub fn template(interfaces: u32) -> Template {
    let mut e = Vec::new();
    let s = |v: &str| Value::OctetString(v.as_bytes().to_vec());
    e.push(Entry::fixed(
        oid(&SYSTEM, &[1, 0]),
        &s("Cisco IOS Software [Bengaluru], ISR Software (X86_64_LINUX_IOSD-UNIVERSALK9-M), Version 17.6.5, RELEASE SOFTWARE (fc2) wardflux-simagent"),
    ));
    e.push(Entry::fixed(
        oid(&SYSTEM, &[2, 0]),
        &Value::Oid(vec![1, 3, 6, 1, 4, 1, 9, 1, 2068]),
    ));
    e.push(Entry::new(
        oid(&SYSTEM, &[3, 0]),
        Source::Uptime { base: 8_640_000 },
    ));
    e.push(Entry::fixed(oid(&SYSTEM, &[4, 0]), &s("noc@bank.example")));
    e.push(Entry::new(oid(&SYSTEM, &[5, 0]), Source::DeviceName));
    e.push(Entry::fixed(oid(&SYSTEM, &[6, 0]), &s("Tbilisi branch")));
    e.push(Entry::fixed(oid(&SYSTEM, &[7, 0]), &Value::Integer(78)));
    e.push(Entry::fixed(
        IF_NUMBER.to_vec(),
        &Value::Integer(i64::from(interfaces)),
    ));
    e.push(Entry::fixed(
        IF_TABLE_LAST_CHANGE.to_vec(),
        &Value::TimeTicks(1234),
    ));
    for i in 1..=interfaces {
        // Every 7th interface is down and idle; the last one is a loopback; a few carry ISP aliases.
        let up = i % 7 != 0;
        let (descr, if_type, speed_mbps): (String, i64, u32) = if i == interfaces && i > 1 {
            ("Loopback0".into(), 24, 8000)
        } else if i <= 2 {
            (format!("GigabitEthernet0/0/{}", i - 1), 6, 1000)
        } else {
            (format!("GigabitEthernet1/0/{}", i - 2), 6, 1000)
        };
        let alias = match i {
            1 => "ISP: Magti Internet 100M".to_string(),
            2 => "ISP: Silknet MPLS".to_string(),
            _ if i % 5 == 0 => format!("user port {i}"),
            _ => String::new(),
        };
        let col = |c: u32| oid(&IF_ENTRY, &[c, i]);
        let xcol = |c: u32| oid(&IFX_ENTRY, &[c, i]);
        let speed_bps = u32::try_from(u64::from(speed_mbps) * 1_000_000).unwrap_or(u32::MAX);
        e.push(Entry::fixed(col(1), &Value::Integer(i64::from(i))));
        e.push(Entry::fixed(col(2), &s(&descr)));
        e.push(Entry::fixed(col(3), &Value::Integer(if_type)));
        e.push(Entry::fixed(col(4), &Value::Integer(1500)));
        e.push(Entry::fixed(col(5), &Value::Gauge32(speed_bps)));
        e.push(Entry::fixed(
            col(6),
            &Value::OctetString(vec![0x00, 0x1b, 0x54, 0x0a, (i >> 8) as u8, i as u8]),
        ));
        e.push(Entry::fixed(col(7), &Value::Integer(1)));
        e.push(Entry::fixed(
            col(8),
            &Value::Integer(if up { 1 } else { 2 }),
        ));
        e.push(Entry::fixed(col(9), &Value::TimeTicks(100 * i)));
        e.push(Entry::new(col(10), counter(i, IN_OCTETS, false, up)));
        e.push(Entry::new(col(11), counter(i, IN_UCAST, false, up)));
        e.push(Entry::new(col(12), counter(i, IN_NUCAST, false, up)));
        e.push(Entry::new(col(13), counter(i, IN_DISCARDS, false, up)));
        e.push(Entry::new(col(14), counter(i, IN_ERRORS, false, up)));
        e.push(Entry::new(col(15), counter(i, IN_UNKNOWN, false, up)));
        e.push(Entry::new(col(16), counter(i, OUT_OCTETS, false, up)));
        e.push(Entry::new(col(17), counter(i, OUT_UCAST, false, up)));
        e.push(Entry::new(col(18), counter(i, OUT_NUCAST, false, up)));
        e.push(Entry::new(col(19), counter(i, OUT_DISCARDS, false, up)));
        e.push(Entry::new(col(20), counter(i, OUT_ERRORS, false, up)));
        e.push(Entry::fixed(col(21), &Value::Gauge32(0)));
        e.push(Entry::fixed(col(22), &Value::Oid(vec![0, 0])));
        e.push(Entry::fixed(xcol(1), &s(&short_name(&descr))));
        e.push(Entry::new(xcol(2), counter(i, IN_MCAST, false, up)));
        e.push(Entry::new(xcol(3), counter(i, IN_BCAST, false, up)));
        e.push(Entry::new(xcol(4), counter(i, OUT_MCAST, false, up)));
        e.push(Entry::new(xcol(5), counter(i, OUT_BCAST, false, up)));
        e.push(Entry::new(xcol(6), counter(i, IN_OCTETS, true, up)));
        e.push(Entry::new(xcol(7), counter(i, IN_UCAST, true, up)));
        e.push(Entry::new(xcol(8), counter(i, IN_MCAST, true, up)));
        e.push(Entry::new(xcol(9), counter(i, IN_BCAST, true, up)));
        e.push(Entry::new(xcol(10), counter(i, OUT_OCTETS, true, up)));
        e.push(Entry::new(xcol(11), counter(i, OUT_UCAST, true, up)));
        e.push(Entry::new(xcol(12), counter(i, OUT_MCAST, true, up)));
        e.push(Entry::new(xcol(13), counter(i, OUT_BCAST, true, up)));
        e.push(Entry::fixed(xcol(14), &Value::Integer(1)));
        e.push(Entry::fixed(xcol(15), &Value::Gauge32(speed_mbps)));
        e.push(Entry::fixed(xcol(16), &Value::Integer(2)));
        e.push(Entry::fixed(
            xcol(17),
            &Value::Integer(if if_type == 6 { 1 } else { 2 }),
        ));
        e.push(Entry::fixed(xcol(18), &s(&alias)));
        e.push(Entry::fixed(xcol(19), &Value::TimeTicks(0)));
        if if_type == 6 {
            e.push(Entry::fixed(oid(&DOT3_DUPLEX, &[i]), &Value::Integer(3)));
        }
    }
    Template::new(e)
}

/// A device with 32-bit counters only (ifTable, no ifXTable: an IP camera, a UPS), one
/// Ethernet interface (ifIndex 1, ifSpeed `speed_bps`) whose ifInOctets starts at `in_start`
/// and grows by `in_rate` octets a second (ifOutOctets at a tenth of it, from zero): with a
/// start just below 2^32 its counter wraps under test.
pub fn counter32_device(name: &str, speed_bps: u32, in_start: u32, in_rate: u32) -> Device {
    let s = |v: &str| Value::OctetString(v.as_bytes().to_vec());
    let col = |c: u32| oid(&IF_ENTRY, &[c, 1]);
    let e = vec![
        Entry::fixed(oid(&SYSTEM, &[1, 0]), &s("IP camera, wardflux-simagent")),
        Entry::fixed(
            oid(&SYSTEM, &[2, 0]),
            &Value::Oid(vec![1, 3, 6, 1, 4, 1, 8072, 3, 2, 10]),
        ),
        Entry::new(oid(&SYSTEM, &[3, 0]), Source::Uptime { base: 500_000 }),
        Entry::new(oid(&SYSTEM, &[5, 0]), Source::DeviceName),
        Entry::fixed(IF_NUMBER.to_vec(), &Value::Integer(1)),
        Entry::fixed(col(1), &Value::Integer(1)),
        Entry::fixed(col(2), &s("eth0")),
        Entry::fixed(col(3), &Value::Integer(6)),
        Entry::fixed(col(4), &Value::Integer(1500)),
        Entry::fixed(col(5), &Value::Gauge32(speed_bps)),
        Entry::fixed(col(7), &Value::Integer(1)),
        Entry::fixed(col(8), &Value::Integer(1)),
        Entry::new(
            col(10),
            Source::Counter32From {
                start: in_start,
                rate: in_rate,
            },
        ),
        Entry::new(
            col(11),
            Source::Counter32From {
                start: 0,
                rate: in_rate / 1000,
            },
        ),
        Entry::fixed(col(13), &Value::Counter32(0)),
        Entry::fixed(col(14), &Value::Counter32(0)),
        Entry::new(
            col(16),
            Source::Counter32From {
                start: 0,
                rate: in_rate / 10,
            },
        ),
        Entry::new(
            col(17),
            Source::Counter32From {
                start: 0,
                rate: in_rate / 10_000,
            },
        ),
        Entry::fixed(col(19), &Value::Counter32(0)),
        Entry::fixed(col(20), &Value::Counter32(0)),
    ];
    Device {
        name: name.to_string(),
        template: Arc::new(Template::new(e)),
        seed: 0,
        hostile: None,
        rebooted_at_ms: None,
    }
}

fn short_name(descr: &str) -> String {
    descr
        .replacen("GigabitEthernet", "Gi", 1)
        .replacen("Loopback", "Lo", 1)
}

/// The community (device name) of synthetic device number `n` (1-based): `dev0001`.
pub fn device_name(n: usize) -> String {
    format!("dev{n:04}")
}

/// `count` devices named `dev0001`... sharing one template of `interfaces` interfaces.
pub fn devices(count: usize, interfaces: u32) -> Vec<Device> {
    let t = Arc::new(template(interfaces));
    (1..=count)
        .map(|n| Device {
            name: device_name(n),
            template: t.clone(),
            seed: crate::data::mix(n as u64),
            hostile: None,
            rebooted_at_ms: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_has_both_interface_tables_for_every_interface() {
        let t = template(48);
        for i in 1..=48u32 {
            assert!(t.get(&oid(&IF_ENTRY, &[2, i])).is_some(), "ifDescr.{i}");
            assert!(
                t.get(&oid(&IFX_ENTRY, &[6, i])).is_some(),
                "ifHCInOctets.{i}"
            );
            assert!(t.get(&oid(&IFX_ENTRY, &[18, i])).is_some(), "ifAlias.{i}");
        }
        assert!(t.get(&oid(&IF_ENTRY, &[2, 49])).is_none());
        assert_eq!(t.get(&IF_NUMBER).unwrap().source, {
            let mut v = Vec::new();
            Value::Integer(48).encode(&mut v);
            Source::Static(v.into_boxed_slice())
        });
    }

    #[test]
    fn devices_get_names_like_dev0001() {
        let d = devices(3, 2);
        assert_eq!(d[0].name, "dev0001");
        assert_eq!(d[2].name, "dev0003");
        assert!(Arc::ptr_eq(&d[0].template, &d[2].template));
    }
}
