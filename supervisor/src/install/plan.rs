//! From the options to the list of what the install writes: the keys (kept when present, or
//! taken from the options, or made), what derives from them, the config (validated with
//! `check-config`'s code before anything is written) and the unit.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use orama_service::cluster::ClusterSecret;
use orama_service::config::NodeConfig;

use super::cache::{self, CacheOptions, CacheProgramsToBe};
use super::files::{Existing, Item};
use super::node_config::{NodeOptions, config_text};
use super::owners::Owner;
use super::relay::{self, RelayOptions};
use super::target::Target;
use super::unit::unit_text;
use crate::cluster_ca::ClusterCa;
use crate::cluster_keys::{new_identity, new_swarm_key, peer_id_of, rqlite_users};

/// The options the plan is made from (resolved: programs found, values checked).
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Where the files go.
    pub target: Target,
    /// The node's user.
    pub user: String,
    /// The node's name in the cluster.
    pub name: String,
    /// The VPS's public address.
    pub vps_ip: IpAddr,
    /// Its domain.
    pub domain: Option<String>,
    /// ACME contact.
    pub acme_contact: Option<String>,
    /// Other nodes' bridges.
    pub peers: Vec<String>,
    /// A member to join.
    pub join: Option<String>,
    /// The cluster secret given.
    pub cluster_secret: Option<ClusterSecret>,
    /// The swarm key given (a `swarm.key` file's text).
    pub swarm_key: Option<String>,
    /// rqlited.
    pub rqlited: PathBuf,
    /// Kubo's `ipfs`.
    pub ipfs: PathBuf,
    /// Other nodes' IPFS daemons.
    pub ipfs_peers: Vec<String>,
    /// The cache's programs.
    pub cache: CacheProgramsToBe,
    /// Members' cache primaries (`IP:PORT`).
    pub cache_peers: Vec<String>,
    /// `orama-supervisor`.
    pub supervisor: PathBuf,
    /// Added to every port.
    pub port_offset: u16,
    /// The Anyone relay, when the node runs one.
    pub relay: Option<RelayOptions>,
}

/// What the install writes, and what it tells the operator.
#[derive(Debug)]
pub struct Plan {
    /// Directories and files, in the order they are written.
    pub items: Vec<Item>,
    /// The cluster secret the node will have.
    pub secret: ClusterSecret,
    /// The swarm key's hex.
    pub swarm_key_hex: String,
    /// The bridge's peer id.
    pub peer_id: String,
}

/// The plan for `options`.
pub fn plan(options: &PlanOptions) -> Result<Plan, String> {
    let target = &options.target;
    let (root, user) = (Owner::of("root"), Owner::of(&options.user));
    let shared = Owner { user: "root".into(), group: options.user.clone() };
    let mut items = vec![
        Item::dir(target.config_dir(), 0o750, shared.clone()),
        Item::dir(target.raft_tls_dir(), 0o750, shared.clone()),
        Item::dir(target.data_dir(), 0o700, user.clone()),
        Item::dir(target.bridge_identity().parent().map(Path::to_path_buf).unwrap_or_default(), 0o700, user.clone()),
        Item::dir(target.logs_dir(), 0o750, user.clone()),
        Item::dir(target.ipfs_repo(), 0o700, user.clone()),
    ];
    if !target.is_system() {
        // systemd makes /run/orama at each start; a tree started where it is needs its own.
        items.push(Item::dir(target.runtime_dir(), 0o700, user.clone()));
    }
    let (secret, secret_item) = cluster_secret(options, &user)?;
    items.push(secret_item);
    let (swarm_key, swarm_item) = swarm_key(options, &user)?;
    items.push(swarm_item);
    let (peer_id, identity_item) = identity(target, &user)?;
    items.push(identity_item);
    items.push(Item::secret(target.rqlite_auth_file(), rqlite_users(&secret), user.clone()));
    items.extend(cluster_tls(options, &secret, &user, "rqlite-raft", &target.raft_tls_dir())?);
    items.push(Item::dir(target.cache_tls_dir(), 0o750, shared.clone()));
    items.extend(cluster_tls(options, &secret, &user, "redis-bus", &target.cache_tls_dir())?);
    let cache_options = CacheOptions {
        name: &options.name,
        vps_ip: options.vps_ip,
        port_offset: options.port_offset,
        seeds: &options.cache_peers,
    };
    items.extend(cache::items(target, &cache_options, &secret, &user));
    let cache = cache::config_lines(target, &cache_options, &options.cache.programs, &options.supervisor);
    let relay = options.relay.as_ref().map(|relay| {
        let existing = relay::find_existing(target);
        let text = relay::anonrc(target, relay, &options.name, existing.as_ref(), options.port_offset);
        items.extend(relay::items(target, text, existing.as_ref(), &user));
        relay::config_lines(target, &relay.program, options.port_offset)
    });

    let config = config_text(
        target,
        &NodeOptions {
            name: &options.name,
            vps_ip: options.vps_ip,
            domain: options.domain.as_deref(),
            acme_contact: options.acme_contact.as_deref(),
            peers: &options.peers,
            join: options.join.as_deref(),
            rqlited: &options.rqlited,
            ipfs: (&options.supervisor, &options.ipfs),
            ipfs_peers: &options.ipfs_peers,
            port_offset: options.port_offset,
            relay,
            cache,
        },
    );
    NodeConfig::parse(&config, "the config install would write").map_err(|e| e.to_string())?;
    items.push(Item::file(target.config_file(), config, 0o640, shared));
    let unit = unit_text(&options.supervisor, &target.config_file(), &options.user);
    items.push(Item::file(target.unit_file(), unit, 0o644, root));
    let swarm_key_hex = swarm_key.lines().last().unwrap_or_default().trim().to_owned();
    Ok(Plan { items, secret, swarm_key_hex, peer_id })
}

/// The secret given (replacing a different one only with `--force`), else the one installed,
/// else a new one.
fn cluster_secret(options: &PlanOptions, user: &Owner) -> Result<(ClusterSecret, Item), String> {
    let path = options.target.secret_file();
    if let Some(given) = &options.cluster_secret {
        return Ok((given.clone(), Item::secret(path, format!("{}\n", given.expose()), user.clone())));
    }
    let secret = match std::fs::read_to_string(&path) {
        Ok(text) => ClusterSecret::parse(text.trim()).map_err(|e| format!("{}: {e}", path.display()))?,
        Err(_) => ClusterSecret::generate()?,
    };
    let item = Item::key(path, format!("{}\n", secret.expose()), user.clone());
    Ok((secret, item))
}

/// The swarm key given, else the one installed, else a new one; its file's text.
fn swarm_key(options: &PlanOptions, user: &Owner) -> Result<(String, Item), String> {
    let path = options.target.swarm_key_file();
    if let Some(given) = &options.swarm_key {
        return Ok((given.clone(), Item::secret(path, given.clone(), user.clone())));
    }
    let text = std::fs::read_to_string(&path).or_else(|_| new_swarm_key())?;
    Ok((text.clone(), Item::key(path, text, user.clone())))
}

/// The bridge's identity, made once; its peer id.
fn identity(target: &Target, user: &Owner) -> Result<(String, Item), String> {
    let path = target.bridge_identity();
    let file = match std::fs::read(&path) {
        Ok(file) => file,
        Err(_) => new_identity()?.file,
    };
    let peer_id = peer_id_of(&file).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((peer_id, Item::key(path, file, user.clone())))
}

/// The certificate of the cluster CA for `purpose` (`rqlite-raft`: rqlited's Raft links;
/// `redis-bus`: the cache) and this node's certificate and key, in `dir`. The node's are kept
/// while the CA is the same, and made again when it changed.
fn cluster_tls(
    options: &PlanOptions,
    secret: &ClusterSecret,
    user: &Owner,
    purpose: &str,
    dir: &Path,
) -> Result<Vec<Item>, String> {
    let ca = ClusterCa::derive(secret, purpose).map_err(|e| e.to_string())?;
    let same_ca = std::fs::read_to_string(dir.join("ca.crt")).is_ok_and(|pem| pem == ca.certificate_pem());
    let kept = |name: &str| std::fs::read(dir.join(name)).ok().filter(|_| same_ca);
    let (certificate, key) = match (kept("node.crt"), kept("node.key")) {
        (Some(certificate), Some(key)) => (certificate, key),
        _ => {
            let names = [options.name.clone(), options.vps_ip.to_string(), "127.0.0.1".to_owned()];
            let (certificate, key) = ca.issue(&names).map_err(|e| e.to_string())?;
            (certificate.into_bytes(), key.into_bytes())
        }
    };
    let existing = if same_ca { Existing::Keep } else { Existing::Replace };
    let shared = Owner { user: "root".into(), group: user.user.clone() };
    Ok(vec![
        Item::file(dir.join("ca.crt"), ca.certificate_pem(), 0o644, shared.clone()),
        Item { existing, ..Item::file(dir.join("node.crt"), certificate, 0o644, shared) },
        Item { existing, ..Item::secret(dir.join("node.key"), key, user.clone()) },
    ])
}
