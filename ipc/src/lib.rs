//! The one internal transport of an Orama node: HTTP/1.1 over Unix sockets.
//!
//! Every process serves its internal API (at least `GET /health` and `GET /ready`) on
//! `<runtime_dir>/<process>.sock`, and every internal client talks to it through [`IpcClient`].
//! Keeping the transport in one small crate gives the whole node the same guarantees:
//! owner-only sockets, peers of another uid refused, a protocol-version header on every
//! exchange, bounded timeouts and graceful shutdown.
//!
//! This crate depends on no process crate (an invariant of `ARCHITECTURE.md`).

pub mod body;
pub mod client;
pub mod control;
mod error;
pub mod protocol;
pub mod pubsub;
pub mod server;
pub mod socket;

pub use body::{Body, error_response, json_response};
pub use client::IpcClient;
pub use error::IpcError;
pub use protocol::{PROTOCOL_VERSION, VERSION_HEADER};
pub use server::{Handler, serve, serve_peers};
pub use socket::{bind, bind_std, socket_path};
