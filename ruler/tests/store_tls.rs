//! The alert-history store over TLS, against a private PostgreSQL server of the test's own
//! that speaks only TLS (`ssl = on`, a certificate from an openssl-made CA; `pg_hba.conf`
//! rejects plain connections): the real `wardflux-ruler migrate` connects with
//! `sslmode=verify-full` and `sslrootcert`, and with a client certificate (`sslcert`,
//! `sslkey`; cert authentication); a wrong CA, a plain connection and a missing CA file fail
//! with a message that names the problem and never the password.
//!
//! Debian packages: postgresql (initdb, pg_ctl), openssl.

use std::process::Command;

use wardflux_web::testkit::{Pki, PrivatePg, PG_TLS_PASSWORD};

const BIN: &str = env!("CARGO_BIN_EXE_wardflux-ruler");

/// `wardflux-ruler migrate` with `url`: success and everything it printed.
fn migrate(url: &str) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("migrate")
        .arg("--log.level=debug")
        .arg(format!("--store.url={url}"))
        .output()
        .expect("run wardflux-ruler migrate");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn scalar(url: &str, sql: &str) -> String {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connecting for {sql:?}: {e}"));
    sqlx::query_scalar::<_, String>(sql)
        .fetch_one(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn store_connects_over_verified_tls_and_names_tls_failures_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    std::fs::create_dir(&pki_dir).unwrap();
    let pki = Pki::create(&pki_dir);
    let pg_dir = dir.path().join("pg");
    std::fs::create_dir(&pg_dir).unwrap();
    let pg = PrivatePg::start_tls(&pg_dir, &pki);
    let base = format!(
        "postgres://postgres:{PG_TLS_PASSWORD}@localhost:{}/postgres",
        pg.port
    );
    let ca = pki.ca.display().to_string();
    let verified = format!("{base}?sslmode=verify-full&sslrootcert={ca}");

    // verify-full with the right CA: migrations run, and the log says TLS without the password.
    let (ok, out) = migrate(&verified);
    assert!(ok, "migrate over TLS failed: {out}\n{}", pg.log());
    assert!(out.contains("migrations applied"), "{out}");
    assert!(
        out.contains(&format!(
            "postgres://postgres:***@localhost:{}/postgres?sslmode=verify-full&sslrootcert={ca}",
            pg.port
        )),
        "the store URL should show its TLS settings: {out}"
    );
    assert!(!out.contains(PG_TLS_PASSWORD), "{out}");
    // The server saw TLS: only hostssl lines accept, and this session is encrypted too.
    let tables = scalar(
        &verified,
        "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables \
         WHERE table_name IN ('alert_history', 'interface_baselines')",
    )
    .await;
    assert_eq!(tables, "alert_history,interface_baselines");
    let ssl = scalar(
        &verified,
        "SELECT ssl::text || ' ' || version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    .await;
    assert!(ssl.starts_with("true TLSv1."), "{ssl}");

    // verify-ca against 127.0.0.1 (the certificate names it too) and verify-full by address.
    for url in [
        format!(
            "postgres://postgres:{PG_TLS_PASSWORD}@127.0.0.1:{}/postgres?sslmode=verify-ca&sslrootcert={ca}",
            pg.port
        ),
        format!(
            "postgres://postgres:{PG_TLS_PASSWORD}@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={ca}",
            pg.port
        ),
    ] {
        let (ok, out) = migrate(&url);
        assert!(ok, "{url}: {out}");
    }

    // A client certificate instead of a password (pg_hba: cert for user vmagent).
    {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&verified).await.unwrap();
        // Two statements: CREATE DATABASE cannot share an implicit transaction.
        for sql in [
            "CREATE ROLE vmagent LOGIN",
            "CREATE DATABASE vmagent_store OWNER vmagent",
        ] {
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        }
    }
    let with_cert = format!(
        "postgres://vmagent@localhost:{}/vmagent_store?sslmode=verify-full&sslrootcert={ca}&sslcert={}&sslkey={}",
        pg.port,
        pki.client_cert.display(),
        pki.client_key.display()
    );
    let (ok, out) = migrate(&with_cert);
    assert!(ok, "migrate with a client certificate: {out}\n{}", pg.log());

    // The wrong CA: a clear refusal that names the issuer problem, never the password.
    let rogue = pki_dir.join("rogue-ca.crt").display().to_string();
    let (ok, out) = migrate(&format!("{base}?sslmode=verify-full&sslrootcert={rogue}"));
    assert!(
        !ok,
        "a server certificate from another CA was accepted: {out}"
    );
    assert!(
        out.contains("UnknownIssuer") && out.contains("not signed by the CA in sslrootcert"),
        "the error should name the problem: {out}"
    );
    assert!(!out.contains(PG_TLS_PASSWORD), "{out}");

    // Without TLS the server refuses; the message is PostgreSQL's, without the password.
    let (ok, out) = migrate(&format!("{base}?sslmode=disable"));
    assert!(!ok, "a plain connection was accepted: {out}");
    assert!(
        out.contains("pg_hba.conf") || out.contains("rejects"),
        "{out}"
    );
    assert!(!out.contains(PG_TLS_PASSWORD), "{out}");

    // A CA file that is not there is named before any connection.
    let (ok, out) = migrate(&format!(
        "{base}?sslmode=verify-full&sslrootcert={}/missing-ca.crt",
        dir.path().display()
    ));
    assert!(!ok, "{out}");
    assert!(
        out.contains("sslrootcert file") && out.contains("missing-ca.crt"),
        "{out}"
    );
    assert!(!out.contains(PG_TLS_PASSWORD), "{out}");
}
