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

/// Reads from the time-series database. A partial answer (a VictoriaMetrics cluster with a
/// storage node down) is [`DatasourceError::Unreachable`]: series missing from it are not gone.
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

    /// [`Querier::query`] decoded into one [`FlatSeries`] (no label map per series), for
    /// results that are written straight back.
    fn query_flat<'a>(
        &'a self,
        expr: &'a str,
        at: DateTime<Utc>,
        step: Duration,
    ) -> BoxFuture<'a, Result<FlatSeries, DatasourceError>> {
        Box::pin(async move {
            let samples = self.query(expr, at, step).await?;
            Ok(FlatSeries::from_samples(&samples, at.timestamp_millis()))
        })
    }

    /// [`Querier::query_range`] decoded into one [`FlatSeries`].
    fn query_range_flat<'a>(
        &'a self,
        expr: &'a str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> BoxFuture<'a, Result<FlatSeries, DatasourceError>> {
        Box::pin(async move {
            let series = self.query_range(expr, start, end, step).await?;
            Ok(FlatSeries::from_series(&series))
        })
    }
}

/// Query results decoded without a label map per series: the label pairs of every series
/// in one shared buffer (sorted by name within a series), and every point in another.
/// Decoding a result of N series costs no allocation per series.
#[derive(Debug, Clone, Default)]
pub struct FlatSeries {
    text: String,
    /// Label name and value of each pair, as ranges of `text`.
    pairs: Vec<[u32; 4]>,
    /// Per series: its pairs and its points, as ranges.
    series: Vec<[u32; 4]>,
    /// Milliseconds and value.
    points: Vec<(i64, f64)>,
}

impl FlatSeries {
    /// The number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The labels of series `i`, sorted by name (`__name__` included when present).
    pub fn labels(&self, i: usize) -> impl Iterator<Item = (&str, &str)> + '_ {
        let [a, b, _, _] = self.series[i];
        self.pairs[a as usize..b as usize].iter().map(|p| {
            (
                &self.text[p[0] as usize..p[1] as usize],
                &self.text[p[2] as usize..p[3] as usize],
            )
        })
    }

    /// The points of series `i` (milliseconds, value), in the order received.
    pub fn points(&self, i: usize) -> &[(i64, f64)] {
        let [_, _, a, b] = self.series[i];
        &self.points[a as usize..b as usize]
    }

    fn push_str(&mut self, s: &str) -> (u32, u32) {
        let a = offset(self.text.len());
        self.text.push_str(s);
        (a, offset(self.text.len()))
    }

    /// Ends a series whose pairs start at `pairs` and points at `points`: sorts its pairs.
    fn end_series(&mut self, pairs: usize, points: usize) {
        let text = &self.text;
        let name = |p: &[u32; 4]| &text[p[0] as usize..p[1] as usize];
        let own = &mut self.pairs[pairs..];
        if !own.is_sorted_by(|a, b| name(a) <= name(b)) {
            own.sort_by(|a, b| name(a).cmp(name(b)));
        }
        self.series.push([
            offset(pairs),
            offset(self.pairs.len()),
            offset(points),
            offset(self.points.len()),
        ]);
    }

    fn push<'a>(
        &mut self,
        labels: impl IntoIterator<Item = (&'a String, &'a String)>,
        points: impl IntoIterator<Item = (i64, f64)>,
    ) {
        let (p0, t0) = (self.pairs.len(), self.points.len());
        for (k, v) in labels {
            let (a, b) = self.push_str(k);
            let (c, d) = self.push_str(v);
            self.pairs.push([a, b, c, d]);
        }
        self.points.extend(points);
        self.end_series(p0, t0);
    }

    /// Instant samples, each stamped `at_ms`.
    pub fn from_samples(samples: &[Sample], at_ms: i64) -> Self {
        let mut out = FlatSeries::default();
        for s in samples {
            out.push(&s.labels, [(at_ms, s.value)]);
        }
        out
    }

    /// Range series.
    pub fn from_series(series: &[Series]) -> Self {
        let mut out = FlatSeries::default();
        for s in series {
            out.push(&s.labels, s.points.iter().copied());
        }
        out
    }
}

/// Decodes a `result` array (vector or matrix) straight into the shared buffers.
impl<'de> Deserialize<'de> for FlatSeries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
        use std::fmt;

        struct Items;
        impl<'de> Visitor<'de> for Items {
            type Value = FlatSeries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of series")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FlatSeries, A::Error> {
                let mut out = FlatSeries::default();
                while seq.next_element_seed(Item(&mut out))?.is_some() {}
                Ok(out)
            }
        }

        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "lowercase")]
        enum Field {
            Metric,
            Value,
            Values,
            #[serde(other)]
            Other,
        }

        struct Item<'o>(&'o mut FlatSeries);
        impl<'de> DeserializeSeed<'de> for Item<'_> {
            type Value = ();
            fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_map(self)
            }
        }
        impl<'de> Visitor<'de> for Item<'_> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a series with metric and value(s)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
                let out = self.0;
                let (p0, t0) = (out.pairs.len(), out.points.len());
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::Metric => map.next_value_seed(Metric(&mut *out))?,
                        Field::Value => {
                            let (t, v): (f64, PromValue) = map.next_value()?;
                            out.points.push(((t * 1000.0).round() as i64, v.0));
                        }
                        Field::Values => map.next_value_seed(Values(&mut *out))?,
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                out.end_series(p0, t0);
                Ok(())
            }
        }

        struct Metric<'o>(&'o mut FlatSeries);
        impl<'de> DeserializeSeed<'de> for Metric<'_> {
            type Value = ();
            fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_map(self)
            }
        }
        impl<'de> Visitor<'de> for Metric<'_> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a label map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
                let out = self.0;
                while let Some((a, b)) = map.next_key_seed(Text(&mut out.text))? {
                    let (c, d) = map.next_value_seed(Text(&mut out.text))?;
                    out.pairs.push([a, b, c, d]);
                }
                Ok(())
            }
        }

        /// A string appended to the shared text; yields its range.
        struct Text<'o>(&'o mut String);
        impl<'de> DeserializeSeed<'de> for Text<'_> {
            type Value = (u32, u32);
            fn deserialize<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<(u32, u32), D::Error> {
                d.deserialize_str(self)
            }
        }
        impl<'de> Visitor<'de> for Text<'_> {
            type Value = (u32, u32);
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<(u32, u32), E> {
                let a = offset(self.0.len());
                self.0.push_str(s);
                Ok((a, offset(self.0.len())))
            }
        }

        struct Values<'o>(&'o mut FlatSeries);
        impl<'de> DeserializeSeed<'de> for Values<'_> {
            type Value = ();
            fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_seq(self)
            }
        }
        impl<'de> Visitor<'de> for Values<'_> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of [time, value]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                while let Some((t, v)) = seq.next_element::<(f64, PromValue)>()? {
                    self.0.points.push(((t * 1000.0).round() as i64, v.0));
                }
                Ok(())
            }
        }

        d.deserialize_seq(Items)
    }
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

    async fn get<D: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        what: &str,
        params: &[(&str, String)],
    ) -> Result<D, DatasourceError> {
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
        let parsed: Response<D> =
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
        if parsed.is_partial {
            return Err(DatasourceError::Unreachable {
                what: what.to_string(),
                detail: "partial response: some storage nodes did not answer (isPartial)".into(),
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

/// What an instant query at `at` is called in errors, and its /api/v1/query parameters.
fn instant_request(
    expr: &str,
    at: DateTime<Utc>,
    step: Duration,
) -> (String, [(&'static str, String); 3]) {
    let what = format!("{expr:?} at {}", at.to_rfc3339());
    let params = [
        ("query", expr.to_string()),
        ("time", secs(at)),
        ("step", format!("{}s", step.as_secs().max(1))),
    ];
    (what, params)
}

/// What a range query is called in errors, and its /api/v1/query_range parameters (uncached:
/// the range may end in the present).
fn range_request(
    expr: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Duration,
) -> (String, [(&'static str, String); 5]) {
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
    (what, params)
}

/// A well-formed answer of the wrong result type.
fn unexpected(what: String, expected: &str) -> DatasourceError {
    DatasourceError::Decode {
        what,
        detail: expected.into(),
    }
}

#[derive(Deserialize)]
struct Response<D> {
    status: String,
    data: Option<D>,
    error: Option<String>,
    /// VictoriaMetrics cluster: some vmstorage nodes did not answer, the result lacks their
    /// series.
    #[serde(rename = "isPartial", default)]
    is_partial: bool,
}

/// A result decoded into [`FlatSeries`].
#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum FlatData {
    Vector(FlatSeries),
    Matrix(FlatSeries),
    Scalar((f64, PromValue)),
    #[allow(dead_code)]
    String(serde::de::IgnoredAny),
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
            let (what, params) = instant_request(expr, at, step);
            match self.get::<Data>("/api/v1/query", &what, &params).await? {
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
                _ => Err(unexpected(what, "expected an instant vector or scalar")),
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
            let (what, params) = range_request(expr, start, end, step);
            match self
                .get::<Data>("/api/v1/query_range", &what, &params)
                .await?
            {
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
                _ => Err(unexpected(what, "expected a range vector")),
            }
        })
    }

    fn query_flat<'a>(
        &'a self,
        expr: &'a str,
        at: DateTime<Utc>,
        step: Duration,
    ) -> BoxFuture<'a, Result<FlatSeries, DatasourceError>> {
        Box::pin(async move {
            let (what, params) = instant_request(expr, at, step);
            match self
                .get::<FlatData>("/api/v1/query", &what, &params)
                .await?
            {
                FlatData::Vector(v) => Ok(v),
                FlatData::Scalar((_, v)) => Ok(FlatSeries::from_samples(
                    &[Sample {
                        labels: Labels::new(),
                        value: v.0,
                    }],
                    at.timestamp_millis(),
                )),
                _ => Err(unexpected(what, "expected an instant vector or scalar")),
            }
        })
    }

    fn query_range_flat<'a>(
        &'a self,
        expr: &'a str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: Duration,
    ) -> BoxFuture<'a, Result<FlatSeries, DatasourceError>> {
        Box::pin(async move {
            let (what, params) = range_request(expr, start, end, step);
            match self
                .get::<FlatData>("/api/v1/query_range", &what, &params)
                .await?
            {
                FlatData::Matrix(m) => Ok(m),
                _ => Err(unexpected(what, "expected a range vector")),
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
    fn flat_decoding_matches_the_label_maps() {
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"m","z":"1","a":"x\"y","b":"\u00e9"},"value":[1700000000.123,"2.5"]},
            {"metric":{},"value":[1700000000.123,"NaN"],"extra":[1]}]}}"#;
        let flat: Response<FlatData> = serde_json::from_str(vector).unwrap();
        let Some(FlatData::Vector(flat)) = flat.data else {
            panic!("expected a vector")
        };
        assert_eq!(flat.len(), 2);
        let labels: Vec<(&str, &str)> = flat.labels(0).collect();
        assert_eq!(
            labels,
            vec![
                ("__name__", "m"),
                ("a", "x\"y"),
                ("b", "\u{e9}"),
                ("z", "1")
            ]
        );
        assert_eq!(flat.points(0), &[(1_700_000_000_123, 2.5)]);
        assert_eq!(flat.labels(1).count(), 0);
        assert!(flat.points(1)[0].1.is_nan());

        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"values":[[60,"1"],[120,"+Inf"]],"metric":{"b":"2","a":"1"}},
            {"metric":{"a":"3"},"values":[]}]}}"#;
        let flat: Response<FlatData> = serde_json::from_str(matrix).unwrap();
        let Some(FlatData::Matrix(flat)) = flat.data else {
            panic!("expected a matrix")
        };
        let maps: Response<Data> = serde_json::from_str(matrix).unwrap();
        let Some(Data::Matrix(items)) = maps.data else {
            panic!("expected a matrix")
        };
        let maps: Vec<Series> = items
            .into_iter()
            .map(|i| Series {
                labels: i.metric,
                points: i
                    .values
                    .into_iter()
                    .map(|(t, v)| ((t * 1000.0).round() as i64, v.0))
                    .collect(),
            })
            .collect();
        assert_eq!(flat.len(), maps.len());
        for (i, m) in maps.iter().enumerate() {
            let want: Vec<(&str, &str)> = m
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(flat.labels(i).collect::<Vec<_>>(), want);
            assert_eq!(flat.points(i), m.points.as_slice());
        }
        let built = FlatSeries::from_series(&maps);
        type View = Vec<(Vec<(String, String)>, Vec<(i64, f64)>)>;
        let view = |f: &FlatSeries| -> View {
            (0..f.len())
                .map(|i| {
                    (
                        f.labels(i)
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                        f.points(i).to_vec(),
                    )
                })
                .collect()
        };
        assert_eq!(view(&flat), view(&built));
    }

    #[test]
    fn decodes_vectors_and_matrices() {
        let v: Response<Data> = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1.5,"+Inf"]}]}}"#,
        )
        .unwrap();
        match v.data {
            Some(Data::Vector(items)) => assert!(parse_value(&items[0].value.1).is_infinite()),
            _ => panic!("expected vector"),
        }
        let m: Response<Data> = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"2"],[2,"NaN"]]}]}}"#,
        )
        .unwrap();
        assert!(matches!(m.data, Some(Data::Matrix(ref s)) if s[0].values.len() == 2));
    }

    /// A VictoriaMetrics cluster answering `isPartial: true` (a vmstorage node down): the
    /// answer is not taken, it counts as unreachable, for both decodings.
    #[tokio::test]
    async fn a_partial_answer_counts_as_unreachable() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let body = r#"{"status":"success","isPartial":true,"data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"2"]}]}}"#;
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = vec![0u8; 65536];
                let _ = sock.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            }
        });
        let c = VmClient::new(&format!("http://{addr}"), Duration::from_secs(10)).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let e = c
            .query("up", at, Duration::from_secs(60))
            .await
            .unwrap_err();
        assert!(
            e.is_unreachable() && e.to_string().contains("isPartial"),
            "{e}"
        );
        let e = c
            .query_flat("up", at, Duration::from_secs(60))
            .await
            .unwrap_err();
        assert!(e.is_unreachable(), "{e}");
    }
}
