//! Table walking: turns GETBULK/GETNEXT answers into columns, pure state plus one async driver.
//!
//! Several columns walk together in one request (row by row), each stops at the end of its
//! subtree or at endOfMibView, and an OID that does not increase is an error, never a loop.

use super::{AtOid, EncodedOids, Oid, SnmpClient, SnmpError, Value, VarBind};

/// The rows of one walked column: index suffix (arcs after the column OID) and value.
pub type Column = Vec<(Vec<u32>, Value)>;

/// Upper bound on rows per column, so a lying agent cannot grow memory without end.
pub const MAX_ROWS_PER_COLUMN: usize = 1_000_000;

#[derive(Debug)]
struct ColumnState {
    root: Oid,
    cursor: Oid,
    done: bool,
    rows: Column,
}

/// Progress of a multi-column walk. Pure: feed it responses, ask it for the next request.
#[derive(Debug)]
pub struct WalkState {
    cols: Vec<ColumnState>,
    /// Indexes into `cols` that the last request asked for, in request order.
    asked: Vec<usize>,
}

impl WalkState {
    pub fn new(roots: &[Oid]) -> WalkState {
        WalkState {
            cols: roots
                .iter()
                .map(|r| ColumnState {
                    root: r.clone(),
                    cursor: r.clone(),
                    done: false,
                    rows: Vec::new(),
                })
                .collect(),
            asked: Vec::new(),
        }
    }

    /// True when every column has ended.
    pub fn finished(&self) -> bool {
        self.cols.iter().all(|c| c.done)
    }

    /// The OIDs of the next request (cursor of each unfinished column), remembered for `absorb`.
    /// At most `max_cols` columns are asked at once.
    pub fn next_request(&mut self, max_cols: usize) -> Vec<Oid> {
        self.asked = (0..self.cols.len())
            .filter(|&i| !self.cols[i].done)
            .take(max_cols.max(1))
            .collect();
        self.asked
            .iter()
            .map(|&i| self.cols[i].cursor.clone())
            .collect()
    }

    /// Mark one asked column (by position in the last request) as finished: used when an
    /// SNMPv1 agent answers noSuchName for it.
    pub fn end_asked(&mut self, position: usize) {
        if let Some(&i) = self.asked.get(position) {
            self.cols[i].done = true;
        }
    }

    /// Take the varbinds answering the last request. Varbind `k` belongs to asked column
    /// `k % asked.len()` (GETBULK row-major order).
    pub fn absorb(&mut self, varbinds: Vec<VarBind>) -> Result<(), SnmpError> {
        let n = self.asked.len();
        if n == 0 {
            return Ok(());
        }
        if varbinds.is_empty() {
            // An agent that answers nothing has nothing more to give; ending avoids a loop.
            for &i in &self.asked {
                self.cols[i].done = true;
            }
            return Ok(());
        }
        for (k, (oid, value)) in varbinds.into_iter().enumerate() {
            let col = &mut self.cols[self.asked[k % n]];
            if col.done {
                continue;
            }
            if matches!(value, Value::EndOfMibView) {
                col.done = true;
                continue;
            }
            let Some(suffix) = col.root.suffix_of(&oid) else {
                col.done = true;
                continue;
            };
            if oid <= col.cursor {
                return Err(SnmpError::NotIncreasing {
                    previous: col.cursor.clone(),
                    next: oid,
                });
            }
            if matches!(value, Value::NoSuchObject | Value::NoSuchInstance) {
                // Not a valid walk answer; skip the row but keep moving.
                col.cursor = oid;
                continue;
            }
            let suffix = suffix.to_vec();
            col.cursor = oid;
            col.rows.push((suffix, value));
            if col.rows.len() >= MAX_ROWS_PER_COLUMN {
                col.done = true;
            }
        }
        Ok(())
    }

    /// The walked columns, in the order of the roots given to `new`.
    pub fn into_columns(self) -> Vec<Column> {
        self.cols.into_iter().map(|c| c.rows).collect()
    }
}

/// How a walk should size its requests. `max_repetitions` shrinks on tooBig (or on timeouts
/// after the agent has answered) and the caller keeps the new value for the device.
#[derive(Debug, Clone, Copy)]
pub struct WalkLimits {
    pub max_repetitions: u32,
    /// Upper bound on varbinds asked for in one request (columns x repetitions).
    pub max_varbinds: u32,
}

/// Walk several columns together. Returns one `Column` per root.
pub async fn walk_columns<C: SnmpClient>(
    client: &mut C,
    roots: &[Oid],
    limits: &mut WalkLimits,
) -> Result<Vec<Column>, AtOid> {
    let mut state = WalkState::new(roots);
    let mut answered = false;
    while !state.finished() {
        let req = state.next_request(limits.max_varbinds as usize);
        let result = if client.supports_bulk() {
            let per_col = (limits.max_varbinds / req.len() as u32).max(1);
            let reps = limits.max_repetitions.min(per_col).max(1);
            client.get_bulk(&req, reps).await
        } else {
            client.get_next(&req).await
        };
        match result {
            Ok(vbs) => {
                answered = true;
                state.absorb(vbs).map_err(|e| AtOid::new(&req[0], e))?;
            }
            Err(SnmpError::ErrorStatus { status: 2, index }) if !client.supports_bulk() => {
                // SNMPv1 end of MIB view for the varbind at `index` (1-based).
                let pos = index.saturating_sub(1) as usize;
                state.end_asked(pos.min(req.len().saturating_sub(1)));
            }
            Err(e) if shrinkable(&e, answered) && limits.max_repetitions > 1 => {
                limits.max_repetitions = (limits.max_repetitions / 2).max(1);
                limits.max_varbinds = (limits.max_varbinds / 2).max(1);
            }
            Err(e) if e.is_too_big() && limits.max_varbinds > 1 => {
                limits.max_varbinds = (limits.max_varbinds / 2).max(1);
            }
            Err(e) => return Err(AtOid::new(&req[0], e)),
        }
    }
    Ok(state.into_columns())
}

fn shrinkable(e: &SnmpError, answered: bool) -> bool {
    e.is_too_big() || (answered && matches!(e, SnmpError::Timeout { .. }))
}

/// GET many OIDs, packed into requests of at most `limits.max_varbinds`. Halves the packing
/// on tooBig. Missing instances come back as `NoSuchInstance`/`NoSuchObject` values.
pub async fn get_packed<C: SnmpClient>(
    client: &mut C,
    oids: &[Oid],
    limits: &mut WalkLimits,
) -> Result<Vec<VarBind>, AtOid> {
    let mut out = Vec::with_capacity(oids.len());
    let mut start = 0;
    while start < oids.len() {
        let end = (start + limits.max_varbinds.max(1) as usize).min(oids.len());
        match client.get(&oids[start..end]).await {
            Ok(vbs) => {
                out.extend(vbs);
                start = end;
            }
            Err(e) if e.is_too_big() && limits.max_varbinds > 1 => {
                limits.max_varbinds = (limits.max_varbinds / 2).max(1);
            }
            Err(SnmpError::ErrorStatus { status: 2, index }) if !client.supports_bulk() => {
                // SNMPv1: one missing OID fails the request; drop it and ask for the rest.
                let bad = start + (index.max(1) as usize - 1).min(end - start - 1);
                let mut rest: Vec<Oid> = oids[start..end].to_vec();
                rest.remove(bad - start);
                let mut sub = *limits;
                let part = Box::pin(get_packed(client, &rest, &mut sub)).await?;
                out.push((oids[bad].clone(), Value::NoSuchInstance));
                out.extend(part);
                start = end;
            }
            Err(e) => return Err(AtOid::new(&oids[start], e)),
        }
    }
    Ok(out)
}

/// `get_packed` for a pre-encoded OID list (the poll plan): one value per OID in order,
/// `None` where the agent answered for another OID. Same packing and tooBig halving; an
/// SNMPv1 noSuchName falls back to `get_packed` for that request (rare, and v1 only).
pub async fn get_packed_encoded<C: SnmpClient>(
    client: &mut C,
    oids: &EncodedOids,
    limits: &mut WalkLimits,
) -> Result<Vec<Option<Value>>, AtOid> {
    let mut out = Vec::with_capacity(oids.len());
    let mut start = 0;
    while start < oids.len() {
        let end = (start + limits.max_varbinds.max(1) as usize).min(oids.len());
        match client.get_encoded(oids, start..end).await {
            Ok(values) => {
                out.extend(values);
                start = end;
            }
            Err(e) if e.is_too_big() && limits.max_varbinds > 1 => {
                limits.max_varbinds = (limits.max_varbinds / 2).max(1);
            }
            Err(SnmpError::ErrorStatus { status: 2, .. }) if !client.supports_bulk() => {
                let asked: Vec<Oid> = (start..end).map(|i| oids.oid(i)).collect();
                let mut sub = *limits;
                let vbs = Box::pin(get_packed(client, &asked, &mut sub)).await?;
                // get_packed puts the missing OID first: match by OID, not by position.
                let by_oid: std::collections::HashMap<Oid, Value> = vbs.into_iter().collect();
                out.extend(asked.iter().map(|a| by_oid.get(a).cloned()));
                start = end;
            }
            Err(e) => return Err(AtOid::new(&oids.oid(start), e)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(s: &str) -> Oid {
        Oid::parse(s).unwrap()
    }

    #[test]
    fn two_columns_walk_row_major_and_stop_at_subtree_end() {
        let mut w = WalkState::new(&[o("1.1"), o("1.2")]);
        assert_eq!(w.next_request(usize::MAX), vec![o("1.1"), o("1.2")]);
        w.absorb(vec![
            (o("1.1.1"), Value::Integer(10)),
            (o("1.2.1"), Value::Integer(20)),
            (o("1.1.2"), Value::Integer(11)),
            (o("1.2.2"), Value::Integer(21)),
        ])
        .unwrap();
        assert!(!w.finished());
        assert_eq!(w.next_request(usize::MAX), vec![o("1.1.2"), o("1.2.2")]);
        w.absorb(vec![
            (o("1.2.1"), Value::Integer(99)), // column 1 ran into column 2: end of column 1
            (o("1.3.1"), Value::Integer(30)), // column 2 left its subtree
        ])
        .unwrap();
        assert!(w.finished());
        let cols = w.into_columns();
        assert_eq!(
            cols[0],
            vec![(vec![1], Value::Integer(10)), (vec![2], Value::Integer(11))]
        );
        assert_eq!(
            cols[1],
            vec![(vec![1], Value::Integer(20)), (vec![2], Value::Integer(21))]
        );
    }

    #[test]
    fn non_increasing_oid_is_an_error_not_a_loop() {
        let mut w = WalkState::new(&[o("1.1")]);
        w.next_request(usize::MAX);
        w.absorb(vec![(o("1.1.5"), Value::Integer(1))]).unwrap();
        w.next_request(usize::MAX);
        let err = w.absorb(vec![(o("1.1.5"), Value::Integer(1))]).unwrap_err();
        assert!(matches!(err, SnmpError::NotIncreasing { .. }), "{err}");
        let mut w = WalkState::new(&[o("1.1")]);
        w.next_request(usize::MAX);
        let err = w
            .absorb(vec![
                (o("1.1.5"), Value::Integer(1)),
                (o("1.1.4"), Value::Integer(1)),
            ])
            .unwrap_err();
        assert!(matches!(err, SnmpError::NotIncreasing { .. }));
    }

    #[test]
    fn end_of_mib_view_and_empty_answers_end_the_walk() {
        let mut w = WalkState::new(&[o("1.1"), o("1.2")]);
        w.next_request(usize::MAX);
        w.absorb(vec![
            (o("1.1.1"), Value::Integer(1)),
            (o("1.2"), Value::EndOfMibView),
        ])
        .unwrap();
        assert_eq!(w.next_request(usize::MAX), vec![o("1.1.1")]);
        w.absorb(vec![]).unwrap();
        assert!(w.finished());
    }

    #[test]
    fn arbitrary_varbind_sequences_never_panic() {
        // A small deterministic generator stands in for a fuzzer here.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let mut w = WalkState::new(&[o("1.3.6"), o("1.3.7")]);
            let mut rounds = 0;
            while !w.finished() && rounds < 50 {
                rounds += 1;
                let req = w.next_request(usize::MAX);
                let n = (next() % 5) as usize;
                let vbs = (0..n)
                    .map(|_| {
                        let len = 1 + (next() % 5) as usize;
                        let arcs = (0..len).map(|_| (next() % 9) as u32).collect();
                        let v = match next() % 4 {
                            0 => Value::EndOfMibView,
                            1 => Value::NoSuchInstance,
                            _ => Value::Integer(1),
                        };
                        (Oid(arcs), v)
                    })
                    .collect();
                if w.absorb(vbs).is_err() {
                    break;
                }
                assert!(!req.is_empty());
            }
        }
    }
}
