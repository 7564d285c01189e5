//! `ctl reload` (issue 17): a changed `wasm_runner` section restarts the runner and nothing
//! else; a changed gateway setting restarts the gateway by hand-over; the log level and the
//! rate limits change live, restarting nothing; a broken config changes nothing and names each
//! problem with its line; what only a supervisor restart can apply is refused, saying so.

use std::time::Duration;

use orama_e2e::{Node, eventually, free_port};

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

    let gateway = reload(&node, &config(port, "wasm_runner: { instances: 3, max_timeout: 20s }\n"));
    assert!(gateway.status.success(), "{}", said(&gateway));
    assert!(said(&gateway).contains("restarted gateway"), "{}", said(&gateway));
    assert_eq!(node.child("gateway")["last_exit"], "replaced by its successor (restart requested)");

    let before = pids(&node);
    let level =
        reload(&node, &config(port, "wasm_runner: { instances: 3, max_timeout: 20s }\nlog: { level: debug }\n"));
    let live = said(&level);
    assert!(level.status.success(), "{live}");
    assert!(live.contains("applied the new settings live") && !live.contains("restarted"), "{live}");
    assert!(ALL.iter().chain(&["supervisor"]).all(|name| live.contains(name)), "the log level reaches all: {live}");
    assert_eq!(pids(&node), before, "a log level restarts nothing");

    // SIGHUP reloads as `ctl reload` does.
    let before = pids(&node);
    std::fs::write(
        node.path().join("orama.yaml"),
        config(
            port,
            "wasm_runner: { instances: 4, max_timeout: 20s }
log: { level: debug }
",
        ),
    )
    .expect("write the config");
    orama_e2e::signal(node.process.id(), rustix::process::Signal::HUP);
    let runner =
        node.wait_child("wasm-runner", "restarted by SIGHUP", |c| c["pid"] != before[1] && c["state"] == "ready");
    assert_eq!(runner["restarts"], 3, "instances, the functions' bound, then SIGHUP");
    assert_eq!([node.pid("gateway"), node.pid("pubsub-bridge")], [before[0], before[2]], "only the runner");
}

fn live_config(port: u16, level: &str, burst: u32) -> String {
    format!(
        "{FAST_SUPERVISOR}log: {{ level: '{level}' }}\ngateway:\n  listen: '127.0.0.1:{port}'\n  \
         rate_limits: {{ per_key: {{ per_second: 1, burst: {burst} }} }}\n"
    )
}

#[test]
fn the_log_level_and_the_rate_limits_change_live() {
    let port = free_port();
    let dir = tempfile::Builder::new().prefix("orama").tempdir().expect("tempdir");
    // The tests' RUST_LOG would win over the config's level.
    let env = [("RUST_LOG", std::ffi::OsStr::new(""))];
    let node = Node::start_with_env(dir, &live_config(port, "info,orama_gateway::access=off", 2), &env);
    node.wait_ready(&ALL);
    let before = pids(&node);
    let key = crate::auth::ctl_ok(&node, &["apikey", "create", "--namespace", "alpha"]).trim().to_owned();
    let whoami = |id: &str| {
        orama_e2e::http(port, "GET", "/v1/auth/whoami", &format!("X-API-Key: {key}\r\nX-Request-Id: {id}\r\n"), None)
    };
    let statuses: Vec<u16> = (0..3).map(|_| whoami("before-the-reload").status).collect();
    assert_eq!(statuses, [200, 200, 429], "a burst of 2");

    let reloaded = reload(&node, &live_config(port, "info", 50));
    let live = said(&reloaded);
    assert!(reloaded.status.success() && live.contains("applied the new settings live"), "{live}");
    assert!(!live.contains("restarted"), "{live}");
    let allowed = eventually(Duration::from_secs(10), || {
        let reply = whoami("after-the-reload");
        reply.status == 200 && reply.head.contains("ratelimit-limit: 50")
    });
    assert!(allowed, "the new quota applies: {:?}", whoami("after-the-reload"));
    let logged = eventually(Duration::from_secs(10), || {
        let logs = node.ctl(&["logs", "gateway", "-n", "400"]);
        String::from_utf8_lossy(&logs.stdout).contains("after-the-reload")
    });
    let logs = String::from_utf8_lossy(&node.ctl(&["logs", "gateway", "-n", "400"]).stdout).into_owned();
    assert!(logged, "access lines are logged once the level allows them: {logs}");
    assert!(!logs.contains("before-the-reload"), "and were not before: {logs}");
    assert_eq!(pids(&node), before, "nothing restarted");
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
