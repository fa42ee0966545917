//! Hostile agents: a small SNMPv2c responder of our own (hand-built BER) that answers with
//! non-increasing OIDs, values of the wrong types, truncated packets, or not at all. Each such
//! device must be marked down with its reason, the exporter must not panic, and real devices
//! (snmpsim) polled beside them must keep their poll interval.
//!
//! Needs: Debian snmpsim, snmp, bzip2; PyPI snmpsim-data.

mod common;

use std::time::{Duration, Instant};

use common::{community_of, find_sample, Exporter, Snmpsim};
use tokio::net::UdpSocket;

// ---------------------------------------------------------------- a little BER

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

fn int(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7
        && ((bytes[start] == 0 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xff && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    tlv(0x02, &bytes[start..])
}

fn oid(arcs: &[u32]) -> Vec<u8> {
    let mut c = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &a in &arcs[2..] {
        let mut groups = vec![(a & 0x7f) as u8];
        let mut rest = a >> 7;
        while rest > 0 {
            groups.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        groups.reverse();
        c.extend(groups);
    }
    tlv(0x06, &c)
}

/// One TLV: (tag, content, rest).
fn read_tlv(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *buf.first()?;
    let first = *buf.get(1)? as usize;
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        let mut len = 0usize;
        for b in buf.get(2..2 + n)? {
            len = (len << 8) | *b as usize;
        }
        (len, 2 + n)
    };
    let content = buf.get(head..head + len)?;
    Some((tag, content, &buf[head + len..]))
}

fn read_int(c: &[u8]) -> i64 {
    c.iter().fold(
        if c.first().is_some_and(|b| b & 0x80 != 0) {
            -1
        } else {
            0
        },
        |acc, b| (acc << 8) | i64::from(*b),
    )
}

fn read_oid(c: &[u8]) -> Vec<u32> {
    let mut arcs = vec![u32::from(c[0]) / 40, u32::from(c[0]) % 40];
    let mut acc = 0u32;
    for b in &c[1..] {
        acc = (acc << 7) | u32::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(acc);
            acc = 0;
        }
    }
    arcs
}

/// A parsed request: version, community, PDU tag, request-id and the asked OIDs.
struct Request {
    version: i64,
    community: Vec<u8>,
    pdu: u8,
    request_id: i64,
    oids: Vec<Vec<u32>>,
}

fn parse_request(buf: &[u8]) -> Option<Request> {
    let (_, msg, _) = read_tlv(buf)?;
    let (_, version, rest) = read_tlv(msg)?;
    let (_, community, rest) = read_tlv(rest)?;
    let (pdu, body, _) = read_tlv(rest)?;
    let (_, rid, rest) = read_tlv(body)?;
    let (_, _non_repeaters, rest) = read_tlv(rest)?;
    let (_, _max_repetitions, rest) = read_tlv(rest)?;
    let (_, mut vbs, _) = read_tlv(rest)?;
    let mut oids = Vec::new();
    while !vbs.is_empty() {
        let (_, vb, next) = read_tlv(vbs)?;
        let (_, name, _) = read_tlv(vb)?;
        oids.push(read_oid(name));
        vbs = next;
    }
    Some(Request {
        version: read_int(version),
        community: community.to_vec(),
        pdu,
        request_id: read_int(rid),
        oids,
    })
}

fn response(req: &Request, varbinds: &[(Vec<u32>, Vec<u8>)]) -> Vec<u8> {
    let mut list = Vec::new();
    for (name, value) in varbinds {
        let mut vb = oid(name);
        vb.extend_from_slice(value);
        list.extend(tlv(0x30, &vb));
    }
    let mut pdu = int(req.request_id);
    pdu.extend(int(0));
    pdu.extend(int(0));
    pdu.extend(tlv(0x30, &list));
    let mut msg = int(req.version);
    msg.extend(tlv(0x04, &req.community));
    msg.extend(tlv(0xa2, &pdu));
    tlv(0x30, &msg)
}

/// A plausible value for a GET of `o`: the system group as a real agent would answer it.
fn sane_value(o: &[u32]) -> Vec<u8> {
    match o {
        [1, 3, 6, 1, 2, 1, 1, 2, 0] => oid(&[1, 3, 6, 1, 4, 1, 9, 1, 516]),
        [1, 3, 6, 1, 2, 1, 1, 3, 0] => tlv(0x43, &[0x01, 0x00, 0x00]),
        [1, 3, 6, 1, 2, 1, 1, _, 0] => tlv(0x04, b"hostile"),
        _ => int(1),
    }
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Walks answer with the very OIDs asked for.
    NonIncreasing,
    /// Every value is an IpAddress, whatever was asked.
    WrongTypes,
    /// Every answer is cut off halfway.
    Truncated,
    /// Never answers.
    Silent,
}

/// Split a walked OID into its column and row index, when it names a row. Columns of ifTable
/// have 10 arcs, those of ifXTable and dot3StatsTable 11.
fn split_row(o: &[u32]) -> Option<(&[u32], u32)> {
    let root_len = if o.starts_with(&[1, 3, 6, 1, 2, 1, 2, 2, 1]) {
        10
    } else {
        11
    };
    (o.len() == root_len + 1).then(|| (&o[..root_len], o[root_len]))
}

fn answer(mode: Mode, req: &Request) -> Option<Vec<u8>> {
    let is_walk = req.pdu == 0xa1 || req.pdu == 0xa5;
    match mode {
        Mode::Silent => None,
        Mode::NonIncreasing => {
            // A walk first gets row .5 of the column, then row .5 again, forever.
            let vbs: Vec<_> = if is_walk {
                req.oids
                    .iter()
                    .map(|o| match split_row(o) {
                        Some(_) => (o.clone(), int(1)),
                        None => ([o.as_slice(), &[5]].concat(), int(1)),
                    })
                    .collect()
            } else {
                req.oids
                    .iter()
                    .map(|o| (o.clone(), sane_value(o)))
                    .collect()
            };
            Some(response(req, &vbs))
        }
        Mode::WrongTypes => {
            let ip = tlv(0x40, &[169, 254, 0, 1]);
            let vbs: Vec<_> = if is_walk {
                // Rows 1..=3 of each asked column, in proper order, then the end of the MIB.
                req.oids
                    .iter()
                    .map(|o| {
                        let (root, row) = split_row(o).unwrap_or((o.as_slice(), 0));
                        if row >= 3 {
                            (o.clone(), vec![0x82, 0x00])
                        } else {
                            ([root, &[row + 1]].concat(), ip.clone())
                        }
                    })
                    .collect()
            } else {
                req.oids.iter().map(|o| (o.clone(), ip.clone())).collect()
            };
            Some(response(req, &vbs))
        }
        Mode::Truncated => {
            let vbs: Vec<_> = req
                .oids
                .iter()
                .map(|o| (o.clone(), sane_value(o)))
                .collect();
            let full = response(req, &vbs);
            Some(full[..full.len() / 2].to_vec())
        }
    }
}

async fn serve(sock: UdpSocket, mode: Mode) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let Some(req) = parse_request(&buf[..n]) else {
            continue;
        };
        if let Some(out) = answer(mode, &req) {
            let _ = sock.send_to(&out, peer).await;
        }
    }
}

/// Start one hostile agent per mode on 127.0.0.1; returns (mode, address).
fn start_hostile_agents(modes: &[Mode]) -> Vec<(Mode, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let socks: Vec<(Mode, UdpSocket)> = modes
        .iter()
        .map(|m| {
            let s = rt
                .block_on(UdpSocket::bind("127.0.0.1:0"))
                .expect("bind hostile agent");
            (*m, s)
        })
        .collect();
    let out = socks
        .iter()
        .map(|(m, s)| (*m, s.local_addr().expect("addr").to_string()))
        .collect();
    std::thread::spawn(move || {
        rt.block_on(async move {
            let tasks: Vec<_> = socks
                .into_iter()
                .map(|(m, s)| tokio::spawn(serve(s, m)))
                .collect();
            for t in tasks {
                let _ = t.await;
            }
        });
    });
    out
}

#[test]
fn responder_speaks_enough_ber_to_be_understood() {
    // The responder's own encoding must be right, or the test below proves nothing.
    assert_eq!(int(0), [0x02, 0x01, 0x00]);
    assert_eq!(int(128), [0x02, 0x02, 0x00, 0x80]);
    assert_eq!(int(-1), [0x02, 0x01, 0xff]);
    assert_eq!(
        oid(&[1, 3, 6, 1, 4, 1, 2636]),
        [0x06, 0x07, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x94, 0x4c]
    );
    assert_eq!(
        read_oid(&oid(&[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 300])[2..]),
        [1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 300]
    );
    assert_eq!(read_int(&int(-300)[2..]), -300);
}

#[test]
fn hostile_agents_are_marked_down_with_reasons_and_do_not_slow_real_devices() {
    let good = [
        "network/switch/cisco-c3750",
        "network/firewall/topsec-ngfw4000-uf",
    ];
    let sim = Snmpsim::start("hostile-neighbours", &good);
    let modes = [
        Mode::NonIncreasing,
        Mode::WrongTypes,
        Mode::Truncated,
        Mode::Silent,
    ];
    let hostile = start_hostile_agents(&modes);

    let mut cfg = String::from(
        "poll_interval: 2s\ndiscovery_interval: 1h\ntimeout: 1s\nretries: 2\nauths:\n\
         \x20 bad: {version: 2, community: public}\n",
    );
    for r in &good {
        let c = community_of(r);
        cfg.push_str(&format!("  {c}: {{version: 2, community: {c}}}\n"));
    }
    cfg.push_str("targets:\n");
    for r in &good {
        let c = community_of(r);
        cfg.push_str(&format!(
            "  - {{name: {c}, address: \"{}\", auth: {c}}}\n",
            sim.addr()
        ));
    }
    for (m, addr) in &hostile {
        cfg.push_str(&format!(
            "  - {{name: hostile-{m:?}, address: \"{addr}\", auth: bad}}\n"
        ));
    }
    let mut ex = Exporter::start(&cfg, &[]);
    let good_names: Vec<&str> = good.iter().map(|r| community_of(r)).collect();
    ex.wait_devices_up(&good_names, Duration::from_secs(120));

    // Every hostile device ends up down, with a reason that says what went wrong.
    let expect: [(Mode, &[&str]); 4] = [
        (Mode::NonIncreasing, &["not increasing"]),
        (Mode::WrongTypes, &["type"]),
        (Mode::Truncated, &["malformed", "asn", "no response"]),
        (Mode::Silent, &["no response", "deadline"]),
    ];
    for (mode, words) in expect {
        let name = format!("hostile-{mode:?}");
        let dev = common::wait_for(
            &format!("{name} to report an error"),
            Duration::from_secs(30),
            || {
                let d = ex.device(&name);
                d["last_error"].is_string().then_some(d)
            },
        );
        let err = dev["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        assert_eq!(dev["up"], false, "{name}: {err}");
        assert!(
            words.iter().any(|w| err.contains(w)),
            "{name}: last_error {err:?} should mention one of {words:?}"
        );
        let samples = ex.metrics();
        assert_eq!(
            find_sample(&samples, "wardflux_device_up", &[("device", &name)])
                .map(|s| s.value.as_str()),
            Some("0"),
            "{name}: wardflux_device_up"
        );
        let log = ex.log();
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("device={name}")) && l.contains("failed")),
            "{name}: no failure line in the log"
        );
    }

    // Meanwhile the real devices keep their 2 s interval: over 12 s, 6 visits each are due;
    // one may fall at either edge of the window.
    let before: Vec<u64> = good_names.iter().map(|n| ex.polls(n)).collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(12));
    let window = start.elapsed().as_secs_f64();
    let after: Vec<u64> = good_names.iter().map(|n| ex.polls(n)).collect();
    for ((n, b), a) in good_names.iter().zip(&before).zip(&after) {
        let due = (window / 2.0).floor() as u64;
        assert!(
            a - b + 1 >= due,
            "{n}: {} visits in {window:.1}s at a 2s interval",
            a - b
        );
        let d = ex.device(n);
        assert_eq!(d["up"], true, "{n} stays up beside hostile agents");
    }
    ex.assert_running();
    let log = ex.log();
    assert!(!log.contains("panicked"), "the exporter panicked:\n{log}");
}
