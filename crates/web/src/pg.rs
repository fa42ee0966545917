//! PostgreSQL TLS settings of a connection URL (`sslmode`, `sslrootcert`, `sslcert`,
//! `sslkey`), shared by the ruler's store and the exporter's `targets_sql`: the files are
//! checked before the first connection so a typo names its parameter and path, and TLS
//! failures get a hint saying what to change. Pure text in, text out (no sqlx here), and
//! nothing returned ever contains the URL or its password.

/// The URL's query parameters that name files, with their sqlx spellings.
const FILE_PARAMS: &[(&str, &[&str])] = &[
    ("sslrootcert", &["sslrootcert", "ssl-root-cert", "ssl-ca"]),
    ("sslcert", &["sslcert", "ssl-cert"]),
    ("sslkey", &["sslkey", "ssl-key"]),
];

/// Value of the first of `names` in the query of `url`, percent-decoded.
fn param(url: &str, names: &[&str]) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next()?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        names.contains(&k).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks that the certificate and key files the URL names can be read, and that `sslcert`
/// and `sslkey` come together. The error names the parameter and the file.
pub fn check_tls_files(url: &str) -> Result<(), String> {
    let mut given = Vec::new();
    for (name, spellings) in FILE_PARAMS {
        let Some(path) = param(url, spellings) else {
            continue;
        };
        if let Err(e) = std::fs::File::open(&path) {
            return Err(format!("{name} file {path}: {e}"));
        }
        given.push(*name);
    }
    match (given.contains(&"sslcert"), given.contains(&"sslkey")) {
        (true, false) => {
            Err("sslcert is set without sslkey; a client certificate needs both".into())
        }
        (false, true) => {
            Err("sslkey is set without sslcert; a client certificate needs both".into())
        }
        _ => Ok(()),
    }
}

/// `error` (a connection error's text) with a hint when it is a TLS problem.
pub fn explain(error: &str) -> String {
    let hint = if error.contains("UnknownIssuer") {
        "the server's certificate is not signed by the CA in sslrootcert (without sslrootcert: \
         by none in the system trust store)"
    } else if error.contains("certificate not valid for name") || error.contains("NotValidForName")
    {
        "with sslmode=verify-full the host in the URL must be a name or address in the server's \
         certificate"
    } else if error.contains("certificate expired") || error.contains("Expired") {
        "the server's certificate has expired"
    } else if error.contains("server does not support TLS") {
        "the server has ssl = off; turn it on, or use sslmode=prefer or disable on a trusted \
         network"
    } else if error.contains("CertificateRequired") || error.contains("certificate required") {
        "the server wants a client certificate: set sslcert and sslkey"
    } else if error.contains("no root trust anchors") {
        "no CA to verify the server with: set sslrootcert to the CA's PEM file"
    } else {
        return error.to_string();
    };
    format!("{error} ({hint})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_checked_by_name_and_pairs_must_be_complete() {
        // Any readable file will do: the contents are sqlx's to judge.
        let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let ok = format!(
            "postgres://u:pw@h/db?sslmode=verify-full&sslrootcert={}",
            ca.display()
        );
        assert_eq!(check_tls_files(&ok), Ok(()));
        assert_eq!(check_tls_files("postgres://u:pw@h/db"), Ok(()));
        let e =
            check_tls_files("postgres://u:pw@h/db?sslrootcert=/nonexistent/ca.pem").unwrap_err();
        assert!(
            e.starts_with("sslrootcert file /nonexistent/ca.pem: "),
            "{e}"
        );
        let e = check_tls_files(&format!("postgres://u:pw@h/db?ssl-cert={}", ca.display()))
            .unwrap_err();
        assert!(e.contains("without sslkey") && !e.contains("pw"), "{e}");
    }

    #[test]
    fn tls_failures_get_a_hint() {
        let e = explain("error occurred while attempting to establish a TLS connection: invalid peer certificate: UnknownIssuer");
        assert!(e.ends_with("(the server's certificate is not signed by the CA in sslrootcert (without sslrootcert: by none in the system trust store))"), "{e}");
        assert_eq!(explain("connection refused"), "connection refused");
    }
}
