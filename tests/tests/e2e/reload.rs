//! `ctl reload` (issue 17): a changed `wasm_runner` section restarts the runner and nothing
//! else; a changed gateway setting restarts the gateway by hand-over; a broken config changes
//! nothing and names each problem with its line; what only a supervisor restart can apply is
//! refused, saying so.

use orama_e2e::{Node, free_port};

use crate::FAST_SUPERVISOR;

const ALL: [&str; 4] = ["gateway", "wasm-runner", "pubsub-bridge", "anon-proxy"];

fn config(port: u16, extra: &str) -> String {
    format!("{FAST_SUPERVISOR}gateway: {{ listen: '127.0.0.1:{port}' }}\n{extra}")
}

fn pids(node: &Node) -> Vec<u32> {
    ALL.iter().map(|name| node.pid(name)).collect()
}

fn reload(node: &Node, new_config: &str) -> std::process::Output {
    std::fs::write(node.path().join("orama.yaml"), new_config).expect("write the config");
    node.ctl(&["reload"])
}

fn said(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn a_reload_restarts_only_the_children_whose_settings_changed() {
    let port = free_port();
    let node = Node::start(&config(port, ""));
    node.wait_ready(&ALL);
    let before = pids(&node);

    let same = reload(&node, &config(port, ""));
    assert!(same.status.success() && said(&same).contains("no child's settings changed"), "{}", said(&same));
    assert_eq!(pids(&node), before);

    let runner = reload(&node, &config(port, "wasm_runner: { instances: 3 }\n"));
    assert!(runner.status.success(), "{}", said(&runner));
    assert!(said(&runner).contains("restarted wasm-runner with the new settings"), "{}", said(&runner));
    let after = pids(&node);
    assert_ne!(after[1], before[1], "the runner was restarted");
    assert_eq!([after[0], after[2], after[3]], [before[0], before[2], before[3]], "no other child was");

    let gateway = reload(&node, &config(port, "wasm_runner: { instances: 3 }\nlog: { level: debug }\n"));
    assert!(gateway.status.success(), "{}", said(&gateway));
    let restarted = said(&gateway);
    assert!(ALL.iter().all(|name| restarted.contains(name)), "the log level reaches every process: {restarted}");
    assert_eq!(node.child("gateway")["last_exit"], "replaced by its successor (restart requested)");

    // SIGHUP reloads as `ctl reload` does.
    let before = pids(&node);
    std::fs::write(
        node.path().join("orama.yaml"),
        config(
            port,
            "wasm_runner: { instances: 4 }
log: { level: debug }
",
        ),
    )
    .expect("write the config");
    orama_e2e::signal(node.process.id(), rustix::process::Signal::HUP);
    let runner =
        node.wait_child("wasm-runner", "restarted by SIGHUP", |c| c["pid"] != before[1] && c["state"] == "ready");
    assert_eq!(runner["restarts"], 3, "instances, the log level, then SIGHUP");
    assert_eq!([node.pid("gateway"), node.pid("pubsub-bridge")], [before[0], before[2]], "only the runner");
}

#[test]
fn a_broken_config_changes_nothing_and_names_each_problem() {
    let port = free_port();
    let node = Node::start(&config(port, ""));
    node.wait_ready(&ALL);
    let before = pids(&node);

    let broken = reload(&node, &config(port, "wasm_runner: { instances: 0, colour: blue }\n"));
    let text = said(&broken);
    assert!(!broken.status.success(), "{text}");
    assert!(
        text.contains("wasm_runner.instances") && text.contains("wasm_runner.colour") && text.contains("line"),
        "{text}"
    );
    assert_eq!(pids(&node), before, "nothing was restarted");

    let other_port = free_port();
    let refused = reload(&node, &config(other_port, ""));
    let text = said(&refused);
    assert!(
        !refused.status.success() && text.contains("listen addresses") && text.contains("supervisor restart"),
        "{text}"
    );
    assert_eq!(pids(&node), before, "nothing was restarted");
}

#[test]
fn a_new_gateway_that_never_gets_ready_is_rolled_back_and_the_old_one_keeps_serving() {
    let port = free_port();
    let node = Node::start(&config(port, ""));
    node.wait_ready(&ALL);
    let before = node.pid("gateway");
    // An upgrade gone wrong: the gateway's program is now one that never serves.
    let broken = node.path().join("broken-gateway");
    std::fs::write(&broken, "#!/bin/sh\nexec sleep 600\n").expect("write");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let load = orama_e2e::steady_load::Load::start(port, 2, 1);
    let refused = reload(
        &node,
        &format!("{FAST_SUPERVISOR}gateway: {{ listen: '127.0.0.1:{port}', command: '{}' }}\n", broken.display()),
    );
    let counts = load.finish();
    let text = said(&refused);
    assert!(!refused.status.success() && text.contains("never got ready") && text.contains("keeps serving"), "{text}");
    assert_eq!(node.pid("gateway"), before, "the old gateway still serves");
    assert_eq!(node.child("gateway")["state"], "ready");
    let [served, refused_connections, failed, _] = counts.totals();
    assert!(served > 0 && refused_connections == 0 && failed == 0, "{counts:?}");
    assert!(crate::http_get(port, "/v1/health").is_some_and(|(status, _)| status == 200));
    assert!(!node.runtime_dir.join("gateway.sock.next").exists(), "the new one's socket is gone");
}
