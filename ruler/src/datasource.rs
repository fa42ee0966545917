//! The datasource edge: a [`Querier`] for instant and range queries and an [`Importer`] for
//! writing recorded series back, with the VictoriaMetrics HTTP client as the one real
//! implementation (`/api/v1/query`, `/api/v1/query_range`, `/api/v1/import/prometheus`).

use crate::endpoint::{Endpoint, HttpAuth};
use crate::labels::Labels;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use thiserror::Error;

/// A boxed future, so the traits stay object-safe without an extra crate.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a query gave no answer.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DatasourceError {
    /// Connection refused, timeout, or a 5xx: the datasource is unavailable; alerts keep
    /// their state.
    #[error("querying {what}: datasource unreachable: {detail}")]
    Unreachable { what: String, detail: String },
    /// The datasource answered and rejected the request.
    #[error("querying {what}: rejected with status {status}: {detail}")]
    Rejected {
        what: String,
        status: u16,
        detail: String,
    },
    /// The answer could not be understood.
    #[error("querying {what}: bad response: {detail}")]
    Decode { what: String, detail: String },
    /// The datasource URL or credentials are unusable (found before any query).
    #[error("datasource {detail}")]
    Config { detail: String },
}

impl DatasourceError {
    pub fn is_unreachable(&self) -> bool {
        matches!(self, DatasourceError::Unreachable { .. })
    }
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
}

/// One series of a range query; timestamps in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
}

/// A sample to write back, with its metric name among the labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub labels: Labels,
    pub value: f64,
    pub at: DateTime<Utc>,
}

/// Reads from the time-series database.
pub trait Querier: Send + Sync {
    /// Evaluates `expr` at `at`; `step` is the group interval (the lookback hint).
    fn query<'a>(
        &'a self,
        expr: &'a str,
        at: DateTime<Utc>,
        step: Duration,
    ) -> BoxFuture<'a, Result<Vec<Sample>, DatasourceError>>;

    /// Evaluates `expr` at every `step` from `start` to `end`.
    fn query_range<'a>(
        &'a self,
        expr: &'a str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> BoxFuture<'a, Result<Vec<Series>, DatasourceError>>;
}

/// Writes samples to the time-series database.
pub trait Importer: Send + Sync {
    fn import<'a>(&'a self, points: &'a [Point]) -> BoxFuture<'a, Result<(), DatasourceError>>;

    /// Writes whole series (metric name among the labels); compact for bulk backfills.
    fn import_series<'a>(
        &'a self,
        series: &'a [Series],
    ) -> BoxFuture<'a, Result<(), DatasourceError>> {
        Box::pin(async move {
            let points: Vec<Point> = series
                .iter()
                .flat_map(|s| {
                    s.points.iter().map(|(ts, v)| Point {
                        labels: s.labels.clone(),
                        value: *v,
                        at: DateTime::from_timestamp_millis(*ts).unwrap_or_default(),
                    })
                })
                .collect();
            self.import(&points).await
        })
    }
}

/// The VictoriaMetrics single-node (or vmselect/vminsert-compatible) HTTP client. Its URL may
/// carry a path and query parameters (vmauth, a vmselect tenant); credentials live in its
/// [`Endpoint`], never in a URL we print.
#[derive(Clone)]
pub struct VmClient {
    endpoint: Endpoint,
    http: reqwest::Client,
}

impl VmClient {
    /// `base` is like `http://127.0.0.1:8428`; `timeout` bounds each request.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, DatasourceError> {
        Self::with_auth(base, HttpAuth::None, timeout)
    }

    /// As [`VmClient::new`], authenticating with `auth` (or the URL's user info).
    pub fn with_auth(
        base: &str,
        auth: HttpAuth,
        timeout: Duration,
    ) -> Result<Self, DatasourceError> {
        let endpoint =
            Endpoint::parse(base, auth).map_err(|detail| DatasourceError::Config { detail })?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| DatasourceError::Config {
                detail: format!("{}: building HTTP client: {e}", endpoint.shown()),
            })?;
        Ok(VmClient { endpoint, http })
    }

    /// The datasource as logs, labels and answers may show it (no credentials).
    pub fn name(&self) -> &str {
        self.endpoint.shown()
    }

    /// Which credentials requests carry: `none`, `basic` or `bearer`.
    pub fn auth_kind(&self) -> &'static str {
        self.endpoint.auth_kind()
    }

    /// Asks VictoriaMetrics to make recently imported data searchable (benchmarks, tests).
    pub async fn force_flush(&self) -> Result<(), DatasourceError> {
        let url = self.endpoint.url_for("/internal/force_flush");
        self.endpoint
            .authorize(self.http.get(url))
            .send()
            .await
            .map_err(|e| unreachable("force flush", e))?;
        Ok(())
    }

    async fn get(
        &self,
        path: &str,
        what: &str,
        params: &[(&str, String)],
    ) -> Result<Data, DatasourceError> {
        let url = self.endpoint.url_for(path);
        let resp = self
            .endpoint
            .authorize(self.http.post(url))
            .form(params)
            .send()
            .await
            .map_err(|e| unreachable(what, e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| unreachable(what, e))?;
        if let Some(e) = refused(what, status) {
            return Err(e);
        }
        if status.is_server_error() && status.as_u16() != 422 {
            return Err(DatasourceError::Unreachable {
                what: what.to_string(),
                detail: format!("status {status}: {}", snippet(&body)),
            });
        }
        let parsed: Response =
            serde_json::from_slice(&body).map_err(|e| DatasourceError::Decode {
                what: what.to_string(),
                detail: format!("{e}: {}", snippet(&body)),
            })?;
        if !status.is_success() || parsed.status != "success" {
            return Err(DatasourceError::Rejected {
                what: what.to_string(),
                status: status.as_u16(),
                detail: parsed.error.unwrap_or_else(|| snippet(&body)),
            });
        }
        parsed.data.ok_or_else(|| DatasourceError::Decode {
            what: what.to_string(),
            detail: "no data in a successful response".into(),
        })
    }
}

/// 401 and 403: our credentials are missing or wrong. No query can succeed, so this counts
/// as unreachable (alerts keep their state, `DatasourceUnreachable` fires after the grace).
fn refused(what: &str, status: reqwest::StatusCode) -> Option<DatasourceError> {
    matches!(status.as_u16(), 401 | 403).then(|| DatasourceError::Unreachable {
        what: what.to_string(),
        detail: format!(
            "status {status}: the datasource refused our credentials \
             (check --datasource.basic-auth.* or --datasource.bearer-token-file)"
        ),
    })
}

fn unreachable(what: &str, e: reqwest::Error) -> DatasourceError {
    DatasourceError::Unreachable {
        what: what.to_string(),
        detail: crate::endpoint::describe(e),
    }
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    s.chars().take(300).collect()
}

fn secs(t: DateTime<Utc>) -> String {
    format!("{:.3}", t.timestamp_millis() as f64 / 1000.0)
}

#[derive(Deserialize)]
struct Response {
    status: String,
    data: Option<Data>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<VectorItem>),
    Matrix(Vec<MatrixItem>),
    Scalar((f64, String)),
    #[allow(dead_code)]
    String((f64, String)),
}

#[derive(Deserialize)]
struct VectorItem {
    metric: Labels,
    value: (f64, String),
}

#[derive(Deserialize)]
struct MatrixItem {
    metric: Labels,
    values: Vec<(f64, PromValue)>,
}

/// A sample value as the Prometheus API sends it (a string), parsed without allocating.
struct PromValue(f64);

impl<'de> Deserialize<'de> for PromValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PromValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sample value string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<PromValue, E> {
                Ok(PromValue(parse_value(s)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<PromValue, E> {
                Ok(PromValue(v))
            }
        }
        d.deserialize_str(V)
    }
}

fn parse_value(s: &str) -> f64 {
    s.parse().unwrap_or(f64::NAN)
}

impl Querier for VmClient {
    fn query<'a>(
        &'a self,
        expr: &'a str,
        at: DateTime<Utc>,
        step: Duration,
    ) -> BoxFuture<'a, Result<Vec<Sample>, DatasourceError>> {
        Box::pin(async move {
            let what = format!("{expr:?} at {}", at.to_rfc3339());
            let params = [
                ("query", expr.to_string()),
                ("time", secs(at)),
                ("step", format!("{}s", step.as_secs().max(1))),
            ];
            match self.get("/api/v1/query", &what, &params).await? {
                Data::Vector(items) => Ok(items
                    .into_iter()
                    .map(|i| Sample {
                        labels: i.metric,
                        value: parse_value(&i.value.1),
                    })
                    .collect()),
                Data::Scalar((_, v)) => Ok(vec![Sample {
                    labels: Labels::new(),
                    value: parse_value(&v),
                }]),
                _ => Err(DatasourceError::Decode {
                    what,
                    detail: "expected an instant vector or scalar".into(),
                }),
            }
        })
    }

    fn query_range<'a>(
        &'a self,
        expr: &'a str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> BoxFuture<'a, Result<Vec<Series>, DatasourceError>> {
        Box::pin(async move {
            let what = format!(
                "{expr:?} from {} to {}",
                start.to_rfc3339(),
                end.to_rfc3339()
            );
            let params = [
                ("query", expr.to_string()),
                ("start", secs(start)),
                ("end", secs(end)),
                ("step", format!("{}s", step.as_secs().max(1))),
                ("nocache", "1".to_string()),
            ];
            match self.get("/api/v1/query_range", &what, &params).await? {
                Data::Matrix(items) => Ok(items
                    .into_iter()
                    .map(|i| Series {
                        labels: i.metric,
                        points: i
                            .values
                            .into_iter()
                            .map(|(t, v)| ((t * 1000.0).round() as i64, v.0))
                            .collect(),
                    })
                    .collect()),
                _ => Err(DatasourceError::Decode {
                    what,
                    detail: "expected a range vector".into(),
                }),
            }
        })
    }
}

/// Renders points in the Prometheus text format with millisecond timestamps.
pub fn exposition(points: &[Point]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(points.len() * 96);
    for p in points {
        let name = p
            .labels
            .get(crate::labels::METRIC_NAME)
            .map(String::as_str)
            .unwrap_or("");
        out.push_str(name);
        out.push('{');
        let mut first = true;
        for (k, v) in &p.labels {
            if k == crate::labels::METRIC_NAME {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(k);
            out.push_str("=\"");
            push_escaped(&mut out, v);
            out.push('"');
        }
        out.push_str("} ");
        out.push_str(&crate::template::go_float(p.value));
        // Writing into a String cannot fail.
        let _ = writeln!(out, " {}", p.at.timestamp_millis());
    }
    out
}

/// Appends a label value escaped for the text format; most values need no escaping.
fn push_escaped(out: &mut String, v: &str) {
    if !v.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(v);
        return;
    }
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Renders series as VictoriaMetrics JSON lines (`/api/v1/import`).
pub fn json_lines(series: &[Series]) -> String {
    let mut out = String::new();
    for s in series {
        let values: Vec<f64> = s.points.iter().map(|(_, v)| *v).collect();
        let timestamps: Vec<i64> = s.points.iter().map(|(t, _)| *t).collect();
        let line =
            serde_json::json!({"metric": s.labels, "values": values, "timestamps": timestamps});
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

impl VmClient {
    async fn post_import(
        &self,
        path: &str,
        what: String,
        body: String,
    ) -> Result<(), DatasourceError> {
        let url = self.endpoint.url_for(path);
        let resp = self
            .endpoint
            .authorize(self.http.post(url))
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(&what, e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        if let Some(e) = refused(&what, status) {
            return Err(e);
        }
        let body = resp.bytes().await.unwrap_or_default();
        if status.is_server_error() {
            Err(DatasourceError::Unreachable {
                what,
                detail: format!("status {status}: {}", snippet(&body)),
            })
        } else {
            Err(DatasourceError::Rejected {
                what,
                status: status.as_u16(),
                detail: snippet(&body),
            })
        }
    }
}

impl Importer for VmClient {
    fn import_series<'a>(
        &'a self,
        series: &'a [Series],
    ) -> BoxFuture<'a, Result<(), DatasourceError>> {
        Box::pin(async move {
            if series.is_empty() {
                return Ok(());
            }
            let what = format!("import of {} series", series.len());
            self.post_import("/api/v1/import", what, json_lines(series))
                .await
        })
    }

    fn import<'a>(&'a self, points: &'a [Point]) -> BoxFuture<'a, Result<(), DatasourceError>> {
        Box::pin(async move {
            if points.is_empty() {
                return Ok(());
            }
            let what = format!("import of {} samples", points.len());
            self.post_import("/api/v1/import/prometheus", what, exposition(points))
                .await
        })
    }
}

/// A scripted datasource for unit tests: answers per expression, records imports.
#[cfg(test)]
pub mod fake {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct FakeDatasource {
        pub answers: Mutex<HashMap<String, Result<Vec<Sample>, DatasourceError>>>,
        pub imported: Mutex<Vec<Point>>,
    }

    impl FakeDatasource {
        pub fn answer(&self, expr: &str, r: Result<Vec<Sample>, DatasourceError>) {
            self.answers.lock().unwrap().insert(expr.to_string(), r);
        }
    }

    impl Querier for FakeDatasource {
        fn query<'a>(
            &'a self,
            expr: &'a str,
            _at: DateTime<Utc>,
            _step: Duration,
        ) -> BoxFuture<'a, Result<Vec<Sample>, DatasourceError>> {
            let r = self
                .answers
                .lock()
                .unwrap()
                .get(expr)
                .cloned()
                .unwrap_or(Ok(Vec::new()));
            Box::pin(async move { r })
        }

        fn query_range<'a>(
            &'a self,
            expr: &'a str,
            _start: DateTime<Utc>,
            _end: DateTime<Utc>,
            _step: Duration,
        ) -> BoxFuture<'a, Result<Vec<Series>, DatasourceError>> {
            Box::pin(async move {
                Err(DatasourceError::Rejected {
                    what: expr.to_string(),
                    status: 400,
                    detail: "the fake has no ranges".into(),
                })
            })
        }
    }

    impl Importer for FakeDatasource {
        fn import<'a>(&'a self, points: &'a [Point]) -> BoxFuture<'a, Result<(), DatasourceError>> {
            self.imported.lock().unwrap().extend_from_slice(points);
            Box::pin(async { Ok(()) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn exposition_escapes_and_uses_milliseconds() {
        let labels: Labels = [("__name__", "m"), ("a", "x\"y\\z")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let p = Point {
            labels,
            value: 0.5,
            at: Utc.timestamp_millis_opt(1_700_000_000_123).unwrap(),
        };
        assert_eq!(exposition(&[p]), "m{a=\"x\\\"y\\\\z\"} 0.5 1700000000123\n");
    }

    #[test]
    fn decodes_vectors_and_matrices() {
        let v: Response = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1.5,"+Inf"]}]}}"#,
        )
        .unwrap();
        match v.data {
            Some(Data::Vector(items)) => assert!(parse_value(&items[0].value.1).is_infinite()),
            _ => panic!("expected vector"),
        }
        let m: Response = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"2"],[2,"NaN"]]}]}}"#,
        )
        .unwrap();
        assert!(matches!(m.data, Some(Data::Matrix(ref s)) if s[0].values.len() == 2));
    }
}
