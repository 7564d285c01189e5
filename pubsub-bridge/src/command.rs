//! What the node task is asked ([`Command`]) and answers, and the handle that asks it
//! ([`NodeHandle`]): the bridge's API talks to the swarm only through these.

use bytes::Bytes;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

use crate::presence::Member;

/// Why a publication was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishRefusal {
    /// Over the size limit.
    #[error("message of {0} bytes is larger than the limit of {1} bytes")]
    TooLarge(usize, usize),
    /// Gossipsub could not take it (queues full).
    #[error("the network cannot take the message now: {0}")]
    Busy(String),
}

/// A peer and its addresses.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PeerInfo {
    /// Its id.
    pub peer_id: String,
    /// Addresses it is connected on.
    pub addrs: Vec<String>,
}

/// This node and its peers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Peers {
    /// Our id.
    pub peer_id: String,
    /// Where we listen.
    pub listen_addrs: Vec<String>,
    /// Connected peers.
    pub peers: Vec<PeerInfo>,
}

/// What the node task is asked to do.
#[derive(Debug)]
pub enum Command {
    /// A gateway stream on a topic: its id and its frames.
    Open { topic: String, reply: oneshot::Sender<(u64, mpsc::Receiver<Bytes>)> },
    /// That stream ended.
    Close { topic: String, stream: u64 },
    /// Publish on a topic.
    Publish { topic: String, data: Vec<u8>, reply: oneshot::Sender<Result<(), PublishRefusal>> },
    /// A local member joined a topic on a stream.
    Join { topic: String, stream: u64, key: String, member: Member, reply: oneshot::Sender<()> },
    /// A local member left.
    Leave { topic: String, key: String, reply: oneshot::Sender<()> },
    /// The members of a topic.
    Members { topic: String, reply: oneshot::Sender<Vec<Member>> },
    /// Peers subscribed to a topic, as gossipsub knows them.
    TopicPeers { topic: String, reply: oneshot::Sender<usize> },
    /// This node and its peers.
    Peers { reply: oneshot::Sender<Peers> },
    /// Dial an address.
    Connect { addr: Multiaddr, reply: oneshot::Sender<Result<(), String>> },
    /// Close connections to a peer.
    Disconnect { peer: PeerId, reply: oneshot::Sender<Result<(), String>> },
}

/// Talks to the node task.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    commands: mpsc::Sender<Command>,
}

impl NodeHandle {
    /// A handle sending on `commands`.
    pub(crate) fn new(commands: mpsc::Sender<Command>) -> NodeHandle {
        NodeHandle { commands }
    }

    /// Sends `command`; false when the node task is gone.
    pub async fn send(&self, command: Command) -> bool {
        self.commands.send(command).await.is_ok()
    }

    /// Sends `command` without waiting (for drops); false when the queue is full or closed.
    pub fn try_send(&self, command: Command) -> bool {
        self.commands.try_send(command).is_ok()
    }
}
