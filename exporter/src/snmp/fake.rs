//! An in-memory agent implementing `SnmpClient`, for unit tests of walking, discovery and polling.

use std::collections::BTreeMap;

use super::{ClientStats, Oid, SnmpClient, SnmpError, Value, VarBind};

/// A MIB view in a map, answered with GET/GETNEXT/GETBULK semantics. `max_varbinds` makes it
/// answer tooBig like a real agent with a small message size.
#[derive(Debug, Default, Clone)]
pub struct FakeAgent {
    pub mib: BTreeMap<Oid, Value>,
    pub max_varbinds: Option<usize>,
    pub bulk: bool,
    /// When set, every request fails with this error.
    pub fail: Option<SnmpError>,
    /// When set, a request whose answer holds this OID fails with genErr.
    pub fail_on: Option<Oid>,
    pub stats: ClientStats,
}

impl FakeAgent {
    pub fn new(mib: BTreeMap<Oid, Value>) -> FakeAgent {
        FakeAgent {
            mib,
            bulk: true,
            ..FakeAgent::default()
        }
    }

    fn next_after(&self, oid: &Oid) -> VarBind {
        use std::ops::Bound::Excluded;
        self.mib
            .range((Excluded(oid.clone()), std::ops::Bound::Unbounded))
            .next()
            .map(|(o, v)| (o.clone(), v.clone()))
            .unwrap_or((oid.clone(), Value::EndOfMibView))
    }

    fn answer(&mut self, vbs: Vec<VarBind>) -> Result<Vec<VarBind>, SnmpError> {
        self.stats.requests += 1;
        if let Some(e) = &self.fail {
            return Err(e.clone());
        }
        if let Some(bad) = &self.fail_on {
            if let Some(i) = vbs.iter().position(|(o, _)| o == bad) {
                return Err(SnmpError::ErrorStatus {
                    status: 5,
                    index: i as u32 + 1,
                });
            }
        }
        if self.max_varbinds.is_some_and(|m| vbs.len() > m) {
            return Err(SnmpError::ErrorStatus {
                status: 1,
                index: 0,
            });
        }
        self.stats.varbinds += vbs.len() as u64;
        Ok(vbs)
    }
}

impl SnmpClient for FakeAgent {
    async fn get(&mut self, oids: &[Oid]) -> Result<Vec<VarBind>, SnmpError> {
        let vbs = oids
            .iter()
            .map(|o| {
                (
                    o.clone(),
                    self.mib.get(o).cloned().unwrap_or(Value::NoSuchInstance),
                )
            })
            .collect();
        self.answer(vbs)
    }

    async fn get_next(&mut self, oids: &[Oid]) -> Result<Vec<VarBind>, SnmpError> {
        let vbs = oids.iter().map(|o| self.next_after(o)).collect();
        self.answer(vbs)
    }

    async fn get_bulk(
        &mut self,
        oids: &[Oid],
        max_repetitions: u32,
    ) -> Result<Vec<VarBind>, SnmpError> {
        let mut cursors: Vec<Oid> = oids.to_vec();
        let mut out = Vec::new();
        for _ in 0..max_repetitions {
            for c in cursors.iter_mut() {
                let (o, v) = self.next_after(c);
                *c = o.clone();
                out.push((o, v));
            }
        }
        self.answer(out)
    }

    fn stats(&self) -> ClientStats {
        self.stats
    }

    fn supports_bulk(&self) -> bool {
        self.bulk
    }
}
