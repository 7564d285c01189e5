//! The `pubsub` section: the libp2p bridge process (`orama-pubsub-bridge`) that carries
//! messages between this node's gateway and the other nodes, and the gateway's WebSocket
//! side of it, with how it is read from the YAML tree.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::child::{ChildSettings, read_child_settings};
use super::durations::{HOUR, MS, humantime_serde};
use super::read::{Field, Problems};

const MIB: u64 = 1024 * 1024;

/// The `pubsub` section.
#[derive(Debug, Clone, Serialize)]
pub struct PubsubConfig {
    /// Supervision of the bridge.
    #[serde(flatten)]
    pub child: ChildSettings,
    /// Override of the program to run (default: `orama-pubsub-bridge` beside the supervisor).
    pub command: Option<PathBuf>,
    /// Multiaddrs the bridge listens on for other nodes.
    pub listen: Vec<String>,
    /// Nodes to connect to (`/ip4/…/tcp/…/p2p/<peer id>`), redialled with backoff.
    pub bootstrap: Vec<String>,
    /// A private network's pre-shared key (go-ipfs `swarm.key` format): only nodes holding it
    /// can connect.
    pub swarm_key_file: Option<PathBuf>,
    /// The peer ids of the network's nodes: others are disconnected and their messages dropped.
    /// A bridge listening beyond loopback needs this or a swarm key.
    pub allowed_peers: Vec<String>,
    /// Largest message a client may publish.
    pub max_message: u64,
    /// Messages queued for one WebSocket client; a client that falls further behind is
    /// disconnected.
    pub client_queue: u32,
    /// How often idle WebSocket clients are pinged (and dropped without a pong by the next).
    #[serde(with = "humantime_serde")]
    pub ping_interval: Duration,
    /// `Origin`s allowed to open a WebSocket (empty: any, as the reference).
    pub allowed_origins: Vec<String>,
}

impl Default for PubsubConfig {
    fn default() -> Self {
        PubsubConfig {
            child: ChildSettings { enabled: true, ..ChildSettings::default() },
            command: None,
            listen: vec!["/ip4/127.0.0.1/tcp/4001".into()],
            bootstrap: Vec::new(),
            swarm_key_file: None,
            allowed_peers: Vec::new(),
            max_message: MIB,
            client_queue: 256,
            ping_interval: Duration::from_secs(30),
            allowed_origins: Vec::new(),
        }
    }
}

/// Reads the `pubsub` section.
pub(super) fn pubsub_section(f: &Field, p: &mut Problems) -> PubsubConfig {
    let mut t = f.table(p);
    let mut pubsub = PubsubConfig::default();
    read_child_settings(&mut t, &mut pubsub.child, p);
    pubsub.command = t.take("command").and_then(|f| f.non_empty_string(p)).map(PathBuf::from);
    if let Some(f) = t.take("listen") {
        pubsub.listen = multiaddrs(&f, p, false);
    }
    if let Some(f) = t.take("bootstrap") {
        pubsub.bootstrap = multiaddrs(&f, p, true);
    }
    let key_field = t.take("swarm_key_file");
    let key_given = key_field.is_some();
    pubsub.swarm_key_file = key_field.and_then(|f| f.absolute_path(p));
    if let Some(f) = t.take("allowed_peers") {
        for peer in f.string_list(p).unwrap_or_default() {
            let base58 = |c: char| c.is_ascii_alphanumeric() && !matches!(c, '0' | 'O' | 'I' | 'l');
            if peer.len() < 40 || !peer.chars().all(base58) {
                f.problem(p, format!("invalid peer id {peer:?} (expected e.g. 12D3KooW...)"));
            }
            pubsub.allowed_peers.push(peer);
        }
    }
    if let Some(n) = t.take("max_message").and_then(|f| f.bytes_in(p, 1024, 64 * MIB)) {
        pubsub.max_message = n;
    }
    if let Some(n) = t.take("client_queue").and_then(|f| f.int_in(p, 1, 100_000)) {
        pubsub.client_queue = n as u32;
    }
    if let Some(d) = t.take("ping_interval").and_then(|f| f.duration_in(p, 100 * MS, HOUR)) {
        pubsub.ping_interval = d;
    }
    if let Some(origins) = t.take("allowed_origins").and_then(|f| f.string_list(p)) {
        pubsub.allowed_origins = origins;
    }
    t.finish(p);
    let exposed: Vec<&String> = pubsub.listen.iter().filter(|a| a.starts_with('/') && !is_loopback(a)).collect();
    if pubsub.child.enabled && !exposed.is_empty() && !key_given && pubsub.allowed_peers.is_empty() {
        let message = format!(
            "listen {} is reachable from other machines, so anyone could join and read or forge every \
             namespace's messages: set swarm_key_file (a private network's key) or allowed_peers (its peer ids)",
            exposed.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
        );
        p.add(&f.path, f.node.line, message);
    }
    pubsub
}

/// Whether a multiaddr listens on a loopback address only.
fn is_loopback(addr: &str) -> bool {
    let mut parts = addr.split('/').skip(1);
    match (parts.next(), parts.next().map(str::parse::<std::net::IpAddr>)) {
        (Some("ip4" | "ip6"), Some(Ok(ip))) => ip.is_loopback(),
        _ => false,
    }
}

/// A list of multiaddrs, each `/`-rooted; with `peer`, each must end in `/p2p/<id>`.
fn multiaddrs(f: &Field, p: &mut Problems, peer: bool) -> Vec<String> {
    let Some(list) = f.string_list(p) else { return Vec::new() };
    for addr in &list {
        if !addr.starts_with('/') {
            f.problem(p, format!("invalid multiaddr {addr:?} (expected e.g. /ip4/127.0.0.1/tcp/4001)"));
        } else if peer && !addr.contains("/p2p/") {
            f.problem(p, format!("bootstrap address {addr:?} must end in /p2p/<peer id>"));
        }
    }
    list
}
