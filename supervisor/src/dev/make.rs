//! Making a dev cluster: its layout, secret, swarm keys, RQLite users, and each node's dirs,
//! bridge identity and IPFS repo. A new cluster gets all of them; an existing one asked for more
//! nodes gets the new nodes' (their ports after the others', their keys made the same way), and
//! the running nodes take them in without a restart: RQLite and Redis add members while they
//! serve, and the bridges and IPFS daemons admit any peer holding the swarm keys.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::time::Duration;

use orama_service::cluster::ClusterSecret;

use super::config::Programs;
use super::ipfs;
use super::layout::{DevNode, Engines, Layout};
use crate::cluster_keys::{Identity, new_identity, new_swarm_key, rqlite_users, write_new_private, write_private};

/// Fewest nodes a Redis Cluster cache is made of (`redis-cli --cluster create` needs 3 primaries).
const MIN_REDIS_NODES: usize = 3;

/// What `dev up` was asked.
#[derive(Debug, Clone)]
pub struct UpRequest {
    /// The cluster's directory.
    pub dir: PathBuf,
    /// Nodes of a new cluster; for an existing one, more than it has adds nodes.
    pub nodes: Option<usize>,
    /// The programs found; a new cluster shares a cache and storage engine when found.
    pub programs: Programs,
    /// A Redis Cluster as a new cluster's cache (`None`: when installed and 3 nodes or more).
    pub redis_cache: Option<bool>,
    /// Peered IPFS as a new cluster's storage (`None`: when installed).
    pub ipfs_storage: Option<bool>,
    /// How long to wait for the cluster.
    pub timeout: Duration,
    /// Ports all chosen by the system (for a new cluster).
    pub any_ports: bool,
}

/// The cluster's layout: made with its keys on first use, grown when more nodes are asked for.
pub fn prepare(request: &UpRequest, out: &mut dyn std::io::Write) -> Result<Layout, String> {
    std::fs::create_dir_all(&request.dir).map_err(|e| format!("{}: {e}", request.dir.display()))?;
    let dir = std::fs::canonicalize(&request.dir).map_err(|e| format!("{}: {e}", request.dir.display()))?;
    let Some(layout) = Layout::load(&dir)? else { return make(request, &dir, out) };
    if layout.engines.redis_cache && request.programs.cache.is_none() {
        return Err(
            "this cluster's cache is a Redis Cluster, and no redis-server (or valkey-server) is on the PATH".into()
        );
    }
    if layout.engines.ipfs_storage && request.programs.jsipfs.is_none() {
        return Err("this cluster stores on IPFS, and no jsipfs was found (--jsipfs DIR or ORAMA_JSIPFS)".into());
    }
    match request.nodes {
        Some(count) if count < layout.nodes.len() => Err(format!(
            "{} holds a {}-node cluster: `dev up` adds nodes but does not remove them (`dev down` and remove the \
             directory to start a smaller one)",
            dir.display(),
            layout.nodes.len()
        )),
        Some(count) if count > layout.nodes.len() => grow(layout, count, request, out),
        _ => Ok(layout),
    }
}

/// A new cluster of `request.nodes` (default 5) in `dir`.
fn make(request: &UpRequest, dir: &std::path::Path, out: &mut dyn std::io::Write) -> Result<Layout, String> {
    let count = request.nodes.unwrap_or(5);
    let engines = Engines {
        redis_cache: request.redis_cache.unwrap_or(request.programs.cache.is_some() && count >= MIN_REDIS_NODES),
        ipfs_storage: request.ipfs_storage.unwrap_or(request.programs.jsipfs.is_some()),
    };
    if engines.redis_cache && count < MIN_REDIS_NODES {
        return Err(format!(
            "a Redis Cluster needs {MIN_REDIS_NODES} nodes or more (one primary each): use --cache memory"
        ));
    }
    if engines.redis_cache && request.programs.cache.is_none() {
        return Err("--cache redis needs redis-server and redis-cli (or Valkey's) on the PATH".into());
    }
    if engines.ipfs_storage && request.programs.jsipfs.is_none() {
        return Err("--storage ipfs needs jsipfs (--jsipfs DIR, ORAMA_JSIPFS, or ./scripts/test's install)".into());
    }
    if !engines.redis_cache {
        let why = match (request.redis_cache, request.programs.cache.is_some()) {
            (Some(false), _) => "--cache memory",
            (_, false) => "no redis-server found",
            _ => "fewer than 3 nodes",
        };
        let _ = writeln!(out, "cache: each node its own memory ({why}; the cache is not shared)");
    }
    if !engines.ipfs_storage {
        let why = if request.ipfs_storage == Some(false) { "--storage embedded" } else { "no jsipfs found" };
        let _ = writeln!(out, "storage: each node its own disk ({why}; stored content is not shared)");
    }
    if count == 0 {
        return Err("a cluster needs at least one node".into());
    }
    let identities = (0..count).map(|_| new_identity()).collect::<Result<Vec<_>, _>>()?;
    let mut layout =
        Layout::new(dir, identities.iter().map(|i| i.peer_id.clone()).collect(), engines, request.any_ports)?;
    let secret = ClusterSecret::read_or_create(&layout.secret_file()).map_err(|e| e.to_string())?;
    write_new_private(&layout.swarm_key_file(), new_swarm_key()?.as_bytes())?;
    write_new_private(&layout.rqlite_auth_file(), rqlite_users(&secret).as_bytes())?;
    let names: Vec<String> = layout.nodes.iter().map(|n| n.name.clone()).collect();
    set_up_nodes(&mut layout, &names, &identities, request, out)?;
    Ok(layout)
}

/// `layout` with nodes added up to `count`.
fn grow(mut layout: Layout, count: usize, request: &UpRequest, out: &mut dyn std::io::Write) -> Result<Layout, String> {
    let identities = (layout.nodes.len()..count).map(|_| new_identity()).collect::<Result<Vec<_>, _>>()?;
    let names = layout.add_nodes(identities.iter().map(|i| i.peer_id.clone()).collect(), request.any_ports)?;
    let _ = writeln!(out, "adding {} to the cluster", names.join(", "));
    set_up_nodes(&mut layout, &names, &identities, request, out)?;
    Ok(layout)
}

/// Makes the dirs, bridge identity and IPFS repo of each node named in `names` (given its
/// identity in the same order), then records the layout.
fn set_up_nodes(
    layout: &mut Layout,
    names: &[String],
    identities: &[Identity],
    request: &UpRequest,
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    let new: Vec<&DevNode> = layout.nodes.iter().filter(|n| names.contains(&n.name)).collect();
    for (node, identity) in new.into_iter().zip(identities) {
        // Traversable by all: the WASM runner, as its own user, must reach its data dir below.
        let node_dir = layout.node_dir(node);
        std::fs::create_dir_all(&node_dir).map_err(|e| format!("{}: {e}", node_dir.display()))?;
        std::fs::set_permissions(&node_dir, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("{}: {e}", node_dir.display()))?;
        let bridge_dir = layout.data_dir(node).join("pubsub-bridge");
        write_private(&bridge_dir.join("identity.key"), &identity.file)?;
    }
    if let (true, Some(jsipfs)) = (layout.engines.ipfs_storage, &request.programs.jsipfs) {
        let _ = writeln!(out, "making {} IPFS repos", names.len());
        ipfs::init_repos(layout, jsipfs)?;
    }
    layout.save()
}
