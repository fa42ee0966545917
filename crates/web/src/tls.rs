//! `TlsSettings` → a rustls `ServerConfig` (ring provider): versions, TLS 1.2 suites and curves
//! mapped from their Go names, client certificates verified against `client_ca`, and a
//! certificate resolver that picks up a renewed certificate and key without a restart.
//!
//! Invariants: nothing here prints key material; a renewed pair that does not load (or does
//! not match) is logged and the previous pair keeps serving.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use rustls::crypto::ring as provider;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use tracing::{info, warn};

use crate::config::{ClientAuth, Pem, TlsSettings, TlsVersion};

/// A TLS setting that cannot be put into effect: which field, and why.
#[derive(Debug, thiserror::Error)]
#[error("tls_server_config.{field}: {message}")]
pub struct TlsError {
    pub field: &'static str,
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> TlsError {
    TlsError {
        field,
        message: message.into(),
    }
}

fn read_pem(p: &Pem, field: &'static str) -> Result<Vec<u8>, TlsError> {
    match p {
        Pem::Inline(s) => Ok(s.expose().as_bytes().to_vec()),
        Pem::File(path) => {
            std::fs::read(path).map_err(|e| err(field, format!("reading {}: {e}", path.display())))
        }
    }
}

fn certs(p: &Pem, field: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_pem(p, field)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(field, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(err(field, "no PEM CERTIFICATE block found"));
    }
    Ok(certs)
}

/// Loads the pair and checks that the key belongs to the certificate.
fn certified_key(
    cert: &Pem,
    key: &Pem,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = certs(cert, "cert_file")?;
    let pem = read_pem(key, "key_file")?;
    // The parser's message never quotes the input.
    let der = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| err("key_file", format!("no usable PEM private key: {e}")))?;
    CertifiedKey::from_der(chain, der, provider)
        .map(Arc::new)
        .map_err(|e| err("key_file", format!("key does not fit the certificate: {e}")))
}

/// The ring provider restricted to the configured suites and curves.
fn restricted_provider(s: &TlsSettings) -> CryptoProvider {
    let mut p = provider::default_provider();
    if !s.cipher_suites.is_empty() {
        let by_name = |n: &str| {
            p.cipher_suites
                .iter()
                .copied()
                .find(|cs| format!("{:?}", cs.suite()) == n)
        };
        let mut suites: Vec<_> = p
            .cipher_suites
            .iter()
            .copied()
            .filter(|cs| cs.version() == &rustls::version::TLS13)
            .collect();
        suites.extend(s.cipher_suites.iter().filter_map(|n| by_name(n)));
        p.cipher_suites = suites;
    }
    if !s.curves.is_empty() {
        p.kx_groups = s
            .curves
            .iter()
            .map(|c| match *c {
                "X25519" => provider::kx_group::X25519,
                "CurveP256" => provider::kx_group::SECP256R1,
                _ => provider::kx_group::SECP384R1,
            })
            .collect();
    }
    p
}

/// Builds the server configuration; reads the certificate, key and CA files once here so a
/// bad file stops start-up.
pub fn server_config(s: &TlsSettings) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(restricted_provider(s));
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (s.min_version..=s.max_version).contains(v))
    .map(|(_, p)| p)
    .collect();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| err("min_version", e.to_string()))?;
    let builder = match (s.client_auth, &s.client_ca) {
        (ClientAuth::None, _) | (_, None) => builder.with_no_client_auth(),
        (mode, Some(ca)) => {
            let mut roots = RootCertStore::empty();
            for c in certs(ca, "client_ca_file")? {
                roots
                    .add(c)
                    .map_err(|e| err("client_ca_file", format!("unusable CA certificate: {e}")))?;
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let v = if mode == ClientAuth::VerifyIfGiven {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(
                v.build()
                    .map_err(|e| err("client_ca_file", e.to_string()))?,
            )
        }
    };
    let resolver = ReloadingCert::new(s.cert.clone(), s.key.clone(), provider)?;
    let mut cfg = builder.with_cert_resolver(Arc::new(resolver));
    cfg.ignore_client_order = s.prefer_server_cipher_suites;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Serves the current certificate; at most once a second (on a handshake) it looks at the
/// files' modification times and loads a renewed pair.
#[derive(Debug)]
struct ReloadingCert {
    cert: Pem,
    key: Pem,
    provider: Arc<CryptoProvider>,
    current: RwLock<(Option<[SystemTime; 2]>, Arc<CertifiedKey>)>,
    last_check: Mutex<Instant>,
}

fn mtime(p: &Pem) -> Option<SystemTime> {
    match p {
        Pem::File(path) => modified(path),
        Pem::Inline(_) => Some(SystemTime::UNIX_EPOCH),
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl ReloadingCert {
    fn new(cert: Pem, key: Pem, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let stamp = mtime(&cert).zip(mtime(&key)).map(|(a, b)| [a, b]);
        let ck = certified_key(&cert, &key, &provider)?;
        Ok(ReloadingCert {
            cert,
            key,
            provider,
            current: RwLock::new((stamp, ck)),
            last_check: Mutex::new(Instant::now()),
        })
    }

    fn maybe_reload(&self) {
        {
            let mut last = self.last_check.lock().unwrap_or_else(|p| p.into_inner());
            if last.elapsed() < Duration::from_secs(1) {
                return;
            }
            *last = Instant::now();
        }
        let stamp = mtime(&self.cert).zip(mtime(&self.key)).map(|(a, b)| [a, b]);
        let known = self.current.read().unwrap_or_else(|p| p.into_inner()).0;
        if stamp.is_none() || stamp == known {
            return;
        }
        match certified_key(&self.cert, &self.key, &self.provider) {
            Ok(ck) => {
                info!("TLS certificate and key reloaded");
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = (stamp, ck);
            }
            Err(e) => {
                warn!(error = %e, "renewed TLS certificate not loaded, the previous one keeps serving");
                // Do not retry this pair until the files change again.
                self.current.write().unwrap_or_else(|p| p.into_inner()).0 = stamp;
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.maybe_reload();
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .1
                .clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configurable_suite_name_exists_in_ring() {
        let p = provider::default_provider();
        let names: Vec<String> = p
            .cipher_suites
            .iter()
            .map(|c| format!("{:?}", c.suite()))
            .collect();
        for s in crate::config::TLS12_SUITES {
            assert!(names.iter().any(|n| n == s), "{s} not in {names:?}");
        }
        let settings = TlsSettings {
            cert: Pem::Inline(crate::Secret::new("")),
            key: Pem::Inline(crate::Secret::new("")),
            client_auth: ClientAuth::None,
            client_ca: None,
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            cipher_suites: vec!["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"],
            prefer_server_cipher_suites: true,
            curves: vec!["CurveP384"],
        };
        let r = restricted_provider(&settings);
        assert_eq!(
            r.cipher_suites.len(),
            4,
            "three TLS 1.3 suites and the one named"
        );
        assert_eq!(r.kx_groups.len(), 1);
        let e = server_config(&settings).unwrap_err();
        assert_eq!(e.field, "cert_file");
    }
}
