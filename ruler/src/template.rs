//! Annotation and label templates in the Go-template subset that Prometheus rule files use:
//! `{{ $labels.x }}`, `{{ $value }}`, pipelines such as `{{ $value | humanize }}`, and the
//! functions `humanize`, `humanize1024`, `humanizePercentage`, `humanizeDuration`,
//! `humanizeTimestamp`, `printf`,
//! `toUpper`, `toLower`, `title` and `index`. Templates are parsed once at rule load, so a bad
//! one is rejected with its rule; rendering cannot fail.

use crate::labels::Labels;
use thiserror::Error;

/// A template parse failure; `pos` is the byte offset in the template text.
#[derive(Debug, Error, PartialEq)]
#[error("template at byte {pos}: {msg}")]
pub struct TemplateError {
    pub pos: usize,
    pub msg: String,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Pipeline(Vec<Command>),
}

#[derive(Debug, Clone, PartialEq)]
struct Command {
    func: Option<Func>,
    args: Vec<Arg>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Humanize,
    Humanize1024,
    HumanizePercentage,
    HumanizeDuration,
    HumanizeTimestamp,
    Printf,
    ToUpper,
    ToLower,
    Title,
    Index,
}

impl Func {
    fn by_name(name: &str) -> Option<Func> {
        Some(match name {
            "humanize" => Func::Humanize,
            "humanize1024" => Func::Humanize1024,
            "humanizePercentage" => Func::HumanizePercentage,
            "humanizeDuration" => Func::HumanizeDuration,
            "humanizeTimestamp" => Func::HumanizeTimestamp,
            "printf" => Func::Printf,
            "toUpper" => Func::ToUpper,
            "toLower" => Func::ToLower,
            "title" => Func::Title,
            "index" => Func::Index,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Value,
    Labels,
    Label(String),
    Str(String),
    Num(f64),
}

/// What a template sees: the alert's labels and the sample value.
pub struct Context<'a> {
    pub labels: &'a Labels,
    pub value: f64,
}

#[derive(Debug, Clone)]
enum Val<'a> {
    Num(f64),
    Str(String),
    Map(&'a Labels),
}

impl Val<'_> {
    fn text(&self) -> String {
        match self {
            Val::Num(n) => go_float(*n),
            Val::Str(s) => s.clone(),
            Val::Map(m) => crate::labels::display(m),
        }
    }
    fn num(&self) -> f64 {
        match self {
            Val::Num(n) => *n,
            Val::Str(s) => s.trim().parse().unwrap_or(f64::NAN),
            Val::Map(_) => f64::NAN,
        }
    }
}

impl Template {
    /// Parses `src`; text outside `{{ }}` is kept verbatim, `{{-` and `-}}` trim whitespace.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = src;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            let mut text = rest[..open].to_string();
            let mut inner_start = open + 2;
            if rest[inner_start..].starts_with('-') {
                text.truncate(text.trim_end().len());
                inner_start += 1;
            }
            let close = rest[inner_start..]
                .find("}}")
                .ok_or_else(|| TemplateError {
                    pos: offset + open,
                    msg: "unclosed action".into(),
                })?
                + inner_start;
            let mut inner = &rest[inner_start..close];
            let mut trim_after = false;
            if inner.ends_with('-') {
                inner = &inner[..inner.len() - 1];
                trim_after = true;
            }
            if !text.is_empty() {
                parts.push(Part::Text(text));
            }
            parts.push(Part::Pipeline(parse_pipeline(inner, offset + inner_start)?));
            offset += close + 2;
            rest = &rest[close + 2..];
            if trim_after {
                let trimmed = rest.trim_start();
                offset += rest.len() - trimmed.len();
                rest = trimmed;
            }
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// Renders the template; a function given the wrong kind of value yields `NaN`-style
    /// text rather than failing, as a missing label yields an empty string.
    pub fn render(&self, ctx: &Context<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Pipeline(cmds) => {
                    let mut piped: Option<Val<'_>> = None;
                    for cmd in cmds {
                        piped = Some(run(cmd, piped.take(), ctx));
                    }
                    if let Some(v) = piped {
                        out.push_str(&v.text());
                    }
                }
            }
        }
        out
    }

    /// True when the template is plain text.
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }
}

fn run<'a>(cmd: &Command, piped: Option<Val<'a>>, ctx: &Context<'a>) -> Val<'a> {
    let mut args: Vec<Val<'a>> = cmd
        .args
        .iter()
        .map(|a| match a {
            Arg::Value => Val::Num(ctx.value),
            Arg::Labels => Val::Map(ctx.labels),
            Arg::Label(name) => Val::Str(ctx.labels.get(name).cloned().unwrap_or_default()),
            Arg::Str(s) => Val::Str(s.clone()),
            Arg::Num(n) => Val::Num(*n),
        })
        .collect();
    if let Some(p) = piped {
        args.push(p);
    }
    let Some(func) = cmd.func else {
        return args.into_iter().next().unwrap_or(Val::Str(String::new()));
    };
    let first = args.first().cloned().unwrap_or(Val::Str(String::new()));
    match func {
        Func::Humanize => Val::Str(humanize(first.num())),
        Func::Humanize1024 => Val::Str(humanize1024(first.num())),
        Func::HumanizePercentage => Val::Str(format!("{}%", fmt_g(first.num() * 100.0, 4))),
        Func::HumanizeDuration => Val::Str(humanize_duration(first.num())),
        Func::HumanizeTimestamp => Val::Str(humanize_timestamp(first.num())),
        Func::Printf => Val::Str(printf(&first.text(), &args[1.min(args.len())..])),
        Func::ToUpper => Val::Str(first.text().to_uppercase()),
        Func::ToLower => Val::Str(first.text().to_lowercase()),
        Func::Title => Val::Str(title(&first.text())),
        Func::Index => match (&first, args.get(1)) {
            (Val::Map(m), Some(k)) => Val::Str(m.get(&k.text()).cloned().unwrap_or_default()),
            _ => Val::Str(String::new()),
        },
    }
}

fn parse_pipeline(src: &str, base: usize) -> Result<Vec<Command>, TemplateError> {
    let tokens = tokenize(src, base)?;
    let mut cmds = Vec::new();
    for (i, seg) in tokens.split(|t| t.1 == Tok::Pipe).enumerate() {
        let Some(((pos, head), tail)) = seg.split_first().map(|(h, t)| (h.clone(), t)) else {
            return Err(TemplateError {
                pos: base,
                msg: "empty command in pipeline".into(),
            });
        };
        let cmd = match head {
            Tok::Ident(name) => {
                let func = Func::by_name(&name).ok_or_else(|| TemplateError {
                    pos,
                    msg: format!("unsupported function or action {name:?}"),
                })?;
                let args = tail.iter().map(arg_of).collect::<Result<Vec<_>, _>>()?;
                Command {
                    func: Some(func),
                    args,
                }
            }
            other => {
                if i > 0 || !tail.is_empty() {
                    return Err(TemplateError {
                        pos,
                        msg: "a value can only start a pipeline on its own".into(),
                    });
                }
                Command {
                    func: None,
                    args: vec![arg_of(&(pos, other))?],
                }
            }
        };
        cmds.push(cmd);
    }
    if cmds.is_empty() {
        return Err(TemplateError {
            pos: base,
            msg: "empty action".into(),
        });
    }
    Ok(cmds)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Var(String),
    Str(String),
    Num(f64),
    Pipe,
}

fn arg_of((pos, tok): &(usize, Tok)) -> Result<Arg, TemplateError> {
    let err = |msg: String| TemplateError { pos: *pos, msg };
    match tok {
        Tok::Var(path) => {
            let path = path.as_str();
            match path {
                "$value" | ".Value" => Ok(Arg::Value),
                "$labels" | ".Labels" => Ok(Arg::Labels),
                _ => {
                    for prefix in ["$labels.", ".Labels."] {
                        if let Some(name) = path.strip_prefix(prefix) {
                            return Ok(Arg::Label(name.to_string()));
                        }
                    }
                    Err(err(format!("unknown variable {path:?}")))
                }
            }
        }
        Tok::Str(s) => Ok(Arg::Str(s.clone())),
        Tok::Num(n) => Ok(Arg::Num(*n)),
        Tok::Ident(name) => Err(err(format!("function {name:?} used as an argument"))),
        Tok::Pipe => Err(err("unexpected |".into())),
    }
}

fn tokenize(src: &str, base: usize) -> Result<Vec<(usize, Tok)>, TemplateError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        let pos = base + i;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'|' {
            out.push((pos, Tok::Pipe));
            i += 1;
        } else if c == b'"' || c == b'`' {
            let mut s = String::new();
            let mut j = i + 1;
            loop {
                let Some(&d) = b.get(j) else {
                    return Err(TemplateError {
                        pos,
                        msg: "unterminated string".into(),
                    });
                };
                if d == c {
                    break;
                }
                if d == b'\\' && c == b'"' {
                    // The escaped character may be several bytes long: step over all of them.
                    let Some(esc) = src[j + 1..].chars().next() else {
                        return Err(TemplateError {
                            pos,
                            msg: "unterminated string".into(),
                        });
                    };
                    s.push(match esc {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                    j += 1 + esc.len_utf8();
                    continue;
                }
                let ch = src[j..].chars().next().unwrap_or('\u{fffd}');
                s.push(ch);
                j += ch.len_utf8();
            }
            out.push((pos, Tok::Str(s)));
            i = j + 1;
        } else if c == b'$' || c == b'.' || c.is_ascii_alphabetic() || c == b'_' {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'.') {
                j += 1;
            }
            let word = &src[i..j];
            let tok = if c == b'$' || c == b'.' {
                Tok::Var(word.to_string())
            } else {
                Tok::Ident(word.to_string())
            };
            out.push((pos, tok));
            i = j;
        } else if c.is_ascii_digit() || c == b'-' {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.' || b[j] == b'+') {
                j += 1;
            }
            let n: f64 = src[i..j].parse().map_err(|_| TemplateError {
                pos,
                msg: format!("bad number {:?}", &src[i..j]),
            })?;
            out.push((pos, Tok::Num(n)));
            i = j;
        } else {
            return Err(TemplateError {
                pos,
                msg: format!("unexpected character {:?}", c as char),
            });
        }
    }
    Ok(out)
}

/// Go's `%v` for a float64: shortest digits, exponent form below 1e-4 and from 1e21 up.
pub fn go_float(v: f64) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let (digits, exp) = shortest(v);
    if !(-4..21).contains(&exp) {
        exp_form(v < 0.0, &digits, exp)
    } else {
        fixed_form(v < 0.0, &digits, exp)
    }
}

/// More decimal digits than any f64 has in its exact expansion (at most 767 significant, 1074
/// after the point): asked for more, the rest are zeros. Rust's formatter refuses precisions
/// above `u16::MAX`, so larger ones are written as these digits plus zeros.
const MAX_DIGITS: usize = 1100;

/// Widths and precisions above this are refused as Go's fmt refuses them (`%!(BADWIDTH)`,
/// `%!(BADPREC)`), so a template cannot ask for a gigabyte of padding.
const MAX_WIDTH: usize = 1_000_000;

/// A run of digits (maybe none: 0) as a width or precision, `None` when above `MAX_WIDTH`.
fn fmt_number(digits: &str) -> Option<usize> {
    if digits.is_empty() {
        return Some(0);
    }
    if digits.len() > 7 {
        return None;
    }
    digits.parse().ok().filter(|&n| n <= MAX_WIDTH)
}

/// `v` with `prec` digits after the point, exact for any precision.
fn fixed_digits(v: f64, prec: usize) -> String {
    let mut s = format!("{:.*}", prec.min(MAX_DIGITS), v);
    if prec > MAX_DIGITS && v.is_finite() {
        s.push_str(&"0".repeat(prec - MAX_DIGITS));
    }
    s
}

/// Go's `%.{prec}g`: `prec` significant digits, trailing zeros removed.
pub fn fmt_g(v: f64, prec: usize) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    // Digits past MAX_DIGITS are zeros, which this format trims anyway.
    let prec = prec.clamp(1, MAX_DIGITS);
    let e = format!("{:.*e}", prec - 1, v.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    if exp < -4 || exp >= prec as i32 {
        exp_form(v < 0.0, digits, exp)
    } else {
        fixed_form(v < 0.0, digits, exp)
    }
}

fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("NaN".into())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else if v == 0.0 {
        Some("0".into())
    } else {
        None
    }
}

/// Shortest round-trip digits of |v| and the decimal exponent of the first digit.
fn shortest(v: f64) -> (String, i32) {
    let e = format!("{:e}", v.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits, exp.parse().unwrap_or(0))
}

fn exp_form(neg: bool, digits: &str, exp: i32) -> String {
    let sign = if neg { "-" } else { "" };
    let mant = if digits.len() > 1 {
        format!("{}.{}", &digits[..1], &digits[1..])
    } else {
        digits.to_string()
    };
    let esign = if exp < 0 { '-' } else { '+' };
    format!("{sign}{mant}e{esign}{:02}", exp.abs())
}

fn fixed_form(neg: bool, digits: &str, exp: i32) -> String {
    let sign = if neg { "-" } else { "" };
    let n = digits.len() as i32;
    let body = if exp < 0 {
        format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
    } else if exp + 1 >= n {
        format!("{}{}", digits, "0".repeat((exp + 1 - n) as usize))
    } else {
        let split = (exp + 1) as usize;
        format!("{}.{}", &digits[..split], &digits[split..])
    };
    format!("{sign}{body}")
}

/// Prometheus `humanize`: SI prefixes, four significant digits.
pub fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return fmt_g(v, 4);
    }
    if v.abs() >= 1.0 {
        let mut v = v;
        let mut prefix = "";
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
        format!("{}{}", fmt_g(v, 4), prefix)
    } else {
        let mut v = v;
        let mut prefix = "";
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
        format!("{}{}", fmt_g(v, 4), prefix)
    }
}

/// Prometheus `humanize1024`: binary prefixes, four significant digits.
pub fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return fmt_g(v, 4);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{}", fmt_g(v, 4), prefix)
}

/// Prometheus `humanizeDuration`: seconds as `1d 2h 3m 4s`, or ms/us/ns below a second.
pub fn humanize_duration(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{}s", fmt_g(v, 4));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let total = v.abs() as u64;
        let (d, h, m, s) = (
            total / 86_400,
            total / 3600 % 24,
            total / 60 % 60,
            total % 60,
        );
        return if d > 0 {
            format!("{sign}{d}d {h}h {m}m {s}s")
        } else if h > 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m > 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", fmt_g(v.abs(), 4))
        };
    }
    let mut v = v;
    for unit in ["ms", "us", "ns", "ps"] {
        v *= 1000.0;
        if v.abs() >= 1.0 {
            return format!("{}{}", fmt_g(v, 4), unit);
        }
    }
    format!("{}ps", fmt_g(v, 4))
}

/// Prometheus `humanizeTimestamp`: Unix seconds as Go prints a UTC time
/// (`2026-03-02 09:05:00 +0000 UTC`, fractions of a second only when there are some); a
/// value that is no time is printed as a number.
pub fn humanize_timestamp(v: f64) -> String {
    let secs = v.floor();
    let nanos = ((v - secs) * 1e9).round() as u32;
    let t = (v.is_finite() && secs.abs() < 1e14)
        .then(|| chrono::DateTime::from_timestamp(secs as i64, nanos.min(999_999_999)))
        .flatten();
    let Some(t) = t else {
        return fmt_g(v, 4);
    };
    let mut out = t.format("%Y-%m-%d %H:%M:%S").to_string();
    if t.timestamp_subsec_nanos() != 0 {
        let frac = format!("{:09}", t.timestamp_subsec_nanos());
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for ch in s.chars() {
        if start && ch.is_alphabetic() {
            out.extend(ch.to_uppercase());
        } else {
            out.push(ch);
        }
        start = !ch.is_alphanumeric();
    }
    out
}

/// A small `printf`: verbs `%s %v %d %f %e %g %%` with optional width, `-` and precision.
fn printf(fmt: &str, args: &[Val<'_>]) -> String {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut next = args.iter();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut width = String::new();
        let mut prec: Option<usize> = None;
        if it.peek() == Some(&'-') {
            left = true;
            it.next();
        }
        while let Some(d) = it.peek().filter(|d| d.is_ascii_digit()) {
            width.push(*d);
            it.next();
        }
        let w = match fmt_number(&width) {
            Some(w) => w,
            None => {
                out.push_str("%!(BADWIDTH)");
                0
            }
        };
        if it.peek() == Some(&'.') {
            it.next();
            let mut p = String::new();
            while let Some(d) = it.peek().filter(|d| d.is_ascii_digit()) {
                p.push(*d);
                it.next();
            }
            prec = match fmt_number(&p) {
                Some(p) => Some(p),
                None => {
                    out.push_str("%!(BADPREC)");
                    None
                }
            };
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = next.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let s = match verb {
            'd' => format!("{}", arg.num().trunc() as i64),
            'f' | 'F' => fixed_digits(arg.num(), prec.unwrap_or(6)),
            'e' => {
                let p = prec.unwrap_or(6);
                let s = format!("{:.*e}", p.min(MAX_DIGITS), arg.num());
                let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                let zeros = if p > MAX_DIGITS && arg.num().is_finite() {
                    "0".repeat(p - MAX_DIGITS)
                } else {
                    String::new()
                };
                let e: i32 = e.parse().unwrap_or(0);
                format!("{m}{zeros}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
            }
            'g' => match prec {
                Some(p) => fmt_g(arg.num(), p),
                None => go_float(arg.num()),
            },
            'q' => format!("{:?}", arg.text()),
            _ => arg.text(),
        };
        let pad = w.saturating_sub(s.chars().count());
        if left {
            out.push_str(&s);
            out.push_str(&" ".repeat(pad));
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, value: f64) -> String {
        let labels: Labels = [
            ("ifName", "Gi0/0/0"),
            ("device", "CORE-SW-01"),
            ("isp_provider", "magti"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Template::parse(src).unwrap().render(&Context {
            labels: &labels,
            value,
        })
    }

    #[test]
    fn renders_the_seed_message() {
        let t = "ISP link {{ $labels.ifName }} ({{ $labels.isp_provider }}) on {{ $labels.device }} is DOWN";
        assert_eq!(
            render(t, 2.0),
            "ISP link Gi0/0/0 (magti) on CORE-SW-01 is DOWN"
        );
    }

    #[test]
    fn table_of_functions() {
        let cases: &[(&str, f64, &str)] = &[
            ("{{ $value }}", 2.0, "2"),
            ("{{ $value }}", 0.5, "0.5"),
            ("{{ $value }}", 1e21, "1e+21"),
            ("{{ $value | humanize }}", 1_234_567.0, "1.235M"),
            ("{{ humanize $value }}", 0.012, "12m"),
            ("{{ $value | humanize1024 }}", 2048.0, "2ki"),
            ("{{ $value | humanizePercentage }}", 0.8512, "85.12%"),
            ("{{ $value | humanizeDuration }}", 90061.0, "1d 1h 1m 1s"),
            ("{{ $value | humanizeDuration }}", 0.25, "250ms"),
            (
                "{{ $value | humanizeTimestamp }}",
                1_772_442_300.0,
                "2026-03-02 09:05:00 +0000 UTC",
            ),
            (
                "{{ humanizeTimestamp $value }}",
                1_772_442_300.5,
                "2026-03-02 09:05:00.5 +0000 UTC",
            ),
            ("{{ $value | humanizeTimestamp }}", f64::NAN, "NaN"),
            (
                "{{ $value | humanizeTimestamp }}",
                -1.5,
                "1969-12-31 23:59:58.5 +0000 UTC",
            ),
            ("{{ $value | humanizeTimestamp }}", 1e20, "1e+20"),
            ("{{ printf \"%.1f\" $value }}", 85.123, "85.1"),
            ("{{ $value | printf \"%.2f Mbps\" }}", 850.0, "850.00 Mbps"),
            ("{{ printf \"%d\" $value }}", 3.9, "3"),
            ("{{ $labels.device | toLower }}", 0.0, "core-sw-01"),
            ("{{ index $labels \"ifName\" }}", 0.0, "Gi0/0/0"),
            ("{{ $labels.missing }}", 0.0, ""),
            ("a {{- $value -}} b", 1.0, "a1b"),
            ("{{ .Labels.ifName }} {{ .Value }}", 3.0, "Gi0/0/0 3"),
        ];
        for (src, v, want) in cases {
            assert_eq!(&render(src, *v), want, "template {src}");
        }
    }

    #[test]
    fn rejects_unsupported_syntax() {
        for bad in [
            "{{ $labels.x",
            "{{ if $value }}x{{ end }}",
            "{{ $foo }}",
            "{{ \"x }}",
            "{{ }}",
        ] {
            assert!(Template::parse(bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn fmt_g_matches_go() {
        assert_eq!(fmt_g(850.0, 4), "850");
        assert_eq!(fmt_g(12345.0, 4), "1.234e+04");
        assert_eq!(fmt_g(0.000012, 4), "1.2e-05");
        assert_eq!(fmt_g(-1.23456, 3), "-1.23");
    }

    // Regression tests for inputs the fuzzer (fuzz/, target `template`) found.

    #[test]
    fn an_escaped_multibyte_character_in_a_string_is_one_character() {
        // Used to slice inside the character and panic.
        assert_eq!(render(r#"{{ "\é" }}"#, 0.0), "é");
        assert_eq!(render(r#"{{ "a\ტb\"c" }}"#, 0.0), "aტb\"c");
        let err = Template::parse(r#"{{ "a\}}"#).unwrap_err();
        assert_eq!(err.msg, "unterminated string");
    }

    #[test]
    fn printf_takes_any_precision_and_refuses_what_go_refuses() {
        // Precisions above u16::MAX used to panic in Rust's formatter.
        let f = render(r#"{{ printf "%.99999f" 1 }}"#, 0.0);
        assert_eq!(f.len(), 2 + 99_999);
        assert!(f.starts_with("1.000") && f.ends_with('0'));
        let e = render(r#"{{ printf "%.70000e" 0.5 }}"#, 0.0);
        assert!(e.starts_with("5.000") && e.ends_with("e-01"), "{:.20}", e);
        assert_eq!(e.len(), 2 + 70_000 + 4);
        assert_eq!(render(r#"{{ printf "%.70000g" 0.5 }}"#, 0.0), "0.5");
        assert_eq!(fmt_g(1.0 / 3.0, 100_000), fmt_g(1.0 / 3.0, 2000));
        // Go refuses widths and precisions above 1e6 rather than allocate them.
        assert_eq!(
            render(r#"{{ printf "%.2000000f" 1 }}"#, 0.0),
            "%!(BADPREC)1.000000"
        );
        assert_eq!(
            render(r#"{{ printf "%999999999s|" "x" }}"#, 0.0),
            "%!(BADWIDTH)x|"
        );
        assert_eq!(
            render(r#"{{ printf "%99999999999999999999d" 7 }}"#, 0.0),
            "%!(BADWIDTH)7"
        );
        assert_eq!(
            render(r#"{{ printf "%5d|%-3s|" 42 "a" }}"#, 0.0),
            "   42|a  |"
        );
    }
}
