//! `Secret` and `UrlSecret`: strings that never print. SNMP communities, v3 passwords, bcrypt
//! hashes, TLS keys and database URLs live in them; both programs use these two types.

use std::fmt;

/// A secret value. `Debug` and `Display` print `<redacted>`; only [`Secret::expose`] gives the
/// text.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret text, for the one place that must use it (the wire, a hash check).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads a secret from a file, trimming a trailing newline.
    pub fn from_file(path: &std::path::Path) -> std::io::Result<Secret> {
        Ok(Secret(
            std::fs::read_to_string(path)?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        ))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// A URL that may carry a password (a store URL, a datasource or Alertmanager URL behind a
/// proxy with basic auth). `Display` keeps where it points and hides what lets one in: the
/// password (store URLs: `postgres://u:***@h/db`) or the whole user info (HTTP URLs made with
/// [`UrlSecret::http`]: `http://***@vm:8428`), and the value of every query parameter that is
/// not known to be harmless (`?sslmode=verify-full&authKey=***`).
#[derive(Clone, PartialEq, Eq)]
pub struct UrlSecret {
    secret: Secret,
    show_user: bool,
}

/// Query parameters whose values are settings, not secrets (PostgreSQL's TLS and connection
/// settings); every other parameter's value prints as `***`.
const HARMLESS_PARAMS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "application_name",
    "connect_timeout",
    "statement-cache-capacity",
    "dbname",
    "port",
    "host",
    "hostaddr",
    "target_session_attrs",
];

impl UrlSecret {
    /// A URL whose user name may be shown (a database role), with the password hidden.
    pub fn new(s: impl Into<String>) -> UrlSecret {
        UrlSecret {
            secret: Secret::new(s),
            show_user: true,
        }
    }

    /// An HTTP URL: any user info is hidden whole (basic-auth user names can be tokens).
    pub fn http(s: impl Into<String>) -> UrlSecret {
        UrlSecret {
            secret: Secret::new(s),
            show_user: false,
        }
    }

    /// The real text, for the one place that needs it (opening a connection).
    pub fn expose(&self) -> &str {
        self.secret.expose()
    }

    /// Reads a URL from a file, trimming trailing white space.
    pub fn from_file(path: &std::path::Path) -> std::io::Result<UrlSecret> {
        Ok(UrlSecret::new(std::fs::read_to_string(path)?.trim_end()))
    }
}

/// Whether a query parameter's name may be printed: plain identifiers only, so a password
/// with a stray `?` in it cannot print part of itself as a "name".
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

impl fmt::Display for UrlSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.expose().split('#').next().unwrap_or("");
        let Some((scheme, rest)) = s.split_once("://") else {
            return f.write_str("***");
        };
        // Everything up to the last '@' is user info, even when the password holds '@', '/'
        // or '?': hiding too much is fine, printing a piece of a password is not.
        let rest = match rest.rsplit_once('@') {
            Some((user, after)) => {
                let user = user.split(':').next().unwrap_or("");
                if self.show_user && plain_name(user) {
                    write!(f, "{scheme}://{user}:***@")?;
                } else {
                    write!(f, "{scheme}://***@")?;
                }
                after
            }
            None => {
                write!(f, "{scheme}://")?;
                rest
            }
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        f.write_str(path)?;
        let Some(query) = query else {
            return Ok(());
        };
        let mut sep = '?';
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            write!(f, "{sep}")?;
            sep = '&';
            if !plain_name(name) {
                f.write_str("***")?;
            } else if HARMLESS_PARAMS.contains(&name) {
                write!(f, "{name}={value}")?;
            } else {
                write!(f, "{name}=***")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for UrlSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_format() {
        let s = Secret::new("s3cr3t-community");
        assert_eq!(
            format!("{s} {s:?} {:?}", Some(&s)),
            "<redacted> <redacted> Some(<redacted>)"
        );
        assert_eq!(s.expose(), "s3cr3t-community");
        let y: Secret = serde_yaml::from_str("\"abc\"").unwrap();
        assert_eq!(y.expose(), "abc");
    }

    #[test]
    fn url_passwords_never_print() {
        let s = UrlSecret::new("postgres://ward:hunter2@db:5432/wardflux?password=hunter2");
        assert_eq!(
            s.to_string(),
            "postgres://ward:***@db:5432/wardflux?password=***"
        );
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(
            UrlSecret::new("sqlite:///var/lib/w.db").to_string(),
            "sqlite:///var/lib/w.db"
        );
        assert_eq!(UrlSecret::new("garbage").to_string(), "***");
        // A password holding '@' is still hidden: the host is after the last '@'.
        let s = UrlSecret::new("postgres://ward:p@ss@db/w");
        assert_eq!(s.to_string(), "postgres://ward:***@db/w");
        // TLS settings stay readable; anything else in the query is hidden.
        let s = UrlSecret::new(
            "postgres://ward:hunter2@db/w?sslmode=verify-full&sslrootcert=/etc/ca.pem&options=-c%20x",
        );
        assert_eq!(
            s.to_string(),
            "postgres://ward:***@db/w?sslmode=verify-full&sslrootcert=/etc/ca.pem&options=***"
        );
    }

    #[test]
    fn http_urls_hide_their_user_info_and_query_values() {
        let show = |u: &str| UrlSecret::http(u).to_string();
        assert_eq!(show("http://vmuser:hunter2@vm:8428"), "http://***@vm:8428");
        assert_eq!(
            show("https://tok3n@vmauth:8427/select/0/prometheus/"),
            "https://***@vmauth:8427/select/0/prometheus/"
        );
        assert_eq!(show("http://vm:8428"), "http://vm:8428");
        assert_eq!(
            show("http://vm:8428/?authKey=hunter2&extra_label=env%3Dprod"),
            "http://vm:8428/?authKey=***&extra_label=***"
        );
        // Awkward passwords: '?', '/' and '@' inside, or a query-looking tail.
        for u in [
            "http://u:hun?ter2@vm:8428",
            "http://u:hun/ter2@vm:8428/x",
            "http://u:h@unter2@vm:8428",
            "http://hun?ter2=x@vm:8428",
        ] {
            let s = show(u);
            assert!(s.starts_with("http://***@vm:8428"), "{u} -> {s}");
            assert!(!s.contains("ter2") && !s.contains("hun"), "{u} -> {s}");
        }
        let s = UrlSecret::new("postgres://a?b:hunter2@db/w");
        assert_eq!(s.to_string(), "postgres://***@db/w");
    }
}
