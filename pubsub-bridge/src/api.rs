//! The bridge's API on its owner-only Unix socket; the gateway is its only client. Topics are
//! named by (namespace, topic) and mapped here, in one place, to the gossipsub topic
//! `orama/1/<namespace>/<topic>`: a namespace holds no `/`, so the first `/` after the
//! prefix ends it and no two pairs share a name (the reference's `ns.topic` collides).
//!
//! - `POST /v1/stream {namespace, topic}` → a stream of frames (`[u32 len][u8 kind][u64 ms]
//!   [payload]`), a `HELLO` with the stream's id first; the topic is left when it closes
//! - `POST /v1/publish {namespace, topic, data}` (base64) → `{}`, 413 over the size limit
//! - `POST /v1/presence/join {namespace, topic, stream, key, member_id, meta}`,
//!   `/v1/presence/leave {namespace, topic, key}`, `/v1/presence/members {namespace, topic}`
//! - `POST /v1/topic-peers {namespace, topic}` → `{peers}` (nodes subscribed, as known here)
//! - `GET /v1/peers`, `POST /v1/connect {multiaddr}`, `POST /v1/disconnect {peer_id}`

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use orama_ipc::body::{BoxError, with_content_type};
use orama_ipc::{Body, Handler, error_response, json_response};
use orama_service::health::Health;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::command::{Command, NodeHandle, PublishRefusal};
use crate::presence::Member;

/// Largest request body (a publication in base64, with room to spare).
const MAX_REQUEST: usize = 96 * 1024 * 1024;
/// Longest topic name.
const MAX_TOPIC: usize = 512;

/// The gossipsub topic of `topic` in `namespace`, or why there is none.
pub fn wire_topic(namespace: &str, topic: &str) -> Result<String, &'static str> {
    let namespace_ok = (1..=64).contains(&namespace.len())
        && namespace.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !namespace_ok {
        return Err("namespace must be 1-64 of A-Z a-z 0-9 . _ -");
    }
    if topic.is_empty() || topic.len() > MAX_TOPIC {
        return Err("topic must be 1-512 bytes");
    }
    Ok(format!("orama/1/{namespace}/{topic}"))
}

/// The bridge's API.
#[derive(Debug)]
pub struct BridgeApi {
    health: Health,
    node: NodeHandle,
}

#[derive(Debug, Deserialize)]
struct TopicBody {
    namespace: String,
    topic: String,
    #[serde(default)]
    data: String,
    #[serde(default)]
    stream: u64,
    #[serde(default)]
    key: String,
    #[serde(default)]
    member_id: String,
    #[serde(default)]
    meta: Option<Value>,
}

impl TopicBody {
    fn wire(&self) -> Result<String, Box<Response<Body>>> {
        wire_topic(&self.namespace, &self.topic).map_err(|e| Box::new(error_response(StatusCode::BAD_REQUEST, e)))
    }
}

/// Withdraws a stream from its topic when the gateway stops reading it.
struct CloseOnDrop {
    node: NodeHandle,
    topic: String,
    stream: u64,
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        let close = Command::Close { topic: std::mem::take(&mut self.topic), stream: self.stream };
        if !self.node.try_send(close) {
            tracing::warn!(stream = self.stream, "cannot withdraw a closed stream: the node is busy");
        }
    }
}

fn unavailable() -> Response<Body> {
    error_response(StatusCode::SERVICE_UNAVAILABLE, "the pub/sub node is stopping")
}

impl BridgeApi {
    /// The API reporting `health` and driving `node`.
    pub fn new(health: Health, node: NodeHandle) -> Self {
        BridgeApi { health, node }
    }

    /// Sends a command built around a reply channel and waits for the answer.
    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        if !self.node.send(command(reply)).await {
            return None;
        }
        answer.await.ok()
    }

    async fn stream(&self, body: TopicBody) -> Response<Body> {
        let topic = match body.wire() {
            Ok(topic) => topic,
            Err(response) => return *response,
        };
        let Some((stream, frames)) = self.ask(|reply| Command::Open { topic: topic.clone(), reply }).await else {
            return unavailable();
        };
        let guard = CloseOnDrop { node: self.node.clone(), topic, stream };
        let frames = futures_util::stream::unfold(
            (frames, guard),
            |(mut frames, guard): (mpsc::Receiver<Bytes>, _)| async move {
                let frame = frames.recv().await?;
                Some((Ok::<_, BoxError>(Frame::data(frame)), (frames, guard)))
            },
        );
        with_content_type(StatusCode::OK, StreamBody::new(frames).boxed_unsync(), "application/octet-stream")
    }

    async fn publish(&self, body: TopicBody) -> Response<Body> {
        let topic = match body.wire() {
            Ok(topic) => topic,
            Err(response) => return *response,
        };
        let Ok(data) = base64::engine::general_purpose::STANDARD.decode(body.data.as_bytes()) else {
            return error_response(StatusCode::BAD_REQUEST, "data must be base64");
        };
        match self.ask(|reply| Command::Publish { topic, data, reply }).await {
            None => unavailable(),
            Some(Ok(())) => json_response(StatusCode::OK, &json!({})),
            Some(Err(err @ PublishRefusal::TooLarge(..))) => {
                error_response(StatusCode::PAYLOAD_TOO_LARGE, &err.to_string())
            }
            Some(Err(err)) => error_response(StatusCode::SERVICE_UNAVAILABLE, &err.to_string()),
        }
    }

    async fn presence(&self, action: &str, body: TopicBody) -> Response<Body> {
        let topic = match body.wire() {
            Ok(topic) => topic,
            Err(response) => return *response,
        };
        let answered = match action {
            "join" => {
                let joined_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                let member = Member { member_id: body.member_id, joined_at, meta: body.meta };
                let (stream, key) = (body.stream, body.key);
                self.ask(|reply| Command::Join { topic, stream, key, member, reply }).await.map(|()| json!({}))
            }
            "leave" => self.ask(|reply| Command::Leave { topic, key: body.key, reply }).await.map(|()| json!({})),
            "members" => {
                self.ask(|reply| Command::Members { topic, reply }).await.map(|members| json!({ "members": members }))
            }
            _ => return error_response(StatusCode::NOT_FOUND, "no such presence action"),
        };
        answered.map_or_else(unavailable, |value| json_response(StatusCode::OK, &value))
    }

    async fn network(&self, action: &str, body: Value) -> Response<Body> {
        let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let answer = match action {
            "connect" => match text("multiaddr").parse() {
                Ok(addr) => self.ask(|reply| Command::Connect { addr, reply }).await,
                Err(_) => return error_response(StatusCode::BAD_REQUEST, "invalid body: expected {multiaddr}"),
            },
            _ => match text("peer_id").parse() {
                Ok(peer) => self.ask(|reply| Command::Disconnect { peer, reply }).await,
                Err(_) => return error_response(StatusCode::BAD_REQUEST, "invalid body: expected {peer_id}"),
            },
        };
        match answer {
            None => unavailable(),
            Some(Ok(())) => json_response(StatusCode::OK, &json!({ "status": "ok" })),
            Some(Err(err)) => error_response(StatusCode::BAD_GATEWAY, &err),
        }
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(request: Request<Incoming>) -> Result<T, Response<Body>> {
    let bytes = match http_body_util::Limited::new(request.into_body(), MAX_REQUEST).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Err(error_response(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")),
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| error_response(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")))
}

impl Handler for BridgeApi {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        if let Some(response) = self.health.respond(&request) {
            return response;
        }
        let path = request.uri().path().to_owned();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let method = request.method().clone();
        macro_rules! body {
            ($request:expr) => {
                match read_json($request).await {
                    Ok(body) => body,
                    Err(response) => return response,
                }
            };
        }
        match (method, parts.as_slice()) {
            (Method::POST, ["v1", "stream"]) => self.stream(body!(request)).await,
            (Method::POST, ["v1", "publish"]) => self.publish(body!(request)).await,
            (Method::POST, ["v1", "presence", action]) => {
                let action = (*action).to_owned();
                self.presence(&action, body!(request)).await
            }
            (Method::POST, ["v1", "topic-peers"]) => {
                let body: TopicBody = body!(request);
                let topic = match body.wire() {
                    Ok(topic) => topic,
                    Err(response) => return *response,
                };
                let peers = self.ask(|reply| Command::TopicPeers { topic, reply }).await;
                peers.map_or_else(unavailable, |peers| json_response(StatusCode::OK, &json!({ "peers": peers })))
            }
            (Method::GET, ["v1", "peers"]) => match self.ask(|reply| Command::Peers { reply }).await {
                Some(peers) => json_response(StatusCode::OK, &peers),
                None => unavailable(),
            },
            (Method::POST, ["v1", action @ ("connect" | "disconnect")]) => {
                let action = (*action).to_owned();
                self.network(&action, body!(request)).await
            }
            _ => error_response(StatusCode::NOT_FOUND, "no such route"),
        }
    }
}
