//! A seeded generator of hostile HTTP requests for the router fuzz tests of both programs
//! (`exporter/tests/http_fuzz.rs`, and `ruler/tests/http_fuzz.rs` through `#[path]`): paths from
//! a route list with mangled parameters, unknown paths, wrong methods, malformed and
//! percent-encoded query strings (invalid UTF-8, NULs, huge values, repeated keys), random
//! JSON and non-JSON bodies, odd content types and Host headers.
//!
//! Deterministic for a seed, so a failure names the seed and request number that reproduce it
//! (`WARDFLUX_HTTP_FUZZ_SEED`, `WARDFLUX_HTTP_FUZZ_REQUESTS`).
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

/// One route: method and path, `{name}` marking a path parameter.
pub type Route = (&'static str, &'static str);

/// splitmix64: small, fast, and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next() % den < num
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Settings from the environment, with the defaults CI uses.
pub fn settings(default_requests: usize) -> (u64, usize) {
    let seed = std::env::var("WARDFLUX_HTTP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f1a5);
    let n = std::env::var("WARDFLUX_HTTP_FUZZ_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_requests);
    (seed, n)
}

/// Bytes that make good trouble in a URI component once percent-encoded.
const NASTY: &[&[u8]] = &[
    b"",
    b"\xff\xfe",
    b"\xc3",
    b"\x00",
    b"%",
    b"%%",
    b"%zz",
    b"..",
    b"../../etc/passwd",
    b"\"quoted\"",
    b"<script>",
    b"a b",
    b"+",
    b"&",
    b"=",
    b"#",
    b"?",
    b"/",
    b"\\",
    b"\n\r",
    b"-1",
    b"0",
    b"1",
    b"99999999999999999999999",
    b"1e309",
    b"NaN",
    b"true",
    b"maybe",
    b"up",
    b"isp",
    b"magti",
    b"Gori-0101",
    b"gori-0101",
    b"Gi0/1",
    b"\xe1\x83\x97\xe1\x83\x91\xe1\x83\x98",
    b"{}",
    b"[]",
];

/// Known query keys of both programs, plus junk.
const KEYS: &[&str] = &[
    "target",
    "device",
    "type",
    "isp",
    "critical",
    "status",
    "interface",
    "limit",
    "name",
    "colour",
    "interface_type",
    "isp_provider",
    "is_critical",
    "monitored",
    "",
    "target[]",
    "a%00b",
];

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW",
];

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-16",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "garbage",
    "",
];

fn random_bytes(r: &mut Rng, max: usize) -> Vec<u8> {
    let n = r.below(max + 1);
    (0..n).map(|_| r.next() as u8).collect()
}

/// A value: a nasty one, random bytes, a mix, or (rarely) a huge one.
fn value_bytes(r: &mut Rng) -> Vec<u8> {
    match r.below(10) {
        0..=4 => r.pick(NASTY).to_vec(),
        5..=7 => random_bytes(r, 24),
        8 => {
            let mut v = r.pick(NASTY).to_vec();
            v.extend(random_bytes(r, 8));
            let n = NASTY[r.below(NASTY.len())];
            v.extend_from_slice(n);
            v
        }
        // Long, but under the 64 KiB a URI may have (hyper answers 414 before any router).
        _ => vec![b'A' + (r.below(26) as u8); 1 + r.below(12_000)],
    }
}

/// Percent-encode everything outside unreserved characters, sometimes leaving reserved ones
/// raw (`&`, `=`, `+`, `%`) so the query parser meets them.
fn encode(r: &mut Rng, b: &[u8]) -> String {
    let raw_reserved = r.chance(1, 4);
    encode_with(raw_reserved, b)
}

fn encode_with(raw_reserved: bool, b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() * 3);
    for &c in b {
        let keep = c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'.' | b'_' | b'~')
            || (raw_reserved && matches!(c, b'&' | b'=' | b'+' | b'%' | b'/' | b':' | b'@'));
        if keep {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

fn query(r: &mut Rng) -> String {
    match r.below(8) {
        0 => String::new(),
        1 => "?".into(),
        2 => {
            let b = random_bytes(r, 40);
            format!("?{}", encode(r, &b))
        }
        _ => {
            let mut q = String::from("?");
            for i in 0..1 + r.below(4) {
                if i > 0 {
                    q.push_str(if r.chance(1, 10) { "&&" } else { "&" });
                }
                let key = if r.chance(1, 6) {
                    random_bytes(r, 8)
                } else {
                    r.pick(KEYS).as_bytes().to_vec()
                };
                let key = encode(r, &key);
                q.push_str(&key);
                if !r.chance(1, 10) {
                    q.push('=');
                    let v = value_bytes(r);
                    q.push_str(&encode(r, &v));
                }
            }
            q
        }
    }
}

fn path(r: &mut Rng, routes: &[Route], route: Route) -> String {
    match r.below(12) {
        // An unknown path, or one near a known one.
        0 => {
            let b = random_bytes(r, 16);
            format!("/{}", encode(r, &b))
        }
        1 => format!("{}/", route.1.replace(['{', '}'], "")),
        2 => {
            let b = *r.pick(NASTY);
            format!("/{}{}", encode(r, b), route.1)
        }
        3 => r.pick(routes).1.replace('/', "//"),
        _ => {
            // Fill path parameters with hostile segments.
            let mut out = String::new();
            let mut rest = route.1;
            while let Some(open) = rest.find('{') {
                out.push_str(&rest[..open]);
                let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
                let v = value_bytes(r);
                let mut seg = encode(r, &v);
                seg = seg.replace('/', "%2F");
                if seg.is_empty() && r.chance(1, 2) {
                    seg.push('x');
                }
                out.push_str(&seg);
                rest = &rest[close..];
            }
            out.push_str(rest);
            out
        }
    }
}

/// A JSON document of random shape.
fn json(r: &mut Rng, depth: u32) -> String {
    match r.below(if depth > 3 { 4 } else { 7 }) {
        0 => "null".into(),
        1 => format!("{}", r.next() as i64),
        2 => format!("{:?}", String::from_utf8_lossy(&value_bytes(r))),
        3 => (if r.chance(1, 2) { "true" } else { "false" }).into(),
        4 | 5 => {
            let items: Vec<String> = (0..r.below(4))
                .map(|_| {
                    let key = String::from_utf8_lossy(r.pick(KEYS).as_bytes()).into_owned();
                    format!("{key:?}: {}", json(r, depth + 1))
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
        _ => {
            let items: Vec<String> = (0..r.below(4)).map(|_| json(r, depth + 1)).collect();
            format!("[{}]", items.join(","))
        }
    }
}

fn body(r: &mut Rng) -> Vec<u8> {
    match r.below(8) {
        0..=2 => Vec::new(),
        3 | 4 => json(r, 0).into_bytes(),
        5 => {
            let mut j = json(r, 0).into_bytes();
            let cut = r.below(j.len());
            j.truncate(cut);
            j
        }
        6 => random_bytes(r, 256),
        _ => vec![b'{'; 1 + r.below(300_000)],
    }
}

/// One generated request and how to show it when it fails.
pub struct Generated {
    pub request: Request<Body>,
    pub shown: String,
}

/// The next request: usually a known route (right or wrong method), sometimes anything.
pub fn request(r: &mut Rng, routes: &[Route]) -> Generated {
    let route = *r.pick(routes);
    let method = if r.chance(3, 4) {
        route.0
    } else {
        r.pick(METHODS)
    };
    let uri = format!("{}{}", path(r, routes, route), query(r));
    let body = if method == "GET" && r.chance(3, 4) {
        Vec::new()
    } else {
        body(r)
    };
    let mut b = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("methods are tokens"))
        .uri(&uri);
    let content_type = r.pick(CONTENT_TYPES);
    if !content_type.is_empty() {
        b = b.header(header::CONTENT_TYPE, *content_type);
    }
    if r.chance(1, 4) {
        let v = value_bytes(r);
        let host = encode(r, &v);
        b = b.header(
            header::HOST,
            if host.is_empty() { "x".into() } else { host },
        );
    }
    let shown = format!(
        "{method} {} content-type {content_type:?} body {} bytes {:?}",
        if uri.len() > 300 { &uri[..300] } else { &uri },
        body.len(),
        String::from_utf8_lossy(&body[..body.len().min(80)])
    );
    let request = b
        .body(Body::from(body))
        .unwrap_or_else(|e| panic!("the generator made an unsendable request ({e}): {shown}"));
    Generated { request, shown }
}

/// What the run saw, for the test's output.
#[derive(Debug, Default)]
pub struct Tally {
    pub requests: usize,
    pub by_status: std::collections::BTreeMap<u16, usize>,
}

/// Send `n` generated requests through `router`; every answer must be below 500, and every 4xx
/// (except to HEAD, which has no body) must carry a message as JSON `{"error": "..."}`.
pub async fn drive(router: Router, routes: &[Route], seed: u64, n: usize) -> Tally {
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    for i in 0..n {
        let g = request(&mut rng, routes);
        let is_head = g.request.method() == Method::HEAD;
        let resp =
            router.clone().oneshot(g.request).await.unwrap_or_else(|e| {
                panic!("request {i} (seed {seed}): router error {e}: {}", g.shown)
            });
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .unwrap_or_else(|e| panic!("request {i} (seed {seed}): body error {e}: {}", g.shown));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !status.is_server_error(),
            "request {i} (seed {seed}): {status} {text:.300}\n  for {}",
            g.shown
        );
        if status.is_client_error() && !is_head {
            assert!(
                is_json_error(status, &text),
                "request {i} (seed {seed}): {status} without a JSON error message: {text:.300}\n  for {}",
                g.shown
            );
        }
        tally.requests += 1;
        *tally.by_status.entry(status.as_u16()).or_default() += 1;
    }
    tally
}

/// True when `status` is a client error that names the problem in JSON `error`.
pub fn is_json_error(status: StatusCode, body: &str) -> bool {
    status.is_client_error()
        && serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("error").map(|e| e.is_string()))
            .unwrap_or(false)
}
