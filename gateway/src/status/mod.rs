//! `GET /health`, `/v1/health`, `/v1/version`, `/v1/status`, `/metrics` and
//! `/v1/openapi.json`: the public, unauthenticated status routes ([`routes`]), in the shapes
//! of REFERENCE-API §4.1 ([`bodies`]), what they say of the cluster ([`cluster`]), and the
//! API's own description ([`openapi`]).

pub mod bodies;
pub mod cluster;
pub mod openapi;
pub mod routes;
