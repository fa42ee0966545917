//! Reads `.snmprec` recordings (`oid|type|value` lines, as snmpsim uses) into a template.
//!
//! Types: 2 Integer, 4 OctetString, 4x hex OctetString, 5 Null, 6 OID, 64/64x IpAddress,
//! 65 Counter32, 66 Gauge32, 67 TimeTicks, 68/68x Opaque, 70 Counter64. Lines we cannot
//! parse (comments, variation modules such as `2:numeric`, bad values) are skipped and counted.

use std::path::Path;
use std::sync::Arc;

use crate::data::{Device, Entry, Template, Value};

/// What a recording held.
#[derive(Debug)]
pub struct Loaded {
    pub template: Template,
    pub skipped: usize,
}

/// Errors reading a recording.
#[derive(Debug, thiserror::Error)]
pub enum SnmprecError {
    #[error("reading recording {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("recording {path} is bzip2-compressed: decompress it first (bzcat)")]
    Compressed { path: String },
}

/// Parses one dotted OID.
pub fn parse_oid(s: &str) -> Option<Vec<u32>> {
    let s = s.trim().trim_start_matches('.');
    if s.is_empty() {
        return None;
    }
    s.split('.').map(|p| p.parse().ok()).collect()
}

fn hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Parses one value of the given snmprec type.
pub fn parse_value(kind: &str, v: &str) -> Option<Value> {
    Some(match kind {
        "2" => Value::Integer(v.trim().parse().ok()?),
        "4" => Value::OctetString(v.as_bytes().to_vec()),
        "4x" => Value::OctetString(hex(v)?),
        "5" => Value::Null,
        "6" => Value::Oid(parse_oid(v)?),
        "64" => {
            let b: Vec<u8> = v
                .trim()
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            if b.len() != 4 {
                return None;
            }
            Value::IpAddress(b)
        }
        "64x" => {
            let b = hex(v)?;
            if b.len() != 4 {
                return None;
            }
            Value::IpAddress(b)
        }
        "65" => Value::Counter32(v.trim().parse().ok()?),
        "66" => Value::Gauge32(v.trim().parse().ok()?),
        "67" => Value::TimeTicks(v.trim().parse().ok()?),
        "68" => Value::Opaque(v.as_bytes().to_vec()),
        "68x" => Value::Opaque(hex(v)?),
        "70" => Value::Counter64(v.trim().parse().ok()?),
        _ => return None,
    })
}

/// Parses recording text.
pub fn parse(text: &str) -> Loaded {
    let mut entries = Vec::new();
    let mut skipped = 0;
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, '|');
        let (Some(oid), Some(kind), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            skipped += 1;
            continue;
        };
        match (parse_oid(oid), parse_value(kind, value)) {
            (Some(oid), Some(v)) => entries.push(Entry::fixed(oid, &v)),
            _ => skipped += 1,
        }
    }
    Loaded {
        template: Template::new(entries),
        skipped,
    }
}

/// Reads a recording file. Bytes that are not UTF-8 are replaced (hex types are unaffected).
pub fn load(path: &Path) -> Result<Loaded, SnmprecError> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| SnmprecError::Read {
        path: p.clone(),
        source,
    })?;
    if bytes.starts_with(b"BZh") {
        return Err(SnmprecError::Compressed { path: p });
    }
    Ok(parse(&String::from_utf8_lossy(&bytes)))
}

/// Loads every `*.snmprec` under `dir` as one device named by its path relative to `dir`
/// without the extension (`switch/cisco-c3750`), as snmpsim names communities. Returns the
/// devices and how many lines were skipped per file.
pub fn load_dir(dir: &Path) -> Result<Vec<(Device, usize)>, SnmprecError> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let name = f
            .strip_prefix(dir)
            .unwrap_or(&f)
            .with_extension("")
            .to_string_lossy()
            .replace(std::path::MAIN_SEPARATOR, "/");
        let l = load(&f)?;
        out.push((
            Device {
                seed: crate::data::mix(out.len() as u64 + 1),
                name,
                template: Arc::new(l.template),
                hostile: None,
                rebooted_at_ms: None,
            },
            l.skipped,
        ));
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), SnmprecError> {
    let err = |source| SnmprecError::Read {
        path: dir.display().to_string(),
        source,
    };
    for e in std::fs::read_dir(dir).map_err(err)? {
        let p = e.map_err(err)?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "snmprec") {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_types_real_recordings_use_and_skips_the_rest() {
        let text = "#CISCO BAD TEMP\n\
            1.3.6.1.2.1.1.1.0|4|Cisco IOS | with bar\n\
            1.3.6.1.2.1.2.2.1.6.1|4x|00d0ff00aa01\n\
            1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.9.1.516\n\
            1.3.6.1.2.1.4.20.1.1.10.0.0.1|64x|0a000001\n\
            1.3.6.1.2.1.4.20.1.2.10.0.0.1|64|10.0.0.1\n\
            1.3.6.1.2.1.2.2.1.10.1|65|4294967295\n\
            1.3.6.1.2.1.31.1.1.1.6.1|70|18446744073709551615\n\
            1.3.6.1.2.1.1.3.0|67:numeric|rate=1\n\
            1.3.6.1.2.1.2.1.0|2|-5\n";
        let l = parse(text);
        assert_eq!(l.skipped, 2);
        assert_eq!(l.template.len(), 8);
        let e = l.template.get(&[1, 3, 6, 1, 2, 1, 1, 1, 0]).unwrap();
        let mut want = Vec::new();
        Value::OctetString(b"Cisco IOS | with bar".to_vec()).encode(&mut want);
        assert_eq!(
            e.source,
            crate::data::Source::Static(want.into_boxed_slice())
        );
        let first = &l.template.entries()[0];
        assert_eq!(first.oid, [1, 3, 6, 1, 2, 1, 1, 1, 0], "entries are sorted");
    }
}
