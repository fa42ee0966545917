//! Table-driven tests of the outage group's pure step: query answers (as a fake datasource
//! would give them) -> fleet -> analysis -> candidates, messages, evidence, recovery notes
//! and the shadow map.

use super::config::OutageConfig;
use super::fleet::{Answers, Fleet, Queries};
use super::step::*;
use crate::datasource::Sample;
use crate::labels::Labels;
use chrono::{DateTime, TimeZone, Utc};
use std::path::Path;
use wardflux_reach::{analyse, State};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 14, 10, 0).unwrap()
}

/// 14:MM today, as seconds since the epoch (the value of `tlast_*_over_time`).
fn hm(min: u32) -> f64 {
    Utc.with_ymd_and_hms(2026, 3, 2, 14, min, 0)
        .unwrap()
        .timestamp() as f64
}

fn sample(pairs: &[(&str, &str)], value: f64) -> Sample {
    Sample {
        labels: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        value,
    }
}

/// A bank: HQ core plus branch sites, each a router with a Magti and a Silknet uplink and a
/// switch behind it; all up unless a case changes it.
struct Bank {
    a: Answers,
}

/// An uplink's last known state: (oper, changed at 14:MM, last seen at 14:MM).
type Last = (f64, u32, u32);
const UP: Last = (1.0, 0, 9);

impl Bank {
    fn new(sites: &[&str]) -> Bank {
        let mut b = Bank {
            a: Answers::default(),
        };
        b.device("HQ-CORE", "hq", true, "");
        for s in sites {
            b.branch(s, UP, UP);
        }
        b
    }

    fn device(&mut self, name: &str, site: &str, up: bool, instance: &str) {
        let inst = if instance.is_empty() {
            "exp-1:9116"
        } else {
            instance
        };
        let l = [("device", name), ("site", site), ("instance", inst)];
        self.a.up_known.push(sample(&l, if up { 1.0 } else { 0.0 }));
        self.a.up_now.push(sample(&l, if up { 1.0 } else { 0.0 }));
    }

    fn link(&mut self, a: &str, b: &str) {
        self.a.lldp.push(sample(
            &[("device", a), ("neighbor_device", b), ("if_name", "Gi0/1")],
            1.0,
        ));
    }

    fn uplink(&mut self, dev: &str, site: &str, ifname: &str, provider: &str, last: Last) {
        let l = [
            ("device", dev),
            ("site", site),
            ("ifName", ifname),
            ("isp_provider", provider),
            ("interface_type", "isp"),
        ];
        self.a.isp_oper.push(sample(&l, last.0));
        self.a.isp_admin.push(sample(&l, 1.0));
        self.a.isp_changed.push(sample(&l, hm(last.1)));
        self.a.isp_seen.push(sample(&l, hm(last.2)));
    }

    fn branch(&mut self, site: &str, magti: Last, silknet: Last) {
        let (r, s) = (rtr(site), sw(site));
        self.device(&r, site, true, "");
        self.device(&s, site, true, "");
        self.link(&s, &r);
        self.uplink(&r, site, "Gi0/0/0", "Magti", magti);
        self.uplink(&r, site, "Gi0/0/1", "Silknet", silknet);
    }

    /// Sets the health of a device in every answer.
    fn health(&mut self, name: &str, up: bool) -> &mut Self {
        for s in self.a.up_now.iter_mut() {
            if s.labels["device"] == name {
                s.value = if up { 1.0 } else { 0.0 };
            }
        }
        self
    }

    /// Sets one uplink's last known state.
    fn last(&mut self, dev: &str, provider: &str, last: Last) -> &mut Self {
        let hit = |s: &Sample| s.labels["device"] == dev && s.labels["isp_provider"] == provider;
        for s in self.a.isp_oper.iter_mut().filter(|s| hit(s)) {
            s.value = last.0;
        }
        for s in self.a.isp_changed.iter_mut().filter(|s| hit(s)) {
            s.value = hm(last.1);
        }
        for s in self.a.isp_seen.iter_mut().filter(|s| hit(s)) {
            s.value = hm(last.2);
        }
        self
    }

    fn uptime(&mut self, dev: &str, secs: f64) -> &mut Self {
        self.a.uptime.push(sample(&[("device", dev)], secs));
        self
    }

    fn judge(&self, cfg: &OutageConfig) -> (Fleet, Verdict) {
        let fleet = Fleet::from_answers(&self.a, cfg);
        let analysis = analyse(&fleet.input());
        let v = verdict(&fleet, &analysis, cfg, now());
        (fleet, v)
    }
}

fn rtr(site: &str) -> String {
    format!("{}-RTR", site.to_uppercase())
}

fn sw(site: &str) -> String {
    format!("{}-SW", site.to_uppercase())
}

fn cfg() -> OutageConfig {
    OutageConfig::defaults(Path::new("outages.yml"))
}

/// (alert name, identifying label value, summary) of every candidate.
fn summary(v: &Verdict) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (name, cands) in candidates(v, &cfg()) {
        for c in cands.values() {
            let key = c
                .labels
                .get("site")
                .or(c.labels.get("isp_provider"))
                .cloned()
                .unwrap_or_default();
            assert_eq!(c.labels["severity"], "critical");
            assert!(!c.labels.contains_key("device"), "no device label: {c:?}");
            out.push((name.to_string(), key, c.annotations["summary"].clone()));
        }
    }
    out
}

#[test]
fn table_of_outages() {
    let sites = ["batumi", "kutaisi", "tbilisi", "zugdidi", "gori", "telavi"];
    type Case = (
        &'static str,
        fn(&mut Bank),
        Vec<(&'static str, &'static str, &'static str)>,
    );
    let cases: Vec<Case> = vec![
        ("everything up: nothing", |_| {}, vec![]),
        (
            "a router that lost both uplinks but answers: no outage row (IspTotalOutage's case)",
            |b| {
                b.last("BATUMI-RTR", "Magti", (2.0, 1, 9))
                    .last("BATUMI-RTR", "Silknet", (2.0, 3, 9));
            },
            vec![],
        ),
        (
            "branch isolated: one row naming the site, router, uplinks and the switch",
            |b| {
                b.health("BATUMI-RTR", false)
                    .health("BATUMI-SW", false)
                    .last("BATUMI-RTR", "Magti", (2.0, 1, 3))
                    .last("BATUMI-RTR", "Silknet", (1.0, 0, 3));
            },
            vec![(
                SITE_ISOLATED,
                "batumi",
                "Site batumi is isolated: router BATUMI-RTR does not answer; Magti down since \
                 14:01, Silknet last seen up at 14:03; 1 device cut off: BATUMI-SW",
            )],
        ),
        (
            "a switch down behind an answering router: not a site outage",
            |b| {
                b.health("BATUMI-SW", false);
            },
            vec![],
        ),
        (
            "Magti down at three sites within 10 minutes: one provider row",
            |b| {
                b.last("BATUMI-RTR", "Magti", (2.0, 1, 9))
                    .last("KUTAISI-RTR", "Magti", (2.0, 4, 9))
                    .last("TBILISI-RTR", "Magti", (2.0, 8, 9));
            },
            vec![(
                PROVIDER_OUTAGE,
                "Magti",
                "Provider Magti is down at 3 of 6 sites using it (batumi, kutaisi, tbilisi), \
                 uplinks lost between 14:01 and 14:08",
            )],
        ),
        (
            "Magti down at three sites, onsets spread over 20 minutes: two within 10m of 6 is not enough",
            |b| {
                b.last("BATUMI-RTR", "Magti", (2.0, 1, 9))
                    .last("KUTAISI-RTR", "Magti", (2.0, 2, 9));
                b.last("TBILISI-RTR", "Magti", (2.0, 0, 9));
                // Tbilisi's onset 20 minutes earlier than the others.
                for s in b.a.isp_changed.iter_mut() {
                    if s.labels["device"] == "TBILISI-RTR" && s.labels["isp_provider"] == "Magti" {
                        s.value -= 1200.0;
                    }
                }
            },
            vec![],
        ),
        (
            "everything down: one poller row, no site or provider rows",
            |b| {
                let names: Vec<String> =
                    b.a.up_now.iter().map(|s| s.labels["device"].clone()).collect();
                for n in names {
                    b.health(&n, false);
                }
            },
            vec![(
                POLLER_NETWORK_LOST,
                "",
                "The poller lost its network: 13 of 13 devices stopped answering (100%); \
                 device rows are covered by this one",
            )],
        ),
    ];
    for (name, change, want) in cases {
        let mut b = Bank::new(&sites);
        change(&mut b);
        let (_, v) = b.judge(&cfg());
        let want: Vec<(String, String, String)> = want
            .into_iter()
            .map(|(a, k, m)| (a.to_string(), k.to_string(), m.to_string()))
            .collect();
        assert_eq!(summary(&v), want, "{name}");
    }
}

#[test]
fn provider_thresholds_by_share_of_sites_using_it() {
    // (sites in the bank, sites with Magti down at 14:05, provider row?)
    for (n_sites, n_down, want) in [
        (3, 2, true),
        (4, 2, true),
        (5, 2, false),
        (2, 1, false),
        (8, 3, true),
    ] {
        let names: Vec<String> = (0..n_sites).map(|i| format!("s{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut b = Bank::new(&refs);
        for s in refs.iter().take(n_down) {
            b.last(&rtr(s), "Magti", (2.0, 5, 9));
        }
        let (_, v) = b.judge(&cfg());
        assert_eq!(v.providers.len() == 1, want, "{n_down} of {n_sites}: {v:?}");
    }
}

#[test]
fn poller_threshold_needs_a_share_and_a_count() {
    // (branches, devices down, poller row?) — a bank of 1 + 2n devices.
    for (branches, down, want) in [(2, 4, false), (2, 5, true), (6, 10, false), (6, 11, true)] {
        let names: Vec<String> = (0..branches).map(|i| format!("s{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut b = Bank::new(&refs);
        let all: Vec<String> =
            b.a.up_now
                .iter()
                .map(|s| s.labels["device"].clone())
                .collect();
        for d in all.iter().take(down) {
            b.health(d, false);
        }
        let (_, v) = b.judge(&cfg());
        assert_eq!(v.poller.is_some(), want, "{down} of {}", all.len());
    }
}

#[test]
fn recovery_note_says_whether_the_router_restarted_and_which_uplink_came_back_first() {
    let started = Utc.with_ymd_and_hms(2026, 3, 2, 13, 58, 0).unwrap();
    // (uptime seconds, Magti, Silknet, note); `now` is 14:10.
    let cases: [(f64, Last, Last, &str); 4] = [
        (
            3.0 * 86_400.0 + 4.0 * 3600.0,
            (2.0, 0, 10),
            (1.0, 0, 10),
            "router BATUMI-RTR did not restart (uptime 3d 4h): the WAN was lost; \
             Silknet came back first at 14:10 (Magti still down)",
        ),
        (
            300.0,
            (1.0, 6, 10),
            (1.0, 0, 10),
            // Magti was seen coming up at 14:06 (after a change seen during the outage).
            "router BATUMI-RTR restarted during the outage (uptime 5m, outage 12m): power or \
             hardware; Magti came back first at 14:06",
        ),
        (
            300.0,
            (1.0, 0, 10),
            (1.0, 0, 10),
            "router BATUMI-RTR restarted during the outage (uptime 5m, outage 12m): power or \
             hardware; Magti and Silknet came back together at 14:10",
        ),
        (
            86_400.0,
            (2.0, 0, 10),
            (2.0, 0, 10),
            "router BATUMI-RTR did not restart (uptime 1d): the WAN was lost; Magti, Silknet \
             still down",
        ),
    ];
    for (uptime, magti, silknet, want) in cases {
        let mut b = Bank::new(&["batumi"]);
        b.last("BATUMI-RTR", "Magti", magti)
            .last("BATUMI-RTR", "Silknet", silknet)
            .uptime("BATUMI-RTR", uptime);
        // A change at 14:00 means one before the outage began.
        for s in b.a.isp_changed.iter_mut() {
            if s.value == hm(0) {
                s.value = started.timestamp() as f64 - 60.0;
            }
        }
        let fleet = Fleet::from_answers(&b.a, &cfg());
        assert_eq!(
            recovery_note(&fleet, "batumi", started, now(), chrono_tz::UTC),
            want
        );
    }
}

#[test]
fn evidence_for_gone_rows_comes_from_the_routers() {
    let mut b = Bank::new(&["batumi", "kutaisi"]);
    b.health("BATUMI-RTR", false);
    let fleet = Fleet::from_answers(&b.a, &cfg());
    let l = |k: &str, v: &str| -> Labels { [(k.to_string(), v.to_string())].into() };
    assert_eq!(
        seen(&fleet, SITE_ISOLATED, &l("site", "batumi")),
        Seen::Unreachable
    );
    assert_eq!(
        seen(&fleet, SITE_ISOLATED, &l("site", "kutaisi")),
        Seen::Recovered
    );
    assert_eq!(
        seen(&fleet, SITE_ISOLATED, &l("site", "nowhere")),
        Seen::NoData
    );
    assert_eq!(
        seen(&fleet, PROVIDER_OUTAGE, &l("isp_provider", "Magti")),
        Seen::Recovered
    );
    assert_eq!(
        seen(&fleet, POLLER_NETWORK_LOST, &Labels::new()),
        Seen::Recovered
    );
    let empty = Fleet::from_answers(&Answers::default(), &cfg());
    assert_eq!(
        seen(&empty, POLLER_NETWORK_LOST, &Labels::new()),
        Seen::NoData
    );
}

fn ep(name: &str, key: &str) -> crate::alert::Episode {
    crate::alert::Episode {
        alert_name: name.into(),
        group_name: super::OUTAGE_GROUP.into(),
        fingerprint: format!("{name}/{key}"),
        started_at: now(),
    }
}

#[test]
fn shadow_puts_a_sites_devices_under_its_row_and_isp_alerts_under_the_provider() {
    let mut b = Bank::new(&["batumi", "kutaisi", "tbilisi", "gori"]);
    b.health("BATUMI-RTR", false).health("BATUMI-SW", false);
    for s in ["KUTAISI", "TBILISI", "GORI"] {
        b.last(&format!("{s}-RTR"), "Magti", (2.0, 2, 9));
    }
    let (fleet, v) = b.judge(&cfg());
    assert_eq!(v.isolated.len(), 1);
    assert_eq!(v.providers.len(), 1);
    let firing = [
        (
            (SITE_ISOLATED, "batumi".to_string()),
            ep(SITE_ISOLATED, "batumi"),
        ),
        (
            (PROVIDER_OUTAGE, "Magti".to_string()),
            ep(PROVIDER_OUTAGE, "Magti"),
        ),
    ]
    .into();
    let s = Shadow::build(&fleet, &v, &Default::default(), &firing).context();
    let labels = |pairs: &[(&str, &str)]| -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let cause = |pairs: &[(&str, &str)]| {
        s.root_of(&labels(pairs), "wardflux-interface-alerts")
            .map(|e| e.fingerprint.clone())
    };
    let site = Some("SiteIsolated/batumi".to_string());
    let magti = Some("ProviderOutage/Magti".to_string());
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a Option<String>);
    let cases: [Case; 7] = [
        (
            &[
                ("alertname", "DeviceSnmpUnreachable"),
                ("device", "BATUMI-SW"),
            ],
            &site,
        ),
        (
            &[
                ("alertname", "DeviceSnmpUnreachable"),
                ("device", "BATUMI-RTR"),
            ],
            &site,
        ),
        (
            &[
                ("alertname", "IspUplinkDownBackupWorking"),
                ("device", "GORI-RTR"),
                ("isp_provider", "Magti"),
            ],
            &magti,
        ),
        (
            &[("alertname", "IspTotalOutage"), ("device", "GORI-RTR")],
            &magti,
        ),
        // Another provider's uplink is not this outage, nor are the router's other alerts.
        (
            &[
                ("alertname", "IspUplinkDownBackupWorking"),
                ("device", "GORI-RTR"),
                ("isp_provider", "Silknet"),
            ],
            &None,
        ),
        (
            &[("alertname", "CriticalTrunkDown"), ("device", "GORI-RTR")],
            &None,
        ),
        (
            &[
                ("alertname", "DeviceSnmpUnreachable"),
                ("device", "HQ-CORE"),
            ],
            &None,
        ),
    ];
    for (l, want) in cases {
        assert_eq!(&cause(l), want, "{l:?}");
    }
    // The poller's row covers everything, with a device label or not.
    let all = [(
        (POLLER_NETWORK_LOST, String::new()),
        ep(POLLER_NETWORK_LOST, ""),
    )]
    .into();
    let s = Shadow::build(&fleet, &v, &Default::default(), &all).context();
    for l in [
        labels(&[("device", "HQ-CORE")]),
        labels(&[("alertname", "X")]),
    ] {
        assert_eq!(
            s.root_of(&l, "g").map(|e| e.alert_name.as_str()),
            Some(POLLER_NETWORK_LOST)
        );
    }
}

#[test]
fn two_shards_give_the_same_answer_as_one() {
    let mut one = Bank::new(&["batumi"]);
    one.health("BATUMI-RTR", false).health("BATUMI-SW", false);
    // The same devices, the switch polled by a second exporter instance.
    let mut two = Bank::new(&["batumi"]);
    for s in two.a.up_now.iter_mut().chain(two.a.up_known.iter_mut()) {
        if s.labels["device"] == "BATUMI-SW" {
            s.labels.insert("instance".into(), "exp-2:9116".into());
        }
    }
    two.health("BATUMI-RTR", false).health("BATUMI-SW", false);
    let (_, v1) = one.judge(&cfg());
    let (_, v2) = two.judge(&cfg());
    assert_eq!(v1.isolated.len(), 1);
    assert_eq!(v1, v2);
}

#[test]
fn a_topology_that_contradicts_itself_never_hides_a_down_device() {
    let mut b = Bank::new(&["batumi"]);
    b.health("BATUMI-SW", false);
    // A loop, a self link and a link to a device nobody polls.
    b.link("BATUMI-SW", "BATUMI-SW");
    b.link("BATUMI-SW", "PHONE-7");
    b.link("BATUMI-RTR", "PHONE-7");
    b.link("BATUMI-RTR", "AP-1");
    b.link("HQ-CORE", "BATUMI-SW");
    let fleet = Fleet::from_answers(&b.a, &cfg());
    let a = analyse(&fleet.input());
    let report = Report::new(&fleet, &a, now());
    let sw = report
        .devices
        .iter()
        .find(|d| d.device == "BATUMI-SW")
        .unwrap();
    assert_eq!(sw.state, State::Down, "{report:?}");
    assert!(
        report.problems.contains(
            &"links to 2 device(s) no exporter polls are ignored: AP-1, PHONE-7".to_string()
        ),
        "one line for every unpolled neighbour: {:?}",
        report.problems
    );
    assert!(report.problems.iter().any(|p| p.contains("to itself")));
}

#[test]
fn reachability_is_recorded_one_series_per_device() {
    let mut b = Bank::new(&["batumi"]);
    b.health("BATUMI-RTR", false).health("BATUMI-SW", false);
    let fleet = Fleet::from_answers(&b.a, &cfg());
    let report = Report::new(&fleet, &analyse(&fleet.input()), now());
    let rec = super::recorded(&report, now());
    let mut text = String::new();
    rec.write_exposition(0, &mut text, usize::MAX);
    let ms = now().timestamp_millis();
    assert_eq!(
        text,
        format!(
            "wardflux:device_reachability{{device=\"BATUMI-RTR\",site=\"batumi\",state=\"down\"}} 1 {ms}\n\
             wardflux:device_reachability{{device=\"BATUMI-SW\",site=\"batumi\",state=\"shadow\",root=\"BATUMI-RTR\"}} 1 {ms}\n\
             wardflux:device_reachability{{device=\"HQ-CORE\",site=\"hq\",state=\"up\"}} 1 {ms}\n"
        )
    );
}

#[tokio::test]
async fn the_queries_go_through_the_querier() {
    use crate::datasource::fake::FakeDatasource;
    let c = cfg();
    let q = Queries::new(&c);
    let ds = FakeDatasource::default();
    let mut b = Bank::new(&["batumi"]);
    b.health("BATUMI-RTR", false).health("BATUMI-SW", false);
    ds.answer(&q.up_now, Ok(b.a.up_now.clone()));
    ds.answer(&q.up_known, Ok(b.a.up_known.clone()));
    ds.answer(&q.lldp, Ok(b.a.lldp.clone()));
    ds.answer(&q.isp_oper, Ok(b.a.isp_oper.clone()));
    let got = q.ask(&ds, now(), c.interval).await.unwrap();
    let fleet = Fleet::from_answers(&got, &c);
    let v = verdict(&fleet, &analyse(&fleet.input()), &c, now());
    assert_eq!(v.isolated.len(), 1);
    assert_eq!(v.isolated[0].cut_off, ["BATUMI-SW"]);
    assert!(q
        .isp_changed
        .starts_with("tlast_change_over_time(ifOperStatus{interface_type=\"isp\"}[86400s])"));
}

#[test]
fn manual_links_and_exported_roots_count_like_lldp() {
    // Batumi without LLDP: its switch is known only from `topology.links`.
    let mut b = Bank::new(&["batumi"]);
    b.a.lldp.clear();
    b.a.manual.push(sample(
        &[
            ("device", "BATUMI-SW"),
            ("neighbor_device", "BATUMI-RTR"),
            ("source", "manual"),
        ],
        1.0,
    ));
    b.health("BATUMI-RTR", false).health("BATUMI-SW", false);
    let (_, v) = b.judge(&cfg());
    assert_eq!(v.isolated.len(), 1);
    assert_eq!(v.isolated[0].cut_off, ["BATUMI-SW"]);
    // Without any link the switch's position is unknown: down in its own right, not cut off.
    b.a.manual.clear();
    let (_, v) = b.judge(&cfg());
    assert!(v.isolated[0].cut_off.is_empty(), "{v:?}");
    // Configured roots (the exporter's topology.roots): HQ-CORE alone is where paths enter,
    // linked to the router; the router down puts the switch in its shadow.
    let mut b = Bank::new(&["batumi"]);
    b.link("HQ-CORE", "BATUMI-RTR");
    b.a.roots.push(sample(&[("device", "HQ-CORE")], 1.0));
    b.health("BATUMI-RTR", false).health("BATUMI-SW", false);
    let fleet = Fleet::from_answers(&b.a, &cfg());
    assert!(fleet.device("HQ-CORE").unwrap().root);
    assert!(!fleet.device("BATUMI-RTR").unwrap().root);
    let report = Report::new(&fleet, &analyse(&fleet.input()), now());
    let sw = report
        .devices
        .iter()
        .find(|d| d.device == "BATUMI-SW")
        .unwrap();
    assert_eq!(
        (sw.state, sw.roots.clone()),
        (State::Shadow, vec!["BATUMI-RTR".to_string()])
    );
}
