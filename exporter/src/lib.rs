//! wardflux exporter: SNMP interface discovery, classification and counter polling.
//!
//! Layout, in the order data flows:
//! - [`config`]: YAML config, parsed raw then validated into targets and auths.
//! - [`secret`]: the redacting type for communities and passwords.
//! - [`snmp`]: the SNMP client trait, the real UDP client (snmp2) and table walking.
//! - [`mib`]: MIB tables decoded into plain types (system, IF-MIB, EtherLike, LLDP, CDP).
//! - [`classify`]: YAML rules naming each interface's role, ISP and criticality.
//! - [`inventory`]: the in-memory snapshot of every device, its interfaces and counters.
//! - [`health`]: device health (CPU, memory) discovery walk and poll GET.
//! - [`envmon`]: device environment (temperatures, fans, power supplies, sensors, optics)
//!   discovery walks and poll GET.
//! - [`isp_path`]: IP SLA probes and BGP peers tied to the ISP uplink each is about.
//! - [`poller`]: discovery and counter polling schedules that fill the inventory.
//! - [`status`]: fast status polls of critical interfaces between counter polls.
//! - [`notify`]: SNMP notifications (linkDown, linkUp, ...) received as poll triggers.
//! - [`metrics`]: renders the snapshot as Prometheus text; self-metrics.
//! - [`http`]: `/metrics`, `/probe`, service discovery, JSON API, reload.
//! - [`invstore`]: the optional inventory store (`device_interfaces` in PostgreSQL/SQLite) and
//!   interface settings edited through the API.
//! - [`targets_sql`]: devices read from a PostgreSQL inventory table, refreshed in the background.
//! - [`topology`]: LLDP/CDP neighbours, the network graph, impact analysis, `/topology`.
//! - [`widen`]: 32-bit counters extended to 64 bits; the wide traffic counters of every interface.

pub mod app;
pub mod classify;
pub mod config;
pub mod envmon;
pub mod health;
pub mod http;
pub mod inventory;
pub mod invstore;
pub mod isp_path;
pub mod metrics;
pub mod mib;
pub mod notify;
pub mod poller;
pub mod secret;
pub mod shard;
pub mod snmp;
pub mod status;
pub mod targets_sql;
pub mod topology;
pub mod widen;
