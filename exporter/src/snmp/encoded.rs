//! OIDs in their BER form (content octets, no tag or length): encoded once when a poll plan is
//! built and reused by every poll, and compared byte for byte with the OIDs of an answer.
//!
//! Pure; no IO. `decode` is the inverse of `encode` for any OID whose arcs fit in a u32.

use super::Oid;

/// Appends the BER content octets of `arcs` to `out`. The first two arcs share one
/// sub-identifier (40 x first + second), as X.690 says; an OID needs at least two arcs and
/// a first arc of 0, 1 or 2 (and a second arc under 40 unless the first is 2). Returns false,
/// writing nothing, when `arcs` cannot be encoded.
pub fn encode(arcs: &[u32], out: &mut Vec<u8>) -> bool {
    let (Some(&a), Some(&b)) = (arcs.first(), arcs.get(1)) else {
        return false;
    };
    if a > 2 || (a < 2 && b >= 40) {
        return false;
    }
    push_sub(u64::from(a) * 40 + u64::from(b), out);
    for &arc in &arcs[2..] {
        push_sub(u64::from(arc), out);
    }
    true
}

/// One sub-identifier in base 128, high bit set on every octet but the last.
fn push_sub(v: u64, out: &mut Vec<u8>) {
    let bits = 64 - (v | 1).leading_zeros();
    let mut shift = (bits - 1) / 7 * 7;
    while shift > 0 {
        out.push(0x80 | ((v >> shift) & 0x7f) as u8);
        shift -= 7;
    }
    out.push((v & 0x7f) as u8);
}

/// The arcs of BER content octets; `None` when malformed (truncated, padded, an arc over
/// u32, or empty).
pub fn decode(bytes: &[u8]) -> Option<Oid> {
    let mut arcs = Vec::with_capacity(bytes.len() + 1);
    let mut v: u64 = 0;
    let mut fresh = true;
    for &b in bytes {
        if fresh && b == 0x80 {
            return None; // leading 0x80 pads a sub-identifier: not DER, and not ours
        }
        v = (v << 7) | u64::from(b & 0x7f);
        if v > u64::from(u32::MAX) * 40 + 80 {
            return None;
        }
        fresh = b & 0x80 == 0;
        if fresh {
            if arcs.is_empty() {
                let (a, b) = match v {
                    0..40 => (0, v),
                    40..80 => (1, v - 40),
                    _ => (2, v - 80),
                };
                arcs.push(a as u32);
                arcs.push(u32::try_from(b).ok()?);
            } else {
                arcs.push(u32::try_from(v).ok()?);
            }
            v = 0;
        }
    }
    (fresh && !arcs.is_empty()).then_some(Oid(arcs))
}

/// A list of OIDs stored as their concatenated BER content octets: about 12 bytes for an
/// interface column OID where an `Oid` takes a heap allocation of 48 bytes and 24 inline.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncodedOids {
    bytes: Vec<u8>,
    /// End offset of each OID in `bytes`.
    ends: Vec<u32>,
}

impl EncodedOids {
    /// Encodes `oids`; an OID that cannot be encoded is an error naming it.
    pub fn from_oids<'a>(oids: impl IntoIterator<Item = &'a Oid>) -> Result<EncodedOids, Oid> {
        let mut e = EncodedOids::default();
        for o in oids {
            e.push(o)?;
        }
        e.shrink_to_fit();
        Ok(e)
    }

    /// Appends one OID.
    pub fn push(&mut self, oid: &Oid) -> Result<(), Oid> {
        if !encode(&oid.0, &mut self.bytes) {
            return Err(oid.clone());
        }
        self.ends.push(self.bytes.len() as u32);
        Ok(())
    }

    /// Appends every OID of `other`, in order.
    pub fn append(&mut self, other: &EncodedOids) {
        let base = self.bytes.len() as u32;
        self.bytes.extend_from_slice(&other.bytes);
        self.ends.extend(other.ends.iter().map(|e| e + base));
    }

    /// Drops spare capacity once the list is complete.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The content octets of OID `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    /// OID `i` decoded (for error messages and slow paths).
    pub fn oid(&self, i: usize) -> Oid {
        decode(self.get(i)).unwrap_or_default()
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * 4
    }
}

impl std::fmt::Debug for EncodedOids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries((0..self.len()).map(|i| self.oid(i)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        assert!(encode(&Oid::parse(s).unwrap().0, &mut v), "{s}");
        v
    }

    #[test]
    fn known_encodings() {
        assert_eq!(enc("1.3.6.1.2.1.1.3.0"), [0x2b, 6, 1, 2, 1, 1, 3, 0]);
        assert_eq!(enc("1.3.6.1.4.1.9.128"), [0x2b, 6, 1, 4, 1, 9, 0x81, 0]);
        assert_eq!(enc("2.999.3"), [0x88, 0x37, 3]);
        assert_eq!(enc("1.3.4294967295"), [0x2b, 0x8f, 0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(enc("0.0"), [0]);
        let mut v = Vec::new();
        assert!(!encode(&[1], &mut v) && !encode(&[3, 1], &mut v) && !encode(&[1, 40], &mut v));
        assert!(v.is_empty());
    }

    #[test]
    fn decode_inverts_encode_and_rejects_junk() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5000 {
            let first = (next() % 3) as u32;
            let second = if first == 2 {
                (next() % 5000) as u32
            } else {
                (next() % 40) as u32
            };
            let mut arcs = vec![first, second];
            for _ in 0..(next() % 14) {
                let arc = match next() % 4 {
                    0 => u32::MAX,
                    1 => (next() % 128) as u32,
                    _ => next() as u32,
                };
                arcs.push(arc);
            }
            let mut v = Vec::new();
            assert!(encode(&arcs, &mut v));
            assert_eq!(decode(&v), Some(Oid(arcs.clone())), "{v:x?}");
        }
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[0x2b, 0x86]), None, "truncated");
        assert_eq!(decode(&[0x2b, 0x80, 1]), None, "padded");
        assert_eq!(decode(&[0x2b, 0x90, 0x80, 0x80, 0x80, 0]), None, "over u32");
    }

    #[test]
    fn a_list_keeps_each_oid_apart() {
        let oids = [
            Oid::parse("1.3.6.1.2.1.1.3.0").unwrap(),
            Oid::parse("1.3.6.1.2.1.31.1.1.1.6.100000").unwrap(),
        ];
        let e = EncodedOids::from_oids(&oids).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e.get(0), enc("1.3.6.1.2.1.1.3.0").as_slice());
        assert_eq!(e.oid(1), oids[1]);
        assert_eq!(format!("{e:?}"), format!("{oids:?}"));
        assert_eq!(EncodedOids::from_oids(&[Oid(vec![7])]), Err(Oid(vec![7])));
    }
}
