//! wardflux exporter library
