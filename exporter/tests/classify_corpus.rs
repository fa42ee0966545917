//! Corpus tests for interface classification: the public corpus and the bank corpus must classify 100% right.
//!
//! Data: `tests/data/classify-public.jsonl` (copy of the shared public corpus) and
//! `tests/data/classify-bank.jsonl` (labelled descriptions from a bank network, with traps).
//! Each line: `{"alias", "descr", "name", "if_type", "expect": {"type", "provider", "critical"}}`.
//! No external packages needed.

use std::collections::BTreeMap;

use serde::Deserialize;
use wardflux_exporter::classify::{Classifier, IfFacts, InterfaceType};

#[derive(Deserialize)]
struct Case {
    alias: String,
    descr: String,
    name: String,
    if_type: u32,
    expect: Expect,
}

#[derive(Deserialize)]
struct Expect {
    #[serde(rename = "type")]
    ty: String,
    provider: Option<String>,
    critical: bool,
}

fn load(file: &str) -> Vec<Case> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}:{}: {e}", n + 1)))
        .collect()
}

/// Classifies every case and returns the mismatches (one line each) plus the number of cases.
fn check(file: &str) -> (Vec<String>, usize) {
    let c = Classifier::embedded_default();
    let labels = BTreeMap::new();
    let cases = load(file);
    let mut bad = Vec::new();
    for (i, k) in cases.iter().enumerate() {
        let f = IfFacts {
            device: "test-device",
            device_labels: &labels,
            if_index: i as u32 + 1,
            alias: &k.alias,
            descr: &k.descr,
            name: &k.name,
            if_type: k.if_type,
            speed_bps: 1_000_000_000,
            admin_up: true,
        };
        let r = c.classify(&f);
        let got = (
            r.interface_type.as_str(),
            r.isp_provider.as_deref(),
            r.is_critical,
        );
        let want = (
            k.expect.ty.as_str(),
            k.expect.provider.as_deref(),
            k.expect.critical,
        );
        if got != want {
            bad.push(format!(
                "{file}:{}: alias {:?} name {:?}: got {got:?} (rule {}), want {want:?}",
                i + 1,
                k.alias,
                k.name,
                r.rule
            ));
        }
    }
    (bad, cases.len())
}

#[test]
fn public_corpus_classifies_fully() {
    let (bad, n) = check("classify-public.jsonl");
    assert!(n >= 37, "public corpus has {n} cases");
    assert!(
        bad.is_empty(),
        "{} of {n} wrong:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn bank_corpus_classifies_fully() {
    let (bad, n) = check("classify-bank.jsonl");
    assert!(n >= 150, "bank corpus has {n} cases");
    assert!(
        bad.is_empty(),
        "{} of {n} wrong:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn no_non_isp_port_is_marked_isp() {
    let c = Classifier::embedded_default();
    let labels = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in ["classify-public.jsonl", "classify-bank.jsonl"] {
        for k in load(file).iter().filter(|k| k.expect.ty != "isp") {
            let f = IfFacts {
                device: "test-device",
                device_labels: &labels,
                if_index: 1,
                alias: &k.alias,
                descr: &k.descr,
                name: &k.name,
                if_type: k.if_type,
                speed_bps: 0,
                admin_up: true,
            };
            if c.classify(&f).interface_type == InterfaceType::Isp {
                wrong.push(format!("{file}: {:?}", k.alias));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "non-ISP ports marked isp:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn lossy_and_huge_descriptions_classify_without_panic() {
    let c = Classifier::embedded_default();
    let labels = BTreeMap::new();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(100 * 1024).collect();
    let lossy = String::from_utf8_lossy(&bytes);
    let huge = format!("{}Magti_Internet", "x_".repeat(50 * 1024));
    let georgian = "მაგთი ინტერნეტი ".repeat(7000);
    for alias in [lossy.as_ref(), huge.as_str(), georgian.as_str()] {
        let f = IfFacts {
            device: alias,
            device_labels: &labels,
            if_index: 1,
            alias,
            descr: alias,
            name: "Gi0/0/0",
            if_type: 6,
            speed_bps: 0,
            admin_up: true,
        };
        let (r, ex) = c.explain(&f);
        assert!((0.0..=1.0).contains(&r.confidence));
        assert!(!ex.decisions.is_empty());
    }
    // The Georgian-script alias names Magti and the internet within the first characters looked at.
    let f = IfFacts {
        device: "d",
        device_labels: &labels,
        if_index: 1,
        alias: &georgian,
        descr: "GigabitEthernet0/0/0",
        name: "Gi0/0/0",
        if_type: 6,
        speed_bps: 0,
        admin_up: true,
    };
    let r = c.classify(&f);
    assert_eq!(
        (r.interface_type, r.isp_provider.as_deref()),
        (InterfaceType::Isp, Some("magti"))
    );
}
