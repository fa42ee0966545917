//! SNMP client boundary: owned OID/value types, the `SnmpClient` trait and its errors.
//!
//! Invariant: this module knows nothing of interfaces, HTTP or Prometheus. It moves varbinds.

pub mod encoded;
pub mod fake;
pub mod session;
pub mod walk;

use std::fmt;
use std::ops::Range;
use std::time::Duration;

pub use encoded::EncodedOids;

/// An object identifier as a list of arcs.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Oid(pub Vec<u32>);

impl Oid {
    /// Parse dotted notation (`1.3.6.1.2.1.1.3.0`, a leading dot is allowed).
    pub fn parse(s: &str) -> Option<Oid> {
        let s = s.strip_prefix('.').unwrap_or(s);
        if s.is_empty() {
            return None;
        }
        s.split('.')
            .map(|p| p.parse::<u32>().ok())
            .collect::<Option<Vec<_>>>()
            .map(Oid)
    }

    /// `self` with extra arcs appended.
    pub fn child(&self, arcs: &[u32]) -> Oid {
        let mut v = Vec::with_capacity(self.0.len() + arcs.len());
        v.extend_from_slice(&self.0);
        v.extend_from_slice(arcs);
        Oid(v)
    }

    /// True when `other` lies strictly under `self`.
    pub fn is_prefix_of(&self, other: &Oid) -> bool {
        other.0.len() > self.0.len() && other.0.starts_with(&self.0)
    }

    /// The arcs of `other` after `self`, when `other` lies under `self`.
    pub fn suffix_of<'a>(&self, other: &'a Oid) -> Option<&'a [u32]> {
        self.is_prefix_of(other).then(|| &other.0[self.0.len()..])
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Build an `Oid` from a literal: `oid!(1, 3, 6, 1)`.
#[macro_export]
macro_rules! oid {
    ($($a:expr),+ $(,)?) => { $crate::snmp::Oid(vec![$($a),+]) };
}

/// An SNMP value, owned. OCTET STRINGs stay bytes: real agents send non-UTF-8 text.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Value {
    Integer(i64),
    OctetString(Vec<u8>),
    ObjectIdentifier(Oid),
    IpAddress([u8; 4]),
    Counter32(u32),
    Unsigned32(u32),
    TimeTicks(u32),
    Counter64(u64),
    Opaque(Vec<u8>),
    Null,
    NoSuchObject,
    NoSuchInstance,
    EndOfMibView,
    /// A type this client does not decode (kept so a walk can step over it).
    Other,
}

impl Value {
    /// True for the three SNMPv2 exception values.
    pub fn is_exception(&self) -> bool {
        matches!(
            self,
            Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView
        )
    }

    /// Any numeric value as u64 (negative integers are rejected).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Integer(i) => u64::try_from(i).ok(),
            Value::Counter32(v) | Value::Unsigned32(v) | Value::TimeTicks(v) => Some(v.into()),
            Value::Counter64(v) => Some(v),
            _ => None,
        }
    }

    /// INTEGER values (enumerations such as ifOperStatus).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Integer(i) => Some(i),
            Value::Counter32(v) | Value::Unsigned32(v) | Value::TimeTicks(v) => Some(v.into()),
            Value::Counter64(v) => i64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The SMI name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Integer(_) => "INTEGER",
            Value::OctetString(_) => "OCTET STRING",
            Value::ObjectIdentifier(_) => "OBJECT IDENTIFIER",
            Value::IpAddress(_) => "IpAddress",
            Value::Counter32(_) => "Counter32",
            Value::Unsigned32(_) => "Unsigned32",
            Value::TimeTicks(_) => "TimeTicks",
            Value::Counter64(_) => "Counter64",
            Value::Opaque(_) => "Opaque",
            Value::Null => "NULL",
            Value::NoSuchObject => "noSuchObject",
            Value::NoSuchInstance => "noSuchInstance",
            Value::EndOfMibView => "endOfMibView",
            Value::Other => "an unknown type",
        }
    }

    /// OCTET STRING bytes.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::OctetString(b) | Value::Opaque(b) => Some(b),
            _ => None,
        }
    }
}

/// One varbind of a response.
pub type VarBind = (Oid, Value);

/// Why an SNMP exchange failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SnmpError {
    #[error("no response after {attempts} attempts of {timeout:?}")]
    Timeout { attempts: u32, timeout: Duration },
    #[error("agent returned error status {status} ({}) at varbind {index}", error_status_name(*status))]
    ErrorStatus { status: u32, index: u32 },
    #[error("malformed response: {0}")]
    Decode(String),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("oid not increasing: {previous} followed by {next}")]
    NotIncreasing { previous: Oid, next: Oid },
    #[error("network error: {0}")]
    Io(String),
    #[error("deadline exceeded")]
    Deadline,
    #[error("wrong value type: {got} where the MIB says {expected}")]
    WrongType {
        expected: &'static str,
        got: &'static str,
    },
    /// Answers come from another address than the one asked. They are dropped, as most SNMP
    /// managers drop them: the answer cannot be told from a spoofed one.
    #[error(
        "no response from the address asked; answers come from {from} and are dropped \
         (configure the target with that address, or make the agent answer from the one asked)"
    )]
    OtherSource { from: String },
}

impl SnmpError {
    /// The agent said the response would be too big: shrink the request and retry.
    pub fn is_too_big(&self) -> bool {
        matches!(self, SnmpError::ErrorStatus { status: 1, .. })
    }
    /// Short machine-friendly reason, for the `reason` label of failure counters.
    pub fn reason(&self) -> &'static str {
        match self {
            SnmpError::Timeout { .. } => "timeout",
            SnmpError::ErrorStatus { .. } => "error_status",
            SnmpError::Decode(_) => "decode",
            SnmpError::Auth(_) => "auth",
            SnmpError::NotIncreasing { .. } => "oid_not_increasing",
            SnmpError::Io(_) => "io",
            SnmpError::Deadline => "deadline",
            SnmpError::WrongType { .. } => "wrong_type",
            SnmpError::OtherSource { .. } => "other_source",
        }
    }
}

/// RFC 3416 error-status names.
pub fn error_status_name(status: u32) -> &'static str {
    match status {
        0 => "noError",
        1 => "tooBig",
        2 => "noSuchName",
        3 => "badValue",
        4 => "readOnly",
        5 => "genErr",
        6 => "noAccess",
        7 => "wrongType",
        8 => "wrongLength",
        9 => "wrongEncoding",
        10 => "wrongValue",
        11 => "noCreation",
        12 => "inconsistentValue",
        13 => "resourceUnavailable",
        14 => "commitFailed",
        15 => "undoFailed",
        16 => "authorizationError",
        17 => "notWritable",
        18 => "inconsistentName",
        _ => "unknown",
    }
}

/// An SNMP failure and the OID being asked for when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtOid {
    pub oid: Oid,
    pub error: SnmpError,
}

impl fmt::Display for AtOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.oid.0.is_empty() {
            // Not tied to one request (a visit's deadline, say).
            write!(f, "{}", self.error)
        } else {
            write!(f, "{} (oid {})", self.error, self.oid)
        }
    }
}

impl std::error::Error for AtOid {}

impl AtOid {
    pub fn new(oid: &Oid, error: SnmpError) -> AtOid {
        AtOid {
            oid: oid.clone(),
            error,
        }
    }
}

/// Counters an SNMP client keeps about its own traffic, read by the poller for self-metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ClientStats {
    pub requests: u64,
    pub retries: u64,
    pub timeouts: u64,
    pub varbinds: u64,
}

/// GET answers in request order: varbind `k` answers `asked[k]` only when its OID is that one.
pub fn match_answers(asked: &[Oid], answers: Vec<VarBind>) -> Vec<Option<Value>> {
    let mut out: Vec<Option<Value>> = answers
        .into_iter()
        .zip(asked)
        .map(|((oid, value), a)| (oid == *a).then_some(value))
        .collect();
    out.resize(asked.len(), None);
    out
}

/// The three SNMP operations the exporter needs. One implementation speaks UDP through
/// `snmp2`; tests may use a fake. Implementations own their retry and timeout policy.
#[allow(async_fn_in_trait)]
pub trait SnmpClient {
    /// GET of exactly these OIDs.
    async fn get(&mut self, oids: &[Oid]) -> Result<Vec<VarBind>, SnmpError>;
    /// GETNEXT of these OIDs (one step each).
    async fn get_next(&mut self, oids: &[Oid]) -> Result<Vec<VarBind>, SnmpError>;
    /// GETBULK with no non-repeaters. SNMPv1 clients emulate it with GETNEXT.
    async fn get_bulk(
        &mut self,
        oids: &[Oid],
        max_repetitions: u32,
    ) -> Result<Vec<VarBind>, SnmpError>;
    /// GET of the pre-encoded `oids[range]` (a poll plan). One value per OID asked, in
    /// request order; `None` where the agent answered for another OID or left it out. The
    /// default decodes the OIDs and goes through `get`; the UDP client sends the encoded
    /// bytes as they are and matches answers without decoding their OIDs.
    async fn get_encoded(
        &mut self,
        oids: &EncodedOids,
        range: Range<usize>,
    ) -> Result<Vec<Option<Value>>, SnmpError> {
        let asked: Vec<Oid> = range.map(|i| oids.oid(i)).collect();
        let answers = self.get(&asked).await?;
        Ok(match_answers(&asked, answers))
    }
    /// Traffic counters so far.
    fn stats(&self) -> ClientStats;
    /// Whether GETBULK is available (SNMPv2c and v3).
    fn supports_bulk(&self) -> bool;
}
