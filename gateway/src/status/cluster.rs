//! What `/v1/status` and `/v1/network/status` say of the cluster the node belongs to: the
//! system store's size (`database_size`, as the reference reads it from rqlite), the RQLite
//! members and leader as this node's rqlited sees them, and the node's IPFS daemon and IPFS
//! Cluster peer in the reference's shape (`peer_id` and addresses, loopback ones dropped).
//! Each question has its own 2 s bound and is asked at once with the others; what does not
//! answer is left out rather than guessed. The routes are public, so the answers are kept for
//! [`FRESH_FOR`] and asked by one request at a time: a flood of status requests costs the
//! engines one round of questions every few seconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orama_service::config::{NodeConfig, StorageEngine};
use serde::Serialize;
use serde_json::Value;

use crate::database::{ClusterMember, Database, Statement};

/// How long one question may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long answers are reused.
const FRESH_FOR: Duration = Duration::from_secs(5);

/// Where the cluster's facts are read.
#[derive(Clone)]
pub struct ClusterContext {
    store: Arc<dyn Database>,
    ipfs_api: Option<String>,
    ipfs_cluster_api: Option<String>,
    client: reqwest::Client,
    /// The last answers and when they were asked (locked while asking again).
    last: Arc<tokio::sync::Mutex<Option<(Instant, ClusterFacts)>>>,
}

impl std::fmt::Debug for ClusterContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterContext").field("engine", &self.store.engine()).finish_non_exhaustive()
    }
}

/// The facts, as the status bodies carry them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterFacts {
    /// Bytes of the system store (`page_count * page_size`); 0 when it did not answer.
    #[serde(skip)]
    pub database_size: u64,
    /// The node's IPFS daemon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipfs: Option<IpfsPeer>,
    /// The node's IPFS Cluster peer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipfs_cluster: Option<IpfsClusterPeer>,
    /// The RQLite cluster (not in the reference): its members and leader.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<SqlCluster>,
}

/// `ipfs` in the reference's NetworkStatus.
#[derive(Debug, Clone, Serialize)]
pub struct IpfsPeer {
    /// The daemon's peer id.
    pub peer_id: String,
    /// Its swarm addresses, loopback ones dropped.
    pub swarm_addresses: Vec<String>,
}

/// `ipfs_cluster` in the reference's NetworkStatus.
#[derive(Debug, Clone, Serialize)]
pub struct IpfsClusterPeer {
    /// The cluster peer's id.
    pub peer_id: String,
    /// Its addresses, loopback ones dropped.
    pub addresses: Vec<String>,
}

/// The RQLite cluster as this node's rqlited sees it.
#[derive(Debug, Clone, Serialize)]
pub struct SqlCluster {
    /// The leader's node id, if there is one.
    pub leader: Option<String>,
    /// Every member.
    pub members: Vec<ClusterMember>,
}

impl ClusterContext {
    /// The context for `config`'s engines over the system `store`.
    pub fn new(config: &NodeConfig, store: Arc<dyn Database>) -> ClusterContext {
        let storage = &config.backends.storage;
        let is_ipfs = storage.engine != StorageEngine::Embedded;
        ClusterContext {
            store,
            ipfs_api: storage.api_url.clone().filter(|_| is_ipfs),
            ipfs_cluster_api: storage.cluster_url.clone().filter(|_| is_ipfs),
            client: reqwest::Client::builder().no_proxy().timeout(ASK_TIMEOUT).build().unwrap_or_default(),
            last: Arc::default(),
        }
    }

    /// The facts, asked again when the last answers are older than [`FRESH_FOR`].
    pub async fn facts(&self) -> ClusterFacts {
        let mut last = self.last.lock().await;
        if let Some((at, facts)) = last.as_ref()
            && at.elapsed() < FRESH_FOR
        {
            return facts.clone();
        }
        let facts = self.ask().await;
        *last = Some((Instant::now(), facts.clone()));
        facts
    }

    /// Every fact, asked at once, each within [`ASK_TIMEOUT`].
    async fn ask(&self) -> ClusterFacts {
        let (database_size, ipfs, ipfs_cluster, cluster) =
            tokio::join!(self.database_size(), self.ipfs(), self.ipfs_cluster(), self.sql_cluster());
        ClusterFacts { database_size, ipfs, ipfs_cluster, cluster }
    }

    async fn database_size(&self) -> u64 {
        let query =
            Statement::new("SELECT page_count * page_size AS size FROM pragma_page_count(), pragma_page_size()");
        let rows = tokio::time::timeout(ASK_TIMEOUT, self.store.query(query)).await;
        let size = rows.ok().and_then(Result::ok).and_then(|rows| rows.get(0, "size").and_then(|v| v.as_i64()));
        size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0)
    }

    async fn sql_cluster(&self) -> Option<SqlCluster> {
        let members = tokio::time::timeout(ASK_TIMEOUT, self.store.members()).await.ok()?.ok()?;
        if members.is_empty() {
            return None;
        }
        let leader = members.iter().find(|m| m.leader).map(|m| m.id.clone());
        Some(SqlCluster { leader, members })
    }

    async fn ipfs(&self) -> Option<IpfsPeer> {
        let url = format!("{}/api/v0/id", self.ipfs_api.as_deref()?.trim_end_matches('/'));
        let id: Value = self.client.post(url).send().await.ok()?.json().await.ok()?;
        Some(IpfsPeer { peer_id: id["ID"].as_str()?.to_owned(), swarm_addresses: routable(&id["Addresses"]) })
    }

    async fn ipfs_cluster(&self) -> Option<IpfsClusterPeer> {
        let url = format!("{}/id", self.ipfs_cluster_api.as_deref()?.trim_end_matches('/'));
        let id: Value = self.client.get(url).send().await.ok()?.json().await.ok()?;
        Some(IpfsClusterPeer { peer_id: id["id"].as_str()?.to_owned(), addresses: routable(&id["addresses"]) })
    }
}

/// The strings of `addresses` that are not loopback (as the reference filters them).
fn routable(addresses: &Value) -> Vec<String> {
    let all = addresses.as_array().map(Vec::as_slice).unwrap_or_default();
    all.iter()
        .filter_map(Value::as_str)
        .filter(|a| !a.contains("127.0.0.1") && !a.contains("/ip6/::1"))
        .map(str::to_owned)
        .collect()
}
