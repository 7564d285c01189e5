//! What `ctl status` shows of the node itself besides its children: its version, the gateway's
//! URL (from the config) and its libp2p identity (asked of the pub/sub bridge, on the same
//! route `ctl peers list` uses).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use orama_ipc::IpcClient;
use orama_service::config::{GatewayConfig, TlsMode};
use serde::Deserialize;

/// The node's version: the supervisor's, built with the node's other processes.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The name of the child that is the pub/sub bridge.
pub const BRIDGE: &str = "pubsub-bridge";

/// The name of the child that is the gateway.
pub const GATEWAY: &str = "gateway";

/// How long a status request waits for the bridge's answer.
const BRIDGE_TIMEOUT: Duration = Duration::from_secs(1);

/// The node's libp2p identity as the bridge reports it (`GET /v1/peers`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Identity {
    /// The node's peer id.
    pub peer_id: String,
    /// Where it listens for other nodes.
    pub listen_addrs: Vec<String>,
}

/// Asks the bridge serving on `socket` for the node's identity; `None` if it does not answer
/// within a second.
pub async fn ask_bridge(socket: &Path) -> Option<Identity> {
    let client = IpcClient::new(socket).with_timeout(BRIDGE_TIMEOUT);
    match client.get_json("/v1/peers").await {
        Ok(identity) => Some(identity),
        Err(err) => {
            tracing::debug!(error = %err, "the pub/sub bridge did not tell its peer id");
            None
        }
    }
}

/// The URL the gateway serves on, as `gateway.listen` and `gateway.tls` make it (a wildcard
/// address shown as `localhost`, where the operator reaches it from).
pub fn gateway_url(config: &GatewayConfig) -> String {
    let scheme = if config.tls.mode == TlsMode::Off { "http" } else { "https" };
    let port = config.listen.port();
    match config.listen.ip() {
        ip if ip.is_unspecified() => format!("{scheme}://localhost:{port}"),
        ip => format!("{scheme}://{}", SocketAddr::new(ip, port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_follows_listen_and_tls() {
        let mut config = GatewayConfig { listen: "127.0.0.1:6001".parse().expect("addr"), ..Default::default() };
        assert_eq!(gateway_url(&config), "http://127.0.0.1:6001");
        config.tls.mode = TlsMode::SelfSigned;
        config.listen = "[::1]:443".parse().expect("addr");
        assert_eq!(gateway_url(&config), "https://[::1]:443");
        config.listen = "0.0.0.0:8080".parse().expect("addr");
        assert_eq!(gateway_url(&config), "https://localhost:8080");
    }
}
