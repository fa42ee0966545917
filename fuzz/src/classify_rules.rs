//! Classification rule-file text through YAML parsing, validation and regex compilation; a
//! file that compiles is used to classify a few interfaces. Errors carry a line in the file.

use std::collections::BTreeMap;
use std::sync::Arc;

use wardflux_exporter::classify::rules::RuleSet;
use wardflux_exporter::classify::{Classifier, IfFacts};

pub fn run(data: &[u8]) {
    let text = crate::text(data);
    match RuleSet::parse(&text, "fuzz.yml") {
        Ok(rules) => {
            let c = Classifier::new(Arc::new(rules));
            let labels = BTreeMap::from([("site".to_string(), "tbilisi".to_string())]);
            for (alias, name, if_type) in [
                ("Magti_Internet_100M", "Gi0/0/0", 6),
                ("", "Lo0", 24),
                ("uplink to core", "Po1", 161),
            ] {
                let _ = c.explain(&IfFacts {
                    device: "Isani-1111",
                    device_labels: &labels,
                    if_index: 1,
                    alias,
                    descr: name,
                    name,
                    if_type,
                    speed_bps: 100_000_000,
                    admin_up: true,
                });
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}
