//! The storage host calls (under `host` only) through the supervised node on the embedded
//! engine: `storage_put` stores into the function's own namespace (pinned there, held to its
//! quota) and answers the CID Kubo would; `storage_get` reads content by address, and a file
//! larger than the function's memory has room for is refused before it is sent, with the
//! reason in the function's log.

use orama_e2e::{Node, free_port, guest_wasm, http};
use serde_json::{Value, json};

use crate::FAST_SUPERVISOR;
use crate::functions::{Caller, read};
use crate::storage::{content, curl};

#[test]
fn functions_store_into_their_namespace_and_read_within_their_memory() {
    let calls = read(&guest_wasm("host-calls"));
    let port = free_port();
    let config = format!(
        "{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n\
         backends:\n  storage: {{ namespace_quota: 3584KiB }}\n"
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway", "wasm-runner"]);
    let (alice, bob) = (Caller::new(&node, port, "alice"), Caller::new(&node, port, "bob"));
    let alice_storage = crate::Tenant::new(&node, port, "alice", "/v1/storage");
    alice.deployed("calls", &calls, &[]);
    bob.deployed("small", &calls, &[("memory_limit_mb", "2")]);
    let run = |who: &Caller, function: &str, command: &str| -> String {
        let reply = who.invoke(&format!("/v1/functions/{function}/invoke"), command);
        assert_eq!(reply.status, 200, "{}: {reply:?}", &command[..command.len().min(60)]);
        reply.json["output"].as_str().map_or_else(|| reply.body.trim().to_owned(), str::to_owned)
    };

    // storage_put: the address Kubo gives the same bytes, pinned in alice's namespace.
    let cid = run(&alice, "calls", "store written by wasm");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("written");
    std::fs::write(&file, "written by wasm").expect("write");
    assert_eq!(cid, crate::storage::ipfs_cid(&file), "{cid}");
    let status = |who: &Caller, cid: &str| http(port, "GET", &format!("/v1/storage/status/{cid}"), &who.header, None);
    let pinned = status(&alice, &cid);
    assert_eq!((pinned.status, pinned.json["name"].as_str()), (200, Some("function calls")), "{pinned:?}");
    assert_eq!(status(&bob, &cid).status, 404, "not bob's pin");

    // storage_get: content by address, from any namespace, within the function's memory.
    assert_eq!(run(&alice, "calls", &format!("load {cid}")), "written by wasm");
    assert_eq!(run(&bob, "small", &format!("load {cid}")), "written by wasm", "content is public by address");
    let big = dir.path().join("big");
    std::fs::write(&big, content(3 * 1024 * 1024, 5)).expect("write");
    let (code, body, _) =
        curl(&alice_storage, port, &["-F", &format!("file=@{}", big.display())], "/v1/storage/upload");
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let big_cid = serde_json::from_slice::<Value>(&body).expect("json")["cid"].as_str().expect("cid").to_owned();
    assert_eq!(run(&bob, "small", &format!("load {big_cid}")), "", "3 MiB does not fit in 2 MiB of memory");
    assert_eq!(run(&alice, "calls", "load QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"), "", "not held here");
    // Invocation logs are written in the background: wait for them.
    let logged = |who: &Caller, function: &str, wanted: &dyn Fn(&str) -> bool| {
        orama_e2e::eventually(std::time::Duration::from_secs(10), || {
            let logs = who.get(&format!("/v1/functions/{function}/logs?limit=100")).json;
            logs["logs"].as_array().is_some_and(|l| l.iter().any(|l| l["message"].as_str().is_some_and(wanted)))
        })
    };
    assert!(logged(&bob, "small", &|m| m.contains("storage_get failed") && m.contains("room for")));

    // The namespace's quota holds for what functions write: alice has 3 MiB and a module
    // pinned, of 3.5.
    let over = format!("store {}", "x".repeat(600_000));
    assert_eq!(run(&alice, "calls", &over), "", "over alice's quota");
    assert!(logged(&alice, "calls", &|m| m.contains("storage_put failed")), "the refusal is logged");
    let unpinned = http(port, "DELETE", &format!("/v1/storage/unpin/{cid}"), &alice.header, None);
    assert_eq!(unpinned.json, json!({"status": "ok", "cid": cid}), "alice's own pin, to remove as any other");
}
