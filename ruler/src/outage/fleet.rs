//! The fleet as the outage group reads it from VictoriaMetrics: the queries, their answers
//! ([`Answers`], one instant vector each) and the pure decoding of those answers into
//! [`Fleet`] (devices with health and labels, last known links, ISP uplinks with their last
//! known state) and into the reachability analysis' [`Input`]. Shards need nothing special:
//! every series is keyed by `device`, whichever exporter `instance` it came from.

use super::config::OutageConfig;
use crate::datasource::{DatasourceError, Querier, Sample};
use crate::labels::Labels;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use wardflux_reach::{Device, Health, Input, Link};

/// The expressions one evaluation asks, in [`Answers`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct Queries {
    pub up_now: String,
    pub up_known: String,
    pub lldp: String,
    pub manual: String,
    pub roots: String,
    pub isp_oper: String,
    pub isp_changed: String,
    pub isp_seen: String,
    pub isp_admin: String,
    pub uptime: String,
}

impl Queries {
    pub fn new(cfg: &OutageConfig) -> Queries {
        let lb = format!("{}s", cfg.topology_lookback.as_secs());
        let fresh = format!("{}s", fresh_window(cfg).as_secs());
        let isp = "ifOperStatus{interface_type=\"isp\"}";
        Queries {
            up_now: format!("last_over_time(wardflux_device_up[{fresh}])"),
            up_known: format!("last_over_time(wardflux_device_up[{lb}])"),
            lldp: format!("last_over_time(wardflux_lldp_neighbor_info[{lb}])"),
            manual: format!("last_over_time(wardflux_topology_link_info[{lb}])"),
            roots: format!("last_over_time(wardflux_topology_root_info[{fresh}])"),
            isp_oper: format!("last_over_time({isp}[{lb}])"),
            isp_changed: format!("tlast_change_over_time({isp}[{lb}])"),
            isp_seen: format!("tlast_over_time({isp}[{lb}])"),
            isp_admin: format!("last_over_time(ifAdminStatus{{interface_type=\"isp\"}}[{lb}])"),
            uptime: format!("last_over_time(wardflux_device_uptime_seconds[{fresh}])"),
        }
    }

    /// Asks every query at `at`; the first failure is the evaluation's failure.
    pub async fn ask(
        &self,
        q: &dyn Querier,
        at: DateTime<Utc>,
        step: Duration,
    ) -> Result<Answers, DatasourceError> {
        Ok(Answers {
            up_now: q.query(&self.up_now, at, step).await?,
            up_known: q.query(&self.up_known, at, step).await?,
            lldp: q.query(&self.lldp, at, step).await?,
            manual: q.query(&self.manual, at, step).await?,
            roots: q.query(&self.roots, at, step).await?,
            isp_oper: q.query(&self.isp_oper, at, step).await?,
            isp_changed: q.query(&self.isp_changed, at, step).await?,
            isp_seen: q.query(&self.isp_seen, at, step).await?,
            isp_admin: q.query(&self.isp_admin, at, step).await?,
            uptime: q.query(&self.uptime, at, step).await?,
        })
    }
}

/// How old a device's last `wardflux_device_up` may be and still count as its health:
/// two evaluation intervals, at least two minutes (a scrape or two).
pub fn fresh_window(cfg: &OutageConfig) -> Duration {
    (cfg.interval * 2).max(Duration::from_secs(120))
}

/// The answer to each of [`Queries`].
#[derive(Debug, Clone, Default)]
pub struct Answers {
    pub up_now: Vec<Sample>,
    pub up_known: Vec<Sample>,
    pub lldp: Vec<Sample>,
    pub manual: Vec<Sample>,
    pub roots: Vec<Sample>,
    pub isp_oper: Vec<Sample>,
    pub isp_changed: Vec<Sample>,
    pub isp_seen: Vec<Sample>,
    pub isp_admin: Vec<Sample>,
    pub uptime: Vec<Sample>,
}

/// One device of the fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetDevice {
    pub name: String,
    pub site: String,
    pub health: Health,
    /// Its `wardflux_device_up` labels (the newest series when shards disagree).
    pub labels: Labels,
    pub root: bool,
    /// sysUpTime in seconds at its last poll, when fresh.
    pub uptime: Option<f64>,
}

/// One ISP uplink and what was last known of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Uplink {
    pub device: String,
    pub if_name: String,
    /// `isp_provider`, or empty.
    pub provider: String,
    pub site: String,
    /// Last known ifOperStatus (1 up, 2 down, ...).
    pub oper: f64,
    /// Last known ifAdminStatus, when known.
    pub admin: Option<f64>,
    /// When its status last changed within the lookback.
    pub changed_at: Option<DateTime<Utc>>,
    /// When its status was last seen.
    pub last_seen: Option<DateTime<Utc>>,
}

impl Uplink {
    pub fn is_down(&self) -> bool {
        self.oper == 2.0 && self.admin != Some(2.0)
    }

    pub fn is_up(&self) -> bool {
        self.oper == 1.0
    }

    /// The provider's name, or the interface's when the provider is not known.
    pub fn name(&self) -> &str {
        if self.provider.is_empty() {
            &self.if_name
        } else {
            &self.provider
        }
    }
}

/// Everything one evaluation knows of the fleet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fleet {
    /// Sorted by name.
    pub devices: Vec<FleetDevice>,
    /// Known links, each pair once, sorted.
    pub links: Vec<(String, String)>,
    /// Sorted by device and interface.
    pub uplinks: Vec<Uplink>,
}

fn label<'a>(s: &'a Sample, k: &str) -> &'a str {
    s.labels.get(k).map(String::as_str).unwrap_or("")
}

fn ts(v: f64) -> Option<DateTime<Utc>> {
    (v.is_finite() && v > 0.0)
        .then(|| DateTime::from_timestamp_millis((v * 1000.0).round() as i64))
        .flatten()
}

impl Fleet {
    /// Decodes the answers; `cfg` says which devices are configured roots.
    pub fn from_answers(a: &Answers, cfg: &OutageConfig) -> Fleet {
        // Devices: every device seen within the lookback; health from the fresh answer
        // (any shard saying up wins: the device answers someone).
        let mut devices: BTreeMap<String, FleetDevice> = BTreeMap::new();
        for s in a.up_known.iter().chain(&a.up_now) {
            let name = label(s, "device");
            if name.is_empty() {
                continue;
            }
            devices
                .entry(name.to_string())
                .or_insert_with(|| FleetDevice {
                    name: name.to_string(),
                    site: label(s, "site").to_string(),
                    health: Health::Unknown,
                    labels: s.labels.clone(),
                    root: false,
                    uptime: None,
                });
        }
        for s in &a.up_now {
            if let Some(d) = devices.get_mut(label(s, "device")) {
                d.labels = s.labels.clone();
                if !label(s, "site").is_empty() {
                    d.site = label(s, "site").to_string();
                }
                d.health = match (d.health, s.value == 1.0) {
                    (_, true) | (Health::Up, _) => Health::Up,
                    _ => Health::Down,
                };
            }
        }
        let root_info: BTreeSet<&str> = a.roots.iter().map(|s| label(s, "device")).collect();
        for d in devices.values_mut() {
            d.root = root_info.contains(d.name.as_str())
                || cfg.is_root(|k| d.labels.get(k).map(String::as_str));
        }
        for s in &a.uptime {
            if let Some(d) = devices.get_mut(label(s, "device")) {
                if s.value.is_finite() {
                    d.uptime = Some(s.value);
                }
            }
        }

        // Links, undirected, each pair once.
        let mut links = BTreeSet::new();
        for s in a.lldp.iter().chain(&a.manual) {
            let (x, y) = (label(s, "device"), label(s, "neighbor_device"));
            if x.is_empty() || y.is_empty() {
                continue;
            }
            let pair = if x <= y { (x, y) } else { (y, x) };
            links.insert((pair.0.to_string(), pair.1.to_string()));
        }

        // Uplinks keyed by (device, ifName); timestamps joined on the same key.
        let key = |s: &Sample| {
            (
                label(s, "device").to_string(),
                label(s, "ifName").to_string(),
            )
        };
        let mut uplinks: BTreeMap<(String, String), Uplink> = BTreeMap::new();
        for s in &a.isp_oper {
            let k = key(s);
            if k.0.is_empty() {
                continue;
            }
            let site = match label(s, "site") {
                "" => devices
                    .get(&k.0)
                    .map(|d| d.site.clone())
                    .unwrap_or_default(),
                s => s.to_string(),
            };
            uplinks.insert(
                k.clone(),
                Uplink {
                    device: k.0,
                    if_name: k.1,
                    provider: label(s, "isp_provider").to_string(),
                    site,
                    oper: s.value,
                    admin: None,
                    changed_at: None,
                    last_seen: None,
                },
            );
        }
        for s in &a.isp_admin {
            if let Some(u) = uplinks.get_mut(&key(s)) {
                u.admin = Some(s.value);
            }
        }
        for s in &a.isp_changed {
            if let Some(u) = uplinks.get_mut(&key(s)) {
                u.changed_at = ts(s.value);
            }
        }
        for s in &a.isp_seen {
            if let Some(u) = uplinks.get_mut(&key(s)) {
                let t = ts(s.value);
                u.last_seen = u.last_seen.max(t);
            }
        }
        // A device known only from its uplinks still has a place (health unknown).
        for u in uplinks.values() {
            devices
                .entry(u.device.clone())
                .or_insert_with(|| FleetDevice {
                    name: u.device.clone(),
                    site: u.site.clone(),
                    health: Health::Unknown,
                    labels: Labels::new(),
                    root: false,
                    uptime: None,
                });
        }
        Fleet {
            devices: devices.into_values().collect(),
            links: links.into_iter().collect(),
            uplinks: uplinks.into_values().collect(),
        }
    }

    /// The analysis' input: devices in [`Fleet::devices`] order.
    pub fn input(&self) -> Input {
        let mut count: BTreeMap<&str, u32> = BTreeMap::new();
        for u in &self.uplinks {
            *count.entry(u.device.as_str()).or_default() += 1;
        }
        Input {
            devices: self
                .devices
                .iter()
                .map(|d| Device {
                    name: d.name.clone(),
                    site: d.site.clone(),
                    health: d.health,
                    isp_uplinks: count.get(d.name.as_str()).copied().unwrap_or(0),
                    root: d.root,
                })
                .collect(),
            links: self
                .links
                .iter()
                .map(|(a, b)| Link {
                    a: a.clone(),
                    b: b.clone(),
                })
                .collect(),
        }
    }

    pub fn device(&self, name: &str) -> Option<&FleetDevice> {
        self.devices
            .binary_search_by(|d| d.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.devices[i])
    }

    pub fn uplinks_of<'a>(&'a self, device: &'a str) -> impl Iterator<Item = &'a Uplink> + 'a {
        self.uplinks.iter().filter(move |u| u.device == device)
    }
}
