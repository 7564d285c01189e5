//! The dev cluster's cache: a Redis (or Valkey) Cluster of two servers per node, each node's
//! primary holding a third of the slots and its replica following the next node's primary, so
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
//! Formation is `dev up`'s job, once every server runs: `redis-cli --cluster create` with the
//! primaries, then `--cluster add-node --cluster-slave` for each replica. A cluster that formed
//! before (its `nodes.conf` kept in each server's data dir) re-forms by itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use orama_service::cluster::ClusterSecret;

use super::keys::write_private;
use super::layout::{CachePorts, DevNode, Layout};
use crate::cluster_ca::ClusterCa;

/// The cache's server and client programs.
#[derive(Debug, Clone)]
pub struct CachePrograms {
    /// `redis-server` or `valkey-server`.
    pub server: PathBuf,
    /// `redis-cli` or `valkey-cli`.
    pub cli: PathBuf,
}

/// `redis-server` and `redis-cli` on the PATH, else Valkey's.
pub fn find_programs() -> Option<CachePrograms> {
    let find = |name: &str| {
        std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()))
    };
    [("redis-server", "redis-cli"), ("valkey-server", "valkey-cli")]
        .iter()
        .find_map(|(server, cli)| Some(CachePrograms { server: find(server)?, cli: find(cli)? }))
}

/// The two servers' config files of `node` (written owner-only; they hold the secret).
pub fn write_configs(
    layout: &Layout,
    node: &DevNode,
    ports: &CachePorts,
    secret: &ClusterSecret,
) -> Result<(), String> {
    let ca = ClusterCa::derive(secret, "redis-bus").map_err(|e| e.to_string())?;
    let tls = ca.write_files(&layout.node_dir(node).join("cache-tls"), &node.name).map_err(|e| e.to_string())?;
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

/// The config file of `node`'s server `name` (`cache` or `cache-replica`).
pub fn config_file(layout: &Layout, node: &DevNode, name: &str) -> PathBuf {
    layout.node_dir(node).join(format!("{name}.conf"))
}

/// Forms the Redis Cluster unless it already is one; waits until it serves every slot with a
/// replica behind each primary.
pub fn form(
    layout: &Layout,
    programs: &CachePrograms,
    secret: &ClusterSecret,
    deadline: Instant,
) -> Result<(), String> {
    let ports: Vec<&CachePorts> = layout.nodes.iter().filter_map(|n| n.cache.as_ref()).collect();
    let Some(first) = ports.first() else { return Ok(()) };
    let info = ask(programs, secret, first.primary, &["cluster", "info"])?;
    if !info.contains("cluster_known_nodes:1\r") && !info.contains("cluster_known_nodes:1\n") {
        return wait_formed(layout, programs, secret, deadline);
    }
    let mut create: Vec<String> = vec!["--cluster".into(), "create".into()];
    create.extend(ports.iter().map(|p| format!("127.0.0.1:{}", p.primary)));
    create.extend(["--cluster-replicas".into(), "0".into(), "--cluster-yes".into()]);
    run_cli(programs, secret, &create)?;
    for (i, own) in ports.iter().enumerate() {
        let next = ports[(i + 1) % ports.len()];
        let id = ask(programs, secret, next.primary, &["cluster", "myid"])?;
        let add = [
            "--cluster",
            "add-node",
            &format!("127.0.0.1:{}", own.replica),
            &format!("127.0.0.1:{}", next.primary),
            "--cluster-slave",
            "--cluster-master-id",
            id.trim(),
        ];
        run_cli(programs, secret, &add.map(String::from))?;
    }
    wait_formed(layout, programs, secret, deadline)
}

fn wait_formed(
    layout: &Layout,
    programs: &CachePrograms,
    secret: &ClusterSecret,
    deadline: Instant,
) -> Result<(), String> {
    let ports: Vec<&CachePorts> = layout.nodes.iter().filter_map(|n| n.cache.as_ref()).collect();
    let cli = |port: u16, args: &[&str]| ask(programs, secret, port, args);
    let mut failed_back = false;
    loop {
        let nodes = ports.first().map_or(Ok(String::new()), |first| cli(first.primary, &["cluster", "nodes"]));
        let table = nodes.as_deref().unwrap_or_default();
        let states =
            ports.iter().all(|p| cli(p.replica, &["cluster", "info"]).is_ok_and(|i| i.contains("cluster_state:ok")));
        let replicas =
            table.lines().filter(|l| l.contains("slave") && !l.contains("fail") && l.contains(" connected")).count();
        // `cluster_state:ok` comes before the replicas have synced: a primary lost then loses
        // its keys. Each serving primary must see its replica acknowledge.
        let synced =
            || masters(table).iter().all(|&port| cli(port, &["wait", "1", "1000"]).is_ok_and(|n| n.trim() == "1"));
        if states && replicas == ports.len() && synced() {
            // A node that came back after losing its primary to a failover serves as a replica
            // of its former replica, and another node then holds two primaries (losing it would
            // lose a majority): the node's own server takes its primary role back.
            let demoted: Vec<u16> =
                ports.iter().map(|p| p.primary).filter(|port| !masters(table).contains(port)).collect();
            if demoted.is_empty() {
                return Ok(());
            }
            if !failed_back {
                for port in demoted {
                    cli(port, &["cluster", "failover"])?;
                }
                failed_back = true;
            }
        }
        if Instant::now() > deadline {
            return Err(format!("the cache cluster did not form in time; its nodes:\n{table}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The client ports of the serving primaries in `cluster nodes` output.
fn masters(table: &str) -> Vec<u16> {
    table
        .lines()
        .filter(|line| {
            let flags: Vec<&str> = line.split(' ').nth(2).unwrap_or_default().split(',').collect();
            flags.contains(&"master") && !flags.contains(&"fail") && !flags.contains(&"fail?")
        })
        .filter_map(|line| line.split(' ').nth(1)?.split(['@', ':']).nth(1)?.parse().ok())
        .collect()
}

/// Runs `args` (a command) on the server at 127.0.0.1:`port`.
fn ask(programs: &CachePrograms, secret: &ClusterSecret, port: u16, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["-p".to_owned(), port.to_string()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    run_cli(programs, secret, &all)
}

/// Runs the cache's client with `args`, the password in its environment (never its arguments).
fn run_cli(programs: &CachePrograms, secret: &ClusterSecret, args: &[String]) -> Result<String, String> {
    let output = Command::new(&programs.cli)
        .args(args)
        .env("REDISCLI_AUTH", secret.password_for("redis"))
        .output()
        .map_err(|e| format!("{}: {e}", programs.cli.display()))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() && !text.starts_with("ERR") && !text.contains("[ERR]") {
        Ok(text)
    } else {
        Err(format!("{} {}: {text}{}", display(&programs.cli), args.join(" "), String::from_utf8_lossy(&output.stderr)))
    }
}

/// `text` as a double-quoted redis.conf argument.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn display(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
