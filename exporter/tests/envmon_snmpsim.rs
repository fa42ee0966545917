//! Device environment (CISCO-ENVMON-MIB, CISCO-ENTITY-SENSOR-MIB, ENTITY-SENSOR-MIB) from real
//! device recordings replayed by snmpsim: every value the exporter serves under a MIB object's
//! name equals what `snmpbulkwalk` reads from the same agent and every row of the agent's tables
//! is served; every scaled value is raw x 10^(scale exponent) / 10^precision of its own row;
//! optical levels carry the interface that ENTITY-MIB (containment, alias mapping) ties them
//! to, and none where the agent ties nothing.
//!
//! Needs: Debian snmpsim, snmp, bzip2; PyPI snmpsim-data.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{bulkwalk, community_of, Exporter, Sample, Snmpsim};

/// Series name → (column OID, the column whose rows the series must have, index labels).
/// Written out here on purpose (not taken from the exporter) so the test is an independent
/// check.
const COLUMNS: &[(&str, &str, &str, &[&str])] = &[
    (
        "ciscoEnvMonTemperatureStatusValue",
        "1.3.6.1.4.1.9.9.13.1.3.1.3",
        "1.3.6.1.4.1.9.9.13.1.3.1.3",
        &["ciscoEnvMonTemperatureStatusIndex"],
    ),
    (
        "ciscoEnvMonTemperatureState",
        "1.3.6.1.4.1.9.9.13.1.3.1.6",
        "1.3.6.1.4.1.9.9.13.1.3.1.6",
        &["ciscoEnvMonTemperatureStatusIndex"],
    ),
    (
        "ciscoEnvMonFanState",
        "1.3.6.1.4.1.9.9.13.1.4.1.3",
        "1.3.6.1.4.1.9.9.13.1.4.1.3",
        &["ciscoEnvMonFanStatusIndex"],
    ),
    (
        "ciscoEnvMonSupplyState",
        "1.3.6.1.4.1.9.9.13.1.5.1.3",
        "1.3.6.1.4.1.9.9.13.1.5.1.3",
        &["ciscoEnvMonSupplyStatusIndex"],
    ),
    (
        "entSensorValue",
        "1.3.6.1.4.1.9.9.91.1.1.1.1.4",
        "1.3.6.1.4.1.9.9.91.1.1.1.1.4",
        &["entPhysicalIndex"],
    ),
    (
        "entSensorStatus",
        "1.3.6.1.4.1.9.9.91.1.1.1.1.5",
        "1.3.6.1.4.1.9.9.91.1.1.1.1.4",
        &["entPhysicalIndex"],
    ),
    (
        "entSensorType",
        "1.3.6.1.4.1.9.9.91.1.1.1.1.1",
        "1.3.6.1.4.1.9.9.91.1.1.1.1.4",
        &["entPhysicalIndex"],
    ),
    (
        "entSensorScale",
        "1.3.6.1.4.1.9.9.91.1.1.1.1.2",
        "1.3.6.1.4.1.9.9.91.1.1.1.1.4",
        &["entPhysicalIndex"],
    ),
    (
        "entSensorPrecision",
        "1.3.6.1.4.1.9.9.91.1.1.1.1.3",
        "1.3.6.1.4.1.9.9.91.1.1.1.1.4",
        &["entPhysicalIndex"],
    ),
    (
        "entSensorThresholdValue",
        "1.3.6.1.4.1.9.9.91.1.2.1.1.4",
        "1.3.6.1.4.1.9.9.91.1.1.1.1.4",
        &["entPhysicalIndex", "entSensorThresholdIndex"],
    ),
    (
        "entPhySensorValue",
        "1.3.6.1.2.1.99.1.1.1.4",
        "1.3.6.1.2.1.99.1.1.1.4",
        &["entPhysicalIndex"],
    ),
    (
        "entPhySensorOperStatus",
        "1.3.6.1.2.1.99.1.1.1.5",
        "1.3.6.1.2.1.99.1.1.1.4",
        &["entPhysicalIndex"],
    ),
    (
        "entPhySensorType",
        "1.3.6.1.2.1.99.1.1.1.1",
        "1.3.6.1.2.1.99.1.1.1.4",
        &["entPhysicalIndex"],
    ),
    (
        "entPhySensorScale",
        "1.3.6.1.2.1.99.1.1.1.2",
        "1.3.6.1.2.1.99.1.1.1.4",
        &["entPhysicalIndex"],
    ),
    (
        "entPhySensorPrecision",
        "1.3.6.1.2.1.99.1.1.1.3",
        "1.3.6.1.2.1.99.1.1.1.4",
        &["entPhysicalIndex"],
    ),
];

const TEMP_DESCR: &str = "1.3.6.1.4.1.9.9.13.1.3.1.2";
const TEMP_VALUE: &str = "1.3.6.1.4.1.9.9.13.1.3.1.3";
const TEMP_THRESHOLD: &str = "1.3.6.1.4.1.9.9.13.1.3.1.4";
const FAN: &str = "1.3.6.1.4.1.9.9.13.1.4.1";
const SUPPLY: &str = "1.3.6.1.4.1.9.9.13.1.5.1";
const ENT_NAME: &str = "1.3.6.1.2.1.47.1.1.1.1.7";
const ENT_CONTAINED_IN: &str = "1.3.6.1.2.1.47.1.1.1.1.4";
const ENT_ALIAS: &str = "1.3.6.1.2.1.47.1.3.2.1.2";
const IF_NAME: &str = "1.3.6.1.2.1.31.1.1.1.1";
const THRESHOLD: &str = "1.3.6.1.4.1.9.9.91.1.2.1.1";

/// The SI prefixes of the MIBs' scale enum, by name: yocto(1) .. units(9) .. tera(13),
/// exa(14), peta(15), zetta(16), yotta(17).
fn exponent(scale: i64) -> Option<i32> {
    let by_name = [
        -24, -21, -18, -15, -12, -9, -6, -3, 0, 3, 6, 9, 12, 18, 15, 21, 24,
    ];
    usize::try_from(scale - 1)
        .ok()
        .and_then(|i| by_name.get(i).copied())
}

/// `-Oq` prints strings in quotes (and hex strings as hex): compare text without them.
fn text(v: &str) -> String {
    v.trim_matches('"').to_string()
}

fn number(v: &str) -> Option<i64> {
    v.split_whitespace().next()?.parse().ok()
}

fn config(agent: &str, recordings: &[&str]) -> String {
    let mut auths = String::new();
    let mut targets = String::new();
    for r in recordings {
        let c = community_of(r);
        auths.push_str(&format!("  {c}: {{version: 2, community: {c}}}\n"));
        targets.push_str(&format!(
            "  - {{name: {c}, address: \"{agent}\", auth: {c}, labels: {{site: lab}}}}\n"
        ));
    }
    format!(
        "poll_interval: 5s\ndiscovery_interval: 1h\ntimeout: 5s\nretries: 2\n\
         auths:\n{auths}targets:\n{targets}"
    )
}

struct Agent<'a> {
    addr: &'a str,
    device: &'a str,
}

impl Agent<'_> {
    fn walk(&self, oid: &str) -> BTreeMap<String, String> {
        bulkwalk(&["-v2c", "-c", self.device], self.addr, oid)
    }
}

/// What one device's environment series counted, by series name.
type Counts = BTreeMap<String, usize>;

fn of<'a>(samples: &'a [Sample], device: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
    samples.iter().filter(move |s| s.label("device") == device)
}

/// Raw series: each value equals the agent's, each agent row is served.
fn compare_raw(samples: &[Sample], agent: &Agent) -> Counts {
    let dev = agent.device;
    let mut counts = Counts::new();
    let mut problems = Vec::new();
    let names = agent.walk(ENT_NAME);
    for (metric, oid, defining, index_labels) in COLUMNS {
        let walked = agent.walk(oid);
        let rows: BTreeSet<String> = agent
            .walk(defining)
            .iter()
            .filter(|(_, v)| number(v).is_some())
            .map(|(k, _)| k.clone())
            .collect();
        let mut served = BTreeSet::new();
        for s in of(samples, dev).filter(|s| s.name == *metric) {
            assert_eq!(
                s.label("site"),
                "lab",
                "{dev}: {metric} without target labels"
            );
            let idx = index_labels
                .iter()
                .map(|l| s.label(l))
                .collect::<Vec<_>>()
                .join(".");
            match walked.get(&idx).and_then(|v| number(v)) {
                Some(v) if Some(v) == s.value.parse().ok() => {}
                other => problems.push(format!(
                    "{oid}.{idx} ({metric}): agent says {other:?}, /metrics says {}",
                    s.value
                )),
            }
            if index_labels[0] == "entPhysicalIndex" {
                let want = names.get(s.label("entPhysicalIndex")).map(|n| text(n));
                assert_eq!(
                    s.label("entPhysicalName"),
                    want.unwrap_or_default(),
                    "{dev}: {s:?}"
                );
            }
            served.insert(idx);
            *counts.entry(metric.to_string()).or_insert(0) += 1;
        }
        let want: BTreeSet<String> = walked
            .iter()
            .filter(|(k, v)| {
                number(v).is_some() && rows.contains(k.split('.').next().unwrap_or(""))
            })
            .map(|(k, _)| k.clone())
            .collect();
        if want != served {
            problems.push(format!("{metric}: agent rows {want:?}, served {served:?}"));
        }
    }
    assert!(problems.is_empty(), "{dev}:\n{}", problems.join("\n"));

    // Descriptive labels and the threshold's enum labels.
    let descr = agent.walk(TEMP_DESCR);
    let fan = agent.walk(&format!("{FAN}.2"));
    let supply = agent.walk(&format!("{SUPPLY}.2"));
    let severity = agent.walk(&format!("{THRESHOLD}.2"));
    let relation = agent.walk(&format!("{THRESHOLD}.3"));
    for s in of(samples, dev) {
        let (want, got) = match s.name.as_str() {
            "ciscoEnvMonTemperatureStatusValue" | "ciscoEnvMonTemperatureState" => (
                descr.get(s.label("ciscoEnvMonTemperatureStatusIndex")),
                s.label("ciscoEnvMonTemperatureStatusDescr"),
            ),
            "ciscoEnvMonFanState" => (
                fan.get(s.label("ciscoEnvMonFanStatusIndex")),
                s.label("ciscoEnvMonFanStatusDescr"),
            ),
            "ciscoEnvMonSupplyState" => (
                supply.get(s.label("ciscoEnvMonSupplyStatusIndex")),
                s.label("ciscoEnvMonSupplyStatusDescr"),
            ),
            "entSensorThresholdValue" => {
                let idx = format!(
                    "{}.{}",
                    s.label("entPhysicalIndex"),
                    s.label("entSensorThresholdIndex")
                );
                let sev = match severity.get(&idx).and_then(|v| number(v)) {
                    Some(1) => "other",
                    Some(10) => "minor",
                    Some(20) => "major",
                    Some(30) => "critical",
                    other => panic!("{dev}: severity {other:?} of {idx}"),
                };
                let rel = match relation.get(&idx).and_then(|v| number(v)) {
                    Some(1) => "lessThan",
                    Some(2) => "lessOrEqual",
                    Some(3) => "greaterThan",
                    Some(4) => "greaterOrEqual",
                    Some(5) => "equalTo",
                    Some(6) => "notEqualTo",
                    other => panic!("{dev}: relation {other:?} of {idx}"),
                };
                assert_eq!(s.label("entSensorThresholdSeverity"), sev, "{dev}: {s:?}");
                assert_eq!(s.label("entSensorThresholdRelation"), rel, "{dev}: {s:?}");
                continue;
            }
            _ => continue,
        };
        assert_eq!(
            got,
            text(want.map(String::as_str).unwrap_or("")),
            "{dev}: {s:?}"
        );
    }
    counts
}

/// One entity sensor row as the agent has it.
struct Row {
    raw: i64,
    sensor_type: Option<i64>,
    scaling: Option<(i32, i64)>,
}

fn sensor_rows(agent: &Agent, table: &str) -> BTreeMap<String, Row> {
    let types = agent.walk(&format!("{table}.1"));
    let scales = agent.walk(&format!("{table}.2"));
    let precisions = agent.walk(&format!("{table}.3"));
    agent
        .walk(&format!("{table}.4"))
        .into_iter()
        .filter_map(|(k, v)| {
            let raw = number(&v)?;
            let e = scales.get(&k).and_then(|v| number(v)).and_then(exponent);
            let p = precisions
                .get(&k)
                .and_then(|v| number(v))
                .filter(|p| (-8..=9).contains(p));
            let row = Row {
                raw,
                sensor_type: types.get(&k).and_then(|v| number(v)),
                scaling: e.zip(p),
            };
            Some((k, row))
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// Scaled series: each is raw x 10^e / 10^p of its own row; every scalable row has one.
fn compare_scaled(samples: &[Sample], agent: &Agent) -> usize {
    let dev = agent.device;
    let cisco = sensor_rows(agent, "1.3.6.1.4.1.9.9.91.1.1.1.1");
    let rfc = sensor_rows(agent, "1.3.6.1.2.1.99.1.1.1");
    let mut seen = BTreeSet::new();
    for s in of(samples, dev).filter(|s| s.name == "wardflux_device_sensor_value") {
        let rows = match s.label("mib") {
            "CISCO-ENTITY-SENSOR-MIB" => &cisco,
            "ENTITY-SENSOR-MIB" => &rfc,
            other => panic!("{dev}: mib {other}"),
        };
        let row = &rows[s.label("sensor_index")];
        let (e, p) = row
            .scaling
            .expect("scaled without a valid scale and precision");
        let want = row.raw as f64 * 10f64.powi(e) / 10f64.powi(p as i32);
        assert!(close(s.f64(), want), "{dev}: {s:?}, want {want}");
        let ty = match row.sensor_type {
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
        };
        assert_eq!(s.label("sensor_type"), ty, "{dev}: {s:?}");
        assert!(seen.insert((
            s.label("mib").to_string(),
            s.label("sensor_index").to_string()
        )));
    }
    let scalable = cisco.values().filter(|r| r.scaling.is_some()).count()
        + rfc
            .iter()
            .filter(|(k, r)| r.scaling.is_some() && !cisco.contains_key(*k))
            .count();
    assert_eq!(
        seen.len(),
        scalable,
        "{dev}: a scalable row without its scaled value"
    );
    // Temperatures: ENVMON rows as they are, celsius sensors scaled.
    let severity = agent.walk(&format!("{THRESHOLD}.2"));
    let relation = agent.walk(&format!("{THRESHOLD}.3"));
    let threshold_values = agent.walk(&format!("{THRESHOLD}.4"));
    let temps = agent.walk(TEMP_VALUE);
    let thresholds = agent.walk(TEMP_THRESHOLD);
    for s in of(samples, dev).filter(|s| s.name.starts_with("wardflux_device_temperature")) {
        let want = match s.label("mib") {
            "CISCO-ENVMON-MIB" => {
                let t = if s.name.ends_with("threshold_celsius") {
                    &thresholds
                } else {
                    &temps
                };
                number(&t[s.label("sensor_index")]).unwrap() as f64
            }
            _ => {
                let v = of(samples, dev)
                    .find(|v| {
                        v.name == "wardflux_device_sensor_value"
                            && v.label("mib") == s.label("mib")
                            && v.label("sensor_index") == s.label("sensor_index")
                    })
                    .expect("a temperature without its sensor value");
                assert_eq!(v.label("sensor_type"), "celsius", "{dev}: {s:?}");
                if s.name.ends_with("threshold_celsius") {
                    // The lowest greaterThan/greaterOrEqual threshold of severity major or
                    // critical, scaled like the value.
                    let prefix = format!("{}.", s.label("sensor_index"));
                    let raw = threshold_values
                        .iter()
                        .filter(|(k, _)| k.starts_with(&prefix))
                        .filter(|(k, _)| {
                            matches!(severity.get(*k).and_then(|v| number(v)), Some(20 | 30))
                                && matches!(relation.get(*k).and_then(|v| number(v)), Some(3 | 4))
                        })
                        .filter_map(|(_, v)| number(v))
                        .min()
                        .expect("a threshold the agent does not have");
                    let row = &cisco[s.label("sensor_index")];
                    let (e, p) = row.scaling.unwrap();
                    raw as f64 * 10f64.powi(e) / 10f64.powi(p as i32)
                } else {
                    v.f64()
                }
            }
        };
        assert!(close(s.f64(), want), "{dev}: {s:?}, want {want}");
    }
    seen.len()
}

/// Fans and supplies: 1 normal, 0 failing, none for notPresent.
fn compare_components(samples: &[Sample], agent: &Agent) -> usize {
    let dev = agent.device;
    let mut n = 0;
    for (component, table) in [("fan", FAN), ("power_supply", SUPPLY)] {
        let states = agent.walk(&format!("{table}.3"));
        let names = agent.walk(&format!("{table}.2"));
        let want: BTreeMap<String, u8> = states
            .iter()
            .filter_map(|(k, v)| match number(v)? {
                1 => Some((k.clone(), 1)),
                2 | 3 | 4 | 6 => Some((k.clone(), 0)),
                _ => None,
            })
            .collect();
        let got: BTreeMap<String, u8> = of(samples, dev)
            .filter(|s| {
                s.name == "wardflux_device_component_ok" && s.label("component") == component
            })
            .map(|s| {
                assert_eq!(
                    s.label("name"),
                    text(&names[s.label("index")]),
                    "{dev}: {s:?}"
                );
                (s.label("index").to_string(), s.value.parse().unwrap())
            })
            .collect();
        assert_eq!(got, want, "{dev}: {component}");
        n += got.len();
    }
    n
}

/// Optical levels: the agent's own tie (climb entPhysicalContainedIn to an entity with an
/// alias mapping to an ifIndex), the interface's labels, the sensor's scaled value in dBm.
fn compare_optics(samples: &[Sample], agent: &Agent) -> usize {
    let dev = agent.device;
    let parent = agent.walk(ENT_CONTAINED_IN);
    let alias = agent.walk(ENT_ALIAS);
    let if_names = agent.walk(IF_NAME);
    let tie = |mut at: String| -> Option<String> {
        for _ in 0..16 {
            let maps: BTreeSet<&String> = alias
                .iter()
                .filter(|(k, _)| k.split('.').next() == Some(at.as_str()))
                .map(|(_, v)| v)
                .collect();
            if !maps.is_empty() {
                let [one] = maps.into_iter().collect::<Vec<_>>()[..] else {
                    return None;
                };
                return one
                    .strip_prefix(".1.3.6.1.2.1.2.2.1.1.")
                    .map(str::to_string);
            }
            at = parent.get(&at).filter(|p| *p != "0")?.clone();
        }
        None
    };
    let mut n = 0;
    for s in of(samples, dev).filter(|s| s.name.starts_with("wardflux_interface_optical_")) {
        let sensor = of(samples, dev)
            .find(|v| {
                v.name == "wardflux_device_sensor_value"
                    && v.label("sensor_index") == s.label("sensor_index")
                    && v.label("sensor") == s.label("sensor")
            })
            .expect("an optical level without its sensor value");
        assert_eq!(sensor.label("sensor_type"), "dbm", "{dev}: {s:?}");
        assert_eq!(s.value, sensor.value, "{dev}: {s:?}");
        let if_index = tie(s.label("sensor_index").to_string());
        assert_eq!(
            Some(s.label("ifIndex")),
            if_index.as_deref(),
            "{dev}: {s:?}"
        );
        assert_eq!(
            s.label("ifName"),
            text(&if_names[s.label("ifIndex")]),
            "{dev}: {s:?}"
        );
        let dir = if s.name.ends_with("rx_dbm") {
            "Receive"
        } else {
            "Transmit"
        };
        assert!(s.label("sensor").contains(dir), "{dev}: {s:?}");
        n += 1;
    }
    // Every dBm sensor the agent ties is served tied; the others are not.
    let tied = of(samples, dev)
        .filter(|s| s.name == "wardflux_device_sensor_value" && s.label("sensor_type") == "dbm")
        .filter(|s| {
            let name = s.label("sensor");
            (name.contains("Receive") || name.contains("Transmit"))
                && tie(s.label("sensor_index").to_string())
                    .is_some_and(|i| if_names.contains_key(&i))
        })
        .count();
    assert_eq!(n, tied, "{dev}: optical levels served vs tied by the agent");
    n
}

#[test]
fn recorded_environment_matches_snmpbulkwalk() {
    let c3750 = "network/switch/cisco-c3750";
    let c3560 = "network/switch/cisco-c3560";
    let big = "network/appliance/cisco-unknown-01";
    // Sensors with thresholds and dBm rows, but no alias mapping: nothing can be tied.
    let n5000 = "network/switch/cisco-n5000";
    // RFC 3433 entPhySensorTable only.
    let arista = "cloud/arista-dcs-7150s-52-cl";
    // None of these MIBs: no series, nothing on the poll.
    let old = "network/router/cisco-unmarked-0";
    let recordings = [c3750, c3560, big, n5000, arista, old];
    let sim = Snmpsim::start("recordings-envmon", &recordings);
    let mut ex = Exporter::start(&config(&sim.addr(), &recordings), &[]);
    let names: Vec<&str> = recordings.iter().map(|r| community_of(r)).collect();
    ex.wait_devices_up(&names, Duration::from_secs(240));
    let samples = ex.metrics();
    let addr = sim.addr();
    let agent = |r: &'static str| Agent {
        addr: &addr,
        device: community_of(r),
    };
    let n = |c: &Counts, m: &str| c.get(m).copied().unwrap_or(0);
    let mut report = Vec::new();
    for r in recordings {
        let a = agent(r);
        let raw = compare_raw(&samples, &a);
        let scaled = compare_scaled(&samples, &a);
        let components = compare_components(&samples, &a);
        let optics = compare_optics(&samples, &a);
        report.push(format!(
            "{}: raw {raw:?}, scaled {scaled}, components {components}, optics {optics}",
            a.device
        ));
        match r {
            _ if r == c3750 => {
                assert_eq!(n(&raw, "entSensorValue"), 10, "{raw:?}");
                assert_eq!(components, 2, "one fan, one supply: {raw:?}");
                assert_eq!(optics, 4, "Gi1/0/1 and Gi1/0/6, Rx and Tx");
                assert!(of(&samples, a.device).any(|s| {
                    s.name == "wardflux_interface_optical_rx_dbm" && s.label("ifName") == "Gi1/0/1"
                }));
            }
            _ if r == c3560 => {
                assert!(n(&raw, "ciscoEnvMonTemperatureStatusValue") + components > 0)
            }
            _ if r == big => {
                assert!(n(&raw, "entSensorThresholdValue") > 250, "{raw:?}");
                assert!(n(&raw, "ciscoEnvMonTemperatureStatusValue") > 0, "{raw:?}");
                assert!(optics > 0, "{raw:?}");
                assert!(of(&samples, a.device).any(|s| {
                    s.name == "wardflux_device_temperature_threshold_celsius"
                        && s.label("mib") == "CISCO-ENTITY-SENSOR-MIB"
                }));
            }
            _ if r == n5000 => {
                assert!(n(&raw, "entSensorThresholdValue") > 250, "{raw:?}");
                assert_eq!(optics, 0, "no alias mapping: untied");
                assert!(of(&samples, a.device).any(|s| s.label("sensor_type") == "dbm"));
            }
            _ if r == arista => {
                assert!(n(&raw, "entPhySensorValue") > 50, "{raw:?}");
                assert!(scaled > 50, "{scaled}");
            }
            _ => assert!(
                raw.is_empty() && scaled == 0 && components == 0,
                "{}: environment series without the MIBs",
                a.device
            ),
        }
    }
    eprintln!("{}", report.join("\n"));
}
