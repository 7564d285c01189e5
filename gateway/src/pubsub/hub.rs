//! The gateway's multiplexer: however many WebSocket clients listen to a topic, the gateway
//! holds one bridge stream for it, opened with the first client and closed with the last.
//! Each message is turned into its WebSocket frame once and handed to every client's bounded
//! queue; a client whose queue is full is cut off (its connection closes with a reason),
//! never allowed to grow memory. When the bridge restarts, the stream is opened again (with
//! backoff) and presence registered again, while the clients stay connected.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::bridge::Bridge;
use crate::http::websocket;

/// A client's presence on a topic.
#[derive(Debug, Clone)]
pub struct PresenceInfo {
    /// The id it chose.
    pub member_id: String,
    /// What it said of itself.
    pub meta: Option<Value>,
}

#[derive(Debug)]
struct Subscriber {
    frames: mpsc::Sender<Bytes>,
    presence: Option<PresenceInfo>,
}

#[derive(Debug, Default)]
struct TopicState {
    stream: Option<u64>,
    subscribers: HashMap<u64, Subscriber>,
}

#[derive(Debug)]
struct TopicHub {
    namespace: Arc<str>,
    topic: String,
    state: Mutex<TopicState>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Woken when the bridge confirms the topic's stream (its hello).
    opened: tokio::sync::Notify,
}

/// How long a subscription waits for its topic's stream to open at the bridge (the first on a
/// topic), so that a client answered `101` hears everything published after; beyond it (the
/// bridge down), the client is subscribed anyway and hears messages once the stream opens.
const STREAM_OPEN_WAIT: Duration = Duration::from_secs(3);

type TopicKey = (Arc<str>, String);

#[derive(Debug)]
struct HubInner {
    bridge: Bridge,
    topics: Mutex<HashMap<TopicKey, Arc<TopicHub>>>,
    queue: usize,
    next_client: AtomicU64,
}

/// The multiplexer.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

/// A client's place on a topic; leaving it (drop) takes the client off.
#[derive(Debug)]
pub struct Subscription {
    /// The client's frames, ready to write. Closed when the client fell behind.
    pub frames: mpsc::Receiver<Bytes>,
    client: u64,
    topic: Arc<TopicHub>,
    hub: Hub,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(&self.topic, self.client);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    /// A hub over `bridge`, queueing up to `queue` frames per client.
    pub fn new(bridge: Bridge, queue: usize) -> Hub {
        Hub { inner: Arc::new(HubInner { bridge, topics: Mutex::default(), queue, next_client: AtomicU64::new(1) }) }
    }

    /// The bridge.
    pub fn bridge(&self) -> &Bridge {
        &self.inner.bridge
    }

    /// Puts a client on `topic` in `namespace`, with its presence when given.
    pub async fn subscribe(&self, namespace: Arc<str>, topic: String, presence: Option<PresenceInfo>) -> Subscription {
        let client = self.inner.next_client.fetch_add(1, Ordering::Relaxed);
        let (tx, frames) = mpsc::channel(self.inner.queue);
        let (hub, stream) = {
            let mut topics = lock(&self.inner.topics);
            let hub = topics
                .entry((namespace.clone(), topic.clone()))
                .or_insert_with(|| {
                    let hub = Arc::new(TopicHub {
                        namespace,
                        topic,
                        state: Mutex::default(),
                        task: Mutex::new(None),
                        opened: tokio::sync::Notify::new(),
                    });
                    *lock(&hub.task) = Some(tokio::spawn(follow(hub.clone(), self.inner.bridge.clone())));
                    hub
                })
                .clone();
            let mut state = lock(&hub.state);
            state.subscribers.insert(client, Subscriber { frames: tx, presence: presence.clone() });
            let stream = state.stream;
            drop(state);
            (hub, stream)
        };
        if stream.is_none() {
            let opened = hub.opened.notified();
            if lock(&hub.state).stream.is_none() {
                let _ = tokio::time::timeout(STREAM_OPEN_WAIT, opened).await;
            }
        }
        // A stream opened meanwhile registered this client's presence in its hello.
        if let (Some(presence), Some(stream)) = (presence, stream) {
            join(&self.inner.bridge, &hub, stream, client, &presence).await;
        }
        Subscription { frames, client, topic: hub, hub: self.clone() }
    }

    fn unsubscribe(&self, hub: &Arc<TopicHub>, client: u64) {
        let mut topics = lock(&self.inner.topics);
        let mut state = lock(&hub.state);
        let gone = state.subscribers.remove(&client);
        let last = state.subscribers.is_empty();
        drop(state);
        if last {
            // Closing the stream withdraws its members at the bridge.
            let key = (hub.namespace.clone(), hub.topic.clone());
            if topics.get(&key).is_some_and(|current| Arc::ptr_eq(current, hub)) {
                topics.remove(&key);
            }
            if let Some(task) = lock(&hub.task).take() {
                task.abort();
            }
        } else if gone.is_some_and(|g| g.presence.is_some()) {
            leave(self.inner.bridge.clone(), hub.clone(), client);
        }
    }

    /// The topics of `namespace` with clients on this gateway.
    pub fn topics(&self, namespace: &str) -> Vec<String> {
        let mut topics: Vec<String> =
            lock(&self.inner.topics).keys().filter(|(ns, _)| &**ns == namespace).map(|(_, t)| t.clone()).collect();
        topics.sort();
        topics
    }
}

/// Withdraws `client`'s presence, in the background.
fn leave(bridge: Bridge, hub: Arc<TopicHub>, client: u64) {
    tokio::spawn(async move {
        if let Err(err) = bridge.leave(&hub.namespace, &hub.topic, &client.to_string()).await {
            tracing::debug!(error = %err, "cannot withdraw a member");
        }
    });
}

async fn join(bridge: &Bridge, hub: &TopicHub, stream: u64, client: u64, presence: &PresenceInfo) {
    let key = client.to_string();
    if let Err(err) =
        bridge.join(&hub.namespace, &hub.topic, stream, &key, &presence.member_id, presence.meta.as_ref()).await
    {
        tracing::warn!(error = %err, "cannot register a member");
    }
}

/// Follows the bridge stream of `hub`'s topic for as long as the hub has clients.
async fn follow(hub: Arc<TopicHub>, bridge: Bridge) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match bridge.open(&hub.namespace, &hub.topic).await {
            Ok(mut stream) => {
                backoff = Duration::from_millis(50);
                while let Some(frame) = stream.next().await {
                    match frame.kind {
                        orama_ipc::pubsub::HELLO => hello(&hub, &bridge, &frame.payload).await,
                        _ => {
                            let frame = envelope_frame(&hub.topic, frame.timestamp_ms, &frame.payload);
                            for client in fan_out(&hub, &frame) {
                                leave(bridge.clone(), hub.clone(), client);
                            }
                        }
                    }
                }
                lock(&hub.state).stream = None;
                tracing::info!(topic = %hub.topic, "the pub/sub stream ended; opening it again");
            }
            Err(err) => tracing::debug!(error = %err, topic = %hub.topic, "cannot open the pub/sub stream"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// A new stream: remember its id and register the members it now holds.
async fn hello(hub: &TopicHub, bridge: &Bridge, payload: &[u8]) {
    let Ok(id) = <[u8; 8]>::try_from(payload).map(u64::from_be_bytes) else { return };
    let members: Vec<(u64, PresenceInfo)> = {
        let mut state = lock(&hub.state);
        state.stream = Some(id);
        state.subscribers.iter().filter_map(|(client, s)| Some((*client, s.presence.clone()?))).collect()
    };
    hub.opened.notify_waiters();
    for (client, presence) in members {
        join(bridge, hub, id, client, &presence).await;
    }
}

/// The reference's envelope `{data (base64), timestamp, topic}` as one WebSocket text frame.
fn envelope_frame(topic: &str, timestamp_ms: u64, payload: &[u8]) -> Bytes {
    let envelope = serde_json::json!({
        "data": base64::engine::general_purpose::STANDARD.encode(payload),
        "timestamp": timestamp_ms,
        "topic": topic,
    });
    let mut frame = Vec::new();
    websocket::encode(websocket::opcode::TEXT, envelope.to_string().as_bytes(), &mut frame);
    Bytes::from(frame)
}

/// Hands `frame` to every client; one whose queue is full is cut off. The clients cut off
/// that had a presence.
fn fan_out(hub: &TopicHub, frame: &Bytes) -> Vec<u64> {
    let mut state = lock(&hub.state);
    let mut cut = Vec::new();
    let mut delivered = 0;
    state.subscribers.retain(|client, subscriber| match subscriber.frames.try_send(frame.clone()) {
        Ok(()) => {
            delivered += 1;
            true
        }
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::info!(client, topic = %hub.topic, "cutting off a WebSocket client that does not keep up");
            metrics::counter!("orama_pubsub_slow_clients_total").increment(1);
            if subscriber.presence.is_some() {
                cut.push(*client);
            }
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    });
    crate::http::history::record_deliveries(delivered);
    cut
}
