//! The lab description: a YAML file naming sites, their devices, ISP uplinks, cables and agents
//! (containerlab-like). Parsed in two phases: serde structs with `deny_unknown_fields`, then
//! validated into [`Description`]; every error names file, line and field.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A description that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct DescriptionError {
    pub file: String,
    /// 1-based; 0 when the position is unknown.
    pub line: usize,
    /// Dotted path of the field, e.g. `sites.tbilisi.nodes.BRANCH-RTR-01.uplinks[0].provider`.
    pub field: String,
    pub message: String,
}

// ---------------------------------------------------------------- raw (as written)

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDescription {
    name: String,
    #[serde(default)]
    snmp: BTreeMap<String, RawSnmp>,
    #[serde(default)]
    defaults: RawDefaults,
    sites: Ordered<RawSite>,
    #[serde(default)]
    links: Vec<RawLink>,
}

/// A YAML mapping in file order (sites and nodes keep the order they are written in).
#[derive(Debug)]
struct Ordered<T>(Vec<(String, T)>);

impl<T> Ordered<T> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping of names")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Self::Value, A::Error> {
                let mut v: Vec<(String, T)> = Vec::new();
                while let Some((k, x)) = m.next_entry::<String, T>()? {
                    if v.iter().any(|(n, _)| *n == k) {
                        return Err(serde::de::Error::custom(format!("{k:?} appears twice")));
                    }
                    v.push((k, x));
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    snmp: Option<String>,
    lldp: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawVersion {
    Number(u8),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSnmp {
    version: RawVersion,
    community: Option<String>,
    username: Option<String>,
    security_level: Option<String>,
    auth_protocol: Option<String>,
    auth_password: Option<String>,
    priv_protocol: Option<String>,
    priv_password: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    nodes: Ordered<RawNode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    kind: String,
    #[serde(default)]
    management: bool,
    role: Option<String>,
    snmp: Option<OneOrMany>,
    lldp: Option<bool>,
    recording: Option<String>,
    #[serde(default)]
    uplinks: Vec<RawUplink>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    bgp: Option<RawNodeBgp>,
}

/// Router-level `bgp: {asn: 65101}`: the router's AS for every uplink with `bgp:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNodeBgp {
    asn: u32,
}

/// Uplink `bgp: {peer_asn: 65001, asn: 65101}` (`asn` may come from the router's `bgp:`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUplinkBgp {
    peer_asn: u32,
    asn: Option<u32>,
}

/// Uplink `probe: {tag: "Magti", index: 10, frequency: 3}`: an ICMP echo operation from the
/// uplink to the provider's end, served as CISCO-RTTMON-MIB rows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    tag: Option<String>,
    index: Option<u32>,
    frequency: Option<u32>,
}

/// `snmp: lab_v2` or `snmp: [core_v3, lab_v2]` (the agent answers each; the exporter uses the
/// first).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUplink {
    port: String,
    provider: String,
    alias: Option<String>,
    metric: Option<u32>,
    traffic: Option<Traffic>,
    bgp: Option<RawUplinkBgp>,
    probe: Option<RawProbe>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    endpoints: Vec<String>,
    traffic: Option<Traffic>,
}

// ---------------------------------------------------------------- validated

/// A validated lab description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Description {
    /// Lab name: lowercase letters, digits and `-`; part of namespace names.
    pub name: String,
    /// Devices in file order.
    pub nodes: Vec<Node>,
    /// Cables between two devices.
    pub links: Vec<Link>,
}

/// How a device is reached from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A branch router: reached only over its ISP uplinks.
    Router,
    /// A switch (or any device with a net-snmp agent) behind other devices, or at HQ.
    Switch,
    /// An snmpsim recording of a real device, served from the device's namespace.
    Recording,
}

/// One device of the lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub site: String,
    pub kind: Kind,
    /// Reached directly from the host over a management link (HQ/core devices).
    pub management: bool,
    pub role: Option<String>,
    pub snmp: Snmp,
    /// Name of the SNMP profile (the exporter's `auths` key).
    pub snmp_profile: String,
    /// More profiles the agent answers to (`snmp: [first, more...]`).
    #[serde(default)]
    pub snmp_also: Vec<Snmp>,
    /// lldpd as snmpd's AgentX sub-agent on the device's cabled ports.
    pub lldp: bool,
    /// Path inside snmpsim-data without extension (`network/switch/cisco-c3750`).
    pub recording: Option<String>,
    /// ISP uplinks, primary first (lowest metric).
    pub uplinks: Vec<Uplink>,
    /// ifAlias per port.
    pub aliases: BTreeMap<String, String>,
    /// Extra exporter target labels.
    pub labels: BTreeMap<String, String>,
}

/// An ISP uplink of a router; the host side of its cable is the provider's end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Uplink {
    pub port: String,
    pub provider: String,
    /// Route metric; lower is preferred.
    pub metric: u32,
    pub traffic: Option<Traffic>,
    /// An eBGP session over this uplink with the provider (FRR on both ends).
    #[serde(default)]
    pub bgp: Option<UplinkBgp>,
    /// An IP SLA echo probe over this uplink to the provider's end.
    #[serde(default)]
    pub probe: Option<Probe>,
}

/// The eBGP session of an uplink: the router's AS and the provider's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UplinkBgp {
    pub asn: u32,
    pub peer_asn: u32,
}

/// An ICMP echo operation (IP SLA `icmp-echo`) from the uplink's address to the provider's
/// end of the uplink, every `frequency` seconds; its row is `index` in CISCO-RTTMON-MIB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// rttMonCtrlAdminIndex.
    pub index: u32,
    /// rttMonCtrlAdminTag (at most 16 characters).
    pub tag: String,
    /// Seconds between two runs (rttMonCtrlAdminFrequency).
    pub frequency: u32,
}

/// Steady traffic over a cable: pings every `interval` seconds with `size`-byte payloads.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    pub interval: f64,
    pub size: u32,
}

/// A cable between two device ports; `a` is the upstream end when one is closer to the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub a: Endpoint,
    pub b: Endpoint,
    pub traffic: Option<Traffic>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Endpoint {
    pub node: String,
    pub port: String,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.node, self.port)
    }
}

/// SNMP as the agent answers and the exporter asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version", rename_all = "snake_case")]
pub enum Snmp {
    V2c {
        community: String,
    },
    V3 {
        username: String,
        /// `authPriv`, `authNoPriv` or `noAuthNoPriv`.
        security_level: String,
        auth_protocol: String,
        auth_password: Option<String>,
        priv_protocol: String,
        priv_password: Option<String>,
    },
}

impl Node {
    /// The node's ports that carry an ISP uplink or a cable, as named in the description.
    pub fn uplink(&self, port: &str) -> Option<&Uplink> {
        self.uplinks.iter().find(|u| u.port == port)
    }
}

impl Description {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Parse and validate a description read from `file` (used in error messages).
    pub fn parse(file: &str, text: &str) -> Result<Description, DescriptionError> {
        let raw: RawDescription =
            serde_yaml::from_str(text).map_err(|e| yaml_error(file, text, &e))?;
        Checker { file, text }.validate(raw)
    }

    /// Read and validate a description file.
    pub fn load(path: &std::path::Path) -> Result<Description, DescriptionError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| DescriptionError {
            file: file.clone(),
            line: 0,
            field: "(file)".into(),
            message: format!("cannot read: {e}"),
        })?;
        Description::parse(&file, &text)
    }
}

/// serde_yaml's error as file:line: field: message.
fn yaml_error(file: &str, text: &str, e: &serde_yaml::Error) -> DescriptionError {
    let line = e.location().map(|l| l.line()).unwrap_or(0);
    let mut msg = e.to_string();
    if let Some(i) = msg.find(" at line ") {
        msg.truncate(i);
    }
    // serde_yaml prefixes the path ("sites.x.nodes.Y: unknown field ...") when it has one.
    let (field, message) = match msg.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => (path.to_string(), rest.to_string()),
        _ => ("(document)".to_string(), msg.clone()),
    };
    let _ = text;
    DescriptionError {
        file: file.to_string(),
        line,
        field,
        message,
    }
}

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
}

/// A valid interface name inside a namespace (kernel limit 15 bytes).
fn valid_port(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 15
        && p != "lo"
        && p != "mgmt0"
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

impl Checker<'_> {
    /// Line of the last of `path`'s keys: each key is looked for on the line of the one before
    /// or in the block below it (lines indented deeper); 0 when even the first is not found.
    fn line_of(&self, path: &[&str]) -> usize {
        let lines: Vec<&str> = self.text.lines().collect();
        let indent = |l: &str| l.len() - l.trim_start().len();
        let has_key = |l: &str, key: &str| {
            let t = l.trim_start().trim_start_matches("- ");
            t.starts_with(&format!("{key}:"))
                || t.starts_with(&format!("\"{key}\":"))
                || l.contains(&format!("{{{key}:"))
                || l.contains(&format!(" {key}:"))
                || l.contains(&format!("\"{key}\""))
                || l.contains(&format!("[{key}"))
                || l.contains(&format!(" {key},"))
                || l.contains(&format!(" {key}]"))
        };
        let mut found: Option<usize> = None;
        for key in path {
            let (from, block) = match found {
                None => (0, None),
                Some(i) => (i, Some(indent(lines[i]))),
            };
            let mut hit = None;
            for (i, l) in lines.iter().enumerate().skip(from) {
                let blank = l.trim().is_empty() || l.trim_start().starts_with('#');
                if let Some(k) = block {
                    if i > from && !blank && indent(l) <= k {
                        break;
                    }
                }
                if !blank && has_key(l, key) {
                    hit = Some(i);
                    break;
                }
            }
            match hit {
                Some(i) => found = Some(i),
                None => break,
            }
        }
        found.map_or(0, |i| i + 1)
    }

    fn err(&self, path: &[&str], field: String, message: impl Into<String>) -> DescriptionError {
        DescriptionError {
            file: self.file.to_string(),
            line: self.line_of(path),
            field,
            message: message.into(),
        }
    }

    fn validate(&self, raw: RawDescription) -> Result<Description, DescriptionError> {
        let name_ok = !raw.name.is_empty()
            && raw.name.len() <= 16
            && raw
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err(self.err(
                &["name"],
                "name".into(),
                "1 to 16 lowercase letters, digits or `-`",
            ));
        }
        // SNMP profiles.
        let mut profiles = BTreeMap::new();
        for (pname, s) in &raw.snmp {
            profiles.insert(pname.clone(), self.snmp(pname, s)?);
        }
        if profiles.is_empty() {
            profiles.insert(
                "lab".to_string(),
                Snmp::V2c {
                    community: "public".into(),
                },
            );
        }
        let default_profile = match &raw.defaults.snmp {
            Some(p) if !profiles.contains_key(p) => {
                return Err(self.err(
                    &["defaults", "snmp"],
                    "defaults.snmp".into(),
                    format!("no SNMP profile {p:?} (define it under `snmp:`)"),
                ))
            }
            Some(p) => Some(p.clone()),
            None if profiles.len() == 1 => profiles.keys().next().cloned(),
            None => None,
        };
        let default_lldp = raw.defaults.lldp.unwrap_or(true);
        if raw.sites.is_empty() {
            return Err(self.err(&["sites"], "sites".into(), "no sites"));
        }
        let mut nodes = Vec::new();
        let mut names = BTreeSet::new();
        for (site, s) in &raw.sites.0 {
            let site_ok = !site.is_empty()
                && site
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !site_ok {
                return Err(self.err(
                    &["sites", site],
                    format!("sites.{site}"),
                    "site names are letters, digits, `-` and `_`",
                ));
            }
            if s.nodes.is_empty() {
                return Err(self.err(
                    &["sites", site],
                    format!("sites.{site}.nodes"),
                    "a site needs at least one node",
                ));
            }
            for (nname, n) in &s.nodes.0 {
                let node = self.node(site, nname, n, &profiles, &default_profile, default_lldp)?;
                if !names.insert(nname.clone()) {
                    return Err(self.err(
                        &["sites", site, nname],
                        format!("sites.{site}.nodes.{nname}"),
                        "a node of this name is already in another site",
                    ));
                }
                nodes.push(node);
            }
        }
        let mut links = Vec::new();
        let mut used: BTreeSet<Endpoint> = nodes
            .iter()
            .flat_map(|n| {
                n.uplinks.iter().map(|u| Endpoint {
                    node: n.name.clone(),
                    port: u.port.clone(),
                })
            })
            .collect();
        for (i, l) in raw.links.iter().enumerate() {
            let field = format!("links[{i}].endpoints");
            let first = l.endpoints.first().map(String::as_str).unwrap_or("links");
            let path = ["links", first];
            if l.endpoints.len() != 2 {
                return Err(self.err(&path, field, "a cable has exactly two endpoints"));
            }
            let mut ends = Vec::new();
            for e in &l.endpoints {
                let Some((node, port)) = e.split_once(':') else {
                    return Err(self.err(
                        &["links", e],
                        field,
                        format!("{e:?}: write an endpoint as NODE:PORT"),
                    ));
                };
                let Some(n) = nodes.iter().find(|n| n.name == node) else {
                    return Err(self.err(&["links", e], field, format!("{e:?}: no node {node:?}")));
                };
                if n.kind == Kind::Recording && n.lldp {
                    // Recordings have no lldpd; a cable to one is still a real cable.
                }
                if !valid_port(port) {
                    return Err(self.err(
                        &["links", e],
                        field,
                        format!("{e:?}: port names are 1-15 letters, digits, `-`, `_` or `.` (not lo or mgmt0)"),
                    ));
                }
                let ep = Endpoint {
                    node: node.to_string(),
                    port: port.to_string(),
                };
                if !used.insert(ep.clone()) {
                    return Err(self.err(
                        &["links", e],
                        field,
                        format!("{e:?}: this port already has a cable or an uplink"),
                    ));
                }
                ends.push(ep);
            }
            if ends[0].node == ends[1].node {
                return Err(self.err(&path, field, "a cable joins two different nodes"));
            }
            let b = ends.pop().unwrap_or_else(|| ends[0].clone());
            let a = ends.pop().unwrap_or_else(|| b.clone());
            links.push(Link {
                a,
                b,
                traffic: l.traffic,
            });
        }
        // Aliases name ports that exist.
        for n in &nodes {
            for port in n.aliases.keys() {
                let ep = Endpoint {
                    node: n.name.clone(),
                    port: port.clone(),
                };
                if !used.contains(&ep) {
                    return Err(self.err(
                        &["sites", &n.site, &n.name, "aliases", port],
                        format!("sites.{}.nodes.{}.aliases.{port}", n.site, n.name),
                        "no uplink or cable on this port",
                    ));
                }
            }
        }
        let d = Description {
            name: raw.name,
            nodes,
            links,
        };
        // Every node is reached from the host: over uplinks, management, or cables to one.
        let reached = crate::plan::reach_order(&d);
        for n in &d.nodes {
            if !reached.contains_key(&n.name) {
                return Err(self.err(
                    &["sites", &n.site, &n.name],
                    format!("sites.{}.nodes.{}", n.site, n.name),
                    "not reachable from the host: give it `management: true`, make it a router \
                     with uplinks, or cable it to a reachable node",
                ));
            }
        }
        Ok(d)
    }

    fn snmp(&self, pname: &str, s: &RawSnmp) -> Result<Snmp, DescriptionError> {
        let field = |f: &str| format!("snmp.{pname}.{f}");
        let path = |f: &'static str| -> Vec<String> {
            vec!["snmp".into(), pname.to_string(), f.to_string()]
        };
        let at = |f: &'static str| {
            let p = path(f);
            let refs: Vec<&str> = p.iter().map(String::as_str).collect();
            self.line_of(&refs)
        };
        let mk = |f: &'static str, m: String| DescriptionError {
            file: self.file.to_string(),
            line: at(f),
            field: field(f),
            message: m,
        };
        let version = match &s.version {
            RawVersion::Number(2) => "2c",
            RawVersion::Number(3) => "3",
            RawVersion::Text(t) if t == "2c" || t == "2" => "2c",
            RawVersion::Text(t) if t == "3" => "3",
            _ => return Err(mk("version", "2c or 3".into())),
        };
        let v3_only = [
            ("username", s.username.is_some()),
            ("security_level", s.security_level.is_some()),
            ("auth_protocol", s.auth_protocol.is_some()),
            ("auth_password", s.auth_password.is_some()),
            ("priv_protocol", s.priv_protocol.is_some()),
            ("priv_password", s.priv_password.is_some()),
        ];
        if version == "2c" {
            if let Some((f, _)) = v3_only.iter().find(|(_, set)| *set) {
                return Err(DescriptionError {
                    file: self.file.to_string(),
                    line: self.line_of(&["snmp", pname, f]),
                    field: field(f),
                    message: "an SNMPv3 setting; this profile is version 2c".into(),
                });
            }
            let community = s
                .community
                .clone()
                .filter(|c| !c.is_empty() && !c.contains(char::is_whitespace))
                .ok_or_else(|| {
                    mk(
                        "community",
                        "version 2c needs a community without spaces".into(),
                    )
                })?;
            return Ok(Snmp::V2c { community });
        }
        if s.community.is_some() {
            return Err(mk("community", "not used by SNMPv3".into()));
        }
        let username = s
            .username
            .clone()
            .filter(|u| !u.is_empty() && !u.contains(char::is_whitespace))
            .ok_or_else(|| {
                mk(
                    "username",
                    "version 3 needs a username without spaces".into(),
                )
            })?;
        let level = s.security_level.clone().unwrap_or("authPriv".into());
        if !["authPriv", "authNoPriv", "noAuthNoPriv"].contains(&level.as_str()) {
            return Err(mk(
                "security_level",
                "authPriv, authNoPriv or noAuthNoPriv".into(),
            ));
        }
        let auth_protocol = s.auth_protocol.clone().unwrap_or("SHA".into());
        if !["MD5", "SHA"].contains(&auth_protocol.as_str()) {
            return Err(mk("auth_protocol", "MD5 or SHA".into()));
        }
        let priv_protocol = s.priv_protocol.clone().unwrap_or("AES".into());
        if !["DES", "AES"].contains(&priv_protocol.as_str()) {
            return Err(mk("priv_protocol", "DES or AES".into()));
        }
        let pw = |f: &'static str, v: &Option<String>, needed: bool| match v {
            Some(p) if p.len() < 8 || p.contains(char::is_whitespace) => Err(mk(
                f,
                "at least 8 characters without spaces (net-snmp refuses shorter ones)".into(),
            )),
            None if needed => Err(mk(f, format!("security_level {level} needs it"))),
            _ => Ok(v.clone()),
        };
        let auth_password = pw("auth_password", &s.auth_password, level != "noAuthNoPriv")?;
        let priv_password = pw("priv_password", &s.priv_password, level == "authPriv")?;
        Ok(Snmp::V3 {
            username,
            security_level: level,
            auth_protocol,
            auth_password,
            priv_protocol,
            priv_password,
        })
    }

    fn node(
        &self,
        site: &str,
        name: &str,
        n: &RawNode,
        profiles: &BTreeMap<String, Snmp>,
        default_profile: &Option<String>,
        default_lldp: bool,
    ) -> Result<Node, DescriptionError> {
        let field = |f: &str| format!("sites.{site}.nodes.{name}.{f}");
        let err = |f: &str, m: String| DescriptionError {
            file: self.file.to_string(),
            line: self.line_of(&["sites", site, name, f]),
            field: field(f),
            message: m,
        };
        let name_ok = !name.is_empty()
            && name.len() <= 48
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !name_ok {
            return Err(DescriptionError {
                file: self.file.to_string(),
                line: self.line_of(&["sites", site, name]),
                field: format!("sites.{site}.nodes.{name}"),
                message: "node names are 1-48 letters, digits, `-`, `_` or `.`".into(),
            });
        }
        let kind = match n.kind.as_str() {
            "router" => Kind::Router,
            "switch" => Kind::Switch,
            "recording" => Kind::Recording,
            other => {
                return Err(err(
                    "kind",
                    format!("{other:?}: router, switch or recording"),
                ))
            }
        };
        let names: Vec<String> = match &n.snmp {
            None => match default_profile {
                Some(p) => vec![p.clone()],
                None => {
                    return Err(err(
                        "snmp",
                        "several SNMP profiles: name this node's, or set `defaults.snmp`".into(),
                    ))
                }
            },
            Some(OneOrMany::One(p)) => vec![p.clone()],
            Some(OneOrMany::Many(v)) if v.is_empty() => {
                return Err(err("snmp", "name at least one SNMP profile".into()))
            }
            Some(OneOrMany::Many(v)) => v.clone(),
        };
        let mut found = Vec::new();
        for p in &names {
            match profiles.get(p) {
                Some(x) => found.push(x.clone()),
                None => {
                    return Err(err(
                        "snmp",
                        format!("no SNMP profile {p:?} (define it under `snmp:`)"),
                    ))
                }
            }
        }
        let snmp_profile = names[0].clone();
        let snmp = found.remove(0);
        let snmp_also = found;
        if kind == Kind::Recording && !snmp_also.is_empty() {
            return Err(err(
                "snmp",
                "a recording answers one SNMPv2c community".into(),
            ));
        }
        match kind {
            Kind::Router if n.uplinks.is_empty() => {
                return Err(err(
                    "uplinks",
                    "a router needs at least one ISP uplink".into(),
                ))
            }
            Kind::Router if n.management => {
                return Err(err(
                    "management",
                    "a router is reached over its ISP uplinks, not a management link".into(),
                ))
            }
            Kind::Switch | Kind::Recording if !n.uplinks.is_empty() => {
                return Err(err(
                    "uplinks",
                    "only a router has ISP uplinks (kind: router)".into(),
                ))
            }
            _ => {}
        }
        let recording = match (kind, &n.recording) {
            (Kind::Recording, None) => {
                return Err(err(
                    "recording",
                    "a recording node names its snmpsim-data file, e.g. network/switch/cisco-c3750"
                        .into(),
                ))
            }
            (Kind::Recording, Some(r)) => {
                if r.is_empty() || r.starts_with('/') || r.contains("..") {
                    return Err(err(
                        "recording",
                        "a path inside snmpsim-data's data directory, without extension".into(),
                    ));
                }
                if !matches!(snmp, Snmp::V2c { .. }) {
                    return Err(err(
                        "snmp",
                        "recordings answer SNMPv2c only (snmpsim serves the file under the community)"
                            .into(),
                    ));
                }
                Some(r.clone())
            }
            (_, Some(_)) => {
                return Err(err(
                    "recording",
                    "only nodes of kind recording replay a recording".into(),
                ))
            }
            (_, None) => None,
        };
        let mut uplinks = Vec::new();
        let mut aliases = n.aliases.clone();
        for (i, u) in n.uplinks.iter().enumerate() {
            let f = |x: &str| format!("sites.{site}.nodes.{name}.uplinks[{i}].{x}");
            let uerr = |x: &str, m: String| DescriptionError {
                file: self.file.to_string(),
                line: self.line_of(&["sites", site, name, "uplinks", &u.port]),
                field: f(x),
                message: m,
            };
            if !valid_port(&u.port) {
                return Err(uerr(
                    "port",
                    "port names are 1-15 letters, digits, `-`, `_` or `.` (not lo or mgmt0)".into(),
                ));
            }
            if uplinks.iter().any(|x: &Uplink| x.port == u.port) {
                return Err(uerr("port", format!("{:?} is already an uplink", u.port)));
            }
            let provider_ok = !u.provider.is_empty()
                && u.provider
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !provider_ok {
                return Err(uerr(
                    "provider",
                    "a provider name (Magti, Silknet, Veon ...): letters, digits, `-`, `_`".into(),
                ));
            }
            if let Some(t) = &u.traffic {
                check_traffic(t).map_err(|m| uerr("traffic", m))?;
            }
            if aliases.contains_key(&u.port) && u.alias.is_some() {
                return Err(uerr(
                    "alias",
                    "the port's alias is also under `aliases`: say it once".into(),
                ));
            }
            let alias = u
                .alias
                .clone()
                .or_else(|| aliases.get(&u.port).cloned())
                .unwrap_or_else(|| format!("{}_Internet", u.provider));
            aliases.insert(u.port.clone(), alias);
            let bgp = match &u.bgp {
                None => None,
                Some(b) => {
                    let asn = match (b.asn, n.bgp.as_ref().map(|x| x.asn)) {
                        (Some(a), Some(r)) if a != r => {
                            return Err(uerr(
                                "bgp.asn",
                                format!(
                                    "{a} differs from the router's bgp.asn {r}: one bgpd, one AS"
                                ),
                            ))
                        }
                        (Some(a), _) | (None, Some(a)) => a,
                        (None, None) => return Err(uerr(
                            "bgp.asn",
                            "the router's AS: give `asn:` here or `bgp: {asn: ...}` on the router"
                                .into(),
                        )),
                    };
                    check_asn(asn).map_err(|m| uerr("bgp.asn", m))?;
                    check_asn(b.peer_asn).map_err(|m| uerr("bgp.peer_asn", m))?;
                    if asn == b.peer_asn {
                        return Err(uerr(
                            "bgp.peer_asn",
                            format!("{asn} is the router's own AS: the provider is an eBGP peer"),
                        ));
                    }
                    if let Some(other) = uplinks.iter().find_map(|x: &Uplink| x.bgp) {
                        if other.asn != asn {
                            return Err(uerr(
                                "bgp.asn",
                                format!(
                                    "{asn} differs from another uplink's {}: one bgpd, one AS",
                                    other.asn
                                ),
                            ));
                        }
                    }
                    Some(UplinkBgp {
                        asn,
                        peer_asn: b.peer_asn,
                    })
                }
            };
            let probe = match &u.probe {
                None => None,
                Some(p) => {
                    let tag = p.tag.clone().unwrap_or_else(|| u.provider.clone());
                    let tag_ok = tag.len() <= 16
                        && tag.chars().all(|c| c.is_ascii_graphic() || c == ' ')
                        && !tag.contains('"');
                    if !tag_ok {
                        return Err(uerr(
                            "probe.tag",
                            "at most 16 printable ASCII characters, without `\"`".into(),
                        ));
                    }
                    let index = p.index.unwrap_or(i as u32 + 1);
                    if !(1..=2_147_483_647).contains(&index) {
                        return Err(uerr("probe.index", "1 to 2147483647".into()));
                    }
                    if uplinks
                        .iter()
                        .any(|x: &Uplink| x.probe.as_ref().is_some_and(|q| q.index == index))
                    {
                        return Err(uerr(
                            "probe.index",
                            format!("{index} is already another uplink's probe"),
                        ));
                    }
                    let frequency = p.frequency.unwrap_or(3);
                    if !(1..=60).contains(&frequency) {
                        return Err(uerr("probe.frequency", "1 to 60 seconds".into()));
                    }
                    Some(Probe {
                        index,
                        tag,
                        frequency,
                    })
                }
            };
            uplinks.push(Uplink {
                port: u.port.clone(),
                provider: u.provider.clone(),
                metric: u.metric.unwrap_or(10 * (i as u32 + 1)),
                traffic: u.traffic,
                bgp,
                probe,
            });
        }
        if n.bgp.is_some() && !uplinks.iter().any(|u| u.bgp.is_some()) {
            return Err(err(
                "bgp",
                "no uplink has `bgp: {peer_asn: ...}`: the router would have no peer".into(),
            ));
        }
        let mut metrics = BTreeSet::new();
        for u in &uplinks {
            if !metrics.insert(u.metric) {
                return Err(err(
                    "uplinks",
                    format!(
                        "two uplinks with metric {}: the primary needs the lowest",
                        u.metric
                    ),
                ));
            }
        }
        uplinks.sort_by_key(|u| u.metric);
        for (port, alias) in &aliases {
            if alias.is_empty() || alias.len() > 64 || alias.contains(['\n', '"']) {
                return Err(err(
                    "aliases",
                    format!("{port}: an ifAlias is 1-64 characters on one line, without `\"`"),
                ));
            }
        }
        for (k, v) in &n.labels {
            let ok = k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !k.starts_with(char::is_numeric)
                && !k.is_empty();
            if !ok || ["site", "role", "device"].contains(&k.as_str()) || v.contains('\n') {
                return Err(err(
                    "labels",
                    format!("{k}: a Prometheus label name other than site, role and device"),
                ));
            }
        }
        Ok(Node {
            name: name.to_string(),
            site: site.to_string(),
            kind,
            management: n.management,
            role: n.role.clone(),
            snmp,
            snmp_profile,
            snmp_also,
            lldp: kind != Kind::Recording && n.lldp.unwrap_or(default_lldp),
            recording,
            uplinks,
            aliases,
            labels: n.labels.clone(),
        })
    }
}

fn check_asn(asn: u32) -> Result<(), String> {
    if asn == 0 || asn == 23456 || asn == u32::MAX {
        return Err(format!("{asn} is not a usable AS number"));
    }
    Ok(())
}

fn check_traffic(t: &Traffic) -> Result<(), String> {
    if !(0.002..=60.0).contains(&t.interval) || !(1..=8972).contains(&t.size) {
        return Err("interval 0.002-60 seconds, size 1-8972 bytes".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
name: t
snmp:
  v2: {version: 2c, community: public}
  v3: {version: 3, username: u, auth_password: authpass1, priv_password: privpass1}
defaults: {snmp: v2}
sites:
  hq:
    nodes:
      CORE: {kind: switch, management: true, snmp: v3}
  tbilisi:
    nodes:
      RTR:
        kind: router
        uplinks:
          - {port: isp0, provider: Magti}
          - {port: isp1, provider: Silknet, metric: 5}
      SW: {kind: switch, aliases: {up0: Uplink_to_Router}}
links:
  - endpoints: [RTR:lan0, SW:up0]
";

    #[test]
    fn a_good_description_validates() {
        let d = Description::parse("good.yml", GOOD).expect("valid");
        assert_eq!(d.name, "t");
        let r = d.node("RTR").unwrap();
        // Primary is the lowest metric, whatever the order.
        assert_eq!(r.uplinks[0].provider, "Silknet");
        assert_eq!(r.uplinks[1].metric, 10);
        assert_eq!(r.aliases["isp0"], "Magti_Internet");
        assert!(matches!(d.node("CORE").unwrap().snmp, Snmp::V3 { .. }));
        assert_eq!(d.links[0].a.to_string(), "RTR:lan0");
    }

    /// (what is changed, expected line, expected field, words of the message)
    #[test]
    fn bad_descriptions_name_file_line_and_field() {
        let cases: &[(&str, &str, usize, &str, &str)] = &[
            (
                "SW: {kind: switch, aliases: {up0: Uplink_to_Router}}",
                "SW: {kind: switch, colour: red}",
                17,
                "sites.tbilisi.nodes.SW",
                "unknown field `colour`",
            ),
            (
                "{port: isp1, provider: Silknet, metric: 5}",
                "{port: isp1, provider: Silknet, metric: 10}",
                14,
                "sites.tbilisi.nodes.RTR.uplinks",
                "two uplinks with metric 10",
            ),
            (
                "[RTR:lan0, SW:up0]",
                "[RTR:lan0, SWX:up0]",
                19,
                "links[0].endpoints",
                "no node \"SWX\"",
            ),
            (
                "[RTR:lan0, SW:up0]",
                "[RTR:isp0, SW:up0]",
                19,
                "links[0].endpoints",
                "already has a cable or an uplink",
            ),
            (
                "CORE: {kind: switch, management: true, snmp: v3}",
                "CORE: {kind: switch, management: true, snmp: v4}",
                9,
                "sites.hq.nodes.CORE.snmp",
                "no SNMP profile \"v4\"",
            ),
            (
                "priv_password: privpass1}",
                "priv_password: short}",
                4,
                "snmp.v3.priv_password",
                "at least 8 characters",
            ),
            (
                "kind: router\n",
                "kind: rooter\n",
                13,
                "sites.tbilisi.nodes.RTR.kind",
                "router, switch or recording",
            ),
            (
                "SW: {kind: switch, aliases: {up0: Uplink_to_Router}}",
                "SW: {kind: switch, aliases: {up9: Uplink_to_Router}}",
                17,
                "sites.tbilisi.nodes.SW.aliases.up9",
                "no uplink or cable on this port",
            ),
            (
                "SW: {kind: switch, aliases: {up0: Uplink_to_Router}}\nlinks:\n  - endpoints: [RTR:lan0, SW:up0]\n",
                "SW: {kind: switch}\n",
                17,
                "sites.tbilisi.nodes.SW",
                "not reachable from the host",
            ),
            (
                "CORE: {kind: switch, management: true, snmp: v3}",
                "CORE: {kind: router, management: true, snmp: v3}",
                9,
                "sites.hq.nodes.CORE.uplinks",
                "needs at least one ISP uplink",
            ),
            (
                "{port: isp0, provider: Magti}",
                "{port: isp0, provider: Magti, bgp: {peer_asn: 65001}}",
                15,
                "sites.tbilisi.nodes.RTR.uplinks[0].bgp.asn",
                "the router's AS",
            ),
            (
                "{port: isp0, provider: Magti}",
                "{port: isp0, provider: Magti, bgp: {asn: 65001, peer_asn: 65001}}",
                15,
                "sites.tbilisi.nodes.RTR.uplinks[0].bgp.peer_asn",
                "eBGP peer",
            ),
            (
                "{port: isp1, provider: Silknet, metric: 5}",
                "{port: isp1, provider: Silknet, metric: 5, bgp: {asn: 0, peer_asn: 65001}}",
                16,
                "sites.tbilisi.nodes.RTR.uplinks[1].bgp.asn",
                "not a usable AS number",
            ),
            (
                "{port: isp0, provider: Magti}",
                "{port: isp0, provider: Magti, probe: {tag: Magti-primary-uplink}}",
                15,
                "sites.tbilisi.nodes.RTR.uplinks[0].probe.tag",
                "at most 16",
            ),
            (
                "{port: isp1, provider: Silknet, metric: 5}",
                "{port: isp1, provider: Silknet, metric: 5, probe: {frequency: 0}}",
                16,
                "sites.tbilisi.nodes.RTR.uplinks[1].probe.frequency",
                "1 to 60 seconds",
            ),
            (
                "{port: isp0, provider: Magti}",
                "{port: isp0, provider: Magti, probe: {target: 169.254.1.1}}",
                15,
                "sites.tbilisi.nodes.RTR.uplinks[0].probe",
                "unknown field `target`",
            ),
            (
                "kind: router\n",
                "kind: router\n        bgp: {asn: 65101}\n",
                14,
                "sites.tbilisi.nodes.RTR.bgp",
                "no uplink has `bgp:",
            ),
            (
                "name: t\n",
                "name: Bank Lab\n",
                1,
                "name",
                "lowercase",
            ),
        ];
        for (from, to, line, field, words) in cases {
            assert!(GOOD.contains(from), "case {from:?} does not apply");
            let text = GOOD.replacen(from, to, 1);
            let e = Description::parse("bank.yml", &text).expect_err(to);
            assert_eq!(e.file, "bank.yml", "{e}");
            assert_eq!(e.line, *line, "{to}: {e}");
            assert!(e.field.starts_with(field), "{to}: field of {e}");
            assert!(e.message.contains(words), "{to}: {e}");
            assert!(
                e.to_string().starts_with(&format!("bank.yml:{line}: ")),
                "{e}"
            );
        }
    }

    #[test]
    fn the_shipped_bank_description_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../labs/bank.yml");
        let d = Description::load(std::path::Path::new(path)).expect("labs/bank.yml");
        let routers: Vec<&Node> = d.nodes.iter().filter(|n| n.kind == Kind::Router).collect();
        assert_eq!(routers.len(), 3);
        let providers = |site: &str| -> Vec<String> {
            let r = routers.iter().find(|r| r.site == site).unwrap();
            r.uplinks.iter().map(|u| u.provider.clone()).collect()
        };
        assert_eq!(providers("tbilisi"), ["Magti", "Silknet"]);
        assert_eq!(providers("batumi"), ["Silknet", "Veon"]);
        assert_eq!(providers("kutaisi"), ["Magti", "Veon"]);
        // Probes on every branch uplink; BGP on kutaisi's.
        assert!(routers
            .iter()
            .all(|r| r.uplinks.iter().all(|u| u.probe.is_some())));
        let kutaisi = routers.iter().find(|r| r.site == "kutaisi").unwrap();
        assert!(kutaisi.uplinks.iter().all(|u| u.bgp.is_some()));
    }
}
