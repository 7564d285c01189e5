//! The node starts its children in dependency order and reports them ready.

use orama_e2e::{Node, free_port};

use crate::{gateway_and_redis, http_get};

#[test]
fn gateway_starts_after_redis_and_both_are_ready() {
    let (gateway_port, redis_port) = (free_port(), free_port());
    let node = Node::start(&gateway_and_redis(gateway_port, redis_port));
    node.wait_ready(&["redis", "gateway"]);

    let output = node.ctl(&["status", "--json"]);
    assert!(output.status.success());
    let status: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).expect("json");
    let names: Vec<&str> = status.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["redis", "gateway"], "children listed in start order");
    for child in &status {
        assert_eq!(child["state"], "ready", "{child}");
        assert_eq!(child["restarts"], 0);
        assert!(child["pid"].as_u64().is_some_and(|pid| pid > 1));
        assert!(child["rss_bytes"].as_u64().is_some_and(|rss| rss > 0), "{child}");
        assert!(child["cpu_percent"].is_number());
    }

    let log = node.log();
    let redis_ready = log.find(r#""message":"child ready","child":"redis""#).expect("redis ready logged");
    let gateway_started = log.find(r#""message":"child started","child":"gateway""#).expect("gateway start logged");
    assert!(redis_ready < gateway_started, "the gateway must start only once redis is ready:\n{log}");

    let (code, body) = http_get(gateway_port, "/v1/health").expect("gateway answers");
    assert_eq!(code, 200);
    assert!(body.contains(r#""status":"ok""#), "{body}");

    let table = String::from_utf8(node.ctl(&["status"]).stdout).expect("utf8");
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("gateway") && l.contains("ready")), "{table}");
}

#[test]
fn a_relative_config_path_reaches_the_children() {
    let port = free_port();
    let node = Node::start_relative(&format!("gateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway"]);
    assert_eq!(http_get(port, "/v1/health").map(|r| r.0), Some(200), "the gateway read the same config");
}
