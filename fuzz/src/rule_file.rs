//! Ruler rule-file text (Prometheus rule groups) through YAML parsing, PromQL parsing,
//! template parsing and validation, with and without deferring MetricsQL to the datasource.
//! Every error names the file; the templates of a valid file render.

use std::path::Path;

use wardflux_ruler::config::{parse_file, LoadOptions, RuleKind};
use wardflux_ruler::labels::Labels;
use wardflux_ruler::template::Context;

pub fn run(data: &[u8]) {
    let text = crate::text(data);
    for allow_remote_check in [false, true] {
        let opts = LoadOptions {
            allow_remote_check,
            ..LoadOptions::default()
        };
        match parse_file(Path::new("fuzz.yml"), &text, &opts) {
            Ok(groups) => {
                let labels: Labels = [("device", "Gori-0101"), ("ifName", "Gi0/1")]
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let ctx = Context {
                    labels: &labels,
                    value: 1234.5,
                };
                for g in &groups {
                    for r in &g.rules {
                        let _ = r.identity();
                        for t in r.labels.values() {
                            let _ = t.render(&ctx);
                        }
                        if let RuleKind::Alert { annotations, .. } = &r.kind {
                            for t in annotations.values() {
                                let _ = t.render(&ctx);
                            }
                        }
                    }
                }
            }
            Err(errors) => {
                for e in &errors.0 {
                    assert!(e.to_string().contains("fuzz.yml"), "{e}");
                }
            }
        }
    }
}
