//! Network topology from LLDP and CDP: the neighbour model, the graph of known devices,
//! impact analysis, the JSON API and the `/topology` page.
//!
//! Layout:
//! - [`neighbor`]: one device's neighbours (LLDP preferred per port, CDP fallback), LAG members.
//! - [`discover`]: the SNMP walks behind `neighbor` (never fails a discovery).
//! - [`config`]: the optional `topology:` config section (roots, manual links).
//! - [`graph`]: matching neighbours to devices; confirmed / one-sided / manual links; LAG
//!   roll-up; orphans and ambiguous matches.
//! - [`impact`]: devices that lose every path to the roots when a device or interface fails.
//! - [`layout`]: server-side graph layout (layout-rs) rendered as SVG for the page.
//! - [`metrics`]: `wardflux_lldp_neighbor_info` series.
//! - [`reach`]: this exporter's view through `wardflux_reach::analyse` (up, down in its own
//!   right, in the shadow of a down device, isolated sites), prepared for metrics, API, page.
//! - [`http`]: `/api/v1/topology`, `/api/v1/devices/{name}/neighbors`,
//!   `/api/v1/topology/impact`, `/topology`.
//!
//! Invariants: everything but `discover` and `http` is pure (no IO, no clock); building the
//! graph reads an inventory snapshot and never does SNMP.

pub mod config;
pub mod discover;
pub mod graph;
pub mod http;
pub mod impact;
pub mod layout;
pub mod metrics;
pub mod neighbor;
pub mod reach;

pub use neighbor::{Neighbor, Neighborhood, Protocol};
