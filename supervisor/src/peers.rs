//! `orama-supervisor ctl peers ...`: the node's libp2p peers, and connecting or disconnecting
//! one, served by the pub/sub bridge's socket. These are operator actions: a tenant that could
//! make the node dial its own peer would receive, and could forge, every namespace's messages.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use orama_ipc::IpcClient;
use serde_json::{Value, json};

use crate::ctl_error::CtlError;

/// The `peers` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum PeersCommand {
    /// The node's peer id and addresses, and its connected peers.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Dial a node (`/ip4/<address>/tcp/<port>/p2p/<peer id>`).
    Connect {
        /// The node's multiaddr.
        multiaddr: String,
    },
    /// Close the connections to a peer.
    Disconnect {
        /// The peer id.
        peer_id: String,
    },
}

/// Runs `command` against the bridge whose socket is `socket`.
pub async fn run(socket: &Path, command: PeersCommand) -> Result<(), CtlError> {
    let client = IpcClient::new(socket).with_timeout(Duration::from_secs(15));
    let mut out = std::io::stdout().lock();
    match command {
        PeersCommand::List { json } => {
            let peers: Value = client.get_json("/v1/peers").await.map_err(CtlError::from_child("pub/sub bridge"))?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&peers).unwrap_or_default())?;
            } else {
                write!(out, "{}", table(&peers))?;
            }
        }
        PeersCommand::Connect { multiaddr } => {
            let _: Value = client
                .post_json("/v1/connect", &json!({ "multiaddr": multiaddr }))
                .await
                .map_err(CtlError::from_child("pub/sub bridge"))?;
            writeln!(out, "dialling {multiaddr}")?;
        }
        PeersCommand::Disconnect { peer_id } => {
            let _: Value = client
                .post_json("/v1/disconnect", &json!({ "peer_id": peer_id }))
                .await
                .map_err(CtlError::from_child("pub/sub bridge"))?;
            writeln!(out, "disconnected {peer_id}")?;
        }
    }
    Ok(())
}

/// This node, then one line per peer: id and addresses.
fn table(peers: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let addresses =
        |v: &Value| v.as_array().map(|a| a.iter().map(text).collect::<Vec<_>>().join(" ")).unwrap_or_default();
    let mut out = format!("this node  {}  {}\n", text(&peers["peer_id"]), addresses(&peers["listen_addrs"]));
    let connected = peers["peers"].as_array().cloned().unwrap_or_default();
    if connected.is_empty() {
        out.push_str("no peers connected\n");
    }
    for peer in connected {
        out.push_str(&format!("peer       {}  {}\n", text(&peer["peer_id"]), addresses(&peer["addrs"])));
    }
    out
}
