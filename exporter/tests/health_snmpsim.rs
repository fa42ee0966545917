//! Device health (CPU, memory) from real device recordings replayed by snmpsim: every value the
//! exporter serves under a MIB object's name equals what `snmpbulkwalk` reads from the same
//! agent, every row of the agent's tables is served, CPUs carry the agent's entPhysicalName,
//! and the `wardflux_*` summaries follow from the served values.
//!
//! Needs: Debian snmpsim, snmp, bzip2; PyPI snmpsim-data.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{bulkwalk, community_of, Exporter, Sample, Snmpsim};

/// Series name → (column OID, its index labels in order). Written out here on purpose (not
/// taken from the exporter) so the test is an independent check.
const COLUMNS: &[(&str, &str, &[&str])] = &[
    (
        "cpmCPUTotal1minRev",
        "1.3.6.1.4.1.9.9.109.1.1.1.1.7",
        &["cpmCPUTotalIndex"],
    ),
    (
        "cpmCPUTotal5minRev",
        "1.3.6.1.4.1.9.9.109.1.1.1.1.8",
        &["cpmCPUTotalIndex"],
    ),
    (
        "cpmCPUTotal1min",
        "1.3.6.1.4.1.9.9.109.1.1.1.1.4",
        &["cpmCPUTotalIndex"],
    ),
    (
        "cpmCPUTotal5min",
        "1.3.6.1.4.1.9.9.109.1.1.1.1.5",
        &["cpmCPUTotalIndex"],
    ),
    (
        "hrProcessorLoad",
        "1.3.6.1.2.1.25.3.3.1.2",
        &["hrDeviceIndex"],
    ),
    (
        "cempMemPoolUsed",
        "1.3.6.1.4.1.9.9.221.1.1.1.1.7",
        &["entPhysicalIndex", "cempMemPoolIndex"],
    ),
    (
        "cempMemPoolFree",
        "1.3.6.1.4.1.9.9.221.1.1.1.1.8",
        &["entPhysicalIndex", "cempMemPoolIndex"],
    ),
    (
        "cempMemPoolHCUsed",
        "1.3.6.1.4.1.9.9.221.1.1.1.1.18",
        &["entPhysicalIndex", "cempMemPoolIndex"],
    ),
    (
        "cempMemPoolHCFree",
        "1.3.6.1.4.1.9.9.221.1.1.1.1.20",
        &["entPhysicalIndex", "cempMemPoolIndex"],
    ),
    (
        "ciscoMemoryPoolUsed",
        "1.3.6.1.4.1.9.9.48.1.1.1.5",
        &["ciscoMemoryPoolType"],
    ),
    (
        "ciscoMemoryPoolFree",
        "1.3.6.1.4.1.9.9.48.1.1.1.6",
        &["ciscoMemoryPoolType"],
    ),
    (
        "hrStorageAllocationUnits",
        "1.3.6.1.2.1.25.2.3.1.4",
        &["hrStorageIndex"],
    ),
    (
        "hrStorageSize",
        "1.3.6.1.2.1.25.2.3.1.5",
        &["hrStorageIndex"],
    ),
    (
        "hrStorageUsed",
        "1.3.6.1.2.1.25.2.3.1.6",
        &["hrStorageIndex"],
    ),
];

const ENT_PHYSICAL_NAME: &str = "1.3.6.1.2.1.47.1.1.1.1.7";
const CPM_PHYSICAL_INDEX: &str = "1.3.6.1.4.1.9.9.109.1.1.1.1.2";
const POOL_NAME: &str = "1.3.6.1.4.1.9.9.48.1.1.1.2";
const STORAGE_DESCR: &str = "1.3.6.1.2.1.25.2.3.1.3";

/// `-Oq` prints strings in quotes (and hex strings as hex): compare text without them.
fn text(v: &str) -> String {
    v.trim_matches('"').to_string()
}

fn first_number(v: &str) -> Option<i128> {
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

/// Compare one device's health series with the agent; returns samples compared by name.
fn compare_device(samples: &[Sample], agent: &str, device: &str) -> BTreeMap<String, usize> {
    let args = ["-v2c", "-c", device];
    let mut compared = BTreeMap::new();
    let mut problems = Vec::new();
    for (metric, oid, index_labels) in COLUMNS {
        let walked = bulkwalk(&args, agent, oid);
        let mut served = BTreeSet::new();
        for s in samples
            .iter()
            .filter(|s| s.label("device") == device && s.name == *metric)
        {
            assert_eq!(
                s.label("site"),
                "lab",
                "{device}: {metric} without target labels"
            );
            let idx = index_labels
                .iter()
                .map(|l| s.label(l))
                .collect::<Vec<_>>()
                .join(".");
            match walked.get(&idx) {
                // The first word: a MIB's UNITS (`Bytes`) may follow the number.
                Some(v) if first_number(v).is_some() && first_number(v) == s.value.parse().ok() => {
                }
                other => problems.push(format!(
                    "{oid}.{idx} ({metric}): agent says {other:?}, /metrics says {}",
                    s.value
                )),
            }
            served.insert(idx);
            *compared.entry(metric.to_string()).or_insert(0) += 1;
        }
        // The deprecated CPU columns are read only where the Rev ones are absent.
        let deprecated = metric.starts_with("cpmCPUTotal") && !metric.ends_with("Rev");
        if !deprecated || bulkwalk(&args, agent, "1.3.6.1.4.1.9.9.109.1.1.1.1.8").is_empty() {
            let agent_rows: BTreeSet<String> = walked.keys().cloned().collect();
            if agent_rows != served {
                problems.push(format!(
                    "{metric}: agent rows {agent_rows:?}, served {served:?}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{device}:\n{}", problems.join("\n"));

    // Names: each CPU's entPhysicalName, each pool's and storage row's own name.
    let phys = bulkwalk(&args, agent, CPM_PHYSICAL_INDEX);
    let names = bulkwalk(&args, agent, ENT_PHYSICAL_NAME);
    let pools = bulkwalk(&args, agent, POOL_NAME);
    let descrs = bulkwalk(&args, agent, STORAGE_DESCR);
    for s in samples.iter().filter(|s| s.label("device") == device) {
        if s.name.starts_with("cpmCPUTotal") {
            let want = phys
                .get(s.label("cpmCPUTotalIndex"))
                .and_then(|p| names.get(p))
                .map(|n| text(n))
                .unwrap_or_default();
            assert_eq!(s.label("entPhysicalName"), want, "{device}: {s:?}");
        }
        if s.name.starts_with("ciscoMemoryPool") {
            let want = text(&pools[s.label("ciscoMemoryPoolType")]);
            assert_eq!(s.label("ciscoMemoryPoolName"), want, "{device}: {s:?}");
        }
        if s.name.starts_with("hrStorage") {
            let want = text(&descrs[s.label("hrStorageIndex")]);
            assert_eq!(s.label("hrStorageDescr"), want, "{device}: {s:?}");
        }
    }
    compared
}

fn value(samples: &[Sample], device: &str, name: &str, label: &str, idx: &str) -> f64 {
    samples
        .iter()
        .find(|s| s.label("device") == device && s.name == name && s.label(label) == idx)
        .unwrap_or_else(|| panic!("{device}: no {name}{{{label}={idx}}}"))
        .f64()
}

#[test]
fn recorded_cpu_and_memory_match_snmpbulkwalk() {
    let c3750 = "network/switch/cisco-c3750";
    let six_cpus = "network/appliance/cisco-unknown-01";
    // CISCO-PROCESS-MIB without the Rev columns: the deprecated ones are read instead.
    let old_cpm = "network/router/cisco-unmarked-0";
    let linux = "os/linux/unknown-002";
    let arista = "cloud/arista-dcs-7150s-52-cl";
    // No health MIB at all: a device like this costs nothing on the poll.
    let bare = "network/firewall/topsec-ngfw4000-uf";
    let recordings = [c3750, six_cpus, old_cpm, linux, arista, bare];
    let sim = Snmpsim::start("recordings-health", &recordings);
    let mut ex = Exporter::start(&config(&sim.addr(), &recordings), &[]);
    let names: Vec<&str> = recordings.iter().map(|r| community_of(r)).collect();
    ex.wait_devices_up(&names, Duration::from_secs(180));
    let samples = ex.metrics();
    let n = |got: &BTreeMap<String, usize>, m: &str| got.get(m).copied().unwrap_or(0);

    let dev = community_of(c3750);
    let got = compare_device(&samples, &sim.addr(), dev);
    assert_eq!(n(&got, "cpmCPUTotal5minRev"), 1, "{dev}: {got:?}");
    assert_eq!(
        n(&got, "cpmCPUTotal5min"),
        0,
        "{dev}: deprecated CPU column read"
    );
    assert_eq!(n(&got, "ciscoMemoryPoolUsed"), 3, "{dev}: {got:?}");
    // Summaries: the 5-minute CPU load, and the used share of each pool.
    let five = value(&samples, dev, "cpmCPUTotal5minRev", "cpmCPUTotalIndex", "1");
    let ratio = value(&samples, dev, "wardflux_device_cpu_ratio", "cpu", "1");
    assert_eq!(ratio, five / 100.0);
    let used = value(
        &samples,
        dev,
        "ciscoMemoryPoolUsed",
        "ciscoMemoryPoolType",
        "1",
    );
    let free = value(
        &samples,
        dev,
        "ciscoMemoryPoolFree",
        "ciscoMemoryPoolType",
        "1",
    );
    let mem = value(
        &samples,
        dev,
        "wardflux_device_memory_used_ratio",
        "pool_index",
        "1",
    );
    assert!((mem - used / (used + free)).abs() < 1e-12, "{mem}");

    let dev = community_of(six_cpus);
    let got = compare_device(&samples, &sim.addr(), dev);
    assert_eq!(n(&got, "cpmCPUTotal1minRev"), 6, "{dev}: {got:?}");
    assert!(
        samples
            .iter()
            .filter(|s| s.label("device") == dev && s.name == "cpmCPUTotal1minRev")
            .all(|s| !s.label("entPhysicalName").is_empty()),
        "{dev}: a CPU without its entPhysicalName"
    );

    let dev = community_of(old_cpm);
    let got = compare_device(&samples, &sim.addr(), dev);
    assert_eq!(n(&got, "cpmCPUTotal5min"), 1, "{dev}: {got:?}");
    assert_eq!(n(&got, "cpmCPUTotal5minRev"), 0, "{dev}: {got:?}");
    assert_eq!(n(&got, "ciscoMemoryPoolFree"), 2, "{dev}: {got:?}");

    for r in [linux, arista] {
        let dev = community_of(r);
        let got = compare_device(&samples, &sim.addr(), dev);
        assert!(n(&got, "hrProcessorLoad") > 0, "{dev}: {got:?}");
        assert!(n(&got, "hrStorageUsed") > 0, "{dev}: {got:?}");
        let cpus = samples
            .iter()
            .filter(|s| s.label("device") == dev && s.name == "wardflux_device_cpu_ratio")
            .count();
        assert_eq!(
            cpus,
            n(&got, "hrProcessorLoad"),
            "{dev}: one CPU ratio per processor"
        );
        assert!(
            samples
                .iter()
                .any(|s| s.label("device") == dev && s.name == "wardflux_device_memory_used_ratio"),
            "{dev}: no memory ratio from its RAM row"
        );
    }

    let dev = community_of(bare);
    let got = compare_device(&samples, &sim.addr(), dev);
    assert!(
        got.is_empty(),
        "{dev}: health series on a device without the MIBs: {got:?}"
    );
}
