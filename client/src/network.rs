//! The node's public status routes: health, version, status, peers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::call::Call;
use crate::error::Result;
use crate::transport::Transport;

/// `/v1/health`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// The server's own: `status`, `started_at`, `uptime`.
    #[serde(default)]
    pub server: Value,
}

/// `/v1/version`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Version {
    /// The node's version.
    pub version: String,
    /// Its commit.
    #[serde(default)]
    pub commit: String,
    /// When it was built.
    #[serde(default)]
    pub build_time: String,
    /// When it started.
    #[serde(default)]
    pub started_at: String,
    /// How long it has run (Go duration text).
    #[serde(default)]
    pub uptime: String,
}

/// `/v1/network/status`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct NetworkStatus {
    /// The node's libp2p peer id.
    #[serde(default)]
    pub peer_id: String,
    /// Whether it is connected to the network.
    #[serde(default)]
    pub connected: bool,
    /// How many peers it has.
    #[serde(default)]
    pub peer_count: u64,
    /// Everything else the node reports (IPFS, cluster).
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// A request for the anonymous proxy (`/v1/proxy/anon`): sent through the Anyone network.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AnonRequest {
    /// The target, `http(s)://`, public.
    pub url: String,
    /// The method (default GET).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Headers to send (hop-by-hop and identifying ones are dropped by the node).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    /// A body, sent as is.
    #[serde(skip_serializing_if = "Option::is_none", rename = "body_base64", serialize_with = "base64_bytes")]
    pub body: Option<Vec<u8>>,
    /// Send the `Cookie` header too.
    pub keep_cookies: bool,
}

fn base64_bytes<S: serde::Serializer>(body: &Option<Vec<u8>>, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    use base64::Engine;
    let encoded = body.as_ref().map(|b| base64::engine::general_purpose::STANDARD.encode(b)).unwrap_or_default();
    serializer.serialize_str(&encoded)
}

/// The target's answer through the anonymous proxy.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AnonResponse {
    /// The target's status.
    pub status_code: u16,
    /// Its headers.
    #[serde(default)]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    /// Its body, base64.
    #[serde(default)]
    pub body: String,
}

impl AnonResponse {
    /// The body's bytes.
    pub fn body_bytes(&self) -> Result<Vec<u8>> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(&self.body).map_err(crate::error::Error::decode)
    }
}

/// The status routes. Get one from [`crate::NetworkClient::network`].
#[derive(Clone)]
pub struct NetworkApi {
    pub(crate) transport: Transport,
}

impl NetworkApi {
    /// `/v1/health`.
    pub async fn health(&self) -> Result<Health> {
        self.transport.json(Call::get("v1/health").public()).await
    }

    /// `/v1/version`.
    pub async fn version(&self) -> Result<Version> {
        self.transport.json(Call::get("v1/version").public()).await
    }

    /// `/v1/status`, as the node gives it.
    pub async fn status(&self) -> Result<Value> {
        self.transport.json(Call::get("v1/status").public()).await
    }

    /// `/v1/network/status`.
    pub async fn network_status(&self) -> Result<NetworkStatus> {
        self.transport.json(Call::get("v1/network/status").public()).await
    }

    /// Sends `request` through the node's anonymous proxy (not retried: the target may not
    /// be idempotent).
    pub async fn proxy_anon(&self, request: &AnonRequest) -> Result<AnonResponse> {
        self.transport
            .json(Call::post_json("v1/proxy/anon", request)?.at_least(std::time::Duration::from_secs(70)))
            .await
    }

    /// `/v1/network/peers`: `/p2p/<this node>`, its listen addresses, then each connected
    /// peer's `/p2p/<id>` and addresses.
    pub async fn peers(&self) -> Result<Vec<String>> {
        let mut answer: Value = self.transport.json(Call::get("v1/network/peers").public()).await?;
        serde_json::from_value(answer["peers"].take()).map_err(crate::error::Error::decode)
    }
}
