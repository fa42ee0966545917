//! A string that must never reach logs, `/metrics` or API responses (store URLs with
//! passwords): `Debug` and `Display` show it with the password replaced.

use std::fmt;

/// A secret value; only [`Secret::expose`] gives the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The real text, for the one place that needs it (opening a connection).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads a secret from a file, trimming a trailing newline.
    pub fn from_file(path: &std::path::Path) -> std::io::Result<Self> {
        Ok(Secret(
            std::fs::read_to_string(path)?.trim_end().to_string(),
        ))
    }
}

impl fmt::Display for Secret {
    /// Shows a URL with any password and query string hidden: `postgres://u:***@h/db`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.split('?').next().unwrap_or("");
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

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_print() {
        let s = Secret::new("postgres://ward:hunter2@db:5432/wardflux?password=hunter2");
        assert_eq!(s.to_string(), "postgres://ward:***@db:5432/wardflux");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(
            Secret::new("sqlite:///var/lib/w.db").to_string(),
            "sqlite:///var/lib/w.db"
        );
        assert_eq!(Secret::new("garbage").to_string(), "***");
    }
}
