//! `ctl upgrade` (issue 17), on a node run from its own copy of our binaries: with new
//! binaries in place, every child is restarted on its new binary and then the supervisor
//! re-executes itself, its children keeping their processes, under a steady load that sees no
//! refused connection and no failed request; a gateway binary that never gets ready is
//! discarded and the old gateway keeps serving; a runner binary that never gets ready is
//! replaced by the one it ran before; a supervisor binary that does not run is not executed.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use orama_e2e::steady_load::Load;
use orama_e2e::{Node, bin, free_port, http};

use crate::FAST_SUPERVISOR;

const CHILDREN: [&str; 4] = ["gateway", "wasm-runner", "pubsub-bridge", "anon-proxy"];

/// Puts `content` in place of `<dir>/bin/<name>` as an installer would: a new file renamed
/// over the old one (the running process keeps its own).
fn install(dir: &Path, name: &str, content: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    let fresh = dir.join(format!("bin/{name}.new"));
    std::fs::write(&fresh, content).expect("write the new binary");
    std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o755)).expect("make it executable");
    std::fs::rename(&fresh, dir.join(format!("bin/{name}"))).expect("put it in place");
}

fn our_binary(name: &str) -> Vec<u8> {
    std::fs::read(bin(name)).expect("our binary")
}

/// A binary that starts and never gets ready.
const NEVER_READY: &[u8] = b"#!/bin/sh\nexec sleep 600\n";

fn said(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn an_upgrade_restarts_every_child_on_its_new_binary_and_drops_no_request() {
    let port = free_port();
    let node = Node::start_from_own_binaries(&format!("{FAST_SUPERVISOR}gateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&CHILDREN);
    let before: Vec<u32> = CHILDREN.iter().map(|name| node.pid(name)).collect();
    for name in CHILDREN.map(|c| format!("orama-{c}")).into_iter().chain(["orama-supervisor".to_owned()]) {
        install(node.path(), &name, &our_binary(&name));
    }
    let image = node.report()["image_started_ms"].as_u64();
    let load = Load::start(port, 3, 2);
    std::thread::sleep(Duration::from_millis(300));
    let upgraded = node.ctl(&["upgrade"]);
    std::thread::sleep(Duration::from_millis(300));
    let counts = load.finish();
    assert!(upgraded.status.success(), "{}", said(&upgraded));
    assert!(CHILDREN.iter().all(|name| said(&upgraded).contains(name)), "{}", said(&upgraded));
    assert!(said(&upgraded).contains("the supervisor re-executed"), "{}", said(&upgraded));
    assert!(orama_e2e::alive(node.process.id()), "the supervisor kept its pid");
    assert_ne!(node.report()["image_started_ms"].as_u64(), image, "a new supervisor image answers");
    // The new image reads the children's output pipes it was handed.
    http(port, "GET", "/v1/health", "X-Request-Id: after-the-re-exec\r\n", None);
    let logged = orama_e2e::eventually(Duration::from_secs(10), || {
        said(&node.ctl(&["logs", "gateway", "-n", "50"])).contains("after-the-re-exec")
    });
    assert!(logged, "the gateway's lines reach the new image: {}", said(&node.ctl(&["logs", "gateway"])));
    for (name, old) in CHILDREN.iter().zip(before) {
        let child = node.child(name);
        assert_eq!(child["state"], "ready", "{child}");
        assert_ne!(child["pid"], old, "{name} runs its new binary");
    }
    assert_eq!(counts.refused.load(Ordering::Relaxed), 0, "refused connections: {counts:?}");
    assert_eq!(counts.failed.load(Ordering::Relaxed), 0, "failed requests: {counts:?}");
    assert!(counts.served.load(Ordering::Relaxed) > 50, "the load ran: {counts:?}");
}

#[test]
fn a_new_binary_that_never_gets_ready_is_rolled_back() {
    let port = free_port();
    let node = Node::start_from_own_binaries(&format!("{FAST_SUPERVISOR}gateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&CHILDREN);

    let gateway = node.pid("gateway");
    install(node.path(), "orama-gateway", NEVER_READY);
    let refused = node.ctl(&["upgrade"]);
    assert!(!refused.status.success(), "{}", said(&refused));
    assert!(said(&refused).contains("gateway"), "{}", said(&refused));
    assert_eq!(node.pid("gateway"), gateway, "the old gateway keeps serving");
    assert_eq!(http(port, "GET", "/v1/health", "", None).status, 200);

    install(node.path(), "orama-gateway", &our_binary("orama-gateway"));
    install(node.path(), "orama-wasm-runner", NEVER_READY);
    let rolled_back = node.ctl(&["upgrade"]);
    let text = said(&rolled_back);
    assert!(!rolled_back.status.success(), "{text}");
    assert!(text.contains("wasm-runner") && text.contains("runs its previous binary again"), "{text}");
    let runner = node.child("wasm-runner");
    assert_eq!(runner["state"], "ready", "the runner serves on its previous binary: {runner}");
    assert_eq!(http(port, "GET", "/v1/health", "", None).status, 200);

    install(node.path(), "orama-wasm-runner", &our_binary("orama-wasm-runner"));
    install(node.path(), "orama-supervisor", NEVER_READY);
    let image = node.report()["image_started_ms"].as_u64();
    let kept = node.ctl(&["upgrade"]);
    let text = said(&kept);
    assert!(!kept.status.success() && text.contains("the supervisor was not"), "{text}");
    assert_eq!(node.report()["image_started_ms"].as_u64(), image, "the same supervisor image still runs");
    node.wait_ready(&CHILDREN);
}
