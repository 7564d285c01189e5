//! The dev cluster's storage: one IPFS daemon per node (js-ipfs, the Kubo-compatible
//! implementation the tests run, from `ORAMA_JSIPFS` or `~/.cache/orama/jsipfs-peering`), each with its
//! own repo in the node's data dir, listening on loopback only, discovery off, bootstrapped to
//! every other node's daemon, and run through a launcher that makes the swarm a private
//! network (only daemons with the cluster's IPFS swarm key connect), so a block one node holds
//! is fetched by the others over bitswap and by no one else. `dev up` makes the repos (in parallel) before the first start and reads back each
//! peer id for the others' bootstrap lists.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::layout::{DevNode, IpfsNode, Layout};

/// Runs js-ipfs's daemon with a private-network connection protector (the stock daemon ignores
/// `swarm.key`): only daemons holding the cluster's IPFS swarm key can connect. Modules are
/// imported by path from the install's `node_modules` (`ORAMA_JSIPFS_MODULES`).
const LAUNCHER: &str = "import fs from 'node:fs'
const modules = process.env.ORAMA_JSIPFS_MODULES
const { Daemon } = await import(modules + '/ipfs-daemon/src/index.js')
const { createLibp2p } = await import(modules + '/libp2p/dist/src/index.js')
const { preSharedKey } = await import(modules + '/libp2p/dist/src/pnet/index.js')
const psk = fs.readFileSync(process.env.ORAMA_SWARM_KEY)
const daemon = new Daemon({ repo: process.env.IPFS_PATH, libp2p: async ({ libp2pOptions }) =>
  createLibp2p({ ...libp2pOptions, connectionProtector: preSharedKey({ psk }) }) })
await daemon.start()
console.log('Daemon is ready')
const stop = async () => { await daemon.stop(); process.exit(0) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
";

/// js-ipfs needs `Promise.withResolvers`, which older Node releases lack.
const POLYFILL: &str = "if (!Promise.withResolvers) Promise.withResolvers = function () { let resolve, reject;\n\
    const promise = new Promise((a, b) => { resolve = a; reject = b; }); return { promise, resolve, reject }; };\n";

/// The `jsipfs` program, from `--jsipfs DIR`, `ORAMA_JSIPFS` or `~/.cache/orama/jsipfs-peering`
/// (each a directory holding its `node_modules`; `./scripts/test` installs the last, with the
/// one version of `@multiformats/multiaddr` that lets a daemon listen on TCP).
pub fn find_jsipfs(flag: Option<PathBuf>) -> Option<PathBuf> {
    let cached = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/orama/jsipfs-peering"));
    [flag, std::env::var_os("ORAMA_JSIPFS").map(PathBuf::from), cached]
        .into_iter()
        .flatten()
        .map(|dir| dir.join("node_modules/.bin/jsipfs"))
        .find(|bin| bin.is_file())
}

/// A node's IPFS repo.
pub fn repo(layout: &Layout, node: &DevNode) -> PathBuf {
    layout.data_dir(node).join("ipfs")
}

/// The polyfill file the daemons load.
fn polyfill(layout: &Layout) -> PathBuf {
    layout.dir.join("jsipfs-polyfill.cjs")
}

/// The launcher script the daemons run.
pub fn launcher(layout: &Layout) -> PathBuf {
    layout.dir.join("jsipfs-launcher.mjs")
}

/// The IPFS private network's key: the bridges' swarm key, one key for the cluster as an
/// installed node has.
pub fn swarm_key(layout: &Layout) -> PathBuf {
    layout.swarm_key_file()
}

/// The environment of `node`'s daemon (and of `jsipfs init`), `jsipfs` being the install's
/// `node_modules/.bin/jsipfs`.
pub fn env(layout: &Layout, node: &DevNode, jsipfs: &Path) -> Vec<(String, String)> {
    let modules = jsipfs.parent().and_then(Path::parent).unwrap_or(Path::new("."));
    vec![
        ("IPFS_PATH".into(), repo(layout, node).display().to_string()),
        ("NODE_OPTIONS".into(), format!("--require {}", polyfill(layout).display())),
        ("ORAMA_JSIPFS_MODULES".into(), modules.display().to_string()),
        ("ORAMA_SWARM_KEY".into(), swarm_key(layout).display().to_string()),
    ]
}

/// Makes the repo of every node that has none yet (all at once) and fills in their peer ids,
/// then points every repo at all the others (a running daemon reads its list when it next
/// starts; until then the new nodes dial it).
pub fn init_repos(layout: &mut Layout, jsipfs: &Path) -> Result<(), String> {
    std::fs::write(polyfill(layout), POLYFILL).map_err(|e| format!("{}: {e}", polyfill(layout).display()))?;
    std::fs::write(launcher(layout), LAUNCHER).map_err(|e| format!("{}: {e}", launcher(layout).display()))?;
    let new = |node: &DevNode| node.ipfs.as_ref().is_some_and(|ipfs| ipfs.peer_id.is_empty());
    let peer_ids: Vec<Result<String, String>> = std::thread::scope(|scope| {
        let layout = &*layout;
        let handles: Vec<_> = layout
            .nodes
            .iter()
            .filter(|node| new(node))
            .map(|node| scope.spawn(move || init_repo(layout, node, jsipfs)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("jsipfs init panicked".into()))).collect()
    });
    let fresh: Vec<&mut DevNode> = layout.nodes.iter_mut().filter(|node| new(node)).collect();
    for (node, peer_id) in fresh.into_iter().zip(peer_ids) {
        if let Some(ipfs) = node.ipfs.as_mut() {
            ipfs.peer_id = peer_id?;
        }
    }
    let all: Vec<(String, IpfsNode)> =
        layout.nodes.iter().filter_map(|n| Some((n.name.clone(), n.ipfs.clone()?))).collect();
    for node in &layout.nodes {
        if let Some(own) = &node.ipfs {
            let others: Vec<&IpfsNode> = all.iter().filter(|(name, _)| *name != node.name).map(|(_, i)| i).collect();
            configure(&repo(layout, node), own, &others)?;
        }
    }
    Ok(())
}

/// `jsipfs init` in `node`'s repo; its peer id.
fn init_repo(layout: &Layout, node: &DevNode, jsipfs: &Path) -> Result<String, String> {
    // Left by a `dev up` that failed before the cluster was recorded: made again.
    let _ = std::fs::remove_dir_all(repo(layout, node));
    let output = Command::new(jsipfs)
        .args(["init", "--profile", "test", "--algorithm", "ed25519"])
        .envs(env(layout, node, jsipfs))
        .output()
        .map_err(|e| format!("{}: {e}", jsipfs.display()))?;
    if !output.status.success() {
        return Err(format!("{}: jsipfs init failed: {}", node.name, String::from_utf8_lossy(&output.stderr)));
    }
    let config = read_config(&repo(layout, node))?;
    config["Identity"]["PeerID"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{}: no peer id in its repo", node.name))
}

/// Points `repo`'s daemon at loopback ports and at the `others`, with discovery off.
fn configure(repo: &Path, own: &IpfsNode, others: &[&IpfsNode]) -> Result<(), String> {
    let mut config = read_config(repo)?;
    config["Addresses"] = serde_json::json!({
        "Swarm": [format!("/ip4/127.0.0.1/tcp/{}", own.swarm)],
        "API": format!("/ip4/127.0.0.1/tcp/{}", own.api),
        "Gateway": format!("/ip4/127.0.0.1/tcp/{}", own.gateway),
        "Delegates": [],
    });
    config["Bootstrap"] =
        others.iter().map(|o| format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", o.swarm, o.peer_id)).collect::<Vec<_>>().into();
    config["Discovery"] = serde_json::json!({ "MDNS": { "Enabled": false }, "webRTCStar": { "Enabled": false } });
    let path = repo.join("config");
    let text = serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_config(repo: &Path) -> Result<serde_json::Value, String> {
    let path = repo.join("config");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
