//! wardflux exporter library
pub mod classify;
