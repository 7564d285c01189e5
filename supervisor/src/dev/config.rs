//! The config file of each dev node: our processes on its ports and directories, its rqlited
//! joined to the others (`-bootstrap-expect N`, the cluster's users), its bridge peered with
//! every other bridge in a private network (the swarm key, `allowed_peers`), and its gateway
//! using the RQLite cluster as its store with the cluster secret as credentials.

use std::path::Path;

use super::layout::{DevNode, Layout};

/// The YAML of `node`'s config, with `rqlited` as RQLite's binary.
pub fn node_config(layout: &Layout, node: &DevNode, rqlited: &Path) -> String {
    let others: Vec<&DevNode> = layout.nodes.iter().filter(|n| n.name != node.name).collect();
    let bootstrap: Vec<String> =
        others.iter().map(|n| quoted(&format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", n.p2p_port, n.peer_id))).collect();
    let allowed: Vec<String> = layout.nodes.iter().map(|n| quoted(&n.peer_id)).collect();
    let join: Vec<String> = layout.nodes.iter().map(|n| format!("127.0.0.1:{}", n.rqlite_raft)).collect();
    let data = layout.data_dir(node);
    format!(
        "# Made by `orama-supervisor dev up`: node {name} of a {count}-node dev cluster.
node:
  data_dir: {data}
  runtime_dir: {runtime}
  cluster_secret_file: {secret}
log: {{ format: json }}
gateway:
  listen: '127.0.0.1:{gateway}'
  depends_on: [rqlite]
pubsub:
  listen: ['/ip4/127.0.0.1/tcp/{p2p}']
  bootstrap: [{bootstrap}]
  swarm_key_file: {swarm}
  allowed_peers: [{allowed}]
backends:
  sql: {{ engine: rqlite, urls: ['http://orama-gateway@127.0.0.1:{http}'], consistency: strong, query_timeout: 10s }}
externals:
  - name: rqlite
    command: {rqlited}
    args: [-node-id, {name}, -http-addr, '127.0.0.1:{http}', -raft-addr, '127.0.0.1:{raft}',
           -auth, {auth}, -join-as, orama-cluster, -bootstrap-expect, '{count}', -join, '{join}',
           {rqlite_data}]
    health: {{ tcp: '127.0.0.1:{http}' }}
",
        name = node.name,
        count = layout.nodes.len(),
        data = quoted_path(&data),
        runtime = quoted_path(&layout.runtime_dir(node)),
        secret = quoted_path(&layout.secret_file()),
        gateway = node.gateway_port,
        p2p = node.p2p_port,
        bootstrap = bootstrap.join(", "),
        swarm = quoted_path(&layout.swarm_key_file()),
        allowed = allowed.join(", "),
        http = node.rqlite_http,
        raft = node.rqlite_raft,
        rqlited = quoted_path(rqlited),
        auth = quoted_path(&layout.rqlite_auth_file()),
        join = join.join(","),
        rqlite_data = quoted_path(&data.join("rqlite")),
    )
}

/// `text` as a single-quoted YAML scalar.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn quoted_path(path: &Path) -> String {
    quoted(&path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_config_is_valid_and_names_the_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ids = (0..3).map(|_| super::super::keys::new_identity().expect("id").peer_id).collect();
        let layout = Layout::new(&dir.path().join("it's"), ids, true).expect("layout");
        for node in &layout.nodes {
            let text = node_config(&layout, node, Path::new("/usr/bin/rqlited"));
            let config = orama_service::config::NodeConfig::parse(&text, "dev").expect("a valid config");
            assert_eq!(config.pubsub.bootstrap.len(), 2);
            assert_eq!(config.pubsub.allowed_peers.len(), 3);
            assert_eq!(
                config.externals[0].args.last().map(String::as_str),
                Some(&*format!("{}/rqlite", layout.data_dir(node).display()))
            );
            assert_eq!(config.gateway.listen.port(), node.gateway_port);
        }
    }
}
