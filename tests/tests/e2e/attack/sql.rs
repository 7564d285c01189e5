//! SQL attacks by an ordinary tenant, replayed against a real node on both engines: results
//! built to exhaust the gateway's memory (the gateway's peak RSS growth is measured for each:
//! under twice the 16 MiB result budget for results read cell by cell, under the engine's
//! memory limit plus the budget for values SQLite makes whole before a cell is read), statements built to overflow or panic the
//! parser or make it backtrack for ever, temporary tables outside the quota, and a namespace
//! filling the shared RQLite store. After each, another tenant is still served.

use std::time::{Duration, Instant};

use orama_e2e::{free_port, memory, reset_peak_memory};
use serde_json::json;

use crate::Tenant;
use crate::sql::{node_on, node_with_rqlite, node_with_sql};

const MIB: u64 = 1024 * 1024;
/// The default result budget (`backends.sql.max_result`).
const BUDGET: u64 = 16 * MIB;
/// The default memory limit of the SQL engine (`backends.sql.max_memory`).
const MAX_MEMORY: u64 = 64 * MIB;

fn columns(count: usize, value: &str) -> String {
    (0..count).map(|i| format!("{value} AS c{i}")).collect::<Vec<_>>().join(", ")
}

/// A bystander: bob's table and row, read back after each attack.
fn bystander(node: &orama_e2e::Node, port: u16) -> Tenant {
    let bob = Tenant::new(node, port, "bob", "/v1/rqlite");
    bob.ok("create-table", json!({"schema": "CREATE TABLE notes (body TEXT)"}));
    bob.ok("exec", json!({"sql": "INSERT INTO notes VALUES ('still here')"}));
    bob
}

fn still_served(bob: &Tenant) {
    let notes = bob.ok("query", json!({"sql": "SELECT body FROM notes"}));
    assert_eq!(notes["items"][0]["body"], "still here", "{notes}");
}

#[test]
fn memory_attacks_leave_the_gateway_within_twice_the_budget_on_the_embedded_engine() {
    memory_attacks("embedded");
}

#[test]
fn memory_attacks_leave_the_gateway_within_twice_the_budget_on_rqlite() {
    memory_attacks("rqlite");
}

fn memory_attacks(engine: &str) {
    let port = free_port();
    let node = node_on(engine, port);
    let (alice, bob) = (Tenant::new(&node, port, "alice", "/v1/rqlite"), bystander(&node, port));
    let gateway = node.pid("gateway");
    alice.ok("query", json!({"sql": "SELECT 1"}));
    let rows =
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 24) SELECT randomblob(1000000) FROM n";
    // (what, SQL, status on the embedded engine and on rqlite, the most the gateway may grow)
    let attacks = [
        (
            "40 zeroblobs of 16 MB",
            format!("SELECT {}", vec!["zeroblob(16000000)"; 40].join(", ")),
            [400, 400],
            2 * BUDGET,
        ),
        ("2,000 aliased zeroblobs", format!("SELECT {}", columns(2000, "zeroblob(16000000)")), [400, 400], 2 * BUDGET),
        ("24 rows of 1 MB", rows.to_owned(), [400, 400], 2 * BUDGET),
        // Values made whole before the first cell is read: bounded by the engine's memory limit.
        (
            "40 randomblobs of 16 MB",
            format!("SELECT {}", vec!["randomblob(16000000)"; 40].join(", ")),
            [503, 503],
            MAX_MEMORY + BUDGET,
        ),
        (
            "2,000 aliased randomblobs",
            format!("SELECT {}", columns(2000, "randomblob(16000000)")),
            [400, 503],
            MAX_MEMORY + BUDGET,
        ),
    ];
    for (name, sql, statuses, bound) in attacks {
        let (before, _) = memory(gateway);
        assert!(before > 0, "the gateway's memory is readable");
        reset_peak_memory(gateway);
        let started = std::time::Instant::now();
        let reply = alice.post("query", json!({ "sql": sql }));
        assert!(started.elapsed() < Duration::from_secs(5), "{name} took {:?}: {reply:?}", started.elapsed());
        let (_, peak) = memory(gateway);
        let growth = peak.saturating_sub(before);
        eprintln!(
            "{engine}, {name}: {} (RSS {} MiB before, peak growth {} MiB)",
            reply.status,
            before / MIB,
            growth / MIB
        );
        let expected = if engine == "embedded" { statuses[0] } else { statuses[1] };
        assert_eq!(reply.status, expected, "{name}: {reply:?}");
        assert!(reply.json["error"].as_str().is_some_and(|e| !e.is_empty()), "{name}: {reply:?}");
        assert!(growth < bound, "{engine}, {name}: peak RSS grew by {growth} bytes (bound {bound})");
        still_served(&bob);
    }
    // A result just within the budget is served; it costs the rows and the reply's bytes.
    let (before, _) = memory(gateway);
    reset_peak_memory(gateway);
    let near = alice.ok("query", json!({"sql": "SELECT hex(randomblob(7000000)) AS b"}));
    let (_, peak) = memory(gateway);
    let growth = peak.saturating_sub(before);
    eprintln!("{engine}, a 14 MB result within the budget: peak growth {} MiB", growth / MIB);
    assert_eq!(near["count"], 1, "a result within the budget is still served");
    assert!(growth < 4 * BUDGET, "{engine}: serving a result within the budget grew the gateway by {growth} bytes");
    // 6 MB of bytes that are not text would become 18 MB of replacement characters in the reply.
    let widened = alice.post("query", json!({"sql": "SELECT CAST(randomblob(6000000) AS TEXT) AS t"}));
    assert_eq!(widened.status, 400, "{widened:?}");
    assert!(widened.body.contains("max_result"), "{widened:?}");
}

#[test]
fn hostile_statements_are_refused_quickly_on_rqlite() {
    hostile_statements("rqlite");
}

#[test]
fn hostile_statements_are_refused_quickly_on_the_embedded_engine() {
    hostile_statements("embedded");
}

fn hostile_statements(engine: &str) {
    let port = free_port();
    let node = node_on(engine, port);
    let (alice, bob) = (Tenant::new(&node, port, "alice", "/v1/rqlite"), bystander(&node, port));
    let gateway = node.pid("gateway");
    alice.ok("create-table", json!({"schema": "CREATE TABLE t (a INTEGER)"}));
    let deep_case = format!("SELECT {}1", "CASE WHEN 1 THEN ".repeat(40));
    let positions = format!("SELECT {}1", "POSITION(".repeat(40));
    let attacks = [
        ("query", json!({"sql": format!("SELECT 1{}", "+1".repeat(100_000))})),
        ("query", json!({"sql": format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000))})),
        ("query", json!({"sql": "SELECT 1 REGEXP"})),
        ("query", json!({"sql": deep_case})),
        ("query", json!({"sql": positions})),
        ("exec", json!({"sql": format!("INSERT INTO t VALUES ({})", "CAST(".repeat(40))})),
        ("select", json!({"table": "t", "where": [{"expr": format!("a = 1{}", "+1".repeat(100_000))}]})),
        ("select", json!({"table": "t", "where": [{"expr": format!("a = {}1", "POSITION(".repeat(40))}]})),
        (
            "find",
            json!({"table": "t", "criteria": {"a": 1}, "options": {"order_by": [format!("{}a", "CASE WHEN 1 THEN ".repeat(40))]}}),
        ),
        ("transaction", json!({"ops": [{"kind": "query", "sql": format!("SELECT {}1", "CEIL(".repeat(40))}]})),
        ("query", json!({"sql": "(".repeat(1_000_000)})),
        (
            "query",
            json!({"sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 20000) SELECT x FROM c LIMIT -1"}),
        ),
    ];
    for (route, body) in attacks {
        let started = Instant::now();
        let reply = alice.post(route, body.clone());
        let shown = body.to_string().chars().take(60).collect::<String>();
        assert_eq!(reply.status, 400, "{route} {shown}: {reply:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{route} {shown} took {:?}", started.elapsed());
        still_served(&bob);
    }
    assert_eq!(node.pid("gateway"), gateway, "the gateway never restarted");
}

#[test]
fn temporary_objects_cannot_escape_the_embedded_quota() {
    let port = free_port();
    let node = node_on("embedded", port);
    let (alice, bob) = (Tenant::new(&node, port, "alice", "/v1/rqlite"), bystander(&node, port));
    for sql in [
        "CREATE TEMP TABLE scratch (b BLOB)",
        "CREATE TABLE temp.scratch (b BLOB)",
        "CREATE TEMP VIEW v AS SELECT 1",
        "CREATE VIRTUAL TABLE temp.f USING fts5(x)",
    ] {
        let reply = alice.post("exec", json!({ "sql": sql }));
        assert_eq!(reply.status, 400, "{sql}: {reply:?}");
        assert!(reply.json["error"].as_str().is_some_and(|e| e.contains("not allowed")), "{sql}: {reply:?}");
    }
    let batch =
        alice.post("transaction", json!({"statements": ["CREATE TEMP TABLE s (b)", "INSERT INTO s VALUES (1)"]}));
    assert_eq!(batch.status, 400, "{batch:?}");
    still_served(&bob);
}

#[test]
fn a_namespace_at_its_quota_in_the_shared_store_cannot_write_and_others_can() {
    let port = free_port();
    let node = node_with_sql("rqlite", port, "namespace_quota: 256KiB");
    let (alice, bob) = (Tenant::new(&node, port, "alice", "/v1/rqlite"), bystander(&node, port));
    // UNIQUE makes SQLite keep every value twice (the table and its own autoindex): both count.
    alice.ok("create-table", json!({"schema": "CREATE TABLE blobs (b TEXT UNIQUE)"}));
    let chunk = |i: usize| format!("{i}{}", "x".repeat(32 * 1024));
    let mut stored = 0;
    let refused = loop {
        let reply = alice.post("exec", json!({"sql": "INSERT INTO blobs VALUES (?)", "args": [chunk(stored)]}));
        if reply.status != 200 {
            break reply;
        }
        stored += 1;
        assert!(stored < 64, "the quota never bit");
    };
    assert_eq!(refused.status, 507, "{refused:?}");
    assert!(refused.json["error"].as_str().is_some_and(|e| e.contains("namespace_quota")), "{refused:?}");
    assert!((3..=4).contains(&stored), "256 KiB of 32 KiB rows, each kept twice, went in: {stored}");
    let sneaky =
        alice.post("transaction", json!({"ops": [{"kind": "query", "sql": "INSERT INTO blobs VALUES ('x')"}]}));
    assert_eq!(sneaky.status, 507, "a write labelled as a query is still a write: {sneaky:?}");
    bob.ok("exec", json!({"sql": "INSERT INTO notes VALUES (?)", "args": [chunk(0)]}));
    still_served(&bob);
    alice.ok("exec", json!({"sql": "DELETE FROM blobs"}));
    let freed = orama_e2e::eventually(Duration::from_secs(15), || {
        alice.post("exec", json!({"sql": "INSERT INTO blobs VALUES ('small again')"})).status == 200
    });
    assert!(freed, "a delete shows at the next measurement");
}

#[test]
fn schema_text_counts_against_the_shared_store_quota() {
    let port = free_port();
    let node = node_with_sql("rqlite", port, "namespace_quota: 256KiB");
    let alice = Tenant::new(&node, port, "alice", "/v1/rqlite");
    let table = |i: usize| format!("CREATE TABLE t{i} (a TEXT DEFAULT '{}')", "d".repeat(100 * 1024));
    let created = (0..10).take_while(|i| alice.post("exec", json!({"sql": table(*i)})).status == 200).count();
    assert!((1..=3).contains(&created), "tables of 100 KiB of schema each stop at the quota: {created} went in");
    let refused = alice.post("exec", json!({"sql": table(99)}));
    assert_eq!(refused.status, 507, "{refused:?}");
}

#[test]
fn writes_that_store_more_than_they_say_stop_at_the_shared_store_quota() {
    let port = free_port();
    let (node, rqlite) = node_with_rqlite(port, ", namespace_quota: 1MiB");
    let (alice, bob) = (Tenant::new(&node, port, "alice", "/v1/rqlite"), bystander(&node, port));
    alice.ok("create-table", json!({"schema": "CREATE TABLE g (b BLOB)"}));
    alice.ok("create-table", json!({"schema": "CREATE TABLE d (a INTEGER, b BLOB DEFAULT (randomblob(100000)))"}));
    alice.ok("exec", json!({"sql": "INSERT INTO g VALUES (x'00')"}));
    let repeated = ["?1"; 10].join(" || ");
    // Each stores about 100 KB from a statement of a few dozen bytes.
    let attacks = [
        ("INSERT INTO g VALUES (randomblob(100000))".to_owned(), json!([])),
        (format!("INSERT INTO g VALUES ({repeated})"), json!(["x".repeat(10_000)])),
        ("INSERT INTO d (a) VALUES (1)".to_owned(), json!([])),
        ("INSERT INTO g SELECT randomblob(100000) FROM g LIMIT 1".to_owned(), json!([])),
        ("WITH x AS (SELECT 1) INSERT INTO g SELECT randomblob(100000) FROM x".to_owned(), json!([])),
    ];
    let refused = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for (sql, args) in attacks.iter().cycle().take(40) {
                    let reply = alice.post("exec", json!({"sql": sql, "args": args}));
                    assert!(matches!(reply.status, 200 | 429 | 507), "{sql}: {reply:?}");
                    if reply.status == 507 {
                        refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let stored = namespace_bytes(rqlite, &["g", "d"]);
    eprintln!("alice holds {} KiB against a quota of 1 MiB", stored / 1024);
    assert!(refused.into_inner() > 0, "the quota bit");
    // 320 writes of ~100 KB were tried; the quota lets through at most one past it.
    assert!(stored < 2 * MIB, "alice holds {} KiB against a quota of 1 MiB", stored / 1024);
    still_served(&bob);
}

/// Bytes of the tenants' tables named `tables` (any prefix), read from rqlited itself.
fn namespace_bytes(rqlite: u16, tables: &[&str]) -> u64 {
    let names: Vec<String> = tables.iter().map(|t| format!("tbl_name LIKE 't\\_%\\_{t}' ESCAPE '\\'")).collect();
    let sql = format!(
        "SELECT sum(pgsize) FROM dbstat WHERE aggregate = 1 AND name IN (SELECT name FROM sqlite_master WHERE {})",
        names.join(" OR ")
    );
    let reply = orama_e2e::http(rqlite, "POST", "/db/query", "", Some(&json!([sql])));
    reply.json["results"][0]["values"][0][0].as_u64().unwrap_or_else(|| panic!("dbstat: {}", reply.body))
}
