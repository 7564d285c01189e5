//! The dev cluster's cache: a Redis (or Valkey) Cluster of two servers per node, each node's
//! primary holding an equal share of the slots and its replica following the next node's primary, so
//! the loss of any one node loses no slot. Servers require the cluster's Redis password (derived from
//! the secret: `requirepass`, `masterauth`), kept in owner-only config files rather than on
//! command lines, and the gateways' URLs name the `default` user, given it by the gateway.
//!
//! The cluster bus (where servers gossip and a `CLUSTER MEET` adds a server) has no password:
//! it runs over TLS (`tls-cluster`), and a server trusts only certificates from the cluster's
//! CA ([`crate::cluster_ca`], derived from the secret), so a server without the secret is never
//! let in. Replication runs over TLS too (a replica learns its primary's port from the bus,
//! which then names TLS ports); clients keep the plain port, behind the password, and are
//! redirected to plain ports.
//!
//! Forming the cluster from the running servers is [`super::cache_form`]'s.

use std::path::PathBuf;

use orama_service::cluster::ClusterSecret;

use super::layout::{CachePorts, DevNode, Layout};
use crate::cluster_ca::ClusterCa;
use crate::cluster_keys::write_private;
use crate::quoting::redis_conf as quoted;

pub use crate::engines::CachePrograms;

/// The two servers' config files of `node` (written owner-only; they hold the secret).
pub fn write_configs(
    layout: &Layout,
    node: &DevNode,
    ports: &CachePorts,
    secret: &ClusterSecret,
) -> Result<(), String> {
    let ca = ClusterCa::derive(secret, "redis-bus").map_err(|e| e.to_string())?;
    let tls = ca.write_files(&tls_dir(layout, node), &node.name).map_err(|e| e.to_string())?;
    let servers = [
        ("cache", ports.primary, ports.primary_bus, ports.primary_tls),
        ("cache-replica", ports.replica, ports.replica_bus, ports.replica_tls),
    ];
    for (name, port, bus, tls_port) in servers {
        let text = format!(
            "port {port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir {dir}\ncluster-enabled yes\n\
             cluster-port {bus}\ncluster-config-file nodes.conf\ncluster-node-timeout 2000\n\
             requirepass {password}\nmasterauth {password}\n\
             tls-port {tls_port}\ntls-cluster yes\ntls-replication yes\ntls-cert-file {certificate}\ntls-key-file {key}\ntls-ca-cert-file {ca}\n",
            dir = quoted(&layout.data_dir(node).join(name).display().to_string()),
            certificate = quoted(&tls.certificate.display().to_string()),
            key = quoted(&tls.key.display().to_string()),
            ca = quoted(&tls.ca.display().to_string()),
            password = secret.password_for("redis"),
        );
        write_private(&config_file(layout, node, name), text.as_bytes())?;
    }
    Ok(())
}

/// Where `node`'s cache servers keep their certificate, key and the cluster CA's certificate.
pub fn tls_dir(layout: &Layout, node: &DevNode) -> PathBuf {
    layout.node_dir(node).join("cache-tls")
}

/// The config file of `node`'s server `name` (`cache` or `cache-replica`).
pub fn config_file(layout: &Layout, node: &DevNode, name: &str) -> PathBuf {
    layout.node_dir(node).join(format!("{name}.conf"))
}
