//! A subscription that stays subscribed: a task holds the WebSocket, and when it breaks (the
//! gateway restarted, the bridge went away, the network blinked) opens it again, on the next
//! gateway in turn, with backoff and jitter, until the subscription is dropped. Messages
//! published while no socket is open are not delivered (pub/sub is at most once).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use futures_util::{SinkExt, Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::error::Result;
use crate::transport::Transport;
use crate::websocket::{self as socket, Refused, Socket};

/// Messages buffered for a subscriber that reads slower than they come.
const BUFFER: usize = 256;

/// How often the client pings its socket.
const PING_EVERY: Duration = Duration::from_secs(15);

/// How long a socket may stay silent (no message, ping or pong) before it is given up.
const SILENCE_LIMIT: Duration = Duration::from_secs(40);

/// One message of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The topic.
    pub topic: String,
    /// The bytes published.
    pub data: Bytes,
    /// When the gateway received it, unix ms.
    pub timestamp: u64,
}

impl Message {
    /// The presence event this message is, when it is one (a member joining or leaving,
    /// delivered on the topic like any message).
    pub fn presence(&self) -> Option<PresenceEvent> {
        let event: PresenceEvent = serde_json::from_slice(&self.data).ok()?;
        event.kind.starts_with("presence.").then_some(event)
    }
}

/// A member joining or leaving a topic.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PresenceEvent {
    /// `presence.join` or `presence.leave`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The member.
    pub member_id: String,
    /// When, unix seconds.
    #[serde(default)]
    pub timestamp: i64,
    /// What it announced.
    #[serde(default)]
    pub meta: Option<serde_json::Value>,
}

/// A subscription: a [`Stream`] of the topic's messages. It ends with an error only when the
/// gateway refuses it for good (a bad credential or topic); dropping it unsubscribes.
pub struct Subscription {
    messages: mpsc::Receiver<Result<Message>>,
    reconnects: tokio::sync::watch::Receiver<u64>,
}

impl Subscription {
    /// Opens the first socket (so a refusal is reported here), then keeps it open.
    pub(crate) async fn start(transport: Transport, query: Vec<(&'static str, String)>) -> Result<Subscription> {
        let (socket, index) = socket::open_first(&transport, "v1/pubsub/ws", &query).await?;
        let (sender, messages) = mpsc::channel(BUFFER);
        let (counter, reconnects) = tokio::sync::watch::channel(0);
        let task = Follower { transport, query, sender, counter, next_gateway: index + 1 };
        tokio::spawn(task.run(socket));
        Ok(Subscription { messages, reconnects })
    }

    /// How many times the socket was opened again so far.
    pub fn reconnects(&self) -> u64 {
        *self.reconnects.borrow()
    }

    /// Waits until the socket was opened again more than `seen` times in all (for callers
    /// that must know a reconnection is complete, such as tests and presence).
    pub async fn reconnected_after(&mut self, seen: u64) {
        let _ = self.reconnects.wait_for(|count| *count > seen).await;
    }
}

impl Stream for Subscription {
    type Item = Result<Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.messages.poll_recv(cx)
    }
}

/// The task behind a [`Subscription`].
struct Follower {
    transport: Transport,
    query: Vec<(&'static str, String)>,
    sender: mpsc::Sender<Result<Message>>,
    counter: tokio::sync::watch::Sender<u64>,
    next_gateway: usize,
}

impl Follower {
    async fn run(mut self, mut socket: Socket) {
        loop {
            let unsubscribed = tokio::select! {
                () = self.sender.closed() => true,
                () = self.forward(&mut socket) => false,
            };
            if unsubscribed {
                let _ = socket.close(None).await;
                return;
            }
            match self.reopen().await {
                Some(reopened) => {
                    socket = reopened;
                    self.counter.send_modify(|count| *count += 1);
                }
                None => return,
            }
        }
    }

    /// Passes messages on until the socket ends, or goes silent: it is pinged every
    /// [`PING_EVERY`], and a socket that answers nothing for [`SILENCE_LIMIT`] (a half-open
    /// connection after the network changed) is given up for a new one.
    async fn forward(&self, socket: &mut Socket) {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heard = Instant::now();
        loop {
            let frame = tokio::select! {
                frame = socket.next() => frame,
                _ = ping.tick() => {
                    if heard.elapsed() > SILENCE_LIMIT || socket.send(Frame::Ping(Default::default())).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            let text = match frame {
                Some(Ok(Frame::Text(text))) => text,
                Some(Ok(Frame::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {
                    heard = Instant::now(); // pings and pongs are answered by the socket itself
                    continue;
                }
            };
            heard = Instant::now();
            if let Some(message) = parse(text.as_str())
                && self.sender.send(Ok(message)).await.is_err()
            {
                return;
            }
        }
    }

    /// Opens a socket again: each gateway in turn, with growing waits, until one takes it,
    /// one refuses for good (the error is the stream's last item) or the subscriber is gone.
    async fn reopen(&mut self) -> Option<Socket> {
        let gateways = self.transport.config.gateways.clone();
        for attempt in 0u32.. {
            let gateway = &gateways[self.next_gateway % gateways.len()];
            self.next_gateway += 1;
            let opened = tokio::select! {
                () = self.sender.closed() => return None,
                opened = socket::open(&self.transport, gateway, "v1/pubsub/ws", &self.query) => opened,
            };
            match opened {
                Ok(socket) => return Some(socket),
                Err(Refused::Permanent(error)) => {
                    let _ = self.sender.send(Err(error)).await;
                    return None;
                }
                Err(Refused::Transient(_)) => {}
            }
            let wait = backoff(&self.transport, attempt);
            tokio::select! {
                () = self.sender.closed() => return None,
                () = tokio::time::sleep(wait) => {}
            }
        }
        None
    }
}

fn backoff(transport: &Transport, attempt: u32) -> Duration {
    let config = &transport.config;
    let ceiling = config.backoff.saturating_mul(1 << attempt.min(16)).min(config.max_backoff);
    let mut random = [0u8; 2];
    let spread = getrandom::fill(&mut random).map_or(0.5, |()| f64::from(u16::from_le_bytes(random)) / 65535.0);
    ceiling.mul_f64(0.5 + spread / 2.0)
}

/// A server frame: `{"data": base64, "timestamp": ms, "topic"}`.
fn parse(text: &str) -> Option<Message> {
    #[derive(Deserialize)]
    struct Wire {
        data: String,
        #[serde(default)]
        timestamp: u64,
        #[serde(default)]
        topic: String,
    }
    let wire: Wire = serde_json::from_str(text).ok()?;
    let data = base64::engine::general_purpose::STANDARD.decode(wire.data).ok()?;
    Some(Message { topic: wire.topic, data: data.into(), timestamp: wire.timestamp })
}
