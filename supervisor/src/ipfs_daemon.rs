//! `orama-supervisor ipfs-daemon`: how an installed node runs its IPFS (Kubo) daemon. The
//! supervisor starts it as an external; it makes the repo on the first start (`ipfs init`),
//! then on every start puts the node's settings into the repo, so the node config stays the
//! one place they are set, and a repo that was lost is made again:
//!
//! - the node's libp2p identity (the pub/sub bridge's key), so a node has one peer id;
//! - the cluster's swarm key as the repo's `swarm.key`, with `LIBP2P_FORCE_PNET=1`, so the
//!   daemon speaks only to daemons holding it and refuses to start without it;
//! - its listen, announce and API addresses, the other nodes as bootstrap and peering peers
//!   (the daemon keeps its connections to those), and nothing that reaches outside the cluster
//!   (no mDNS, no public routers, no AutoTLS or AutoConf).
//!
//! Then it replaces itself with `ipfs daemon`, so the supervisor watches the daemon itself.
//! Repo migrations are not run by themselves (`--migrate=false`: Kubo would download them):
//! after an upgrade that needs one, the daemon stops and says so, and the operator runs
//! `ipfs repo migrate` (Kubo's `fs-repo-migrations`).

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_json::{Value, json};

/// `ipfs-daemon`'s options (written by `install` into the node config).
#[derive(Debug, Clone, clap::Args)]
pub struct IpfsDaemonArgs {
    /// Kubo's `ipfs` program.
    #[arg(long, value_name = "FILE")]
    pub ipfs: PathBuf,
    /// The repo (`IPFS_PATH`).
    #[arg(long, value_name = "DIR")]
    pub repo: PathBuf,
    /// The node's libp2p identity (the pub/sub bridge's key file).
    #[arg(long, value_name = "FILE")]
    pub identity: PathBuf,
    /// The cluster's swarm key (`swarm.key` format).
    #[arg(long, value_name = "FILE")]
    pub swarm_key: PathBuf,
    /// The swarm's listen addresses (`/ip4/0.0.0.0/tcp/4101`); repeated.
    #[arg(long = "listen", value_name = "MULTIADDR", required = true)]
    pub listens: Vec<String>,
    /// The address other nodes are told to dial.
    #[arg(long, value_name = "MULTIADDR")]
    pub announce: Option<String>,
    /// The RPC API's address (loopback: the gateway's way in).
    #[arg(long, value_name = "MULTIADDR")]
    pub api: String,
    /// Another node's daemon (`/ip4/…/tcp/4101/p2p/12D3KooW…`); repeated.
    #[arg(long = "peer", value_name = "MULTIADDR")]
    pub peers: Vec<String>,
}

/// Prepares the repo and runs the daemon in this process's place; returns only on failure.
pub fn run(args: &IpfsDaemonArgs) -> Result<std::convert::Infallible, String> {
    let config_path = args.repo.join("config");
    if !config_path.is_file() {
        init(args)?;
    }
    let key = std::fs::read(&args.swarm_key).map_err(|e| format!("{}: {e}", args.swarm_key.display()))?;
    crate::cluster_keys::write_private(&args.repo.join("swarm.key"), &key)?;
    let identity = std::fs::read(&args.identity).map_err(|e| format!("{}: {e}", args.identity.display()))?;
    let peer_id =
        crate::cluster_keys::peer_id_of(&identity).map_err(|e| format!("{}: {e}", args.identity.display()))?;
    let mut config = read_json(&config_path)?;
    apply(&mut config, args, &peer_id, &identity)?;
    let text = serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?;
    crate::cluster_keys::write_private(&config_path, text.as_bytes())?;
    use std::os::unix::process::CommandExt as _;
    let err = Command::new(&args.ipfs)
        .args(["daemon", "--migrate=false", "--enable-gc"])
        .env("IPFS_PATH", &args.repo)
        .env("LIBP2P_FORCE_PNET", "1")
        .exec();
    Err(format!("{}: {err}", args.ipfs.display()))
}

/// `ipfs init` into the repo (its datastore, keystore and a default config).
fn init(args: &IpfsDaemonArgs) -> Result<(), String> {
    std::fs::create_dir_all(&args.repo).map_err(|e| format!("{}: {e}", args.repo.display()))?;
    let status = Command::new(&args.ipfs)
        .args(["init", "--profile", "server", "--empty-repo"])
        .env("IPFS_PATH", &args.repo)
        .status()
        .map_err(|e| format!("{}: {e}", args.ipfs.display()))?;
    if !status.success() {
        return Err(format!("`{} init` failed ({status}) in {}", args.ipfs.display(), args.repo.display()));
    }
    Ok(())
}

/// The node's settings, put into the repo's `config`.
fn apply(config: &mut Value, args: &IpfsDaemonArgs, peer_id: &str, identity: &[u8]) -> Result<(), String> {
    config["Identity"] = json!({
        "PeerID": peer_id,
        "PrivKey": base64::engine::general_purpose::STANDARD.encode(identity),
    });
    let addresses = &mut config["Addresses"];
    addresses["Swarm"] = json!(args.listens);
    addresses["Announce"] = json!(args.announce.iter().collect::<Vec<_>>());
    // The `server` profile filters private ranges out: a cluster on a private network (or
    // behind carrier-grade NAT) needs them.
    addresses["NoAnnounce"] = json!([]);
    addresses["API"] = json!(args.api);
    addresses["Gateway"] = json!([]);
    addresses["Delegates"] = json!([]);
    let mut peering = Vec::new();
    for peer in &args.peers {
        let (addr, id) =
            peer.rsplit_once("/p2p/").ok_or_else(|| format!("--peer {peer}: no /p2p/<peer id> at its end"))?;
        peering.push(json!({ "ID": id, "Addrs": [addr] }));
    }
    config["Bootstrap"] = json!(args.peers);
    config["Peering"] = json!({ "Peers": peering });
    config["Swarm"]["AddrFilters"] = json!([]);
    config["Discovery"]["MDNS"]["Enabled"] = json!(false);
    config["Routing"]["Type"] = json!("dht");
    config["AutoTLS"]["Enabled"] = json!(false);
    config["AutoConf"]["Enabled"] = json!(false);
    Ok(())
}

fn read_json(path: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repo_takes_the_nodes_identity_addresses_and_peers() {
        let identity = crate::cluster_keys::new_identity().expect("identity");
        let args = IpfsDaemonArgs {
            ipfs: "ipfs".into(),
            repo: "/r".into(),
            identity: "/i".into(),
            swarm_key: "/k".into(),
            listens: vec!["/ip4/0.0.0.0/tcp/4101".into()],
            announce: Some("/ip4/203.0.113.7/tcp/4101".into()),
            api: "/ip4/127.0.0.1/tcp/5101".into(),
            peers: vec!["/ip4/203.0.113.8/tcp/4101/p2p/12D3KooWPeer".into()],
        };
        let mut config = json!({ "Addresses": { "Swarm": ["/ip4/0.0.0.0/tcp/4001"] }, "Datastore": { "kept": true } });
        apply(&mut config, &args, &identity.peer_id, &identity.file).expect("apply");
        assert_eq!(config["Identity"]["PeerID"], json!(identity.peer_id));
        assert!(config["Identity"]["PrivKey"].as_str().is_some_and(|k| k.starts_with("CAES")), "{config}");
        assert_eq!(config["Addresses"]["Swarm"], json!(["/ip4/0.0.0.0/tcp/4101"]));
        assert_eq!(
            config["Peering"]["Peers"][0],
            json!({ "ID": "12D3KooWPeer", "Addrs": ["/ip4/203.0.113.8/tcp/4101"] })
        );
        assert_eq!(config["Datastore"]["kept"], json!(true));
        let mut bad = args.clone();
        bad.peers = vec!["/ip4/203.0.113.8/tcp/4101".into()];
        assert!(apply(&mut config, &bad, &identity.peer_id, &identity.file).is_err());
    }
}
