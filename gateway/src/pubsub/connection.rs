//! One WebSocket client of `/v1/pubsub/ws`, after the upgrade: its frames are published (in
//! the order it sent them: one publication at a time), the topic's frames written to it
//! (batched when several are queued), pings sent every interval and the client dropped when
//! it does not answer one by the next. A client cut off for falling behind is told why in
//! its close frame (at once: what was still queued for it is not sent); a write that makes
//! no progress for [`WRITE_TIMEOUT`] ends the connection.

use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use bytes::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::bridge::Bridge;
use super::hub::Subscription;
use crate::http::websocket::{self, Message, Reader, opcode};

/// Longest a write to a client may go without progress.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The close of a client cut off for falling behind.
const TOO_SLOW: (u16, &str) = (1008, "too slow: messages were not read fast enough");
/// Most bytes written in one batch.
const BATCH: usize = 256 * 1024;

/// Where a client publishes.
#[derive(Debug, Clone)]
pub struct Publishing {
    /// The bridge.
    pub bridge: Bridge,
    /// The client's namespace.
    pub namespace: Arc<str>,
    /// The topic.
    pub topic: String,
}

/// Serves one client until it leaves, breaks the protocol, falls behind or stops answering,
/// or the gateway drains (`draining`: the client is told to reconnect, code 1012).
pub async fn serve(
    io: Upgraded,
    mut subscription: Subscription,
    publishing: Publishing,
    ping_every: Duration,
    draining: CancellationToken,
) {
    let (read, mut write) = tokio::io::split(TokioIo::new(io));
    let mut reader = Reader::new(read, publishing.bridge.max_message());
    let mut out = Vec::new();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let mut answered = true;
    let close = loop {
        tokio::select! {
            message = reader.next() => match message {
                Ok(Message::Text(data) | Message::Binary(data)) => {
                    if !is_keepalive(&data) && let Err(err) = publishing.bridge.publish(&publishing.namespace, &publishing.topic, &data).await {
                        tracing::debug!(error = %err, "a client's publication failed");
                        websocket::encode(opcode::TEXT, b"publish_error", &mut out);
                    }
                }
                Ok(Message::Oversized(_)) => websocket::encode(opcode::TEXT, b"publish_error", &mut out),
                Ok(Message::Ping(payload)) => websocket::encode(opcode::PONG, &payload, &mut out),
                Ok(Message::Pong) => answered = true,
                Ok(Message::Close(_)) => break Some((1000, "")),
                Err(err) => break Some((err.code(), "")),
            },
            frame = subscription.frames.recv() => match frame {
                Some(_) if subscription.frames.is_closed() => break Some(TOO_SLOW),
                Some(frame) => batch(&mut subscription, frame, &mut out),
                None => break Some(TOO_SLOW),
            },
            _ = draining.cancelled() => break Some((1012, "service restart")),
            _ = ping.tick() => {
                if !answered {
                    break Some((1001, "no pong"));
                }
                answered = false;
                websocket::encode(opcode::PING, b"ping", &mut out);
            }
        }
        if !out.is_empty() && !flush(&mut write, &mut out).await {
            break None;
        }
    };
    if let Some((code, reason)) = close {
        websocket::encode(opcode::CLOSE, &websocket::close_payload(code, reason), &mut out);
        flush(&mut write, &mut out).await;
    }
    let _ = tokio::time::timeout(WRITE_TIMEOUT, write.shutdown()).await;
}

/// `{"type": "ping"}` frames keep a connection alive and are not published (as the reference).
fn is_keepalive(data: &Bytes) -> bool {
    data.len() < 64
        && serde_json::from_slice::<serde_json::Value>(data)
            .is_ok_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("ping"))
}

/// `first` and whatever else is already queued, up to [`BATCH`] bytes.
fn batch(subscription: &mut Subscription, first: Bytes, out: &mut Vec<u8>) {
    out.extend_from_slice(&first);
    while out.len() < BATCH {
        match subscription.frames.try_recv() {
            Ok(frame) => out.extend_from_slice(&frame),
            Err(_) => break,
        }
    }
}

/// Writes `out`, each step within [`WRITE_TIMEOUT`]; false when the client is gone or stuck.
async fn flush<W: AsyncWrite + Unpin>(write: &mut W, out: &mut Vec<u8>) -> bool {
    let mut written = 0;
    let mut alive = true;
    while written < out.len() {
        match tokio::time::timeout(WRITE_TIMEOUT, write.write(&out[written..])).await {
            Ok(Ok(n)) if n > 0 => written += n,
            _ => {
                alive = false;
                break;
            }
        }
    }
    out.clear();
    if out.capacity() > BATCH {
        *out = Vec::new();
    }
    alive
}
