//! Basic authentication against bcrypt hashes, and the write-user check.
//!
//! Bcrypt is slow on purpose, so a verified (user, password) is remembered as an HMAC-SHA256
//! of user, password and hash under a key drawn at start-up, and later requests compare that
//! tag in constant time: a scrape costs microseconds, not a bcrypt. Failed attempts are never
//! remembered, so guessing costs a bcrypt each time, and at most [`BCRYPT_SLOTS`] run at once,
//! so guessing cannot take every core. An unknown user costs a bcrypt too (against a real hash,
//! result ignored): answer times do not tell which users exist.
//!
//! Invariants: passwords and hashes are never logged; a user name is logged only when it is a
//! configured one (a password typed into the user field stays out of the log).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderValue, Method};
use base64::Engine as _;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::secret::Secret;

/// Bcrypt verifications allowed to run at the same time.
pub const BCRYPT_SLOTS: usize = 2;

/// What a request may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed; the authenticated user, if basic auth is on.
    Allow(Option<String>),
    /// No or wrong credentials: 401. The user, when it is a configured one.
    Unauthorized(Option<String>),
    /// Authenticated, but a write endpoint and not a write user: 403.
    Forbidden(String),
}

/// Users, their hashes, who may write, and the cache of verified passwords.
pub struct Authenticator {
    users: BTreeMap<String, Secret>,
    /// `None`: every authenticated user may write.
    write_users: Option<BTreeSet<String>>,
    excluded_paths: Vec<String>,
    key: ring::hmac::Key,
    verified: Mutex<HashMap<String, [u8; 32]>>,
    slots: Arc<Semaphore>,
}

/// Methods that only read. Everything else (POST, PUT, DELETE, PATCH) is a write endpoint.
pub fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl Authenticator {
    /// `users` must not be empty; `write_users` must name configured users (checked by the
    /// caller, which knows the flag's name).
    pub fn new(
        users: BTreeMap<String, Secret>,
        write_users: Option<BTreeSet<String>>,
        excluded_paths: Vec<String>,
    ) -> Authenticator {
        let rng = ring::rand::SystemRandom::new();
        let key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
            .expect("the system random generator works");
        Authenticator {
            users,
            write_users,
            excluded_paths,
            key,
            verified: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(BCRYPT_SLOTS)),
        }
    }

    fn tag(&self, user: &str, password: &[u8], hash: &Secret) -> [u8; 32] {
        let mut ctx = ring::hmac::Context::with_key(&self.key);
        // Lengths first, so no two (user, password, hash) triples share an input.
        for part in [user.as_bytes(), password, hash.expose().as_bytes()] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// Decides on one request from its method, path and `Authorization` header.
    pub async fn check(
        &self,
        method: &Method,
        path: &str,
        authorization: Option<&HeaderValue>,
    ) -> Decision {
        if self.excluded_paths.iter().any(|p| p == path) {
            return Decision::Allow(None);
        }
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return Decision::Unauthorized(None);
        };
        let known = self.users.contains_key(&user).then(|| user.clone());
        if !self.verify(&user, password).await {
            return Decision::Unauthorized(known);
        }
        if is_write(method) {
            if let Some(w) = &self.write_users {
                if !w.contains(&user) {
                    return Decision::Forbidden(user);
                }
            }
        }
        Decision::Allow(Some(user))
    }

    async fn verify(&self, user: &str, password: Vec<u8>) -> bool {
        let (hash, real) = match self.users.get(user) {
            Some(h) => (h.clone(), true),
            // Spend the same time on an unknown user as on a wrong password.
            None => match self.users.values().next() {
                Some(h) => (h.clone(), false),
                None => return false,
            },
        };
        let tag = self.tag(user, &password, &hash);
        if real {
            let cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if cache
                .get(user)
                .is_some_and(|known| bool::from(known.ct_eq(&tag)))
            {
                return true;
            }
        }
        let Ok(_slot) = self.slots.clone().acquire_owned().await else {
            return false;
        };
        let ok = tokio::task::spawn_blocking(move || {
            bcrypt::verify(&password, hash.expose()).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if ok && real {
            self.verified
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(user.to_string(), tag);
        }
        ok && real
    }
}

/// `Basic base64(user:password)` → (user, password bytes).
fn parse_basic(v: &HeaderValue) -> Option<(String, Vec<u8>)> {
    let v = v.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let colon = raw.iter().position(|b| *b == b':')?;
    let user = String::from_utf8(raw[..colon].to_vec()).ok()?;
    Some((user, raw[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, pw: &str) -> HeaderValue {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
        HeaderValue::from_str(&format!("Basic {b}")).unwrap()
    }

    fn auth(write: Option<&[&str]>) -> Authenticator {
        let users = BTreeMap::from([
            (
                "reader".to_string(),
                Secret::new(bcrypt::hash("read-pw", 4).unwrap()),
            ),
            (
                "admin".to_string(),
                Secret::new(bcrypt::hash("admin:pw", 4).unwrap()),
            ),
        ]);
        Authenticator::new(
            users,
            write.map(|w| w.iter().map(|s| s.to_string()).collect()),
            vec!["/-/healthy".into()],
        )
    }

    #[tokio::test]
    async fn decisions() {
        let a = auth(Some(&["admin"]));
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(
            a.check(&get, "/metrics", Some(&header("reader", "read-pw")))
                .await,
            Decision::Allow(Some("reader".into()))
        );
        // A colon in the password is part of it.
        assert_eq!(
            a.check(&post, "/-/reload", Some(&header("admin", "admin:pw")))
                .await,
            Decision::Allow(Some("admin".into()))
        );
        assert_eq!(
            a.check(&post, "/-/reload", Some(&header("reader", "read-pw")))
                .await,
            Decision::Forbidden("reader".into())
        );
        assert_eq!(
            a.check(&get, "/metrics", Some(&header("reader", "wrong")))
                .await,
            Decision::Unauthorized(Some("reader".into()))
        );
        assert_eq!(
            a.check(&get, "/metrics", Some(&header("read-pw", "read-pw")))
                .await,
            Decision::Unauthorized(None),
            "an unknown user is not named"
        );
        assert_eq!(
            a.check(&get, "/metrics", None).await,
            Decision::Unauthorized(None)
        );
        let bearer = HeaderValue::from_static("Bearer abc");
        assert_eq!(
            a.check(&get, "/metrics", Some(&bearer)).await,
            Decision::Unauthorized(None)
        );
        assert_eq!(
            a.check(&get, "/-/healthy", None).await,
            Decision::Allow(None)
        );
        // Without --web.write-users every user may write.
        let a = auth(None);
        assert_eq!(
            a.check(&post, "/-/reload", Some(&header("reader", "read-pw")))
                .await,
            Decision::Allow(Some("reader".into()))
        );
    }

    #[tokio::test]
    async fn a_verified_password_is_cached_and_a_wrong_one_is_not() {
        let a = auth(None);
        let h = header("reader", "read-pw");
        assert!(matches!(
            a.check(&Method::GET, "/", Some(&h)).await,
            Decision::Allow(_)
        ));
        assert_eq!(a.verified.lock().unwrap().len(), 1);
        // The cached tag answers without bcrypt: take every slot away and ask again.
        let _all = a
            .slots
            .clone()
            .acquire_many_owned(BCRYPT_SLOTS as u32)
            .await;
        assert!(matches!(
            a.check(&Method::GET, "/", Some(&h)).await,
            Decision::Allow(_)
        ));
        drop(_all);
        assert!(matches!(
            a.check(&Method::GET, "/", Some(&header("reader", "read-pw2")))
                .await,
            Decision::Unauthorized(_)
        ));
        assert_eq!(a.verified.lock().unwrap().len(), 1);
    }
}
