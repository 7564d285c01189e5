//! The SQL API (`/v1/rqlite/*`, REFERENCE-API §4.4): each namespace's own database, reached
//! only through its credential. On the embedded engine a namespace has its own sandboxed file
//! ([`tenants`]); on RQLite its own prefixed tables in the shared database, every statement
//! rewritten and checked ([`rewrite`], [`shared_store`]). [`json`] maps JSON arguments and rows,
//! [`orm`] builds the `find`/`select` statements, and [`routes`] serves the endpoints.

pub mod checker;
pub mod dialect;
pub mod effect;
pub mod json;
pub mod orm;
pub mod quota;
pub mod refused;
pub mod rewrite;
pub mod routes;
mod service;
pub mod shared_store;
pub mod tenants;

pub use service::SqlService;
