//! The config file of each dev node: our processes on its ports and directories, its rqlited
//! joined to the others (`-bootstrap-expect N`, the cluster's users, Raft over mutual TLS with
//! certificates of the cluster CA), its bridge peered with
//! every other bridge in a private network, and its gateway using the RQLite cluster as its
//! store with the cluster secret as credentials.
//!
//! The bridges admit peers by the swarm key, not by `allowed_peers`: a list of peer ids would
//! have to be rewritten, and every running bridge restarted, for a node to join, where the
//! key (which only the cluster's nodes hold) admits a new node as it is.

use crate::quoting::{yaml as quoted, yaml_path as quoted_path};
use std::path::PathBuf;

use super::cache::{CachePrograms, config_file};
use super::ipfs;
use super::layout::{DevNode, Layout};
use crate::cluster_ca::TlsFiles;

/// The programs the nodes run beside ours.
#[derive(Debug, Clone)]
pub struct Programs {
    /// RQLite's `rqlited`.
    pub rqlited: PathBuf,
    /// The cache's server and client, when the cluster's cache is a Redis Cluster.
    pub cache: Option<CachePrograms>,
    /// `jsipfs`, when the cluster stores on IPFS.
    pub jsipfs: Option<PathBuf>,
}

/// The YAML of `node`'s config.
pub fn node_config(layout: &Layout, node: &DevNode, programs: &Programs) -> String {
    let others: Vec<&DevNode> = layout.nodes.iter().filter(|n| n.name != node.name).collect();
    let bootstrap: Vec<String> =
        others.iter().map(|n| quoted(&format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", n.p2p_port, n.peer_id))).collect();
    let join: Vec<String> = layout.nodes.iter().map(|n| format!("127.0.0.1:{}", n.rqlite_raft)).collect();
    let data = layout.data_dir(node);
    let raft_tls = TlsFiles::in_dir(&raft_tls_dir(layout, node));
    let mut depends_on = vec!["rqlite"];
    let mut backends = format!(
        "  sql: {{ engine: rqlite, urls: ['http://orama-gateway@127.0.0.1:{}'], consistency: strong, query_timeout: 10s }}\n",
        node.rqlite_http
    );
    let mut externals = format!(
        "  - name: rqlite
    command: {rqlited}
    args: [-node-id, {name}, -http-addr, '127.0.0.1:{http}', -raft-addr, '127.0.0.1:{raft}',
           -auth, {auth}, -join-as, orama-cluster, -bootstrap-expect, '{count}', -join, '{join}',
           -node-ca-cert, {tls_ca}, -node-cert, {tls_cert}, -node-key, {tls_key}, -node-verify-client,
           {rqlite_data}]
    health: {{ tcp: '127.0.0.1:{http}' }}
",
        name = node.name,
        count = layout.nodes.len(),
        http = node.rqlite_http,
        raft = node.rqlite_raft,
        rqlited = quoted_path(&programs.rqlited),
        auth = quoted_path(&layout.rqlite_auth_file()),
        join = join.join(","),
        rqlite_data = quoted_path(&data.join("rqlite")),
        tls_ca = quoted_path(&raft_tls.ca),
        tls_cert = quoted_path(&raft_tls.certificate),
        tls_key = quoted_path(&raft_tls.key),
    );
    if let (Some(ports), Some(cache)) = (&node.cache, &programs.cache) {
        // This node's servers first: the client learns the rest of the cluster from any one.
        // Over TLS, as an installed node's gateway: redirects then name TLS ports, which the
        // servers of an installed node (no plain port) joining this cluster have too.
        let mut seeds = vec![ports.primary_tls, ports.replica_tls];
        seeds.extend(others.iter().filter_map(|n| n.cache.as_ref()).flat_map(|p| [p.primary_tls, p.replica_tls]));
        let seeds: Vec<String> = seeds.iter().map(|p| quoted(&format!("rediss://default@127.0.0.1:{p}"))).collect();
        let tls = crate::cluster_ca::TlsFiles::in_dir(&super::cache::tls_dir(layout, node));
        backends.push_str(&format!(
            "  cache: {{ engine: redis, cluster: true, urls: [{}], timeout: 2s,\n           \
             tls: {{ ca_file: {}, certificate_file: {}, key_file: {} }} }}\n",
            seeds.join(", "),
            quoted_path(&tls.ca),
            quoted_path(&tls.certificate),
            quoted_path(&tls.key),
        ));
        for (name, port) in [("cache", ports.primary), ("cache-replica", ports.replica)] {
            externals.push_str(&format!(
                "  - name: {name}\n    command: {server}\n    args: [{conf}]\n    health: {{ tcp: '127.0.0.1:{port}' }}\n",
                server = quoted_path(&cache.server),
                conf = quoted_path(&config_file(layout, node, name)),
            ));
        }
    }
    if let (Some(own), Some(jsipfs)) = (&node.ipfs, &programs.jsipfs) {
        depends_on.push("ipfs");
        backends.push_str(&format!(
            "  storage: {{ engine: ipfs, api_url: 'http://127.0.0.1:{}', timeout: 30s }}\n",
            own.api
        ));
        // js-ipfs leaves its repo lock behind when killed, then refuses to start: clear it.
        let script = format!("rm -rf \"$IPFS_PATH/repo.lock\"; exec node '{}'", ipfs::launcher(layout).display());
        let env = ipfs::env(layout, node, jsipfs);
        let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}: {}", quoted(v))).collect();
        externals.push_str(&format!(
            "  - name: ipfs\n    command: sh\n    args: ['-c', {script}]\n    env: {{ {env} }}\n    health: {{ tcp: '127.0.0.1:{api}' }}\n",
            script = quoted(&script),
            env = env.join(", "),
            api = own.api,
        ));
    }
    format!(
        "# Made by `orama-supervisor dev up`: node {name} of a {count}-node dev cluster.
node:
  data_dir: {data}
  runtime_dir: {runtime}
  cluster_secret_file: {secret}
log: {{ format: json }}
gateway:
  listen: '127.0.0.1:{gateway}'
  depends_on: [{depends_on}]
pubsub:
  listen: ['/ip4/127.0.0.1/tcp/{p2p}']
  bootstrap: [{bootstrap}]
  swarm_key_file: {swarm}
backends:
{backends}externals:
{externals}",
        name = node.name,
        count = layout.nodes.len(),
        data = quoted_path(&data),
        runtime = quoted_path(&layout.runtime_dir(node)),
        secret = quoted_path(&layout.secret_file()),
        gateway = node.gateway_port,
        depends_on = depends_on.join(", "),
        p2p = node.p2p_port,
        bootstrap = bootstrap.join(", "),
        swarm = quoted_path(&layout.swarm_key_file()),
    )
}

/// Where `node`'s rqlited keeps the certificates of its Raft links (the cluster CA's, written
/// by `dev up`).
pub fn raft_tls_dir(layout: &Layout, node: &DevNode) -> PathBuf {
    layout.node_dir(node).join("raft-tls")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_config_is_valid_and_names_the_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ids = (0..3).map(|_| crate::cluster_keys::new_identity().expect("id").peer_id).collect();
        let layout = Layout::new(&dir.path().join("it's"), ids, Default::default(), true).expect("layout");
        for node in &layout.nodes {
            let programs = Programs { rqlited: "/usr/bin/rqlited".into(), cache: None, jsipfs: None };
            let text = node_config(&layout, node, &programs);
            let config = orama_service::config::NodeConfig::parse(&text, "dev").expect("a valid config");
            assert_eq!(config.pubsub.bootstrap.len(), 2);
            assert!(config.pubsub.allowed_peers.is_empty() && config.pubsub.swarm_key_file.is_some());
            assert_eq!(
                config.externals[0].args.last().map(String::as_str),
                Some(&*format!("{}/rqlite", layout.data_dir(node).display()))
            );
            assert_eq!(config.gateway.listen.port(), node.gateway_port);
        }
    }
}
