//! Log output of both programs (`--log.level`, `--log.format`): logfmt lines
//! (`ts=... level=info msg="..." key=value`) or one JSON object per line, on stderr. ANSI colour
//! only when stderr is a terminal (never in files or journald), and then only on the level.

use std::fmt::{self, Write as _};
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `--log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `key=value` pairs, one line per event (go-kit/Prometheus style).
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// `--log.level` that is not a level.
#[derive(Debug, thiserror::Error)]
#[error("--log.level: unknown level {0:?} (error, warn, info, debug, trace)")]
pub struct LevelError(pub String);

/// Installs the global subscriber: `level` (error, warn, info, debug, trace; noisy HTTP
/// internals held at warn) in `format` on stderr.
pub fn init(level: &str, format: LogFormat) -> Result<(), LevelError> {
    let filter = match level {
        "error" | "warn" | "info" | "debug" | "trace" => {
            tracing_subscriber::EnvFilter::new(format!("{level},hyper=warn,h2=warn,sqlx=warn"))
        }
        other => return Err(LevelError(other.to_string())),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Logfmt => builder
            .event_format(Logfmt {
                colour: std::io::stderr().is_terminal(),
            })
            .init(),
    }
    Ok(())
}

/// The logfmt line format.
pub struct Logfmt {
    /// Colour the level (a terminal only).
    pub colour: bool,
}

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::with_capacity(160);
        format_line(&mut line, event, self.colour, chrono_now());
        w.write_str(&line)
    }
}

fn chrono_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339_millis(d.as_secs() as i64, d.subsec_millis())
}

/// `2026-03-02T09:00:00.123Z` from Unix seconds and milliseconds (no calendar crate needed).
fn rfc3339_millis(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn format_line(out: &mut String, event: &Event<'_>, colour: bool, ts: String) {
    let meta = event.metadata();
    let level = match *meta.level() {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    };
    let _ = write!(out, "ts={ts} level=");
    if colour {
        let code = match *meta.level() {
            Level::ERROR => "31",
            Level::WARN => "33",
            Level::INFO => "32",
            _ => "34",
        };
        let _ = write!(out, "\x1b[{code}m{level}\x1b[0m");
    } else {
        out.push_str(level);
    }
    out.push_str(" target=");
    push_value(out, meta.target());
    let mut v = Pairs {
        msg: None,
        rest: String::new(),
    };
    event.record(&mut v);
    if let Some(m) = v.msg {
        out.push_str(" msg=");
        push_value(out, &m);
    }
    out.push_str(&v.rest);
    out.push('\n');
}

struct Pairs {
    msg: Option<String>,
    rest: String,
}

impl Pairs {
    fn pair(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg = Some(value.to_string());
            return;
        }
        self.rest.push(' ');
        push_key(&mut self.rest, field.name());
        self.rest.push('=');
        push_value(&mut self.rest, value);
    }
}

impl Visit for Pairs {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.pair(field, value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.pair(field, &format!("{value:?}"));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.pair(field, &value.to_string());
    }
}

/// A key as logfmt allows it: no space, `=` or `"`.
fn push_key(out: &mut String, key: &str) {
    for c in key.chars() {
        out.push(if c.is_whitespace() || c == '=' || c == '"' {
            '_'
        } else {
            c
        });
    }
}

/// A value, quoted when empty or holding a space, `=`, `"` or a control character; `"`, `\`
/// and control characters escaped inside quotes, so a line is always one line.
pub fn push_value(out: &mut String, v: &str) {
    let plain = !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c == '=' || c == '"' || c == '\\' || c.is_control());
    if plain {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(v: &str) -> String {
        let mut s = String::new();
        push_value(&mut s, v);
        s
    }

    #[test]
    fn values_are_quoted_only_when_needed() {
        assert_eq!(value("ready"), "ready");
        assert_eq!(value("127.0.0.1:9117"), "127.0.0.1:9117");
        assert_eq!(value(""), "\"\"");
        assert_eq!(value("store ready"), "\"store ready\"");
        assert_eq!(value("a=b"), "\"a=b\"");
        assert_eq!(value("say \"hi\"\nthen\\"), "\"say \\\"hi\\\"\\nthen\\\\\"");
        assert_eq!(value("\x1b[31m"), "\"\\u{001b}[31m\"");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_millis(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(1_772_442_000, 7), "2026-03-02T09:00:00.007Z");
        assert_eq!(rfc3339_millis(951_782_400, 999), "2000-02-29T00:00:00.999Z");
    }

    #[test]
    fn a_line_is_logfmt_without_colour_off_a_terminal() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let w = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_writer(move || w.clone())
            .event_format(Logfmt { colour: false })
            .finish();
        tracing::subscriber::with_default(sub, || {
            tracing::warn!(device = "Isani-1111", error = %"timeout after 2 s", polls = 3, "visit failed");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let line = text.trim_end();
        assert!(line.starts_with("ts=20"), "{line}");
        let after_ts = line.split_once(' ').unwrap().1;
        assert_eq!(
            after_ts,
            "level=warn target=wardflux_web::logging::tests msg=\"visit failed\" device=Isani-1111 error=\"timeout after 2 s\" polls=3"
        );
        assert!(!text.contains('\x1b'));
    }
}
