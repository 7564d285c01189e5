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

    /// `/v1/network/peers`: `/p2p/<this node>`, its listen addresses, then each connected
    /// peer's `/p2p/<id>` and addresses.
    pub async fn peers(&self) -> Result<Vec<String>> {
        let mut answer: Value = self.transport.json(Call::get("v1/network/peers").public()).await?;
        serde_json::from_value(answer["peers"].take()).map_err(crate::error::Error::decode)
    }
}
