//! Pub/sub (REFERENCE-API §4.7) and the node's network (§4.3): WebSocket clients on this
//! gateway, and through `orama-pubsub-bridge` (its own process, the only one linking libp2p)
//! the clients of every other node. [`bridge`] is the bridge's socket API, [`hub`] keeps one
//! bridge stream per topic however many clients listen, [`connection`] serves one client,
//! [`routes`] and [`network`] are the endpoints.

pub mod bridge;
pub mod connection;
pub mod hub;
pub mod network;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use hub::Hub;

/// What the pub/sub routes need.
#[derive(Debug, Clone)]
pub struct PubsubContext {
    /// The multiplexer (and through it the bridge).
    pub hub: Hub,
    /// `Origin`s allowed to open a socket (empty: any).
    pub allowed_origins: Arc<[String]>,
    /// How often clients are pinged.
    pub ping_interval: Duration,
}

impl PubsubContext {
    /// The context for `config`, with the bridge on `socket`.
    pub fn new(config: &orama_service::config::PubsubConfig, socket: &std::path::Path) -> PubsubContext {
        let max_message = usize::try_from(config.max_message).unwrap_or(usize::MAX);
        let bridge = bridge::Bridge::new(socket, max_message);
        PubsubContext {
            hub: Hub::new(bridge, config.client_queue as usize),
            allowed_origins: config.allowed_origins.clone().into(),
            ping_interval: config.ping_interval,
        }
    }
}
