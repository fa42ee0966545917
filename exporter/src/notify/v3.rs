//! Pure SNMPv3 (USM, RFC 3414 / 3826 / 7860) decoding of an inbound notification: parse the
//! message, authenticate it with a user's localized key, decrypt the scoped PDU (DES-CBC or
//! AES-128-CFB), and hand back the PDU's bytes for the trap check.
//!
//! Invariants: no IO; every length is checked before it is used, so any bytes give a value
//! or a `Reject`, never a panic (fuzz target `notification`); the HMAC is compared in constant
//! time over the message with its authentication parameters zeroed in a copy; an
//! unauthenticated (noAuthNoPriv) message is never accepted; password-to-key (1 MB of hashing)
//! runs once per user and password, localisation (one short hash) per message.

use hmac::{Hmac, Mac};

use super::decode::Reject;
use crate::snmp::session::{AuthProtocol, PrivProtocol};

/// A minimal BER reader: (tag, contents, rest).
pub(crate) fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, at) = if first & 0x80 == 0 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = at.checked_add(len)?;
    if end > b.len() {
        return None;
    }
    Some((tag, &b[at..end], &b[end..]))
}

fn expect(b: &[u8], tag: u8) -> Result<(&[u8], &[u8]), Reject> {
    match tlv(b) {
        Some((t, body, rest)) if t == tag => Ok((body, rest)),
        _ => Err(Reject::Malformed),
    }
}

fn int(body: &[u8]) -> Result<i64, Reject> {
    if body.is_empty() || body.len() > 8 {
        return Err(Reject::Malformed);
    }
    let mut v: i64 = if body[0] & 0x80 != 0 { -1 } else { 0 };
    for &x in body {
        v = (v << 8) | i64::from(x);
    }
    Ok(v)
}

/// The USM header of a v3 message, borrowed from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    pub flags: u8,
    pub engine_id: &'a [u8],
    pub boots: i64,
    pub time: i64,
    pub user: &'a [u8],
    pub auth_params: &'a [u8],
    /// Offset of the authentication parameters' contents in the datagram.
    pub auth_at: usize,
    pub priv_params: &'a [u8],
    /// The scoped PDU (plain SEQUENCE) or its encryption (OCTET STRING contents).
    pub data: &'a [u8],
    pub encrypted: bool,
}

const FLAG_AUTH: u8 = 1;
const FLAG_PRIV: u8 = 2;

/// Parse a v3 message's header. No key needed.
pub fn parse(d: &[u8]) -> Result<Header<'_>, Reject> {
    let (msg, _) = expect(d, 0x30)?;
    let (ver, rest) = expect(msg, 0x02)?;
    if int(ver)? != 3 {
        return Err(Reject::Malformed);
    }
    let (global, rest) = expect(rest, 0x30)?;
    let (_, g) = expect(global, 0x02)?; // msgID
    let (_, g) = expect(g, 0x02)?; // msgMaxSize
    let (flags, g) = expect(g, 0x04)?;
    let (model, _) = expect(g, 0x02)?;
    if flags.len() != 1 || int(model)? != 3 {
        return Err(Reject::Malformed);
    }
    let (sec, rest) = expect(rest, 0x04)?;
    let (usm, _) = expect(sec, 0x30)?;
    let (engine_id, u) = expect(usm, 0x04)?;
    let (boots, u) = expect(u, 0x02)?;
    let (time, u) = expect(u, 0x02)?;
    let (user, u) = expect(u, 0x04)?;
    let (auth_params, u) = expect(u, 0x04)?;
    let (priv_params, _) = expect(u, 0x04)?;
    let auth_at = auth_params.as_ptr() as usize - d.as_ptr() as usize;
    let (tag, contents, after) = tlv(rest).ok_or(Reject::Malformed)?;
    let (data, encrypted) = match tag {
        // The whole scoped PDU SEQUENCE, as decryption would give it.
        0x30 => (&rest[..rest.len() - after.len()], false),
        0x04 => (contents, true),
        _ => return Err(Reject::Malformed),
    };
    Ok(Header {
        flags: flags[0],
        engine_id,
        boots: int(boots)?,
        time: int(time)?,
        user,
        auth_params,
        auth_at,
        priv_params,
        data,
        encrypted,
    })
}

/// Password-to-key (RFC 3414 A.2, RFC 7860): the hash of the password repeated to 1 MB.
pub fn password_to_key(proto: AuthProtocol, password: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    fn run<D: Digest>(password: &[u8]) -> Vec<u8> {
        let mut h = D::new();
        if !password.is_empty() {
            let mut buf = [0u8; 64];
            let mut pos = 0usize;
            for _ in 0..(1_048_576 / 64) {
                for b in buf.iter_mut() {
                    *b = password[pos % password.len()];
                    pos += 1;
                }
                h.update(buf);
            }
        }
        h.finalize().to_vec()
    }
    match proto {
        AuthProtocol::Md5 => run::<md5::Md5>(password),
        AuthProtocol::Sha1 => run::<sha1::Sha1>(password),
        AuthProtocol::Sha224 => run::<sha2::Sha224>(password),
        AuthProtocol::Sha256 => run::<sha2::Sha256>(password),
        AuthProtocol::Sha384 => run::<sha2::Sha384>(password),
        AuthProtocol::Sha512 => run::<sha2::Sha512>(password),
    }
}

/// Localise a key to an engine: H(Ku || engineID || Ku).
pub fn localize(proto: AuthProtocol, ku: &[u8], engine_id: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    fn run<D: Digest>(ku: &[u8], e: &[u8]) -> Vec<u8> {
        let mut h = D::new();
        h.update(ku);
        h.update(e);
        h.update(ku);
        h.finalize().to_vec()
    }
    match proto {
        AuthProtocol::Md5 => run::<md5::Md5>(ku, engine_id),
        AuthProtocol::Sha1 => run::<sha1::Sha1>(ku, engine_id),
        AuthProtocol::Sha224 => run::<sha2::Sha224>(ku, engine_id),
        AuthProtocol::Sha256 => run::<sha2::Sha256>(ku, engine_id),
        AuthProtocol::Sha384 => run::<sha2::Sha384>(ku, engine_id),
        AuthProtocol::Sha512 => run::<sha2::Sha512>(ku, engine_id),
    }
}

/// Length of the truncated HMAC in msgAuthenticationParameters.
pub fn mac_len(proto: AuthProtocol) -> usize {
    match proto {
        AuthProtocol::Md5 | AuthProtocol::Sha1 => 12,
        AuthProtocol::Sha224 => 16,
        AuthProtocol::Sha256 => 24,
        AuthProtocol::Sha384 => 32,
        AuthProtocol::Sha512 => 48,
    }
}

fn hmac(proto: AuthProtocol, key: &[u8], data: &[u8]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }
    match proto {
        AuthProtocol::Md5 => run::<Hmac<md5::Md5>>(key, data),
        AuthProtocol::Sha1 => run::<Hmac<sha1::Sha1>>(key, data),
        AuthProtocol::Sha224 => run::<Hmac<sha2::Sha224>>(key, data),
        AuthProtocol::Sha256 => run::<Hmac<sha2::Sha256>>(key, data),
        AuthProtocol::Sha384 => run::<Hmac<sha2::Sha384>>(key, data),
        AuthProtocol::Sha512 => run::<Hmac<sha2::Sha512>>(key, data),
    }
}

/// A USM user's keys before localisation (`Ku` of each password).
#[derive(Clone)]
pub struct UserKeys {
    pub auth: (AuthProtocol, Vec<u8>),
    pub privacy: Option<(PrivProtocol, Vec<u8>)>,
}

impl std::fmt::Debug for UserKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UserKeys({:?}, <redacted>)", self.auth.0)
    }
}

/// Authenticate `d` (parsed as `h`) with `keys` and return the scoped PDU's bytes.
pub fn open(d: &[u8], h: &Header<'_>, keys: &UserKeys) -> Result<Vec<u8>, Reject> {
    if h.flags & FLAG_AUTH == 0 {
        return Err(Reject::V3NotAuthenticated);
    }
    let (proto, ku) = (&keys.auth.0, &keys.auth.1);
    let n = mac_len(*proto);
    if h.auth_params.len() != n {
        return Err(Reject::V3BadDigest);
    }
    let kul = localize(*proto, ku, h.engine_id);
    let mut copy = d.to_vec();
    copy[h.auth_at..h.auth_at + n].fill(0);
    let mac = hmac(*proto, &kul, &copy);
    if !super::decode::community_matches(&mac[..n], h.auth_params) {
        return Err(Reject::V3BadDigest);
    }
    let wants_priv = keys.privacy.is_some();
    let has_priv = h.flags & FLAG_PRIV != 0;
    match (&keys.privacy, has_priv, h.encrypted) {
        (None, false, false) => Ok(h.data.to_vec()),
        (Some((p, priv_ku)), true, true) => {
            let key = localize(*proto, priv_ku, h.engine_id);
            decrypt(*p, &key, h, h.data)
        }
        _ if wants_priv != has_priv => Err(Reject::V3WrongSecurityLevel),
        _ => Err(Reject::Malformed),
    }
}

fn decrypt(p: PrivProtocol, key: &[u8], h: &Header<'_>, data: &[u8]) -> Result<Vec<u8>, Reject> {
    use aes::cipher::{AsyncStreamCipher, BlockDecryptMut, KeyIvInit};
    if h.priv_params.len() != 8 {
        return Err(Reject::Malformed);
    }
    let mut buf = data.to_vec();
    match p {
        PrivProtocol::Aes128 => {
            if key.len() < 16 {
                return Err(Reject::V3Unsupported);
            }
            let boots = u32::try_from(h.boots).map_err(|_| Reject::Malformed)?;
            let time = u32::try_from(h.time).map_err(|_| Reject::Malformed)?;
            let mut iv = [0u8; 16];
            iv[..4].copy_from_slice(&boots.to_be_bytes());
            iv[4..8].copy_from_slice(&time.to_be_bytes());
            iv[8..].copy_from_slice(h.priv_params);
            cfb_mode::Decryptor::<aes::Aes128>::new_from_slices(&key[..16], &iv)
                .map_err(|_| Reject::Malformed)?
                .decrypt(&mut buf);
        }
        PrivProtocol::Des => {
            if key.len() < 16 || !buf.len().is_multiple_of(8) || buf.is_empty() {
                return Err(Reject::Malformed);
            }
            let mut iv = [0u8; 8];
            for (i, b) in iv.iter_mut().enumerate() {
                *b = key[8 + i] ^ h.priv_params[i];
            }
            let mut dec = cbc::Decryptor::<des::Des>::new_from_slices(&key[..8], &iv)
                .map_err(|_| Reject::Malformed)?;
            for chunk in buf.chunks_exact_mut(8) {
                dec.decrypt_block_mut(chunk.into());
            }
        }
        // AES-192/256 keys need an extension whose variant (Blumenthal or Reeder) differs
        // between vendors; not accepted for notifications.
        PrivProtocol::Aes192 | PrivProtocol::Aes256 => return Err(Reject::V3Unsupported),
    }
    // The plaintext is a SEQUENCE, possibly followed by padding; a wrong privacy key gives
    // bytes that are not one.
    let padding = match tlv(&buf) {
        Some((0x30, _, rest)) => rest.len(),
        _ => return Err(Reject::V3BadDecryption),
    };
    buf.truncate(buf.len() - padding);
    Ok(buf)
}

/// The PDU inside a scoped PDU: (tag, contents).
pub fn scoped_pdu(scoped: &[u8]) -> Result<(u8, &[u8]), Reject> {
    let (body, _) = expect(scoped, 0x30)?;
    let (_, rest) = expect(body, 0x04)?; // contextEngineID
    let (_, rest) = expect(rest, 0x04)?; // contextName
    let (tag, pdu, _) = tlv(rest).ok_or(Reject::Malformed)?;
    Ok((tag, pdu))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn keys_match_rfc_3414_appendix_a3() {
        let engine = hex("000000000000000000000002");
        let md5 = password_to_key(AuthProtocol::Md5, b"maplesyrup");
        assert_eq!(md5, hex("9faf3283884e92834ebc9847d8edd963"));
        assert_eq!(
            localize(AuthProtocol::Md5, &md5, &engine),
            hex("526f5eed9fcce26f8964c2930787d82b")
        );
        let sha = password_to_key(AuthProtocol::Sha1, b"maplesyrup");
        assert_eq!(sha, hex("9fb5cc0381497b3793528939ff788d5d79145211"));
        assert_eq!(
            localize(AuthProtocol::Sha1, &sha, &engine),
            hex("6695febc9288e36282235fc7151f128497b38f3f")
        );
    }

    #[test]
    fn the_ber_reader_refuses_lengths_past_the_end() {
        assert_eq!(tlv(&[0x30, 0x03, 1, 2]), None);
        assert_eq!(tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(tlv(&[0x30, 0x80]), None, "indefinite length");
        assert_eq!(
            tlv(&[0x04, 0x01, 7, 9]),
            Some((0x04, &[7u8][..], &[9u8][..]))
        );
        assert!(parse(&[0x30, 0x00]).is_err());
    }
}
