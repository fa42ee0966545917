//! wardflux-simagent: a fast simulated SNMP v2c agent for benchmarks and tests.
//!
//! Layout:
//! - [`ber`]: hand-written BER decoding of requests and encoding of responses.
//! - [`data`]: values, sorted OID templates shared between devices, devices, hostile modes.
//! - [`snmprec`]: `.snmprec` recordings (snmpsim's format) read into templates.
//! - [`synth`]: synthetic devices (N x M interfaces) with counters that grow with time.
//! - [`agent`]: the pure request handler (no IO, no clock): datagram in, response out.
//! - [`server`]: the UDP edge: several receive loops on one socket with a large receive
//!   buffer, response delay, exact traffic counters; `spawn` for tests and the bench.
//! - [`snmpsim`]: the reference snmpsimd it is compared against (test and bench).
//!
//! One UDP port serves every device; the community names the device (`dev0001`, or a
//! recording's file name as snmpsim does). One socket scales to thousands of devices where a
//! port per device would need thousands of sockets and file descriptors.

pub mod agent;
pub mod ber;
pub mod data;
pub mod server;
pub mod snmprec;
pub mod snmpsim;
pub mod synth;

pub use agent::{Agent, Limits};
pub use data::{Device, Hostile};
pub use server::{spawn, spawn_with, Running, ServeOptions, Snapshot, Stats};
