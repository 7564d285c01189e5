//! Strict request bodies on every route group (issue 21): each request shape the contract
//! documents is accepted (fields we ignore included); an unknown field is a 400 naming it and
//! the accepted ones; a missing required field and a wrong type are named; a refused body
//! stores nothing. Multipart routes refuse unknown parts and a file that is not WebAssembly.

use std::io::Write as _;

use base64::Engine as _;
use orama_e2e::{Node, Reply, free_port, http, http_bytes};
use serde_json::{Value, json};

use crate::FAST_SUPERVISOR;
use crate::functions::fixture;

/// A node with every API on its embedded engines, and one tenant's key.
struct Bench {
    _node: Node,
    port: u16,
    header: String,
}

impl Bench {
    fn start() -> Bench {
        let port = free_port();
        let node = Node::start(&format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n"));
        node.wait_ready(&["gateway", "wasm-runner", "pubsub-bridge"]);
        let key = crate::auth::ctl_ok(&node, &["apikey", "create", "--namespace", "strict"]).trim().to_owned();
        Bench { _node: node, port, header: format!("X-API-Key: {key}\r\n") }
    }

    fn post(&self, path: &str, body: &Value) -> Reply {
        http(self.port, "POST", path, &self.header, Some(body))
    }

    /// Posts `body`, asserting the route took its shape (any answer but a 400).
    fn accepted(&self, path: &str, body: Value) -> Reply {
        let reply = self.post(path, &body);
        assert_ne!(reply.status, 400, "{path} refused a documented shape {body}: {reply:?}");
        assert!(reply.status < 500, "{path} {body}: {reply:?}");
        reply
    }

    /// Posts `body`, asserting a 400 whose message contains every one of `words`.
    fn refused(&self, path: &str, body: Value, words: &[&str]) {
        let reply = self.post(path, &body);
        let message = reply.json["error"].as_str().unwrap_or_default();
        assert_eq!(reply.status, 400, "{path} {body}: {reply:?}");
        assert!(words.iter().all(|w| message.contains(w)), "{path} {body}: {message:?} lacks {words:?}");
    }

    fn multipart(&self, path: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Reply {
        const BOUNDARY: &str = "strict-bodies-boundary";
        let mut body = Vec::new();
        for (name, filename, value) in parts {
            let filename = filename.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
            write!(body, "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n")
                .expect("form");
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        }
        write!(body, "--{BOUNDARY}--\r\n").expect("form");
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        http_bytes(self.port, "POST", path, &self.header, &content_type, &body)
    }
}

#[test]
fn every_documented_request_shape_is_accepted() {
    let b = Bench::start();
    let sql = |route: &str, body: Value| b.accepted(&format!("/v1/rqlite/{route}"), body);
    sql("create-table", json!({"schema": "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"}));
    sql("create-table", json!({"schema": "CREATE TABLE t2 (ref INTEGER)"}));
    sql("exec", json!({"sql": "INSERT INTO t (name) VALUES (?)", "args": ["ann"]}));
    sql("query", json!({"sql": "SELECT * FROM t WHERE id > ?", "args": [0]}));
    let options = json!({"select": ["id", "name"], "order_by": ["id"], "group_by": ["id"], "limit": 5, "offset": 0,
        "joins": [{"kind": "LEFT", "table": "t2", "on": "t2.ref = t.id"}]});
    sql("find", json!({"table": "t", "criteria": {"name": "ann"}, "options": options}));
    sql("find", json!({"table": "t", "criteria": {}, "select": ["id"], "order_by": ["id"], "limit": 1, "offset": 0}));
    sql("find-one", json!({"table": "t", "criteria": {"id": 1}}));
    let select = json!({"table": "t", "alias": "a", "select": ["a.id"], "joins": [], "where": [{"conj": "AND",
        "expr": "a.id > ?", "args": [0]}], "group_by": [], "order_by": ["a.id"], "limit": 10, "offset": 0, "one": false});
    sql("select", select);
    let ops = json!([{"kind": "exec", "sql": "INSERT INTO t (name) VALUES (?)", "args": ["bo"]},
        {"kind": "QUERY", "sql": "SELECT count(*) AS n FROM t"}]);
    sql("transaction", json!({"ops": ops, "return_results": true, "stop_on_error": true, "partial_results": false}));
    sql("transaction", json!({"statements": ["INSERT INTO t (name) VALUES ('cy')"]}));
    sql("drop-table", json!({"table": "t"}));

    let cache = |route: &str, body: Value| b.accepted(&format!("/v1/cache/{route}"), body);
    cache("put", json!({"dmap": "d", "key": "k", "value": {"any": ["json"]}, "ttl": "1h"}));
    cache("get", json!({"dmap": "d", "key": "k"}));
    cache("mget", json!({"dmap": "d", "keys": ["k", "missing"]}));
    cache("scan", json!({"dmap": "d", "match": "^k"}));
    cache("delete", json!({"dmap": "d", "key": "k"}));

    b.accepted("/v1/pubsub/publish", json!({"topic": "t", "data_base64": "aGk="}));
    b.accepted("/v1/pubsub/publish", json!({"topic": "t", "data_base64": ""}));
    let uploaded = b.accepted("/v1/storage/upload", json!({"name": "n.txt", "data": "aGVsbG8="}));
    let cid = uploaded.json["cid"].as_str().expect("cid").to_owned();
    b.accepted("/v1/storage/pin", json!({"cid": cid, "name": "n", "replication_factor": 3}));

    let wallet = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
    b.accepted(
        "/v1/auth/challenge",
        json!({"wallet": wallet, "purpose": "login", "namespace": "strict", "chain_type": "ETH"}),
    );
    let signed =
        json!({"wallet": wallet, "nonce": "n", "signature": "0x00", "namespace": "strict", "chain_type": "ETH"});
    b.accepted("/v1/auth/verify", signed.clone());
    let mut with_plan = signed.clone();
    with_plan["plan"] = json!("free");
    b.accepted("/v1/auth/api-key", with_plan);
    let mut with_name = signed;
    with_name["name"] = json!("app");
    b.accepted("/v1/auth/register", with_name);
    b.accepted("/v1/auth/refresh", json!({"refresh_token": "nope", "namespace": "strict"}));
    b.accepted("/v1/auth/logout", json!({"refresh_token": "nope", "namespace": "strict", "all": false}));

    let wasm = base64::engine::general_purpose::STANDARD.encode(fixture("greet"));
    let definition = json!({"name": "greet", "namespace": "strict", "version": 3, "memory_limit_mb": 32,
        "timeout_seconds": 5, "is_public": false, "retry_count": 0, "retry_delay_seconds": 5, "dlq_topic": "dead",
        "env_vars": {"A": "1"}, "cron_expressions": ["* * * * *"],
        "db_triggers": [{"table": "t", "operation": "INSERT", "condition": ""}], "pubsub_topics": ["t"],
        "wasm_base64": wasm});
    let deployed = b.accepted("/v1/functions", definition);
    assert_eq!(deployed.status, 201, "{deployed:?}");
}

#[test]
fn unknown_missing_and_mistyped_fields_are_named_and_nothing_is_kept() {
    let b = Bench::start();
    // The reported loss: a wrong field name published an empty message with a 200.
    b.refused("/v1/pubsub/publish", json!({"topic": "t", "data": "hi"}), &["unknown field `data`", "`data_base64`"]);
    b.refused("/v1/pubsub/publish", json!({"topic": "t"}), &["invalid body: expected {topic,data_base64}"]);
    b.refused("/v1/pubsub/publish", json!({"topic": 5, "data_base64": ""}), &["field `topic`", "expected a string"]);

    b.refused("/v1/rqlite/exec", json!({"sql": "SELECT 1", "arg": [1]}), &["unknown field `arg`", "`sql`", "`args`"]);
    b.refused("/v1/rqlite/query", json!({"sql": 5}), &["field `sql`", "expected a string"]);
    b.refused(
        "/v1/rqlite/transaction",
        json!({"ops": [{"kind": "exec", "sql": "SELECT 1", "argz": []}]}),
        &["in `ops[0]`", "unknown field `argz`"],
    );
    b.refused("/v1/rqlite/find", json!({"table": "t", "criterias": {}}), &["unknown field `criterias`", "`criteria`"]);
    b.refused("/v1/rqlite/select", json!({"table": "t", "wher": []}), &["unknown field `wher`", "`where`"]);
    b.refused("/v1/rqlite/exec", json!({}), &["invalid body: {sql, args?}"]);

    b.refused("/v1/cache/put", json!({"dmap": "d", "key": "k", "val": 1}), &["unknown field `val`", "`value`"]);
    b.refused("/v1/cache/get", json!({"dmap": "d", "key": 7}), &["field `key`", "expected a string"]);
    let missing = b.post("/v1/cache/get", &json!({"dmap": "d", "key": "k"}));
    assert_eq!(missing.status, 404, "a refused put stored nothing: {missing:?}");

    b.refused("/v1/storage/pin", json!({"cid": "Qm", "nme": "x"}), &["unknown field `nme`", "`cid`"]);
    b.refused("/v1/storage/upload", json!({"name": "a", "dat": "aGk="}), &["unknown field `dat`", "`data`"]);
    b.refused("/v1/auth/challenge", json!({"wallet": "0x00", "purpos": "x"}), &["unknown field `purpos`", "`purpose`"]);
    b.refused(
        "/v1/functions",
        json!({"name": "f", "wasm_base64": "AGFzbQ==", "memory": 5}),
        &["unknown field `memory`"],
    );
    b.refused("/v1/functions", json!({"name": "f", "is_public": "yes"}), &["field `is_public`", "expected a boolean"]);

    // Multipart: unknown parts, a missing file, a file that is not WebAssembly.
    let greet = fixture("greet");
    let reply = b.multipart("/v1/functions", &[("name", None, b"f"), ("wasmm", Some("f.wasm"), &greet)]);
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.json["error"].as_str().is_some_and(|e| e.contains("unknown form field `wasmm`")), "{reply:?}");
    let reply = b.multipart("/v1/functions", &[("name", None, b"f")]);
    assert_eq!((reply.status, reply.json["error"].as_str()), (400, Some("WASM file required")), "{reply:?}");
    let reply = b.multipart("/v1/functions", &[("name", None, b"f"), ("wasm", Some("f.wasm"), b"PK\x03\x04zipped")]);
    let error = reply.json["error"].as_str().unwrap_or_default();
    assert!(
        reply.status == 400 && error.starts_with("not a WebAssembly module: the file starts with \"PK\\x03\\x04"),
        "{reply:?}"
    );
    let reply = b.multipart("/v1/storage/upload", &[("file", Some("a.txt"), b"hi"), ("pinned", None, b"true")]);
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.json["error"].as_str().is_some_and(|e| e.contains("unknown part `pinned`")), "{reply:?}");
    let reply = b.multipart("/v1/storage/upload", &[("pin", None, b"true")]);
    assert_eq!((reply.status, reply.json["error"].as_str()), (400, Some("failed to get file: no part named file")));
}
