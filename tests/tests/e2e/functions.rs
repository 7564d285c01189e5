//! Serverless functions through the gateway: the reference's `hello` (Rust, wasm32-wasip1)
//! deployed by multipart and invoked; versions and rollback; public and private functions
//! across namespaces; host functions against redis and rqlited; `http_fetch` refusals and an
//! allowed fetch; hostile guests and a flood; a runner killed mid-invocation; WebSocket calls.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use orama_e2e::{Node, Reply, free_port, guest_wasm, http, http_bytes, manifest_dir, signal};

use crate::ws::WsClient;
use rustix::process::Signal;
use serde_json::{Value, json};

use crate::FAST_SUPERVISOR;

const BOUNDARY: &str = "orama-test-boundary-7d1f";

/// A tenant of the functions API.
pub struct Caller {
    port: u16,
    /// The header line carrying its key.
    pub header: String,
}

impl Caller {
    /// A key for `namespace` made with `ctl apikey create`.
    pub fn new(node: &Node, port: u16, namespace: &str) -> Caller {
        let key = crate::auth::ctl_ok(node, &["apikey", "create", "--namespace", namespace]).trim().to_owned();
        Caller { port, header: format!("X-API-Key: {key}\r\n") }
    }

    /// A caller presenting the key in `header` to the gateway on `port`.
    pub fn at(port: u16, header: &str) -> Caller {
        Caller { port, header: header.to_owned() }
    }

    /// A pub/sub client of its namespace on `topic`.
    pub fn subscribe(&self, topic: &str) -> WsClient {
        let path = format!("/v1/pubsub/ws?topic={topic}");
        WsClient::connect(self.port, &path, &self.header).unwrap_or_else(|e| panic!("subscribe to {topic}: {e:?}"))
    }

    /// Deploys `wasm` as `name` with extra form fields.
    pub fn deploy(&self, name: &str, wasm: &[u8], fields: &[(&str, &str)]) -> Reply {
        let mut body = Vec::new();
        let mut all = vec![("name", name)];
        all.extend_from_slice(fields);
        for (field, value) in all {
            write!(body, "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n")
                .expect("form");
        }
        write!(body, "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"wasm\"; filename=\"{name}.wasm\"\r\n")
            .expect("form");
        body.extend_from_slice(b"Content-Type: application/wasm\r\n\r\n");
        body.extend_from_slice(wasm);
        write!(body, "\r\n--{BOUNDARY}--\r\n").expect("form");
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        http_bytes(self.port, "POST", "/v1/functions", &self.header, &content_type, &body)
    }

    /// Deploys, asserting a 201; the function's record.
    pub fn deployed(&self, name: &str, wasm: &[u8], fields: &[(&str, &str)]) -> Value {
        let reply = self.deploy(name, wasm, fields);
        assert_eq!(reply.status, 201, "deploy {name}: {reply:?}");
        reply.json["function"].clone()
    }

    /// `POST path` with `input` as JSON.
    pub fn invoke(&self, path: &str, input: &str) -> Reply {
        http_bytes(self.port, "POST", path, &self.header, "application/json", input.as_bytes())
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        http(self.port, "GET", path, &self.header, None)
    }

    /// `POST path` with a JSON `body`.
    pub fn post(&self, path: &str, body: &Value) -> Reply {
        http(self.port, "POST", path, &self.header, Some(body))
    }
}

fn anonymous_invoke(port: u16, path: &str, input: &str) -> Reply {
    http_bytes(port, "POST", path, "", "text/plain", input.as_bytes())
}

/// A hostile `.wat` guest of the runner's tests.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(manifest_dir().join(format!("../wasm-runner/tests/guests/{name}.wat"))).expect("fixture")
}

/// A built guest module.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("guest module")
}

#[test]
fn functions_deploy_invoke_version_and_stay_in_their_namespace() {
    let hello = read(&guest_wasm("hello"));
    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway", "wasm-runner"]);
    let (alice, bob) = (Caller::new(&node, port, "alice"), Caller::new(&node, port, "bob"));

    let v1 = alice.deployed("hello", &hello, &[]);
    assert_eq!(
        (v1["version"].as_i64(), v1["namespace"].as_str(), v1["is_public"].as_bool()),
        (Some(1), Some("alice"), Some(false))
    );
    assert!(v1["wasm_cid"].as_str().is_some_and(|c| c.starts_with("Qm")), "{v1}");
    let greeted = alice.invoke("/v1/functions/hello/invoke", r#"{"name":"Ada"}"#);
    assert_eq!((greeted.status, greeted.json["greeting"].as_str()), (200, Some("Hello, Ada!")), "{greeted:?}");
    assert!(greeted.head.contains("x-request-id:") && greeted.head.contains("x-duration-ms:"), "{}", greeted.head);
    assert_eq!(alice.invoke("/v1/invoke/alice/hello", "{}").json["greeting"], "Hello, World!");

    // Private: no credential, or another namespace's, is refused; bob sees nothing of alice's.
    assert_eq!(anonymous_invoke(port, "/v1/invoke/alice/hello", "{}").status, 401);
    let refused = bob.invoke("/v1/invoke/alice/hello", "{}");
    assert_eq!((refused.status, refused.json["error"].as_str()), (401, Some("unauthorized")), "{refused:?}");
    assert_eq!(bob.invoke("/v1/functions/hello/invoke?namespace=alice", "{}").status, 401);
    assert_eq!(bob.get("/v1/functions").json["count"], 0);
    assert_eq!(bob.get("/v1/functions/hello").status, 404);
    assert_eq!(http(port, "DELETE", "/v1/functions/hello", &bob.header, None).status, 404);
    assert_eq!(bob.get("/v1/functions/hello/logs").json["count"], 0);
    assert_eq!(bob.get("/v1/functions/hello/versions").json["count"], 0);
    let foreign = bob.deploy("hello", &hello, &[("namespace", "alice")]);
    assert_eq!(foreign.status, 403, "cannot deploy into another namespace: {foreign:?}");

    // Version 2 answers text (wrapped); version 1 still answers by number; deleting 2 rolls back.
    let v2 = alice.deployed("hello", &fixture("greet"), &[("timeout_seconds", "5")]);
    assert_eq!(v2["version"], 2);
    let wrapped = alice.invoke("/v1/functions/hello/invoke", "Bo");
    assert_eq!(
        (wrapped.json["output"].as_str(), wrapped.json["status"].as_str()),
        (Some("Hello, Bo!"), Some("success")),
        "{wrapped:?}"
    );
    assert_eq!(alice.invoke("/v1/functions/hello@1/invoke", r#"{"name":"Cy"}"#).json["greeting"], "Hello, Cy!");
    let versions = alice.get("/v1/functions/hello/versions").json;
    assert_eq!((versions["count"].as_u64(), versions["versions"][0]["version"].as_i64()), (Some(2), Some(2)));
    assert_eq!(http(port, "DELETE", "/v1/functions/hello@2", &alice.header, None).status, 200);
    assert_eq!(alice.invoke("/v1/functions/hello/invoke", r#"{"name":"Di"}"#).json["greeting"], "Hello, Di!");
    assert_eq!(alice.get("/v1/functions/hello").json["version"], 1);

    // Public: anyone may invoke it, by namespace in the path or the query.
    let v3 = alice.deployed("hello", &hello, &[("is_public", "true")]);
    assert_eq!((v3["version"].as_i64(), v3["is_public"].as_bool()), (Some(3), Some(true)));
    assert_eq!(anonymous_invoke(port, "/v1/invoke/alice/hello", r#"{"name":"Ed"}"#).json["greeting"], "Hello, Ed!");
    assert_eq!(bob.invoke("/v1/functions/hello/invoke?namespace=alice", "{}").status, 200);
    let listed = alice.get("/v1/functions").json;
    assert_eq!((listed["count"].as_u64(), listed["functions"][0]["version"].as_i64()), (Some(1), Some(3)));

    // Invalid modules are refused at deploy with the validation error; nothing is recorded.
    let garbage = alice.deploy("broken", b"\0asm\x01\0\0\0garbage", &[]);
    assert_eq!(garbage.status, 400, "{garbage:?}");
    assert!(garbage.json["error"].as_str().is_some_and(|e| e.starts_with("invalid WASM module")), "{garbage:?}");
    let unknown = alice.deploy("missiles", &fixture("unknown_import"), &[]);
    assert!(unknown.status == 400 && unknown.body.contains("launch_missiles"), "{unknown:?}");
    assert_eq!(alice.get("/v1/functions/missiles").status, 404);
    assert_eq!(alice.deploy("bad name!", &hello, &[]).status, 400);
    assert_eq!(alice.get("/v1/functions/nope").status, 404);
    assert_eq!(alice.invoke("/v1/functions/nope/invoke", "").status, 404);

    // Deleting the function hides every version from its name.
    assert_eq!(http(port, "DELETE", "/v1/functions/hello", &alice.header, None).status, 200);
    assert_eq!(alice.invoke("/v1/functions/hello/invoke", "{}").status, 404);
    assert_eq!(alice.invoke("/v1/functions/hello@1/invoke", "{}").json["greeting"], "Hello, World!", "history stays");
}

#[test]
fn host_functions_reach_the_namespace_cache_sql_secrets_and_allowed_networks_only() {
    let rqlited = std::env::var("ORAMA_RQLITED").expect("ORAMA_RQLITED (set by scripts/test)");
    let calls = read(&guest_wasm("host-calls"));
    let (port, redis_port, rqlite_http, rqlite_raft) = (free_port(), free_port(), free_port(), free_port());
    let web = std::net::TcpListener::bind("127.0.0.2:0").expect("a web server on 127.0.0.2");
    let web_port = web.local_addr().expect("addr").port();
    std::thread::spawn(move || serve_web(web));
    let config = format!(
        "{FAST_SUPERVISOR}
gateway: {{ listen: '127.0.0.1:{port}', depends_on: [redis, rqlite] }}
wasm_runner: {{ http_fetch: {{ allow_networks: [127.0.0.2/32] }} }}
backends:
  cache: {{ engine: redis, urls: ['redis://127.0.0.1:{redis_port}'] }}
  sql: {{ engine: rqlite, urls: ['http://127.0.0.1:{rqlite_http}'] }}
externals:
  - name: redis
    command: redis-server
    args: [--port, '{redis_port}', --bind, 127.0.0.1, --save, '', --appendonly, 'no', --dir, '{{dir}}']
    health: {{ tcp: '127.0.0.1:{redis_port}' }}
  - name: rqlite
    command: '{rqlited}'
    args: [-node-id, n1, -http-addr, '127.0.0.1:{rqlite_http}', -raft-addr, '127.0.0.1:{rqlite_raft}', '{{dir}}/rqlite']
    health: {{ http: 'http://127.0.0.1:{rqlite_http}/readyz' }}
"
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway", "wasm-runner"]);
    let (alice, bob) = (Caller::new(&node, port, "alice"), Caller::new(&node, port, "bob"));
    let fields = [("env_vars", r#"{"GREETING":"hi"}"#), ("secrets", r#"{"TOKEN":"s3cret"}"#)];
    alice.deployed("calls", &calls, &fields);
    bob.deployed("calls", &calls, &[]);
    let run = |who: &Caller, command: &str| -> String {
        let reply = who.invoke("/v1/functions/calls/invoke", command);
        assert_eq!(reply.status, 200, "{command}: {reply:?}");
        reply.json["output"].as_str().map_or_else(|| reply.body.trim().to_owned(), str::to_owned)
    };

    assert_eq!(run(&alice, "cache color blue"), "blue");
    assert_eq!(run(&bob, "cache color red"), "red");
    assert_eq!(run(&alice, "delete color"), "1", "cache_delete (under `host` only)");
    assert_eq!((run(&alice, "get color"), run(&alice, "delete color")), (String::new(), "0".to_owned()));
    assert_eq!(run(&bob, "get color"), "red", "a namespace deletes its own keys only");
    assert_eq!(run(&alice, "incr visits 5"), "5");
    assert_eq!(run(&alice, "incr visits 2"), "7");
    assert_eq!(run(&bob, "incr visits 1"), "1", "bob's counter is his own");
    run(&alice, "exec CREATE TABLE notes (body TEXT)");
    assert_eq!(run(&alice, "exec INSERT INTO notes VALUES ('from wasm')"), "1");
    assert_eq!(run(&alice, "query SELECT body FROM notes"), r#"[{"body":"from wasm"}]"#);
    let sql = http(port, "POST", "/v1/rqlite/query", &alice.header, Some(&json!({"sql": "SELECT body FROM notes"})));
    assert_eq!(sql.json["items"][0]["body"], "from wasm", "the function wrote alice's own table: {sql:?}");
    assert_eq!(run(&bob, "query SELECT body FROM notes"), "", "bob's function cannot see alice's table");
    assert_eq!(run(&alice, "secret TOKEN"), "s3cret");
    assert_eq!(run(&bob, "secret TOKEN"), "", "a secret reaches its own function only");
    assert_eq!(run(&alice, "env GREETING"), "hi");
    assert_eq!(run(&alice, "caller"), "alice");
    assert_eq!(run(&alice, "publish news hello"), "1", "published (who sees it: the test below)");
    assert_eq!(run(&alice, "publish"), "0", "an empty topic is refused, and the failure logged (below)");
    let retrying = [("retry_count", "2"), ("retry_delay_seconds", "1")];
    alice.deployed("flaky", &calls, &retrying);
    let retried = alice.invoke("/v1/functions/flaky/invoke", "flaky tries");
    assert_eq!(
        (retried.status, retried.json["output"].as_str()),
        (200, Some("2")),
        "second attempt answers: {retried:?}"
    );

    for target in [
        format!("http://127.0.0.1:{port}/v1/health"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        "http://2130706433/".to_owned(),
        "http://0x7f.1/".to_owned(),
        "http://10.0.0.1/".to_owned(),
        "ftp://127.0.0.2/".to_owned(),
    ] {
        let answer: Value = serde_json::from_str(&run(&alice, &format!("fetch {target}"))).expect("fetch answer");
        assert_eq!(answer["status"], 0, "{target} must be refused: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| e.contains("may not reach") || e.contains("not allowed")),
            "{answer}"
        );
    }
    let fetched: Value =
        serde_json::from_str(&run(&alice, &format!("fetch http://127.0.0.2:{web_port}/hi"))).expect("json");
    assert_eq!(
        (fetched["status"].as_u64(), fetched["body"].as_str()),
        (Some(200), Some("x-test=from-wasm")),
        "{fetched}"
    );
    let redirected: Value =
        serde_json::from_str(&run(&alice, &format!("fetch http://127.0.0.2:{web_port}/away"))).expect("json");
    assert!(
        redirected["error"].as_str().is_some_and(|e| e.contains("may not reach")),
        "a redirect is checked too: {redirected}"
    );

    let logs = alice.get("/v1/functions/calls/logs?limit=500").json;
    let messages: Vec<&str> =
        logs["logs"].as_array().expect("logs").iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(messages.contains(&"ran cache") && messages.contains(&"ran fetch"), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("pubsub_publish failed")), "{messages:?}");
}

/// Answers `/hi` with the `x-test` header it got, and redirects `/away` to 127.0.0.1.
fn serve_web(listener: std::net::TcpListener) {
    for stream in listener.incoming().flatten() {
        let mut stream = stream;
        let mut request = [0u8; 4096];
        let n = stream.read(&mut request).unwrap_or(0);
        let request = String::from_utf8_lossy(&request[..n]).to_ascii_lowercase();
        let reply = if request.starts_with("get /away") {
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_owned()
        } else {
            let header = request.lines().find_map(|l| l.strip_prefix("x-test: ")).unwrap_or("none").trim().to_owned();
            let body = format!("x-test={header}");
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
        };
        let _ = stream.write_all(reply.as_bytes());
    }
}

#[test]
fn hostile_functions_fail_clearly_and_a_killed_runner_comes_back() {
    let hello = read(&guest_wasm("hello"));
    let calls = read(&guest_wasm("host-calls"));
    let port = free_port();
    let config = format!(
        "{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n\
         wasm_runner: {{ instances: 4, queue: 4, queue_timeout: 300ms, max_timeout: 10s, max_output: 1MiB }}\n"
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway", "wasm-runner"]);
    let alice = Caller::new(&node, port, "alice");
    alice.deployed("hello", &hello, &[]);
    alice.deployed("calls", &calls, &[]);
    let limits = [("timeout_seconds", "1"), ("memory_limit_mb", "16")];
    for name in
        ["infinite_loop", "memory_bomb", "deep_recursion", "giant_output", "unreachable", "divide_by_zero", "exit_code"]
    {
        alice.deployed(name, &fixture(name), &limits);
    }
    let expect = |name: &str, status: u16, kind: &str, needle: &str| {
        let started = std::time::Instant::now();
        let reply = alice.invoke(&format!("/v1/functions/{name}/invoke"), "");
        assert_eq!((reply.status, reply.json["status"].as_str()), (status, Some(kind)), "{name}: {reply:?}");
        let error = reply.json["error"].as_str().unwrap_or_default();
        assert!(error.contains(needle), "{name}: {error}");
        assert!(started.elapsed() < Duration::from_secs(5), "{name} took {:?}", started.elapsed());
        let fine = alice.invoke("/v1/functions/hello/invoke", "{}");
        assert_eq!(fine.json["greeting"], "Hello, World!", "the runner serves on after {name}");
    };
    expect("infinite_loop", 429, "timeout", "longer than");
    expect("memory_bomb", 429, "error", "memory limit");
    expect("deep_recursion", 500, "error", "stack");
    expect("giant_output", 429, "error", "output");
    expect("unreachable", 500, "error", "unreachable");
    expect("divide_by_zero", 500, "error", "divide by zero");
    expect("exit_code", 500, "error", "status 3");
    let bad = alice.invoke("/v1/functions/calls/invoke", "bad-pointer");
    assert!(bad.status == 500 && bad.body.contains("outside the guest's memory"), "{bad:?}");

    // The runner is confined: seccomp is on, and it said so.
    let runner = node.pid("wasm-runner");
    let status = std::fs::read_to_string(format!("/proc/{runner}/status")).expect("status");
    assert!(status.lines().any(|l| l.starts_with("Seccomp:") && l.ends_with('2')), "seccomp filter mode");
    assert!(node.log().contains("containment active: seccomp filter"), "the log says what is active");

    // A flood past slots and queue: refused at once (429) or after the queue wait (503).
    let flood: Vec<_> = (0..24)
        .map(|_| {
            let header = alice.header.clone();
            std::thread::spawn(move || {
                http_bytes(port, "POST", "/v1/functions/infinite_loop/invoke", &header, "", b"").status
            })
        })
        .collect();
    let statuses: Vec<u16> = flood.into_iter().map(|t| t.join().expect("caller")).collect();
    assert!(statuses.iter().all(|s| [429, 503].contains(s)), "{statuses:?}");
    assert!(statuses.contains(&503) || statuses.iter().filter(|s| **s == 429).count() > 8, "{statuses:?}");
    assert_eq!(node.pid("wasm-runner"), runner, "the flood did not take the runner down");
    assert_eq!(alice.invoke("/v1/functions/hello/invoke", "{}").status, 200);

    // Killed mid-invocation: the caller in flight gets 503 at once; the runner comes back.
    alice.deployed("slow", &fixture("infinite_loop"), &[("timeout_seconds", "8")]);
    let in_flight = {
        let header = alice.header.clone();
        std::thread::spawn(move || http_bytes(port, "POST", "/v1/functions/slow/invoke", &header, "", b""))
    };
    std::thread::sleep(Duration::from_millis(500));
    let killed_at = std::time::Instant::now();
    signal(runner, Signal::KILL);
    let dropped = in_flight.join().expect("caller");
    assert_eq!(dropped.status, 503, "{dropped:?}");
    assert!(killed_at.elapsed() < Duration::from_secs(3), "not left waiting for its deadline");
    node.wait_child("wasm-runner", "restarted", |c| c["state"] == "ready" && c["pid"] != runner);
    assert_eq!(alice.invoke("/v1/functions/hello/invoke", r#"{"name":"again"}"#).json["greeting"], "Hello, again!");
}

#[test]
fn websocket_frames_are_invocations() {
    let hello = read(&guest_wasm("hello"));
    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway", "wasm-runner"]);
    let alice = Caller::new(&node, port, "alice");
    alice.deployed("hello", &hello, &[]);
    alice.deployed("trap", &fixture("unreachable"), &[]);

    let mut socket = WsClient::connect(port, "/v1/functions/hello/ws", &alice.header).expect("upgrade");
    for name in ["Ada", "Bo"] {
        socket.send_text(&format!(r#"{{"name":"{name}"}}"#));
        let answer: Value = serde_json::from_slice(&socket.next().expect("answer").payload).expect("json frame");
        assert_eq!(
            (answer["status"].as_str(), answer["output"]["greeting"].as_str()),
            (Some("success"), Some(&*format!("Hello, {name}!")))
        );
        assert!(answer["request_id"].as_str().is_some_and(|id| id.len() == 36), "{answer}");
    }
    let mut trapping = WsClient::connect(port, "/v1/functions/trap/ws", &alice.header).expect("upgrade");
    trapping.send_text("x");
    let answer: Value = serde_json::from_slice(&trapping.next().expect("answer").payload).expect("json frame");
    assert_eq!(answer["status"], "error", "{answer}");
    let refused = WsClient::connect(port, "/v1/functions/hello/ws", "").err();
    assert_eq!(refused.map(|r| r.0), Some(401), "no credential, no socket");
}
