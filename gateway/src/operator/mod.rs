//! The operator's status page (`/v1/operator/status`): this node at a glance for the person
//! who runs it (processes, backends, cluster, TLS expiry, the last hour in plots), behind an
//! operator key made by `ctl` ([`keys`]), never a tenant's credential. The routes are outside
//! the tenant gate and check their own credential ([`session`]).
//!
//! - `GET  /v1/operator/status`   the page; without a credential the sign-in form, with 401
//! - `POST /v1/operator/sign-in`  a form with `key`: a session cookie and back to the page
//! - `POST /v1/operator/sign-out` the cookie cleared

mod context;
pub mod keys;
pub mod page;
pub mod routes;
pub mod session;
pub mod snapshot;

pub use context::OperatorContext;
