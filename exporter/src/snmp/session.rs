//! The real `SnmpClient`: snmp2's async session over UDP, with timeouts, retries and
//! a fresh socket after every timeout (so a late answer can never be taken for the next one).

use std::borrow::Cow;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use snmp2::v3;
use snmp2::AsyncSession;

use super::{encoded, ClientStats, EncodedOids, Oid, SnmpClient, SnmpError, Value, VarBind};
use crate::secret::Secret;

/// SNMPv3 authentication protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProtocol {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// SNMPv3 privacy protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivProtocol {
    Des,
    Aes128,
    Aes192,
    Aes256,
}

/// SNMPv3 user credentials. Passwords are secrets: never printed.
#[derive(Debug, Clone)]
pub struct V3Credentials {
    pub username: String,
    pub auth: Option<(AuthProtocol, Secret)>,
    pub privacy: Option<(PrivProtocol, Secret)>,
    pub context_name: String,
}

/// Protocol version and credentials for one device.
#[derive(Debug, Clone)]
pub enum Credentials {
    V1 { community: Secret },
    V2c { community: Secret },
    V3(V3Credentials),
}

/// Everything needed to talk to one agent.
#[derive(Debug, Clone)]
pub struct SessionParams {
    pub address: SocketAddr,
    pub credentials: Credentials,
    pub timeout: Duration,
    pub retries: u32,
}

/// One agent's session. Opening is cheap for v1/v2c; v3 needs one engine-discovery round trip.
pub struct UdpClient {
    params: SessionParams,
    session: Option<Box<AsyncSession>>,
    stats: ClientStats,
    req_id: i32,
    /// An SNMPv3 engine discovery succeeded on this client.
    v3_engine_seen: bool,
}

impl UdpClient {
    pub fn new(params: SessionParams) -> UdpClient {
        // Start request ids somewhere unpredictable so two sessions never share a sequence.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(1);
        UdpClient {
            params,
            session: None,
            stats: ClientStats::default(),
            req_id: (seed & 0x3fff_ffff) as i32,
            v3_engine_seen: false,
        }
    }

    async fn open(&mut self) -> Result<(), SnmpError> {
        if self.session.is_some() {
            return Ok(());
        }
        let addr = self.params.address;
        let io = |e: std::io::Error| SnmpError::Io(e.to_string());
        let session = match &self.params.credentials {
            Credentials::V1 { community } => {
                AsyncSession::new_v1(addr, community.expose().as_bytes(), self.req_id)
                    .await
                    .map_err(io)?
            }
            Credentials::V2c { community } => {
                AsyncSession::new_v2c(addr, community.expose().as_bytes(), self.req_id)
                    .await
                    .map_err(io)?
            }
            Credentials::V3(c) => {
                let security = v3_security(c);
                let mut s = AsyncSession::new_v3(addr, self.req_id, security)
                    .await
                    .map_err(io)?;
                self.stats.requests += 1;
                match tokio::time::timeout(self.params.timeout, s.init()).await {
                    Err(_) => {
                        self.stats.timeouts += 1;
                        return Err(SnmpError::Timeout {
                            attempts: 1,
                            timeout: self.params.timeout,
                        });
                    }
                    Ok(Err(e)) => return Err(map_err(e)),
                    Ok(Ok(())) => self.v3_engine_seen = true,
                }
                s
            }
        };
        self.req_id = self.req_id.wrapping_add(1_000);
        self.session = Some(Box::new(session));
        Ok(())
    }

    async fn exchange(&mut self, op: Op<'_>) -> Result<Vec<VarBind>, SnmpError> {
        self.exchange_with(op, decode_pdu).await
    }

    /// One request with retries; `decode` turns the answer into `T` and says how many
    /// varbinds it held.
    async fn exchange_with<T>(
        &mut self,
        op: Op<'_>,
        decode: impl Fn(&snmp2::Pdu<'_>, Op<'_>) -> Result<(T, usize), Decoded>,
    ) -> Result<T, SnmpError> {
        let attempts = self.params.retries + 1;
        let mut last = SnmpError::Timeout {
            attempts,
            timeout: self.params.timeout,
        };
        for attempt in 0..attempts {
            if attempt > 0 {
                self.stats.retries += 1;
            }
            self.open().await?;
            let session = self.session.as_mut().expect("opened above");
            // Pre-encoded OIDs are borrowed as they are; others are encoded here.
            let oids: Vec<snmp2::Oid<'_>> = match op {
                Op::GetEncoded(e, ref r) => r
                    .clone()
                    .map(|i| snmp2::Oid::new(Cow::Borrowed(e.get(i))))
                    .collect(),
                _ => op
                    .oids()
                    .iter()
                    .map(to_snmp2_oid)
                    .collect::<Result<_, _>>()?,
            };
            let refs: Vec<&snmp2::Oid<'_>> = oids.iter().collect();
            self.stats.requests += 1;
            let fut = async {
                let pdu = match op {
                    Op::Get(_) | Op::GetEncoded(..) => session.get_many(&refs).await,
                    Op::GetNext(_) if refs.len() == 1 => session.getnext(refs[0]).await,
                    Op::GetNext(_) => session.getbulk(&refs, refs.len() as u32, 0).await,
                    Op::Bulk(_, reps) => session.getbulk(&refs, 0, reps).await,
                }?;
                decode(&pdu, op.clone())
            };
            match tokio::time::timeout(self.params.timeout, fut).await {
                Ok(Ok((answer, varbinds))) => {
                    self.stats.varbinds += varbinds as u64;
                    return Ok(answer);
                }
                Ok(Err(Decoded::Status(status, index))) => {
                    return Err(SnmpError::ErrorStatus { status, index })
                }
                Ok(Err(Decoded::Snmp(e))) => {
                    // A stale or foreign datagram, or a v3 time-window update: retry on a
                    // fresh socket. Anything else is the agent's final word.
                    let err = map_err(e.clone());
                    self.session = None;
                    match e {
                        snmp2::Error::RequestIdMismatch
                        | snmp2::Error::CommunityMismatch
                        | snmp2::Error::AuthUpdated
                        | snmp2::Error::Receive
                        | snmp2::Error::Send => last = err,
                        _ => return Err(err),
                    }
                }
                Err(_) => {
                    self.stats.timeouts += 1;
                    self.session = None;
                    last = SnmpError::Timeout {
                        attempts,
                        timeout: self.params.timeout,
                    };
                }
            }
        }
        // SNMPv3: the agent answered engine discovery (unauthenticated) but never an encrypted
        // request. net-snmp drops what it cannot decrypt, so this is what a wrong privacy
        // password or protocol looks like.
        if matches!(last, SnmpError::Timeout { .. })
            && self.v3_engine_seen
            && matches!(&self.params.credentials, Credentials::V3(v) if v.privacy.is_some())
        {
            return Err(SnmpError::Auth(
                "agent answered engine discovery but not encrypted requests \
                 (check the privacy password and protocol)"
                    .into(),
            ));
        }
        Err(last)
    }
}

impl UdpClient {
    /// After timeouts: asks for sysUpTime once more from an unconnected socket and returns
    /// where an answer came from when that is another address than the one asked (the
    /// session's connected socket never sees such answers). v1/v2c only; v3 gives `None`.
    pub async fn answer_from_elsewhere(&self) -> Option<SocketAddr> {
        let (version, community) = match &self.params.credentials {
            Credentials::V1 { community } => (0, community),
            Credentials::V2c { community } => (1, community),
            Credentials::V3(_) => return None,
        };
        let target = self.params.address;
        let bind: SocketAddr = if target.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = tokio::net::UdpSocket::bind(bind).await.ok()?;
        let msg = get_sys_uptime(version, community.expose().as_bytes(), self.req_id);
        socket.send_to(&msg, target).await.ok()?;
        let mut buf = [0u8; 2048];
        let wait = async {
            loop {
                match socket.recv_from(&mut buf).await {
                    Ok((_, from)) if from.ip() != target.ip() => return Some(from),
                    Ok(_) => return None,
                    Err(_) => continue,
                }
            }
        };
        tokio::time::timeout(self.params.timeout, wait)
            .await
            .ok()
            .flatten()
    }
}

/// A BER TLV with a definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// An SNMP v1/v2c GET of sysUpTime.0, encoded by hand (snmp2 keeps its builders private).
fn get_sys_uptime(version: u8, community: &[u8], request_id: i32) -> Vec<u8> {
    // Minimal two's complement, as BER wants it.
    let int = |v: i32| {
        let b = v.to_be_bytes();
        let mut start = 0;
        while start < 3
            && ((b[start] == 0 && b[start + 1] & 0x80 == 0)
                || (b[start] == 0xff && b[start + 1] & 0x80 != 0))
        {
            start += 1;
        }
        tlv(0x02, &b[start..])
    };
    let oid = tlv(0x06, &[0x2b, 6, 1, 2, 1, 1, 3, 0]);
    let varbind = tlv(0x30, &[oid, vec![0x05, 0x00]].concat());
    let pdu = tlv(
        0xa0,
        &[int(request_id), int(0), int(0), tlv(0x30, &varbind)].concat(),
    );
    tlv(
        0x30,
        &[tlv(0x02, &[version]), tlv(0x04, community), pdu].concat(),
    )
}

#[derive(Clone)]
enum Op<'a> {
    Get(&'a [Oid]),
    GetNext(&'a [Oid]),
    Bulk(&'a [Oid], u32),
    GetEncoded(&'a EncodedOids, Range<usize>),
}

impl<'a> Op<'a> {
    fn oids(&self) -> &'a [Oid] {
        match *self {
            Op::Get(o) | Op::GetNext(o) | Op::Bulk(o, _) => o,
            Op::GetEncoded(..) => &[],
        }
    }
}

enum Decoded {
    Status(u32, u32),
    Snmp(snmp2::Error),
}

impl From<snmp2::Error> for Decoded {
    fn from(e: snmp2::Error) -> Self {
        Decoded::Snmp(e)
    }
}

fn decode_pdu(pdu: &snmp2::Pdu<'_>, _: Op<'_>) -> Result<(Vec<VarBind>, usize), Decoded> {
    if pdu.error_status != 0 {
        return Err(Decoded::Status(pdu.error_status, pdu.error_index));
    }
    let mut out = Vec::new();
    for (name, value) in pdu.varbinds.clone() {
        let oid = from_snmp2_oid(&name).ok_or(Decoded::Snmp(snmp2::Error::AsnParse))?;
        out.push((oid, from_snmp2_value(&value)));
    }
    let n = out.len();
    Ok((out, n))
}

/// A GET answer to pre-encoded OIDs: varbind `k` counts only when its OID's bytes equal the
/// `k`-th asked OID's (an agent echoes the OIDs of a GET), so no OID is decoded.
fn decode_matched(
    pdu: &snmp2::Pdu<'_>,
    op: Op<'_>,
) -> Result<(Vec<Option<Value>>, usize), Decoded> {
    if pdu.error_status != 0 {
        return Err(Decoded::Status(pdu.error_status, pdu.error_index));
    }
    let Op::GetEncoded(asked, range) = op else {
        return Err(Decoded::Snmp(snmp2::Error::AsnParse));
    };
    let mut out = Vec::with_capacity(range.len());
    let mut n = 0;
    for (k, (name, value)) in pdu.varbinds.clone().enumerate() {
        n += 1;
        if k < range.len() {
            out.push(
                (name.as_bytes() == asked.get(range.start + k)).then(|| from_snmp2_value(&value)),
            );
        }
    }
    out.resize(range.len(), None);
    Ok((out, n))
}

impl SnmpClient for UdpClient {
    async fn get(&mut self, oids: &[Oid]) -> Result<Vec<VarBind>, SnmpError> {
        self.exchange(Op::Get(oids)).await
    }

    async fn get_next(&mut self, oids: &[Oid]) -> Result<Vec<VarBind>, SnmpError> {
        if matches!(self.params.credentials, Credentials::V1 { .. }) || oids.len() == 1 {
            if oids.len() == 1 {
                return self.exchange(Op::GetNext(oids)).await;
            }
            // v1 has no GETBULK: one GETNEXT per OID keeps the code simple and correct.
            let mut out = Vec::with_capacity(oids.len());
            for o in oids {
                out.extend(self.exchange(Op::GetNext(std::slice::from_ref(o))).await?);
            }
            return Ok(out);
        }
        self.exchange(Op::GetNext(oids)).await
    }

    async fn get_bulk(
        &mut self,
        oids: &[Oid],
        max_repetitions: u32,
    ) -> Result<Vec<VarBind>, SnmpError> {
        if !self.supports_bulk() {
            return self.get_next(oids).await;
        }
        self.exchange(Op::Bulk(oids, max_repetitions)).await
    }

    async fn get_encoded(
        &mut self,
        oids: &EncodedOids,
        range: Range<usize>,
    ) -> Result<Vec<Option<Value>>, SnmpError> {
        self.exchange_with(Op::GetEncoded(oids, range), decode_matched)
            .await
    }

    fn stats(&self) -> ClientStats {
        self.stats
    }

    fn supports_bulk(&self) -> bool {
        !matches!(self.params.credentials, Credentials::V1 { .. })
    }
}

fn v3_security(c: &V3Credentials) -> v3::Security {
    let auth_pass = c
        .auth
        .as_ref()
        .map(|(_, p)| p.expose().as_bytes().to_vec())
        .unwrap_or_default();
    let mut s = v3::Security::new(c.username.as_bytes(), &auth_pass);
    if !c.context_name.is_empty() {
        s = s.with_context_name(&c.context_name);
    }
    match (&c.auth, &c.privacy) {
        (None, _) => s.with_auth(v3::Auth::NoAuthNoPriv),
        (Some((proto, _)), privacy) => {
            s = s.with_auth_protocol(match proto {
                AuthProtocol::Md5 => v3::AuthProtocol::Md5,
                AuthProtocol::Sha1 => v3::AuthProtocol::Sha1,
                AuthProtocol::Sha224 => v3::AuthProtocol::Sha224,
                AuthProtocol::Sha256 => v3::AuthProtocol::Sha256,
                AuthProtocol::Sha384 => v3::AuthProtocol::Sha384,
                AuthProtocol::Sha512 => v3::AuthProtocol::Sha512,
            });
            match privacy {
                None => s.with_auth(v3::Auth::AuthNoPriv),
                Some((p, pass)) => s.with_auth(v3::Auth::AuthPriv {
                    cipher: match p {
                        PrivProtocol::Des => v3::Cipher::Des,
                        PrivProtocol::Aes128 => v3::Cipher::Aes128,
                        PrivProtocol::Aes192 => v3::Cipher::Aes192,
                        PrivProtocol::Aes256 => v3::Cipher::Aes256,
                    },
                    privacy_password: pass.expose().as_bytes().to_vec(),
                }),
            }
        }
    }
}

fn map_err(e: snmp2::Error) -> SnmpError {
    match e {
        snmp2::Error::AuthFailure(kind) => SnmpError::Auth(format!(
            "{} (check the username, auth protocol and auth password)",
            kind.to_string().to_lowercase()
        )),
        snmp2::Error::Crypto(s) => SnmpError::Auth(format!("crypto: {s}")),
        snmp2::Error::Send => SnmpError::Io("send failed (no route or network down)".into()),
        snmp2::Error::Receive => {
            SnmpError::Io("receive failed (ICMP port unreachable: no agent on that port?)".into())
        }
        other => SnmpError::Decode(other.to_string().to_lowercase()),
    }
}

/// Our own BER encoding (`encoded::encode`): asn1-rs's `Oid::from` went through a `Vec<u64>`
/// and cost ~900 instructions per OID (callgrind).
fn to_snmp2_oid(o: &Oid) -> Result<snmp2::Oid<'static>, SnmpError> {
    let mut bytes = Vec::with_capacity(o.0.len() + 4);
    if !encoded::encode(&o.0, &mut bytes) {
        return Err(SnmpError::Decode(format!("cannot encode oid {o}")));
    }
    Ok(snmp2::Oid::new(Cow::Owned(bytes)))
}

/// Our own BER decoding (`encoded::decode`) of the OID's content octets: asn1-rs's
/// sub-identifier iterator cost ~790 instructions per OID (callgrind).
fn from_snmp2_oid(o: &snmp2::Oid<'_>) -> Option<Oid> {
    encoded::decode(o.as_bytes())
}

fn from_snmp2_value(v: &snmp2::Value<'_>) -> Value {
    use snmp2::Value as V;
    match v {
        V::Integer(i) => Value::Integer(*i),
        V::OctetString(b) => Value::OctetString(b.to_vec()),
        V::ObjectIdentifier(o) => from_snmp2_oid(o)
            .map(Value::ObjectIdentifier)
            .unwrap_or(Value::Other),
        V::IpAddress(a) => Value::IpAddress(*a),
        V::Counter32(c) => Value::Counter32(*c),
        V::Unsigned32(c) => Value::Unsigned32(*c),
        V::Timeticks(t) => Value::TimeTicks(*t),
        V::Counter64(c) => Value::Counter64(*c),
        V::Opaque(b) => Value::Opaque(b.to_vec()),
        V::Null => Value::Null,
        V::NoSuchObject => Value::NoSuchObject,
        V::NoSuchInstance => Value::NoSuchInstance,
        V::EndOfMibView => Value::EndOfMibView,
        _ => Value::Other,
    }
}
