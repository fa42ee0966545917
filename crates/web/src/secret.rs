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

/// A URL that may carry a password (a store URL). `Display` shows it with the password and
/// the query string hidden (`postgres://u:***@h/db`), so logs still say where it points.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlSecret(Secret);

impl UrlSecret {
    pub fn new(s: impl Into<String>) -> UrlSecret {
        UrlSecret(Secret::new(s))
    }

    /// The real text, for the one place that needs it (opening a connection).
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Reads a URL from a file, trimming trailing white space.
    pub fn from_file(path: &std::path::Path) -> std::io::Result<UrlSecret> {
        Ok(UrlSecret::new(std::fs::read_to_string(path)?.trim_end()))
    }
}

impl fmt::Display for UrlSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.expose().split('?').next().unwrap_or("");
        let Some((scheme, rest)) = s.split_once("://") else {
            return f.write_str("***");
        };
        match rest.rsplit_once('@') {
            Some((user, host)) => {
                let user = user.split(':').next().unwrap_or("");
                write!(f, "{scheme}://{user}:***@{host}")
            }
            None => write!(f, "{scheme}://{rest}"),
        }
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
        assert_eq!(s.to_string(), "postgres://ward:***@db:5432/wardflux");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(
            UrlSecret::new("sqlite:///var/lib/w.db").to_string(),
            "sqlite:///var/lib/w.db"
        );
        assert_eq!(UrlSecret::new("garbage").to_string(), "***");
        // A password holding '@' is still hidden: the host is after the last '@'.
        let s = UrlSecret::new("postgres://ward:p@ss@db/w");
        assert_eq!(s.to_string(), "postgres://ward:***@db/w");
    }
}
