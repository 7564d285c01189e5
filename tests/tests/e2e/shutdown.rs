//! Stopping the supervisor stops everything, in reverse dependency order, leaving nothing.

use std::time::Duration;

use orama_e2e::{Node, WAIT, alive, eventually, free_port, signal};
use rustix::process::Signal;

use crate::{FAST_SUPERVISOR, gateway_and_redis};

/// `base` <- `top` and `base` <- gateway; each shell child records its SIGTERM in `stops`.
fn layered_config(gateway_port: u16) -> String {
    let child = |name: &str| {
        format!(
            "  - name: {name}
    command: sh
    args: [-c, 'trap \"echo {name} >> {{dir}}/stops; exit 0\" TERM; echo up; while :; do sleep 0.05; done']
"
        )
    };
    format!(
        "{FAST_SUPERVISOR}
gateway:
  listen: 127.0.0.1:{gateway_port}
  depends_on: [base]
externals:
{}{}    depends_on: [base]
",
        child("base"),
        child("top")
    )
}

#[test]
fn sigterm_stops_children_in_reverse_order_and_leaves_nothing() {
    let mut node = Node::start(&layered_config(free_port()));
    let children = ["base", "top", "gateway", "wasm-runner", "pubsub-bridge", "anon-proxy"];
    node.wait_ready(&children);
    let pids: Vec<u32> = children.iter().map(|n| node.pid(n)).collect();
    let sockets = ["anon-proxy.sock", "gateway.sock", "pubsub-bridge.sock", "supervisor.sock", "wasm-runner.sock"];
    assert_eq!(node.sockets(), sockets);

    signal(node.process.id(), Signal::TERM);
    let status = node.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}\n{}", node.log());

    let stops = std::fs::read_to_string(node.path().join("stops")).expect("stops file");
    assert_eq!(stops, "top\nbase\n", "dependents stop first");
    let log = node.log();
    let stopped_at = |name: &str| {
        log.find(&format!(r#""message":"child not running","child":"{name}""#))
            .unwrap_or_else(|| panic!("{name} stop not logged:\n{log}"))
    };
    assert!(stopped_at("gateway") < stopped_at("base"), "{log}");
    for pid in pids {
        assert!(!alive(pid), "child {pid} outlived the supervisor");
    }
    assert!(node.sockets().is_empty(), "sockets left: {:?}", node.sockets());
}

#[test]
fn children_die_with_a_sigkilled_supervisor_and_a_new_one_starts_cleanly() {
    let (gateway_port, redis_port) = (free_port(), free_port());
    let config = gateway_and_redis(gateway_port, redis_port);
    let mut node = Node::start(&config);
    node.wait_ready(&["redis", "gateway"]);
    let pids = [node.pid("redis"), node.pid("gateway")];

    signal(node.process.id(), Signal::KILL);
    node.wait_exit(WAIT);
    for pid in pids {
        assert!(eventually(WAIT, || !alive(pid)), "child {pid} survived its supervisor");
    }
    assert!(
        eventually(WAIT, || node.sockets() == ["supervisor.sock"]),
        "the gateway removes its socket when its supervisor dies; left: {:?}",
        node.sockets()
    );

    // The next supervisor replaces the stale control socket and starts everything again.
    let dir = node.into_dir();
    let config = config.replace("{dir}", &dir.path().display().to_string());
    let node = Node::start_in(dir, &config);
    node.wait_ready(&["redis", "gateway"]);
}
