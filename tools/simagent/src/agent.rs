//! The pure agent: one request datagram and the elapsed time in, at most one response out.
//!
//! Invariants: no IO and no clock here (`elapsed_ms` is an argument); responses never exceed
//! `Limits::max_message_size` (GETBULK is cut short, GET/GETNEXT answer tooBig) nor
//! `Limits::max_varbinds`; unknown communities and malformed packets get no answer, as on
//! real agents.

use std::collections::HashMap;

use crate::ber::{self, tag};
use crate::data::{Device, Entry, Hostile};

/// Response caps, as real agents have them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest response message in bytes (Cisco's default packet size is 1500).
    pub max_message_size: usize,
    /// Most varbinds in one response (0: no cap beyond the size).
    pub max_varbinds: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 1472,
            max_varbinds: 0,
        }
    }
}

/// What the agent does with one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Index of the device the community named, when it named one.
    pub device: Option<usize>,
    pub kind: Option<u8>,
    pub reply: Option<Vec<u8>>,
    pub varbinds: usize,
}

/// Every virtual device, found by community.
#[derive(Debug)]
pub struct Agent {
    devices: Vec<Device>,
    by_community: HashMap<Vec<u8>, usize>,
    limits: Limits,
}

/// One answered varbind.
enum Found<'a> {
    Entry(&'a [u32], &'a Entry),
    /// An exception tag with the OID it answers for.
    Exception(&'a [u32], u8),
}

impl Agent {
    pub fn new(devices: Vec<Device>, limits: Limits) -> Agent {
        let by_community = devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.as_bytes().to_vec(), i))
            .collect();
        Agent {
            devices,
            by_community,
            limits,
        }
    }

    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// The index of the device named `name`.
    pub fn device_index(&self, name: &str) -> Option<usize> {
        self.by_community.get(name.as_bytes()).copied()
    }

    /// This agent with device `idx` misbehaving as `mode` (or behaving, with `None`).
    pub fn with_hostile(&self, idx: usize, mode: Option<Hostile>) -> Agent {
        let mut devices = self.devices.clone();
        if let Some(d) = devices.get_mut(idx) {
            d.hostile = mode;
        }
        Agent::new(devices, self.limits)
    }

    /// This agent with device `idx` rebooted at agent time `at_ms`: sysUpTime and counters
    /// start again from zero, and with `renumber > 0` every interface index moves up by it.
    pub fn rebooted(&self, idx: usize, at_ms: u64, renumber: u32) -> Agent {
        let mut devices = self.devices.clone();
        if let Some(d) = devices.get_mut(idx) {
            d.rebooted_at_ms = Some(at_ms);
            if renumber > 0 {
                d.template = std::sync::Arc::new(d.template.renumbered(renumber));
            }
        }
        Agent::new(devices, self.limits)
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Handles one request datagram.
    pub fn handle(&self, datagram: &[u8], elapsed_ms: u64) -> Outcome {
        let mut out = Outcome {
            device: None,
            kind: None,
            reply: None,
            varbinds: 0,
        };
        let Some(req) = ber::decode_request(datagram) else {
            return out;
        };
        out.kind = Some(req.pdu);
        let Some(&idx) = self.by_community.get(req.community) else {
            return out;
        };
        out.device = Some(idx);
        if req.version != 1 {
            // Only SNMPv2c is spoken.
            return out;
        }
        let dev = &self.devices[idx];
        if dev.hostile == Some(Hostile::Silent) {
            return out;
        }
        if let Some(Hostile::Lossy(n)) = dev.hostile {
            // The request-id TLV: tag, one length byte, then the big-endian integer.
            let id = req
                .request_id
                .iter()
                .skip(2)
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            if id % u64::from(n.max(1)) == 0 {
                return out;
            }
        }
        let t = &dev.template;
        let non_increasing = dev.hostile == Some(Hostile::NonIncreasing);
        let mut answers: Vec<Found<'_>> = Vec::with_capacity(req.oids.len());
        match req.pdu {
            tag::GET => {
                for o in &req.oids {
                    answers.push(match t.get(o) {
                        Some(e) => Found::Entry(&e.oid, e),
                        None => {
                            let parent = &o[..o.len().saturating_sub(1)];
                            let ex = if !parent.is_empty() && t.has_under(parent) {
                                tag::NO_SUCH_INSTANCE
                            } else {
                                tag::NO_SUCH_OBJECT
                            };
                            Found::Exception(o, ex)
                        }
                    });
                }
            }
            tag::GET_NEXT => {
                for o in &req.oids {
                    answers.push(next_of(t, o, non_increasing));
                }
            }
            tag::GET_BULK => {
                let n = usize::try_from(req.non_repeaters.max(0))
                    .unwrap_or(0)
                    .min(req.oids.len());
                let m = usize::try_from(req.max_repetitions.max(0)).unwrap_or(0);
                for o in &req.oids[..n] {
                    answers.push(next_of(t, o, non_increasing));
                }
                let reps = &req.oids[n..];
                if !reps.is_empty() && m > 0 {
                    let cap = self.varbind_cap();
                    let mut last: Vec<&[u32]> = reps.iter().map(|o| o.as_slice()).collect();
                    // Repetitions continue past the end with endOfMibView, as RFC 3416 and
                    // snmpsim do; only the size caps cut a response short.
                    'outer: for _ in 0..m {
                        for slot in last.iter_mut() {
                            if answers.len() >= cap {
                                break 'outer;
                            }
                            let f = next_of(t, slot, non_increasing);
                            *slot = match &f {
                                Found::Entry(oid, _) | Found::Exception(oid, _) => oid,
                            };
                            answers.push(f);
                        }
                    }
                }
            }
            _ => {
                // SET and anything else: read-only agent.
                let mut vbs = Vec::new();
                for o in &req.oids {
                    put_varbind_exception(&mut vbs, o, tag::NULL);
                }
                out.reply = Some(ber::encode_response(
                    req.version,
                    req.community,
                    req.request_id,
                    ERR_NOT_WRITABLE,
                    1,
                    &vbs,
                ));
                return out;
            }
        }
        let budget = self.limits.max_message_size;
        let mut vbs = Vec::with_capacity(budget);
        let mut value = Vec::with_capacity(64);
        let mut count = 0usize;
        let bulk = req.pdu == tag::GET_BULK;
        for f in &answers {
            value.clear();
            let oid_tlv: std::borrow::Cow<'_, [u8]> = match f {
                Found::Entry(oid, e) => {
                    dev.encode_value(e, elapsed_ms, &mut value);
                    if std::ptr::eq(*oid, e.oid.as_slice()) {
                        std::borrow::Cow::Borrowed(&e.oid_tlv)
                    } else {
                        std::borrow::Cow::Owned(oid_tlv(oid))
                    }
                }
                Found::Exception(oid, ex) => {
                    value.extend_from_slice(&[*ex, 0]);
                    std::borrow::Cow::Owned(oid_tlv(oid))
                }
            };
            let inner = oid_tlv.len() + value.len();
            let add = ber::header_len(inner) + inner;
            let total =
                ber::response_len(req.community.len(), req.request_id.len(), vbs.len() + add);
            if total > budget {
                if bulk && count > 0 {
                    break;
                }
                out.reply = Some(ber::encode_response(
                    req.version,
                    req.community,
                    req.request_id,
                    ber::ERR_TOO_BIG,
                    0,
                    &[],
                ));
                return out;
            }
            vbs.push(tag::SEQUENCE);
            ber::put_len(&mut vbs, inner);
            vbs.extend_from_slice(&oid_tlv);
            vbs.extend_from_slice(&value);
            count += 1;
        }
        if !bulk && self.limits.max_varbinds > 0 && count > self.limits.max_varbinds {
            out.reply = Some(ber::encode_response(
                req.version,
                req.community,
                req.request_id,
                ber::ERR_TOO_BIG,
                0,
                &[],
            ));
            return out;
        }
        let mut msg = ber::encode_response(req.version, req.community, req.request_id, 0, 0, &vbs);
        if dev.hostile == Some(Hostile::Truncated) {
            msg.truncate(msg.len() / 2);
        }
        out.varbinds = count;
        out.reply = Some(msg);
        out
    }

    fn varbind_cap(&self) -> usize {
        if self.limits.max_varbinds == 0 {
            usize::MAX
        } else {
            self.limits.max_varbinds
        }
    }
}

const ERR_NOT_WRITABLE: u8 = 17;

fn oid_tlv(oid: &[u32]) -> Vec<u8> {
    let mut t = Vec::new();
    ber::put_tlv(&mut t, tag::OID, &ber::encode_oid(oid));
    t
}

fn put_varbind_exception(out: &mut Vec<u8>, oid: &[u32], ex: u8) {
    let o = oid_tlv(oid);
    out.push(tag::SEQUENCE);
    ber::put_len(out, o.len() + 2);
    out.extend_from_slice(&o);
    out.extend_from_slice(&[ex, 0]);
}

fn next_of<'a>(t: &'a crate::data::Template, oid: &'a [u32], non_increasing: bool) -> Found<'a> {
    match t.next(oid) {
        Some(e) if non_increasing => Found::Entry(oid, e),
        Some(e) => Found::Entry(&e.oid, e),
        None => Found::Exception(oid, tag::END_OF_MIB_VIEW),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ber::{decode_response, encode_request};
    use crate::synth;

    const IF_DESCR: [u32; 10] = [1, 3, 6, 1, 2, 1, 2, 2, 1, 2];
    const IF_HC_IN: [u32; 11] = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6];

    fn agent(limits: Limits) -> Agent {
        Agent::new(synth::devices(2, 48), limits)
    }

    fn ask(a: &Agent, community: &str, pdu: u8, nr: i64, mr: i64, oids: &[Vec<u32>]) -> Outcome {
        a.handle(
            &encode_request(community.as_bytes(), pdu, 42, nr, mr, oids),
            1000,
        )
    }

    #[test]
    fn getbulk_stops_at_the_message_size_and_stays_under_it() {
        let a = agent(Limits::default());
        let out = ask(&a, "dev0001", tag::GET_BULK, 0, 1000, &[IF_HC_IN.to_vec()]);
        let msg = out.reply.unwrap();
        assert!(msg.len() <= 1472, "{} bytes", msg.len());
        let r = decode_response(&msg).unwrap();
        assert_eq!(r.request_id, 42);
        assert!(r.varbinds.len() > 20 && r.varbinds.len() < 1000);
        assert_eq!(r.varbinds.len(), out.varbinds);
        let mut want = IF_HC_IN.to_vec();
        want.push(1);
        assert_eq!(r.varbinds[0].oid, want);
    }

    #[test]
    fn getbulk_respects_max_repetitions_and_the_varbind_cap() {
        let a = agent(Limits {
            max_message_size: 65000,
            max_varbinds: 64,
        });
        let two = [IF_DESCR.to_vec(), IF_HC_IN.to_vec()];
        let r = decode_response(
            &ask(&a, "dev0001", tag::GET_BULK, 0, 10, &two)
                .reply
                .unwrap(),
        )
        .unwrap();
        assert_eq!(r.varbinds.len(), 20);
        assert_eq!(r.varbinds[1].tag, tag::COUNTER64);
        let r = decode_response(
            &ask(&a, "dev0001", tag::GET_BULK, 0, 100, &two)
                .reply
                .unwrap(),
        )
        .unwrap();
        assert_eq!(r.varbinds.len(), 64);
    }

    #[test]
    fn get_too_big_for_one_message_answers_too_big() {
        let a = agent(Limits {
            max_message_size: 200,
            max_varbinds: 0,
        });
        let oids: Vec<Vec<u32>> = (1..=20)
            .map(|i| {
                let mut o = IF_HC_IN.to_vec();
                o.push(i);
                o
            })
            .collect();
        let r = decode_response(&ask(&a, "dev0001", tag::GET, 0, 0, &oids).reply.unwrap()).unwrap();
        assert_eq!(r.error_status, i64::from(ber::ERR_TOO_BIG));
        assert!(r.varbinds.is_empty());
    }

    #[test]
    fn walk_past_the_end_gives_end_of_mib_view() {
        let a = agent(Limits::default());
        let r = decode_response(
            &ask(&a, "dev0001", tag::GET_NEXT, 0, 0, &[vec![1, 3, 6, 1, 9]])
                .reply
                .unwrap(),
        )
        .unwrap();
        assert_eq!(r.varbinds[0].tag, tag::END_OF_MIB_VIEW);
        assert_eq!(r.varbinds[0].oid, [1, 3, 6, 1, 9]);
    }

    #[test]
    fn unknown_community_and_garbage_get_no_answer() {
        let a = agent(Limits::default());
        let out = ask(&a, "nobody", tag::GET, 0, 0, &[vec![1, 3, 6, 1]]);
        assert!(out.reply.is_none() && out.device.is_none());
        assert!(a.handle(b"\x30\x03\x02\x01", 0).reply.is_none());
    }

    #[test]
    fn a_reboot_resets_uptime_and_counters_and_can_renumber_interfaces() {
        let a = agent(Limits::default());
        let uptime = vec![1, 3, 6, 1, 2, 1, 1, 3, 0];
        let mut hc1 = IF_HC_IN.to_vec();
        hc1.push(1);
        let get = |a: &Agent, oids: &[Vec<u32>], t: u64| {
            decode_response(
                &a.handle(&encode_request(b"dev0001", tag::GET, 7, 0, 0, oids), t)
                    .reply
                    .unwrap(),
            )
            .unwrap()
        };
        let before = get(&a, &[uptime.clone(), hc1.clone()], 60_000);
        let b = a.rebooted(0, 60_000, 100);
        let after = get(&b, &[uptime.clone(), hc1.clone()], 70_000);
        let n = |r: &crate::ber::Response, i: usize| crate::ber::decode_uint(&r.varbinds[i].value);
        assert!(n(&after, 0) < n(&before, 0));
        assert_eq!(n(&after, 0), 1000, "10 s since the reboot");
        assert_eq!(
            after.varbinds[1].tag,
            tag::NO_SUCH_INSTANCE,
            "ifIndex 1 is gone"
        );
        let mut hc101 = IF_HC_IN.to_vec();
        hc101.push(101);
        let moved = get(
            &b,
            &[hc101, vec![1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 101]],
            70_000,
        );
        assert_eq!(
            n(&moved, 0),
            1_250_000 * 10,
            "counting from zero at the reboot"
        );
        assert_eq!(n(&moved, 1), 101, "ifIndex column follows");
        let other = get(&a, &[uptime], 70_000);
        assert!(n(&other, 0) > 8_640_000, "other devices keep running");
    }

    #[test]
    fn hostile_modes_misbehave_as_named() {
        let mut devices = synth::devices(4, 4);
        devices[0].hostile = Some(Hostile::NonIncreasing);
        devices[1].hostile = Some(Hostile::WrongType);
        devices[2].hostile = Some(Hostile::Truncated);
        devices[3].hostile = Some(Hostile::Silent);
        let a = Agent::new(devices, Limits::default());
        let col = vec![IF_HC_IN.to_vec()];
        let r =
            decode_response(&ask(&a, "dev0001", tag::GET_BULK, 0, 5, &col).reply.unwrap()).unwrap();
        assert!(
            r.varbinds.iter().all(|v| v.oid == IF_HC_IN),
            "OIDs never advance"
        );
        let r =
            decode_response(&ask(&a, "dev0002", tag::GET_NEXT, 0, 0, &col).reply.unwrap()).unwrap();
        assert_eq!(r.varbinds[0].tag, tag::OCTET_STRING);
        let cut = ask(&a, "dev0003", tag::GET_NEXT, 0, 0, &col).reply.unwrap();
        assert!(decode_response(&cut).is_none());
        let silent = ask(&a, "dev0004", tag::GET_NEXT, 0, 0, &col);
        assert_eq!(silent.device, Some(3));
        assert!(silent.reply.is_none());
    }

    #[test]
    fn a_lossy_device_drops_one_request_in_n() {
        let mut devices = synth::devices(1, 4);
        devices[0].hostile = Some(Hostile::Lossy(3));
        let a = Agent::new(devices, Limits::default());
        let answered = (1..=30)
            .filter(|id| {
                a.handle(
                    &encode_request(b"dev0001", tag::GET, *id, 0, 0, &[vec![1, 3, 6, 1]]),
                    0,
                )
                .reply
                .is_some()
            })
            .count();
        assert_eq!(answered, 20);
        assert_eq!("lossy:3".parse::<Hostile>(), Ok(Hostile::Lossy(3)));
        assert_eq!("slow:900ms".parse::<Hostile>(), Ok(Hostile::Slow(900)));
        assert_eq!(
            "other-source:127.0.0.2".parse::<Hostile>(),
            Ok(Hostile::OtherSource([127, 0, 0, 2]))
        );
    }
}
