//! Forming the dev cluster's Redis Cluster from its running servers, and keeping its shape:
//! every node's primary serving an equal share of the slots, every node's replica following
//! the next node's primary (the last node's, the first's). `dev up` runs [`form`] each time,
//! so it also finishes what an interrupted run began and takes in the nodes of a grown cluster:
//!
//! - a cluster where no server knows another is created from the primaries
//!   (`redis-cli --cluster create`);
//! - a primary outside the cluster joins it empty (`--cluster add-node`), a replica outside it
//!   joins as its primary's replica (`--cluster-slave`), and a replica following another
//!   primary (the old last node's, once a node is added) is pointed at its own
//!   (`CLUSTER REPLICATE`);
//! - primaries holding no slots are given their share (`--cluster rebalance
//!   --cluster-use-empty-masters`), their keys moving with them.
//!
//! `redis-cli` speaks TLS to the servers' TLS ports, with a certificate of the cluster's CA.
//!
//! A cluster that formed before (its `nodes.conf` kept in each server's data dir) re-forms by
//! itself; [`form`] then only waits for it.

use std::time::{Duration, Instant};

use orama_service::cluster::ClusterSecret;

use super::cache::{CachePrograms, tls_dir};
use super::layout::{CachePorts, Layout};
use crate::cluster_ca::TlsFiles;
use crate::redis_cli::RedisCli;

/// The dev cluster's Redis servers, and how to talk to them.
struct Servers {
    /// The client speaks TLS to the servers' TLS ports (a server moving keys to another with
    /// `MIGRATE` speaks TLS when its bus does, so the rebalance must name TLS ports, which
    /// only a TLS client is told).
    cli: RedisCli,
    deadline: Instant,
}

/// Brings the Redis Cluster to its shape (see the module docs); waits until it serves every
/// slot with a synced replica behind each primary.
pub fn form(
    layout: &Layout,
    programs: &CachePrograms,
    secret: &ClusterSecret,
    deadline: Instant,
) -> Result<(), String> {
    let ports: Vec<&CachePorts> = layout.nodes.iter().filter_map(|n| n.cache.as_ref()).collect();
    let (Some(first), Some(first_node)) = (ports.first(), layout.nodes.first()) else { return Ok(()) };
    let cli = RedisCli {
        program: programs.cli.clone(),
        tls: TlsFiles::in_dir(&tls_dir(layout, first_node)),
        password: secret.password_for("redis"),
    };
    let servers = Servers { cli, deadline };
    let seed = format!("127.0.0.1:{}", first.primary_tls);
    let mut reshaped = false;
    if servers.alone(first.primary_tls)? {
        let mut create: Vec<String> = vec!["--cluster".into(), "create".into()];
        create.extend(ports.iter().map(|p| format!("127.0.0.1:{}", p.primary_tls)));
        create.extend(["--cluster-replicas".into(), "0".into(), "--cluster-yes".into()]);
        servers.run_cli(&create)?;
    }
    for own in &ports {
        if servers.alone(own.primary_tls)? {
            servers.run_cli(&cli_args(&["--cluster", "add-node", &format!("127.0.0.1:{}", own.primary_tls), &seed]))?;
            reshaped = true;
        }
    }
    for (i, own) in ports.iter().enumerate() {
        let next = ports[(i + 1) % ports.len()];
        servers.wait_known(own.replica_tls, next.primary_tls)?;
        let id = servers.ask(next.primary_tls, &["cluster", "myid"])?.trim().to_owned();
        if servers.alone(own.replica_tls)? {
            let replica = format!("127.0.0.1:{}", own.replica_tls);
            let primary = format!("127.0.0.1:{}", next.primary_tls);
            let add = ["--cluster", "add-node", &replica, &primary, "--cluster-slave", "--cluster-master-id", &id];
            servers.run_cli(&cli_args(&add))?;
        } else if servers.follows(own.replica_tls)?.is_some_and(|primary| primary != id) {
            servers.ask(own.replica_tls, &["cluster", "replicate", &id])?;
            reshaped = true;
        }
    }
    if reshaped {
        servers.rebalance(&seed)?;
    }
    wait_formed(&servers, &ports)
}

impl Servers {
    /// Whether the server at `port` knows no other (is in no cluster yet).
    fn alone(&self, port: u16) -> Result<bool, String> {
        self.cli.alone(&format!("127.0.0.1:{port}"))
    }

    /// The id of the primary the server at `port` replicates, if it is a replica. (A replica
    /// promoted when its primary's node was lost is a primary now: [`wait_formed`] gives the
    /// node its role back.)
    fn follows(&self, port: u16) -> Result<Option<String>, String> {
        let table = self.ask(port, &["cluster", "nodes"])?;
        let myself = table
            .lines()
            .map(|l| l.split(' ').collect::<Vec<_>>())
            .find(|f| f.get(2).is_some_and(|flags| flags.split(',').any(|flag| flag == "myself")));
        Ok(myself
            .filter(|f| f.get(2).is_some_and(|flags| flags.contains("slave")))
            .and_then(|f| f.get(3).map(|id| (*id).to_owned())))
    }

    /// Waits until the server at `port` knows the one at `other` as a connected member.
    fn wait_known(&self, port: u16, other: u16) -> Result<(), String> {
        if self.alone(port)? {
            return Ok(());
        }
        loop {
            let table = self.ask(port, &["cluster", "nodes"])?;
            let known = table.lines().any(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                fields.get(1).is_some_and(|a| a.contains(&format!(":{other}@"))) && fields.get(7) == Some(&"connected")
            });
            if known {
                return Ok(());
            }
            if Instant::now() > self.deadline {
                return Err(format!("the cache server on :{port} never learned of :{other}:\n{table}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Gives empty primaries their share of the slots, once every server agrees on the
    /// cluster's configuration (the rebalance refuses to start before).
    fn rebalance(&self, seed: &str) -> Result<(), String> {
        let args = cli_args(&["--cluster", "rebalance", seed, "--cluster-use-empty-masters"]);
        loop {
            match self.run_cli(&args) {
                Ok(_) => return Ok(()),
                Err(why) if Instant::now() > self.deadline => return Err(why),
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }

    /// Runs `args` (a command) on the server at 127.0.0.1:`port`.
    fn ask(&self, port: u16, args: &[&str]) -> Result<String, String> {
        self.cli.ask(&format!("127.0.0.1:{port}"), args)
    }

    /// Runs the cache's client with `args`.
    fn run_cli(&self, args: &[String]) -> Result<String, String> {
        self.cli.run(args)
    }
}

fn cli_args(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// Waits until every server sees the cluster serving, each node's replica connected and each
/// primary's replica acknowledging; gives a node that lost its primary to a failover its
/// primary back.
fn wait_formed(servers: &Servers, ports: &[&CachePorts]) -> Result<(), String> {
    let cli = |port: u16, args: &[&str]| servers.ask(port, args);
    let mut failed_back = false;
    loop {
        let nodes = ports.first().map_or(Ok(String::new()), |first| cli(first.primary_tls, &["cluster", "nodes"]));
        let table = nodes.as_deref().unwrap_or_default();
        let states = ports
            .iter()
            .all(|p| cli(p.replica_tls, &["cluster", "info"]).is_ok_and(|i| i.contains("cluster_state:ok")));
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
                ports.iter().map(|p| p.primary_tls).filter(|port| !masters(table).contains(port)).collect();
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
        if Instant::now() > servers.deadline {
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
