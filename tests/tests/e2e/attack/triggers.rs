//! A tenant turning triggers against the node: a function that publishes two messages to its
//! own trigger topic for each one it gets (a loop that doubles) is held to its namespace's
//! trigger rate (50 runs/s, bursts of 100, per node), the excess dropped and counted, while
//! another namespace's function is still served; deleting the function ends the loop.

use std::time::{Duration, Instant};

use base64::Engine as _;
use orama_e2e::{Node, eventually, free_port, guest_wasm, http, unix_get};
use serde_json::json;

use crate::FAST_SUPERVISOR;
use crate::functions::{Caller, read};

fn runs(caller: &Caller) -> usize {
    let logs = caller.get("/v1/functions/feedback/logs?limit=1000").json;
    let lines = logs["logs"].as_array().cloned().unwrap_or_default();
    lines.iter().filter(|l| l["message"].as_str().is_some_and(|m| m.starts_with("trigger "))).count()
}

fn dropped(node: &Node) -> u64 {
    let metrics = unix_get(&node.runtime_dir.join("gateway.sock"), "/metrics").expect("metrics");
    let line = metrics.lines().find_map(|l| l.strip_prefix("orama_function_trigger_events_dropped_total "));
    line.and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

#[test]
fn a_function_feeding_its_own_trigger_is_held_to_the_namespace_rate() {
    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway", "wasm-runner", "pubsub-bridge"]);
    let (alice, bob) = (Caller::new(&node, port, "alice"), Caller::new(&node, port, "bob"));
    let calls = read(&guest_wasm("host-calls"));
    let fields =
        [("triggers", r#"[{"type":"pubsub","topic":"loop"}]"#), ("env_vars", r#"{"ON_TRIGGER_PUBLISH":"loop"}"#)];
    alice.deployed("feedback", &calls, &fields);
    bob.deployed("hello", &read(&guest_wasm("hello")), &[]);
    let following = eventually(Duration::from_secs(20), || {
        alice.get("/v1/functions/feedback").json["triggers"][0]["following_here"] == true
    });
    assert!(following, "{:?}", alice.get("/v1/functions/feedback"));

    let started = Instant::now();
    let seed = json!({ "topic": "loop", "data_base64": base64::engine::general_purpose::STANDARD.encode("seed") });
    assert_eq!(alice.post("/v1/pubsub/publish", &seed).status, 200);
    assert!(eventually(Duration::from_secs(10), || dropped(&node) > 0), "the doubling loop outgrows the rate");
    // While it runs, the node and other tenants are served.
    for _ in 0..5 {
        let asked = Instant::now();
        assert_eq!(http(port, "GET", "/v1/health", "", None).status, 200);
        let hello = bob.invoke("/v1/functions/hello/invoke", r#"{"name":"bob"}"#);
        assert_eq!(hello.status, 200, "{hello:?}");
        assert!(asked.elapsed() < Duration::from_secs(2), "served in {:?}", asked.elapsed());
        std::thread::sleep(Duration::from_millis(300)); // Load phase: the loop keeps running.
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ran = runs(&alice);
    let bound = 100.0 + 50.0 * elapsed + 8.0;
    assert!((ran as f64) <= bound, "{ran} runs in {elapsed:.1} s, above the rate's {bound:.0}");
    assert!(ran >= 50, "the loop did run: {ran}");

    assert_eq!(http(port, "DELETE", "/v1/functions/feedback", &alice.header, None).status, 200);
    std::thread::sleep(Duration::from_secs(2)); // Runs already claimed may still finish.
    let after = runs(&alice);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(runs(&alice), after, "no run after the delete");
}
