//! The gateway's public socket, held by the supervisor and handed to each gateway (issue 17):
//! under a steady load of new-connection and keep-alive requests, ten `ctl restart gateway`
//! in a row refuse no connection and fail no request, and a SIGKILLed gateway's successor
//! serves the connections made while it was gone.
//! (The load: [`orama_e2e::steady_load`].)

use std::sync::atomic::Ordering;
use std::time::Duration;

use orama_e2e::steady_load::Load;
use orama_e2e::{Node, free_port, signal};
use rustix::process::Signal;

use crate::FAST_SUPERVISOR_ALONE;

fn node_with_gateway_on(port: u16) -> Node {
    let node = Node::start(&format!("{FAST_SUPERVISOR_ALONE}gateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway"]);
    node
}

#[test]
fn ten_gateway_restarts_under_load_refuse_no_connection_and_fail_no_request() {
    let port = free_port();
    let node = node_with_gateway_on(port);
    let load = Load::start(port, 3, 2);
    std::thread::sleep(Duration::from_millis(300));
    let mut replaced = Vec::new();
    for round in 0..10 {
        replaced.push(node.pid("gateway"));
        let restarted = node.ctl(&["restart", "gateway"]);
        assert!(restarted.status.success(), "restart {round}: {restarted:?}");
    }
    std::thread::sleep(Duration::from_millis(300));
    let counts = load.finish();
    let served = counts.served.load(Ordering::Relaxed);
    eprintln!("served {served}, retried {} on reused connections", counts.retried.load(Ordering::Relaxed));
    assert_eq!(counts.refused.load(Ordering::Relaxed), 0, "refused connections: {counts:?}");
    assert_eq!(counts.failed.load(Ordering::Relaxed), 0, "failed requests: {counts:?}");
    assert!(served > 100, "the load ran: {served}");
    assert_eq!(node.child("gateway")["restarts"], 10);
    // The replaced gateways drained and exited without taking the socket file with them.
    let pid = node.pid("gateway");
    let socket = node.runtime_dir.join("gateway.sock");
    let drained = orama_e2e::eventually(Duration::from_secs(15), || replaced.iter().all(|&old| !orama_e2e::alive(old)));
    assert!(drained, "the replaced gateways exit after draining");
    let health = orama_e2e::unix_get(&socket, "/health").expect("the gateway's socket answers");
    assert!(health.contains(&format!(r#""pid":{pid}"#)), "answered by the current gateway: {health}");
}

#[test]
fn a_killed_gateways_successor_serves_the_connections_made_meanwhile() {
    let port = free_port();
    let node = node_with_gateway_on(port);
    let load = Load::start(port, 4, 0);
    std::thread::sleep(Duration::from_millis(300));
    let old = node.pid("gateway");
    signal(old, Signal::KILL);
    node.wait_child("gateway", "ready again", |c| c["state"] == "ready" && c["pid"] != old);
    std::thread::sleep(Duration::from_millis(300));
    let counts = load.finish();
    assert_eq!(counts.refused.load(Ordering::Relaxed), 0, "refused connections");
    // Only a request the killed gateway was serving at that instant can fail: one per client.
    assert!(counts.failed.load(Ordering::Relaxed) <= 4, "{counts:?}");
    assert!(counts.served.load(Ordering::Relaxed) > 50, "{counts:?}");
}
