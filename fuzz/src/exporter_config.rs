//! Exporter config text through YAML parsing, validation (auths, targets, durations,
//! classification overrides, topology roots and links) and, when it is valid, the classifier
//! it builds. Secrets come from a fake environment and must never show in the output or in
//! an error; an error's line lies inside the text.

use std::path::Path;

use wardflux_exporter::config::{self, ConfigError, Env};

/// Every variable is set, so `*_env` secrets resolve.
struct AnyEnv;

impl Env for AnyEnv {
    fn var(&self, name: &str) -> Option<String> {
        (!name.is_empty()).then(|| format!("secret-of-{name}"))
    }
}

/// Where the config pretends to live: relative `*_file` and `targets_files` entries resolve
/// to paths that do not exist.
const CONFIG_PATH: &str = "/nonexistent/wardflux-fuzz/exporter.yml";

pub fn run(data: &[u8]) {
    let text = crate::text(data);
    match config::parse(&text, Path::new(CONFIG_PATH), &AnyEnv) {
        Ok(cfg) => {
            if cfg.classification.rules_file.is_none() {
                let _ = cfg.classification.build(Path::new("/nonexistent"));
            }
            // Secrets read from the environment never show in what check-config prints.
            let shown = format!("{cfg:?}");
            assert!(!shown.contains("secret-of-"), "a secret in {shown}");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains("secret-of-"), "a secret in {msg}");
            if let ConfigError::Invalid { line, .. } = &e {
                // Lines as YAML counts them: a lone CR breaks a line too; an error at the end of
                // a file without a final line break is put on the line after the last.
                let breaks = text.replace("\r\n", "\n").matches(['\r', '\n']).count();
                assert!(*line <= breaks + 2, "line {line} past the end: {msg}");
            }
        }
    }
}
