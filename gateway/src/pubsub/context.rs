//! What the pub/sub routes need: the hub (and through it the bridge) and the clients' settings.

use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use super::hub::Hub;

/// What the pub/sub routes need.
#[derive(Debug, Clone)]
pub struct PubsubContext {
    /// The multiplexer (and through it the bridge).
    pub hub: Hub,
    /// `Origin`s allowed to open a socket (empty: any).
    pub allowed_origins: Arc<[String]>,
    /// How often clients are pinged.
    pub ping_interval: Duration,
    /// Cancelled when the gateway drains: every client is told to reconnect (close code
    /// 1012, "service restart"), which reaches the gateway's successor.
    pub draining: CancellationToken,
}

impl PubsubContext {
    /// The context for `config`, with the bridge on `socket`.
    pub fn new(
        config: &orama_service::config::PubsubConfig,
        socket: &std::path::Path,
        draining: CancellationToken,
    ) -> PubsubContext {
        let max_message = usize::try_from(config.max_message).unwrap_or(usize::MAX);
        let bridge = super::bridge::Bridge::new(socket, max_message);
        PubsubContext {
            hub: Hub::new(bridge, config.client_queue as usize),
            allowed_origins: config.allowed_origins.clone().into(),
            ping_interval: config.ping_interval,
            draining,
        }
    }
}
