//! An installed node's part of the cluster's cache: two Redis (or Valkey) servers, a primary
//! and a replica, members of one Redis Cluster with the other nodes'. Everything between
//! nodes is TLS with certificates of a CA derived from the cluster secret (the `redis-bus`
//! CA a dev cluster uses too): clients (each node's gateway), the cluster bus and replication.
//! Each keeps an append-only file (a primary restarted within the node timeout comes back
//! with its keys, not empty, which its replica would copy), and a cluster missing a node's
//! slots keeps serving the others (`cluster-require-full-coverage no`).
//! The servers have no plain TCP port, require the password derived from the secret, and
//! announce the VPS's address. Each also listens on an owner-only Unix socket in the runtime
//! dir: the supervisor's health probe (a probe's bare connect on the TLS port would make
//! Redis log a failed handshake each time) and a way in for the operator's `redis-cli -s`. `orama-supervisor cache-member` ([`crate::cache_member`]) brings them into
//! the cluster and keeps every primary's replica on another node.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use orama_service::cluster::ClusterSecret;

use super::files::Item;
use super::node_config::ports;
use super::owners::Owner;
use super::target::Target;
use crate::engines::CachePrograms;
use crate::quoting::{redis_conf, yaml as quoted_yaml};

/// The cache's server and client programs, and whether the Debian package that has them is
/// still to be installed.
#[derive(Debug, Clone)]
pub struct CacheProgramsToBe {
    /// The programs, where they are or will be.
    pub programs: CachePrograms,
    /// `apt-get install` will provide them.
    pub from_package: bool,
}

/// The Debian package providing the cache's programs when neither Redis nor Valkey is there.
pub const PACKAGE: &str = "redis-server";

/// The servers' programs on the PATH, or (`can_install`: a real install as root) the ones
/// the Debian package will put in `/usr/bin`.
pub fn find_programs(can_install: bool) -> Option<CacheProgramsToBe> {
    if let Some(programs) = crate::engines::find_cache_programs() {
        return Some(CacheProgramsToBe { programs, from_package: false });
    }
    let programs = CachePrograms { server: "/usr/bin/redis-server".into(), cli: "/usr/bin/redis-cli".into() };
    can_install.then_some(CacheProgramsToBe { programs, from_package: true })
}

/// The major version `server --version` reports (`Redis server v=7.0.15 …`), if it says.
pub fn server_major_version(server: &Path) -> Option<u32> {
    let output = std::process::Command::new(server).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = text.split_whitespace().find_map(|word| word.strip_prefix("v="))?;
    version.split('.').next()?.parse().ok()
}

/// What the node's cache is made from.
#[derive(Debug, Clone)]
pub struct CacheOptions<'a> {
    /// The node's name (in its certificate).
    pub name: &'a str,
    /// The VPS's address: announced to the other servers and clients.
    pub vps_ip: IpAddr,
    /// Added to every port.
    pub port_offset: u16,
    /// Members' primaries to join through (`IP:PORT`); none on a first node.
    pub seeds: &'a [String],
}

/// The two servers: name, TLS port, bus port.
fn servers(offset: u16) -> [(&'static str, u16, u16); 2] {
    [
        ("cache", ports::CACHE + offset, ports::CACHE_BUS + offset),
        ("cache-replica", ports::CACHE_REPLICA + offset, ports::CACHE_REPLICA_BUS + offset),
    ]
}

/// `ip:port` as `redis-cli --cluster` takes an address (split at the last colon, so an IPv6
/// address goes without brackets).
fn address(ip: IpAddr, port: u16) -> String {
    format!("{ip}:{port}")
}

/// The servers' data directories and config files (they hold the password).
pub fn items(target: &Target, options: &CacheOptions<'_>, secret: &ClusterSecret, user: &Owner) -> Vec<Item> {
    let tls = target.cache_tls_dir();
    let password = secret.password_for("redis");
    let mut items = Vec::new();
    for (name, port, bus) in servers(options.port_offset) {
        let data = target.data_dir().join(name);
        let text = format!(
            "# Written by `orama-supervisor install`: node {node}'s {name} server, a member of the \
             cluster's Redis Cluster.\n\
             port 0\nbind * -::*\ntls-port {port}\ntls-cluster yes\ntls-replication yes\ntls-auth-clients yes\n\
             tls-cert-file {certificate}\ntls-key-file {key}\ntls-ca-cert-file {ca}\n\
             cluster-enabled yes\ncluster-port {bus}\ncluster-config-file nodes.conf\ncluster-node-timeout 5000\n\
             cluster-announce-ip {ip}\ncluster-require-full-coverage no\n\
             dir {dir}\nsave \"\"\nappendonly yes\nappendfsync everysec\nunixsocket {socket}\nunixsocketperm 700\n\
             maxmemory 256mb\nmaxmemory-policy allkeys-lru\nrequirepass {password}\nmasterauth {password}\n",
            node = options.name,
            certificate = redis_conf(&tls.join("node.crt").display().to_string()),
            key = redis_conf(&tls.join("node.key").display().to_string()),
            ca = redis_conf(&tls.join("ca.crt").display().to_string()),
            ip = options.vps_ip,
            dir = redis_conf(&data.display().to_string()),
            socket = redis_conf(&socket(target, name).display().to_string()),
        );
        items.push(Item::dir(data, 0o700, user.clone()));
        items.push(Item::secret(target.cache_config(name), text, user.clone()));
    }
    items
}

/// The gateway's `backends.cache` line and the servers' and `cache-member`'s externals.
pub fn config_lines(
    target: &Target,
    options: &CacheOptions<'_>,
    programs: &CachePrograms,
    supervisor: &Path,
) -> (String, String) {
    let tls = target.cache_tls_dir();
    let path = |p: &Path| quoted_yaml(&p.display().to_string());
    let [(_, primary, _), (_, replica, _)] = servers(options.port_offset);
    let backend = format!(
        "  cache:\n    engine: redis\n    cluster: true\n    urls: ['rediss://default@127.0.0.1:{primary}']\n    \
         timeout: 2s\n    tls: {{ ca_file: {ca}, certificate_file: {certificate}, key_file: {key} }}\n",
        ca = path(&tls.join("ca.crt")),
        certificate = path(&tls.join("node.crt")),
        key = path(&tls.join("node.key")),
    );
    let mut externals = String::new();
    for (name, _, _) in servers(options.port_offset) {
        externals.push_str(&format!(
            "  - name: {name}\n    command: {server}\n    args: [{config}]\n    health: {{ unix: {socket} }}\n",
            server = path(&programs.server),
            config = path(&target.cache_config(name)),
            socket = path(&socket(target, name)),
        ));
    }
    let seeds: String = options.seeds.iter().map(|s| format!(", --seed, {}", quoted_yaml(s))).collect();
    externals.push_str(&format!(
        "  - name: cache-member\n    depends_on: [cache, cache-replica]\n    command: {supervisor}\n    \
         args: [cache-member, --cli, {cli}, --tls-dir, {tls}, --secret-file, {secret},\n           \
         --primary, '{primary_address}', --replica, '{replica_address}',\n           \
         --state, {state}{seeds}]\n",
        supervisor = path(supervisor),
        cli = path(&programs.cli),
        tls = path(&tls),
        secret = path(&target.secret_file()),
        state = path(&target.data_dir().join("cache-members")),
        primary_address = address(options.vps_ip, primary),
        replica_address = address(options.vps_ip, replica),
    ));
    (backend, externals)
}

/// The Unix socket of the server `name`.
fn socket(target: &Target, name: &str) -> PathBuf {
    target.runtime_dir().join(format!("{name}.sock"))
}

/// The primary's address as the first node prints it for `--cache-peers`.
pub fn primary_address(ip: IpAddr, offset: u16) -> String {
    address(ip, ports::CACHE + offset)
}
