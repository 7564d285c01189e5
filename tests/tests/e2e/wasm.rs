//! The supervised WASM runner over its Unix socket: a module compiled once and invoked, a
//! hostile guest stopped at the operator's deadline while the runner keeps serving, and a
//! runner SIGKILLed mid-invocation (its caller gets an error at once) restarted by the
//! supervisor, serving the module it compiled before from disk without compiling it again
//! (the gateway is untouched).

use std::path::Path;
use std::process::Command;

use orama_e2e::{Node, free_port, manifest_dir, signal};
use rustix::process::Signal;
use serde_json::Value;

use crate::FAST_SUPERVISOR;

/// `POST path` on the runner's socket with `body` (a file); (HTTP status, JSON).
fn post(socket: &Path, path: &str, body: &Path) -> (u16, Value) {
    let output = Command::new("curl")
        .args(["-s", "--max-time", "20", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(socket)
        .args(["--data-binary"])
        .arg(format!("@{}", body.display()))
        .arg(format!("http://runner{path}"))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (json, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (status.trim().parse().unwrap_or(0), serde_json::from_str(json).unwrap_or_default())
}

fn guest(name: &str) -> std::path::PathBuf {
    manifest_dir().join(format!("../wasm-runner/tests/guests/{name}.wat"))
}

#[test]
fn the_supervised_runner_runs_functions_and_survives_hostile_ones() {
    let port = free_port();
    let config = format!(
        "{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\nwasm_runner: {{ enabled: true, max_timeout: 2s }}\n"
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway", "wasm-runner"]);
    let socket = node.runtime_dir.join("wasm-runner.sock");
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("input");
    std::fs::write(&input, "Ada").expect("input");

    let (status, compiled) = post(&socket, "/v1/modules", &guest("greet"));
    assert_eq!(status, 200, "{compiled}");
    let hash = compiled["hash"].as_str().expect("hash").to_owned();
    let invoke = format!("/v1/modules/{hash}/invoke");
    let (status, answer) = post(&socket, &invoke, &input);
    assert_eq!((status, answer["output"].as_str()), (200, Some("SGVsbG8sIEFkYSE=")), "Hello, Ada! in base64: {answer}");

    let (_, looping) = post(&socket, "/v1/modules", &guest("infinite_loop"));
    let looping = format!("/v1/modules/{}/invoke?timeout_ms=60000", looping["hash"].as_str().expect("hash"));
    let (status, timed_out) = post(&socket, &looping, &input);
    assert_eq!((status, timed_out["kind"].as_str()), (504, Some("timeout")), "capped at the operator's 2 s");
    assert_eq!(post(&socket, &invoke, &input).0, 200, "the runner keeps serving");
    let (status, invalid) = post(&socket, "/v1/modules", &input);
    assert_eq!((status, invalid["kind"].as_str()), (400, Some("invalid")));

    // Killed mid-invocation: the caller in flight gets an error, not a hang.
    let runner = node.pid("wasm-runner");
    let in_flight = {
        let (socket, looping, input) = (socket.clone(), looping.clone(), input.clone());
        std::thread::spawn(move || post(&socket, &looping, &input))
    };
    std::thread::sleep(std::time::Duration::from_millis(400));
    signal(runner, Signal::KILL);
    let (status, _) = in_flight.join().expect("caller");
    assert_eq!(status, 0, "the connection dropped with the runner");
    node.wait_child("wasm-runner", "restarted", |c| c["state"] == "ready" && c["pid"] != runner);
    let (status, answer) = post(&socket, &invoke, &input);
    assert_eq!((status, answer["output"].as_str()), (200, Some("SGVsbG8sIEFkYSE=")), "precompiled on disk: {answer}");
    let kept = node.path().join(format!("data/wasm-runner/modules/{hash}.cwasm"));
    assert!(kept.is_file(), "the compiled module is kept at {}", kept.display());
    let unknown = format!("/v1/modules/{}/invoke", "0".repeat(64));
    assert_eq!(post(&socket, &unknown, &input).1["kind"].as_str(), Some("unknown"));
    assert!(orama_e2e::alive(node.pid("gateway")), "the gateway never noticed");
}
