//! A dev cluster under test: `orama-supervisor dev up --nodes N` in a temp dir (every port
//! chosen by the system), each node reached by its gateway port and runtime dir, and the
//! whole cluster killed when dropped.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

use crate::process::{alive, bin};

/// One node of a [`Cluster`].
#[derive(Debug, Clone)]
pub struct ClusterNode {
    /// `node1`, ...
    pub name: String,
    /// Its gateway's port on 127.0.0.1.
    pub port: u16,
    /// Its sockets.
    pub runtime_dir: PathBuf,
    /// Its data.
    pub data_dir: PathBuf,
    /// Its rqlited's HTTP port.
    pub rqlite_http: u16,
    /// Its rqlited's Raft port.
    pub rqlite_raft: u16,
    /// Its Redis primary's client and cluster bus ports, when the cluster caches in Redis.
    pub cache: Option<(u16, u16)>,
    /// Its IPFS daemon's swarm address (`/ip4/…/tcp/…/p2p/…`), when the cluster stores on IPFS.
    pub ipfs_swarm: Option<String>,
    /// Its pub/sub bridge's address (`/ip4/127.0.0.1/tcp/…/p2p/…`).
    pub bridge: String,
    /// Its Redis primary's TLS port, when the cluster caches in Redis.
    pub cache_tls: Option<u16>,
}

/// A running dev cluster.
pub struct Cluster {
    dir: TempDir,
    /// The nodes, in order.
    pub nodes: Vec<ClusterNode>,
}

impl Cluster {
    /// Brings up a cluster of `count` nodes sharing every engine (RQLite, a Redis Cluster,
    /// peered IPFS) and waits until all are ready.
    pub fn up(count: usize) -> Cluster {
        Cluster::up_with(count, &[], &[])
    }

    /// Like [`Cluster::up`], every node's processes started with `env` added.
    pub fn up_with_env(count: usize, env: &[(&str, &str)]) -> Cluster {
        Cluster::up_with(count, &[], env)
    }

    /// A cluster sharing SQL only (each node's cache in memory, its storage on its disk):
    /// lighter, for tests of what lives in the system tables.
    pub fn up_sql_only(count: usize) -> Cluster {
        Cluster::up_with(count, &["--cache", "memory", "--storage", "embedded"], &[])
    }

    fn up_with(count: usize, engines: &[&str], env: &[(&str, &str)]) -> Cluster {
        // Ports are checked free, then bound by the nodes a moment later: another test's
        // process may take one in between. Such a cluster is made again, elsewhere.
        for _ in 0..2 {
            match Cluster::try_up(count, engines, env) {
                Ok(cluster) => return cluster,
                // Rust says "Address already in use", rqlited and Redis "address already in use".
                Err(said) if said.to_ascii_lowercase().contains("address already in use") => {
                    eprintln!("a port was taken; again: {said}")
                }
                Err(said) => panic!("dev up failed: {said}"),
            }
        }
        Cluster::try_up(count, engines, env).unwrap_or_else(|said| panic!("dev up failed: {said}"))
    }

    fn try_up(count: usize, engines: &[&str], env: &[(&str, &str)]) -> Result<Cluster, String> {
        let dir = tempfile::Builder::new().prefix("orama").tempdir().expect("tempdir");
        let cluster_dir = dir.path().join("c");
        let count = count.to_string();
        let mut args = vec!["up", "--nodes", &count, "--any-ports", "--json"];
        args.extend_from_slice(engines);
        args.push("--dir");
        let output = dev_with(&args, &cluster_dir, env);
        let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        if !output.status.success() {
            return Err(said);
        }
        let nodes = read_nodes(&cluster_dir, &output.stdout);
        Ok(Cluster { dir, nodes })
    }

    /// `dev up --nodes count`: adds nodes to the running cluster, and waits until all are ready.
    pub fn grow(&mut self, count: usize) -> Output {
        let output = self.dev(&["up", "--nodes", &count.to_string(), "--any-ports", "--json"]);
        if output.status.success() {
            self.nodes = read_nodes(&self.dir(), &output.stdout);
        }
        output
    }

    /// Runs the cache's client (`redis-cli -p port args`) with the cluster's Redis password.
    pub fn redis(&self, port: u16, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .env("REDISCLI_AUTH", self.redis_password())
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The cluster's directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().join("c")
    }

    /// The cluster secret.
    pub fn secret(&self) -> String {
        std::fs::read_to_string(self.dir().join("cluster.secret")).expect("secret").trim().to_owned()
    }

    /// The password of rqlited's `orama-gateway` user (derived from the secret by `dev up`).
    pub fn rqlite_password(&self) -> String {
        let users: Value =
            serde_json::from_slice(&std::fs::read(self.dir().join("rqlite-auth.json")).expect("users")).expect("json");
        let gateway = users.as_array().and_then(|u| u.iter().find(|u| u["username"] == "orama-gateway"));
        gateway.and_then(|u| u["password"].as_str()).expect("the gateway's password").to_owned()
    }

    /// The password of the cluster's Redis servers (derived from the secret by `dev up`).
    pub fn redis_password(&self) -> String {
        let config = std::fs::read_to_string(self.dir().join("node1").join("cache.conf")).expect("cache.conf");
        let line = config.lines().find_map(|l| l.strip_prefix("requirepass ")).expect("requirepass");
        line.trim().to_owned()
    }

    /// Runs `orama-supervisor ctl --runtime-dir <node's> <args>`.
    pub fn ctl(&self, node: usize, args: &[&str]) -> Output {
        Command::new(bin("orama-supervisor"))
            .arg("ctl")
            .arg("--runtime-dir")
            .arg(&self.nodes[node].runtime_dir)
            .args(args)
            .output()
            .expect("run ctl")
    }

    /// `dev status --json`.
    pub fn status(&self) -> Vec<Value> {
        let output = dev(&["status", "--json", "--dir"], &self.dir());
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("dev status --json")
    }

    /// Runs `dev <args> --dir <ours>`.
    pub fn dev(&self, args: &[&str]) -> Output {
        let mut args = args.to_vec();
        args.push("--dir");
        dev(&args, &self.dir())
    }

    /// The pid of `node`'s supervisor, if it runs.
    pub fn supervisor_pid(&self, node: usize) -> Option<u32> {
        let path = self.dir().join(&self.nodes[node].name).join("supervisor.pid");
        let pid: u32 = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
        alive(pid).then_some(pid)
    }

    /// SIGKILLs `node`'s supervisor: its processes die with it.
    pub fn kill(&self, node: usize) {
        if let Some(pid) = self.supervisor_pid(node) {
            crate::process::signal(pid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in 0..self.nodes.len() {
            self.kill(node);
        }
    }
}

/// The nodes of the cluster in `cluster_dir`, from its `dev.json` and `dev up --json`'s output.
fn read_nodes(cluster_dir: &std::path::Path, up_output: &[u8]) -> Vec<ClusterNode> {
    let layout: Value =
        serde_json::from_slice(&std::fs::read(cluster_dir.join("dev.json")).expect("dev.json")).expect("json");
    let statuses: Vec<Value> = serde_json::from_slice(up_output).expect("dev up --json");
    statuses
        .iter()
        .zip(layout["nodes"].as_array().expect("nodes"))
        .map(|(status, node)| ClusterNode {
            name: status["name"].as_str().expect("name").to_owned(),
            port: port(node, "gateway_port"),
            runtime_dir: PathBuf::from(status["runtime_dir"].as_str().expect("runtime_dir")),
            data_dir: PathBuf::from(status["data_dir"].as_str().expect("data_dir")),
            rqlite_http: port(node, "rqlite_http"),
            rqlite_raft: port(node, "rqlite_raft"),
            cache: node["cache"]["primary"]
                .as_u64()
                .zip(node["cache"]["primary_bus"].as_u64())
                .map(|(primary, bus)| (u16::try_from(primary).expect("port"), u16::try_from(bus).expect("port"))),
            ipfs_swarm: node["ipfs"]["swarm"].as_u64().map(|swarm| {
                format!("/ip4/127.0.0.1/tcp/{swarm}/p2p/{}", node["ipfs"]["peer_id"].as_str().unwrap_or_default())
            }),
            cache_tls: node["cache"]["primary_tls"].as_u64().map(|p| u16::try_from(p).expect("port")),
            bridge: format!(
                "/ip4/127.0.0.1/tcp/{}/p2p/{}",
                port(node, "p2p_port"),
                node["peer_id"].as_str().expect("peer_id")
            ),
        })
        .collect()
}

fn port(node: &Value, key: &str) -> u16 {
    node[key].as_u64().and_then(|p| u16::try_from(p).ok()).expect("port")
}

fn dev(args: &[&str], dir: &std::path::Path) -> Output {
    dev_with(args, dir, &[])
}

/// `orama-supervisor dev <args> <dir>`, with `env` added (the nodes it starts inherit it).
fn dev_with(args: &[&str], dir: &std::path::Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(bin("orama-supervisor"));
    command.arg("dev").args(args).arg(dir).envs(env.iter().copied());
    command.output().expect("run orama-supervisor dev")
}
