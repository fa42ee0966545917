//! The device environment decoder (`mib::envmon`) on arbitrary walked columns: the discovery
//! walk, the ENTITY-MIB names, containment and alias mapping against arbitrary interfaces, the
//! plan, arbitrary poll answers, and the rendered environment families.
//!
//! Checked besides "no panic": every rendered sample ends in a finite number, every optical
//! level carries one of the device's interfaces, and a scaled value exists only for rows whose
//! scale and precision are in their MIB ranges.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};
use wardflux_exporter::inventory::{DeviceInventory, Inventory, PollValues, TargetMeta};
use wardflux_exporter::metrics::envmon::render_envmon;
use wardflux_exporter::mib::envmon::{self, EnvPlan};
use wardflux_exporter::mib::if_mib::InterfaceInfo;
use wardflux_exporter::mib::system::SystemInfo;
use wardflux_exporter::snmp::walk::Column;
use wardflux_exporter::snmp::Value;

use crate::gen::{FArc, FValue};
use crate::mib::classifier;

#[derive(Debug, Arbitrary)]
struct Row(Vec<FArc>, FValue);

fn column(rows: Vec<Row>) -> Column {
    rows.into_iter()
        .map(|Row(s, v)| (s.iter().take(8).map(FArc::get).collect(), v.into()))
        .collect()
}

#[derive(Debug, Arbitrary)]
struct Input {
    env: Vec<Vec<Row>>,
    entity: Vec<Vec<Row>>,
    /// Small numbers, so sensors, entities and interfaces meet.
    if_indexes: Vec<u8>,
    answers: Vec<Option<FValue>>,
}

pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(input) = Input::arbitrary(&mut u) else {
        return;
    };
    let env: Vec<Column> = input.env.into_iter().take(24).map(column).collect();
    let entity: Vec<Column> = input.entity.into_iter().take(4).map(column).collect();
    let mut tables = envmon::decode(&env);
    let ifs: BTreeSet<u32> = input.if_indexes.iter().map(|i| u32::from(*i)).collect();
    envmon::apply_entities(&mut tables, &entity, &ifs);
    for s in &tables.sensors {
        assert!(
            s.if_index.is_none_or(|i| ifs.contains(&i)),
            "tied to no interface"
        );
        let _ = envmon::high_threshold(&s.thresholds);
    }
    let plan = EnvPlan::build(&tables);
    assert_eq!(plan.oids.len(), plan.series.len());
    for s in &plan.sensors {
        let scalable = tables.sensors.iter().any(|r| {
            s.labels
                .contains(&format!(",sensor_index=\"{}\",", r.index))
                && envmon::scaling(r.scale, r.precision) == Some(s.scaling)
        });
        assert!(
            scalable,
            "scaled without a valid scale and precision: {s:?}"
        );
    }
    let answers: Vec<Option<Value>> = input
        .answers
        .into_iter()
        .map(|a| a.map(Value::from))
        .collect();
    let values = envmon::decode_values(&answers, plan.series.len());
    assert_eq!(values.len(), plan.series.len());

    // Render through a real inventory entry, interfaces at the arbitrary ifIndexes.
    let target = TargetMeta {
        name: Arc::from("fuzz-env-01"),
        address: "127.0.0.1:161".into(),
        auth_name: "fuzz".into(),
        labels: Arc::new(BTreeMap::from([("site".to_string(), "lab".to_string())])),
    };
    let infos: Vec<InterfaceInfo> = ifs
        .iter()
        .map(|i| InterfaceInfo {
            if_index: *i,
            name: format!("Gi0/{i}").into_bytes(),
            ..InterfaceInfo::default()
        })
        .collect();
    let mut inv = DeviceInventory::build(&target, SystemInfo::default(), infos, classifier(), 0.0);
    inv.env = Arc::new(plan);
    let inventory = Inventory::new();
    inventory.upsert_target(Arc::new(target));
    inventory.update("fuzz-env-01", |d| {
        d.inventory = Some(Arc::new(inv));
        d.values = Some(Arc::new(PollValues {
            env: values,
            ..PollValues::default()
        }));
    });
    let mut out = String::new();
    render_envmon(&mut out, &inventory.snapshot());
    for line in out.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap_or("");
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("sample without a number: {line:?}"));
        assert!(v.is_finite(), "not finite: {line:?}");
        if line.starts_with("wardflux_interface_optical_") {
            assert!(
                line.contains("ifIndex=\""),
                "optical level without its interface: {line:?}"
            );
        }
    }
}
