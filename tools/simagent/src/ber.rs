//! Hand-written BER for the SNMP v2c subset the agent speaks: decode requests, encode responses.
//!
//! Invariant: decoding never panics on hostile input; it returns `None` for anything malformed.

/// BER/SNMP tags used on the wire.
pub mod tag {
    pub const INTEGER: u8 = 0x02;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const SEQUENCE: u8 = 0x30;
    pub const IP_ADDRESS: u8 = 0x40;
    pub const COUNTER32: u8 = 0x41;
    pub const GAUGE32: u8 = 0x42;
    pub const TIMETICKS: u8 = 0x43;
    pub const OPAQUE: u8 = 0x44;
    pub const COUNTER64: u8 = 0x46;
    pub const NO_SUCH_OBJECT: u8 = 0x80;
    pub const NO_SUCH_INSTANCE: u8 = 0x81;
    pub const END_OF_MIB_VIEW: u8 = 0x82;
    pub const GET: u8 = 0xa0;
    pub const GET_NEXT: u8 = 0xa1;
    pub const RESPONSE: u8 = 0xa2;
    pub const SET: u8 = 0xa3;
    pub const GET_BULK: u8 = 0xa5;
}

/// Error-status values the agent sends.
pub const ERR_TOO_BIG: u8 = 1;
pub const ERR_GEN: u8 = 5;

/// One request PDU, borrowed from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub version: i64,
    pub community: &'a [u8],
    pub pdu: u8,
    /// The request-id TLV exactly as received, echoed back unchanged.
    pub request_id: &'a [u8],
    /// error-status, or non-repeaters for GETBULK.
    pub non_repeaters: i64,
    /// error-index, or max-repetitions for GETBULK.
    pub max_repetitions: i64,
    pub oids: Vec<Vec<u32>>,
}

/// Reads one TLV at the start of `b`: (tag, value, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&t, b) = b.split_first()?;
    let (&l0, mut b) = b.split_first()?;
    let len = if l0 < 0x80 {
        usize::from(l0)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &x in &b[..n] {
            len = (len << 8) | usize::from(x);
        }
        b = &b[n..];
        len
    };
    if b.len() < len {
        return None;
    }
    Some((t, &b[..len], &b[len..]))
}

/// Like `tlv` but returns the whole TLV bytes instead of the contents.
fn tlv_raw(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (t, _, rest) = tlv(b)?;
    Some((t, &b[..b.len() - rest.len()], rest))
}

fn int(v: &[u8]) -> Option<i64> {
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    let mut x: i64 = if v[0] & 0x80 != 0 { -1 } else { 0 };
    for &b in v {
        x = (x << 8) | i64::from(b);
    }
    Some(x)
}

/// Decodes the contents of an OID TLV into sub-identifiers.
pub fn decode_oid(v: &[u8]) -> Option<Vec<u32>> {
    if v.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(v.len() + 1);
    let mut acc: u64 = 0;
    let mut first = true;
    for &b in v {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if acc > u64::from(u32::MAX) + 80 {
            return None;
        }
        if b & 0x80 == 0 {
            if first {
                let (a, c) = if acc < 40 {
                    (0, acc)
                } else if acc < 80 {
                    (1, acc - 40)
                } else {
                    (2, acc - 80)
                };
                out.push(a as u32);
                out.push(u32::try_from(c).ok()?);
                first = false;
            } else {
                out.push(u32::try_from(acc).ok()?);
            }
            acc = 0;
        }
    }
    if v[v.len() - 1] & 0x80 != 0 {
        return None;
    }
    Some(out)
}

/// Decodes an SNMP message carrying a GET, GETNEXT, GETBULK or SET request.
pub fn decode_request(msg: &[u8]) -> Option<Request<'_>> {
    let (t, body, _) = tlv(msg)?;
    if t != tag::SEQUENCE {
        return None;
    }
    let (t, v, body) = tlv(body)?;
    if t != tag::INTEGER {
        return None;
    }
    let version = int(v)?;
    let (t, community, body) = tlv(body)?;
    if t != tag::OCTET_STRING {
        return None;
    }
    let (pdu, pbody, _) = tlv(body)?;
    if !matches!(pdu, tag::GET | tag::GET_NEXT | tag::GET_BULK | tag::SET) {
        return None;
    }
    let (t, request_id, pbody) = tlv_raw(pbody)?;
    if t != tag::INTEGER {
        return None;
    }
    let (t, v, pbody) = tlv(pbody)?;
    if t != tag::INTEGER {
        return None;
    }
    let non_repeaters = int(v)?;
    let (t, v, pbody) = tlv(pbody)?;
    if t != tag::INTEGER {
        return None;
    }
    let max_repetitions = int(v)?;
    let (t, mut list, _) = tlv(pbody)?;
    if t != tag::SEQUENCE {
        return None;
    }
    let mut oids = Vec::new();
    while !list.is_empty() {
        let (t, vb, rest) = tlv(list)?;
        if t != tag::SEQUENCE {
            return None;
        }
        let (t, o, _) = tlv(vb)?;
        if t != tag::OID {
            return None;
        }
        oids.push(decode_oid(o)?);
        list = rest;
    }
    Some(Request {
        version,
        community,
        pdu,
        request_id,
        non_repeaters,
        max_repetitions,
        oids,
    })
}

/// Appends a BER length.
pub fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0x81, len as u8]);
    } else if len <= 0xffff {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    } else {
        out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]);
    }
}

/// Bytes a TLV header takes for a value of `len` bytes.
pub fn header_len(len: usize) -> usize {
    match len {
        0..=0x7f => 2,
        0x80..=0xff => 3,
        0x100..=0xffff => 4,
        _ => 5,
    }
}

/// Appends a TLV.
pub fn put_tlv(out: &mut Vec<u8>, t: u8, v: &[u8]) {
    out.push(t);
    put_len(out, v.len());
    out.extend_from_slice(v);
}

/// Appends a signed INTEGER-like TLV (INTEGER).
pub fn put_int(out: &mut Vec<u8>, t: u8, x: i64) {
    let bytes = x.to_be_bytes();
    let mut i = 0;
    while i < 7 {
        let (b, next) = (bytes[i], bytes[i + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            i += 1;
        } else {
            break;
        }
    }
    put_tlv(out, t, &bytes[i..]);
}

/// Appends an unsigned TLV (Counter32, Gauge32, TimeTicks, Counter64).
pub fn put_uint(out: &mut Vec<u8>, t: u8, x: u64) {
    let bytes = x.to_be_bytes();
    let mut i = 0;
    while i < 7 && bytes[i] == 0 && bytes[i + 1] & 0x80 == 0 {
        i += 1;
    }
    if bytes[i] & 0x80 != 0 {
        // A leading zero keeps the value positive.
        out.push(t);
        put_len(out, 9 - i);
        out.push(0);
        out.extend_from_slice(&bytes[i..]);
    } else {
        put_tlv(out, t, &bytes[i..]);
    }
}

/// Encodes sub-identifiers as OID TLV contents. OIDs with fewer than two arcs encode as `0.0`.
pub fn encode_oid(oid: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(oid.len() + 4);
    let (a, b) = match oid {
        [a, b, ..] => (*a, *b),
        [a] => (*a, 0),
        [] => (0, 0),
    };
    put_base128(&mut out, u64::from(a) * 40 + u64::from(b));
    for &x in oid.iter().skip(2) {
        put_base128(&mut out, u64::from(x));
    }
    out
}

fn put_base128(out: &mut Vec<u8>, x: u64) {
    let mut buf = [0u8; 10];
    let mut n = 0;
    let mut v = x;
    loop {
        buf[n] = (v & 0x7f) as u8;
        n += 1;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(buf[i] | if i > 0 { 0x80 } else { 0 });
    }
}

/// Builds a whole response message around already-encoded varbinds.
pub fn encode_response(
    version: i64,
    community: &[u8],
    request_id: &[u8],
    error_status: u8,
    error_index: u32,
    varbinds: &[u8],
) -> Vec<u8> {
    let mut pdu = Vec::with_capacity(varbinds.len() + 24);
    pdu.extend_from_slice(request_id);
    put_int(&mut pdu, tag::INTEGER, i64::from(error_status));
    put_int(&mut pdu, tag::INTEGER, i64::from(error_index));
    pdu.push(tag::SEQUENCE);
    put_len(&mut pdu, varbinds.len());
    pdu.extend_from_slice(varbinds);
    let mut body = Vec::with_capacity(pdu.len() + community.len() + 12);
    put_int(&mut body, tag::INTEGER, version);
    put_tlv(&mut body, tag::OCTET_STRING, community);
    put_tlv(&mut body, tag::RESPONSE, &pdu);
    let mut msg = Vec::with_capacity(body.len() + 4);
    put_tlv(&mut msg, tag::SEQUENCE, &body);
    msg
}

/// Size of a response message whose varbind list is `varbinds` bytes long.
pub fn response_len(community_len: usize, request_id_len: usize, varbinds: usize) -> usize {
    let pdu = request_id_len + 3 + 3 + header_len(varbinds) + varbinds;
    let body = 3 + header_len(community_len) + community_len + header_len(pdu) + pdu;
    header_len(body) + body
}

/// Builds a request message (used by tests and the bench's floor client).
pub fn encode_request(
    community: &[u8],
    pdu: u8,
    request_id: i32,
    non_repeaters: i64,
    max_repetitions: i64,
    oids: &[Vec<u32>],
) -> Vec<u8> {
    let mut vbs = Vec::new();
    for o in oids {
        let mut vb = Vec::new();
        put_tlv(&mut vb, tag::OID, &encode_oid(o));
        vb.extend_from_slice(&[tag::NULL, 0]);
        put_tlv(&mut vbs, tag::SEQUENCE, &vb);
    }
    let mut pdu_body = Vec::new();
    put_int(&mut pdu_body, tag::INTEGER, i64::from(request_id));
    put_int(&mut pdu_body, tag::INTEGER, non_repeaters);
    put_int(&mut pdu_body, tag::INTEGER, max_repetitions);
    put_tlv(&mut pdu_body, tag::SEQUENCE, &vbs);
    let mut body = Vec::new();
    put_int(&mut body, tag::INTEGER, 1);
    put_tlv(&mut body, tag::OCTET_STRING, community);
    put_tlv(&mut body, pdu, &pdu_body);
    let mut msg = Vec::new();
    put_tlv(&mut msg, tag::SEQUENCE, &body);
    msg
}

/// A decoded response varbind value, for tests and the floor client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseVarbind {
    pub oid: Vec<u32>,
    pub tag: u8,
    pub value: Vec<u8>,
}

/// A decoded response, for tests and the floor client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub request_id: i64,
    pub error_status: i64,
    pub error_index: i64,
    pub varbinds: Vec<ResponseVarbind>,
}

/// Decodes a response message.
pub fn decode_response(msg: &[u8]) -> Option<Response> {
    let (t, body, _) = tlv(msg)?;
    if t != tag::SEQUENCE {
        return None;
    }
    let (_, _, body) = tlv(body)?;
    let (_, _, body) = tlv(body)?;
    let (t, pbody, _) = tlv(body)?;
    if t != tag::RESPONSE {
        return None;
    }
    let (_, v, pbody) = tlv(pbody)?;
    let request_id = int(v)?;
    let (_, v, pbody) = tlv(pbody)?;
    let error_status = int(v)?;
    let (_, v, pbody) = tlv(pbody)?;
    let error_index = int(v)?;
    let (_, mut list, _) = tlv(pbody)?;
    let mut varbinds = Vec::new();
    while !list.is_empty() {
        let (_, vb, rest) = tlv(list)?;
        let (t, o, vb) = tlv(vb)?;
        if t != tag::OID {
            return None;
        }
        let (vt, vv, _) = tlv(vb)?;
        varbinds.push(ResponseVarbind {
            oid: decode_oid(o)?,
            tag: vt,
            value: vv.to_vec(),
        });
        list = rest;
    }
    Some(Response {
        request_id,
        error_status,
        error_index,
        varbinds,
    })
}

/// Unsigned value of INTEGER-like contents (Counter32, Gauge32, TimeTicks, Counter64).
pub fn decode_uint(v: &[u8]) -> u64 {
    v.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_round_trips() {
        for oid in [
            vec![1, 3, 6, 1, 2, 1, 1, 3, 0],
            vec![1, 3, 6, 1, 4, 1, 9, 1, 4294967295],
            vec![2, 999, 3],
            vec![0, 0],
        ] {
            assert_eq!(decode_oid(&encode_oid(&oid)).unwrap(), oid);
        }
    }

    #[test]
    fn integers_use_minimal_two_complement() {
        let mut v = Vec::new();
        put_int(&mut v, tag::INTEGER, 128);
        assert_eq!(v, [2, 2, 0, 128]);
        v.clear();
        put_int(&mut v, tag::INTEGER, -1);
        assert_eq!(v, [2, 1, 0xff]);
        v.clear();
        put_uint(&mut v, tag::COUNTER64, u64::MAX);
        assert_eq!(v, [0x46, 9, 0, 255, 255, 255, 255, 255, 255, 255, 255]);
        v.clear();
        put_uint(&mut v, tag::COUNTER32, 0);
        assert_eq!(v, [0x41, 1, 0]);
    }

    #[test]
    fn request_round_trips_and_garbage_is_rejected() {
        let oids = vec![vec![1, 3, 6, 1, 2, 1, 2, 2, 1, 10], vec![1, 3, 6, 1]];
        let msg = encode_request(b"dev0001", tag::GET_BULK, -7, 0, 25, &oids);
        let r = decode_request(&msg).unwrap();
        assert_eq!(r.community, b"dev0001");
        assert_eq!(r.pdu, tag::GET_BULK);
        assert_eq!(r.max_repetitions, 25);
        assert_eq!(r.oids, oids);
        for cut in 0..msg.len() {
            assert!(decode_request(&msg[..cut]).is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn response_len_matches_encoding() {
        for n in [0usize, 10, 127, 128, 300, 70000] {
            let vbs = vec![0u8; n];
            let m = encode_response(1, b"public", &[2, 1, 5], 0, 0, &vbs);
            assert_eq!(m.len(), response_len(6, 3, n), "n={n}");
        }
    }
}
