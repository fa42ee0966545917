//! Rule files in the Prometheus/vmalert rule-group format: raw serde structs that reject
//! unknown fields, validated in a second phase into [`RuleSet`] with every error naming its
//! file, line, group, rule and field.

use crate::labels::Labels;
use crate::template::Template;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Severities accepted in an alerting rule's `severity` label, most urgent first: the bank's
/// four and the two most common in Prometheus rule sets (`warning` ranks with `medium`,
/// `info` below `low`). The label goes to the store's `severity` column and to Alertmanager
/// as it is written.
pub const SEVERITIES: [&str; 6] = ["critical", "high", "medium", "warning", "low", "info"];

/// A rule-file problem, located as precisely as the YAML allows.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub group: Option<String>,
    pub rule: Option<String>,
    pub msg: String,
}

impl RuleError {
    /// An error of a whole file (or of a line in it) that names no group or rule: the
    /// baselines and outage files.
    pub fn in_file(file: &std::path::Path, line: Option<usize>, msg: String) -> RuleError {
        RuleError {
            file: file.to_path_buf(),
            line,
            group: None,
            rule: None,
            msg,
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ":")?;
        if let Some(g) = &self.group {
            write!(f, " group {g:?}")?;
        }
        if let Some(r) = &self.rule {
            write!(f, " rule {r:?}")?;
        }
        write!(f, " {}", self.msg)
    }
}

impl std::error::Error for RuleError {}

/// Every error found while loading, so `check-rules` can list them all.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct RuleErrors(pub Vec<RuleError>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    groups: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    /// Unique name of the group; alert state is keyed by it.
    name: String,
    /// How often the group is evaluated, e.g. `1m`; defaults to the global interval.
    interval: Option<String>,
    /// wardflux extension: how long a firing alert of this group may go without any data
    /// (no series, no `wardflux_device_up`) before its row closes as `no_data`; default 15m.
    staleness_budget: Option<String>,
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    /// Name of the alert (alerting rule); exclusive with `record`.
    alert: Option<String>,
    /// Name of the series written back (recording rule); exclusive with `alert`.
    record: Option<String>,
    /// PromQL/MetricsQL expression evaluated at each interval.
    expr: String,
    /// How long the condition must hold before the alert fires.
    #[serde(rename = "for")]
    for_: Option<String>,
    /// How long an alert keeps firing after its condition clears.
    keep_firing_for: Option<String>,
    /// wardflux extension: the group's `staleness_budget` for this alerting rule alone.
    staleness_budget: Option<String>,
    /// Extra labels; values may use templates in alerting rules.
    #[serde(default)]
    labels: BTreeMap<String, String>,
    /// Alert annotations (templates); `summary` becomes the alert-history message.
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// All groups from all rule files.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub groups: Vec<Group>,
}

/// A validated rule group.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub file: PathBuf,
    pub interval: Duration,
    /// The group's staleness budget (its own or the default).
    pub staleness_budget: Duration,
    pub rules: Vec<Rule>,
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub expr: String,
    pub line: Option<usize>,
    pub labels: BTreeMap<String, Template>,
    /// Raw label text, kept for `/api/v1/rules` and for the rule's identity.
    pub raw_labels: Labels,
    pub kind: RuleKind,
    /// The local PromQL parser's complaint, when the expression may be MetricsQL that only
    /// the datasource can judge.
    pub needs_remote_check: Option<String>,
    /// The rule's own staleness budget, overriding its group's.
    pub staleness_budget: Option<Duration>,
}

/// Alerting or recording.
#[derive(Debug, Clone)]
pub enum RuleKind {
    Alert {
        for_: Duration,
        keep_firing_for: Duration,
        annotations: BTreeMap<String, Template>,
        raw_annotations: BTreeMap<String, String>,
    },
    Record,
    /// Traffic against learned baselines (from the baselines file, not a rule file).
    Anomaly(std::sync::Arc<crate::baseline::BaselineConfig>),
    /// One of the outage group's rows (from the outages file, not a rule file).
    Outage(std::sync::Arc<crate::outage::config::OutageConfig>),
}

impl Rule {
    /// A key that stays equal across reloads when nothing about the rule's meaning changed,
    /// so its alerts carry over.
    pub fn identity(&self) -> String {
        let kind = match &self.kind {
            RuleKind::Alert { for_, .. } => format!("alert/{}", for_.as_millis()),
            RuleKind::Record => "record".to_string(),
            RuleKind::Anomaly(cfg) => format!("anomaly/{cfg:?}"),
            RuleKind::Outage(cfg) => format!("outage/{}", cfg.identity()),
        };
        format!(
            "{kind}\u{1}{}\u{1}{}\u{1}{}",
            self.name,
            self.expr,
            crate::labels::display(&self.raw_labels)
        )
    }

    /// True for rules whose results are alerts (threshold or anomaly).
    pub fn is_alert(&self) -> bool {
        !matches!(self.kind, RuleKind::Record)
    }
}

/// Options that apply to every file.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Interval for groups that set none.
    pub default_interval: Duration,
    /// Keep expressions the local PromQL parser rejects for a datasource check (MetricsQL).
    pub allow_remote_check: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            default_interval: Duration::from_secs(60),
            allow_remote_check: false,
        }
    }
}

/// Expands glob patterns into a sorted, de-duplicated list of files.
pub fn expand_globs(patterns: &[String]) -> Result<Vec<PathBuf>, RuleErrors> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for pat in patterns {
        let before = files.len();
        match glob::glob(pat) {
            Ok(paths) => files.extend(paths.filter_map(Result::ok)),
            Err(e) => errors.push(file_error(Path::new(pat), None, format!("bad glob: {e}"))),
        }
        if files.len() == before && errors.is_empty() {
            errors.push(file_error(
                Path::new(pat),
                None,
                "pattern matches no rule file".into(),
            ));
        }
    }
    files.sort();
    files.dedup();
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(RuleErrors(errors))
    }
}

/// Loads and validates every file matched by `patterns`.
pub fn load(patterns: &[String], opts: &LoadOptions) -> Result<RuleSet, RuleErrors> {
    let files = expand_globs(patterns)?;
    let mut set = RuleSet::default();
    let mut errors = Vec::new();
    for file in &files {
        match std::fs::read_to_string(file) {
            Ok(text) => match parse_file(file, &text, opts) {
                Ok(groups) => set.groups.extend(groups),
                Err(e) => errors.extend(e.0),
            },
            Err(e) => errors.push(file_error(file, None, format!("cannot read: {e}"))),
        }
    }
    let mut seen = HashSet::new();
    for g in &set.groups {
        if !seen.insert(g.name.clone()) {
            errors.push(RuleError {
                file: g.file.clone(),
                line: None,
                group: Some(g.name.clone()),
                rule: None,
                msg: "group name is used more than once across rule files".into(),
            });
        }
    }
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(RuleErrors(errors))
    }
}

fn file_error(file: &Path, line: Option<usize>, msg: String) -> RuleError {
    RuleError {
        file: file.to_path_buf(),
        line,
        group: None,
        rule: None,
        msg,
    }
}

/// Parses one file's text; `file` is only used in messages.
pub fn parse_file(file: &Path, text: &str, opts: &LoadOptions) -> Result<Vec<Group>, RuleErrors> {
    let raw: RawFile = serde_yaml::from_str(text).map_err(|e| {
        let line = e.location().map(|l| l.line());
        RuleErrors(vec![file_error(file, line, format!("invalid YAML: {e}"))])
    })?;
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    let mut occurrences: BTreeMap<String, usize> = BTreeMap::new();
    for rg in raw.groups {
        let gline = find_line(text, "name:", &rg.name, 0);
        let gerr = |line: Option<usize>, rule: Option<String>, msg: String| RuleError {
            file: file.to_path_buf(),
            line,
            group: Some(rg.name.clone()),
            rule,
            msg,
        };
        if rg.name.trim().is_empty() {
            errors.push(gerr(
                gline,
                None,
                "field \"name\": must not be empty".into(),
            ));
        }
        if !names.insert(rg.name.clone()) {
            errors.push(gerr(
                gline,
                None,
                "group name is used twice in this file".into(),
            ));
        }
        let interval = match rg.interval.as_deref() {
            None => opts.default_interval,
            Some(s) => match parse_duration(s) {
                Ok(d) if !d.is_zero() => d,
                Ok(_) => {
                    errors.push(gerr(gline, None, "field \"interval\": must be > 0".into()));
                    opts.default_interval
                }
                Err(e) => {
                    errors.push(gerr(gline, None, format!("field \"interval\": {e}")));
                    opts.default_interval
                }
            },
        };
        let staleness_budget = match rg.staleness_budget.as_deref() {
            None => crate::alert::DEFAULT_STALENESS_BUDGET,
            Some(s) => match positive_duration(s) {
                Ok(d) => d,
                Err(e) => {
                    errors.push(gerr(
                        find_line(text, "staleness_budget:", s, 0).or(gline),
                        None,
                        format!("field \"staleness_budget\": {e}"),
                    ));
                    crate::alert::DEFAULT_STALENESS_BUDGET
                }
            },
        };
        let mut rules = Vec::new();
        for rr in rg.rules {
            let (key, name) = match (&rr.alert, &rr.record) {
                (Some(a), None) => ("alert:", a.clone()),
                (None, Some(r)) => ("record:", r.clone()),
                _ => {
                    errors.push(gerr(
                        find_line(text, "expr:", &rr.expr, 0),
                        None,
                        "a rule needs exactly one of \"alert\" and \"record\"".into(),
                    ));
                    continue;
                }
            };
            let n = occurrences.entry(format!("{key}{name}")).or_default();
            let line = find_line(text, key, &name, *n);
            *n += 1;
            match validate_rule(rr, &name, line, opts) {
                Ok(rule) => rules.push(rule),
                Err(msgs) => {
                    errors.extend(msgs.into_iter().map(|m| gerr(line, Some(name.clone()), m)))
                }
            }
        }
        if rules.is_empty() && errors.is_empty() {
            errors.push(gerr(
                gline,
                None,
                "field \"rules\": group has no rules".into(),
            ));
        }
        groups.push(Group {
            name: rg.name,
            file: file.to_path_buf(),
            interval,
            staleness_budget,
            rules,
        });
    }
    if errors.is_empty() {
        Ok(groups)
    } else {
        Err(RuleErrors(errors))
    }
}

fn validate_rule(
    rr: RawRule,
    name: &str,
    line: Option<usize>,
    opts: &LoadOptions,
) -> Result<Rule, Vec<String>> {
    let mut errs = Vec::new();
    let is_alert = rr.alert.is_some();
    if is_alert && name.trim().is_empty() {
        errs.push("field \"alert\": must not be empty".to_string());
    }
    if !is_alert && !is_metric_name(name) {
        errs.push(format!(
            "field \"record\": {name:?} is not a valid metric name"
        ));
    }
    let mut needs_remote_check = None;
    let mut staleness_budget = None;
    if rr.expr.trim().is_empty() {
        errs.push("field \"expr\": must not be empty".into());
    } else if let Err(e) = promql_parser::parser::parse(&rr.expr) {
        if opts.allow_remote_check {
            needs_remote_check = Some(e);
        } else {
            errs.push(format!("field \"expr\": {}", e.trim()));
        }
    }
    let mut labels = BTreeMap::new();
    for (k, v) in &rr.labels {
        if !is_label_name(k) || k == crate::labels::METRIC_NAME {
            errs.push(format!("field \"labels\": {k:?} is not a valid label name"));
        }
        match Template::parse(v) {
            Ok(t) if is_alert || t.is_static() => {
                labels.insert(k.clone(), t);
            }
            Ok(_) => errs.push(format!(
                "field \"labels.{k}\": templates are only allowed in alerting rules"
            )),
            Err(e) => errs.push(format!("field \"labels.{k}\": {e}")),
        }
    }
    let kind = if is_alert {
        match rr.labels.get("severity") {
            None => errs.push("field \"labels.severity\": alerting rules need a severity".into()),
            Some(s) if !SEVERITIES.contains(&s.as_str()) => errs.push(format!(
                "field \"labels.severity\": {s:?} is not one of {}",
                SEVERITIES.join(", ")
            )),
            Some(_) => {}
        }
        let mut dur = |field: &str, v: &Option<String>| match v.as_deref() {
            None => Duration::ZERO,
            Some(s) => parse_duration(s).unwrap_or_else(|e| {
                errs.push(format!("field {field:?}: {e}"));
                Duration::ZERO
            }),
        };
        let for_ = dur("for", &rr.for_);
        let keep_firing_for = dur("keep_firing_for", &rr.keep_firing_for);
        if let Some(s) = rr.staleness_budget.as_deref() {
            match positive_duration(s) {
                Ok(d) => staleness_budget = Some(d),
                Err(e) => errs.push(format!("field \"staleness_budget\": {e}")),
            }
        }
        let mut annotations = BTreeMap::new();
        for (k, v) in &rr.annotations {
            match Template::parse(v) {
                Ok(t) => {
                    annotations.insert(k.clone(), t);
                }
                Err(e) => errs.push(format!("field \"annotations.{k}\": {e}")),
            }
        }
        RuleKind::Alert {
            for_,
            keep_firing_for,
            annotations,
            raw_annotations: rr.annotations.clone(),
        }
    } else {
        for (field, set) in [
            ("for", rr.for_.is_some()),
            ("keep_firing_for", rr.keep_firing_for.is_some()),
            ("annotations", !rr.annotations.is_empty()),
            ("staleness_budget", rr.staleness_budget.is_some()),
        ] {
            if set {
                errs.push(format!("field {field:?}: not allowed in a recording rule"));
            }
        }
        RuleKind::Record
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Rule {
        name: name.to_string(),
        expr: rr.expr,
        line,
        labels,
        raw_labels: rr.labels,
        kind,
        needs_remote_check,
        staleness_budget,
    })
}

/// A duration that must be more than zero.
fn positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err("must be > 0".into()),
        d => Ok(d),
    }
}

/// Parses a Prometheus duration (`30s`, `5m`, `1h30m`, `1d`, `0s`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if !t.is_empty()
        && t.trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .chars()
            .all(|c| c == '0')
    {
        let unit = t.trim_start_matches('0');
        if ["", "ms", "s", "m", "h", "d", "w", "y"].contains(&unit) {
            return Ok(Duration::ZERO);
        }
    }
    promql_parser::util::parse_duration(t).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The 1-based line of the `nth` line holding `key` followed by `value` (quoted or not).
fn find_line(text: &str, key: &str, value: &str, nth: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start().trim_start_matches("- ").trim_start();
            l.strip_prefix(key).is_some_and(|rest| {
                let v = rest.trim();
                v == value || v.trim_matches(|c| c == '"' || c == '\'') == value
            })
        })
        .nth(nth)
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Group>, RuleErrors> {
        parse_file(Path::new("t.yml"), text, &LoadOptions::default())
    }

    const GOOD: &str = r#"groups:
  - name: isp
    interval: 30s
    rules:
      - alert: IspDown
        expr: ifOperStatus{interface_type="isp"} == 2
        for: 1m
        keep_firing_for: 2m
        labels:
          severity: high
        annotations:
          summary: "ISP link {{ $labels.ifName }} is DOWN"
      - record: wardflux:x:rate5m
        expr: rate(ifHCInOctets[5m])
"#;

    #[test]
    fn parses_a_good_group() {
        let groups = parse(GOOD).unwrap();
        assert_eq!(groups[0].interval, Duration::from_secs(30));
        let r = &groups[0].rules[0];
        assert_eq!(r.line, Some(5));
        match &r.kind {
            RuleKind::Alert {
                for_,
                keep_firing_for,
                ..
            } => {
                assert_eq!(*for_, Duration::from_secs(60));
                assert_eq!(*keep_firing_for, Duration::from_secs(120));
            }
            _ => panic!("expected an alerting rule"),
        }
        assert!(!groups[0].rules[1].is_alert());
    }

    fn first_error(text: &str) -> String {
        parse(text).unwrap_err().0[0].to_string()
    }

    #[test]
    fn bad_files_name_file_line_group_rule_and_field() {
        let cases: &[(&str, &str)] = &[
            (
                "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n        labels: {severity: low}\n",
                "t.yml:4: group \"g\" rule \"A\" field \"expr\"",
            ),
            (
                "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        severity: low\n",
                "t.yml:6: invalid YAML: groups[0].rules[0]: unknown field `severity`",
            ),
            (
                "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels: {severity: urgent}\n",
                "t.yml:4: group \"g\" rule \"A\" field \"labels.severity\"",
            ),
            (
                "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5 minutes\n        labels: {severity: low}\n",
                "t.yml:4: group \"g\" rule \"A\" field \"for\"",
            ),
            (
                "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels: {severity: low}\n        annotations: {summary: \"{{ $labels.x \"}\n",
                "t.yml:4: group \"g\" rule \"A\" field \"annotations.summary\"",
            ),
            (
                "groups:\n  - name: g\n    rules:\n      - record: 'bad name'\n        expr: up\n",
                "t.yml:4: group \"g\" rule \"bad name\" field \"record\"",
            ),
            ("groups: [\n", "t.yml:2: invalid YAML"),
            (
                "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        staleness_budget: 0s\n        labels: {severity: low}\n",
                "t.yml:4: group \"g\" rule \"A\" field \"staleness_budget\": must be > 0",
            ),
            (
                "groups:\n  - name: g\n    staleness_budget: soon\n    rules:\n      - alert: A\n        expr: up\n        labels: {severity: low}\n",
                "t.yml:3: group \"g\" field \"staleness_budget\": invalid duration",
            ),
            (
                "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n        staleness_budget: 5m\n",
                "t.yml:4: group \"g\" rule \"r\" field \"staleness_budget\": not allowed in a recording rule",
            ),
            (
                "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels: {severity: Warning}\n",
                "t.yml:4: group \"g\" rule \"A\" field \"labels.severity\": \"Warning\" is not one of critical, high, medium, warning, low, info",
            ),
        ];
        for (text, want) in cases {
            let got = first_error(text);
            assert!(got.starts_with(want), "got {got:?}, want prefix {want:?}");
        }
        assert!(first_error(
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        severity: low\n"
        )
        .contains("unknown field `severity`"));
    }

    #[test]
    fn prometheus_severities_are_accepted() {
        for sev in SEVERITIES {
            let text = format!(
                "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels: {{severity: {sev}}}\n"
            );
            assert!(parse(&text).is_ok(), "{sev} rejected");
        }
    }

    #[test]
    fn metricsql_can_wait_for_the_datasource() {
        let text = "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: rollup_rate(x[5m])[1i]\n";
        assert!(parse(text).is_err());
        let opts = LoadOptions {
            allow_remote_check: true,
            ..LoadOptions::default()
        };
        let g = parse_file(Path::new("t.yml"), text, &opts).unwrap();
        assert!(g[0].rules[0].needs_remote_check.is_some());
    }

    #[test]
    fn staleness_budget_defaults_and_overrides() {
        let text = "groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n        labels: {severity: low}\n  - name: b\n    staleness_budget: 1h\n    rules:\n      - alert: B\n        expr: up\n        labels: {severity: low}\n      - alert: C\n        expr: up\n        staleness_budget: 2m\n        labels: {severity: low}\n";
        let g = parse(text).unwrap();
        assert_eq!(g[0].staleness_budget, Duration::from_secs(900));
        assert_eq!(g[0].rules[0].staleness_budget, None);
        assert_eq!(g[1].staleness_budget, Duration::from_secs(3600));
        assert_eq!(
            g[1].rules[1].staleness_budget,
            Some(Duration::from_secs(120))
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("soon").is_err());
    }
}
