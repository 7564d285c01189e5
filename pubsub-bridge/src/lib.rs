//! `orama-pubsub-bridge`: carries this node's pub/sub messages to and from the other nodes
//! over libp2p gossipsub, in a process of its own (libp2p is linked here only).
//!
//! [`swarm`] builds the libp2p stack; [`node`] is the one task that owns the swarm (asked
//! through [`command`]), the topics
//! the gateway listens to, presence and per-publisher order; [`api`] is what the gateway
//! calls on the bridge's Unix socket. [`envelope`] is the message format between bridges,
//! [`order`] puts one publisher's messages back in order, [`presence`] tracks members,
//! [`identity`] keeps the node's key.

pub mod admission;
mod api;
mod command;
pub mod envelope;
pub mod identity;
mod node;
pub mod order;
pub mod presence;
mod redial;
mod swarm;

use std::path::Path;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use orama_service::config::PubsubConfig;
use orama_service::health::Health;
use orama_service::readiness::Readiness;
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

/// Why the bridge cannot run.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The identity or swarm key cannot be read or created.
    #[error("identity: {0}")]
    Identity(String),
    /// The libp2p stack cannot be set up or cannot listen.
    #[error("network: {0}")]
    Network(String),
}

/// A bootstrap address split into its peer and its address.
fn bootstrap_peer(text: &str) -> Result<(PeerId, Multiaddr), String> {
    let addr: Multiaddr = text.parse().map_err(|e| format!("{text}: {e}"))?;
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Ok((peer, addr)),
        _ => Err(format!("{text}: must end in /p2p/<peer id>")),
    }
}

/// Serves the bridge on `socket` until `shutdown`, keeping its identity in `data_dir`.
pub async fn run(
    config: &PubsubConfig,
    data_dir: &Path,
    socket: UnixListener,
    shutdown: CancellationToken,
) -> Result<(), BridgeError> {
    let readiness = Readiness::new();
    let starting = readiness.pending("the libp2p node is not listening yet");
    let health = Health::new("pubsub-bridge", readiness);
    let keypair = identity::load_or_create(data_dir).map_err(BridgeError::Identity)?;
    let psk = match &config.swarm_key_file {
        Some(path) => Some(identity::swarm_key(path).map_err(BridgeError::Identity)?),
        None => None,
    };
    let max_message = usize::try_from(config.max_message).unwrap_or(usize::MAX);
    let mut swarm = swarm::build(keypair, psk, max_message).map_err(BridgeError::Network)?;
    for text in &config.listen {
        let addr: Multiaddr = text.parse().map_err(|e| BridgeError::Network(format!("{text}: {e}")))?;
        swarm.listen_on(addr).map_err(|e| BridgeError::Network(format!("cannot listen on {text}: {e}")))?;
    }
    let bootstrap = config
        .bootstrap
        .iter()
        .map(|b| bootstrap_peer(b))
        .collect::<Result<Vec<_>, _>>()
        .map_err(BridgeError::Network)?;
    let allowed = config
        .allowed_peers
        .iter()
        .map(|peer| peer.parse::<PeerId>().map_err(|e| BridgeError::Network(format!("allowed peer {peer}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let admission = admission::Admission::new(&allowed, bootstrap.iter().map(|(peer, _)| *peer));
    tracing::info!(
        peer_id = %swarm.local_peer_id(),
        private_network = config.swarm_key_file.is_some(),
        allow_list = admission.is_listed(),
        "pub/sub node starting"
    );
    let (node, handle, commands) = node::Node::new(swarm, bootstrap, admission, max_message);
    let node_task = tokio::spawn(node.run(commands, shutdown.clone()));
    let api = std::sync::Arc::new(api::BridgeApi::new(health, handle));
    starting.ready();
    orama_ipc::serve(socket, api, shutdown).await;
    let _ = node_task.await;
    tracing::info!("pub/sub bridge stopped");
    Ok(())
}
