//! The classification rule file: YAML model, validation with file:line errors, and compilation into regex sets.
//!
//! A rule file has four sections (see `rules/classification.yml` for the documented default):
//! - `define`: named regex fragments, used in patterns as `%{name}` (`%{provider}` is predefined as
//!   every provider alias).
//! - `providers`: the provider table, `{id, aliases}`; aliases are regex fragments matched as whole words
//!   against the normalised alias.
//! - `junk_aliases`: patterns that, matching the whole normalised alias, make it count as no description.
//! - `rules`: an ordered list of `{id, when, unless?, set}`.
//!
//! Text fields matched by rules: `alias` is the *normalised* alias (every run of characters that are not
//! letters or digits becomes one space, and a space separates letters from digits: `ISP2_Silknet-200M`
//! becomes `ISP 2 Silknet 200 M`); `alias_raw`, `descr`, `name`, `device` and `labels.<key>` are matched
//! as they are. All patterns are case-insensitive.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Deserialize;

use super::{ClassifyError, InterfaceType};

/// Longest text (in characters) looked at in any field; ifAlias itself is limited to 64 octets.
pub const MAX_FIELD_CHARS: usize = 256;
const REGEX_SIZE_LIMIT: usize = 64 << 20;

// ---------------------------------------------------------------------------------------------
// Raw YAML model (phase 1: shape only).

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    define: BTreeMap<String, String>,
    #[serde(default)]
    providers: Vec<RawProvider>,
    #[serde(default)]
    junk_aliases: Vec<String>,
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    id: String,
    aliases: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
    when: RawCond,
    #[serde(default)]
    unless: Option<RawCond>,
    set: RawSet,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSpeed {
    Bps(u64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCond {
    alias: Option<OneOrMany<String>>,
    alias_raw: Option<OneOrMany<String>>,
    descr: Option<OneOrMany<String>>,
    name: Option<OneOrMany<String>>,
    device: Option<OneOrMany<String>>,
    labels: Option<BTreeMap<String, OneOrMany<String>>>,
    if_type: Option<OneOrMany<u32>>,
    speed_min: Option<RawSpeed>,
    speed_max: Option<RawSpeed>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSet {
    #[serde(rename = "type")]
    ty: Option<String>,
    provider: Option<String>,
    critical: Option<bool>,
    monitored: Option<bool>,
    confidence: Option<f32>,
}

// ---------------------------------------------------------------------------------------------
// Compiled model (phase 2: validated domain types).

/// A text field a condition can look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FieldKey {
    Alias,
    AliasRaw,
    Descr,
    Name,
    Device,
    Label(String),
}

impl FieldKey {
    pub(crate) fn display(&self) -> String {
        match self {
            FieldKey::Alias => "alias".into(),
            FieldKey::AliasRaw => "alias_raw".into(),
            FieldKey::Descr => "descr".into(),
            FieldKey::Name => "name".into(),
            FieldKey::Device => "device".into(),
            FieldKey::Label(k) => format!("labels.{k}"),
        }
    }
}

/// All patterns used on one field, matched in one pass by a [`RegexSet`].
#[derive(Debug)]
pub(crate) struct FieldMatcher {
    pub(crate) key: FieldKey,
    pub(crate) set: RegexSet,
    /// The same patterns one by one, for captures and explanations.
    pub(crate) regexes: Vec<Regex>,
    /// The patterns as written in the file (before `%{...}` expansion).
    pub(crate) sources: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct TextCond {
    /// Index into [`RuleSet::fields`].
    pub(crate) field: usize,
    /// Indexes into that field's patterns; any one matching satisfies the condition.
    pub(crate) patterns: Vec<usize>,
}

#[derive(Debug, Default)]
pub(crate) struct Cond {
    pub(crate) text: Vec<TextCond>,
    pub(crate) if_type: Vec<u32>,
    pub(crate) speed_min: Option<u64>,
    pub(crate) speed_max: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) enum ProviderSpec {
    /// The first provider alias found in the normalised alias, if any.
    Auto,
    /// Explicitly no provider.
    Nothing,
    /// A provider id from the table.
    Fixed(Arc<str>),
    /// A template with `$1` / `${name}` captures of the rule's first text condition, resolved through the table.
    Template(String),
}

#[derive(Debug)]
pub(crate) struct Set {
    pub(crate) ty: Option<InterfaceType>,
    pub(crate) provider: Option<ProviderSpec>,
    pub(crate) critical: Option<bool>,
    pub(crate) monitored: Option<bool>,
    pub(crate) confidence: f32,
}

#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) id: Arc<str>,
    pub(crate) when: Cond,
    pub(crate) unless: Option<Cond>,
    pub(crate) set: Set,
}

/// The provider table: ids and one regex that finds the leftmost alias of any of them.
#[derive(Debug)]
pub(crate) struct Providers {
    pub(crate) ids: Vec<Arc<str>>,
    /// Group `groups[i]` of `finder` matches provider `ids[i]`.
    finder: Option<Regex>,
    groups: Vec<usize>,
}

impl Providers {
    /// Finds the leftmost provider alias in normalised text: (provider id, matched text).
    pub(crate) fn find<'t>(&self, normalised: &'t str) -> Option<(Arc<str>, &'t str)> {
        let caps = self.finder.as_ref()?.captures(normalised)?;
        self.ids
            .iter()
            .zip(&self.groups)
            .find_map(|(id, &g)| caps.get(g).map(|m| (id.clone(), m.as_str())))
    }

    /// Every provider named in normalised text, each once, in order of first mention.
    pub(crate) fn find_all(&self, normalised: &str) -> Vec<Arc<str>> {
        let mut out: Vec<Arc<str>> = Vec::new();
        let Some(finder) = self.finder.as_ref() else {
            return out;
        };
        for caps in finder.captures_iter(normalised) {
            let id = self
                .ids
                .iter()
                .zip(&self.groups)
                .find_map(|(id, &g)| caps.get(g).map(|_| id.clone()));
            if let Some(id) = id.filter(|id| !out.contains(id)) {
                out.push(id);
            }
        }
        out
    }

    /// Resolves free text (an id or any alias) to a provider id.
    pub(crate) fn resolve(&self, text: &str) -> Option<Arc<str>> {
        let t = text.trim().to_ascii_lowercase();
        if let Some(id) = self.ids.iter().find(|id| ***id == *t) {
            return Some(id.clone());
        }
        self.find(&normalize(text)).map(|(id, _)| id)
    }
}

/// A compiled, validated rule file.
#[derive(Debug)]
pub struct RuleSet {
    pub(crate) file: String,
    pub(crate) fields: Vec<FieldMatcher>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) providers: Providers,
    pub(crate) junk: RegexSet,
    pub(crate) junk_sources: Vec<String>,
}

/// Normalises an alias for matching: Georgian and Cyrillic letters are transliterated to Latin, runs of
/// non-alphanumerics become one space, letters and digits are separated by a space, and at most
/// [`MAX_FIELD_CHARS`] characters are looked at.
pub fn normalize(s: &str) -> String {
    #[derive(PartialEq, Clone, Copy)]
    enum Kind {
        Sep,
        Alpha,
        Digit,
    }
    let mut out = String::with_capacity(s.len().min(MAX_FIELD_CHARS) + 8);
    let mut prev = Kind::Sep;
    for c in s.chars().take(MAX_FIELD_CHARS) {
        let k = if c.is_ascii_digit() {
            Kind::Digit
        } else if c.is_alphanumeric() {
            Kind::Alpha
        } else {
            Kind::Sep
        };
        if k != Kind::Sep {
            if !out.is_empty() && prev != k {
                out.push(' ');
            }
            match transliterate(c) {
                Some(t) => out.push_str(t),
                None => out.push(c),
            }
        }
        prev = k;
    }
    out
}

/// Latin spelling of a Georgian (Mkhedruli or Mtavruli) or Cyrillic letter, as engineers type them.
fn transliterate(c: char) -> Option<&'static str> {
    const KA: [&str; 33] = [
        "a", "b", "g", "d", "e", "v", "z", "t", "i", "k", "l", "m", "n", "o", "p", "zh", "r", "s",
        "t", "u", "p", "k", "gh", "q", "sh", "ch", "ts", "dz", "ts", "ch", "kh", "j", "h",
    ];
    const RU: [&str; 32] = [
        "a", "b", "v", "g", "d", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s",
        "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya",
    ];
    let u = c as u32;
    match u {
        0x10D0..=0x10F0 => Some(KA[(u - 0x10D0) as usize]),
        0x1C90..=0x1CB0 => Some(KA[(u - 0x1C90) as usize]),
        0x0410..=0x042F => Some(RU[(u - 0x0410) as usize]),
        0x0430..=0x044F => Some(RU[(u - 0x0430) as usize]),
        0x0401 | 0x0451 => Some("e"),
        _ => None,
    }
}

/// Makes `\b \B \w \W \d \D \s \S` outside character classes ASCII-only: aliases are ASCII after
/// normalisation, and ASCII classes keep the combined regex sets small and fast.
pub(crate) fn asciify(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    let mut class_depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('b' | 'B' | 'w' | 'W' | 'd' | 'D' | 's' | 'S')) if class_depth == 0 => {
                    out.push_str("(?-u:\\");
                    out.push(e);
                    out.push(')');
                }
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            '[' => {
                class_depth += 1;
                out.push(c);
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Cuts text to at most [`MAX_FIELD_CHARS`] characters.
pub(crate) fn cap(s: &str) -> &str {
    match s.char_indices().nth(MAX_FIELD_CHARS) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn parse_speed(raw: &RawSpeed) -> Option<u64> {
    match raw {
        RawSpeed::Bps(n) => Some(*n),
        RawSpeed::Text(t) => {
            let t = t.trim();
            let (num, mult) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
                Some((i, _)) => {
                    let unit = t[i..].trim().to_ascii_lowercase();
                    let unit = unit.trim_end_matches("bps").trim_end_matches("bit/s");
                    let mult = match unit {
                        "" => 1u64,
                        "k" => 1_000,
                        "m" => 1_000_000,
                        "g" => 1_000_000_000,
                        "t" => 1_000_000_000_000,
                        _ => return None,
                    };
                    (t[..i].trim(), mult)
                }
                None => (t, 1),
            };
            let n: f64 = num.parse().ok()?;
            if n.is_finite() && n >= 0.0 {
                Some((n * mult as f64) as u64)
            } else {
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Locating things in the source for error messages.

/// 1-based line of the rule with this id (0 when not found).
fn rule_line(src: &str, id: &str) -> usize {
    for (n, line) in src.lines().enumerate() {
        let t = line.trim_start().trim_start_matches('-').trim_start();
        if let Some(rest) = t.strip_prefix("id:") {
            let v = rest.trim().trim_matches(|c| c == '"' || c == '\'');
            if v == id {
                return n + 1;
            }
        }
    }
    0
}

/// 1-based line, at or after `from`, inside the same rule, of the first line containing `needle`.
fn line_in_rule(src: &str, from: usize, needle: &str) -> Option<usize> {
    if from == 0 || needle.is_empty() {
        return None;
    }
    for (n, line) in src.lines().enumerate().skip(from - 1) {
        if n + 1 > from && line.trim_start().starts_with("- id:") {
            return None;
        }
        if line.contains(needle) {
            return Some(n + 1);
        }
    }
    None
}

/// 1-based line of the first top-level-ish occurrence of `needle` (for non-rule sections).
fn first_line(src: &str, needle: &str) -> usize {
    src.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |n| n + 1)
}

// ---------------------------------------------------------------------------------------------
// Compilation.

struct Builder<'s> {
    src: &'s str,
    file: &'s str,
    defines: BTreeMap<String, String>,
    fields: Vec<(FieldKey, Vec<String>, Vec<String>)>, // key, expanded, sources
}

impl<'s> Builder<'s> {
    fn err(&self, line: usize, message: String) -> ClassifyError {
        ClassifyError::Rules {
            file: self.file.to_string(),
            line,
            message,
        }
    }

    /// Replaces every `%{name}` with its definition, recursively.
    fn expand(&self, pattern: &str) -> Result<String, String> {
        self.expand_depth(pattern, 0)
    }

    fn expand_depth(&self, pattern: &str, depth: usize) -> Result<String, String> {
        if depth > 8 {
            return Err("definitions nest too deeply (does a definition refer to itself?)".into());
        }
        let mut out = String::with_capacity(pattern.len());
        let mut rest = pattern;
        while let Some(start) = rest.find("%{") {
            let Some(len) = rest[start..].find('}') else {
                return Err("unterminated `%{` in pattern".into());
            };
            let name = &rest[start + 2..start + len];
            let Some(body) = self.defines.get(name) else {
                return Err(format!("unknown definition `%{{{name}}}`"));
            };
            out.push_str(&rest[..start]);
            out.push_str("(?:");
            out.push_str(&self.expand_depth(body, depth + 1)?);
            out.push(')');
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn compile_one(pattern: &str) -> Result<Regex, regex::Error> {
        RegexBuilder::new(&asciify(pattern))
            .case_insensitive(true)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
    }

    /// Adds a pattern to a field's set, returning (field index, pattern index).
    fn add_pattern(
        &mut self,
        key: &FieldKey,
        source: &str,
        rule_id: &str,
        rule_at: usize,
    ) -> Result<(usize, usize), ClassifyError> {
        let field_name = key.display();
        let locate = |b: &Builder| {
            line_in_rule(b.src, rule_at, source)
                .or_else(|| {
                    line_in_rule(b.src, rule_at, field_name.rsplit('.').next().unwrap_or(""))
                })
                .unwrap_or(rule_at)
        };
        let expanded = self.expand(source).map_err(|m| {
            self.err(
                locate(self),
                format!("rule `{rule_id}`: {field_name} pattern `{source}`: {m}"),
            )
        })?;
        if let Err(e) = Self::compile_one(&expanded) {
            let detail = e.to_string().lines().last().unwrap_or_default().to_string();
            return Err(self.err(
                locate(self),
                format!(
                    "rule `{rule_id}`: invalid regex in {field_name} pattern `{source}`: {detail}"
                ),
            ));
        }
        let fi = match self.fields.iter().position(|(k, _, _)| k == key) {
            Some(i) => i,
            None => {
                self.fields.push((key.clone(), Vec::new(), Vec::new()));
                self.fields.len() - 1
            }
        };
        let entry = &mut self.fields[fi];
        let pi = match entry.1.iter().position(|p| *p == expanded) {
            Some(i) => i,
            None => {
                entry.1.push(expanded);
                entry.2.push(source.to_string());
                entry.1.len() - 1
            }
        };
        Ok((fi, pi))
    }

    fn cond(
        &mut self,
        raw: RawCond,
        id: &str,
        at: usize,
        part: &str,
    ) -> Result<Cond, ClassifyError> {
        let mut cond = Cond::default();
        let mut texts: Vec<(FieldKey, Vec<String>)> = Vec::new();
        for (key, v) in [
            (FieldKey::Alias, raw.alias),
            (FieldKey::AliasRaw, raw.alias_raw),
            (FieldKey::Descr, raw.descr),
            (FieldKey::Name, raw.name),
            (FieldKey::Device, raw.device),
        ] {
            if let Some(v) = v {
                texts.push((key, v.into_vec()));
            }
        }
        for (k, v) in raw.labels.unwrap_or_default() {
            texts.push((FieldKey::Label(k), v.into_vec()));
        }
        for (key, pats) in texts {
            if pats.is_empty() {
                let line = line_in_rule(self.src, at, &key.display()).unwrap_or(at);
                return Err(self.err(
                    line,
                    format!(
                        "rule `{id}`: {part}.{} has an empty pattern list",
                        key.display()
                    ),
                ));
            }
            let mut tc = TextCond {
                field: 0,
                patterns: Vec::new(),
            };
            for p in &pats {
                let (fi, pi) = self.add_pattern(&key, p, id, at)?;
                tc.field = fi;
                tc.patterns.push(pi);
            }
            cond.text.push(tc);
        }
        if let Some(t) = raw.if_type {
            cond.if_type = t.into_vec();
        }
        for (name, raw_speed, slot) in [
            ("speed_min", raw.speed_min, &mut cond.speed_min),
            ("speed_max", raw.speed_max, &mut cond.speed_max),
        ] {
            if let Some(r) = raw_speed {
                let v = parse_speed(&r).ok_or_else(|| {
                    let line = line_in_rule(self.src, at, name).unwrap_or(at);
                    self.err(
                        line,
                        format!(
                            "rule `{id}`: {part}.{name}: not a speed (use bps or 100M, 1G, 10G)"
                        ),
                    )
                })?;
                *slot = Some(v);
            }
        }
        if cond.text.is_empty()
            && cond.if_type.is_empty()
            && cond.speed_min.is_none()
            && cond.speed_max.is_none()
        {
            let line = line_in_rule(self.src, at, &format!("{part}:")).unwrap_or(at);
            return Err(self.err(line, format!("rule `{id}`: `{part}` has no condition")));
        }
        Ok(cond)
    }
}

impl RuleSet {
    /// Parses and validates a rule file; `file` names it in errors.
    pub fn parse(src: &str, file: &str) -> Result<RuleSet, ClassifyError> {
        let raw: RawFile = serde_yaml::from_str(src).map_err(|e| ClassifyError::Rules {
            file: file.to_string(),
            line: e.location().map_or(0, |l| l.line()),
            message: e.to_string(),
        })?;
        let mut b = Builder {
            src,
            file,
            defines: BTreeMap::new(),
            fields: Vec::new(),
        };

        // Provider table.
        let mut ids: Vec<Arc<str>> = Vec::new();
        let mut groups = Vec::new();
        let mut all_aliases = Vec::new();
        for p in &raw.providers {
            let line = first_line(src, &p.id);
            if p.id.is_empty()
                || !p
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(b.err(
                    line,
                    format!(
                        "provider id `{}` must be lowercase letters, digits and `_`",
                        p.id
                    ),
                ));
            }
            if ids.iter().any(|i| **i == *p.id) {
                return Err(b.err(line, format!("duplicate provider id `{}`", p.id)));
            }
            if p.aliases.is_empty() {
                return Err(b.err(line, format!("provider `{}` has no aliases", p.id)));
            }
            for a in &p.aliases {
                if let Err(e) = Builder::compile_one(a) {
                    let detail = e.to_string().lines().last().unwrap_or_default().to_string();
                    return Err(b.err(
                        first_line(src, a),
                        format!(
                            "provider `{}`: invalid regex in alias `{a}`: {detail}",
                            p.id
                        ),
                    ));
                }
            }
            let alt = p.aliases.join("|");
            groups.push(format!("(?P<p{}>{alt})", ids.len()));
            all_aliases.push(alt);
            ids.push(Arc::from(p.id.as_str()));
        }
        let finder = if groups.is_empty() {
            None
        } else {
            let pat = format!(r"\b(?:{})\b", groups.join("|"));
            Some(Builder::compile_one(&pat).map_err(|e| b.err(0, format!("provider table: {e}")))?)
        };
        let groups = match &finder {
            Some(f) => (0..ids.len())
                .map(|i| {
                    let name = format!("p{i}");
                    f.capture_names()
                        .position(|n| n == Some(name.as_str()))
                        .unwrap_or(0)
                })
                .collect(),
            None => Vec::new(),
        };
        let providers = Providers {
            ids,
            finder,
            groups,
        };

        // Definitions.
        b.defines.insert(
            "provider".into(),
            if all_aliases.is_empty() {
                "[^\\s\\S]".into()
            } else {
                all_aliases.join("|")
            },
        );
        for (name, body) in &raw.define {
            if name == "provider" {
                return Err(b.err(
                    first_line(src, "define:"),
                    "`%{provider}` is predefined from the provider table".into(),
                ));
            }
            b.defines.insert(name.clone(), body.clone());
        }
        for (name, body) in &raw.define {
            let line = first_line(src, &format!("{name}:"));
            let expanded = b
                .expand(body)
                .map_err(|m| b.err(line, format!("define `{name}`: {m}")))?;
            if let Err(e) = Builder::compile_one(&expanded) {
                let detail = e.to_string().lines().last().unwrap_or_default().to_string();
                return Err(b.err(
                    line,
                    format!("define `{name}`: invalid regex `{body}`: {detail}"),
                ));
            }
        }

        // Junk aliases (whole normalised alias).
        let mut junk_patterns = Vec::new();
        for j in &raw.junk_aliases {
            let expanded = b.expand(j).map_err(|m| {
                b.err(
                    first_line(src, j),
                    format!("junk_aliases pattern `{j}`: {m}"),
                )
            })?;
            let anchored = format!("^(?:{expanded})$");
            if let Err(e) = Builder::compile_one(&anchored) {
                let detail = e.to_string().lines().last().unwrap_or_default().to_string();
                return Err(b.err(
                    first_line(src, j),
                    format!("invalid regex in junk_aliases pattern `{j}`: {detail}"),
                ));
            }
            junk_patterns.push(anchored);
        }
        let junk = RegexSetBuilder::new(junk_patterns.iter().map(|p| asciify(p)))
            .case_insensitive(true)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| {
                b.err(
                    first_line(src, "junk_aliases"),
                    format!("junk_aliases: {e}"),
                )
            })?;

        // Rules.
        let mut rules = Vec::new();
        let mut seen: HashMap<String, ()> = HashMap::new();
        for r in raw.rules {
            let at = rule_line(src, &r.id);
            if r.id.trim().is_empty() {
                return Err(b.err(at, "rule with an empty id".into()));
            }
            if seen.insert(r.id.clone(), ()).is_some() {
                return Err(b.err(at, format!("duplicate rule id `{}`", r.id)));
            }
            if r.id.starts_with("override:") {
                return Err(b.err(
                    at,
                    format!(
                        "rule id `{}`: `override:` is reserved for config pins",
                        r.id
                    ),
                ));
            }
            let when = b.cond(r.when, &r.id, at, "when")?;
            let unless = match r.unless {
                Some(u) => Some(b.cond(u, &r.id, at, "unless")?),
                None => None,
            };
            let set = Self::compile_set(&b, r.set, &r.id, at, &providers)?;
            rules.push(Rule {
                id: Arc::from(r.id.as_str()),
                when,
                unless,
                set,
            });
        }
        if rules.is_empty() {
            return Err(b.err(first_line(src, "rules"), "no rules".into()));
        }

        let mut fields = Vec::new();
        for (key, expanded, sources) in b.fields {
            let set = RegexSetBuilder::new(expanded.iter().map(|p| asciify(p)))
                .case_insensitive(true)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| ClassifyError::Rules {
                    file: file.to_string(),
                    line: 0,
                    message: format!("compiling {} patterns: {e}", key.display()),
                })?;
            let regexes = expanded
                .iter()
                .map(|p| Builder::compile_one(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ClassifyError::Rules {
                    file: file.to_string(),
                    line: 0,
                    message: format!("compiling {} patterns: {e}", key.display()),
                })?;
            fields.push(FieldMatcher {
                key,
                set,
                regexes,
                sources,
            });
        }
        Ok(RuleSet {
            file: file.to_string(),
            fields,
            rules,
            providers,
            junk,
            junk_sources: raw.junk_aliases,
        })
    }

    fn compile_set(
        b: &Builder,
        raw: RawSet,
        id: &str,
        at: usize,
        providers: &Providers,
    ) -> Result<Set, ClassifyError> {
        let line_of = |needle: &str| line_in_rule(b.src, at, needle).unwrap_or(at);
        let ty = match raw.ty {
            Some(t) => Some(InterfaceType::parse(&t).ok_or_else(|| {
                let names: Vec<_> = InterfaceType::ALL.iter().map(|t| t.as_str()).collect();
                b.err(
                    line_of("type:"),
                    format!(
                        "rule `{id}`: unknown type `{t}` (expected one of {})",
                        names.join(", ")
                    ),
                )
            })?),
            None => None,
        };
        let provider = match raw.provider.as_deref() {
            None => None,
            Some("auto") => Some(ProviderSpec::Auto),
            Some("none") | Some("") => Some(ProviderSpec::Nothing),
            Some(t) if t.contains('$') => Some(ProviderSpec::Template(t.to_string())),
            Some(t) => match providers.ids.iter().find(|i| ***i == *t) {
                Some(i) => Some(ProviderSpec::Fixed(i.clone())),
                None => {
                    return Err(b.err(
                        line_of("provider:"),
                        format!(
                            "rule `{id}`: unknown provider `{t}` (expected auto, none, a template with $1, or one of {})",
                            providers.ids.iter().map(|i| i.as_ref()).collect::<Vec<_>>().join(", ")
                        ),
                    ))
                }
            },
        };
        if provider.is_some() && ty.is_some() && ty != Some(InterfaceType::Isp) {
            return Err(b.err(
                line_of("provider:"),
                format!("rule `{id}`: provider is only meaningful with type isp"),
            ));
        }
        let confidence = raw.confidence.unwrap_or(0.9);
        if !(0.0..=1.0).contains(&confidence) {
            return Err(b.err(
                line_of("confidence:"),
                format!("rule `{id}`: confidence {confidence} is outside 0..1"),
            ));
        }
        if ty.is_none() && provider.is_none() && raw.critical.is_none() && raw.monitored.is_none() {
            return Err(b.err(line_of("set:"), format!("rule `{id}`: `set` sets nothing")));
        }
        Ok(Set {
            ty,
            provider,
            critical: raw.critical,
            monitored: raw.monitored,
            confidence,
        })
    }

    /// The file this rule set was loaded from (for logs).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules (never for a parsed file).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_of(src: &str) -> String {
        RuleSet::parse(src, "r.yml").unwrap_err().to_string()
    }

    #[test]
    fn normalize_splits_separators_and_digits() {
        assert_eq!(
            normalize("ISP2_Silknet-FTTB 200M"),
            "ISP 2 Silknet FTTB 200 M"
        );
        assert_eq!(normalize("  Uplink_to_Core::"), "Uplink to Core");
        assert_eq!(
            normalize("to_DIST-SW-02 Gi1/0/48"),
            "to DIST SW 02 Gi 1 0 48"
        );
        assert_eq!(normalize("მაგთი_ინტერნეტი"), "magti interneti");
        assert_eq!(normalize("Интернет-Магти"), "internet magti");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize(&"x".repeat(10_000)).len(), MAX_FIELD_CHARS);
    }

    #[test]
    fn asciify_rewrites_perl_classes_outside_brackets_only() {
        assert_eq!(asciify(r"\bmagti\w*\b"), r"(?-u:\b)magti(?-u:\w)*(?-u:\b)");
        assert_eq!(asciify(r"[\w-]\\b"), r"[\w-]\\b");
        assert_eq!(asciify(r"a\.b"), r"a\.b");
    }

    #[test]
    fn cap_respects_char_boundaries() {
        let s = "ა".repeat(1000);
        assert_eq!(cap(&s).chars().count(), MAX_FIELD_CHARS);
        assert_eq!(cap("short"), "short");
    }

    #[test]
    fn parses_speeds_with_units() {
        assert_eq!(
            parse_speed(&RawSpeed::Text("1G".into())),
            Some(1_000_000_000)
        );
        assert_eq!(
            parse_speed(&RawSpeed::Text("100M".into())),
            Some(100_000_000)
        );
        assert_eq!(
            parse_speed(&RawSpeed::Text("2.5Gbps".into())),
            Some(2_500_000_000)
        );
        assert_eq!(parse_speed(&RawSpeed::Bps(42)), Some(42));
        assert_eq!(parse_speed(&RawSpeed::Text("fast".into())), None);
    }

    #[test]
    fn invalid_regex_names_file_line_and_pattern() {
        let src = "rules:\n  - id: a\n    when:\n      alias: 'ok'\n    set: {type: isp}\n  - id: bad\n    when:\n      alias: 'magti(('\n    set: {type: isp}\n";
        let e = err_of(src);
        assert!(e.starts_with("r.yml:8:"), "{e}");
        assert!(e.contains("magti(("), "{e}");
        assert!(e.contains("rule `bad`"), "{e}");
    }

    #[test]
    fn unknown_type_names_line() {
        let src = "rules:\n  - id: a\n    when: {alias: x}\n    set:\n      type: ips\n";
        let e = err_of(src);
        assert!(e.starts_with("r.yml:5:"), "{e}");
        assert!(e.contains("unknown type `ips`"), "{e}");
    }

    #[test]
    fn unknown_field_is_a_yaml_error_with_line() {
        let src = "rules:\n  - id: a\n    when:\n      aliass: x\n    set: {type: isp}\n";
        let e = err_of(src);
        assert!(e.starts_with("r.yml:4:"), "{e}");
        assert!(e.contains("aliass"), "{e}");
    }

    #[test]
    fn rule_without_condition_is_rejected() {
        let src = "rules:\n  - id: a\n    when: {alias: x}\n    set: {type: isp}\n  - id: empty\n    when: {}\n    set: {type: trunk}\n";
        let e = err_of(src);
        assert!(e.starts_with("r.yml:6:"), "{e}");
        assert!(e.contains("no condition"), "{e}");
    }

    #[test]
    fn yaml_syntax_error_has_line() {
        let e = err_of("rules:\n  - id: a\n    when: {alias: [x\n");
        assert!(e.starts_with("r.yml:"), "{e}");
        assert!(!e.starts_with("r.yml:0:"), "{e}");
    }

    #[test]
    fn unknown_definition_and_provider_are_rejected() {
        let e = err_of("rules:\n  - id: a\n    when: {alias: '%{nope}'}\n    set: {type: isp}\n");
        assert!(e.contains("%{nope}") && e.starts_with("r.yml:3:"), "{e}");
        let e = err_of(
            "rules:\n  - id: a\n    when: {alias: x}\n    set: {type: isp, provider: vodafone}\n",
        );
        assert!(e.contains("unknown provider `vodafone`"), "{e}");
    }

    #[test]
    fn duplicate_ids_and_empty_sets_are_rejected() {
        let e = err_of("rules:\n  - id: a\n    when: {alias: x}\n    set: {type: isp}\n  - id: a\n    when: {alias: y}\n    set: {type: isp}\n");
        assert!(e.contains("duplicate rule id"), "{e}");
        let e = err_of("rules:\n  - id: a\n    when: {alias: x}\n    set: {}\n");
        assert!(e.contains("sets nothing"), "{e}");
    }

    #[test]
    fn providers_resolve_ids_and_aliases() {
        let src = "providers:\n  - {id: magti, aliases: ['magti ?com', magti]}\n  - {id: veon, aliases: [veon, beeline]}\nrules:\n  - id: a\n    when: {alias: x}\n    set: {type: isp}\n";
        let rs = RuleSet::parse(src, "r.yml").unwrap();
        assert_eq!(rs.providers.resolve("Beeline").as_deref(), Some("veon"));
        assert_eq!(rs.providers.resolve("magti").as_deref(), Some("magti"));
        assert_eq!(rs.providers.resolve("MagtiCom").as_deref(), Some("magti"));
        assert_eq!(rs.providers.resolve("vodafone"), None);
        let (id, m) = rs.providers.find("ISP 2 Beeline and Magti").unwrap();
        assert_eq!((&*id, m), ("veon", "Beeline"));
    }
}
