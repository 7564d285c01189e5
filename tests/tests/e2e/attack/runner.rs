//! What a compromised WASM runner can reach, on a node run by root and on a node run by an
//! ordinary user (as the shipped unit runs it): `orama-wasm-runner probe-confinement` confines
//! itself exactly as the runner does, beside the running node, then tries to read the
//! gateway's keys and databases, drive the operator and control sockets, write outside its
//! data, open TCP, start a program and signal the gateway. Only the host-call socket may answer.

use std::process::Command;

use orama_e2e::{Node, bin, free_port, http};
use serde_json::Value;

use crate::FAST_SUPERVISOR;

/// The only attempt a confined runner may succeed in.
const ALLOWED: &str = "make host calls";

fn probe(node: &Node, runner: &std::path::Path, as_user: Option<(u32, u32)>) -> Value {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(runner);
    if let Some((uid, gid)) = as_user {
        command.uid(uid).gid(gid);
    }
    let output = command
        .arg("probe-confinement")
        .arg("--config")
        .arg(node.path().join("orama.yaml"))
        .arg("--data-dir")
        .arg(node.path().join("data"))
        .arg("--runtime-dir")
        .arg(&node.runtime_dir)
        .arg("--signal-pid")
        .arg(node.pid("gateway").to_string())
        .output()
        .expect("run the probe");
    assert!(output.status.success(), "probe: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the probe's report")
}

fn reaches_only_host_calls(report: &Value) {
    let attempts = report.as_object().expect("report");
    for (attempt, outcome) in attempts.iter().filter(|(name, _)| *name != "confinement") {
        let reached = outcome["reached"].as_bool().unwrap_or(true);
        if attempt == ALLOWED {
            assert!(reached && outcome["detail"].as_str().is_some_and(|d| d.contains("200")), "{attempt}: {outcome}");
        } else {
            assert!(!reached, "a compromised runner could {attempt}: {outcome}");
        }
    }
    assert!(attempts.len() >= 15, "every attempt was made: {report}");
    let confinement = &report["confinement"];
    assert_eq!(confinement["view"], "private", "{confinement}");
    assert_eq!(confinement["seccomp"], "active", "{confinement}");
    assert!(confinement["landlock"].as_str().is_some_and(|l| l.contains("enforced (")), "{confinement}");
}

#[test]
fn a_runner_started_by_root_becomes_its_own_user_and_reaches_only_host_calls() {
    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway", "wasm-runner"]);
    let runner = node.pid("wasm-runner");
    let status = std::fs::read_to_string(format!("/proc/{runner}/status")).expect("runner status");
    let uid = status.lines().find(|l| l.starts_with("Uid:")).expect("uid line");
    assert!(!uid.split_whitespace().skip(1).any(|id| id == "0"), "the runner dropped root: {uid}");
    let report = probe(&node, &bin("orama-wasm-runner"), None);
    eprintln!("probe of a root node's runner: {report}");
    reaches_only_host_calls(&report);
    assert!(!report["confinement"]["user"].as_str().unwrap_or_default().starts_with("0:"), "{report}");
    assert_eq!(http(port, "GET", "/v1/health", "", None).status, 200, "the node serves on");
}

#[test]
fn a_runner_of_a_node_run_by_an_ordinary_user_reaches_only_host_calls() {
    let (uid, gid) = (65534, 65534);
    let port = free_port();
    let node = Node::start_as(&format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n"), uid, gid);
    node.wait_ready(&["gateway", "wasm-runner"]);
    let report = probe(&node, &node.path().join("bin/orama-wasm-runner"), Some((uid, gid)));
    eprintln!("probe of an ordinary user's runner: {report}");
    reaches_only_host_calls(&report);
    assert_eq!(http(port, "GET", "/v1/health", "", None).status, 200, "the node serves on");
}
