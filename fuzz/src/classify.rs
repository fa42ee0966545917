//! The embedded classification rules on hostile interface facts. One interface per line,
//! tab-separated: `alias`, `descr`, `name`, `ifType`, `speed_bps`, `admin` (`0` for down) and
//! the `site` label; missing fields are empty or zero, bytes that are not UTF-8 are shown as the
//! exporter shows them (`\xNN`). Lines of `exporter/tests/data/classify-*.jsonl` seed it.
//!
//! Checked besides "no panic": `isp_provider` only on `isp`, confidence within 0..=1, and
//! `explain` decides exactly what `classify` decides.

use std::collections::BTreeMap;

use wardflux_exporter::classify::{IfFacts, InterfaceType};
use wardflux_exporter::mib::display_bytes;

pub fn run(data: &[u8]) {
    let c = crate::mib::classifier();
    for (i, line) in data.split(|&b| b == b'\n').take(64).enumerate() {
        let mut f = line.split(|&b| b == b'\t');
        let mut field = || display_bytes(f.next().unwrap_or_default()).into_owned();
        let (alias, descr, name) = (field(), field(), field());
        let if_type = field().trim().parse().unwrap_or(0);
        let speed_bps = field().trim().parse().unwrap_or(0);
        let admin_up = field().trim() != "0";
        let site = field();
        let labels = BTreeMap::from([("site".to_string(), site)]);
        let facts = IfFacts {
            device: "Isani-1111",
            device_labels: &labels,
            if_index: i as u32 + 1,
            alias: &alias,
            descr: &descr,
            name: &name,
            if_type,
            speed_bps,
            admin_up,
        };
        let got = c.classify(&facts);
        assert!(got.isp_provider.is_none() || got.interface_type == InterfaceType::Isp);
        assert!((0.0..=1.0).contains(&got.confidence), "{got:?}");
        let (explained, _) = c.explain(&facts);
        assert_eq!(got, explained);
    }
}
