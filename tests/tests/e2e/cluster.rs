//! Three nodes sharing one RQLite Raft cluster (issue 15, its SQL part): each node supervises
//! one rqlited, all started at once with the same join list (`-bootstrap-expect 3`) and the
//! cluster's credentials (`-auth`, the cluster secret); each gateway keeps its system tables
//! (API keys among them) and every namespace's tables there. So a key minted on one node works
//! on the others and a tenant's rows written through one node are read through another. An
//! rqlited without the secret can neither join nor read.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use orama_e2e::{Node, free_port, http};
use serde_json::json;

use crate::FAST_SUPERVISOR_ALONE;
use crate::auth::ctl_ok;

/// One node of the cluster: its supervisor, gateway port and rqlited ports.
struct Member {
    node: Node,
    port: u16,
    http: u16,
}

/// The cluster's secret: what its rqlited nodes join with and its gateways sign in with.
fn secret() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{:x}{:x}", nanos, std::process::id())
}

fn rqlited() -> String {
    std::env::var("ORAMA_RQLITED").expect("ORAMA_RQLITED (set by scripts/test)")
}

/// Starts three nodes at once and waits until every gateway is ready (which needs the RQLite
/// cluster to have a leader).
fn cluster(secret: &str) -> (Vec<Member>, Vec<u16>) {
    let ports: Vec<(u16, u16, u16)> = (0..3).map(|_| (free_port(), free_port(), free_port())).collect();
    let raft: Vec<u16> = ports.iter().map(|p| p.2).collect();
    let join: Vec<String> = raft.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let users = json!([
        {"username": "orama-cluster", "password": secret, "perms": ["join"]},
        {"username": "orama-gateway", "password": secret, "perms": ["execute", "query", "status", "ready", "nodes"]},
    ]);
    let members: Vec<Member> = ports
        .iter()
        .enumerate()
        .map(|(i, &(port, http, raft))| {
            let dir = tempfile::Builder::new().prefix("orama").tempdir().expect("tempdir");
            let auth = dir.path().join("rqlite-auth.json");
            std::fs::write(&auth, users.to_string()).expect("auth file");
            let config = format!(
                "{FAST_SUPERVISOR_ALONE}
gateway: {{ listen: '127.0.0.1:{port}', depends_on: [rqlite] }}
backends:
  sql: {{ engine: rqlite, urls: ['http://orama-gateway:{secret}@127.0.0.1:{http}'], consistency: strong, query_timeout: 10s }}
externals:
  - name: rqlite
    command: '{rqlited}'
    args: [-node-id, n{i}, -http-addr, '127.0.0.1:{http}', -raft-addr, '127.0.0.1:{raft}', -auth, '{auth}',
           -join-as, orama-cluster, -bootstrap-expect, '3', -join, '{join}', '{dir}/rqlite']
    health: {{ tcp: '127.0.0.1:{http}' }}
",
                rqlited = rqlited(),
                auth = auth.display(),
                join = join.join(","),
                dir = dir.path().display(),
            );
            Member { node: Node::start_in(dir, &config), port, http }
        })
        .collect();
    for member in &members {
        member.node.wait_ready(&["gateway"]);
    }
    (members, raft)
}

#[test]
fn any_node_serves_any_tenant_keys_and_sql_through_the_rqlite_cluster() {
    let secret = secret();
    let (members, _) = cluster(&secret);
    let key = ctl_ok(&members[0].node, &["apikey", "create", "--namespace", "shared"]).trim().to_owned();
    let header = format!("X-API-Key: {key}\r\n");
    for member in &members {
        let whoami = http(member.port, "GET", "/v1/auth/whoami", &header, None);
        assert_eq!((whoami.status, whoami.json["namespace"].as_str()), (200, Some("shared")), "{whoami:?}");
    }
    let sql = |member: &Member, route: &str, body: serde_json::Value| {
        let reply = http(member.port, "POST", &format!("/v1/rqlite/{route}"), &header, Some(&body));
        assert!((200..300).contains(&reply.status), "node :{} {route} {body}: {reply:?}", member.port);
        reply.json
    };
    sql(&members[0], "create-table", json!({"schema": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"}));
    // Each write through another node, each read right after through the next one.
    for i in 0..9 {
        let (writer, reader) = (&members[i % 3], &members[(i + 1) % 3]);
        sql(writer, "exec", json!({"sql": "INSERT INTO notes (body) VALUES (?)", "args": [format!("note {i}")]}));
        let count = sql(reader, "query", json!({"sql": "SELECT count(*) AS n FROM notes"}));
        assert_eq!(
            count["items"][0]["n"],
            i + 1,
            "read through :{} after a write through :{}",
            reader.port,
            writer.port
        );
    }
    // The tables are the cluster's: rqlited answers them on every node (with the secret).
    for member in &members {
        let query = http(
            member.http,
            "GET",
            "/db/query?level=strong&q=SELECT%20count(*)%20FROM%20api_keys",
            &format!("Authorization: Basic {}\r\n", basic("orama-gateway", &secret)),
            None,
        );
        assert_eq!(query.status, 200, "{query:?}");
        assert!(query.body.contains("\"values\":[[1]]"), "one key, on every node: {}", query.body);
    }
}

#[test]
fn an_rqlited_without_the_secret_can_neither_join_nor_read() {
    let secret = secret();
    let (members, raft) = cluster(&secret);
    let unauthenticated = http(members[1].http, "GET", "/db/query?q=SELECT%201", "", None);
    assert_eq!(unauthenticated.status, 401, "{unauthenticated:?}");
    let wrong = http(
        members[1].http,
        "GET",
        "/status",
        &format!("Authorization: Basic {}\r\n", basic("orama-gateway", "guess")),
        None,
    );
    assert_eq!(wrong.status, 401, "{wrong:?}");

    let dir = tempfile::Builder::new().prefix("orama-stranger").tempdir().expect("tempdir");
    let join: Vec<String> = raft.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let (http_port, raft_port) = (free_port(), free_port());
    let mut stranger = Command::new(rqlited())
        .args(["-node-id", "stranger", "-http-addr", &format!("127.0.0.1:{http_port}")])
        .args(["-raft-addr", &format!("127.0.0.1:{raft_port}"), "-join-attempts", "2", "-join-interval", "200ms"])
        .args(["-join", &join.join(",")])
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
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!status.success() && said.contains("unauthorized"), "the stranger was not refused: {said}");
    let nodes = http(
        members[0].http,
        "GET",
        "/nodes",
        &format!("Authorization: Basic {}\r\n", basic("orama-gateway", &secret)),
        None,
    );
    assert!(nodes.status == 200 && !nodes.body.contains("stranger"), "{nodes:?}");
}

/// `user:password` in base64, for an `Authorization: Basic` header.
fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}
