//! Functions and pub/sub (issue 18): a function's `pubsub_publish` reaches its own
//! namespace's subscribers once and no other namespace's, and a function that keeps failing
//! sends its dead letter to its `dlq_topic`, in its own namespace only.

use std::time::Duration;

use orama_e2e::{Node, free_port, guest_wasm};
use serde_json::Value;

use crate::FAST_SUPERVISOR;
use crate::functions::{Caller, read};

#[test]
fn a_function_publishes_into_its_own_namespace_and_nowhere_else() {
    let calls = read(&guest_wasm("host-calls"));
    let (_node, alice, bob) = publishing_node();
    alice.deployed("calls", &calls, &[]);
    let (mut mine, mut theirs) = (alice.subscribe("news"), bob.subscribe("news"));

    let published = alice.invoke("/v1/functions/calls/invoke", "publish news hello-from-wasm");
    assert_eq!(published.status, 200, "{published:?}");
    assert_eq!(published.json["output"].as_str().unwrap_or(published.body.trim()), "1", "{published:?}");
    assert_eq!(crate::pubsub::receive(&mut mine, 1), ["hello-from-wasm"], "exactly once, in its own namespace");
    theirs.read_timeout(Duration::from_millis(800));
    assert!(theirs.envelope().is_none(), "another namespace's subscriber on the same topic sees nothing");

    let empty_topic = alice.invoke("/v1/functions/calls/invoke", "publish");
    assert_eq!(empty_topic.json["output"].as_str().unwrap_or(empty_topic.body.trim()), "0", "{empty_topic:?}");
}

#[test]
fn a_function_that_keeps_failing_sends_its_dead_letter_to_its_own_namespace() {
    let calls = read(&guest_wasm("host-calls"));
    let (_node, alice, bob) = publishing_node();
    let fields = [("retry_count", "1"), ("retry_delay_seconds", "1"), ("dlq_topic", "dead")];
    let deployed = alice.deployed("doomed", &calls, &fields);
    assert_eq!(deployed["dlq_topic"], "dead", "{deployed}");
    let (mut mine, mut theirs) = (alice.subscribe("dead"), bob.subscribe("dead"));

    let failed = alice.invoke("/v1/functions/doomed/invoke", "bad-pointer");
    assert_eq!(failed.status, 500, "{failed:?}");
    let letters = crate::pubsub::receive(&mut mine, 1);
    let letter: Value = serde_json::from_str(&letters[0]).expect("a JSON dead letter");
    assert_eq!((letter["function_name"].as_str(), letter["namespace"].as_str()), (Some("doomed"), Some("alice")));
    assert_eq!(letter["function_id"], deployed["id"]);
    assert_eq!(letter["input"], "YmFkLXBvaW50ZXI=", "the input, base64: {letter}");
    assert_eq!(letter["trigger_type"], "http");
    assert!(letter["error"].as_str().is_some_and(|e| !e.is_empty()), "{letter}");
    assert!(letter["request_id"].as_str().is_some_and(|r| !r.is_empty()), "{letter}");
    assert!(letter["failed_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{letter}");
    theirs.read_timeout(Duration::from_millis(800));
    assert!(theirs.envelope().is_none(), "another namespace never sees it");

    let too_long = "t".repeat(300);
    let refused = alice.deploy("doomed", &calls, &[("dlq_topic", too_long.as_str())]);
    assert_eq!(refused.status, 400, "{refused:?}");
}

/// A node running functions and pub/sub, and callers of the namespaces alice and bob.
fn publishing_node() -> (Node, Caller, Caller) {
    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR}gateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway", "wasm-runner", "pubsub-bridge"]);
    let (alice, bob) = (Caller::new(&node, port, "alice"), Caller::new(&node, port, "bob"));
    (node, alice, bob)
}
