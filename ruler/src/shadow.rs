//! The shadow context: which devices are covered by an open outage row (their site isolated,
//! their provider out, the poller's own network lost), shared by every group's evaluation.
//! Whoever computes it (the outage group) replaces it with [`ShadowHandle::set`]; alerts of
//! other groups whose `device` it covers (or, for a provider outage, whose router and
//! provider it covers) get that row as their `caused_by` root (at fire time, or by a `Link`
//! later) and are not sent to Alertmanager while the root is open.
//! Empty by default: nothing is caused by anything.

use crate::alert::Episode;
use crate::labels::Labels;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Device -> the open root row it is behind, and optionally one root for everything (the
/// poller's own network lost).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shadow {
    by_device: BTreeMap<String, Episode>,
    everything: Option<Episode>,
    /// Router -> (provider, root): covers only the router's alerts about that provider's
    /// uplinks (see [`Shadow::with_uplinks`]), not its other alerts.
    by_uplink: BTreeMap<String, (String, Episode)>,
    uplink_alerts: Vec<String>,
}

impl Shadow {
    /// A context from device names to the open root row each is behind (a device that is
    /// itself the root of an outage maps to that outage's row too).
    pub fn new(by_device: BTreeMap<String, Episode>) -> Self {
        Shadow {
            by_device,
            everything: None,
            by_uplink: BTreeMap::new(),
            uplink_alerts: Vec::new(),
        }
    }

    /// Adds roots for routers' uplink alerts (a provider-wide outage): an alert of a router
    /// in `by_uplink` is covered when its name is one of `alerts` and its `isp_provider` is
    /// the root's provider or absent (an alert about all of the router's uplinks, such as
    /// `IspTotalOutage`). A device entry comes first.
    pub fn with_uplinks(
        mut self,
        by_uplink: BTreeMap<String, (String, Episode)>,
        alerts: &[&str],
    ) -> Self {
        self.by_uplink = by_uplink;
        self.uplink_alerts = alerts.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Makes `root` the root of every alert no device entry covers, with or without a
    /// `device` label (e.g. `PollerNetworkLost`).
    pub fn covering_all(mut self, root: Episode) -> Self {
        self.everything = Some(root);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.by_device.is_empty() && self.everything.is_none() && self.by_uplink.is_empty()
    }

    /// The root row of the device `labels` name (or the root of everything), unless that
    /// row belongs to `group` (an outage group links its own rows itself).
    pub fn root_of(&self, labels: &Labels, group: &str) -> Option<&Episode> {
        let device = labels.get(crate::evidence::DEVICE);
        device
            .and_then(|d| self.by_device.get(d))
            .or_else(|| {
                let (provider, root) = self.by_uplink.get(device?)?;
                let name = labels.get(crate::labels::ALERT_NAME)?;
                let same = labels.get("isp_provider").is_none_or(|p| p == provider);
                (same && self.uplink_alerts.contains(name)).then_some(root)
            })
            .or(self.everything.as_ref())
            .filter(|e| e.group_name != group)
    }

    /// True while `root` is a root of this context (its outage is still open).
    pub fn is_open(&self, root: &Episode) -> bool {
        self.everything.as_ref() == Some(root)
            || self.by_device.values().any(|e| e == root)
            || self.by_uplink.values().any(|(_, e)| e == root)
    }
}

/// The engine-wide shared context: cheap to read once per group evaluation.
#[derive(Debug, Clone, Default)]
pub struct ShadowHandle(Arc<RwLock<Arc<Shadow>>>);

impl ShadowHandle {
    /// The context as it is now.
    pub fn get(&self) -> Arc<Shadow> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the context; groups evaluated from now on see it.
    pub fn set(&self, shadow: Shadow) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(shadow);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn ep(name: &str, group: &str) -> Episode {
        Episode {
            alert_name: name.into(),
            group_name: group.into(),
            fingerprint: format!("{:016x}", name.len()),
            started_at: Utc::now(),
        }
    }

    #[test]
    fn devices_map_to_roots_except_in_the_roots_own_group() {
        let site = ep("SiteIsolated", "outages");
        let h = ShadowHandle::default();
        assert!(h.get().is_empty());
        h.set(Shadow::new([("SW-1".to_string(), site.clone())].into()));
        let s = h.get();
        let labels = |d: &str| -> Labels { [("device".to_string(), d.to_string())].into() };
        assert_eq!(s.root_of(&labels("SW-1"), "interfaces"), Some(&site));
        assert_eq!(s.root_of(&labels("SW-1"), "outages"), None);
        assert_eq!(s.root_of(&labels("SW-2"), "interfaces"), None);
        assert_eq!(s.root_of(&Labels::new(), "interfaces"), None);
        assert!(s.is_open(&site));
        assert!(!s.is_open(&ep("ProviderOutage", "outages")));
        let poller = ep("PollerNetworkLost", "outages");
        let all =
            Shadow::new([("SW-1".to_string(), site.clone())].into()).covering_all(poller.clone());
        assert_eq!(all.root_of(&labels("SW-1"), "interfaces"), Some(&site));
        assert_eq!(all.root_of(&labels("SW-9"), "interfaces"), Some(&poller));
        assert_eq!(all.root_of(&Labels::new(), "interfaces"), Some(&poller));
        assert_eq!(all.root_of(&Labels::new(), "outages"), None);
        assert!(all.is_open(&poller));
        let magti = ep("ProviderOutage", "outages");
        let up = Shadow::default().with_uplinks(
            [("R-1".to_string(), ("magti".to_string(), magti.clone()))].into(),
            &crate::outage::step::PROVIDER_CHILDREN,
        );
        let alert = |name: &str, provider: Option<&str>| -> Labels {
            let mut l: Labels = [
                ("alertname".to_string(), name.to_string()),
                ("device".to_string(), "R-1".to_string()),
            ]
            .into();
            if let Some(p) = provider {
                l.insert("isp_provider".into(), p.into());
            }
            l
        };
        let root = |l: Labels| up.root_of(&l, "interfaces").cloned();
        assert_eq!(
            root(alert("IspUplinkDownBackupWorking", Some("magti"))),
            Some(magti.clone())
        );
        assert_eq!(root(alert("IspTotalOutage", None)), Some(magti.clone()));
        assert_eq!(
            root(alert("IspUplinkNotPassingTraffic", Some("magti"))),
            Some(magti.clone()),
            "a Magti uplink up but passing nothing is the provider's outage too"
        );
        assert_eq!(
            root(alert("IspUplinkDownBackupWorking", Some("silknet"))),
            None
        );
        assert_eq!(
            root(alert("CriticalTrunkDown", None)),
            None,
            "not the router's other alerts"
        );
        assert!(up.is_open(&magti));
    }
}
