//! Servers without the cluster secret, turned against a dev cluster's engines: rqliteds that
//! try to join the Raft cluster (with no certificate, another CA's, and the cluster's own but
//! no password), an IPFS daemon without the swarm key, and Redis servers that
//! `CLUSTER MEET` a node's cluster bus (one speaking plain TCP, one TLS with a certificate of
//! its own CA). Each is refused, and the cluster's members stay the same.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use orama_e2e::cluster::Cluster;
use orama_e2e::{eventually, free_port, http};
use orama_service::cluster::ClusterSecret;
use orama_supervisor::cluster_ca::{ClusterCa, TlsFiles};

use crate::cluster::rqlited;

/// An IPFS daemon without the cluster's IPFS swarm key cannot connect to a node's daemon.
pub(crate) fn ipfs_is_refused(cluster: &Cluster) {
    let dir = tempfile::Builder::new().prefix("orama-stranger").tempdir().expect("tempdir");
    let repo = orama_e2e::jsipfs::IpfsRepo::init(dir.path());
    let (program, args) = repo.daemon_command();
    let mut daemon = Command::new(program)
        .args(args)
        .envs(repo.env())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("a stranger IPFS daemon");
    let api = repo.api_port;
    let up = eventually(Duration::from_secs(30), || std::net::TcpStream::connect(("127.0.0.1", api)).is_ok());
    let target = cluster.nodes[0].ipfs_swarm.clone().expect("node1's swarm address");
    let connect = http(api, "POST", &format!("/api/v0/swarm/connect?arg={target}"), "", None);
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert!(up, "the stranger daemon did not start");
    assert!(!connect.body.contains("success"), "a daemon without the swarm key connected: {connect:?}");
}

/// Redis servers that `CLUSTER MEET` node1's primary are never let into the cache cluster:
/// its bus speaks TLS and trusts only the cluster's CA. (Two strangers meeting each other do
/// form a cluster, so the check below would see a join.)
pub(crate) fn redis_servers_are_refused(cluster: &Cluster) {
    let (primary, bus) = cluster.nodes[0].cache.expect("node1 caches in a Redis Cluster");
    let password = cluster.redis_password();
    let members = || redis_cli(primary, Some(&password), &["cluster", "nodes"]);
    let known = members().lines().count();
    let foreign = tempfile::Builder::new().prefix("orama-stranger").tempdir().expect("tempdir");
    let secret = ClusterSecret::generate().expect("a secret");
    let tls =
        ClusterCa::derive(&secret, "redis-bus").expect("ca").write_files(foreign.path(), "stranger").expect("tls");
    let strangers = [RedisStranger::start(foreign.path(), None), RedisStranger::start(foreign.path(), Some(&tls))];
    let control = RedisStranger::start(foreign.path(), None);

    control.meet(strangers[0].port, strangers[0].bus);
    let met = eventually(Duration::from_secs(10), || strangers[0].connected_to(control.port));
    assert!(met, "two plain servers did not form a cluster: {}", control.nodes());
    for stranger in &strangers {
        stranger.meet(primary, bus);
    }
    // Handshakes time out after the node timeout (2 s in a dev cluster): watch for three.
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_secs(6) {
        let table = members();
        for stranger in strangers.iter().chain([&control]) {
            assert!(!table.contains(&format!(":{}@", stranger.port)), "a stranger joined:\n{table}");
        }
        assert_eq!(table.lines().count(), known, "{table}");
        std::thread::sleep(Duration::from_millis(250));
    }
    for stranger in &strangers {
        assert!(!stranger.connected_to(primary), "a stranger reached node1's bus: {}", stranger.nodes());
    }
}

/// A `redis-server` on free loopback ports, in cluster mode, killed when dropped.
struct RedisStranger {
    child: Child,
    port: u16,
    bus: u16,
}

impl RedisStranger {
    fn start(dir: &Path, tls: Option<&TlsFiles>) -> RedisStranger {
        let (port, bus) = (free_port(), free_port());
        let data = dir.join(port.to_string());
        std::fs::create_dir_all(&data).expect("data dir");
        let mut args: Vec<String> = ["--port", &port.to_string(), "--cluster-enabled", "yes"]
            .into_iter()
            .chain(["--cluster-port", &bus.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .chain(["--dir", &data.display().to_string()])
            .map(str::to_owned)
            .collect();
        if let Some(tls) = tls {
            let path = |p: &Path| p.display().to_string();
            args.extend(["--tls-port".into(), free_port().to_string(), "--tls-cluster".into(), "yes".into()]);
            args.extend(["--tls-cert-file".into(), path(&tls.certificate), "--tls-key-file".into(), path(&tls.key)]);
            args.extend(["--tls-ca-cert-file".into(), path(&tls.ca)]);
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let stranger = RedisStranger { child, port, bus };
        let up = eventually(Duration::from_secs(10), || redis_cli(port, None, &["ping"]).trim() == "PONG");
        assert!(up, "a stranger redis-server did not start");
        stranger
    }

    fn meet(&self, port: u16, bus: u16) {
        let said = redis_cli(self.port, None, &["cluster", "meet", "127.0.0.1", &port.to_string(), &bus.to_string()]);
        assert_eq!(said.trim(), "OK", "{said}");
    }

    fn nodes(&self) -> String {
        redis_cli(self.port, None, &["cluster", "nodes"])
    }

    /// Whether this server counts the server on `port` as a connected member.
    fn connected_to(&self, port: u16) -> bool {
        self.nodes().lines().any(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            fields.get(1).is_some_and(|address| address.contains(&format!(":{port}@")))
                && fields.get(2).is_some_and(|flags| !flags.contains("handshake"))
                && fields.get(7) == Some(&"connected")
        })
    }
}

impl Drop for RedisStranger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `redis-cli -p port args`, with the password in its environment when given.
fn redis_cli(port: u16, password: Option<&str>, args: &[&str]) -> String {
    let mut command = Command::new("redis-cli");
    command.args(["-p", &port.to_string()]).args(args);
    if let Some(password) = password {
        command.env("REDISCLI_AUTH", password);
    }
    let output = command.output().expect("run redis-cli");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn an_rqlited_without_the_secret_can_neither_join_nor_read() {
    let cluster = Cluster::up_sql_only(3);
    let secret = cluster.rqlite_password();
    assert!(!secret.contains(&cluster.secret()), "rqlited never sees the cluster secret itself");
    let raft: Vec<u16> = cluster.nodes.iter().map(|n| n.rqlite_raft).collect();
    let unauthenticated = http(cluster.nodes[1].rqlite_http, "GET", "/db/query?q=SELECT%201", "", None);
    assert_eq!(unauthenticated.status, 401, "{unauthenticated:?}");
    let wrong = http(
        cluster.nodes[1].rqlite_http,
        "GET",
        "/status",
        &format!("Authorization: Basic {}\r\n", basic("orama-gateway", "guess")),
        None,
    );
    assert_eq!(wrong.status, 401, "{wrong:?}");

    // Raft is mutual TLS under the cluster CA: a stranger without a certificate of it, or with
    // one of another cluster's CA, is cut off before it can ask; one holding the cluster's
    // certificates still has to give the join password.
    let join: Vec<String> = raft.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let foreign = tempfile::Builder::new().prefix("orama-stranger").tempdir().expect("tempdir");
    let other = ClusterSecret::generate().expect("a secret");
    let foreign_tls =
        ClusterCa::derive(&other, "rqlite-raft").expect("ca").write_files(foreign.path(), "stranger").expect("tls");
    let own = ClusterSecret::parse(&cluster.secret()).expect("the cluster's secret");
    let own_tls = ClusterCa::derive(&own, "rqlite-raft")
        .expect("ca")
        .write_files(&foreign.path().join("own"), "stranger")
        .expect("tls");
    for (tls, why) in [(None, "no certificate"), (Some(&foreign_tls), "another CA's certificate")] {
        let (joined, said) = stranger_rqlited(&join, tls);
        assert!(!joined && said.contains("failed to join"), "a stranger with {why} was not refused: {said}");
        assert!(!said.contains("unauthorized"), "a stranger with {why} got as far as the password: {said}");
    }
    let (joined, said) = stranger_rqlited(&join, Some(&own_tls));
    assert!(!joined && said.contains("unauthorized"), "a stranger without the password was not refused: {said}");
    let nodes = http(
        cluster.nodes[0].rqlite_http,
        "GET",
        "/nodes",
        &format!("Authorization: Basic {}\r\n", basic("orama-gateway", &secret)),
        None,
    );
    assert!(nodes.status == 200 && !nodes.body.contains("stranger"), "{nodes:?}");
}

/// Runs an rqlited that tries to join through `join` (with `tls`'s certificates for Raft)
/// until it gives up; whether it exited well, and what it said.
fn stranger_rqlited(join: &[String], tls: Option<&TlsFiles>) -> (bool, String) {
    let dir = tempfile::Builder::new().prefix("orama-stranger").tempdir().expect("tempdir");
    let (http_port, raft_port) = (free_port(), free_port());
    let mut command = Command::new(rqlited());
    command
        .args(["-node-id", "stranger", "-http-addr", &format!("127.0.0.1:{http_port}")])
        .args(["-raft-addr", &format!("127.0.0.1:{raft_port}"), "-join-attempts", "2", "-join-interval", "200ms"])
        .args(["-join", &join.join(",")]);
    if let Some(tls) = tls {
        command.arg("-node-ca-cert").arg(&tls.ca).arg("-node-cert").arg(&tls.certificate);
        command.arg("-node-key").arg(&tls.key).arg("-node-verify-client");
    }
    let mut stranger = command
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a stranger rqlited");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = stranger.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = stranger.kill();
            panic!("the stranger is still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = stranger.wait_with_output().expect("output");
    (
        status.success(),
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    )
}

/// `user:password` in base64, for an `Authorization: Basic` header.
pub(crate) fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}
