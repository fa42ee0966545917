//! MIB tables decoded into plain types. Pure: walked columns in, structs out.
//!
//! Invariant: nothing here does IO; every decoder accepts any varbinds without panicking.

use std::borrow::Cow;

use crate::snmp::Oid;

/// A column's OID: `base.col`, or `base` itself for column 0 (a table whose base already is
/// the column, such as hrProcessorLoad).
pub(crate) fn column_oid(base: &[u32], col: u32) -> Oid {
    if col == 0 {
        Oid(base.to_vec())
    } else {
        Oid(base.to_vec()).child(&[col])
    }
}

/// One value a device poll may read (the health and environment MIBs' tables of them): the
/// series name, its help text, and the column it is read from.
#[derive(Debug)]
pub struct Polled {
    pub metric: &'static str,
    pub help: &'static str,
    pub(crate) base: &'static [u32],
    pub(crate) column: u32,
}

/// `polled!("name", TABLE, column, "help")`: one `Polled` entry of a table of them.
macro_rules! polled {
    ($m:literal, $base:expr, $col:literal, $help:literal) => {
        $crate::mib::Polled {
            metric: $m,
            help: $help,
            base: &$base,
            column: $col,
        }
    };
}

pub mod bgp;
pub mod cdp;
pub mod envmon;
pub mod health;
pub mod if_mib;
pub mod ipaddr;
pub mod lldp;
pub mod rttmon;
pub mod system;

/// Text of an OCTET STRING for humans and label values: UTF-8 as is; otherwise each byte
/// that is not part of valid UTF-8 becomes `\xNN` (and `\` becomes `\\`), so nothing is lost
/// and the result is valid UTF-8.
pub fn display_bytes(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let mut out = String::with_capacity(b.len() + 8);
            for chunk in b.utf8_chunks() {
                for c in chunk.valid().chars() {
                    if c == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(c);
                    }
                }
                for byte in chunk.invalid() {
                    out.push_str(&format!("\\x{byte:02X}"));
                }
            }
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::display_bytes;

    #[test]
    fn non_utf8_bytes_are_escaped_losslessly() {
        assert_eq!(display_bytes(b"Magti_Internet"), "Magti_Internet");
        assert_eq!(display_bytes(b"Uplink \xE1\x83"), "Uplink \\xE1\\x83");
        assert_eq!(display_bytes(b"a\\b\xFF"), "a\\\\b\\xFF");
        assert_eq!(display_bytes("თბილისი".as_bytes()), "თბილისი");
    }
}
