//! Just enough Prometheus text parsing for the bench: sums and counts of samples by name.

/// Sum and count of the samples of metric `name` (any labels).
pub fn sum(text: &str, name: &str) -> (f64, usize) {
    let mut total = 0.0;
    let mut n = 0;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue;
        }
        if let Some(v) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            total += v;
            n += 1;
        }
    }
    (total, n)
}

/// Number of sample lines (series).
pub fn series(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// Values of `name` keyed by the value of label `key` and the label `index`, for matching
/// two programs' outputs: ((key value, index value), sample value).
pub fn samples_by(text: &str, name: &str, key: &str, index: &str) -> Vec<((String, String), f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let Some(labels) = rest.strip_prefix('{') else {
            continue;
        };
        let Some(close) = labels.rfind('}') else {
            continue;
        };
        let v = labels[close + 1..].trim().parse::<f64>();
        let labels = &labels[..close];
        let (Some(k), Some(i), Ok(v)) = (label(labels, key), label(labels, index), v) else {
            continue;
        };
        out.push(((k, i), v));
    }
    out
}

fn label(labels: &str, key: &str) -> Option<String> {
    let pat = format!("{key}=\"");
    let mut start = 0;
    while let Some(p) = labels[start..].find(&pat) {
        let at = start + p;
        if at == 0 || labels.as_bytes()[at - 1] == b',' {
            let v = &labels[at + pat.len()..];
            let mut out = String::new();
            let mut esc = false;
            for c in v.chars() {
                match (esc, c) {
                    (true, c) => {
                        out.push(c);
                        esc = false
                    }
                    (false, '\\') => esc = true,
                    (false, '"') => return Some(out),
                    (false, c) => out.push(c),
                }
            }
            return None;
        }
        start = at + pat.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "# HELP x y\nifHCInOctets{device=\"a\",ifIndex=\"1\"} 10\nifHCInOctets{device=\"a\",ifIndex=\"2\"} 5\nifHCInOctetsX{device=\"a\"} 7\nup 1\n";

    #[test]
    fn sums_only_the_named_metric() {
        assert_eq!(sum(T, "ifHCInOctets"), (15.0, 2));
        assert_eq!(sum(T, "up"), (1.0, 1));
        assert_eq!(series(T), 4);
    }

    #[test]
    fn samples_are_keyed_by_labels() {
        let s = samples_by(T, "ifHCInOctets", "device", "ifIndex");
        assert_eq!(s[1], (("a".to_string(), "2".to_string()), 5.0));
    }
}
