//! The libp2p stack, built in one place: TCP (with the private network's pre-shared key when
//! configured), Noise, Yamux; gossipsub with signed messages, identify and ping.

use std::time::Duration;

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, upgrade::Version};
use libp2p::identity::Keypair;
use libp2p::pnet::{PnetConfig, PreSharedKey};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{PeerId, Swarm, Transport, gossipsub, identify, noise, ping, tcp, yamux};

use crate::envelope::HEADER;

/// The protocol name identify announces.
const AGENT: &str = concat!("orama-pubsub-bridge/", env!("CARGO_PKG_VERSION"));

/// What the swarm runs.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// Messages between nodes.
    pub gossipsub: gossipsub::Behaviour,
    /// Peers' addresses and protocols.
    pub identify: identify::Behaviour,
    /// Liveness and round-trip times.
    pub ping: ping::Behaviour,
}

/// A swarm for `keypair`, accepting messages up to `max_message` bytes of payload.
pub fn build(keypair: Keypair, psk: Option<PreSharedKey>, max_message: usize) -> Result<Swarm<Behaviour>, String> {
    let transport = transport(&keypair, psk)?;
    let gossip_config = gossipsub::ConfigBuilder::default()
        .heartbeat_interval(Duration::from_millis(500))
        .validation_mode(gossipsub::ValidationMode::Strict)
        .max_transmit_size(max_message + HEADER + 4096)
        .flood_publish(true)
        .duplicate_cache_time(Duration::from_secs(120))
        .build()
        .map_err(|e| format!("gossipsub: {e}"))?;
    let gossipsub = gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(keypair.clone()), gossip_config)
        .map_err(|e| format!("gossipsub: {e}"))?;
    let identify = identify::Behaviour::new(
        identify::Config::new("/orama/1.0.0".into(), keypair.public()).with_agent_version(AGENT.into()),
    );
    let ping = ping::Behaviour::new(ping::Config::new().with_interval(Duration::from_secs(10)));
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_other_transport(|_| transport)
        .map_err(|e| format!("transport: {e}"))?
        .with_behaviour(|_| Behaviour { gossipsub, identify, ping })
        .map_err(|e| format!("behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    Ok(swarm)
}

fn transport(keypair: &Keypair, psk: Option<PreSharedKey>) -> Result<Boxed<(PeerId, StreamMuxerBox)>, String> {
    let noise = noise::Config::new(keypair).map_err(|e| format!("noise: {e}"))?;
    let tcp = tcp::tokio::Transport::new(tcp::Config::new().nodelay(true));
    let timeout = Duration::from_secs(20);
    Ok(match psk {
        Some(psk) => tcp
            .and_then(move |socket, _| PnetConfig::new(psk).handshake(socket))
            .upgrade(Version::V1Lazy)
            .authenticate(noise)
            .multiplex(yamux::Config::default())
            .timeout(timeout)
            .boxed(),
        None => tcp
            .upgrade(Version::V1Lazy)
            .authenticate(noise)
            .multiplex(yamux::Config::default())
            .timeout(timeout)
            .boxed(),
    })
}
