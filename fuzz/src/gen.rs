//! Building blocks for the structured targets: OIDs and SNMP values from `arbitrary`, a
//! scripted `SnmpClient` that answers with whatever the fuzzer chose, and a `block_on` for the
//! exporter's async walks (the scripted futures are always ready).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use arbitrary::{Arbitrary, Unstructured};
use wardflux_exporter::snmp::{ClientStats, Oid, SnmpClient, SnmpError, Value, VarBind};

/// Run a future that never waits on IO to completion.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// An OID: either under one of the given bases (the columns being walked, so answers hit the
/// interesting paths) or free-standing.
#[derive(Debug, Arbitrary)]
pub struct FOid {
    /// 0: free-standing; n: under `bases[(n - 1) % bases.len()]`.
    pub base: u8,
    pub arcs: Vec<FArc>,
}

/// One arc: mostly small, sometimes any u32.
#[derive(Debug, Arbitrary)]
pub enum FArc {
    Small(u8),
    Any(u32),
}

impl FArc {
    pub fn get(&self) -> u32 {
        match *self {
            FArc::Small(a) => u32::from(a),
            FArc::Any(a) => a,
        }
    }
}

impl FOid {
    pub fn resolve(&self, bases: &[Oid]) -> Oid {
        let arcs: Vec<u32> = self.arcs.iter().take(40).map(FArc::get).collect();
        if self.base == 0 || bases.is_empty() {
            return Oid(arcs);
        }
        bases[usize::from(self.base - 1) % bases.len()].child(&arcs)
    }
}

/// An SNMP value of any type the client decodes.
#[derive(Debug, Arbitrary)]
pub enum FValue {
    Integer(i64),
    OctetString(Vec<u8>),
    ObjectIdentifier(Vec<u32>),
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
    Other,
}

impl From<FValue> for Value {
    fn from(v: FValue) -> Value {
        match v {
            FValue::Integer(i) => Value::Integer(i),
            FValue::OctetString(b) => Value::OctetString(b),
            FValue::ObjectIdentifier(a) => Value::ObjectIdentifier(Oid(a)),
            FValue::IpAddress(a) => Value::IpAddress(a),
            FValue::Counter32(c) => Value::Counter32(c),
            FValue::Unsigned32(c) => Value::Unsigned32(c),
            FValue::TimeTicks(c) => Value::TimeTicks(c),
            FValue::Counter64(c) => Value::Counter64(c),
            FValue::Opaque(b) => Value::Opaque(b),
            FValue::Null => Value::Null,
            FValue::NoSuchObject => Value::NoSuchObject,
            FValue::NoSuchInstance => Value::NoSuchInstance,
            FValue::EndOfMibView => Value::EndOfMibView,
            FValue::Other => Value::Other,
        }
    }
}

/// A varbind under the given bases.
#[derive(Debug, Arbitrary)]
pub struct FVarBind(pub FOid, pub FValue);

impl FVarBind {
    pub fn resolve(self, bases: &[Oid]) -> VarBind {
        (self.0.resolve(bases), self.1.into())
    }
}

/// An error an SNMP exchange can end in.
#[derive(Debug, Arbitrary)]
pub enum FError {
    Timeout,
    Status { status: u8, index: u32 },
    Decode,
    NotIncreasing,
    Io,
}

impl From<FError> for SnmpError {
    fn from(e: FError) -> SnmpError {
        match e {
            FError::Timeout => SnmpError::Timeout {
                attempts: 2,
                timeout: std::time::Duration::from_secs(1),
            },
            FError::Status { status, index } => SnmpError::ErrorStatus {
                status: u32::from(status % 20),
                index,
            },
            FError::Decode => SnmpError::Decode("fuzz".into()),
            FError::NotIncreasing => SnmpError::NotIncreasing {
                previous: Oid(vec![1]),
                next: Oid(vec![1]),
            },
            FError::Io => SnmpError::Io("fuzz".into()),
        }
    }
}

/// One scripted answer.
#[derive(Debug, Arbitrary)]
pub enum FAnswer {
    /// Varbinds whose OIDs are resolved against the OIDs of the request they answer.
    Ok(Vec<FVarBind>),
    Err(FError),
}

/// A client answering each request with the next scripted answer; once the script runs out,
/// every request gets an empty answer (which ends any walk).
pub struct ScriptedClient {
    pub answers: std::vec::IntoIter<FAnswer>,
    pub bulk: bool,
    pub stats: ClientStats,
}

impl ScriptedClient {
    pub fn new(answers: Vec<FAnswer>, bulk: bool) -> ScriptedClient {
        ScriptedClient {
            answers: answers.into_iter(),
            bulk,
            stats: ClientStats::default(),
        }
    }

    fn next(&mut self, asked: &[Oid]) -> Result<Vec<VarBind>, SnmpError> {
        self.stats.requests += 1;
        match self.answers.next() {
            None => Ok(Vec::new()),
            Some(FAnswer::Ok(vbs)) => Ok(vbs.into_iter().map(|v| v.resolve(asked)).collect()),
            Some(FAnswer::Err(e)) => Err(e.into()),
        }
    }
}

impl SnmpClient for ScriptedClient {
    async fn get(&mut self, oids: &[Oid]) -> Result<Vec<VarBind>, SnmpError> {
        self.next(oids)
    }

    async fn get_next(&mut self, oids: &[Oid]) -> Result<Vec<VarBind>, SnmpError> {
        self.next(oids)
    }

    async fn get_bulk(&mut self, oids: &[Oid], _reps: u32) -> Result<Vec<VarBind>, SnmpError> {
        self.next(oids)
    }

    fn stats(&self) -> ClientStats {
        self.stats
    }

    fn supports_bulk(&self) -> bool {
        self.bulk
    }
}

/// A short string from a small alphabet, so names collide and match across devices.
pub fn small_name(u: &mut Unstructured<'_>, pool: &[&str]) -> arbitrary::Result<String> {
    if u.ratio(3, 4)? {
        Ok(pool[u.choose_index(pool.len())?].to_string())
    } else {
        u.arbitrary()
    }
}
