//! Where a dev cluster lives: its directory (`dev.json`, the shared secret, swarm key and
//! RQLite users; one `nodeK/` per node with its config, data, log and pid file) and each node's
//! ports, chosen once and kept so `dev up` after `dev down` resumes the same cluster.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// First ports tried, node K taking base + K (the Go original's `make dev` ports); a taken one
/// is replaced by any free port.
const GATEWAY_BASE: u16 = 6000;
const RQLITE_HTTP_BASE: u16 = 5000;
const RQLITE_RAFT_BASE: u16 = 7000;
const P2P_BASE: u16 = 4000;
const CACHE_BASE: u16 = 6379;
const IPFS_API_BASE: u16 = 4500;
/// Longest runtime directory kept under the cluster's directory (sockets must fit `sun_path`).
const MAX_RUNTIME_DIR: usize = 70;

/// One node of the dev cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevNode {
    /// `node1`, `node2`, ...
    pub name: String,
    /// The gateway's port on 127.0.0.1.
    pub gateway_port: u16,
    /// rqlited's HTTP API port.
    pub rqlite_http: u16,
    /// rqlited's Raft port.
    pub rqlite_raft: u16,
    /// The pub/sub bridge's libp2p port.
    pub p2p_port: u16,
    /// The bridge's libp2p peer id (its key is made by `dev up`).
    pub peer_id: String,
    /// Its two cache servers, when the cluster's cache is a Redis Cluster.
    #[serde(default)]
    pub cache: Option<CachePorts>,
    /// Its IPFS node, when the cluster stores on IPFS.
    #[serde(default)]
    pub ipfs: Option<IpfsNode>,
}

impl DevNode {
    /// Every port the node listens on.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports = vec![self.gateway_port, self.rqlite_http, self.rqlite_raft, self.p2p_port];
        if let Some(c) = &self.cache {
            ports.extend([c.primary, c.primary_bus, c.replica, c.replica_bus, c.primary_tls, c.replica_tls]);
        }
        if let Some(ipfs) = &self.ipfs {
            ports.extend([ipfs.api, ipfs.swarm, ipfs.gateway]);
        }
        ports
    }
}

/// A node's two Redis Cluster members: a primary, and a replica of the next node's primary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachePorts {
    /// The primary's client port.
    pub primary: u16,
    /// The primary's cluster bus port.
    pub primary_bus: u16,
    /// The replica's client port.
    pub replica: u16,
    /// The replica's cluster bus port.
    pub replica_bus: u16,
    /// The primary's TLS port (what its replica replicates over).
    pub primary_tls: u16,
    /// The replica's TLS port (what a replica replicates over once it is promoted).
    pub replica_tls: u16,
}

/// A node's IPFS daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpfsNode {
    /// Its RPC API port (what the gateway calls).
    pub api: u16,
    /// Its swarm port (what the other IPFS nodes dial).
    pub swarm: u16,
    /// Its HTTP gateway port (loopback, unused by us).
    pub gateway: u16,
    /// Its peer id (read from its repo once made).
    pub peer_id: String,
}

/// Which engines the cluster's nodes share, chosen when it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Engines {
    /// A Redis Cluster across the nodes (else each node's cache is its own memory).
    pub redis_cache: bool,
    /// An IPFS node per node, peered (else each node stores on its own disk).
    pub ipfs_storage: bool,
}

/// The whole dev cluster, as `dev.json` keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Layout {
    /// The nodes, in order.
    pub nodes: Vec<DevNode>,
    /// The shared engines.
    #[serde(default)]
    pub engines: Engines,
    /// The cluster's directory (not stored: where `dev.json` was found).
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Layout {
    /// The layout kept in `dir`, if a cluster was made there.
    pub fn load(dir: &Path) -> Result<Option<Layout>, String> {
        let path = dir.join("dev.json");
        match std::fs::read(&path) {
            Ok(bytes) => {
                let mut layout: Layout =
                    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
                layout.dir = dir.to_path_buf();
                Ok(Some(layout))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(format!("{}: {err}", path.display())),
        }
    }

    /// A new layout of one node per bridge id in `peer_ids`, in `dir`, on free loopback ports
    /// (IPFS peer ids are filled in once the repos are made).
    pub fn new(dir: &Path, peer_ids: Vec<String>, engines: Engines, any_ports: bool) -> Result<Layout, String> {
        let mut layout = Layout { nodes: Vec::new(), engines, dir: dir.to_path_buf() };
        layout.add_nodes(peer_ids, any_ports)?;
        Ok(layout)
    }

    /// Adds one node per bridge id in `peer_ids` after the existing ones, on ports none of them
    /// uses; the new nodes' names.
    pub fn add_nodes(&mut self, peer_ids: Vec<String>, any_ports: bool) -> Result<Vec<String>, String> {
        let mut taken: Vec<u16> = self.nodes.iter().flat_map(DevNode::ports).collect();
        let mut port = |base: u16, k: u16| -> Result<u16, String> {
            let preferred = if any_ports { None } else { Some(base.saturating_add(k)) };
            let port = free_port(preferred, &taken)?;
            taken.push(port);
            Ok(port)
        };
        let first = self.nodes.len();
        let mut added = Vec::new();
        for (i, peer_id) in peer_ids.into_iter().enumerate() {
            let k = u16::try_from(first + i + 1).map_err(|_| "too many nodes".to_owned())?;
            added.push(DevNode {
                name: format!("node{k}"),
                gateway_port: port(GATEWAY_BASE, k)?,
                rqlite_http: port(RQLITE_HTTP_BASE, k)?,
                rqlite_raft: port(RQLITE_RAFT_BASE, k)?,
                p2p_port: port(P2P_BASE, k)?,
                peer_id,
                cache: None,
                ipfs: None,
            });
        }
        for (i, node) in added.iter_mut().enumerate() {
            let k = u16::try_from(first + i + 1).map_err(|_| "too many nodes".to_owned())?;
            if self.engines.redis_cache {
                node.cache = Some(CachePorts {
                    primary: port(CACHE_BASE, 2 * k - 1)?,
                    primary_bus: port(CACHE_BASE + 10000, 2 * k - 1)?,
                    replica: port(CACHE_BASE, 2 * k)?,
                    replica_bus: port(CACHE_BASE + 10000, 2 * k)?,
                    primary_tls: port(CACHE_BASE + 20000, 2 * k - 1)?,
                    replica_tls: port(CACHE_BASE + 20000, 2 * k)?,
                });
            }
            if self.engines.ipfs_storage {
                node.ipfs = Some(IpfsNode {
                    api: port(IPFS_API_BASE, k)?,
                    swarm: port(IPFS_API_BASE + 100, k)?,
                    gateway: port(IPFS_API_BASE + 200, k)?,
                    peer_id: String::new(),
                });
            }
        }
        let names = added.iter().map(|n| n.name.clone()).collect();
        self.nodes.extend(added);
        Ok(names)
    }

    /// Writes `dev.json`.
    pub fn save(&self) -> Result<(), String> {
        let path = self.dir.join("dev.json");
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A node's own directory.
    pub fn node_dir(&self, node: &DevNode) -> PathBuf {
        self.dir.join(&node.name)
    }

    /// A node's data directory.
    pub fn data_dir(&self, node: &DevNode) -> PathBuf {
        self.node_dir(node).join("data")
    }

    /// A node's runtime directory: `nodeK/run`, or one under `/tmp` when that path is too long
    /// for Unix sockets.
    pub fn runtime_dir(&self, node: &DevNode) -> PathBuf {
        let near = self.node_dir(node).join("run");
        if near.as_os_str().len() <= MAX_RUNTIME_DIR {
            return near;
        }
        let hash = self
            .dir
            .as_os_str()
            .as_encoded_bytes()
            .iter()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
        std::env::temp_dir().join(format!("orama-dev-{hash:016x}")).join(&node.name)
    }

    /// A node's config file.
    pub fn config_file(&self, node: &DevNode) -> PathBuf {
        self.node_dir(node).join("orama.yaml")
    }

    /// Where a node's supervisor writes its output.
    pub fn log_file(&self, node: &DevNode) -> PathBuf {
        self.node_dir(node).join("supervisor.log")
    }

    /// Where a node's supervisor's pid is kept while it runs.
    pub fn pid_file(&self, node: &DevNode) -> PathBuf {
        self.node_dir(node).join("supervisor.pid")
    }

    /// The cluster secret's file.
    pub fn secret_file(&self) -> PathBuf {
        self.dir.join("cluster.secret")
    }

    /// The swarm key's file (the bridges' private network).
    pub fn swarm_key_file(&self) -> PathBuf {
        self.dir.join("swarm.key")
    }

    /// RQLite's users file (`-auth`).
    pub fn rqlite_auth_file(&self) -> PathBuf {
        self.dir.join("rqlite-auth.json")
    }

    /// The gateway URL of `node`.
    pub fn gateway_url(node: &DevNode) -> String {
        format!("http://127.0.0.1:{}", node.gateway_port)
    }
}

/// Ports chosen at random lie here, below Linux's ephemeral range (32768-60999): a port the
/// system hands out to some other program's `bind(0)` or outgoing connection between our check
/// and the node's own bind cannot be one of ours.
const RANDOM_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// `preferred` when it is free on 127.0.0.1 and not `taken`, else a free one at random from
/// [`RANDOM_PORTS`].
fn free_port(preferred: Option<u16>, taken: &[u16]) -> Result<u16, String> {
    let free = |port: u16| !taken.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok();
    if let Some(preferred) = preferred.filter(|&p| free(p)) {
        return Ok(preferred);
    }
    for _ in 0..1000 {
        let mut bytes = [0u8; 2];
        getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
        let span = RANDOM_PORTS.end - RANDOM_PORTS.start;
        let port = RANDOM_PORTS.start + u16::from_le_bytes(bytes) % span;
        if free(port) {
            return Ok(port);
        }
    }
    Err(format!("no free port in {RANDOM_PORTS:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_also_after_growing_and_the_layout_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engines = Engines { redis_cache: true, ipfs_storage: true };
        let layout = Layout::new(dir.path(), vec!["a".into(), "b".into(), "c".into()], engines, true).expect("layout");
        let mut layout = layout;
        let added = layout.add_nodes(vec!["d".into()], true).expect("grown");
        assert_eq!(added, ["node4"]);
        let mut ports: Vec<u16> = layout.nodes.iter().flat_map(DevNode::ports).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 4 * 13);
        layout.save().expect("save");
        let loaded = Layout::load(dir.path()).expect("load").expect("a layout");
        assert_eq!(loaded.nodes, layout.nodes);
        assert!(Layout::load(&dir.path().join("none")).expect("load").is_none());
    }

    #[test]
    fn long_directories_keep_sockets_under_tmp() {
        let layout =
            Layout::new(Path::new(&"/d".repeat(40)), vec!["a".into()], Engines::default(), true).expect("layout");
        let runtime = layout.runtime_dir(&layout.nodes[0]);
        assert!(runtime.starts_with(std::env::temp_dir()) && runtime.ends_with("node1"), "{runtime:?}");
    }
}
