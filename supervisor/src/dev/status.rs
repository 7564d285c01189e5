//! `dev status`: every node of the dev cluster as it is now: its supervisor, each child's
//! state, the RQLite cluster as the node's rqlited sees it, and its bridge's peers. One JSON
//! object per node with `--json`; a table otherwise.

use std::collections::BTreeMap;
use std::path::PathBuf;

use orama_service::cluster::ClusterSecret;
use serde::Serialize;

use super::layout::{DevNode, Layout};
use super::probe::{RqliteView, bridge_peers, ipfs_peers, rqlite_view, supervisor_status};
use super::processes::running_pid;
use crate::text_table::render_table;

/// One node as `dev status` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// `node1`, ...
    pub name: String,
    /// Its gateway's URL.
    pub gateway: String,
    /// Its sockets' directory (`ctl --runtime-dir` reaches it).
    pub runtime_dir: PathBuf,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Whether every child is ready.
    pub ready: bool,
    /// Its supervisor's pid, when it runs.
    pub pid: Option<i32>,
    /// Each child's state.
    pub children: BTreeMap<String, String>,
    /// The RQLite cluster as this node's rqlited sees it (`None` when it does not answer).
    pub rqlite: Option<RqliteView>,
    /// How many nodes its bridge is connected to.
    pub pubsub_peers: Option<usize>,
    /// How many peers its IPFS daemon is connected to (when the cluster stores on IPFS).
    pub ipfs_peers: Option<usize>,
}

/// The status of every node of `layout`.
pub async fn statuses(layout: &Layout) -> Vec<NodeStatus> {
    let secret = ClusterSecret::read(&layout.secret_file()).ok();
    let mut all = Vec::new();
    for node in &layout.nodes {
        all.push(node_status(layout, node, secret.as_ref()).await);
    }
    all
}

async fn node_status(layout: &Layout, node: &DevNode, secret: Option<&ClusterSecret>) -> NodeStatus {
    let runtime_dir = layout.runtime_dir(node);
    let pid = running_pid(layout, node).map(|p| p.as_raw_nonzero().get());
    let report = match pid {
        Some(_) => supervisor_status(&runtime_dir).await,
        None => None,
    };
    let children: BTreeMap<String, String> =
        report.iter().flat_map(|r| &r.children).map(|c| (c.name.clone(), c.state.clone())).collect();
    let ready = !children.is_empty() && children.values().all(|state| state == "ready");
    let rqlite = match (pid, secret) {
        (Some(_), Some(secret)) => {
            rqlite_view(node.rqlite_http, "orama-gateway", &secret.password_for("rqlite")).await.ok()
        }
        _ => None,
    };
    let pubsub_peers = if pid.is_some() { bridge_peers(&runtime_dir).await } else { None };
    let ipfs_peers = match (pid, &node.ipfs) {
        (Some(_), Some(ipfs)) => ipfs_peers(ipfs.api).await,
        _ => None,
    };
    NodeStatus {
        name: node.name.clone(),
        gateway: Layout::gateway_url(node),
        runtime_dir,
        data_dir: layout.data_dir(node),
        ready,
        pid,
        children,
        rqlite,
        pubsub_peers,
        ipfs_peers,
    }
}

/// The statuses as a table, with the cluster's leader and members under it.
pub fn status_text(statuses: &[NodeStatus]) -> String {
    let header = ["NODE", "STATE", "GATEWAY", "RQLITE", "PUBSUB PEERS", "IPFS PEERS", "CHILDREN", "DATA"];
    let mut rows = vec![header.map(String::from).to_vec()];
    for status in statuses {
        let state = match (status.pid, status.ready) {
            (None, _) => "stopped",
            (Some(_), true) => "ready",
            (Some(_), false) => "starting",
        };
        let rqlite = match &status.rqlite {
            Some(view) if view.leader.as_deref() == Some(&status.name) => "leader".to_owned(),
            Some(view) if view.leader.is_some() => "follower".to_owned(),
            Some(_) => "no leader".to_owned(),
            None => "-".to_owned(),
        };
        let children: Vec<String> =
            status.children.iter().filter(|(_, s)| *s != "ready").map(|(n, s)| format!("{n} {s}")).collect();
        let children = if status.children.is_empty() {
            "-".to_owned()
        } else if children.is_empty() {
            format!("all {} ready", status.children.len())
        } else {
            children.join(", ")
        };
        rows.push(vec![
            status.name.clone(),
            state.to_owned(),
            status.gateway.clone(),
            rqlite,
            status.pubsub_peers.map_or("-".to_owned(), |n| n.to_string()),
            status.ipfs_peers.map_or("-".to_owned(), |n| n.to_string()),
            children,
            status.data_dir.display().to_string(),
        ]);
    }
    let mut text = render_table(&rows);
    if let Some(view) = statuses.iter().find_map(|s| s.rqlite.as_ref()) {
        text.push_str(&format!(
            "\nRQLite: leader {}, members {}{}\n",
            view.leader.as_deref().unwrap_or("none"),
            view.members.join(", "),
            if view.unreachable.is_empty() {
                String::new()
            } else {
                format!(", unreachable {}", view.unreachable.join(", "))
            }
        ));
    }
    text
}
