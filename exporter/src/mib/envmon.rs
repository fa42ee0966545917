//! Device environment MIBs (temperatures, fans, power supplies, entity sensors, optical
//! levels) decoded from walked columns into an `EnvPlan`: which rows a device has, their static
//! parts (names, types, scales, precisions, thresholds: learned at discovery), their label
//! blocks, and the pre-encoded OIDs a poll GETs for their values. Pure; any varbinds decode
//! without panicking.
//!
//! Tables: CISCO-ENVMON-MIB temperature, fan and supply status tables; CISCO-ENTITY-SENSOR-MIB
//! `entSensorValueTable` and `entSensorThresholdTable`; ENTITY-SENSOR-MIB (RFC 3433)
//! `entPhySensorTable`; ENTITY-MIB `entPhysicalName`, `entPhysicalContainedIn` and
//! `entAliasMappingIdentifier` name the sensors and tie optical sensors to their port's ifIndex.
//!
//! Scaling: value x 10^(scale exponent) / 10^precision, with the scale an SI prefix enum
//! yocto(1)..units(9)..yotta(17). Both MIBs number exa as 14 and peta as 15 (out of SI order);
//! the prefixes' names are what counts: exa(14) is 10^18, peta(15) 10^15 (the 2020 revision of
//! CISCO-ENTITY-SENSOR-MIB corrected its comments to say so). A scale outside 1..=17 or a
//! precision outside -8..=9 leaves the row raw: served under its MIB names, never scaled.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::inventory::push_label as label;
use crate::mib::health::number;
use crate::mib::{column_oid, display_bytes, Polled};
use crate::snmp::walk::Column;
use crate::snmp::{EncodedOids, Oid, Value};

const TEMP: [u32; 12] = [1, 3, 6, 1, 4, 1, 9, 9, 13, 1, 3, 1];
const FAN: [u32; 12] = [1, 3, 6, 1, 4, 1, 9, 9, 13, 1, 4, 1];
const SUPPLY: [u32; 12] = [1, 3, 6, 1, 4, 1, 9, 9, 13, 1, 5, 1];
const ENT_SENSOR: [u32; 13] = [1, 3, 6, 1, 4, 1, 9, 9, 91, 1, 1, 1, 1];
const ENT_THRESHOLD: [u32; 13] = [1, 3, 6, 1, 4, 1, 9, 9, 91, 1, 2, 1, 1];
const PHY_SENSOR: [u32; 10] = [1, 3, 6, 1, 2, 1, 99, 1, 1, 1];
/// ENTITY-MIB entPhysicalEntry and entAliasMappingEntry.
const ENT_PHYSICAL: [u32; 11] = [1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1];
const ENT_ALIAS: [u32; 11] = [1, 3, 6, 1, 2, 1, 47, 1, 3, 2, 1];
/// IF-MIB ifIndex: an alias mapping names an interface as `ifIndex.N`.
const IF_INDEX: [u32; 10] = [1, 3, 6, 1, 2, 1, 2, 2, 1, 1];

/// (table base, column) walked at discovery, in the order `decode` reads them.
const DISCOVERY: [(&[u32], u32); 21] = [
    (&TEMP, 2),          // 0 ciscoEnvMonTemperatureStatusDescr
    (&TEMP, 3),          // 1 ciscoEnvMonTemperatureStatusValue
    (&TEMP, 4),          // 2 ciscoEnvMonTemperatureThreshold
    (&TEMP, 6),          // 3 ciscoEnvMonTemperatureState
    (&FAN, 2),           // 4 ciscoEnvMonFanStatusDescr
    (&FAN, 3),           // 5 ciscoEnvMonFanState
    (&SUPPLY, 2),        // 6 ciscoEnvMonSupplyStatusDescr
    (&SUPPLY, 3),        // 7 ciscoEnvMonSupplyState
    (&ENT_SENSOR, 1),    // 8 entSensorType
    (&ENT_SENSOR, 2),    // 9 entSensorScale
    (&ENT_SENSOR, 3),    // 10 entSensorPrecision
    (&ENT_SENSOR, 4),    // 11 entSensorValue
    (&ENT_SENSOR, 5),    // 12 entSensorStatus
    (&ENT_THRESHOLD, 2), // 13 entSensorThresholdSeverity
    (&ENT_THRESHOLD, 3), // 14 entSensorThresholdRelation
    (&ENT_THRESHOLD, 4), // 15 entSensorThresholdValue
    (&PHY_SENSOR, 1),    // 16 entPhySensorType
    (&PHY_SENSOR, 2),    // 17 entPhySensorScale
    (&PHY_SENSOR, 3),    // 18 entPhySensorPrecision
    (&PHY_SENSOR, 4),    // 19 entPhySensorValue
    (&PHY_SENSOR, 5),    // 20 entPhySensorOperStatus
];

/// The environment columns walked at discovery, all in one multi-column walk: a device
/// without any of these MIBs costs one request.
pub fn discovery_columns() -> Vec<Oid> {
    DISCOVERY.iter().map(|(b, c)| column_oid(b, *c)).collect()
}

/// The ENTITY-MIB columns walked (one more multi-column walk) only when the device has entity
/// sensor rows: entPhysicalName, entPhysicalContainedIn, entAliasMappingIdentifier.
pub fn entity_columns() -> Vec<Oid> {
    vec![
        column_oid(&ENT_PHYSICAL, 7),
        column_oid(&ENT_PHYSICAL, 4),
        column_oid(&ENT_ALIAS, 2),
    ]
}

/// Every value a poll may read, in the order families are rendered.
pub const POLLED: [Polled; 8] = [
    polled!("ciscoEnvMonTemperatureStatusValue", TEMP, 3, "The current measurement of the test point being instrumented, in degrees Celsius - 1.3.6.1.4.1.9.9.13.1.3.1.3"),
    polled!("ciscoEnvMonTemperatureState", TEMP, 6, "The current state of the test point: normal(1), warning(2), critical(3), shutdown(4), notPresent(5), notFunctioning(6) - 1.3.6.1.4.1.9.9.13.1.3.1.6"),
    polled!("ciscoEnvMonFanState", FAN, 3, "The current state of the fan: normal(1), warning(2), critical(3), shutdown(4), notPresent(5), notFunctioning(6) - 1.3.6.1.4.1.9.9.13.1.4.1.3"),
    polled!("ciscoEnvMonSupplyState", SUPPLY, 3, "The current state of the power supply: normal(1), warning(2), critical(3), shutdown(4), notPresent(5), notFunctioning(6) - 1.3.6.1.4.1.9.9.13.1.5.1.3"),
    polled!("entSensorValue", ENT_SENSOR, 4, "The most recent measurement seen by the sensor, unscaled (see entSensorScale, entSensorPrecision) - 1.3.6.1.4.1.9.9.91.1.1.1.1.4"),
    polled!("entSensorStatus", ENT_SENSOR, 5, "The present operational status of the sensor: ok(1), unavailable(2), nonoperational(3) - 1.3.6.1.4.1.9.9.91.1.1.1.1.5"),
    polled!("entPhySensorValue", PHY_SENSOR, 4, "The most recent measurement obtained by the agent for this sensor, unscaled (see entPhySensorScale, entPhySensorPrecision) - 1.3.6.1.2.1.99.1.1.1.4"),
    polled!("entPhySensorOperStatus", PHY_SENSOR, 5, "The operational status of the sensor: ok(1), unavailable(2), nonoperational(3) - 1.3.6.1.2.1.99.1.1.1.5"),
];

const TEMP_VALUE: u8 = 0;
const TEMP_STATE: u8 = 1;
const FAN_STATE: u8 = 2;
const SUPPLY_STATE: u8 = 3;
const SENSOR_VALUE: [u8; 2] = [4, 6];
const SENSOR_STATUS: [u8; 2] = [5, 7];

/// Which sensor table a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SensorMib {
    /// CISCO-ENTITY-SENSOR-MIB `entSensorValueTable`.
    Cisco = 0,
    /// ENTITY-SENSOR-MIB (RFC 3433) `entPhySensorTable`.
    Rfc3433 = 1,
}

impl SensorMib {
    fn name(self) -> &'static str {
        match self {
            SensorMib::Cisco => "CISCO-ENTITY-SENSOR-MIB",
            SensorMib::Rfc3433 => "ENTITY-SENSOR-MIB",
        }
    }
}

/// A CISCO-ENVMON-MIB temperature row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TempRow {
    pub index: u32,
    pub descr: Vec<u8>,
    pub has_value: bool,
    pub has_state: bool,
    /// ciscoEnvMonTemperatureThreshold (degrees Celsius), when the agent has a number for it.
    pub threshold: Option<i64>,
}

/// A CISCO-ENVMON-MIB fan or power supply row (only rows with a state).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateRow {
    pub index: u32,
    pub descr: Vec<u8>,
}

/// A row of `entSensorThresholdTable`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThresholdRow {
    pub index: u32,
    pub severity: Option<i64>,
    pub relation: Option<i64>,
    pub value: Option<i64>,
}

/// An entity sensor row (either MIB) with a value column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorRow {
    pub mib: SensorMib,
    /// entPhysicalIndex.
    pub index: u32,
    /// The type, scale and precision columns as the agent sent them (`None` when absent or
    /// not a number).
    pub sensor_type: Option<i64>,
    pub scale: Option<i64>,
    pub precision: Option<i64>,
    pub has_status: bool,
    /// entPhysicalName, filled by `apply_entities`.
    pub name: Vec<u8>,
    /// The ifIndex of the port this sensor belongs to, filled by `apply_entities` when
    /// ENTITY-MIB ties it to exactly one.
    pub if_index: Option<u32>,
    pub thresholds: Vec<ThresholdRow>,
}

/// What discovery learned of a device's environment tables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvTables {
    pub temps: Vec<TempRow>,
    pub fans: Vec<StateRow>,
    pub supplies: Vec<StateRow>,
    pub sensors: Vec<SensorRow>,
}

fn one_index(suffix: &[u32]) -> Option<u32> {
    match suffix {
        [i] => Some(*i),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    number(v).and_then(|n| i64::try_from(n).ok())
}

fn state_rows(descr: &[(Vec<u32>, Value)], state: &[(Vec<u32>, Value)]) -> Vec<StateRow> {
    let mut rows: BTreeMap<u32, StateRow> = BTreeMap::new();
    for (s, v) in state {
        if let (Some(i), Some(_)) = (one_index(s), number(v)) {
            rows.insert(
                i,
                StateRow {
                    index: i,
                    descr: Vec::new(),
                },
            );
        }
    }
    for (s, v) in descr {
        if let (Some(row), Some(b)) = (one_index(s).and_then(|i| rows.get_mut(&i)), v.as_bytes()) {
            row.descr = b.to_vec();
        }
    }
    rows.into_values().collect()
}

/// Decode the discovery walk (`columns` in `discovery_columns()` order; missing columns are
/// empty). Rows whose index has the wrong shape, and values of the wrong type, are skipped;
/// a sensor row needs a numeric value column, the rest is optional.
pub fn decode(columns: &[Column]) -> EnvTables {
    let col = |i: usize| columns.get(i).map(Vec::as_slice).unwrap_or(&[]);
    let mut temps: BTreeMap<u32, TempRow> = BTreeMap::new();
    for (pos, is_value) in [(1, true), (3, false)] {
        for (s, v) in col(pos) {
            if let (Some(i), Some(_)) = (one_index(s), number(v)) {
                let row = temps.entry(i).or_insert_with(|| TempRow {
                    index: i,
                    ..TempRow::default()
                });
                if is_value {
                    row.has_value = true;
                } else {
                    row.has_state = true;
                }
            }
        }
    }
    for (s, v) in col(0) {
        if let (Some(row), Some(b)) = (one_index(s).and_then(|i| temps.get_mut(&i)), v.as_bytes()) {
            row.descr = b.to_vec();
        }
    }
    for (s, v) in col(2) {
        if let Some(row) = one_index(s).and_then(|i| temps.get_mut(&i)) {
            row.threshold = int(v);
        }
    }

    let mut sensors: BTreeMap<(SensorMib, u32), SensorRow> = BTreeMap::new();
    for (mib, first) in [(SensorMib::Cisco, 8), (SensorMib::Rfc3433, 16)] {
        for (s, v) in col(first + 3) {
            if let (Some(i), Some(_)) = (one_index(s), number(v)) {
                sensors.insert(
                    (mib, i),
                    SensorRow {
                        mib,
                        index: i,
                        sensor_type: None,
                        scale: None,
                        precision: None,
                        has_status: false,
                        name: Vec::new(),
                        if_index: None,
                        thresholds: Vec::new(),
                    },
                );
            }
        }
        for (k, pos) in [first, first + 1, first + 2, first + 4]
            .into_iter()
            .enumerate()
        {
            for (s, v) in col(pos) {
                let Some(row) = one_index(s).and_then(|i| sensors.get_mut(&(mib, i))) else {
                    continue;
                };
                let n = int(v);
                match k {
                    0 => row.sensor_type = n,
                    1 => row.scale = n,
                    2 => row.precision = n,
                    _ => row.has_status = n.is_some(),
                }
            }
        }
    }
    let mut thresholds: BTreeMap<(u32, u32), ThresholdRow> = BTreeMap::new();
    for (s, v) in col(15) {
        if let ([p, t], Some(n)) = (s.as_slice(), int(v)) {
            if sensors.contains_key(&(SensorMib::Cisco, *p)) {
                thresholds.insert(
                    (*p, *t),
                    ThresholdRow {
                        index: *t,
                        value: Some(n),
                        ..ThresholdRow::default()
                    },
                );
            }
        }
    }
    for (pos, severity) in [(13, true), (14, false)] {
        for (s, v) in col(pos) {
            if let [p, t] = s.as_slice() {
                if let Some(row) = thresholds.get_mut(&(*p, *t)) {
                    if severity {
                        row.severity = int(v);
                    } else {
                        row.relation = int(v);
                    }
                }
            }
        }
    }
    for ((p, _), t) in thresholds {
        if let Some(row) = sensors.get_mut(&(SensorMib::Cisco, p)) {
            row.thresholds.push(t);
        }
    }
    EnvTables {
        temps: temps.into_values().collect(),
        fans: state_rows(col(4), col(5)),
        supplies: state_rows(col(6), col(7)),
        sensors: sensors.into_values().collect(),
    }
}

/// How many entPhysicalContainedIn steps the tie to a port may climb.
const MAX_CLIMB: usize = 16;

/// Name the sensors from the ENTITY-MIB walk (`columns` in `entity_columns()` order) and tie
/// each sensor to the ifIndex of the port it belongs to: climb entPhysicalContainedIn from the
/// sensor itself until an entity with entAliasMappingIdentifier rows; tied only when they name
/// exactly one ifIndex that is one of `if_indexes` (the device's interfaces). A cycle, a climb
/// past `MAX_CLIMB`, an alias that is not an ifIndex, or several ifIndexes leave it untied.
pub fn apply_entities(t: &mut EnvTables, columns: &[Column], if_indexes: &BTreeSet<u32>) {
    let col = |i: usize| columns.get(i).map(Vec::as_slice).unwrap_or(&[]);
    let names: BTreeMap<u32, &[u8]> = col(0)
        .iter()
        .filter_map(|(s, v)| Some((one_index(s)?, v.as_bytes()?)))
        .collect();
    let parent: BTreeMap<u32, u32> = col(1)
        .iter()
        .filter_map(|(s, v)| Some((one_index(s)?, u32::try_from(int(v)?).ok()?)))
        .collect();
    // entPhysicalIndex → the ifIndexes its alias rows name (None: a row that is no ifIndex).
    let mut alias: BTreeMap<u32, BTreeSet<Option<u32>>> = BTreeMap::new();
    let if_base = Oid(IF_INDEX.to_vec());
    for (s, v) in col(2) {
        let [p, _logical] = s.as_slice() else {
            continue;
        };
        let target = match v {
            Value::ObjectIdentifier(o) => if_base.suffix_of(o).and_then(one_index),
            _ => None,
        };
        alias.entry(*p).or_default().insert(target);
    }
    for s in &mut t.sensors {
        if let Some(n) = names.get(&s.index) {
            s.name = n.to_vec();
        }
        let mut at = s.index;
        let mut seen = BTreeSet::new();
        s.if_index = None;
        for _ in 0..MAX_CLIMB {
            if at == 0 || !seen.insert(at) {
                break;
            }
            if let Some(targets) = alias.get(&at) {
                if let (1, Some(Some(i))) = (targets.len(), targets.iter().next()) {
                    s.if_index = if_indexes.contains(i).then_some(*i);
                }
                break;
            }
            match parent.get(&at) {
                Some(p) => at = *p,
                None => break,
            }
        }
    }
}

/// The power of ten of an SI prefix scale enum (yocto(1) .. yotta(17)); `None` outside it.
pub fn scale_exponent(scale: i64) -> Option<i32> {
    match scale {
        1..=13 => Some(3 * (scale as i32 - 9)),
        14 => Some(18), // exa
        15 => Some(15), // peta
        16 => Some(21), // zetta
        17 => Some(24), // yotta
        _ => None,
    }
}

/// The (scale exponent, precision) a row's values are scaled by; `None` when either column is
/// absent or out of its range (the row stays raw).
pub fn scaling(scale: Option<i64>, precision: Option<i64>) -> Option<(i32, i32)> {
    let e = scale_exponent(scale?)?;
    let p = precision.filter(|p| (-8..=9).contains(p))? as i32;
    Some((e, p))
}

/// raw x 10^exponent / 10^precision, as one multiplication or division by a power of ten (a
/// division by an exact power of ten rounds once: 3300 milli is 3.3, not 3.3000000000000003).
pub fn scaled(raw: i128, (exponent, precision): (i32, i32)) -> f64 {
    let shift = exponent - precision;
    if shift >= 0 {
        raw as f64 * 10f64.powi(shift)
    } else {
        raw as f64 / 10f64.powi(-shift)
    }
}

/// The `sensor_type` label of a sensor type enum (CISCO-ENTITY-SENSOR-MIB SensorDataType;
/// RFC 3433 has the same numbers up to truthvalue(12), and agents use dBm(14) in both).
pub fn type_label(t: Option<i64>) -> &'static str {
    match t {
        Some(3) => "volts_ac",
        Some(4) => "volts_dc",
        Some(5) => "amperes",
        Some(6) => "watts",
        Some(7) => "hertz",
        Some(8) => "celsius",
        Some(9) => "percent",
        Some(10) => "rpm",
        Some(14) => "dbm",
        _ => "other",
    }
}

const CELSIUS: i64 = 8;
const WATTS: i64 = 6;
const DBM: i64 = 14;

/// The device's own high temperature threshold of an entity sensor, in its raw units: the
/// lowest value of the thresholds of severity major(20) or critical(30) with relation
/// greaterThan(3) or greaterOrEqual(4).
pub fn high_threshold(thresholds: &[ThresholdRow]) -> Option<i64> {
    thresholds
        .iter()
        .filter(|t| matches!(t.severity, Some(20 | 30)) && matches!(t.relation, Some(3 | 4)))
        .filter_map(|t| t.value)
        .min()
}

/// Which way an optical level goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Rx,
    Tx,
}

/// The direction a sensor's name gives (`Te1/1 Receive Power Sensor`, `... Rx Power`);
/// `None` when it names neither or both.
pub fn direction(name: &str) -> Option<Direction> {
    let mut rx = false;
    let mut tx = false;
    for w in name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        match w.to_ascii_lowercase().as_str() {
            "rx" | "receive" | "received" | "receiver" => rx = true,
            "tx" | "transmit" | "transmitted" | "transmitter" => tx = true,
            _ => {}
        }
    }
    match (rx, tx) {
        (true, false) => Some(Direction::Rx),
        (false, true) => Some(Direction::Tx),
        _ => None,
    }
}

fn is_power_name(name: &str) -> bool {
    name.to_ascii_lowercase().contains("power")
}

/// How a sensor's scaled value becomes an optical level, if it is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optical {
    /// A dBm sensor: the scaled value is the level.
    Dbm(Direction),
    /// A watts sensor named like an optical power: 10 log10(W / 1 mW).
    Watts(Direction),
}

/// Optical level in dBm from a sensor's scaled value; `None` for a non-positive power.
pub fn optical_dbm(kind: Optical, value: f64) -> Option<f64> {
    match kind {
        Optical::Dbm(_) => Some(value),
        Optical::Watts(_) => (value > 0.0).then(|| 10.0 * (value * 1000.0).log10()),
    }
}

/// A scaled entity sensor: where its raw value is, how it scales, what it stands for.
#[derive(Debug, Clone)]
pub struct ScaledSensor {
    /// Position of its raw value in the poll's values.
    pub value: usize,
    pub scaling: (i32, i32),
    /// `mib`, `sensor_index`, `sensor` (without the device's labels).
    pub labels: String,
    /// `sensor_type`.
    pub sensor_type: &'static str,
    pub is_celsius: bool,
    /// The high threshold, scaled like the value.
    pub threshold: Option<f64>,
    /// Optical level, tied to the interface at this ifIndex when `if_index` is set.
    pub optical: Option<Optical>,
    pub if_index: Option<u32>,
}

/// A CISCO-ENVMON-MIB temperature summary.
#[derive(Debug, Clone)]
pub struct EnvTemp {
    pub value: Option<usize>,
    pub threshold: Option<i64>,
    pub labels: String,
}

/// A fan or power supply: its state's position in the poll's values.
#[derive(Debug, Clone)]
pub struct Component {
    pub state: usize,
    pub labels: String,
}

/// One polled series: which `POLLED` value, and its label block (without the device's).
#[derive(Debug, Clone)]
pub struct Series {
    pub polled: u8,
    pub labels: String,
}

/// A static value learned at discovery (thresholds, types, scales, precisions).
#[derive(Debug, Clone)]
pub struct StaticSeries {
    /// Position in `STATICS`.
    pub which: u8,
    pub labels: String,
    pub value: i64,
}

/// The static families, in the order they are rendered: (name, help).
pub const STATICS: [(&str, &str); 8] = [
    ("ciscoEnvMonTemperatureThreshold", "The threshold for this test point, in degrees Celsius - 1.3.6.1.4.1.9.9.13.1.3.1.4"),
    ("entSensorType", "The type of data reported by the sensor: other(1), unknown(2), voltsAC(3), voltsDC(4), amperes(5), watts(6), hertz(7), celsius(8), percentRH(9), rpm(10), cmm(11), truthvalue(12), specialEnum(13), dBm(14) - 1.3.6.1.4.1.9.9.91.1.1.1.1.1"),
    ("entSensorScale", "The exponent applied to the sensor's values: yocto(1) .. milli(8), units(9), kilo(10) .. yotta(17) - 1.3.6.1.4.1.9.9.91.1.1.1.1.2"),
    ("entSensorPrecision", "The number of decimal places of the sensor's values (-8..9) - 1.3.6.1.4.1.9.9.91.1.1.1.1.3"),
    ("entSensorThresholdValue", "The value of the threshold, in the sensor's own units, scale and precision - 1.3.6.1.4.1.9.9.91.1.2.1.1.4"),
    ("entPhySensorType", "The type of data returned by the sensor: other(1), unknown(2), voltsAC(3), voltsDC(4), amperes(5), watts(6), hertz(7), celsius(8), percentRH(9), rpm(10), cmm(11), truthvalue(12) - 1.3.6.1.2.1.99.1.1.1.1"),
    ("entPhySensorScale", "The exponent applied to the sensor's values: yocto(1) .. milli(8), units(9), kilo(10) .. yotta(17) - 1.3.6.1.2.1.99.1.1.1.2"),
    ("entPhySensorPrecision", "The number of decimal places of the sensor's values (-8..9) - 1.3.6.1.2.1.99.1.1.1.3"),
];

/// The device's environment series and the OIDs a poll GETs for them (parallel to `series`).
#[derive(Debug, Clone, Default)]
pub struct EnvPlan {
    pub oids: EncodedOids,
    pub series: Vec<Series>,
    pub statics: Vec<StaticSeries>,
    pub sensors: Vec<ScaledSensor>,
    pub temps: Vec<EnvTemp>,
    /// `component="fan"` or `"power_supply"` rows.
    pub components: Vec<Component>,
}

fn severity_name(s: Option<i64>) -> String {
    match s {
        Some(1) => "other".into(),
        Some(10) => "minor".into(),
        Some(20) => "major".into(),
        Some(30) => "critical".into(),
        Some(n) => n.to_string(),
        None => String::new(),
    }
}

fn relation_name(r: Option<i64>) -> String {
    match r {
        Some(1) => "lessThan".into(),
        Some(2) => "lessOrEqual".into(),
        Some(3) => "greaterThan".into(),
        Some(4) => "greaterOrEqual".into(),
        Some(5) => "equalTo".into(),
        Some(6) => "notEqualTo".into(),
        Some(n) => n.to_string(),
        None => String::new(),
    }
}

impl EnvPlan {
    fn add(&mut self, polled: u8, instance: u32, labels: &str) -> Option<usize> {
        let p = &POLLED[polled as usize];
        let oid = column_oid(p.base, p.column).child(&[instance]);
        self.oids.push(&oid).ok()?;
        self.series.push(Series {
            polled,
            labels: labels.to_string(),
        });
        Some(self.series.len() - 1)
    }

    fn stat(&mut self, which: u8, labels: &str, value: Option<i64>) {
        if let Some(value) = value {
            self.statics.push(StaticSeries {
                which,
                labels: labels.to_string(),
                value,
            });
        }
    }

    /// Plan the polls of what discovery found. A sensor both MIBs describe (same
    /// entPhysicalIndex) is served raw under both MIBs' names and summarised once, from
    /// CISCO-ENTITY-SENSOR-MIB (it has the thresholds and dBm).
    pub fn build(t: &EnvTables) -> EnvPlan {
        let mut plan = EnvPlan::default();
        let mut l = String::new();
        for r in &t.temps {
            l.clear();
            let _ = write!(l, "ciscoEnvMonTemperatureStatusIndex=\"{}\"", r.index);
            let descr = display_bytes(&r.descr);
            label(&mut l, "ciscoEnvMonTemperatureStatusDescr", &descr);
            let value = r
                .has_value
                .then(|| plan.add(TEMP_VALUE, r.index, &l))
                .flatten();
            if r.has_state {
                plan.add(TEMP_STATE, r.index, &l);
            }
            plan.stat(0, &l, r.threshold);
            let mut s = String::new();
            label(&mut s, "mib", "CISCO-ENVMON-MIB");
            let _ = write!(s, ",sensor_index=\"{}\"", r.index);
            label(&mut s, "sensor", &descr);
            plan.temps.push(EnvTemp {
                value,
                threshold: r.threshold,
                labels: s,
            });
        }
        for (rows, polled, table, component) in [
            (&t.fans, FAN_STATE, "ciscoEnvMonFanStatus", "fan"),
            (
                &t.supplies,
                SUPPLY_STATE,
                "ciscoEnvMonSupplyStatus",
                "power_supply",
            ),
        ] {
            for r in rows {
                l.clear();
                let _ = write!(l, "{table}Index=\"{}\"", r.index);
                let descr = display_bytes(&r.descr);
                label(&mut l, &format!("{table}Descr"), &descr);
                if let Some(state) = plan.add(polled, r.index, &l) {
                    let mut s = String::new();
                    label(&mut s, "component", component);
                    let _ = write!(s, ",index=\"{}\"", r.index);
                    label(&mut s, "name", &descr);
                    plan.components.push(Component { state, labels: s });
                }
            }
        }
        let cisco: BTreeSet<u32> = t
            .sensors
            .iter()
            .filter(|s| s.mib == SensorMib::Cisco)
            .map(|s| s.index)
            .collect();
        for r in &t.sensors {
            l.clear();
            let _ = write!(l, "entPhysicalIndex=\"{}\"", r.index);
            let name = display_bytes(&r.name);
            label(&mut l, "entPhysicalName", &name);
            let k = r.mib as usize;
            let value = plan.add(SENSOR_VALUE[k], r.index, &l);
            if r.has_status {
                plan.add(SENSOR_STATUS[k], r.index, &l);
            }
            let first = if r.mib == SensorMib::Cisco { 1 } else { 5 };
            plan.stat(first, &l, r.sensor_type);
            plan.stat(first + 1, &l, r.scale);
            plan.stat(first + 2, &l, r.precision);
            for th in &r.thresholds {
                let mut tl = l.clone();
                let _ = write!(tl, ",entSensorThresholdIndex=\"{}\"", th.index);
                label(
                    &mut tl,
                    "entSensorThresholdSeverity",
                    &severity_name(th.severity),
                );
                label(
                    &mut tl,
                    "entSensorThresholdRelation",
                    &relation_name(th.relation),
                );
                plan.stat(4, &tl, th.value);
            }
            let summarised = r.mib == SensorMib::Cisco || !cisco.contains(&r.index);
            let (Some(value), Some(scaling), true) =
                (value, scaling(r.scale, r.precision), summarised)
            else {
                continue;
            };
            let mut s = String::new();
            label(&mut s, "mib", r.mib.name());
            let _ = write!(s, ",sensor_index=\"{}\"", r.index);
            label(&mut s, "sensor", &name);
            let is_celsius = r.sensor_type == Some(CELSIUS);
            let optical = match (r.sensor_type, direction(&name)) {
                (Some(DBM), Some(d)) => Some(Optical::Dbm(d)),
                (Some(WATTS), Some(d)) if is_power_name(&name) => Some(Optical::Watts(d)),
                _ => None,
            };
            plan.sensors.push(ScaledSensor {
                value,
                scaling,
                labels: s,
                sensor_type: type_label(r.sensor_type),
                is_celsius,
                threshold: high_threshold(&r.thresholds).map(|v| scaled(v.into(), scaling)),
                optical,
                if_index: optical.and(r.if_index),
            });
        }
        plan.oids.shrink_to_fit();
        plan
    }
}

/// Poll answers (`None` where the agent answered for another OID) → values parallel to the
/// plan's series; values of the wrong type are `None`.
pub fn decode_values(answers: &[Option<Value>], n: usize) -> Vec<Option<i128>> {
    crate::mib::health::decode_values(answers, n)
}

/// `wardflux_device_component_ok` of a CISCO-ENVMON-MIB state: 1 for normal(1), 0 for
/// warning(2), critical(3), shutdown(4), notFunctioning(6); `None` (no series) for
/// notPresent(5) and values outside the enum.
pub fn component_ok(state: i128) -> Option<u8> {
    match state {
        1 => Some(1),
        2 | 3 | 4 | 6 => Some(0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(rows: &[(&[u32], Value)]) -> Column {
        rows.iter().map(|(s, v)| (s.to_vec(), v.clone())).collect()
    }

    fn columns(set: &[(usize, Column)]) -> Vec<Column> {
        let mut out = vec![Vec::new(); DISCOVERY.len()];
        for (i, c) in set {
            out[*i] = c.clone();
        }
        out
    }

    fn s(b: &str) -> Value {
        Value::OctetString(b.as_bytes().to_vec())
    }

    fn int(n: i64) -> Value {
        Value::Integer(n)
    }

    #[test]
    fn discovery_columns_are_the_named_objects() {
        let c = discovery_columns();
        assert_eq!(c[1].to_string(), "1.3.6.1.4.1.9.9.13.1.3.1.3");
        assert_eq!(c[2].to_string(), "1.3.6.1.4.1.9.9.13.1.3.1.4");
        assert_eq!(c[5].to_string(), "1.3.6.1.4.1.9.9.13.1.4.1.3");
        assert_eq!(c[7].to_string(), "1.3.6.1.4.1.9.9.13.1.5.1.3");
        assert_eq!(c[11].to_string(), "1.3.6.1.4.1.9.9.91.1.1.1.1.4");
        assert_eq!(c[15].to_string(), "1.3.6.1.4.1.9.9.91.1.2.1.1.4");
        assert_eq!(c[19].to_string(), "1.3.6.1.2.1.99.1.1.1.4");
        let e = entity_columns();
        assert_eq!(e[0].to_string(), "1.3.6.1.2.1.47.1.1.1.1.7");
        assert_eq!(e[1].to_string(), "1.3.6.1.2.1.47.1.1.1.1.4");
        assert_eq!(e[2].to_string(), "1.3.6.1.2.1.47.1.3.2.1.2");
    }

    #[test]
    fn scale_enum_is_the_si_prefixes_with_exa_and_peta_as_named() {
        let want = [
            (1, -24),
            (2, -21),
            (3, -18),
            (4, -15),
            (5, -12),
            (6, -9),
            (7, -6),
            (8, -3),
            (9, 0),
            (10, 3),
            (11, 6),
            (12, 9),
            (13, 12),
            (14, 18),
            (15, 15),
            (16, 21),
            (17, 24),
        ];
        for (k, e) in want {
            assert_eq!(scale_exponent(k), Some(e), "scale {k}");
        }
        for k in [0, -1, 18, 255, i64::MIN, i64::MAX] {
            assert_eq!(scale_exponent(k), None, "scale {k}");
        }
    }

    #[test]
    fn scaling_follows_scale_and_precision_and_refuses_out_of_range() {
        // units, precision 1: 235 → 23.5 (a temperature in tenths)
        assert_eq!(scaled(235, scaling(Some(9), Some(1)).unwrap()), 23.5);
        // milli, precision 0: 3300 mV → 3.3 V
        assert_eq!(scaled(3300, scaling(Some(8), Some(0)).unwrap()), 3.3);
        // units, precision 2, negative dBm: -231 → -2.31
        assert_eq!(scaled(-231, scaling(Some(9), Some(2)).unwrap()), -2.31);
        // kilo, negative precision: 12 x 10^3 x 10^2
        assert_eq!(
            scaled(12, scaling(Some(10), Some(-2)).unwrap()),
            1_200_000.0
        );
        // micro with 3 decimals: 1500 → 1.5 x 10^-6
        let v = scaled(1500, scaling(Some(7), Some(3)).unwrap());
        assert!((v - 1.5e-6).abs() < 1e-18, "{v}");
        for (scale, precision) in [
            (None, Some(0)),
            (Some(9), None),
            (Some(0), Some(0)),
            (Some(18), Some(0)),
            (Some(9), Some(10)),
            (Some(9), Some(-9)),
            (Some(-5), Some(99)),
        ] {
            assert_eq!(scaling(scale, precision), None, "{scale:?} {precision:?}");
        }
        // The extremes stay finite.
        let big = scaled(i128::from(i32::MAX), scaling(Some(17), Some(-8)).unwrap());
        assert!(big.is_finite());
        let small = scaled(i128::from(i32::MIN), scaling(Some(1), Some(9)).unwrap());
        assert!(small.is_finite() && small < 0.0);
    }

    #[test]
    fn threshold_is_the_lowest_major_or_critical_upper_bound() {
        let th = |index, severity, relation, value| ThresholdRow {
            index,
            severity: Some(severity),
            relation: Some(relation),
            value: Some(value),
        };
        let rows = [
            th(1, 10, 3, 40), // minor: not the device's alarm
            th(2, 20, 3, 60), // major greaterThan
            th(3, 30, 4, 70), // critical greaterOrEqual
            th(4, 30, 1, -5), // critical lessThan: a low bound
            th(5, 20, 5, 10), // equalTo
        ];
        assert_eq!(high_threshold(&rows), Some(60));
        assert_eq!(high_threshold(&rows[2..]), Some(70));
        assert_eq!(high_threshold(&rows[3..]), None);
        assert_eq!(high_threshold(&[]), None);
        let missing = ThresholdRow {
            index: 9,
            severity: None,
            relation: Some(3),
            value: Some(1),
        };
        assert_eq!(high_threshold(&[missing]), None);
    }

    #[test]
    fn component_state_maps_not_present_to_no_series() {
        assert_eq!(component_ok(1), Some(1));
        for s in [2, 3, 4, 6] {
            assert_eq!(component_ok(s), Some(0), "{s}");
        }
        for s in [5, 0, 7, -1] {
            assert_eq!(component_ok(s), None, "{s}");
        }
    }

    #[test]
    fn direction_comes_from_the_name() {
        assert_eq!(direction("Te1/1 Receive Power Sensor"), Some(Direction::Rx));
        assert_eq!(direction("Gi0/1 Transmit Power"), Some(Direction::Tx));
        assert_eq!(
            direction("Ethernet1/1 Lane 1 Rx Power"),
            Some(Direction::Rx)
        );
        assert_eq!(direction("xcvr TX-power"), Some(Direction::Tx));
        assert_eq!(direction("Temperature Sensor"), None);
        assert_eq!(direction("Rx/Tx Power"), None, "both: neither");
        assert_eq!(direction("Proxy Txt"), None, "words, not substrings");
    }

    fn optics() -> (Vec<Column>, Vec<Column>) {
        // Entities: 1 chassis; 10 port Te1/1 (ifIndex 101); 11 its transceiver; 12, 13 its
        // Rx, Tx sensors; 14 a port without alias; 15 its sensor; 16 a temperature on 1;
        // 20 port aliased to two ifIndexes; 21 its sensor; 30 → 31 → 30 a cycle.
        let cols = columns(&[
            (
                8,
                col(&[
                    (&[12], int(14)),
                    (&[13], int(14)),
                    (&[15], int(14)),
                    (&[16], int(8)),
                    (&[21], int(14)),
                    (&[30], int(14)),
                ]),
            ),
            (
                9,
                col(&[
                    (&[12], int(9)),
                    (&[13], int(9)),
                    (&[15], int(9)),
                    (&[16], int(9)),
                    (&[21], int(9)),
                    (&[30], int(9)),
                ]),
            ),
            (
                10,
                col(&[
                    (&[12], int(1)),
                    (&[13], int(1)),
                    (&[15], int(1)),
                    (&[16], int(0)),
                    (&[21], int(1)),
                    (&[30], int(1)),
                ]),
            ),
            (
                11,
                col(&[
                    (&[12], int(-23)),
                    (&[13], int(-11)),
                    (&[15], int(-40)),
                    (&[16], int(31)),
                    (&[21], int(-1)),
                    (&[30], int(-2)),
                ]),
            ),
            (12, col(&[(&[12], int(1)), (&[16], int(1))])),
            (13, col(&[(&[16, 1], int(20)), (&[16, 2], int(10))])),
            (14, col(&[(&[16, 1], int(3)), (&[16, 2], int(3))])),
            (15, col(&[(&[16, 1], int(65)), (&[16, 2], int(55))])),
        ]);
        let ent = vec![
            col(&[
                (&[12], s("Te1/1 Receive Power Sensor")),
                (&[13], s("Te1/1 Transmit Power Sensor")),
                (&[15], s("Te1/2 Receive Power Sensor")),
                (&[16], s("Inlet Temp")),
                (&[21], s("Po Rx Power")),
                (&[30], s("loop Rx Power")),
            ]),
            col(&[
                (&[10], int(1)),
                (&[11], int(10)),
                (&[12], int(11)),
                (&[13], int(11)),
                (&[14], int(1)),
                (&[15], int(14)),
                (&[16], int(1)),
                (&[21], int(20)),
                (&[30], int(31)),
                (&[31], int(30)),
            ]),
            col(&[
                (
                    &[10, 0],
                    Value::ObjectIdentifier(Oid::parse("1.3.6.1.2.1.2.2.1.1.101").unwrap()),
                ),
                (
                    &[20, 0],
                    Value::ObjectIdentifier(Oid::parse("1.3.6.1.2.1.2.2.1.1.201").unwrap()),
                ),
                (
                    &[20, 1],
                    Value::ObjectIdentifier(Oid::parse("1.3.6.1.2.1.2.2.1.1.202").unwrap()),
                ),
            ]),
        ];
        (cols, ent)
    }

    #[test]
    fn optical_sensors_tie_to_their_port_or_stay_untied() {
        let (cols, ent) = optics();
        let mut t = decode(&cols);
        let ifs: BTreeSet<u32> = [101, 201, 202].into();
        apply_entities(&mut t, &ent, &ifs);
        let tie: BTreeMap<u32, Option<u32>> =
            t.sensors.iter().map(|s| (s.index, s.if_index)).collect();
        assert_eq!(tie[&12], Some(101), "sensor → transceiver → port → ifIndex");
        assert_eq!(tie[&13], Some(101));
        assert_eq!(tie[&15], None, "port without alias mapping");
        assert_eq!(tie[&21], None, "two ifIndexes: ambiguous, not guessed");
        assert_eq!(tie[&30], None, "containment cycle");
        // An ifIndex the device does not have is no tie either.
        let mut t2 = decode(&cols);
        apply_entities(&mut t2, &ent, &BTreeSet::new());
        assert!(t2.sensors.iter().all(|s| s.if_index.is_none()));

        let plan = EnvPlan::build(&t);
        let rx = plan
            .sensors
            .iter()
            .find(|s| s.labels.contains("sensor_index=\"12\""))
            .unwrap();
        assert_eq!(rx.optical, Some(Optical::Dbm(Direction::Rx)));
        assert_eq!(rx.if_index, Some(101));
        assert_eq!(rx.sensor_type, "dbm");
        assert_eq!(rx.scaling, (0, 1));
        let temp = plan
            .sensors
            .iter()
            .find(|s| s.labels.contains("sensor=\"Inlet Temp\""))
            .unwrap();
        assert!(temp.is_celsius && temp.optical.is_none());
        assert_eq!(temp.threshold, Some(65.0), "major greaterThan 65");
        // entSensorThresholdValue rows carry their index, severity and relation.
        let th: Vec<&StaticSeries> = plan.statics.iter().filter(|s| s.which == 4).collect();
        assert_eq!(th.len(), 2);
        assert_eq!(
            th[0].labels,
            "entPhysicalIndex=\"16\",entPhysicalName=\"Inlet Temp\",entSensorThresholdIndex=\"1\",entSensorThresholdSeverity=\"major\",entSensorThresholdRelation=\"greaterThan\""
        );
        assert_eq!(th[0].value, 65);
        // Polled: a value per sensor, a status for the two with one.
        assert_eq!(plan.series.len(), 8);
        assert_eq!(
            plan.oids.oid(0).to_string(),
            "1.3.6.1.4.1.9.9.91.1.1.1.1.4.12"
        );
    }

    #[test]
    fn envmon_rows_and_components() {
        let cols = columns(&[
            (0, col(&[(&[1], s("SW#1, Sensor#1")), (&[2], s("inlet"))])),
            (1, col(&[(&[1], Value::Unsigned32(38))])),
            (2, col(&[(&[1], int(60)), (&[2], int(55))])),
            (3, col(&[(&[1], int(1)), (&[2], int(5))])),
            (4, col(&[(&[1], s("Fan 1")), (&[2], s("Fan 2"))])),
            (5, col(&[(&[1], int(1)), (&[2], int(6))])),
            (6, col(&[(&[1], s("PS1"))])),
            (7, col(&[(&[1], int(1)), (&[2], int(5))])),
        ]);
        let t = decode(&cols);
        assert_eq!(t.temps.len(), 2);
        assert!(t.temps[0].has_value && !t.temps[1].has_value);
        assert_eq!(t.temps[1].threshold, Some(55));
        let plan = EnvPlan::build(&t);
        assert_eq!(plan.temps.len(), 2);
        assert_eq!(plan.temps[0].value, Some(0));
        assert_eq!(plan.components.len(), 4);
        assert_eq!(
            plan.components[2].labels,
            "component=\"power_supply\",index=\"1\",name=\"PS1\""
        );
        assert_eq!(plan.statics.len(), 2, "two thresholds");
        assert_eq!(
            plan.series[0].labels,
            "ciscoEnvMonTemperatureStatusIndex=\"1\",ciscoEnvMonTemperatureStatusDescr=\"SW#1, Sensor#1\""
        );
    }

    #[test]
    fn both_sensor_mibs_are_served_raw_and_summarised_once() {
        let cols = columns(&[
            (8, col(&[(&[5], int(8))])),
            (9, col(&[(&[5], int(9))])),
            (10, col(&[(&[5], int(0))])),
            (11, col(&[(&[5], int(30))])),
            (16, col(&[(&[5], int(8)), (&[6], int(4))])),
            (17, col(&[(&[5], int(9)), (&[6], int(8))])),
            (18, col(&[(&[5], int(0)), (&[6], int(0))])),
            (19, col(&[(&[5], int(30)), (&[6], int(12000))])),
        ]);
        let plan = EnvPlan::build(&decode(&cols));
        assert_eq!(plan.series.len(), 3);
        assert_eq!(plan.sensors.len(), 2);
        assert!(plan.sensors[0]
            .labels
            .starts_with("mib=\"CISCO-ENTITY-SENSOR-MIB\""));
        assert!(plan.sensors[1]
            .labels
            .starts_with("mib=\"ENTITY-SENSOR-MIB\""));
        assert_eq!(plan.sensors[1].sensor_type, "volts_dc");
        assert_eq!(plan.sensors[1].scaling, (-3, 0));
    }

    #[test]
    fn hostile_rows_decode_raw_without_panics() {
        let cases: Vec<(&str, Vec<Column>)> = vec![
            ("no columns at all", Vec::new()),
            ("fewer columns than asked", vec![col(&[(&[1], int(1))])]),
            (
                "wrong types",
                columns(&[
                    (1, col(&[(&[1], s("38"))])),
                    (5, col(&[(&[1], Value::Null)])),
                    (11, col(&[(&[1], Value::IpAddress([1, 2, 3, 4]))])),
                    (19, col(&[(&[1], Value::NoSuchInstance)])),
                ]),
            ),
            (
                "wrong index shapes",
                columns(&[
                    (1, col(&[(&[], int(1)), (&[1, 2], int(1))])),
                    (11, col(&[(&[1, 1], int(1))])),
                    (15, col(&[(&[1], int(1)), (&[1, 2, 3], int(1))])),
                ]),
            ),
        ];
        for (name, cols) in cases {
            let t = decode(&cols);
            assert_eq!(t, EnvTables::default(), "{name}");
            assert!(EnvPlan::build(&t).oids.is_empty(), "{name}");
        }
        // Absurd scale and precision, a type column of the wrong type, a threshold of no
        // sensor: raw values and statics are served, nothing is scaled.
        let cols = columns(&[
            (8, col(&[(&[1], s("celsius")), (&[2], int(8))])),
            (9, col(&[(&[1], int(99)), (&[2], int(9))])),
            (10, col(&[(&[1], int(0)), (&[2], int(-100))])),
            (
                11,
                col(&[(&[1], int(5)), (&[2], Value::Counter64(u64::MAX))]),
            ),
            (15, col(&[(&[7, 1], int(3))])),
            (17, col(&[(&[3], int(9))])),
        ]);
        let t = decode(&cols);
        assert_eq!(t.sensors.len(), 2);
        assert_eq!(t.sensors[0].sensor_type, None);
        assert_eq!(t.sensors[1].precision, Some(-100));
        let plan = EnvPlan::build(&t);
        assert!(plan.sensors.is_empty(), "nothing scalable");
        assert_eq!(plan.series.len(), 2);
        let statics: Vec<(u8, i64)> = plan.statics.iter().map(|s| (s.which, s.value)).collect();
        assert_eq!(statics, [(2, 99), (3, 0), (1, 8), (2, 9), (3, -100)]);
        let v = decode_values(&[Some(s("5")), Some(Value::Counter64(u64::MAX))], 2);
        assert_eq!(v, [None, Some(i128::from(u64::MAX))]);
        // Entity columns of the wrong shape or type name and tie nothing.
        let mut t = decode(&cols);
        let junk = vec![
            col(&[(&[1], int(5)), (&[1, 1], s("x"))]),
            col(&[(&[1], int(-1)), (&[2], s("1"))]),
            col(&[
                (
                    &[1],
                    Value::ObjectIdentifier(Oid::parse("1.3.6.1.2.1.2.2.1.1.5").unwrap()),
                ),
                (
                    &[2, 0],
                    Value::ObjectIdentifier(Oid::parse("1.3.6.1.2.1.2.2.1.1").unwrap()),
                ),
                (&[2, 1], s("Gi1")),
            ]),
        ];
        apply_entities(&mut t, &junk, &[5].into());
        assert!(t
            .sensors
            .iter()
            .all(|s| s.name.is_empty() && s.if_index.is_none()));
        // Optical watts: 10 log10(mW).
        assert_eq!(optical_dbm(Optical::Watts(Direction::Rx), 0.001), Some(0.0));
        assert_eq!(optical_dbm(Optical::Watts(Direction::Rx), 0.0), None);
        assert_eq!(optical_dbm(Optical::Dbm(Direction::Tx), -3.5), Some(-3.5));
    }
}
