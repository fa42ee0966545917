//! `Secret`: a store URL that never shows its password (`Display` prints
//! `postgres://u:***@h/db`); the type is shared with the exporter through `wardflux-web`.

pub use wardflux_web::secret::UrlSecret as Secret;
