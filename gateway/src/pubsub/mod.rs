//! Pub/sub (REFERENCE-API §4.7) and the node's network (§4.3): WebSocket clients on this
//! gateway, and through `orama-pubsub-bridge` (its own process, the only one linking libp2p)
//! the clients of every other node. [`bridge`] is the bridge's socket API, [`hub`] keeps one
//! bridge stream per topic however many clients listen, [`connection`] serves one client,
//! [`routes`] and [`network`] are the endpoints.

pub mod bridge;
pub mod connection;
mod context;
pub mod hub;
pub mod network;
pub mod routes;

pub use context::PubsubContext;
