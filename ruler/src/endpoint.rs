//! HTTP endpoints the ruler calls (the datasource, Alertmanager) with their credentials kept
//! apart from the address: user info in the URL (`http://user:pass@vmauth:8427`) or the
//! `--datasource.basic-auth.*` / `--datasource.bearer-token-file` flags become an
//! `Authorization` header, and the URL left behind holds no password, so neither our
//! messages nor reqwest's errors can print one. [`Endpoint::shown`] is what logs, labels and
//! API answers may say about the endpoint.

use crate::secret::Secret as UrlSecret;
use reqwest::{RequestBuilder, Url};
use wardflux_web::Secret;

/// How the ruler proves itself to an endpoint.
#[derive(Clone, Debug, Default)]
pub enum HttpAuth {
    #[default]
    None,
    /// Basic auth (vmauth, a reverse proxy, VictoriaMetrics' `-httpAuth.*`).
    Basic { username: String, password: Secret },
    /// `Authorization: Bearer TOKEN` (vmauth `bearer_token`).
    Bearer(Secret),
}

/// An endpoint's address (without credentials) and how to authenticate to it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    url: Url,
    shown: String,
    auth: HttpAuth,
}

impl Endpoint {
    /// Parses `raw`; user info in it becomes basic auth, which cannot be combined with
    /// `auth` from flags. Errors show the URL with its secrets hidden.
    pub fn parse(raw: &str, auth: HttpAuth) -> Result<Endpoint, String> {
        let shown = UrlSecret::http(raw).to_string();
        let mut url = Url::parse(raw.trim()).map_err(|e| format!("URL {shown}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("URL {shown}: the scheme must be http or https"));
        }
        let from_url = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let username = percent_decode(url.username());
            let password = Secret::new(percent_decode(url.password().unwrap_or("")));
            // Neither can fail on an http(s) URL, which always has a host.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            Some(HttpAuth::Basic { username, password })
        };
        let auth = match (from_url, auth) {
            (Some(a), HttpAuth::None) => a,
            (Some(_), _) => {
                return Err(format!(
                    "URL {shown}: credentials are given both in the URL and with flags; use one"
                ))
            }
            (None, a) => a,
        };
        Ok(Endpoint { url, shown, auth })
    }

    /// The URL for `path` under the endpoint's own path, with its query parameters kept.
    pub fn url_for(&self, path: &str) -> Url {
        let mut u = self.url.clone();
        let joined = format!("{}{path}", self.url.path().trim_end_matches('/'));
        u.set_path(&joined);
        u
    }

    /// `rb` with the endpoint's `Authorization` header (marked sensitive by reqwest).
    pub fn authorize(&self, rb: RequestBuilder) -> RequestBuilder {
        match &self.auth {
            HttpAuth::None => rb,
            HttpAuth::Basic { username, password } => {
                rb.basic_auth(username, Some(password.expose()))
            }
            HttpAuth::Bearer(token) => rb.bearer_auth(token.expose()),
        }
    }

    /// The endpoint as logs, labels and API answers may show it (`http://***@vm:8428`).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Whether requests carry credentials (for a start-up log line).
    pub fn auth_kind(&self) -> &'static str {
        match self.auth {
            HttpAuth::None => "none",
            HttpAuth::Basic { .. } => "basic",
            HttpAuth::Bearer(_) => "bearer",
        }
    }
}

/// A reqwest error with its causes (reqwest's `Display` omits them: connection refused,
/// timed out) and without its URL, which could hold a query parameter that is a key.
pub fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        src = s.source();
    }
    detail
}

/// `%XX` sequences decoded (as the URL's user info is stored encoded); bad ones kept as is.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(e: &Endpoint) -> (String, String) {
        match &e.auth {
            HttpAuth::Basic { username, password } => {
                (username.clone(), password.expose().to_string())
            }
            other => panic!("expected basic auth, got {other:?}"),
        }
    }

    #[test]
    fn user_info_becomes_basic_auth_and_leaves_the_url() {
        let e = Endpoint::parse("http://vm%40corp:p%40ss%2Fw@vm:8428/", HttpAuth::None).unwrap();
        assert_eq!(basic(&e), ("vm@corp".into(), "p@ss/w".into()));
        assert_eq!(
            e.url_for("/api/v1/query").as_str(),
            "http://vm:8428/api/v1/query"
        );
        assert_eq!(e.shown(), "http://***@vm:8428/");
        assert!(!format!("{e:?}").contains("p@ss"), "{e:?}");
    }

    #[test]
    fn paths_and_query_parameters_are_kept() {
        let e = Endpoint::parse(
            "https://vmauth:8427/select/0/prometheus?authKey=k3y",
            HttpAuth::None,
        )
        .unwrap();
        assert_eq!(
            e.url_for("/api/v1/query").as_str(),
            "https://vmauth:8427/select/0/prometheus/api/v1/query?authKey=k3y"
        );
        assert_eq!(
            e.shown(),
            "https://vmauth:8427/select/0/prometheus?authKey=***"
        );
    }

    #[test]
    fn flags_and_url_credentials_do_not_mix_and_bad_urls_hide_secrets() {
        let flags = HttpAuth::Bearer(Secret::new("t0ken"));
        let e = Endpoint::parse("http://u:hunter2@vm:8428", flags.clone()).unwrap_err();
        assert!(e.contains("both") && !e.contains("hunter2"), "{e}");
        let e = Endpoint::parse("http://vm:8428", flags).unwrap();
        assert_eq!(e.auth_kind(), "bearer");
        let e = Endpoint::parse("ftp://u:hunter2@vm", HttpAuth::None).unwrap_err();
        assert!(e.contains("http") && !e.contains("hunter2"), "{e}");
        let e = Endpoint::parse("http://u:hunter2@", HttpAuth::None).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn percent_decoding_keeps_broken_escapes() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
