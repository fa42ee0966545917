//! `Secret`: a string that never prints. Communities and v3 passwords live in it; the type is
//! shared with the ruler through `wardflux-web`.

pub use wardflux_web::secret::Secret;
