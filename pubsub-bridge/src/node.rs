//! The one task that owns the swarm. Everything else talks to it through a bounded command
//! channel with oneshot replies ([`NodeHandle`]). It keeps, per topic, the gateway streams
//! that listen to it (each a bounded queue: a stream that falls behind is closed, and the
//! gateway opens a new one), delivers what this node publishes to its own streams directly
//! and what others publish as gossipsub hands it over (so each message reaches each stream
//! once), puts each publisher's messages in order, tracks presence, and redials bootstrap
//! peers with backoff.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, PublishError};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::admission::Admission;
use crate::command::{Command, NodeHandle, PeerInfo, Peers, PublishRefusal};
use crate::envelope::{Envelope, Kind};
use crate::order::Sequencer;
use crate::presence::{Change, Entry, Presence, SNAPSHOT_EVERY};
use crate::redial::Bootstrap;
use crate::swarm::{Behaviour, BehaviourEvent};

/// Frames queued for one gateway stream.
const STREAM_QUEUE: usize = 4096;
/// Commands waiting for the node task.
const COMMANDS: usize = 1024;
/// Most topics with a publication counter before the counters start a new epoch.
const MAX_COUNTERS: usize = 100_000;

use orama_ipc::pubsub as frame;

#[derive(Debug, Default)]
struct Topic {
    streams: HashMap<u64, mpsc::Sender<Bytes>>,
}

/// The node task's state.
pub struct Node {
    swarm: Swarm<Behaviour>,
    epoch: u64,
    counters: HashMap<String, u64>,
    topics: HashMap<String, Topic>,
    next_stream: u64,
    presence: Presence,
    order: Sequencer,
    bootstrap: Bootstrap,
    addresses: HashMap<PeerId, Vec<Multiaddr>>,
    admission: Admission,
    max_message: usize,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A fresh epoch: random, so a restarted publisher never reuses one.
fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return now_ms();
    }
    u64::from_be_bytes(bytes)
}

impl Node {
    /// A node over `swarm`, redialling `bootstrap`, dealing only with peers `admission`
    /// admits, refusing payloads over `max_message`.
    pub fn new(
        swarm: Swarm<Behaviour>,
        bootstrap: Vec<(PeerId, Multiaddr)>,
        admission: Admission,
        max_message: usize,
    ) -> (Node, NodeHandle, mpsc::Receiver<Command>) {
        let (commands, receiver) = mpsc::channel(COMMANDS);
        let node = Node {
            swarm,
            epoch: random_u64(),
            counters: HashMap::new(),
            topics: HashMap::new(),
            next_stream: 1,
            presence: Presence::default(),
            order: Sequencer::default(),
            bootstrap: Bootstrap::new(bootstrap),
            addresses: HashMap::new(),
            admission,
            max_message,
        };
        (node, NodeHandle::new(commands), receiver)
    }

    /// Runs until `shutdown` or until every handle is gone.
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>, shutdown: CancellationToken) {
        let mut fast = tokio::time::interval(Duration::from_millis(100));
        let mut snapshots = tokio::time::interval(SNAPSHOT_EVERY);
        let mut slow = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                command = commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => return,
                },
                event = self.swarm.select_next_some() => self.event(event),
                _ = fast.tick() => self.release_late(),
                _ = snapshots.tick() => self.announce_members(),
                _ = slow.tick() => {
                    self.expire_members();
                    self.redial();
                }
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Open { topic, reply } => {
                let (tx, rx) = mpsc::channel(STREAM_QUEUE);
                let id = self.next_stream;
                self.next_stream += 1;
                let _ = tx.try_send(frame::encode(frame::HELLO, now_ms(), &id.to_be_bytes()));
                let entry = self.topics.entry(topic.clone()).or_default();
                if entry.streams.is_empty() {
                    let _ = self.swarm.behaviour_mut().gossipsub.subscribe(&IdentTopic::new(topic.clone()));
                }
                entry.streams.insert(id, tx);
                let _ = reply.send((id, rx));
            }
            Command::Close { topic, stream } => self.close_stream(&topic, stream),
            Command::Publish { topic, data, reply } => {
                let _ = reply.send(self.publish_message(&topic, data));
            }
            Command::Join { topic, stream, key, member, reply } => {
                self.presence.join_local(&topic, key.clone(), member.clone(), stream);
                self.announce(&topic, Kind::Join, &Entry { key, member: member.clone() });
                self.deliver_change(&topic, &Change::Join(member));
                let _ = reply.send(());
            }
            Command::Leave { topic, key, reply } => {
                self.local_leave(&topic, &key);
                let _ = reply.send(());
            }
            Command::Members { topic, reply } => {
                let _ = reply.send(self.presence.members(&topic));
            }
            Command::TopicPeers { topic, reply } => {
                let hash = IdentTopic::new(topic).hash();
                let peers =
                    self.swarm.behaviour().gossipsub.all_peers().filter(|(_, topics)| topics.contains(&&hash)).count();
                let _ = reply.send(peers);
            }
            Command::Peers { reply } => {
                let _ = reply.send(self.peers());
            }
            Command::Connect { addr, reply } => {
                let peer = addr.iter().find_map(|p| match p {
                    libp2p::multiaddr::Protocol::P2p(peer) => Some(peer),
                    _ => None,
                });
                let outcome = match peer {
                    Some(peer) if !self.admission.admits(&peer) => {
                        Err(format!("{peer} is not in pubsub.allowed_peers: add it there first"))
                    }
                    _ => self.swarm.dial(addr).map_err(|e| e.to_string()),
                };
                let _ = reply.send(outcome);
            }
            Command::Disconnect { peer, reply } => {
                let _ =
                    reply.send(self.swarm.disconnect_peer_id(peer).map_err(|()| format!("not connected to {peer}")));
            }
        }
    }

    fn close_stream(&mut self, topic: &str, stream: u64) {
        let Some(entry) = self.topics.get_mut(topic) else { return };
        if entry.streams.remove(&stream).is_none() {
            return;
        }
        if entry.streams.is_empty() {
            self.topics.remove(topic);
            self.swarm.behaviour_mut().gossipsub.unsubscribe(&IdentTopic::new(topic));
        }
        for (topic, key, member) in self.presence.drop_stream(stream) {
            self.announce(&topic, Kind::Leave, &Entry { key, member: member.clone() });
            self.deliver_change(&topic, &Change::Leave(member));
        }
    }

    fn local_leave(&mut self, topic: &str, key: &str) {
        if let Some(member) = self.presence.leave_local(topic, key) {
            self.announce(topic, Kind::Leave, &Entry { key: key.to_owned(), member: member.clone() });
            self.deliver_change(topic, &Change::Leave(member));
        }
    }

    fn next_seq(&mut self, topic: &str) -> u64 {
        if self.counters.len() >= MAX_COUNTERS && !self.counters.contains_key(topic) {
            self.counters.clear();
            self.epoch = random_u64();
        }
        let counter = self.counters.entry(topic.to_owned()).or_insert(0);
        let seq = *counter;
        *counter += 1;
        seq
    }

    /// Sends an envelope to the other nodes; a topic nobody else listens to is not an error.
    fn gossip(&mut self, topic: &str, kind: Kind, payload: Vec<u8>, timestamp_ms: u64) -> Result<(), PublishRefusal> {
        let envelope = Envelope { kind, epoch: self.epoch, seq: self.next_seq(topic), timestamp_ms, payload };
        match self.swarm.behaviour_mut().gossipsub.publish(IdentTopic::new(topic), envelope.encode()) {
            Ok(_) | Err(PublishError::NoPeersSubscribedToTopic | PublishError::Duplicate) => Ok(()),
            Err(err) => Err(PublishRefusal::Busy(err.to_string())),
        }
    }

    fn publish_message(&mut self, topic: &str, data: Vec<u8>) -> Result<(), PublishRefusal> {
        if data.len() > self.max_message {
            return Err(PublishRefusal::TooLarge(data.len(), self.max_message));
        }
        let timestamp = now_ms();
        self.deliver(topic, frame::MESSAGE, timestamp, &data);
        self.gossip(topic, Kind::Message, data, timestamp)
    }

    fn announce<T: serde::Serialize>(&mut self, topic: &str, kind: Kind, value: &T) {
        let payload = serde_json::to_vec(value).unwrap_or_default();
        if let Err(err) = self.gossip(topic, kind, payload, now_ms()) {
            tracing::warn!(error = %err, "cannot announce a presence change");
        }
    }

    fn announce_members(&mut self) {
        for (topic, entries) in self.presence.local_snapshots() {
            self.announce(&topic, Kind::Snapshot, &entries);
        }
    }

    fn deliver_change(&mut self, topic: &str, change: &Change) {
        let now = now_ms();
        self.deliver(topic, frame::PRESENCE, now, &change.event(now / 1000));
    }

    /// Hands a frame to every stream on `topic`; a stream whose queue is full is closed.
    fn deliver(&mut self, topic: &str, kind: u8, timestamp_ms: u64, payload: &[u8]) {
        let Some(entry) = self.topics.get(topic) else { return };
        let frame = frame::encode(kind, timestamp_ms, payload);
        let mut behind = Vec::new();
        for (id, stream) in &entry.streams {
            if stream.try_send(frame.clone()).is_err() {
                behind.push(*id);
            }
        }
        for id in behind {
            tracing::warn!(topic, stream = id, "a gateway stream fell behind or went away: closing it");
            self.close_stream(topic, id);
        }
    }

    fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                message,
                propagation_source,
                ..
            })) => {
                let outsider = message.source.iter().chain([&propagation_source]).find(|p| !self.admission.admits(p));
                match outsider {
                    Some(peer) => tracing::debug!(%peer, "message from outside the network dropped"),
                    None => self.received(message),
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => tracing::info!(%address, "listening for nodes"),
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } if !self.admission.admits(&peer_id) => {
                let address = endpoint.get_remote_address();
                tracing::warn!(peer = %peer_id, %address, "a peer outside pubsub.allowed_peers connected: closed");
                self.swarm.behaviour_mut().gossipsub.blacklist_peer(&peer_id);
                let _ = self.swarm.disconnect_peer_id(peer_id);
            }
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                tracing::info!(peer = %peer_id, address = %endpoint.get_remote_address(), "node connected");
                self.addresses.entry(peer_id).or_default().push(endpoint.get_remote_address().clone());
                self.bootstrap.connected(&peer_id);
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, cause, .. } => {
                tracing::info!(peer = %peer_id, cause = ?cause, "node disconnected");
                self.addresses.remove(&peer_id);
                for (topic, member) in self.presence.drop_origin(&peer_id.to_string()) {
                    self.deliver_change(&topic, &Change::Leave(member));
                }
                self.schedule_redial(peer_id);
            }
            SwarmEvent::OutgoingConnectionError { peer_id: Some(peer_id), error, .. } => {
                tracing::debug!(peer = %peer_id, %error, "cannot reach a node");
                self.schedule_redial(peer_id);
            }
            _ => {}
        }
    }

    fn received(&mut self, message: gossipsub::Message) {
        let (Some(source), Some(envelope)) = (message.source, Envelope::decode(&message.data)) else { return };
        let key = (source.to_string(), message.topic.as_str().to_owned());
        for envelope in self.order.accept(key.clone(), envelope, Instant::now()) {
            self.handle_remote(&key.1, &key.0, envelope);
        }
    }

    fn release_late(&mut self) {
        for ((origin, topic), envelope) in self.order.expire(Instant::now()) {
            self.handle_remote(&topic, &origin, envelope);
        }
    }

    fn handle_remote(&mut self, topic: &str, origin: &str, envelope: Envelope) {
        let now = Instant::now();
        let changes = match envelope.kind {
            Kind::Message => {
                self.deliver(topic, frame::MESSAGE, envelope.timestamp_ms, &envelope.payload);
                return;
            }
            Kind::Join => serde_json::from_slice::<Entry>(&envelope.payload)
                .ok()
                .and_then(|entry| self.presence.remote_join(topic, origin, entry, now))
                .into_iter()
                .collect(),
            Kind::Leave => serde_json::from_slice::<Entry>(&envelope.payload)
                .ok()
                .and_then(|entry| self.presence.remote_leave(topic, origin, &entry.key, now))
                .into_iter()
                .collect(),
            Kind::Snapshot => match serde_json::from_slice::<Vec<Entry>>(&envelope.payload) {
                Ok(entries) => self.presence.snapshot(topic, origin, entries, now),
                Err(_) => Vec::new(),
            },
        };
        for change in changes {
            self.deliver_change(topic, &change);
        }
    }

    fn expire_members(&mut self) {
        for (topic, member) in self.presence.expire(Instant::now()) {
            self.deliver_change(&topic, &Change::Leave(member));
        }
    }

    fn schedule_redial(&mut self, peer: PeerId) {
        if !self.swarm.is_connected(&peer) {
            self.bootstrap.lost(&peer);
        }
    }

    fn redial(&mut self) {
        let swarm = &self.swarm;
        for addr in self.bootstrap.due(|peer| swarm.is_connected(peer)) {
            if let Err(err) = self.swarm.dial(addr.clone()) {
                tracing::debug!(%addr, error = %err, "cannot dial a bootstrap node");
            }
        }
    }

    fn peers(&self) -> Peers {
        let peers = self.swarm.connected_peers().map(|peer| {
            let addrs =
                self.addresses.get(peer).map(|a| a.iter().map(ToString::to_string).collect()).unwrap_or_default();
            PeerInfo { peer_id: peer.to_string(), addrs }
        });
        Peers {
            peer_id: self.swarm.local_peer_id().to_string(),
            listen_addrs: self.swarm.listeners().map(ToString::to_string).collect(),
            peers: peers.collect(),
        }
    }
}
