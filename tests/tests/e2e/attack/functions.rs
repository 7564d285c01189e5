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
    let (answers, answered) = std::sync::mpsc::channel();
    let flood: Vec<_> = (0..16)
        .map(|_| {
            let (header, answers) = (alice.header.clone(), answers.clone());
            std::thread::spawn(move || {
                let reply = orama_e2e::http_bytes(port, "POST", "/v1/functions/spin/invoke", &header, "", b"");
                let _ = answers.send(reply);
            })
        })
        .collect();
    // Alice's share is full once her calls are refused for it; then bob calls.
    let full = std::iter::from_fn(|| answered.recv_timeout(Duration::from_secs(10)).ok())
        .find(|reply: &orama_e2e::Reply| reply.body.contains("namespace_share"));
    assert!(full.is_some(), "alice's flood never filled her share");
    for i in 0..10 {
        let started = Instant::now();
        let reply = bob.invoke("/v1/functions/hello/invoke", &format!(r#"{{"name":"bob {i}"}}"#));
        assert_eq!(reply.json["greeting"], format!("Hello, bob {i}!"), "{reply:?}");
        assert!(started.elapsed() < Duration::from_secs(8), "bob waited {:?} behind alice", started.elapsed());
    }
    for caller in flood {
        caller.join().expect("caller");
    }
    drop(answers);
    let refused: Vec<orama_e2e::Reply> = answered.iter().collect();
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
    let config = repo.node_config(FAST_SUPERVISOR, port);
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

#[test]
fn function_modules_count_against_the_storage_quota_and_stay_pinned() {
    let port = free_port();
    let config = format!(
        "{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\nbackends:\n  storage: {{ namespace_quota: 100KiB }}\n"
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway", "wasm-runner"]);
    let alice = Caller::new(&node, port, "alice");
    let hello = read(&guest_wasm("hello"));
    assert!(hello.len() > 50 * 1024 && hello.len() < 100 * 1024, "hello is {} bytes", hello.len());
    let cid = alice.deployed("hello", &hello, &[])["wasm_cid"].as_str().expect("wasm_cid").to_owned();
    let unpin = http(port, "DELETE", &format!("/v1/storage/unpin/{cid}"), &alice.header, None);
    assert_eq!(unpin.status, 409, "a module is the function's, not unpinned by hand: {unpin:?}");
    let other = fixture("infinite_loop");
    assert_eq!(alice.deployed("spin", &other, &[])["name"], "spin", "a small module still fits");
    let second = alice.deploy("hello2", &with_custom_section(&hello, 48 * 1024), &[]);
    assert_eq!(second.status, 507, "the modules together pass the quota: {second:?}");
    assert_eq!(alice.invoke("/v1/functions/hello/invoke", r#"{"name":"still"}"#).json["greeting"], "Hello, still!");
}

/// `wasm` with a custom section of `size` zero bytes appended (the same program, another CID).
fn with_custom_section(wasm: &[u8], size: usize) -> Vec<u8> {
    let name = b"padding";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.resize(payload.len() + size, 0);
    let mut out = wasm.to_vec();
    out.push(0);
    let mut length = payload.len();
    loop {
        let byte = (length & 0x7f) as u8;
        length >>= 7;
        out.push(if length == 0 { byte } else { byte | 0x80 });
        if length == 0 {
            break;
        }
    }
    out.extend_from_slice(&payload);
    out
}
