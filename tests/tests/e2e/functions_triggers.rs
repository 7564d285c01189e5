//! Function triggers: a pub/sub trigger runs once per message of its namespace's topic (not
//! another namespace's), a cron trigger once per tick, each visible in the function's logs and
//! in `GET /v1/functions/{name}` as its last run; malformed triggers are refused at deploy.
//! [`triggers_run_once`] is shared with the 3-node cluster test, which runs it across nodes.
//!
//! Cron runs with `ORAMA_TEST_ONLY_CRON_SECONDS=1` (every second a cron minute), so "every
//! minute" fires every second and a test sees several ticks in seconds.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use orama_e2e::{Node, eventually, free_port, guest_wasm, http};
use serde_json::{Value, json};

use crate::FAST_SUPERVISOR;
use crate::functions::{Caller, read};

/// The environment making cron minutes last a second.
pub const CRON_SECONDS: (&str, &str) = ("ORAMA_TEST_ONLY_CRON_SECONDS", "1");

/// The `trigger <input>` lines of `function`'s logs, their inputs parsed.
fn trigger_inputs(caller: &Caller, function: &str) -> Vec<Value> {
    let logs = caller.get(&format!("/v1/functions/{function}/logs?limit=1000")).json;
    let lines = logs["logs"].as_array().cloned().unwrap_or_default();
    lines
        .iter()
        .filter_map(|l| l["message"].as_str()?.strip_prefix("trigger ").and_then(|j| serde_json::from_str(j).ok()))
        .collect()
}

/// Deploys a pub/sub-triggered and a cron-triggered function through `callers[0]`, waits until
/// every caller's node follows the topic, publishes `messages` messages spread over the nodes
/// (and one on the same topic in `other`'s namespace), and checks that each message ran once
/// and each tick once, across all the nodes.
pub fn triggers_run_once(callers: &[Caller], other: &Caller, messages: usize) {
    let calls = read(&guest_wasm("host-calls"));
    let deployer = &callers[0];
    let orders = r#"[{"type":"pubsub","topic":"orders"}]"#;
    deployer.deployed("reactor", &calls, &[("triggers", orders)]);
    deployer.deployed("ticker", &calls, &[("triggers", r#"[{"type":"cron","schedule":"* * * * *"}]"#)]);
    other.deployed("reactor", &calls, &[("triggers", orders)]);
    for caller in callers {
        let following = eventually(Duration::from_secs(20), || {
            caller.get("/v1/functions/reactor").json["triggers"][0]["following_here"] == true
        });
        assert!(following, "every node follows the topic: {:?}", caller.get("/v1/functions/reactor"));
    }

    let sent: Vec<String> = (0..messages).map(|i| format!("order-{i}")).collect();
    for (i, data) in sent.iter().enumerate() {
        let publisher = &callers[i % callers.len()];
        let body = json!({ "topic": "orders", "data_base64": base64::engine::general_purpose::STANDARD.encode(data) });
        let reply = publisher.post("/v1/pubsub/publish", &body);
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    let all_ran = eventually(Duration::from_secs(30), || trigger_inputs(deployer, "reactor").len() >= messages);
    std::thread::sleep(Duration::from_millis(1500)); // Would a second node run one again? Give it time to.
    let inputs = trigger_inputs(deployer, "reactor");
    assert!(all_ran, "{} of {messages} ran: {inputs:?}", inputs.len());
    let mut runs: HashMap<String, usize> = HashMap::new();
    for input in &inputs {
        assert_eq!(input["topic"], "orders", "the reference's envelope: {input}");
        assert!(input["timestamp"].as_u64().is_some(), "{input}");
        let data = base64::engine::general_purpose::STANDARD.decode(input["data"].as_str().unwrap_or("")).expect("b64");
        *runs.entry(String::from_utf8_lossy(&data).into_owned()).or_default() += 1;
    }
    let expected: HashMap<String, usize> = sent.iter().map(|d| (d.clone(), 1)).collect();
    assert_eq!(runs, expected, "each message ran exactly once across the nodes");
    assert!(trigger_inputs(other, "reactor").is_empty(), "the other namespace's function heard nothing");
    let described = deployer.get("/v1/functions/reactor").json;
    assert_eq!(described["triggers"][0]["last_run"]["status"], "success", "{described}");

    // Cron: each tick (a second here) once, whichever node claims it.
    let ticked = eventually(Duration::from_secs(30), || trigger_inputs(deployer, "ticker").len() >= 4);
    let ticks: Vec<String> =
        trigger_inputs(deployer, "ticker").iter().filter_map(|t| t["time"].as_str().map(str::to_owned)).collect();
    assert!(ticked, "the cron trigger ticks: {ticks:?}");
    let mut unique = ticks.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ticks.len(), "no tick ran twice: {ticks:?}");
    let ticker = deployer.get("/v1/functions/ticker").json;
    assert_eq!(ticker["triggers"][0]["schedule"], "* * * * *", "{ticker}");
    assert!(ticker["triggers"][0]["last_run"]["request_id"].is_string(), "{ticker}");
}

#[test]
fn triggers_run_on_messages_and_ticks_and_malformed_ones_are_refused() {
    let port = free_port();
    let dir = tempfile::Builder::new().prefix("orama").tempdir().expect("tempdir");
    let config = format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n");
    let env = [(CRON_SECONDS.0, std::ffi::OsStr::new(CRON_SECONDS.1))];
    let node = Node::start_with_env(dir, &config, &env);
    node.wait_ready(&["gateway", "wasm-runner", "pubsub-bridge"]);
    let (alice, bob) = (Caller::new(&node, port, "alice"), Caller::new(&node, port, "bob"));
    triggers_run_once(std::slice::from_ref(&alice), &bob, 5);

    let calls = read(&guest_wasm("host-calls"));
    for (triggers, says) in [
        (r#"[{"type":"cron","schedule":"61 * * * *"}]"#, "out of 0-59"),
        (r#"[{"type":"webhook","url":"x"}]"#, "\"pubsub\" or \"cron\""),
        (r#"{"type":"cron"}"#, "JSON array"),
    ] {
        let refused = alice.deploy("bad", &calls, &[("triggers", triggers)]);
        let error = refused.json["error"].as_str().unwrap_or_default();
        assert!(refused.status == 400 && error.contains(says), "{triggers}: {refused:?}");
    }
    let looping =
        alice.deploy("loop", &calls, &[("triggers", r#"[{"type":"pubsub","topic":"t"}]"#), ("dlq_topic", "t")]);
    assert!(looping.status == 400 && looping.body.contains("would trigger it again"), "{looping:?}");
    assert_eq!(alice.get("/v1/functions/bad").status, 404, "nothing was recorded");

    // Deleting the function stops its trigger.
    assert_eq!(http(port, "DELETE", "/v1/functions/ticker", &alice.header, None).status, 200);
    std::thread::sleep(Duration::from_millis(1500)); // A run already claimed may still finish.
    let before = trigger_inputs(&alice, "ticker@1").len();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(trigger_inputs(&alice, "ticker@1").len(), before, "no tick after the delete");
}
