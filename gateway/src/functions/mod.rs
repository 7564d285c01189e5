//! Serverless functions (REFERENCE-API §4.9, §6): WebAssembly modules deployed per namespace
//! and run by `orama-wasm-runner`, a process of its own, so a hostile function can at worst
//! take the runner down, never the gateway.
//!
//! [`registry`] keeps every version's record, [`records`] the invocations and logs, [`runner`]
//! talks to the runner's socket, [`host`] answers the host calls running functions make back
//! over the internal socket (scoped by a per-invocation token), [`fetch`] is
//! `http_fetch` (under `orama_service::egress`), [`secrets`] seals secrets at rest, [`invoke`] runs one
//! invocation end to end, [`triggers`] runs functions on pub/sub messages and cron schedules,
//! and [`routes`] / [`ws`] are the endpoints. Module bytes live in the
//! storage engine under their CID; the runner keeps them compiled by content hash.

pub mod dead_letters;
pub mod deploy;
pub mod fetch;
pub mod host;
pub mod host_args;
pub mod host_storage;
pub mod invoke;
pub mod records;
pub mod registry;
pub mod routes;
pub mod runner;
pub mod secrets;
mod service;
pub mod setup;
pub mod triggers;
pub mod ws;

pub use service::{Bounds, Functions, Parts, Resolved, runner_error, uuid_v4};
