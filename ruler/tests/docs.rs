//! `docs/configuration.md` against the code: every field of the exporter's configuration
//! structs, of the web configuration and of the ruler's outages file (read from their source,
//! serde renames applied) and every long flag of both programs (the shared `--web.*` ones
//! included) must appear in it, so a new setting cannot ship undocumented.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    let p = repo().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// The YAML keys of `struct NAME` in `src`: its field names, or their `rename`.
fn struct_fields(src: &str, name: &str, file: &str) -> Vec<String> {
    let start = src
        .find(&format!("pub struct {name} {{"))
        .or_else(|| src.find(&format!("struct {name} {{")))
        .unwrap_or_else(|| panic!("{file}: struct {name} not found"));
    let body = &src[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
    let mut fields = Vec::new();
    let mut rename: Option<String> = None;
    for line in body.lines().map(str::trim) {
        if line.starts_with("#[serde(") {
            if let Some(i) = line.find("rename = \"") {
                let r = &line[i + "rename = \"".len()..];
                rename = Some(r[..r.find('"').unwrap()].to_string());
            }
            continue;
        }
        if line.starts_with("//") || line.starts_with("#[") || line.is_empty() {
            continue;
        }
        let decl = line.strip_prefix("pub ").unwrap_or(line);
        if let Some((field, _)) = decl.split_once(':') {
            let field = field.trim();
            if field.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                fields.push(rename.take().unwrap_or_else(|| field.to_string()));
            }
        }
        rename = None;
    }
    assert!(!fields.is_empty(), "{file}: no fields read from {name}");
    fields
}

/// `--name` of every `long = "name"` in `src`.
fn long_flags(src: &str) -> Vec<String> {
    src.split("long = \"")
        .skip(1)
        .map(|s| format!("--{}", &s[..s.find('"').unwrap()]))
        .collect()
}

fn doc() -> String {
    read("docs/configuration.md")
}

fn missing(names: &[String], doc: &str) -> Vec<String> {
    names
        .iter()
        .filter(|n| !doc.contains(&format!("`{n}`")))
        .cloned()
        .collect()
}

#[test]
fn every_exporter_config_field_is_documented() {
    let doc = doc();
    let mut checked = Vec::new();
    for (file, structs) in [
        (
            "exporter/src/config.rs",
            &["RawConfig", "RawAuth", "RawTarget", "RawTargetsSql"][..],
        ),
        (
            "exporter/src/classify/config.rs",
            &["ClassificationConfig", "Override"][..],
        ),
        (
            "exporter/src/topology/config.rs",
            &["RawTopology", "RawLink"][..],
        ),
        (
            "crates/web/src/config.rs",
            &[
                "RawWebConfig",
                "RawTlsServerConfig",
                "RawHttpServerConfig",
                "RawHeaders",
            ][..],
        ),
    ] {
        let src = read(file);
        for s in structs {
            checked.extend(struct_fields(&src, s, file));
        }
    }
    assert!(
        checked.iter().any(|f| f == "type")
            && checked.iter().any(|f| f == "max_concurrent_devices"),
        "field parsing missed known fields: {checked:?}"
    );
    let gaps = missing(&checked, &doc);
    assert!(
        gaps.is_empty(),
        "docs/configuration.md does not document {gaps:?}"
    );
}

#[test]
fn every_outages_file_field_is_documented() {
    let doc = doc();
    let file = "ruler/src/outage/config.rs";
    let src = read(file);
    let mut checked = Vec::new();
    for s in [
        "RawFile",
        "RawOutages",
        "RawProvider",
        "RawPoller",
        "RawSeverities",
    ] {
        checked.extend(struct_fields(&src, s, file));
    }
    assert!(
        checked.iter().any(|f| f == "for") && checked.iter().any(|f| f == "min_share_sites"),
        "field parsing missed known fields: {checked:?}"
    );
    let gaps = missing(&checked, &doc);
    assert!(
        gaps.is_empty(),
        "docs/configuration.md does not document {gaps:?}"
    );
}

#[test]
fn every_flag_of_both_programs_is_documented() {
    let doc = doc();
    let mut flags = long_flags(&read("exporter/src/main.rs"));
    flags.extend(long_flags(&read("ruler/src/cli.rs")));
    flags.extend(long_flags(&read("crates/web/src/args.rs")));
    assert!(
        flags.iter().any(|f| f == "--shard.count")
            && flags.iter().any(|f| f == "--store.url")
            && flags.iter().any(|f| f == "--web.write-users"),
        "flag parsing missed known flags: {flags:?}"
    );
    let gaps = missing(&flags, &doc);
    assert!(
        gaps.is_empty(),
        "docs/configuration.md does not document {gaps:?}"
    );
}

#[test]
fn field_reading_follows_serde_renames() {
    let src = "pub struct X {\n    /// doc: with a colon\n    pub a_b: u32,\n    #[serde(default, rename = \"type\")]\n    pub ty: Option<String>,\n    #[serde(default)]\n    c: Vec<u8>,\n}\n";
    assert_eq!(struct_fields(src, "X", "t"), ["a_b", "type", "c"]);
}
