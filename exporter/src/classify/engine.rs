//! The pure classification core: applies a compiled rule set (and config pins) to one interface's facts.
//!
//! Per field the first rule that sets it wins. A rule that sets a `type` only applies while the type is
//! still undecided or equal to its own, so a rule about trunks never lends its `critical` to an ISP port.
//! After the rules: `is_critical` defaults to true for `isp`, `monitored` to true, `isp_provider` is
//! dropped for every type but `isp`, then config skips and overrides apply.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use regex::SetMatches;

use super::rules::{cap, normalize, Cond, FieldKey, ProviderSpec, Rule, RuleSet};
use super::{Classification, IfFacts, InterfaceType, EMBEDDED_RULES, EMBEDDED_RULES_NAME};

/// One piece of evidence: which field, which pattern (as written) and what text it matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub field: String,
    pub pattern: String,
    pub matched: String,
}

/// Why one output got its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// `interface_type`, `isp_provider`, `is_critical` or `monitored`.
    pub output: &'static str,
    /// Rule id, `override:...`, `config:...` or `default`.
    pub rule: Arc<str>,
    pub evidence: Vec<Evidence>,
}

/// How a classification came about.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Explanation {
    /// The alias as the `alias` field saw it (empty when it counted as no description).
    pub alias_normalised: String,
    /// Why the alias counted as no description, if it did.
    pub alias_ignored: Option<String>,
    pub decisions: Vec<Decision>,
}

/// A per-port pin from config. `None` fields are left to the rules.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pin {
    pub(crate) ty: Option<InterfaceType>,
    pub(crate) provider: Option<Arc<str>>,
    pub(crate) critical: Option<bool>,
    pub(crate) monitored: Option<bool>,
    pub(crate) id: Arc<str>,
}

/// Which ports to pin, and what to skip polling.
#[derive(Debug, Default, Clone)]
pub(crate) struct Policy {
    pub(crate) skip_admin_down: bool,
    pub(crate) skip_if_types: Vec<u32>,
    /// (device, ifName) pins.
    pub(crate) by_name: HashMap<(String, String), Pin>,
    /// (device, ifIndex) pins.
    pub(crate) by_index: HashMap<(String, u32), Pin>,
    /// (device, ifName) pins made through the API; they apply after the config's.
    pub(crate) api: HashMap<(String, String), Pin>,
}

/// Classifies interfaces. Cheap to clone and share (`Send + Sync`).
#[derive(Debug, Clone)]
pub struct Classifier {
    rules: Arc<RuleSet>,
    policy: Arc<Policy>,
}

const DEFAULT_RULE: &str = "default";
const NO_DESCRIPTION_RULE: &str = "no-description";

/// Per-field texts and their set matches, computed on first use (most rules look at the alias only).
struct Matched<'a> {
    texts: Vec<&'a str>,
    sets: Vec<Option<SetMatches>>,
}

impl Matched<'_> {
    fn matched(&mut self, rs: &RuleSet, field: usize, pattern: usize) -> bool {
        let text = self.texts[field];
        self.sets[field]
            .get_or_insert_with(|| rs.fields[field].set.matches(text))
            .matched(pattern)
    }
}

impl Classifier {
    /// A classifier with these rules and no config policy.
    pub fn new(rules: Arc<RuleSet>) -> Classifier {
        Classifier {
            rules,
            policy: Arc::new(Policy::default()),
        }
    }

    pub(crate) fn with_policy(rules: Arc<RuleSet>, policy: Policy) -> Classifier {
        Classifier {
            rules,
            policy: Arc::new(policy),
        }
    }

    /// The rules shipped in `rules/classification.yml`, compiled once per process.
    pub fn embedded_default() -> Classifier {
        Classifier::new(embedded_rules())
    }

    /// The compiled rule set (e.g. to report the rule count after a reload).
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The same rules and config policy with these API pins (device, ifName) on top.
    pub(crate) fn with_api_pins(&self, api: HashMap<(String, String), Pin>) -> Classifier {
        let mut policy = (*self.policy).clone();
        policy.api = api;
        Classifier {
            rules: self.rules.clone(),
            policy: Arc::new(policy),
        }
    }

    /// Resolve a provider id or alias to its id, as config overrides do.
    pub fn resolve_provider(&self, p: &str) -> Option<Arc<str>> {
        self.rules.providers.resolve(p)
    }

    /// Every provider free text names (ids or aliases, case-insensitive, as in aliases),
    /// each once: the providers an IP SLA tag speaks of.
    pub fn providers_named(&self, text: &str) -> Vec<Arc<str>> {
        let mut out = self
            .rules
            .providers
            .find_all(&super::rules::normalize(text));
        let t = text.trim().to_ascii_lowercase();
        if let Some(id) = self.rules.providers.ids.iter().find(|id| ***id == *t) {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
        out
    }

    pub(crate) fn rules_arc(&self) -> Arc<RuleSet> {
        self.rules.clone()
    }

    /// Classifies one interface.
    pub fn classify(&self, f: &IfFacts) -> Classification {
        self.run(f, None)
    }

    /// Classifies one interface and says which field and pattern decided each output.
    pub fn explain(&self, f: &IfFacts) -> (Classification, Explanation) {
        let mut ex = Explanation::default();
        let c = self.run(f, Some(&mut ex));
        (c, ex)
    }

    fn run(&self, f: &IfFacts, mut ex: Option<&mut Explanation>) -> Classification {
        let rs = &*self.rules;
        let descr = cap(f.descr);
        let name = cap(f.name);
        let mut alias_norm = normalize(f.alias);
        let mut alias_raw = cap(f.alias);
        if let Some(why) = self.junk_reason(&alias_norm, descr, name) {
            if let Some(ex) = ex.as_deref_mut() {
                ex.alias_ignored = Some(why);
            }
            alias_norm.clear();
            alias_raw = "";
        }
        if let Some(ex) = ex.as_deref_mut() {
            ex.alias_normalised = alias_norm.clone();
        }

        let texts: Vec<&str> = rs
            .fields
            .iter()
            .map(|fm| match &fm.key {
                FieldKey::Alias => alias_norm.as_str(),
                FieldKey::AliasRaw => alias_raw,
                FieldKey::Descr => descr,
                FieldKey::Name => name,
                FieldKey::Device => cap(f.device),
                FieldKey::Label(k) => f.device_labels.get(k).map_or("", |v| cap(v)),
            })
            .collect();
        let sets = rs.fields.iter().map(|_| None).collect();
        let mut m = Matched { texts, sets };

        let mut ty: Option<(InterfaceType, f32, Arc<str>)> = None;
        let mut provider: Option<(Option<Arc<str>>, Arc<str>)> = None;
        let mut critical: Option<(bool, Arc<str>)> = None;
        let mut monitored: Option<(bool, Arc<str>)> = None;

        for rule in &rs.rules {
            let s = &rule.set;
            if let (Some(want), Some((have, _, _))) = (s.ty, &ty) {
                if want != *have {
                    continue;
                }
            }
            let wants = (s.ty.is_some() && ty.is_none())
                || (s.provider.is_some() && provider.is_none())
                || (s.critical.is_some() && critical.is_none())
                || (s.monitored.is_some() && monitored.is_none());
            if !wants || !self.fires(rule, f, &mut m) {
                continue;
            }
            let mut decided = Vec::new();
            if let (Some(t), None) = (s.ty, &ty) {
                ty = Some((t, s.confidence, rule.id.clone()));
                decided.push("interface_type");
            }
            if let (Some(spec), None) = (&s.provider, &provider) {
                provider = Some((
                    self.provider_of(spec, rule, &alias_norm, &mut m),
                    rule.id.clone(),
                ));
                decided.push("isp_provider");
            }
            if let (Some(c), None) = (s.critical, &critical) {
                critical = Some((c, rule.id.clone()));
                decided.push("is_critical");
            }
            if let (Some(mo), None) = (s.monitored, &monitored) {
                monitored = Some((mo, rule.id.clone()));
                decided.push("monitored");
            }
            if let Some(ex) = ex.as_deref_mut() {
                let evidence = self.evidence(&rule.when, f, &mut m);
                for output in decided {
                    let mut evidence = evidence.clone();
                    if output == "isp_provider"
                        && matches!(rule.set.provider, Some(ProviderSpec::Auto))
                    {
                        if let Some((id, matched)) = rs.providers.find(&alias_norm) {
                            evidence.push(Evidence {
                                field: "alias".into(),
                                pattern: format!("providers.{id}.aliases"),
                                matched: matched.to_string(),
                            });
                        }
                    }
                    ex.decisions.push(Decision {
                        output,
                        rule: rule.id.clone(),
                        evidence,
                    });
                }
            }
            if ty.is_some() && provider.is_some() && critical.is_some() && monitored.is_some() {
                break;
            }
        }

        let (interface_type, confidence, rule) = ty.unwrap_or_else(|| {
            if alias_norm.is_empty() {
                (InterfaceType::Unknown, 0.9, Arc::from(NO_DESCRIPTION_RULE))
            } else {
                (InterfaceType::Unknown, 0.2, Arc::from(DEFAULT_RULE))
            }
        });
        let mut c = Classification {
            interface_type,
            isp_provider: provider.and_then(|(p, _)| p),
            is_critical: critical
                .as_ref()
                .map_or(interface_type == InterfaceType::Isp, |c| c.0),
            monitored: monitored.as_ref().is_none_or(|m| m.0),
            confidence,
            rule,
        };
        if c.interface_type != InterfaceType::Isp {
            c.isp_provider = None;
        }
        if let Some(ex) = ex.as_deref_mut() {
            if !ex.decisions.iter().any(|d| d.output == "interface_type") {
                ex.decisions.push(Decision {
                    output: "interface_type",
                    rule: c.rule.clone(),
                    evidence: Vec::new(),
                });
            }
            if c.isp_provider.is_none() {
                ex.decisions.retain(|d| d.output != "isp_provider");
            }
            if critical.is_none() {
                ex.decisions.push(Decision {
                    output: "is_critical",
                    rule: Arc::from(DEFAULT_RULE),
                    evidence: Vec::new(),
                });
            }
        }
        self.apply_policy(f, &alias_norm, &mut c, ex);
        c
    }

    /// Why an alias counts as no description, if it does.
    fn junk_reason(&self, alias_norm: &str, descr: &str, name: &str) -> Option<String> {
        if alias_norm.is_empty() {
            return Some("empty".into());
        }
        for (what, other) in [("descr", descr), ("name", name)] {
            if same_words(other, alias_norm) {
                return Some(format!("equal to {what}"));
            }
        }
        let m = self.rules.junk.matches(alias_norm);
        m.iter()
            .next()
            .map(|i| format!("junk_aliases pattern `{}`", self.rules.junk_sources[i]))
    }

    fn cond_holds(&self, cond: &Cond, f: &IfFacts, m: &mut Matched, any: bool) -> bool {
        let rs = &*self.rules;
        let mut results = cond
            .text
            .iter()
            .map(|tc| tc.patterns.iter().any(|&p| m.matched(rs, tc.field, p)))
            .chain((!cond.if_type.is_empty()).then(|| cond.if_type.contains(&f.if_type)))
            .chain(cond.speed_min.map(|s| f.speed_bps != 0 && f.speed_bps >= s))
            .chain(cond.speed_max.map(|s| f.speed_bps != 0 && f.speed_bps <= s));
        if any {
            results.any(|r| r)
        } else {
            results.all(|r| r)
        }
    }

    fn fires(&self, rule: &Rule, f: &IfFacts, m: &mut Matched) -> bool {
        self.cond_holds(&rule.when, f, m, false)
            && !rule
                .unless
                .as_ref()
                .is_some_and(|u| self.cond_holds(u, f, m, true))
    }

    fn provider_of(
        &self,
        spec: &ProviderSpec,
        rule: &Rule,
        alias_norm: &str,
        m: &mut Matched,
    ) -> Option<Arc<str>> {
        let providers = &self.rules.providers;
        match spec {
            ProviderSpec::Auto => providers.find(alias_norm).map(|(id, _)| id),
            ProviderSpec::Nothing => None,
            ProviderSpec::Fixed(id) => Some(id.clone()),
            ProviderSpec::Template(t) => {
                let tc = rule.when.text.first()?;
                let text = m.texts[tc.field];
                let fm = &self.rules.fields[tc.field];
                let p = *tc
                    .patterns
                    .iter()
                    .find(|&&p| m.matched(&self.rules, tc.field, p))?;
                let caps = fm.regexes[p].captures(text)?;
                let mut out = String::new();
                caps.expand(t, &mut out);
                providers.resolve(&out)
            }
        }
    }

    fn evidence(&self, cond: &Cond, f: &IfFacts, m: &mut Matched) -> Vec<Evidence> {
        let mut out = Vec::new();
        for tc in &cond.text {
            let fm = &self.rules.fields[tc.field];
            if let Some(&p) = tc
                .patterns
                .iter()
                .find(|&&p| m.matched(&self.rules, tc.field, p))
            {
                let text = m.texts[tc.field];
                out.push(Evidence {
                    field: fm.key.display(),
                    pattern: fm.sources[p].clone(),
                    matched: fm.regexes[p]
                        .find(text)
                        .map_or_else(String::new, |x| x.as_str().to_string()),
                });
            }
        }
        if !cond.if_type.is_empty() {
            out.push(Evidence {
                field: "if_type".into(),
                pattern: format!("{:?}", cond.if_type),
                matched: f.if_type.to_string(),
            });
        }
        for (name, v) in [("speed_min", cond.speed_min), ("speed_max", cond.speed_max)] {
            if let Some(v) = v {
                out.push(Evidence {
                    field: name.into(),
                    pattern: v.to_string(),
                    matched: f.speed_bps.to_string(),
                });
            }
        }
        out
    }

    fn apply_policy(
        &self,
        f: &IfFacts,
        alias_norm: &str,
        c: &mut Classification,
        mut ex: Option<&mut Explanation>,
    ) {
        let p = &*self.policy;
        let note = |ex: &mut Option<&mut Explanation>,
                    output: &'static str,
                    rule: Arc<str>,
                    field: &str,
                    v: String| {
            if let Some(ex) = ex.as_deref_mut() {
                ex.decisions.retain(|d| d.output != output);
                ex.decisions.push(Decision {
                    output,
                    rule,
                    evidence: vec![Evidence {
                        field: field.into(),
                        pattern: v.clone(),
                        matched: v,
                    }],
                });
            }
        };
        if p.skip_admin_down && !f.admin_up {
            c.monitored = false;
            note(
                &mut ex,
                "monitored",
                Arc::from("config:skip_admin_down"),
                "admin_up",
                "false".into(),
            );
        } else if p.skip_if_types.contains(&f.if_type) {
            c.monitored = false;
            note(
                &mut ex,
                "monitored",
                Arc::from("config:skip_if_types"),
                "if_type",
                f.if_type.to_string(),
            );
        }
        let config_pin = p
            .by_index
            .get(&(f.device.to_string(), f.if_index))
            .or_else(|| p.by_name.get(&(f.device.to_string(), f.name.to_string())));
        // An API edit of the port (by ifName) applies after the config pin: per field, the
        // edit wins; fields it leaves alone keep the config pin's value.
        let api_pin = p.api.get(&(f.device.to_string(), f.name.to_string()));
        for pin in [config_pin, api_pin].into_iter().flatten() {
            let field = if pin.id.starts_with("api:") {
                "api"
            } else {
                "override"
            };
            if let Some(t) = pin.ty {
                if t != c.interface_type {
                    // The rules' provider and criticality were about another type: recompute the defaults.
                    c.is_critical = t == InterfaceType::Isp;
                    c.isp_provider = if t == InterfaceType::Isp {
                        self.rules.providers.find(alias_norm).map(|(id, _)| id)
                    } else {
                        None
                    };
                }
                c.interface_type = t;
                c.confidence = 1.0;
                c.rule = pin.id.clone();
                note(
                    &mut ex,
                    "interface_type",
                    pin.id.clone(),
                    field,
                    t.as_str().into(),
                );
            }
            if let Some(pr) = &pin.provider {
                c.isp_provider = Some(pr.clone());
                note(
                    &mut ex,
                    "isp_provider",
                    pin.id.clone(),
                    field,
                    pr.to_string(),
                );
            }
            if c.interface_type != InterfaceType::Isp {
                c.isp_provider = None;
            }
            if let Some(cr) = pin.critical {
                c.is_critical = cr;
                note(
                    &mut ex,
                    "is_critical",
                    pin.id.clone(),
                    field,
                    cr.to_string(),
                );
            }
            if let Some(mo) = pin.monitored {
                c.monitored = mo;
                note(&mut ex, "monitored", pin.id.clone(), field, mo.to_string());
            }
        }
    }
}

/// True when `raw` has the same letters and digits as the normalised `norm` (ASCII case ignored);
/// allocates only for non-ASCII text.
fn same_words(raw: &str, norm: &str) -> bool {
    if raw.is_empty() {
        return false;
    }
    if !raw.is_ascii() {
        return normalize(raw).eq_ignore_ascii_case(norm);
    }
    let a = raw
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_lowercase());
    let b = norm
        .bytes()
        .filter(|&b| b != b' ')
        .map(|b| b.to_ascii_lowercase());
    a.eq(b)
}

/// The embedded rules, compiled on first use.
pub(crate) fn embedded_rules() -> Arc<RuleSet> {
    static RULES: OnceLock<Arc<RuleSet>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            Arc::new(
                RuleSet::parse(EMBEDDED_RULES, EMBEDDED_RULES_NAME)
                    .unwrap_or_else(|e| panic!("embedded classification rules are invalid: {e}")),
            )
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn facts<'a>(
        labels: &'a BTreeMap<String, String>,
        alias: &'a str,
        name: &'a str,
        if_type: u32,
    ) -> IfFacts<'a> {
        IfFacts {
            device: "Isani-1111",
            device_labels: labels,
            if_index: 3,
            alias,
            descr: name,
            name,
            if_type,
            speed_bps: 1_000_000_000,
            admin_up: true,
        }
    }

    fn check(
        alias: &str,
        name: &str,
        if_type: u32,
        ty: &str,
        provider: Option<&str>,
        critical: bool,
    ) {
        let labels = BTreeMap::new();
        let c = Classifier::embedded_default().classify(&facts(&labels, alias, name, if_type));
        assert_eq!(
            (
                c.interface_type.as_str(),
                c.isp_provider.as_deref(),
                c.is_critical
            ),
            (ty, provider, critical),
            "alias {alias:?} name {name:?} (rule {})",
            c.rule
        );
    }

    #[test]
    fn embedded_rules_compile() {
        assert!(embedded_rules().len() > 10);
    }

    #[test]
    fn cisco_null_and_nvi_interfaces_are_not_polled_by_their_short_if_names() {
        let labels = BTreeMap::new();
        let c = Classifier::embedded_default();
        for (descr, name) in [("Null0", "Nu0"), ("NVI0", "NV0"), ("Null0", "Null0")] {
            let mut f = facts(&labels, "", name, 1);
            f.descr = descr;
            assert!(!c.classify(&f).monitored, "{descr} ({name})");
        }
        let mut f = facts(&labels, "", "Gi0/0/2.10", 135);
        f.descr = "GigabitEthernet0/0/2.10";
        assert!(c.classify(&f).monitored, "a subinterface is polled");
    }

    #[test]
    fn isp_ports_get_provider_and_criticality() {
        check("Magti_Internet", "Gi0/0/0", 6, "isp", Some("magti"), true);
        check(
            "ISP2_Silknet_FTTB 200M",
            "Gi0/0/1",
            6,
            "isp",
            Some("silknet"),
            true,
        );
        check(
            "Internet (Caucasus Online)",
            "Gi0/0/1",
            6,
            "isp",
            Some("caucasus_online"),
            true,
        );
        check(
            "Cellfie LTE backup",
            "Gi0/0/2",
            6,
            "isp",
            Some("veon"),
            true,
        );
        check("WAN-Internet", "Gi0/0/2", 6, "isp", None, true);
    }

    #[test]
    fn known_traps_are_not_isp() {
        check("Uplink_to_Core", "Te1/1/1", 6, "trunk", None, true);
        check(
            "BGP router-id Magti peering",
            "Loopback0",
            24,
            "loopback",
            None,
            false,
        );
        check("Georgia HQ", "Gi0/1", 6, "branch_link", None, false);
        check("to_DIST-SW-02 Gi1/0/48", "Gi0/0/1", 6, "trunk", None, false);
        check(
            "VPN link to Telavi",
            "Gi0/0/1",
            6,
            "branch_link",
            None,
            false,
        );
        check("CCTV_ATM_ZONE", "Gi1/0/3", 6, "camera", None, false);
        check(
            "SRV-ESXI-01 vmnic0",
            "Gi1/0/3",
            6,
            "server_link",
            None,
            false,
        );
    }

    #[test]
    fn junk_aliases_count_as_no_description() {
        check("Gi0/0/1", "Gi0/0/1", 6, "unknown", None, false);
        check("ETH 5", "Gi1/0/5", 6, "unknown", None, false);
        check("unused", "Gi1/0/5", 6, "unknown", None, false);
        check("Po1", "Po1", 161, "trunk", None, false);
    }

    #[test]
    fn first_rule_setting_a_field_wins_and_other_types_do_not_leak() {
        let src = "rules:\n  - id: t\n    when: {alias: core}\n    set: {type: trunk, critical: true}\n  - id: i\n    when: {alias: magti}\n    set: {type: isp, critical: false, monitored: false}\n  - id: m\n    when: {alias: magti}\n    set: {monitored: true}\n";
        let c = Classifier::new(Arc::new(RuleSet::parse(src, "r.yml").unwrap()));
        let labels = BTreeMap::new();
        let r = c.classify(&facts(&labels, "magti core", "Gi0/1", 6));
        assert_eq!(
            (r.interface_type, r.is_critical, r.monitored, &*r.rule),
            (InterfaceType::Trunk, true, true, "t")
        );
        let r = c.classify(&facts(&labels, "magti", "Gi0/1", 6));
        assert_eq!(
            (r.interface_type, r.is_critical, r.monitored),
            (InterfaceType::Isp, false, false)
        );
    }

    #[test]
    fn captures_feed_provider_templates() {
        let src = "providers:\n  - {id: magti, aliases: [magti]}\nrules:\n  - id: isp\n    when: {alias: '^isp (?P<p>\\w+)'}\n    set: {type: isp, provider: '${p}'}\n";
        let c = Classifier::new(Arc::new(RuleSet::parse(src, "r.yml").unwrap()));
        let labels = BTreeMap::new();
        let r = c.classify(&facts(&labels, "ISP_Magti", "Gi0/1", 6));
        assert_eq!(r.isp_provider.as_deref(), Some("magti"));
        let r = c.classify(&facts(&labels, "ISP_Other", "Gi0/1", 6));
        assert_eq!(
            (r.interface_type, r.isp_provider),
            (InterfaceType::Isp, None)
        );
    }

    #[test]
    fn device_labels_and_speed_are_conditions() {
        let src = "rules:\n  - id: core-site\n    when: {labels: {role: '^core$'}, speed_min: 10G}\n    set: {critical: true}\n  - id: any\n    when: {alias: '.'}\n    set: {type: access}\n";
        let c = Classifier::new(Arc::new(RuleSet::parse(src, "r.yml").unwrap()));
        let mut labels = BTreeMap::new();
        labels.insert("role".to_string(), "core".to_string());
        let mut f = facts(&labels, "x", "Te1/1", 6);
        assert!(!c.classify(&f).is_critical, "1G is below speed_min");
        f.speed_bps = 10_000_000_000;
        assert!(c.classify(&f).is_critical);
    }

    #[test]
    fn explain_names_field_and_pattern() {
        let labels = BTreeMap::new();
        let (c, ex) =
            Classifier::embedded_default().explain(&facts(&labels, "INTERNET-MAGTI", "Gi0/2", 6));
        assert_eq!(c.interface_type, InterfaceType::Isp);
        let d = ex
            .decisions
            .iter()
            .find(|d| d.output == "interface_type")
            .unwrap();
        assert_eq!(d.rule, c.rule);
        assert!(
            d.evidence
                .iter()
                .any(|e| e.field == "alias" && !e.matched.is_empty()),
            "{ex:?}"
        );
        let p = ex
            .decisions
            .iter()
            .find(|d| d.output == "isp_provider")
            .unwrap();
        assert!(
            p.evidence
                .iter()
                .any(|e| e.pattern == "providers.magti.aliases" && e.matched == "MAGTI"),
            "{p:?}"
        );
    }

    #[test]
    fn hostile_text_does_not_panic() {
        let labels = BTreeMap::new();
        let long = "Magti ".repeat(20_000);
        let lossy = String::from_utf8_lossy(b"\xff\xfeMagti\xc3(Internet\x80");
        let c = Classifier::embedded_default();
        assert_eq!(
            c.classify(&facts(&labels, &long, "Gi0/1", 6))
                .interface_type,
            InterfaceType::Isp
        );
        assert_eq!(
            c.classify(&facts(&labels, &lossy, "Gi0/1", 6))
                .interface_type,
            InterfaceType::Isp
        );
    }
}
