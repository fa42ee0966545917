//! The datasource edge: a [`Querier`] for instant and range queries and an [`Importer`] for
//! writing recorded series back, with the VictoriaMetrics HTTP client as the one real
//! implementation (`/api/v1/query`, `/api/v1/query_range`, `/api/v1/import/prometheus`).

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

/// Recorded samples on their way back to the datasource. Each series' label block in the
/// text format (`name{a="1",b="2"}`, values escaped) is rendered once into one shared buffer,
/// and samples refer to their series by index, so writing a sample costs no label work and
/// no allocation: a series evaluated at many steps (replay) or a whole instant vector (live)
/// shares one buffer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    /// Label blocks of every series, one after another.
    text: String,
    /// Where each series' block lies in `text`.
    series: Vec<(u32, u32)>,
    samples: Vec<RecordedSample>,
}

/// One sample of a [`Recorded`] batch.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RecordedSample {
    series: u32,
    at_ms: i64,
    value: f64,
}

/// A series of a [`Recorded`] batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(u32);

impl Recorded {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a series named `name` with `labels` (name/value pairs, `__name__` left out by the
    /// caller); pairs are written in the order given.
    pub fn push_series<'a>(
        &mut self,
        name: &str,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> SeriesId {
        self.begin_series(name);
        for (k, v) in labels {
            self.push_label(k, v);
        }
        self.end_series()
    }

    /// Starts a series named `name`; labels follow with [`Recorded::push_label`] and the
    /// series is done with [`Recorded::end_series`].
    pub fn begin_series(&mut self, name: &str) {
        self.series.push((offset(self.text.len()), 0));
        self.text.push_str(name);
        self.text.push('{');
    }

    /// Adds a label to the series begun last.
    pub fn push_label(&mut self, name: &str, value: &str) {
        if !self.text.ends_with('{') {
            self.text.push(',');
        }
        self.text.push_str(name);
        self.text.push_str("=\"");
        push_escaped(&mut self.text, value);
        self.text.push('"');
    }

    /// Ends the series begun last.
    pub fn end_series(&mut self) -> SeriesId {
        self.text.push('}');
        let n = self.series.len() - 1;
        self.series[n].1 = offset(self.text.len());
        SeriesId(offset(n))
    }

    /// Adds a sample of `series` at `at_ms` (milliseconds since the epoch).
    pub fn push_sample(&mut self, series: SeriesId, at_ms: i64, value: f64) {
        self.samples.push(RecordedSample {
            series: series.0,
            at_ms,
            value,
        });
    }

    /// Drops the samples and keeps the series, for the next step of the same series.
    pub fn clear_samples(&mut self) {
        self.samples.clear();
    }

    /// Drops series and samples, keeping the buffers.
    pub fn clear(&mut self) {
        self.text.clear();
        self.series.clear();
        self.samples.clear();
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The number of series.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// The label block of `series`, as written: `name{a="1"}`.
    pub fn block(&self, series: SeriesId) -> &str {
        let (a, b) = self.series[series.0 as usize];
        &self.text[a as usize..b as usize]
    }

    /// Every series' label block, in the order added.
    pub fn blocks(&self) -> impl Iterator<Item = &str> + '_ {
        self.series
            .iter()
            .map(|&(a, b)| &self.text[a as usize..b as usize])
    }

    /// Every sample as (label block, milliseconds, value), in the order added.
    pub fn samples(&self) -> impl Iterator<Item = (&str, i64, f64)> + '_ {
        self.samples
            .iter()
            .map(|s| (self.block(SeriesId(s.series)), s.at_ms, s.value))
    }

    /// The samples from `from` (an index) as the Prometheus text format with millisecond
    /// timestamps, appended to `out` until it holds at least `limit` bytes; returns the index
    /// of the first sample not written.
    pub fn write_exposition(&self, from: usize, out: &mut String, limit: usize) -> usize {
        let mut i = from;
        while i < self.samples.len() && out.len() < limit {
            let s = self.samples[i];
            out.push_str(self.block(SeriesId(s.series)));
            out.push(' ');
            push_value(out, s.value);
            out.push(' ');
            push_int(out, s.at_ms);
            out.push('\n');
            i += 1;
        }
        i
    }

    /// Points, one label set per series (for backfills and tests).
    pub fn from_points(points: &[Point]) -> Self {
        let mut r = Recorded::new();
        for p in points {
            let name = p
                .labels
                .get(crate::labels::METRIC_NAME)
                .map(String::as_str)
                .unwrap_or("");
            let id = r.push_series(
                name,
                p.labels
                    .iter()
                    .filter(|(k, _)| *k != crate::labels::METRIC_NAME)
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            );
            r.push_sample(id, p.at.timestamp_millis(), p.value);
        }
        r
    }
}

fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("a recorded batch stays under 4 GiB")
}

/// Appends a sample value: shortest round-trip digits, the text format's special values.
fn push_value(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == 0.0 || (1e-4..1e15).contains(&v.abs()) {
        // Writing into a String cannot fail.
        let _ = write!(out, "{v}");
    } else {
        let _ = write!(out, "{v:e}");
    }
}

/// Appends a decimal integer without going through `fmt`.
fn push_int(out: &mut String, n: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
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
    /// Writes a batch of recorded samples.
    fn import<'a>(&'a self, batch: &'a Recorded) -> BoxFuture<'a, Result<(), DatasourceError>>;

    /// Writes points (metric name among the labels), one label set each: backfills and tests.
    fn import_points<'a>(
        &'a self,
        points: &'a [Point],
    ) -> BoxFuture<'a, Result<(), DatasourceError>> {
        Box::pin(async move { self.import(&Recorded::from_points(points)).await })
    }

    /// Writes whole series (metric name among the labels); compact for bulk backfills.
    fn import_series<'a>(
        &'a self,
        series: &'a [Series],
    ) -> BoxFuture<'a, Result<(), DatasourceError>> {
        Box::pin(async move {
            let mut batch = Recorded::new();
            for s in series {
                let name = s
                    .labels
                    .get(crate::labels::METRIC_NAME)
                    .map(String::as_str)
                    .unwrap_or("");
                let id = batch.push_series(
                    name,
                    s.labels
                        .iter()
                        .filter(|(k, _)| *k != crate::labels::METRIC_NAME)
                        .map(|(k, v)| (k.as_str(), v.as_str())),
                );
                for (ts, v) in &s.points {
                    batch.push_sample(id, *ts, *v);
                }
            }
            self.import(&batch).await
        })
    }
}

/// The VictoriaMetrics single-node (or vmselect/vminsert-compatible) HTTP client.
#[derive(Clone)]
pub struct VmClient {
    base: String,
    http: reqwest::Client,
}

impl VmClient {
    /// `base` is like `http://127.0.0.1:8428`; `timeout` bounds each request.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, DatasourceError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| DatasourceError::Unreachable {
                what: base.to_string(),
                detail: format!("building HTTP client: {e}"),
            })?;
        Ok(VmClient {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn get(
        &self,
        path: &str,
        what: &str,
        params: &[(&str, String)],
    ) -> Result<Data, DatasourceError> {
        let url = format!("{}{}", self.base, path);
        let resp = self
            .http
            .post(&url)
            .form(params)
            .send()
            .await
            .map_err(|e| unreachable(what, &e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| unreachable(what, &e))?;
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

fn unreachable(what: &str, e: &reqwest::Error) -> DatasourceError {
    // reqwest's Display omits the cause (connection refused, timed out); walk the chain.
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        src = s.source();
    }
    DatasourceError::Unreachable {
        what: what.to_string(),
        detail,
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

/// Bytes of text format per import request: bounds the ruler's memory for large results
/// (VictoriaMetrics accepts far larger bodies).
const IMPORT_BODY_BYTES: usize = 4 << 20;

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
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .post(&url)
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(&what, &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
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

    fn import<'a>(&'a self, batch: &'a Recorded) -> BoxFuture<'a, Result<(), DatasourceError>> {
        Box::pin(async move {
            let mut next = 0;
            while next < batch.len() {
                let mut body = String::with_capacity(IMPORT_BODY_BYTES + 4096);
                let from = next;
                next = batch.write_exposition(from, &mut body, IMPORT_BODY_BYTES);
                let what = format!("import of {} samples", next - from);
                self.post_import("/api/v1/import/prometheus", what, body)
                    .await?;
            }
            Ok(())
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
        /// Imported samples as (label block, milliseconds, value).
        pub imported: Mutex<Vec<(String, i64, f64)>>,
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
        fn import<'a>(&'a self, batch: &'a Recorded) -> BoxFuture<'a, Result<(), DatasourceError>> {
            self.imported
                .lock()
                .unwrap()
                .extend(batch.samples().map(|(b, t, v)| (b.to_string(), t, v)));
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
        let mut out = String::new();
        let r = Recorded::from_points(&[p]);
        assert_eq!(r.write_exposition(0, &mut out, usize::MAX), 1);
        assert_eq!(out, "m{a=\"x\\\"y\\\\z\"} 0.5 1700000000123\n");
    }

    #[test]
    fn exposition_values_round_trip() {
        let mut r = Recorded::new();
        let id = r.push_series("m", [("a", "1")]);
        let values = [
            0.0,
            1.0,
            -2.5,
            1e-7,
            123456.789,
            1e15,
            1.7976931348623157e308,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        for (i, v) in values.iter().enumerate() {
            r.push_sample(id, -(i as i64) * 1000, *v);
        }
        r.push_sample(id, 7, f64::NAN);
        let mut out = String::new();
        r.write_exposition(0, &mut out, usize::MAX);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), values.len() + 1);
        for (i, (line, v)) in lines.iter().zip(values).enumerate() {
            let f: Vec<&str> = line.split(' ').collect();
            assert_eq!(f[0], "m{a=\"1\"}");
            let parsed = match f[1] {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                x => x.parse::<f64>().unwrap(),
            };
            assert_eq!(parsed, v, "{line}");
            assert_eq!(f[2], (-(i as i64) * 1000).to_string());
        }
        assert_eq!(lines[values.len()], "m{a=\"1\"} NaN 7");
    }

    #[test]
    fn exposition_is_cut_into_bounded_bodies_without_losing_samples() {
        let mut r = Recorded::new();
        let a = r.push_series("m", [("a", "1")]);
        let b = r.push_series("m", []);
        for t in 0..10 {
            r.push_sample(if t % 2 == 0 { a } else { b }, t, 1.0);
        }
        assert_eq!(r.len(), 10);
        assert_eq!(r.series_count(), 2);
        assert_eq!(r.block(b), "m{}");
        let (mut next, mut bodies, mut all) = (0, 0, String::new());
        while next < r.len() {
            let mut body = String::new();
            next = r.write_exposition(next, &mut body, 30);
            assert!(body.len() < 30 + 20, "{body}");
            bodies += 1;
            all.push_str(&body);
        }
        assert!(bodies > 1);
        assert_eq!(all.lines().count(), 10);
        r.clear_samples();
        assert!(r.is_empty());
        assert_eq!(r.series_count(), 2);
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
