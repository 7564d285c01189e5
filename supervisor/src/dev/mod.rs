//! `orama-supervisor dev up|status|down`: a whole cluster on one machine, for development and
//! for the end-to-end tests, as the Go original's `make dev`. Each node is a complete node (its
//! own supervisor, ports, data and sockets) under one directory; they share the cluster secret,
//! one RQLite Raft cluster (one rqlited per node) and a private libp2p network for pub/sub.
//!
//! Parts: [`layout`] (directories, ports, `dev.json`), [`make`] (a new cluster, or new nodes for a grown one), [`config`] (each node's
//! `orama.yaml`), [`cache`] and [`cache_form`] (the Redis Cluster), [`ipfs`] (the peered IPFS
//! daemons), [`processes`] (start, stop, pid files), [`probe`] (asking a running node), then the
//! commands [`up`], [`status`] and `down` (here).

pub mod cache;
pub mod cache_form;
pub mod config;
pub mod ipfs;
pub mod layout;
pub mod make;
pub mod probe;
pub mod processes;
pub mod status;
pub mod up;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// How long `dev down` gives each node to stop before killing it.
const DOWN_GRACE: Duration = Duration::from_secs(60);

/// The `dev` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DevCommand {
    /// Start the cluster (make it on first use) and wait until every node is ready.
    Up {
        /// Nodes of a new cluster (default 5); more than an existing cluster has adds nodes to it.
        #[arg(long, value_name = "N")]
        nodes: Option<usize>,
        /// The cluster's directory (default `~/.orama/dev`).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// RQLite's binary (default: `ORAMA_RQLITED`, `rqlited` on the PATH, or the one
        /// `./scripts/test` installs).
        #[arg(long, value_name = "FILE")]
        rqlited: Option<PathBuf>,
        /// How long to wait for the cluster to form.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "120s")]
        timeout: Duration,
        /// Print the nodes as JSON.
        #[arg(long)]
        json: bool,
        /// A new cluster's cache: `redis` (a Redis Cluster with a replica per primary) or
        /// `memory` (each node its own); default `redis` when redis-server is installed.
        #[arg(long, value_name = "ENGINE", value_parser = ["redis", "memory"])]
        cache: Option<String>,
        /// A new cluster's storage: `ipfs` (a peered IPFS node per node) or `embedded` (each
        /// node its own disk); default `ipfs` when js-ipfs is installed.
        #[arg(long, value_name = "ENGINE", value_parser = ["ipfs", "embedded"])]
        storage: Option<String>,
        /// Where js-ipfs is installed (a directory with its `node_modules`; default:
        /// `ORAMA_JSIPFS`, or the one `./scripts/test` installs).
        #[arg(long, value_name = "DIR")]
        jsipfs: Option<PathBuf>,
        /// Let the system choose every port, rather than trying 6001, 5001, 7001, 4001 + K
        /// first (for clusters started side by side, as the tests do).
        #[arg(long)]
        any_ports: bool,
    },
    /// Show every node: gateway, state, RQLite role, peers, children.
    Status {
        /// The cluster's directory (default `~/.orama/dev`).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Print JSON: one object per node.
        #[arg(long)]
        json: bool,
    },
    /// Stop every node (their data stays: `dev up` resumes it).
    Down {
        /// The cluster's directory (default `~/.orama/dev`).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Runs `command`.
pub async fn run(command: DevCommand) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match command {
        DevCommand::Up { nodes, dir, rqlited, timeout, json, any_ports, cache, storage, jsipfs } => {
            let programs = config::Programs {
                rqlited: up::find_rqlited(rqlited)?,
                cache: crate::engines::find_cache_programs(),
                jsipfs: ipfs::find_jsipfs(jsipfs),
            };
            let request = up::UpRequest {
                dir: cluster_dir(dir)?,
                nodes,
                programs,
                redis_cache: cache.map(|c| c == "redis"),
                ipfs_storage: storage.map(|s| s == "ipfs"),
                timeout,
                any_ports,
            };
            let mut progress: Box<dyn std::io::Write> =
                if json { Box::new(std::io::stderr()) } else { Box::new(std::io::stdout()) };
            let statuses = up::up(&request, &mut progress).await?;
            drop(progress);
            let text = if json { json_text(&statuses)? } else { status::status_text(&statuses) };
            out.write_all(text.as_bytes()).map_err(|e| e.to_string())
        }
        DevCommand::Status { dir, json } => {
            let layout = existing(dir)?;
            let statuses = status::statuses(&layout).await;
            let text = if json { json_text(&statuses)? } else { status::status_text(&statuses) };
            out.write_all(text.as_bytes()).map_err(|e| e.to_string())
        }
        DevCommand::Down { dir } => {
            let layout = existing(dir)?;
            let _one_at_a_time = processes::lock(&layout.dir)?;
            for node in &layout.nodes {
                let was_running = processes::stop(&layout, node, DOWN_GRACE).await;
                let said = if was_running { "stopped" } else { "was not running" };
                writeln!(out, "{}: {said}", node.name).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
    }
}

fn json_text(statuses: &[status::NodeStatus]) -> Result<String, String> {
    serde_json::to_string_pretty(statuses).map(|t| t + "\n").map_err(|e| e.to_string())
}

fn cluster_dir(dir: Option<PathBuf>) -> Result<PathBuf, String> {
    dir.or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".orama/dev")))
        .ok_or_else(|| "cannot choose the cluster's directory: pass --dir or set HOME".to_owned())
}

fn existing(dir: Option<PathBuf>) -> Result<layout::Layout, String> {
    let dir = cluster_dir(dir)?;
    layout::Layout::load(&dir)?.ok_or_else(|| format!("no dev cluster in {} (start one with `dev up`)", dir.display()))
}
