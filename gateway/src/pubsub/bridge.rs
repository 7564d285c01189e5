//! The gateway's side of the bridge's socket API (`orama-pubsub-bridge`'s `api` module):
//! publish, presence, peers, and topic streams read back frame by frame.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use orama_ipc::pubsub::{FrameReader, PubsubFrame};
use orama_ipc::{IpcClient, IpcError};
use serde_json::{Value, json};

use crate::http::error::ApiError;

/// The bridge, reached over its socket.
#[derive(Debug, Clone)]
pub struct Bridge {
    client: IpcClient,
    max_message: usize,
}

/// Why the bridge did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BridgeError {
    /// The bridge is down or restarting.
    #[error("pub/sub is unavailable: {0}")]
    Unavailable(String),
    /// The message is over the size limit.
    #[error("{0}")]
    TooLarge(String),
    /// The bridge refused the request.
    #[error("{0}")]
    Refused(String),
}

impl From<BridgeError> for ApiError {
    fn from(err: BridgeError) -> ApiError {
        match err {
            BridgeError::Unavailable(_) => ApiError::Unavailable(err.to_string()),
            BridgeError::TooLarge(message) => ApiError::BadRequest(message),
            BridgeError::Refused(message) => ApiError::BadRequest(message),
        }
    }
}

fn classify(err: IpcError) -> BridgeError {
    match err {
        IpcError::Status { status: StatusCode::PAYLOAD_TOO_LARGE, message, .. } => BridgeError::TooLarge(message),
        IpcError::Status { status, message, .. } if status.is_client_error() => BridgeError::Refused(message),
        IpcError::Status { message, .. } => BridgeError::Unavailable(message),
        other => BridgeError::Unavailable(other.to_string()),
    }
}

/// A topic's frames as the bridge streams them.
#[derive(Debug)]
pub struct FrameStream {
    body: Incoming,
    reader: FrameReader,
}

impl FrameStream {
    /// The next frame; `None` when the stream ended (the bridge went away).
    pub async fn next(&mut self) -> Option<PubsubFrame> {
        loop {
            match self.reader.next_frame() {
                Ok(Some(frame)) => return Some(frame),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "dropping a malformed pub/sub stream");
                    return None;
                }
            }
            let frame = self.body.frame().await?.ok()?;
            if let Some(chunk) = frame.data_ref() {
                self.reader.push(chunk);
            }
        }
    }
}

impl Bridge {
    /// The bridge serving on `socket`; messages up to `max_message` bytes.
    pub fn new(socket: &std::path::Path, max_message: usize) -> Self {
        Bridge { client: IpcClient::with_pool(socket, 64).with_timeout(Duration::from_secs(5)), max_message }
    }

    /// Largest message a client may publish.
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Publishes `data` on `topic` in `namespace`.
    pub async fn publish(&self, namespace: &str, topic: &str, data: &[u8]) -> Result<(), BridgeError> {
        if data.len() > self.max_message {
            return Err(BridgeError::TooLarge(format!(
                "message of {} bytes is larger than the limit of {} bytes",
                data.len(),
                self.max_message
            )));
        }
        let data = base64::engine::general_purpose::STANDARD.encode(data);
        let body = json!({ "namespace": namespace, "topic": topic, "data": data });
        self.client.post_json::<_, Value>("/v1/publish", &body).await.map(drop).map_err(classify)
    }

    /// Opens the stream of `topic` in `namespace`.
    pub async fn open(&self, namespace: &str, topic: &str) -> Result<FrameStream, BridgeError> {
        let body = serde_json::to_vec(&json!({ "namespace": namespace, "topic": topic })).unwrap_or_default();
        let response = self.client.send(Method::POST, "/v1/stream", Some(Bytes::from(body))).await.map_err(classify)?;
        if !response.status().is_success() {
            return Err(BridgeError::Unavailable(format!("the bridge answered {}", response.status())));
        }
        Ok(FrameStream { body: response.into_body(), reader: FrameReader::new(self.max_message + 64 * 1024) })
    }

    /// Registers a member held by stream `stream` under `key`.
    pub async fn join(
        &self,
        namespace: &str,
        topic: &str,
        stream: u64,
        key: &str,
        member_id: &str,
        meta: Option<&Value>,
    ) -> Result<(), BridgeError> {
        let body = json!({
            "namespace": namespace, "topic": topic, "stream": stream, "key": key, "member_id": member_id, "meta": meta,
        });
        self.client.post_json::<_, Value>("/v1/presence/join", &body).await.map(drop).map_err(classify)
    }

    /// Removes the member `key`.
    pub async fn leave(&self, namespace: &str, topic: &str, key: &str) -> Result<(), BridgeError> {
        let body = json!({ "namespace": namespace, "topic": topic, "key": key });
        self.client.post_json::<_, Value>("/v1/presence/leave", &body).await.map(drop).map_err(classify)
    }

    /// The members of `topic` across nodes.
    pub async fn members(&self, namespace: &str, topic: &str) -> Result<Vec<Value>, BridgeError> {
        let body = json!({ "namespace": namespace, "topic": topic });
        let answer: Value = self.client.post_json("/v1/presence/members", &body).await.map_err(classify)?;
        Ok(answer["members"].as_array().cloned().unwrap_or_default())
    }

    /// This node's id, listen addresses and peers.
    pub async fn peers(&self) -> Result<Value, BridgeError> {
        self.client.get_json("/v1/peers").await.map_err(classify)
    }

    /// Dials `multiaddr`.
    pub async fn connect(&self, multiaddr: &str) -> Result<(), BridgeError> {
        self.client
            .post_json::<_, Value>("/v1/connect", &json!({ "multiaddr": multiaddr }))
            .await
            .map(drop)
            .map_err(classify)
    }

    /// Drops connections to `peer_id`.
    pub async fn disconnect(&self, peer_id: &str) -> Result<(), BridgeError> {
        self.client
            .post_json::<_, Value>("/v1/disconnect", &json!({ "peer_id": peer_id }))
            .await
            .map(drop)
            .map_err(classify)
    }
}
