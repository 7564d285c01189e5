//! `ctl stop`, `start`, `restart` and `logs`, and its one-line errors.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use orama_e2e::{Node, WAIT, alive, bin, eventually, free_port};

use crate::{FAST_SUPERVISOR_ALONE, SUPERVISOR_SETTINGS, http_get};

fn talker_node() -> Node {
    let config = format!(
        "{FAST_SUPERVISOR_ALONE}
gateway: {{ enabled: false }}
externals:
  - name: talker
    command: sh
    args: [-c, 'echo hello-from-talker; echo to-stderr >&2; exec sleep 600']
"
    );
    let node = Node::start(&config);
    node.wait_ready(&["talker"]);
    node
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn stop_start_restart_act_and_report() {
    let node = talker_node();
    let first = node.pid("talker");

    let output = node.ctl(&["stop", "talker"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "talker: stopped\n");
    assert!(!alive(first), "stop ends the process");
    assert_eq!(node.child("talker")["pid"], serde_json::Value::Null);

    assert!(node.ctl(&["start", "talker"]).status.success());
    let second = node.wait_child("talker", "ready", |c| c["state"] == "ready")["pid"].as_u64().expect("pid");

    let output = node.ctl(&["restart", "talker"]);
    assert!(output.status.success());
    let status = node.wait_child("talker", "ready", |c| c["state"] == "ready");
    assert_ne!(status["pid"], second);
    assert_eq!(status["restarts"], 1, "an operator restart counts");
    assert!(!alive(second as u32));
}

#[test]
fn logs_show_the_childs_own_output_and_follow_it() {
    let node = talker_node();
    let has_lines = eventually(WAIT, || {
        let out = stdout(&node.ctl(&["logs", "talker"]));
        out.contains("hello-from-talker\n") && out.contains("to-stderr\n")
    });
    assert!(has_lines, "{}", stdout(&node.ctl(&["logs", "talker"])));
    assert_eq!(stdout(&node.ctl(&["logs", "talker", "-n", "1"])).lines().count(), 1);

    let mut follower = Command::new(bin("orama-supervisor"))
        .args(["ctl", "--runtime-dir"])
        .arg(&node.runtime_dir)
        .args(["logs", "talker", "-f", "-n", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("follow");
    // Read the follower on a thread, so every wait below is bounded.
    let stdout = follower.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // The follower subscribes some time after it starts: restart the child (which prints) until
    // a line comes through.
    let mut followed = None;
    for _ in 0..10 {
        assert!(node.ctl(&["restart", "talker"]).status.success());
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(2)) {
            followed = Some(line);
            break;
        }
    }
    let line = followed.expect("a followed line");
    assert!(line == "hello-from-talker" || line == "to-stderr", "{line}");
    let _ = follower.kill();
    let _ = follower.wait();
}

#[test]
fn unknown_children_and_missing_supervisors_are_one_line_errors() {
    let node = talker_node();
    let output = node.ctl(&["restart", "nope"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unknown child \"nope\" (children: talker)"), "{stderr}");

    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(bin("orama-supervisor"))
        .args(["ctl", "--runtime-dir"])
        .arg(dir.path())
        .arg("status")
        .output()
        .expect("ctl");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no supervisor is running"), "{stderr}");
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The pid in `name: state (pid N)`, what `ctl restart` prints.
fn printed_pid(output: &std::process::Output) -> u64 {
    let out = stdout(output);
    let pid = out.trim_end().strip_suffix(')').and_then(|s| s.rsplit_once("(pid ")).map(|(_, pid)| pid.to_owned());
    pid.and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no pid in {out:?}"))
}

#[test]
fn restart_returns_once_the_gateway_answers_again() {
    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR_ALONE}gateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway"]);
    let old_pid = node.pid("gateway");

    let output = node.ctl(&["restart", "gateway"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(http_get(port, "/v1/health").map(|r| r.0), Some(200), "the gateway answers as soon as ctl returns");
    let status = node.child("gateway");
    assert_eq!(status["state"], "ready", "{status}");
    assert_ne!(status["pid"], old_pid, "a new process");
    assert_eq!(status["pid"].as_u64(), Some(printed_pid(&output)));
    assert_eq!(stdout(&output), format!("gateway: ready (pid {})\n", status["pid"]));
    assert!(!alive(old_pid));
}

/// A redis-server that listens only a second after it starts, probed on its port.
fn slow_node() -> Node {
    let port = free_port();
    let config = format!(
        "{FAST_SUPERVISOR_ALONE}
gateway: {{ enabled: false }}
externals:
  - name: slow
    command: sh
    args: [-c, 'sleep 1; exec redis-server --port {port} --bind 127.0.0.1 --save \"\" --appendonly no --dir {{dir}}']
    health: {{ tcp: '127.0.0.1:{port}' }}
"
    );
    let node = Node::start(&config);
    node.wait_ready(&["slow"]);
    node
}

#[test]
fn restart_waits_for_a_slow_child_and_no_wait_does_not() {
    let node = slow_node();
    let first = node.pid("slow");

    let began = Instant::now();
    let output = node.ctl(&["restart", "slow"]);
    assert!(output.status.success(), "{output:?}");
    assert!(began.elapsed() >= Duration::from_secs(1), "returned before the child could be ready");
    let status = node.child("slow");
    assert_eq!((status["state"].as_str(), status["pid"].as_u64()), (Some("ready"), Some(printed_pid(&output))));
    assert_ne!(status["pid"], first);

    let began = Instant::now();
    let output = node.ctl(&["restart", "--no-wait", "slow"]);
    assert!(output.status.success(), "{output:?}");
    assert!(began.elapsed() < Duration::from_secs(1), "--no-wait returns before the child is ready");
    assert!(stdout(&output).starts_with("slow: starting (pid "), "{}", stdout(&output));
    let now = node.child("slow");
    assert_eq!(now["state"], "starting", "{now}");
    assert_ne!(now["pid"], status["pid"], "already respawned");
    node.wait_child("slow", "ready", |c| c["state"] == "ready");
}

#[test]
fn restart_fails_naming_the_state_when_the_child_does_not_become_ready() {
    let port = free_port();
    let config = format!(
        "{FAST_SUPERVISOR_ALONE}
gateway: {{ enabled: false }}
externals:
  - name: crasher
    command: sh
    args: [-c, 'sleep 0.2; exit 3']
    health: {{ tcp: '127.0.0.1:{port}' }}
  - name: deaf
    command: sleep
    args: ['600']
    health: {{ tcp: '127.0.0.1:{port}' }}
"
    );
    let node = Node::start(&config);
    node.wait_child("crasher", "waiting to be retried", |c| c["state"] == "backoff" || c["state"] == "crashloop");
    let output = node.ctl(&["restart", "crasher"]);
    assert!(!output.status.success(), "{output:?}");
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("crasher did not become ready: it is backoff (last exit: exited with status 3)"), "{err}");

    node.wait_child("deaf", "started", |c| c["state"] == "starting" && c["pid"].is_u64());
    let began = Instant::now();
    let output = node.ctl(&["restart", "--timeout", "1s", "deaf"]);
    assert!(!output.status.success(), "{output:?}");
    assert!(began.elapsed() < Duration::from_secs(5), "bounded by --timeout");
    let err = stderr(&output);
    assert!(err.contains("deaf is not ready after 1s: still starting (pid "), "{err}");
}

#[test]
fn status_json_carries_version_pid_uptime_restarts_cpu_and_rss_per_child() {
    let port = free_port();
    let config = format!(
        "{SUPERVISOR_SETTINGS}wasm_runner: {{ enabled: false }}
anon: {{ enabled: false }}
pubsub: {{ listen: ['/ip4/127.0.0.1/tcp/0'] }}
gateway: {{ listen: '127.0.0.1:{port}' }}
externals:
  - name: spinner
    command: sh
    args: [-c, 'while :; do :; done']
"
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway", "pubsub-bridge", "spinner"]);
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;

    // Requests in a row: each CPU figure is measured over a window, never one tick in a few ms.
    for _ in 0..3 {
        let output = node.ctl(&["status", "--json"]);
        assert!(output.status.success(), "{output:?}");
        let children: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).expect("a JSON array");
        assert_eq!(children.len(), 3, "{children:?}");
        for child in &children {
            let own = child["name"] != "spinner";
            let version = if own { serde_json::json!(env!("CARGO_PKG_VERSION")) } else { serde_json::Value::Null };
            assert_eq!(child["version"], version, "{child}");
            assert!(child["pid"].as_u64().is_some_and(|pid| pid > 1), "{child}");
            assert!(child["uptime_secs"].as_f64().is_some_and(|s| s >= 0.0), "{child}");
            assert_eq!(child["restarts"], 0, "{child}");
            let cpu = child["cpu_percent"].as_f64().unwrap_or(-1.0);
            assert!((0.0..=100.0 * cores).contains(&cpu), "{child}");
            assert!(child["rss_bytes"].as_u64().is_some_and(|rss| rss > 0), "{child}");
        }
        let spinner = children.iter().find(|c| c["name"] == "spinner").expect("spinner");
        assert!(spinner["cpu_percent"].as_f64().is_some_and(|cpu| cpu > 20.0), "a busy loop uses a core: {spinner}");
    }
    let gateway = node.child("gateway");
    assert_eq!(gateway["url"], format!("http://127.0.0.1:{port}"));
    let bridge = node.child("pubsub-bridge");
    let peer_id = bridge["peer_id"].as_str().expect("the bridge's peer id").to_owned();
    assert!(peer_id.starts_with("12D3"), "{bridge}");
    let addrs = bridge["listen_addrs"].as_array().expect("listen addresses");
    assert!(addrs.iter().any(|a| a.as_str().is_some_and(|a| a.starts_with("/ip4/127.0.0.1/tcp/"))), "{bridge}");

    let table = stdout(&node.ctl(&["status"]));
    assert!(line_of(&table, "version").ends_with(&format!(" {}", env!("CARGO_PKG_VERSION"))), "{table}");
    assert!(line_of(&table, "gateway url").ends_with(&format!(" http://127.0.0.1:{port}")), "{table}");
    assert!(line_of(&table, "peer id").ends_with(&format!(" {peer_id}")), "{table}");
    assert!(line_of(&table, "listen addrs").contains(" /ip4/127.0.0.1/tcp/"), "{table}");

    assert!(node.ctl(&["stop", "pubsub-bridge"]).status.success());
    let table = stdout(&node.ctl(&["status"]));
    assert!(line_of(&table, "peer id").ends_with(" -"), "no bridge, no peer id: {table}");
    assert!(line_of(&table, "listen addrs").ends_with(" -"), "{table}");
    assert_eq!(node.child("pubsub-bridge")["peer_id"], serde_json::Value::Null);
}

fn line_of(text: &str, label: &str) -> String {
    text.lines().find(|l| l.starts_with(label)).unwrap_or_default().to_owned()
}
