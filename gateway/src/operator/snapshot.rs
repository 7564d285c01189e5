//! What the operator page shows, gathered at once and each part within [`ASK_TIMEOUT`]: the
//! node's processes (from the supervisor's control socket), its backends (each asked a
//! question that touches the engine), the cluster (the status routes' facts), the TLS
//! certificate's expiry and the last hour's history.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use orama_ipc::IpcClient;
use orama_ipc::control::{CHILDREN_PATH, StatusReport};

use crate::cache::{CacheStore, Dmap};
use crate::database::Database;
use crate::http::history::{self, Sample};
use crate::pubsub::PubsubContext;
use crate::status::bodies::{NodeIdentity, Started};
use crate::status::cluster::{ClusterContext, ClusterFacts};
use crate::storage::StorageEngine;
use crate::storage::cid::Cid;

/// How long each source has to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// The CID of an empty file: asking its size reaches the storage engine and changes nothing.
const EMPTY_FILE: &str = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH";

/// Where the page's facts come from.
#[derive(Clone)]
pub struct Sources {
    /// The supervisor's control socket (absent when the gateway runs alone).
    pub supervisor_socket: PathBuf,
    /// The system store (the SQL backend).
    pub store: Arc<dyn Database>,
    /// The cache engine.
    pub cache: Arc<dyn CacheStore>,
    /// The storage engine.
    pub storage: Arc<dyn StorageEngine>,
    /// The cluster's facts.
    pub cluster: ClusterContext,
    /// The pub/sub bridge, for the node's identity.
    pub pubsub: PubsubContext,
    /// When this gateway started.
    pub started: Started,
    /// When TLS is on: the served certificate's expiry, as last loaded.
    pub tls_expiry: fn() -> Option<SystemTime>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources").field("supervisor_socket", &self.supervisor_socket).finish_non_exhaustive()
    }
}

/// One backend's state.
#[derive(Debug)]
pub struct Backend {
    /// What it serves: SQL, cache or storage.
    pub role: &'static str,
    /// The engine's name.
    pub engine: &'static str,
    /// How long the question took, or why it failed.
    pub answer: Result<Duration, String>,
}

/// Everything the page shows.
#[derive(Debug)]
pub struct Snapshot {
    /// How long the gateway has run.
    pub uptime: Duration,
    /// The node's libp2p identity, when the bridge answered.
    pub node: Option<NodeIdentity>,
    /// The node's libp2p peers: each one's id and addresses.
    pub peers: Vec<(String, Vec<String>)>,
    /// The supervisor's report, or why there is none.
    pub processes: Result<StatusReport, String>,
    /// The backends.
    pub backends: Vec<Backend>,
    /// The cluster's facts.
    pub cluster: ClusterFacts,
    /// The served certificate's expiry (none without TLS).
    pub tls_expiry: Option<SystemTime>,
    /// The last hour, oldest first.
    pub history: Vec<Sample>,
}

/// Gathers a snapshot from `sources`.
pub async fn take(sources: &Sources) -> Snapshot {
    let (processes, peers, cluster, sql, cache, storage) = tokio::join!(
        processes(sources),
        tokio::time::timeout(ASK_TIMEOUT, sources.pubsub.hub.bridge().peers()),
        sources.cluster.facts(),
        timed(async { sources.store.ping().await.map_err(|e| e.to_string()) }),
        timed(async { probe_cache(sources.cache.as_ref()).await }),
        timed(async { probe_storage(sources.storage.as_ref()).await }),
    );
    let answer = peers.ok().and_then(Result::ok);
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let peers: Vec<(String, Vec<String>)> = answer
        .iter()
        .flat_map(|a| a["peers"].as_array().into_iter().flatten())
        .map(|p| (text(&p["peer_id"]), p["addrs"].as_array().into_iter().flatten().map(text).collect()))
        .collect();
    let node = answer.as_ref().map(|a| NodeIdentity { peer_id: text(&a["peer_id"]), peer_count: peers.len() as u32 });
    Snapshot {
        uptime: sources.started.elapsed(),
        node,
        peers,
        processes,
        backends: vec![
            Backend { role: "SQL", engine: sources.store.engine(), answer: sql },
            Backend { role: "cache", engine: sources.cache.engine(), answer: cache },
            Backend { role: "storage", engine: sources.storage.engine(), answer: storage },
        ],
        cluster,
        tls_expiry: (sources.tls_expiry)(),
        history: history::samples(),
    }
}

async fn processes(sources: &Sources) -> Result<StatusReport, String> {
    let client = IpcClient::new(&sources.supervisor_socket).with_timeout(ASK_TIMEOUT);
    client.get_json(CHILDREN_PATH).await.map_err(|e| format!("the supervisor did not answer: {e}"))
}

/// How long `question` took to succeed, or why it failed (a timeout among the reasons).
async fn timed(question: impl Future<Output = Result<(), String>>) -> Result<Duration, String> {
    let began = Instant::now();
    match tokio::time::timeout(ASK_TIMEOUT, question).await {
        Ok(Ok(())) => Ok(began.elapsed()),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(format!("no answer within {} s", ASK_TIMEOUT.as_secs())),
    }
}

async fn probe_cache(cache: &dyn CacheStore) -> Result<(), String> {
    let dmap = Dmap { namespace: Arc::from("_operator"), name: "probe".to_owned() };
    cache.get(&dmap, "probe").await.map(drop).map_err(|e| e.to_string())
}

async fn probe_storage(storage: &dyn StorageEngine) -> Result<(), String> {
    let cid = Cid::parse(EMPTY_FILE).ok_or("the probe's CID does not parse")?;
    storage.size(cid).await.map(drop).map_err(|e| e.to_string())
}
