//! The config of an installed node: the gateway on the public interface (HTTPS with an ACME
//! certificate when the node has a domain), the pub/sub bridge listening for other nodes in the
//! cluster's private network, and two supervised externals:
//! - rqlited: its HTTP API on loopback only (the gateway calls it with a password derived from
//!   the secret), its Raft port public, encrypted and mutually authenticated with certificates
//!   of the cluster CA, joining the member named by `--join` (a first node bootstraps alone);
//! - Kubo, through `orama-supervisor ipfs-daemon` ([`crate::ipfs_daemon`]): its API on
//!   loopback, its swarm public but private to holders of the swarm key, peered with the
//!   daemons `--ipfs-peers` names.

use std::net::IpAddr;
use std::path::Path;

use super::target::Target;

/// The ports an installed node uses.
pub mod ports {
    /// HTTPS (with a domain).
    pub const HTTPS: u16 = 443;
    /// HTTP-01 challenges (with a domain).
    pub const HTTP: u16 = 80;
    /// The gateway without a domain (plain HTTP).
    pub const GATEWAY: u16 = 6001;
    /// The pub/sub bridge's libp2p port.
    pub const P2P: u16 = 4001;
    /// rqlited's HTTP API (loopback).
    pub const RQLITE_HTTP: u16 = 5001;
    /// rqlited's Raft port (what other nodes join).
    pub const RQLITE_RAFT: u16 = 7001;
    /// The IPFS daemon's swarm port (what other nodes' daemons dial).
    pub const IPFS_SWARM: u16 = 4101;
    /// The IPFS daemon's RPC API (loopback).
    pub const IPFS_API: u16 = 5101;
    /// The cache's primary (TLS; what gateways and other servers dial).
    pub const CACHE: u16 = 6381;
    /// The primary's cluster bus.
    pub const CACHE_BUS: u16 = 16381;
    /// The cache's replica (TLS).
    pub const CACHE_REPLICA: u16 = 6382;
    /// The replica's cluster bus.
    pub const CACHE_REPLICA_BUS: u16 = 16382;
    /// The highest of them (what `--port-offset` may add to).
    pub const HIGHEST: u16 = CACHE_REPLICA_BUS;
}

/// What the config is made from.
#[derive(Debug, Clone)]
pub struct NodeOptions<'a> {
    /// The node's name in the cluster (rqlited's node id).
    pub name: &'a str,
    /// The VPS's public address.
    pub vps_ip: IpAddr,
    /// Its domain, if it has one.
    pub domain: Option<&'a str>,
    /// ACME account contact (`mailto:` URL).
    pub acme_contact: Option<&'a str>,
    /// Other nodes' bridges.
    pub peers: &'a [String],
    /// A member's Raft address to join, unless this is the first node.
    pub join: Option<&'a str>,
    /// rqlited.
    pub rqlited: &'a Path,
    /// `orama-supervisor` (which runs the IPFS daemon) and Kubo's `ipfs`.
    pub ipfs: (&'a Path, &'a Path),
    /// Other nodes' IPFS daemons.
    pub ipfs_peers: &'a [String],
    /// Added to every port (several nodes on one machine, as tests run them).
    pub port_offset: u16,
    /// The Anyone relay's `anon:` section and external, when the node runs one.
    pub relay: Option<(String, String)>,
    /// The gateway's `backends.cache` and the cache's externals ([`super::cache`]).
    pub cache: (String, String),
}

/// The YAML of the node's config.
pub fn config_text(target: &Target, options: &NodeOptions<'_>) -> String {
    let port = |base: u16| base + options.port_offset;
    let quoted = crate::quoting::yaml;
    let path = |p: &Path| quoted(&p.display().to_string());
    let gateway = match options.domain {
        Some(domain) => {
            let contact =
                options.acme_contact.map(|c| format!(", acme: {{ contact: [{}] }}", quoted(c))).unwrap_or_default();
            format!(
                "  listen: '0.0.0.0:{https}'\n  tls: {{ mode: acme, domains: [{domain}], http_listen: '0.0.0.0:{http}'{contact} }}\n",
                https = port(ports::HTTPS),
                http = port(ports::HTTP),
                domain = quoted(domain),
            )
        }
        None => format!("  listen: '0.0.0.0:{}'\n", port(ports::GATEWAY)),
    };
    let tls = target.raft_tls_dir();
    let ip = match options.vps_ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    let join = options.join.map(|j| format!(" -join, {},", quoted(j))).unwrap_or_default();
    let peers: Vec<String> = options.peers.iter().map(|p| quoted(p)).collect();
    format!(
        "# Written by `orama-supervisor install`: node {name} of an Orama cluster.
# Edits are kept: `install` again refuses to overwrite them without --force.
node:
  data_dir: {data}
  runtime_dir: {runtime}
  cluster_secret_file: {secret}
log: {{ format: auto }}
gateway:
{gateway}  depends_on: [rqlite, ipfs, cache]
pubsub:
  listen: ['/ip4/0.0.0.0/tcp/{p2p}']
  bootstrap: [{peers}]
  swarm_key_file: {swarm}
{relay_section}backends:
  sql: {{ engine: rqlite, urls: ['http://orama-gateway@127.0.0.1:{rqlite_http}'], consistency: strong, query_timeout: 10s }}
  storage: {{ engine: ipfs, api_url: 'http://127.0.0.1:{ipfs_api}', timeout: 30s }}
{cache_backend}externals:
  - name: rqlite
    command: {rqlited}
    args: [-node-id, {name_quoted}, -http-addr, '127.0.0.1:{rqlite_http}', -raft-addr, '0.0.0.0:{raft}',
           -raft-adv-addr, '{ip}:{raft}', -auth, {auth}, -join-as, orama-cluster,{join}
           -node-ca-cert, {ca}, -node-cert, {cert}, -node-key, {key}, -node-verify-client,
           {rqlite_data}]
    health: {{ tcp: '127.0.0.1:{rqlite_http}' }}
  - name: ipfs
    command: {supervisor}
    args: [ipfs-daemon, --ipfs, {ipfs}, --repo, {ipfs_repo},
           --identity, {identity}, --swarm-key, {swarm},
           --listen, '/{proto}/{any}/tcp/{ipfs_swarm}', --announce, '/{proto}/{bare_ip}/tcp/{ipfs_swarm}',
           --api, '/ip4/127.0.0.1/tcp/{ipfs_api}'{ipfs_peers}]
    health: {{ tcp: '127.0.0.1:{ipfs_api}' }}
{cache_externals}{relay_external}",
        name = options.name,
        name_quoted = quoted(options.name),
        data = path(&target.data_dir()),
        runtime = path(&target.runtime_dir()),
        secret = path(&target.secret_file()),
        p2p = port(ports::P2P),
        peers = peers.join(", "),
        swarm = path(&target.swarm_key_file()),
        rqlite_http = port(ports::RQLITE_HTTP),
        rqlited = path(options.rqlited),
        raft = port(ports::RQLITE_RAFT),
        auth = path(&target.rqlite_auth_file()),
        ca = path(&tls.join("ca.crt")),
        cert = path(&tls.join("node.crt")),
        key = path(&tls.join("node.key")),
        rqlite_data = path(&target.data_dir().join("rqlite")),
        supervisor = path(options.ipfs.0),
        ipfs = path(options.ipfs.1),
        ipfs_repo = path(&target.ipfs_repo()),
        identity = path(&target.bridge_identity()),
        ipfs_swarm = port(ports::IPFS_SWARM),
        ipfs_api = port(ports::IPFS_API),
        proto = if options.vps_ip.is_ipv4() { "ip4" } else { "ip6" },
        any = if options.vps_ip.is_ipv4() { "0.0.0.0" } else { "::" },
        bare_ip = options.vps_ip,
        ipfs_peers = options.ipfs_peers.iter().map(|p| format!(", --peer, {}", quoted(p))).collect::<String>(),
        cache_backend = options.cache.0,
        cache_externals = options.cache.1,
        relay_section = options.relay.as_ref().map_or("", |(section, _)| section.as_str()),
        relay_external = options.relay.as_ref().map_or("", |(_, external)| external.as_str()),
    )
}
