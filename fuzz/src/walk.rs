//! Walks and packed GETs against an agent that answers anything: wrong OIDs, repeated or
//! decreasing OIDs, exception values, error statuses, tooBig and timeouts, in any order.
//!
//! Checked besides "no panic": a walk ends; every walked row lies under its column, rows of a
//! column strictly increase, and no column holds more than `MAX_ROWS_PER_COLUMN`.

use arbitrary::{Arbitrary, Unstructured};
use wardflux_exporter::snmp::walk::{
    get_packed, walk_columns, WalkLimits, WalkState, MAX_ROWS_PER_COLUMN,
};
use wardflux_exporter::snmp::Oid;

use crate::gen::{block_on, FAnswer, FOid, FVarBind, ScriptedClient};

#[derive(Debug, Arbitrary)]
struct Input {
    roots: Vec<FOid>,
    bulk: bool,
    max_repetitions: u8,
    max_varbinds: u8,
    answers: Vec<FAnswer>,
    /// Straight into `WalkState`: (columns per request, varbinds) rounds.
    rounds: Vec<(u8, Vec<FVarBind>)>,
    get_oids: Vec<FOid>,
    get_answers: Vec<FAnswer>,
}

pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(input) = Input::arbitrary(&mut u) else {
        return;
    };
    let roots: Vec<Oid> = input
        .roots
        .iter()
        .take(6)
        .map(|r| r.resolve(&[]))
        .filter(|o| !o.0.is_empty())
        .collect();
    if roots.is_empty() {
        return;
    }
    let mut limits = WalkLimits {
        max_repetitions: u32::from(input.max_repetitions),
        max_varbinds: u32::from(input.max_varbinds),
    };
    let mut client = ScriptedClient::new(input.answers, input.bulk);
    if let Ok(cols) = block_on(walk_columns(&mut client, &roots, &mut limits)) {
        assert_eq!(cols.len(), roots.len());
        for (root, col) in roots.iter().zip(&cols) {
            assert!(col.len() <= MAX_ROWS_PER_COLUMN);
            let mut prev: Option<Oid> = None;
            for (suffix, _) in col {
                assert!(!suffix.is_empty(), "a row of {root} without an index");
                let oid = root.child(suffix);
                assert!(
                    prev.as_ref().is_none_or(|p| *p < oid),
                    "rows of {root} not increasing"
                );
                prev = Some(oid);
            }
        }
    }
    // The limits a failed or shrunk walk leaves behind stay usable.
    assert!(limits.max_repetitions <= u32::from(input.max_repetitions).max(1));

    let mut state = WalkState::new(&roots);
    for (max_cols, vbs) in input.rounds {
        if state.finished() {
            break;
        }
        let asked = state.next_request(usize::from(max_cols));
        assert!(!asked.is_empty());
        let vbs = vbs.into_iter().map(|v| v.resolve(&asked)).collect();
        if state.absorb(vbs).is_err() {
            break;
        }
    }
    let _ = state.into_columns();

    let oids: Vec<Oid> = input.get_oids.iter().map(|o| o.resolve(&roots)).collect();
    let mut client = ScriptedClient::new(input.get_answers, input.bulk);
    let _ = block_on(get_packed(&mut client, &oids, &mut limits));
}
