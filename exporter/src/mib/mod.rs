//! MIB tables decoded into plain types. Pure: walked columns in, structs out.
//!
//! Invariant: nothing here does IO; every decoder accepts any varbinds without panicking.

pub mod bgp;
pub mod cdp;
pub mod envmon;
pub mod health;
pub mod if_mib;
pub mod ipaddr;
pub mod lldp;
pub mod rttmon;
pub mod system;

use std::borrow::Cow;

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
