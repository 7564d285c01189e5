//! `GET /health`, `/v1/health`, `/v1/version`, `/v1/status` and `/metrics`: the public,
//! unauthenticated status routes ([`routes`]), in the shapes of REFERENCE-API §4.1
//! ([`bodies`]).

pub mod bodies;
pub mod routes;
