//! wardflux-lab: a bank network in network namespaces, built from one description, for the
//! demo, the integration tests and the benchmarks.
//!
//! Layout:
//! - `description`: the YAML description (sites, routers with ISP uplinks and providers,
//!   switches, HQ devices, cables, SNMP profiles, recordings) and its validation;
//! - `plan`: pure; the description and the lab's /24 become namespaces, links, addresses and
//!   routes; the address allocator's choice;
//! - `sys`: the edge to the host (`ip`, commands in namespaces, signals, sysctls);
//! - `agent`: snmpd, lldpd, snmpsimd and pings inside a device's namespace;
//! - `frr`: BGP from FRR (zebra + bgpd with AgentX in a router, the provider's bgpd at the
//!   host end of its uplink);
//! - `sla`: the lab's IP SLA probe agent (CISCO-RTTMON-MIB through snmpd's pass_persist);
//! - `lab`: the builder, the "no lab packet leaves the machine" check, real failures,
//!   exporter targets and teardown.
//!
//! ```no_run
//! # fn main() -> Result<(), wardflux_lab::LabError> {
//! let d = wardflux_lab::Description::load("labs/bank.yml".as_ref())?;
//! let mut lab = wardflux_lab::Lab::build(&d)?; // torn down on drop
//! lab.cut("BRANCH-RTR-01", "isp0")?;           // Magti's end of tbilisi's primary uplink
//! lab.restore("BRANCH-RTR-01", "isp0")?;
//! # Ok(()) }
//! ```

pub mod agent;
pub mod description;
pub mod frr;
pub mod lab;
pub mod plan;
pub mod sla;
pub mod sys;

pub use description::{Description, DescriptionError, Kind, Node, Probe, Snmp, UplinkBgp};
pub use lab::{route_get, ExporterAuth, Lab, RouteGet, Target, Targets};
pub use plan::{Plan, PlanError};

/// Why the lab could not be built or changed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(transparent)]
    Description(#[from] DescriptionError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the lab needs root (it makes network namespaces, links and routes)")]
    NotRoot,
    #[error("required tool `{tool}` not found: install {package}")]
    MissingTool { tool: String, package: String },
    #[error("no free 169.254.X.0/24 on this host for the lab")]
    NoFreePrefix,
    #[error("running {command}: {message}")]
    Command { command: String, message: String },
    #[error("{what}: {message}")]
    Io { what: String, message: String },
    #[error("agent of {node}: {message}")]
    Agent { node: String, message: String },
    #[error("a lab packet could leave the machine: {0}")]
    Check(String),
    #[error("{0}")]
    Unknown(String),
    #[error("lab state: {0}")]
    State(String),
}
