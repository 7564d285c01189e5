//! `dev up`: makes (or finds) the cluster's layout and keys, writes each node's config, starts
//! every node that is not running, and waits until all of them are ready: every child of every
//! node ready, which for a gateway means the RQLite cluster has a leader and its store is open.
//! A node that fails is named with why (its supervisor's or child's last lines), and the rest
//! are stopped.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use orama_service::cluster::ClusterSecret;

use super::config::{node_config, raft_tls_dir};
use super::layout::{DevNode, Layout};
pub use super::make::UpRequest;
use super::probe::{child_logs, supervisor_status};
use super::processes::{log_tail, running_pid, spawn, stop};
use super::status::NodeStatus;
use super::{cache, cache_form};
use crate::cluster_ca::ClusterCa;

/// Restarts of one child in a row after which `dev up` gives up on its node.
const MAX_RESTARTS: u32 = 3;
/// How long a node's supervisor gets to stop when `dev up` gives up.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// Brings the cluster up; its nodes' status once all are ready.
pub async fn up(request: &UpRequest, out: &mut dyn std::io::Write) -> Result<Vec<NodeStatus>, String> {
    let started = Instant::now();
    let _one_at_a_time = super::processes::lock(&request.dir)?;
    let layout = super::make::prepare(request, out)?;
    let secret = ClusterSecret::read(&layout.secret_file()).map_err(|e| e.to_string())?;
    let mut children: BTreeMap<String, Child> = BTreeMap::new();
    let raft_ca = ClusterCa::derive(&secret, "rqlite-raft").map_err(|e| e.to_string())?;
    for node in &layout.nodes {
        raft_ca.write_files(&raft_tls_dir(&layout, node), &node.name).map_err(|e| e.to_string())?;
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
        if let Err(failure) = cache_form::form(&layout, programs, &secret, deadline) {
            if children.len() < layout.nodes.len() {
                // Nodes joining a running cluster: their servers may hold slots by now, and
                // stopping them would take those keys from the cluster.
                return Err(format!(
                    "{failure}\nthe nodes are left running: `dev up` again finishes forming the cache"
                ));
            }
            outcome = Err(failure);
        } else {
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

/// RQLite's binary ([`crate::engines::find_rqlited`]), or what to do without one.
pub fn find_rqlited(flag: Option<PathBuf>) -> Result<PathBuf, String> {
    crate::engines::find_rqlited(flag).ok_or_else(|| {
        "dev clusters keep their SQL in RQLite, and no rqlited was found: pass --rqlited PATH, set ORAMA_RQLITED, \
             or put rqlited on the PATH (./scripts/test installs one under ~/.cache/orama)"
            .to_owned()
    })
}
