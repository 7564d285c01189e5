//! Serverless attacks by an ordinary tenant: a flood of slow invocations that must leave the
//! other namespaces' invocations served (each namespace holds at most its share of the
//! runner), invocation bodies far past `max_input` refused before they are read, and a tenant
//! trying to make the IPFS node drop another tenant's function module by pinning and unpinning
//! the same bytes.

use std::time::{Duration, Instant};

use orama_e2e::{Node, free_port, guest_wasm, http, stream_post};
use serde_json::json;

use crate::FAST_SUPERVISOR;
use crate::functions::{Caller, fixture, read};

const MIB: u64 = 1024 * 1024;

#[test]
fn a_namespace_flooding_the_runner_leaves_the_others_served() {
    let port = free_port();
    let config = format!(
        "{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n\
         wasm_runner: {{ instances: 8, queue: 8, queue_timeout: 2s, namespace_share: 25% }}\n"
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway", "wasm-runner"]);
    let (alice, bob) = (Caller::new(&node, port, "alice"), Caller::new(&node, port, "bob"));
    alice.deployed("spin", &fixture("infinite_loop"), &[("timeout_seconds", "3")]);
    bob.deployed("hello", &read(&guest_wasm("hello")), &[]);
    let flood: Vec<_> = (0..16)
        .map(|_| {
            let header = alice.header.clone();
            std::thread::spawn(move || {
                orama_e2e::http_bytes(port, "POST", "/v1/functions/spin/invoke", &header, "", b"")
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..10 {
        let started = Instant::now();
        let reply = bob.invoke("/v1/functions/hello/invoke", &format!(r#"{{"name":"bob {i}"}}"#));
        assert_eq!(reply.json["greeting"], format!("Hello, bob {i}!"), "{reply:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "bob waited {:?} behind alice", started.elapsed());
    }
    let refused: Vec<_> = flood.into_iter().map(|t| t.join().expect("caller")).collect();
    let over_share = refused.iter().filter(|r| r.body.contains("namespace_share")).count();
    assert!(over_share >= 10, "alice's calls past her share are refused at once: {refused:?}");
    assert!(refused.iter().all(|r| r.status == 429 || r.status == 503), "{refused:?}");
}

#[test]
fn invocation_bodies_past_max_input_are_refused_before_they_are_read() {
    let port = free_port();
    let config =
        format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\nwasm_runner: {{ max_input: 1MiB }}\n");
    let node = Node::start(&config);
    node.wait_ready(&["gateway", "wasm-runner"]);
    let alice = Caller::new(&node, port, "alice");
    let hello = read(&guest_wasm("hello"));
    alice.deployed("hello", &hello, &[]);
    alice.deployed("open", &hello, &[("is_public", "true")]);
    for (path, headers) in [
        ("/v1/functions/hello/invoke", alice.header.as_str()),
        ("/v1/functions/open/invoke?namespace=alice", ""),
        ("/v1/invoke/alice/open", ""),
    ] {
        let answer = stream_post(port, path, headers, ("", 100 * MIB, ""));
        assert_eq!(answer.status, 413, "{path}: {answer:?}");
        assert!(answer.sent_at_answer < 20 * MIB, "{path}: answered after {} MiB", answer.sent_at_answer / MIB);
    }
    let fits = alice.invoke("/v1/functions/hello/invoke", &format!(r#"{{"name":"{}"}}"#, "x".repeat(900_000)));
    assert_eq!(fits.status, 200, "an input within max_input still runs");
}

#[test]
fn another_tenant_cannot_unpin_a_functions_module_from_the_ipfs_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = orama_e2e::jsipfs::IpfsRepo::init(dir.path());
    let (port, api) = (free_port(), repo.api_port);
    let config = format!(
        "{FAST_SUPERVISOR}
gateway: {{ listen: '127.0.0.1:{port}', depends_on: [ipfs] }}
backends:
  storage: {{ engine: ipfs, api_url: 'http://127.0.0.1:{api}', timeout: 10s }}
externals:
{}",
        repo.external()
    );
    let node = Node::start(&config);
    node.wait_ready(&["ipfs", "gateway", "wasm-runner"]);
    let (alice, bob) = (Caller::new(&node, port, "alice"), Caller::new(&node, port, "bob"));
    let hello = read(&guest_wasm("hello"));
    let cid = alice.deployed("hello", &hello, &[])["wasm_cid"].as_str().expect("wasm_cid").to_owned();
    let copy = http(port, "GET", &format!("/v1/storage/get/{cid}"), &bob.header, None);
    assert_eq!(copy.status, 200, "content is public by address");
    let upload = json!({ "name": "copy.wasm", "data": base64_of(&hello) });
    let pinned = http(port, "POST", "/v1/storage/upload", &bob.header, Some(&upload));
    assert_eq!(pinned.json["cid"], cid.as_str(), "the same bytes, the same address: {pinned:?}");
    let unpinned = http(port, "DELETE", &format!("/v1/storage/unpin/{cid}"), &bob.header, None);
    assert_eq!(unpinned.status, 200, "{unpinned:?}");
    let (_, pins) = crate::storage::ipfs_rpc(api, &format!("pin/ls?arg={cid}"));
    assert!(pins.contains(&cid), "the module stays pinned on the IPFS node: {pins}");
    let invoked = alice.invoke("/v1/functions/hello/invoke", r#"{"name":"still"}"#);
    assert_eq!(invoked.json["greeting"], "Hello, still!", "{invoked:?}");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn hostile_sql_from_a_function_is_refused_like_any_tenants() {
    let port = free_port();
    let node = crate::sql::node_on("rqlite", port);
    node.wait_ready(&["wasm-runner"]);
    let (alice, bob) = (Caller::new(&node, port, "alice"), crate::Tenant::new(&node, port, "bob", "/v1/rqlite"));
    bob.ok("create-table", json!({"schema": "CREATE TABLE notes (body TEXT)"}));
    alice.deployed("calls", &read(&guest_wasm("host-calls")), &[]);
    let gateway = node.pid("gateway");
    for sql in [
        format!("SELECT 1{}", "+1".repeat(100_000)),
        format!("SELECT {}1", "POSITION(".repeat(40)),
        format!("SELECT {}", vec!["zeroblob(16000000)"; 40].join(", ")),
        "SELECT 1 REGEXP".to_owned(),
        "SELECT * FROM api_keys".to_owned(),
    ] {
        let started = Instant::now();
        let reply = alice.invoke("/v1/functions/calls/invoke", &format!("query {sql}"));
        let shown: String = sql.chars().take(40).collect();
        assert_eq!(reply.status, 200, "{shown}: {reply:?}");
        assert!(!reply.body.contains("key_hash"), "{shown}: {reply:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{shown} took {:?}", started.elapsed());
    }
    assert_eq!(node.pid("gateway"), gateway, "the gateway never went down");
    assert_eq!(bob.ok("query", json!({"sql": "SELECT COUNT(*) AS n FROM notes"}))["items"][0]["n"], 0);
}
