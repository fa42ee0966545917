//! Label sets and their stable fingerprints: one alert per label set, keyed by a hash that
//! survives restarts and compiler upgrades (FNV-1a over the sorted pairs).

use std::collections::BTreeMap;
use std::fmt;

/// A label set, sorted by name so that equal sets hash and print alike.
pub type Labels = BTreeMap<String, String>;

/// The label holding a metric's name; dropped from alert labels.
pub const METRIC_NAME: &str = "__name__";
/// The label every alert carries with its rule's name.
pub const ALERT_NAME: &str = "alertname";

/// A stable 64-bit hash of a label set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    /// Hashes `labels` with FNV-1a; names and values are separated by bytes that cannot occur
    /// in UTF-8 text so that `{a="bc"}` and `{ab="c"}` differ.
    pub fn of(labels: &Labels) -> Self {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut h = OFFSET;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(PRIME);
            }
        };
        for (k, v) in labels {
            eat(k.as_bytes());
            eat(&[0xff]);
            eat(v.as_bytes());
            eat(&[0xfe]);
        }
        Fingerprint(h)
    }

    /// Parses the 16-digit hex form written by `Display`.
    pub fn parse(s: &str) -> Option<Self> {
        u64::from_str_radix(s, 16).ok().map(Fingerprint)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Renders labels as `{a="1", b="2"}` for logs and error messages.
pub fn display(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fingerprint_is_stable_and_order_independent() {
        let a = ls(&[("device", "CORE-SW-01"), ("ifName", "Gi0/0/0")]);
        let b = ls(&[("ifName", "Gi0/0/0"), ("device", "CORE-SW-01")]);
        assert_eq!(Fingerprint::of(&a), Fingerprint::of(&b));
        // A fixed value: changing the hash would orphan every open row after an upgrade.
        assert_eq!(Fingerprint::of(&ls(&[])).to_string(), "cbf29ce484222325");
    }

    #[test]
    fn fingerprint_separates_names_from_values() {
        let a = ls(&[("a", "bc")]);
        let b = ls(&[("ab", "c")]);
        assert_ne!(Fingerprint::of(&a), Fingerprint::of(&b));
    }

    #[test]
    fn fingerprint_round_trips_through_hex() {
        let f = Fingerprint::of(&ls(&[("x", "y")]));
        assert_eq!(Fingerprint::parse(&f.to_string()), Some(f));
    }
}
