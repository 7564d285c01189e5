//! The SQL API through the supervised gateway on both engines (embedded SQLite files, and a
//! supervised rqlited holding every namespace's tables and the system tables): every endpoint
//! in the reference's shapes, atomic transactions, bound parameters, and two tenants that
//! cannot see, change or drop each other's tables or reach the system tables by any SQL.

use orama_e2e::{Node, free_port, http};
use serde_json::json;

use crate::{FAST_SUPERVISOR, Tenant};

/// A node on `engine` (`embedded`, or `rqlite`: a supervised rqlited), its gateway ready.
pub fn node_on(engine: &str, port: u16) -> Node {
    node_with_sql(engine, port, "")
}

/// [`node_on`] with more `backends.sql` settings (`key: value, ...`).
pub fn node_with_sql(engine: &str, port: u16, settings: &str) -> Node {
    let settings = if settings.is_empty() { String::new() } else { format!(", {settings}") };
    let config = match engine {
        "embedded" => format!(
            "{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\nbackends:\n  sql: {{ engine: embedded{settings} }}\n"
        ),
        _ => return node_with_rqlite(port, &settings).0,
    };
    let node = Node::start(&config);
    node.wait_ready(&["gateway"]);
    node
}

/// A node storing SQL in an rqlited it runs, with `settings` (`, key: value` each) added to
/// `backends.sql`; and rqlited's HTTP port.
pub fn node_with_rqlite(port: u16, settings: &str) -> (Node, u16) {
    let rqlited = std::env::var("ORAMA_RQLITED").expect("ORAMA_RQLITED (set by scripts/test)");
    let (http, raft) = (free_port(), free_port());
    let config = format!(
        "{FAST_SUPERVISOR}
gateway: {{ listen: '127.0.0.1:{port}', depends_on: [rqlite] }}
backends:
  sql: {{ engine: rqlite, urls: ['http://127.0.0.1:{http}'], consistency: strong, query_timeout: 10s{settings} }}
externals:
  - name: rqlite
    command: '{rqlited}'
    args: [-node-id, n1, -http-addr, '127.0.0.1:{http}', -raft-addr, '127.0.0.1:{raft}', '{{dir}}/rqlite']
    health: {{ http: 'http://127.0.0.1:{http}/readyz' }}
"
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway"]);
    (node, http)
}

#[test]
fn every_sql_route_works_on_the_embedded_engine() {
    every_sql_route_works("embedded");
}

#[test]
fn every_sql_route_works_on_rqlite() {
    every_sql_route_works("rqlite");
}

#[test]
fn tenants_are_isolated_on_the_embedded_engine() {
    tenants_cannot_reach_each_other_or_the_system_tables("embedded");
}

#[test]
fn tenants_are_isolated_on_rqlite() {
    tenants_cannot_reach_each_other_or_the_system_tables("rqlite");
}

fn every_sql_route_works(engine: &str) {
    let port = free_port();
    let node = node_on(engine, port);
    let alice = Tenant::new(&node, port, "alice", "/v1/rqlite");

    let created = alice
        .post("create-table", json!({"schema": "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)"}));
    assert_eq!(created.status, 201, "{created:?}");
    let exec = alice.ok("exec", json!({"sql": "INSERT INTO users (name, age) VALUES (?, ?)", "args": ["ann", 30]}));
    assert_eq!(exec, json!({"rows_affected": 1, "last_insert_id": 1, "execution_state": "ok"}));
    let ddl = alice.ok("exec", json!({"sql": "CREATE TABLE other (id INTEGER PRIMARY KEY)"}));
    assert_eq!(ddl["rows_affected"], 0, "not the previous INSERT's count: {ddl}");
    alice.ok("exec", json!({"sql": "DROP TABLE other"}));
    let hostile = "x'); DROP TABLE users; --";
    alice.ok("exec", json!({"sql": "INSERT INTO users (name, age) VALUES (?, 41)", "args": [hostile]}));
    let query = alice.ok("query", json!({"sql": "SELECT name FROM users WHERE age > ? ORDER BY id", "args": [35]}));
    assert_eq!(query, json!({"count": 1, "items": [{"name": hostile}]}), "bound, stored verbatim");

    let found = alice.ok("find", json!({"table": "users", "criteria": {"age": 30}, "options": {"select": ["name"]}}));
    assert_eq!(found, json!({"count": 1, "items": [{"name": "ann"}]}));
    assert_eq!(alice.ok("find-one", json!({"table": "users", "criteria": {"name": "ann"}}))["age"], 30);
    let missing = alice.post("find-one", json!({"table": "users", "criteria": {"name": "nobody"}}));
    assert_eq!((missing.status, missing.json["error"].as_str()), (404, Some("not found")));
    let selected =
        alice.ok("select", json!({"table": "users", "where": [{"expr": "age < ?", "args": [40]}], "one": true}));
    assert_eq!(selected["name"], "ann");

    let atomic = alice.post(
        "transaction",
        json!({"ops": [
        {"kind": "exec", "sql": "INSERT INTO users (name, age) VALUES ('bob', 1)"},
        {"kind": "exec", "sql": "INSERT INTO users (id, name) VALUES (1, 'duplicate')"}]}),
    );
    assert_eq!(atomic.status, 400, "{atomic:?}");
    assert_eq!(
        alice.ok("query", json!({"sql": "SELECT COUNT(*) AS n FROM users"}))["items"][0]["n"],
        2,
        "all or nothing"
    );
    let results = alice.ok(
        "transaction",
        json!({"return_results": true, "ops": [
        {"kind": "EXEC", "sql": "INSERT INTO users (name, age) VALUES (?, ?)", "args": ["cy", 5]},
        {"kind": "query", "sql": "SELECT COUNT(*) AS n FROM users"}]}),
    );
    assert_eq!(results["results"], json!([{"rows_affected": 1, "last_insert_id": 3}, [{"n": 3}]]));
    assert_eq!(
        alice.ok("transaction", json!({"statements": ["UPDATE users SET age = age + 1"]})),
        json!({"status": "ok"})
    );

    let schema = http(port, "GET", "/v1/rqlite/schema", &alice.header, None);
    assert_eq!(schema.json["count"], 1, "{schema:?}");
    assert_eq!(schema.json["tables"][0]["name"], "users");
    for (route, body, error) in [
        ("query", json!({"args": []}), "invalid body: {sql, args?}"),
        ("drop-table", json!({"table": "users; --"}), "invalid table identifier"),
        ("transaction", json!({"ops": [{"kind": "merge", "sql": "SELECT 1"}]}), "invalid op kind: merge"),
    ] {
        let reply = alice.post(route, body);
        assert_eq!((reply.status, reply.json["error"].as_str()), (400, Some(error)), "{route}");
    }
    let syntax = alice.post("query", json!({"sql": "SELEC 1"}));
    assert!(syntax.status == 400 && syntax.json["error"].as_str().is_some_and(|e| !e.is_empty()), "{syntax:?}");
    assert_eq!(alice.ok("drop-table", json!({"table": "users"})), json!({"status": "ok"}));
    let gone = alice.post("drop-table", json!({"table": "users"}));
    assert_eq!(gone.status, 404, "{gone:?}");
    let anonymous = http(port, "POST", "/v1/rqlite/query", "", Some(&json!({"sql": "SELECT 1"})));
    assert_eq!(anonymous.status, 401);
}

fn tenants_cannot_reach_each_other_or_the_system_tables(engine: &str) {
    let port = free_port();
    let node = node_on(engine, port);
    let (alice, bob) = (Tenant::new(&node, port, "alice", "/v1/rqlite"), Tenant::new(&node, port, "bob", "/v1/rqlite"));
    alice.ok("create-table", json!({"schema": "CREATE TABLE secrets (s TEXT)"}));
    alice.ok("exec", json!({"sql": "INSERT INTO secrets VALUES ('alice-only')"}));

    let data = node.path().join("data/gateway");
    let alice_file = data.join("sql/alice.db").display().to_string();
    let system_file = data.join("system.db").display().to_string();
    let alice_prefix = {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(b"alice");
        format!("t_{}_", digest.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>())
    };
    let reads = [
        json!({"sql": "SELECT * FROM secrets"}),
        json!({"sql": format!("SELECT * FROM {alice_prefix}secrets")}),
        json!({"sql": format!("SELECT * FROM \"{alice_prefix}secrets\"")}),
        json!({"sql": "SELECT * FROM namespaces"}),
        json!({"sql": "SELECT s FROM main.secrets"}),
        json!({"sql": "SELECT name FROM sqlite_master"}),
        json!({"sql": "SELECT * FROM api_keys"}),
        json!({"sql": format!("ATTACH DATABASE '{alice_file}' AS a")}),
        json!({"sql": format!("ATTACH DATABASE '{system_file}' AS s")}),
        json!({"sql": "SELECT * FROM pragma_table_info('secrets')"}),
        json!({"sql": "PRAGMA database_list"}),
        json!({"sql": "SELECT 1 /* */; SELECT * FROM secrets"}),
    ];
    for body in reads {
        let reply = bob.post("query", body.clone());
        let leaked = reply.body.contains("alice-only") || reply.body.contains("secrets") && reply.status == 200;
        assert!(!leaked, "{body}: {reply:?}");
        assert!(reply.status == 400 || reply.json["count"] == 0, "{body}: {reply:?}");
    }
    let bob_views = bob.post("create-table", json!({"schema": format!("CREATE VIEW v AS SELECT * FROM secrets")}));
    assert!(bob.post("query", json!({"sql": "SELECT * FROM v"})).status == 400 || bob_views.status == 400);
    for (route, body) in [
        ("exec", json!({"sql": "DELETE FROM secrets"})),
        ("exec", json!({"sql": "INSERT INTO secrets VALUES ('from bob')"})),
        ("exec", json!({"sql": format!("VACUUM INTO '{alice_file}'")})),
        ("drop-table", json!({"table": "secrets"})),
        ("find", json!({"table": "secrets"})),
        ("select", json!({"table": "secrets"})),
        ("transaction", json!({"statements": ["DROP TABLE secrets"]})),
        ("exec", json!({"sql": format!("DELETE FROM {alice_prefix}secrets")})),
        ("exec", json!({"sql": "DELETE FROM api_keys"})),
    ] {
        let reply = bob.post(route, body.clone());
        assert!(reply.status >= 400, "{route} {body}: {reply:?}");
    }
    let still = alice.ok("query", json!({"sql": "SELECT s FROM secrets"}));
    assert_eq!(still, json!({"count": 1, "items": [{"s": "alice-only"}]}), "alice's data is untouched");
    let namespace_in_query = http(
        port,
        "POST",
        "/v1/rqlite/query?namespace=alice",
        &bob.header,
        Some(&json!({"sql": "SELECT * FROM secrets"})),
    );
    assert_eq!(namespace_in_query.status, 400, "a query parameter does not widen a credential");
}

#[test]
fn a_killed_rqlite_is_a_503_until_the_supervisor_brings_it_back() {
    let port = free_port();
    let node = node_on("rqlite", port);
    let alice = Tenant::new(&node, port, "alice", "/v1/rqlite");
    alice.ok("create-table", json!({"schema": "CREATE TABLE notes (body TEXT)"}));
    alice.ok("exec", json!({"sql": "INSERT INTO notes VALUES ('kept')"}));
    let gateway = node.pid("gateway");

    orama_e2e::signal(node.pid("rqlite"), rustix::process::Signal::KILL);
    let reply = alice.post("query", json!({"sql": "SELECT body FROM notes"}));
    assert!(reply.status == 503 || reply.status == 200, "{reply:?}");
    let back = orama_e2e::eventually(std::time::Duration::from_secs(30), || {
        alice.post("query", json!({"sql": "SELECT body FROM notes"})).json["items"] == json!([{"body": "kept"}])
    });
    assert!(back, "the route recovered with the data\n{}", node.log());
    assert_eq!(node.child("rqlite")["restarts"], 1);
    assert_eq!(node.pid("gateway"), gateway, "without a gateway restart");
}

#[test]
fn a_node_pointed_at_another_schema_does_not_start_and_names_its_tables() {
    let rqlited = std::env::var("ORAMA_RQLITED").expect("ORAMA_RQLITED (set by scripts/test)");
    let (rqlite_http, raft, port) = (free_port(), free_port(), free_port());
    let data = tempfile::tempdir().expect("tempdir");
    let _engine = KilledOnDrop(
        std::process::Command::new(rqlited)
            .args(["-node-id", "n1", "-http-addr", &format!("127.0.0.1:{rqlite_http}")])
            .args(["-raft-addr", &format!("127.0.0.1:{raft}")])
            .arg(data.path().join("rqlite"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("rqlited"),
    );
    let up = orama_e2e::eventually(std::time::Duration::from_secs(20), || {
        orama_e2e::try_http(rqlite_http, "GET", "/readyz", "", None, std::time::Duration::from_secs(2))
            .is_some_and(|r| r.status == 200)
    });
    assert!(up, "rqlited did not start");
    // The Go reference's first migration, as its node applies it.
    let reference = json!([
        ["CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)"],
        ["CREATE TABLE namespaces (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, created_at)"],
        ["CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE NOT NULL, namespace_id)"],
        ["INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0), (2, 0), (3, 0), (4, 0)"]
    ]);
    let seeded = http(rqlite_http, "POST", "/db/execute", "", Some(&reference));
    assert_eq!(seeded.status, 200, "{seeded:?}");

    let config = format!(
        "{}gateway: {{ listen: '127.0.0.1:{port}' }}\nbackends:\n  sql: {{ engine: rqlite, urls: ['http://127.0.0.1:{rqlite_http}'] }}\n",
        crate::FAST_SUPERVISOR_ALONE
    );
    let node = Node::start(&config);
    let said = orama_e2e::eventually(std::time::Duration::from_secs(30), || {
        let logs = node.ctl(&["logs", "gateway", "-n", "200"]);
        String::from_utf8_lossy(&logs.stdout).contains("another schema")
    });
    let logs = String::from_utf8_lossy(&node.ctl(&["logs", "gateway", "-n", "200"]).stdout).into_owned();
    assert!(said, "the gateway says why it does not start: {logs}");
    assert!(logs.contains("api_keys, namespaces, schema_migrations"), "and names the tables: {logs}");
    assert_ne!(node.child("gateway")["state"], "ready");
}

/// A process killed when the test ends, whichever way it ends.
struct KilledOnDrop(std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
