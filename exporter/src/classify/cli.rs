//! `wardflux-exporter classify`: classify interface descriptions from stdin, one JSON object out per line.
//!
//! Input lines are plain text (taken as the alias) or a JSON object with any of `alias`, `descr`, `name`,
//! `if_type` (also `device`, `if_index`, `speed_bps`, `admin_up`; other keys are ignored, so a labelled
//! corpus can be piped in). Each output line has `interface_type`, `isp_provider`, `is_critical`,
//! `confidence`, `rule`; with `--explain` also `explain`. A bad line gives `{"error": ...}` on its line.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{Classification, Classifier, Explanation, IfFacts};

#[derive(Debug, Default, Deserialize)]
struct Line {
    #[serde(default)]
    alias: String,
    #[serde(default)]
    descr: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    if_type: u32,
    #[serde(default)]
    device: String,
    #[serde(default)]
    if_index: u32,
    #[serde(default)]
    speed_bps: u64,
    #[serde(default = "yes")]
    admin_up: bool,
}

fn yes() -> bool {
    true
}

/// Reads interfaces from `input` and writes one JSON classification per line to `out`.
pub fn run(
    mut input: impl BufRead,
    mut out: impl Write,
    c: &Classifier,
    explain: bool,
) -> std::io::Result<()> {
    let labels = BTreeMap::new();
    let mut buf = Vec::new();
    let mut n = 0usize;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        n += 1;
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end_matches(['\n', '\r']);
        let value = if text.trim_start().starts_with('{') {
            match serde_json::from_str::<Line>(text) {
                Ok(l) => classify_line(c, &l, &labels, explain),
                Err(e) => json!({ "error": format!("line {n}: not an interface object: {e}") }),
            }
        } else {
            let l = Line {
                alias: text.to_string(),
                admin_up: true,
                ..Line::default()
            };
            classify_line(c, &l, &labels, explain)
        };
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

fn classify_line(
    c: &Classifier,
    l: &Line,
    labels: &BTreeMap<String, String>,
    explain: bool,
) -> Value {
    let f = IfFacts {
        device: &l.device,
        device_labels: labels,
        if_index: l.if_index,
        alias: &l.alias,
        descr: &l.descr,
        name: &l.name,
        if_type: l.if_type,
        speed_bps: l.speed_bps,
        admin_up: l.admin_up,
    };
    if explain {
        let (r, ex) = c.explain(&f);
        let mut v = to_json(&r);
        v.insert("explain".into(), explain_json(&ex));
        Value::Object(v)
    } else {
        Value::Object(to_json(&c.classify(&f)))
    }
}

fn to_json(r: &Classification) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("interface_type".into(), r.interface_type.as_str().into());
    m.insert(
        "isp_provider".into(),
        r.isp_provider.as_deref().map_or(Value::Null, Value::from),
    );
    m.insert("is_critical".into(), r.is_critical.into());
    m.insert(
        "confidence".into(),
        ((r.confidence as f64 * 1000.0).round() / 1000.0).into(),
    );
    m.insert("rule".into(), r.rule.as_ref().into());
    m
}

fn explain_json(ex: &Explanation) -> Value {
    let mut m = Map::new();
    m.insert(
        "alias_normalised".into(),
        ex.alias_normalised.as_str().into(),
    );
    m.insert(
        "alias_ignored".into(),
        ex.alias_ignored.as_deref().map_or(Value::Null, Value::from),
    );
    for d in &ex.decisions {
        let evidence: Vec<Value> = d
            .evidence
            .iter()
            .map(|e| json!({ "field": e.field, "pattern": e.pattern, "matched": e.matched }))
            .collect();
        m.insert(
            d.output.into(),
            json!({ "rule": &*d.rule, "evidence": evidence }),
        );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], explain: bool) -> Vec<Value> {
        let mut out = Vec::new();
        run(input, &mut out, &Classifier::embedded_default(), explain).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn plain_and_json_lines_give_one_object_each() {
        let v = lines(
            b"Magti_Internet\n{\"alias\":\"\",\"descr\":\"Loopback0\",\"name\":\"Lo0\",\"if_type\":24,\"expect\":{}}\n",
            false,
        );
        assert_eq!(v.len(), 2);
        assert_eq!(v[0]["interface_type"], "isp");
        assert_eq!(v[0]["isp_provider"], "magti");
        assert_eq!(v[0]["is_critical"], true);
        assert!(v[0]["confidence"].as_f64().unwrap() > 0.5);
        assert!(v[0]["rule"].is_string());
        assert_eq!(v[1]["interface_type"], "loopback");
        assert_eq!(v[1]["isp_provider"], Value::Null);
        assert!(v[0].get("explain").is_none());
    }

    #[test]
    fn bad_lines_give_an_error_object_in_place() {
        let v = lines(
            b"{\"alias\": 5}\n{broken\nUser PC\n\xff\xfeVOICE\r\n",
            false,
        );
        assert_eq!(v.len(), 4);
        assert!(v[0]["error"].as_str().unwrap().starts_with("line 1:"));
        assert!(v[1]["error"].as_str().unwrap().starts_with("line 2:"));
        assert_eq!(v[2]["interface_type"], "access");
        assert_eq!(v[3]["interface_type"], "voice");
    }

    #[test]
    fn explain_adds_field_and_pattern_per_output() {
        let v = lines(b"ISP2_Silknet_FTTB 200M\n", true);
        let ex = &v[0]["explain"];
        assert_eq!(ex["alias_normalised"], "ISP 2 Silknet FTTB 200 M");
        let t = &ex["interface_type"];
        assert_eq!(t["rule"], v[0]["rule"]);
        assert_eq!(t["evidence"][0]["field"], "alias");
        assert!(t["evidence"][0]["pattern"].is_string());
        assert!(ex["isp_provider"]["rule"].is_string());
        assert!(ex["is_critical"]["rule"].is_string());
    }
}
