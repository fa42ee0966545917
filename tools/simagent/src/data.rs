//! The data a virtual device serves: sorted OID entries with static or time-driven values.
//!
//! Invariant: a `Template`'s entries are sorted by OID and unique, so GET is a binary search
//! and GETNEXT is a partition point. Templates are shared between devices; what differs per
//! device (name, counter seeds) comes from the `Device`.

use std::sync::Arc;

use crate::ber::{self, tag};

/// A concrete SNMP value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Integer(i64),
    OctetString(Vec<u8>),
    Null,
    Oid(Vec<u32>),
    IpAddress(Vec<u8>),
    Counter32(u32),
    Gauge32(u32),
    TimeTicks(u32),
    Opaque(Vec<u8>),
    Counter64(u64),
}

impl Value {
    /// Appends the value's TLV.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Integer(x) => ber::put_int(out, tag::INTEGER, *x),
            Value::OctetString(b) => ber::put_tlv(out, tag::OCTET_STRING, b),
            Value::Null => out.extend_from_slice(&[tag::NULL, 0]),
            Value::Oid(o) => ber::put_tlv(out, tag::OID, &ber::encode_oid(o)),
            Value::IpAddress(b) => ber::put_tlv(out, tag::IP_ADDRESS, b),
            Value::Counter32(x) => ber::put_uint(out, tag::COUNTER32, u64::from(*x)),
            Value::Gauge32(x) => ber::put_uint(out, tag::GAUGE32, u64::from(*x)),
            Value::TimeTicks(x) => ber::put_uint(out, tag::TIMETICKS, u64::from(*x)),
            Value::Opaque(b) => ber::put_tlv(out, tag::OPAQUE, b),
            Value::Counter64(x) => ber::put_uint(out, tag::COUNTER64, *x),
        }
    }
}

/// Where an entry's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A fixed value, pre-encoded as a TLV.
    Static(Box<[u8]>),
    /// A counter that grows with time: per-device base plus `rate` per second.
    Counter { id: u32, rate: u32, bits64: bool },
    /// A Counter32 from a chosen start (say, just below 2^32, so it wraps under test) growing by
    /// `rate` per second; after a reboot, from zero.
    Counter32From { start: u32, rate: u32 },
    /// sysUpTime: hundredths of a second since the agent started, plus a base.
    Uptime { base: u32 },
    /// The device's own name (sysName).
    DeviceName,
}

/// One OID and its value source.
#[derive(Debug, Clone)]
pub struct Entry {
    pub oid: Vec<u32>,
    /// The OID TLV, pre-encoded.
    pub oid_tlv: Box<[u8]>,
    pub source: Source,
}

impl Entry {
    pub fn fixed(oid: Vec<u32>, value: &Value) -> Entry {
        let mut v = Vec::new();
        value.encode(&mut v);
        Entry::new(oid, Source::Static(v.into_boxed_slice()))
    }

    pub fn new(oid: Vec<u32>, source: Source) -> Entry {
        let mut t = Vec::new();
        ber::put_tlv(&mut t, tag::OID, &ber::encode_oid(&oid));
        Entry {
            oid,
            oid_tlv: t.into_boxed_slice(),
            source,
        }
    }
}

/// A sorted set of entries, shared by every device built from it.
#[derive(Debug, Default)]
pub struct Template {
    entries: Vec<Entry>,
}

impl Template {
    /// Sorts the entries; of duplicate OIDs the first one read is kept.
    pub fn new(mut entries: Vec<Entry>) -> Template {
        entries.sort_by(|a, b| a.oid.cmp(&b.oid));
        entries.dedup_by(|b, a| a.oid == b.oid);
        Template { entries }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry with exactly this OID.
    pub fn get(&self, oid: &[u32]) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.oid.as_slice().cmp(oid))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The first entry strictly after `oid`.
    pub fn next(&self, oid: &[u32]) -> Option<&Entry> {
        let i = self.entries.partition_point(|e| e.oid.as_slice() <= oid);
        self.entries.get(i)
    }

    /// The same data with every interface-table index moved up by `offset` (ifTable,
    /// ifXTable, EtherLike-MIB rows and the ifIndex column's values), as an agent that
    /// numbers its interfaces anew after a reboot.
    pub fn renumbered(&self, offset: u32) -> Template {
        const TABLES: [&[u32]; 3] = [
            &[1, 3, 6, 1, 2, 1, 2, 2, 1],
            &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1],
            &[1, 3, 6, 1, 2, 1, 10, 7, 2, 1],
        ];
        const IF_INDEX_COLUMN: [u32; 10] = [1, 3, 6, 1, 2, 1, 2, 2, 1, 1];
        let entries = self
            .entries
            .iter()
            .map(|e| {
                let in_table = TABLES
                    .iter()
                    .any(|t| e.oid.len() == t.len() + 2 && e.oid.starts_with(t));
                if !in_table {
                    return e.clone();
                }
                let mut oid = e.oid.clone();
                let last = oid.len() - 1;
                oid[last] = oid[last].saturating_add(offset);
                if e.oid.starts_with(&IF_INDEX_COLUMN) {
                    Entry::fixed(oid.clone(), &Value::Integer(i64::from(oid[last])))
                } else {
                    Entry::new(oid, e.source.clone())
                }
            })
            .collect();
        Template::new(entries)
    }

    /// True when some entry lies under `prefix` (the object exists, maybe not this instance).
    pub fn has_under(&self, prefix: &[u32]) -> bool {
        let i = self.entries.partition_point(|e| e.oid.as_slice() < prefix);
        self.entries
            .get(i)
            .is_some_and(|e| e.oid.starts_with(prefix))
    }
}

/// How a device misbehaves, for tests of the client's defences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// Every answer leaves this many milliseconds after its request (a device near the
    /// client's timeout), without delaying other devices.
    Slow(u32),
    /// One request in N (by request-id) is never answered: a lossy path.
    Lossy(u32),
    /// Answers come from this address (same port number) instead of the one asked: a
    /// device with several addresses that replies from another one.
    OtherSource([u8; 4]),
    /// GETNEXT/GETBULK answers repeat the requested OID instead of moving forward.
    NonIncreasing,
    /// Every value is sent as an OCTET STRING.
    WrongType,
    /// Responses are cut in half.
    Truncated,
    /// Requests are never answered.
    Silent,
}

impl std::str::FromStr for Hostile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(ms) = s.strip_prefix("slow:") {
            let ms = ms.strip_suffix("ms").unwrap_or(ms);
            return ms
                .parse()
                .map(Hostile::Slow)
                .map_err(|_| format!("slow:{ms}: expected milliseconds, e.g. slow:900ms"));
        }
        if let Some(n) = s.strip_prefix("lossy:") {
            return match n.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(Hostile::Lossy(n)),
                _ => Err(format!(
                    "lossy:{n}: expected N >= 1 (one request in N dropped)"
                )),
            };
        }
        if let Some(a) = s.strip_prefix("other-source:") {
            return a
                .parse::<std::net::Ipv4Addr>()
                .map(|ip| Hostile::OtherSource(ip.octets()))
                .map_err(|_| format!("other-source:{a}: expected an IPv4 address"));
        }
        match s {
            "non-increasing" => Ok(Hostile::NonIncreasing),
            "wrong-type" => Ok(Hostile::WrongType),
            "truncated" => Ok(Hostile::Truncated),
            "silent" => Ok(Hostile::Silent),
            _ => Err(format!(
                "unknown hostile mode {s:?} (non-increasing, wrong-type, truncated, silent, \
                 slow:MS, lossy:N, other-source:IP)"
            )),
        }
    }
}

/// One virtual device: a name (its community), its data and its behaviour.
#[derive(Debug, Clone)]
pub struct Device {
    pub name: String,
    pub template: Arc<Template>,
    /// Varies counter bases between devices that share a template.
    pub seed: u64,
    pub hostile: Option<Hostile>,
    /// Agent time (ms) of the device's last simulated reboot: sysUpTime and counters
    /// start again from zero there.
    pub rebooted_at_ms: Option<u64>,
}

/// A small, fast mixing function for deterministic per-device numbers.
pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

impl Device {
    /// Appends the TLV of `entry`'s value at `elapsed_ms` since the agent started.
    pub fn encode_value(&self, entry: &Entry, elapsed_ms: u64, out: &mut Vec<u8>) {
        if self.hostile == Some(Hostile::WrongType) {
            ber::put_tlv(out, tag::OCTET_STRING, b"wrong-type");
            return;
        }
        match &entry.source {
            Source::Static(b) => out.extend_from_slice(b),
            Source::Counter { id, rate, bits64 } => {
                let (base, since) = match self.rebooted_at_ms {
                    Some(r) => (0, elapsed_ms.saturating_sub(r)),
                    None => (mix(self.seed ^ (u64::from(*id) << 20)) >> 24, elapsed_ms),
                };
                let v = base.wrapping_add(u64::from(*rate) * since / 1000);
                if *bits64 {
                    ber::put_uint(out, tag::COUNTER64, v);
                } else {
                    ber::put_uint(out, tag::COUNTER32, v & 0xffff_ffff);
                }
            }
            Source::Counter32From { start, rate } => {
                let (base, since) = match self.rebooted_at_ms {
                    Some(r) => (0, elapsed_ms.saturating_sub(r)),
                    None => (u64::from(*start), elapsed_ms),
                };
                let v = base + u64::from(*rate) * since / 1000;
                ber::put_uint(out, tag::COUNTER32, v & 0xffff_ffff);
            }
            Source::Uptime { base } => {
                let t = match self.rebooted_at_ms {
                    Some(r) => elapsed_ms.saturating_sub(r) / 10,
                    None => u64::from(*base) + elapsed_ms / 10,
                };
                ber::put_uint(out, tag::TIMETICKS, t & 0xffff_ffff);
            }
            Source::DeviceName => ber::put_tlv(out, tag::OCTET_STRING, self.name.as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Template {
        Template::new(vec![
            Entry::fixed(
                vec![1, 3, 6, 1, 2, 1, 1, 5, 0],
                &Value::OctetString(b"x".to_vec()),
            ),
            Entry::fixed(vec![1, 3, 6, 1, 2, 1, 1, 1, 0], &Value::Integer(1)),
            Entry::fixed(vec![1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 1], &Value::Integer(1)),
        ])
    }

    #[test]
    fn next_and_get_follow_oid_order() {
        let t = t();
        assert_eq!(t.next(&[1, 3]).unwrap().oid, [1, 3, 6, 1, 2, 1, 1, 1, 0]);
        assert_eq!(
            t.next(&[1, 3, 6, 1, 2, 1, 1, 1, 0]).unwrap().oid,
            [1, 3, 6, 1, 2, 1, 1, 5, 0]
        );
        assert!(t.next(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 1]).is_none());
        assert!(t.get(&[1, 3, 6, 1, 2, 1, 1, 5, 0]).is_some());
        assert!(t.get(&[1, 3, 6, 1, 2, 1, 1, 5]).is_none());
        assert!(t.has_under(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 1]));
        assert!(!t.has_under(&[1, 3, 6, 1, 2, 1, 2, 2, 1, 2]));
    }

    #[test]
    fn counters_grow_with_time_and_32_bit_ones_wrap() {
        let dev = Device {
            name: "d".into(),
            template: Arc::new(t()),
            seed: 7,
            hostile: None,
            rebooted_at_ms: None,
        };
        let e = Entry::new(
            vec![1],
            Source::Counter {
                id: 1,
                rate: 1000,
                bits64: true,
            },
        );
        let (mut a, mut b) = (Vec::new(), Vec::new());
        dev.encode_value(&e, 0, &mut a);
        dev.encode_value(&e, 10_000, &mut b);
        let va = crate::ber::decode_uint(&a[2..]);
        let vb = crate::ber::decode_uint(&b[2..]);
        assert_eq!(vb - va, 10_000);
        let e32 = Entry::new(
            vec![1],
            Source::Counter {
                id: 1,
                rate: u32::MAX,
                bits64: false,
            },
        );
        let mut c = Vec::new();
        dev.encode_value(&e32, 3_000_000, &mut c);
        assert!(crate::ber::decode_uint(&c[2..]) <= u64::from(u32::MAX));
    }
}
