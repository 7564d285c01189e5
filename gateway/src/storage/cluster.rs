//! Replicated pinning through IPFS Cluster's REST API (`POST /pins/{cid}` with
//! `replication-min`/`replication-max`/`name`, `DELETE /pins/{cid}`, `GET /pins/{cid}` for the
//! per-peer status), written to the documented API: no Cluster binary exists for the machines
//! this is built on, so its end-to-end test runs only where `ipfs-cluster-service` is
//! installed. Content still goes in and out through the IPFS node ([`KuboStorage`]); only pins
//! go through the Cluster, which has every peer fetch and keep the content.

use std::ops::Range;
use std::time::Duration;

use serde_json::Value;

use super::cid::{Cid, CidVersion};
use super::kubo::KuboStorage;
use super::{
    engine::Added, engine::ByteStream, engine::ReadStream, engine::Replication, engine::StorageEngine,
    engine::StorageError, engine::StorageFuture,
};

/// The IPFS engine with pins replicated by a Cluster.
#[derive(Debug, Clone)]
pub struct ClusteredStorage {
    node: KuboStorage,
    client: reqwest::Client,
    api: String,
    replication: u32,
    timeout: Duration,
}

impl ClusteredStorage {
    /// `node` for content, the Cluster REST API at `api` for pins kept on `replication` peers.
    pub fn new(node: KuboStorage, api: &str, replication: u32, timeout: Duration) -> Result<Self, StorageError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .build()
            .map_err(|e| StorageError::Internal(e.to_string()))?;
        Ok(ClusteredStorage { node, client, api: api.trim_end_matches('/').to_owned(), replication, timeout })
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Option<Value>, StorageError> {
        let response = request.send().await.map_err(|e| StorageError::Unavailable(format!("cluster: {e}")))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let text = response.text().await.map_err(|e| StorageError::Unavailable(format!("cluster: {e}")))?;
        if !status.is_success() {
            return Err(StorageError::Unavailable(format!("cluster answered {status}: {text}")));
        }
        Ok(Some(serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

/// The Cluster's view of a pin: the first peer status that is not `pinned` (the one worth
/// reporting), else `pinned`; the peers that hold it.
fn replication_of(info: &Value) -> Replication {
    let peers: Vec<(String, String)> = info["peer_map"]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(peer, state)| (peer.clone(), state["status"].as_str().unwrap_or("unknown").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let status = peers
        .iter()
        .map(|(_, status)| status.as_str())
        .find(|status| *status != "pinned")
        .unwrap_or(if peers.is_empty() { "unknown" } else { "pinned" })
        .to_owned();
    Replication { status, factor: peers.len(), peers: peers.into_iter().map(|(peer, _)| peer).collect() }
}

impl StorageEngine for ClusteredStorage {
    fn add(&self, content: ByteStream, version: CidVersion) -> StorageFuture<'_, Added> {
        self.node.add(content, version)
    }

    fn size(&self, cid: Cid) -> StorageFuture<'_, Option<u64>> {
        self.node.size(cid)
    }

    fn read(&self, cid: Cid, range: Range<u64>) -> StorageFuture<'_, ReadStream> {
        self.node.read(cid, range)
    }

    fn pin(&self, cid: Cid) -> StorageFuture<'_, ()> {
        let n = self.replication.to_string();
        let request = self
            .client
            .post(format!("{}/pins/{cid}", self.api))
            .query(&[("replication-min", n.as_str()), ("replication-max", n.as_str())]);
        Box::pin(async move { self.send(request).await.map(drop) })
    }

    fn unpin(&self, cid: Cid) -> StorageFuture<'_, ()> {
        let request = self.client.delete(format!("{}/pins/{cid}", self.api));
        Box::pin(async move { self.send(request).await.map(drop) })
    }

    fn replication(&self, cid: Cid) -> StorageFuture<'_, Option<Replication>> {
        let request = self.client.get(format!("{}/pins/{cid}", self.api)).timeout(self.timeout);
        Box::pin(async move { Ok(self.send(request).await?.map(|info| replication_of(&info))) })
    }

    fn engine(&self) -> &'static str {
        "ipfs-cluster"
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_pins_status_is_its_least_finished_peer() {
        let info = json!({"cid": "Qm…", "peer_map": {"a": {"status": "pinned"}, "b": {"status": "pinning"}}});
        let replication = replication_of(&info);
        assert_eq!((replication.status.as_str(), replication.factor), ("pinning", 2));
        assert_eq!(replication_of(&json!({"peer_map": {"a": {"status": "pinned"}}})).status, "pinned");
        assert_eq!(replication_of(&json!({})).status, "unknown");
    }
}
