//! Annotation templates: the input up to its first NUL byte is the template text (so rule-file
//! annotations seed it as they are); the bytes after it choose labels, the value and a
//! precision. A template that parses is rendered; the number formatting helpers run on their
//! own too (NaN, infinities, huge and tiny numbers). Rendering cannot fail, so only panics and
//! these count: a template without actions renders as its text, and a parse error points
//! inside the text.

use arbitrary::{Arbitrary, Unstructured};
use wardflux_ruler::labels::Labels;
use wardflux_ruler::template::{
    fmt_g, go_float, humanize, humanize1024, humanize_duration, Context, Template,
};

#[derive(Debug, Arbitrary)]
struct Rest {
    labels: Labels,
    value: f64,
    prec: u8,
}

pub fn run(data: &[u8]) {
    let (src, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let source = crate::text(src);
    let mut u = Unstructured::new(rest);
    let Ok(mut r) = Rest::arbitrary(&mut u) else {
        return;
    };
    if rest.is_empty() {
        r.value = 1234.5;
        r.labels = [
            ("device", "Gori-0101"),
            ("ifName", "Gi0/1"),
            ("ifAlias", "Magti"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    }
    let _ = go_float(r.value);
    let _ = fmt_g(r.value, usize::from(r.prec));
    let _ = humanize(r.value);
    let _ = humanize1024(r.value);
    let _ = humanize_duration(r.value);
    match Template::parse(&source) {
        Ok(t) => {
            let out = t.render(&Context {
                labels: &r.labels,
                value: r.value,
            });
            if t.is_static() {
                assert_eq!(out, source, "a template without actions changed");
            }
        }
        Err(e) => assert!(e.pos <= source.len(), "{e} past the end"),
    }
}
