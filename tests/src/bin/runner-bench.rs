//! Runner benchmark: the cost of one invocation in the supervised `orama-wasm-runner` with a
//! warm module cache, driven over the runner's Unix socket exactly as the gateway drives it
//! (`POST /v1/modules` once, then `POST /v1/modules/<hash>/invoke`): instantiate + run + drop
//! in the runner, plus the socket, HTTP and JSON around them, without the gateway. 10,000
//! calls in a row on one keep-alive connection (p50/p99), then as many connections at once as
//! there are cores (invocations/s). The module is the one at the path given (e.g. the Rust
//! `hello` guest), else the `greet` fixture. wasmtime stays in the runner process: this crate
//! never links it. Run on release builds: `scripts/bench-functions`.
//!
//! `runner-bench [module.wasm]`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use orama_e2e::keepalive::KeepAlive;
use orama_e2e::load::Latencies;
use orama_e2e::{Node, free_port, manifest_dir};
use serde_json::Value;

const CALLS: usize = 10_000;
const INPUT: &[u8] = br#"{"name":"Ada"}"#;
/// The bounds of each call: 16 MiB of memory, 1 s.
const LIMITS: &str = "timeout_ms=1000&memory=16777216";

fn main() {
    let path = match std::env::args().nth(1) {
        Some(path) => PathBuf::from(path),
        None => manifest_dir().join("../wasm-runner/tests/guests/greet.wat"),
    };
    let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read module {}: {e}", path.display()));
    let config = format!("log: {{ level: warn }}\ngateway: {{ listen: '127.0.0.1:{}' }}\n", free_port());
    let node = Node::start(&config);
    node.wait_ready(&["wasm-runner"]);
    let socket = node.runtime_dir.join("wasm-runner.sock");

    let (status, compiled) = KeepAlive::connect_unix(&socket).send("/v1/modules", "application/wasm", "", &wasm);
    let hash = serde_json::from_str::<Value>(&compiled).ok().and_then(|v| v["hash"].as_str().map(str::to_owned));
    let Some(hash) = hash.filter(|_| status == 200) else {
        node.fail(&format!("the runner did not compile {}: {status} {compiled}", path.display()));
    };
    let invoke = format!("/v1/modules/{hash}/invoke?{LIMITS}");
    println!("module: {}", path.display());

    let (times, errors) = calls(&socket, &invoke, CALLS);
    let times = Latencies::new(times);
    println!(
        "one connection: p50 {:?}, p99 {:?} per invocation (instantiate + run + drop, over the socket), errors {errors}",
        times.at(0.5),
        times.at(0.99)
    );

    let connections = std::thread::available_parallelism().map_or(2, |n| n.get());
    let started = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let (socket, invoke) = (socket.clone(), invoke.clone());
            std::thread::spawn(move || calls(&socket, &invoke, CALLS / connections))
        })
        .collect();
    let (times, concurrent_errors) = Latencies::join(threads);
    let rate = (times.len() - concurrent_errors.min(times.len())) as f64 / started.elapsed().as_secs_f64();
    println!("{connections} connections: {rate:.0} successful invocations/s, errors {concurrent_errors}");
    if errors + concurrent_errors > 0 {
        eprintln!("runner-bench: {} invocations failed; the figures above do not hold", errors + concurrent_errors);
        std::process::exit(1);
    }
}

/// `count` invocations in a row on one connection; their latencies and how many failed.
fn calls(socket: &Path, invoke: &str, count: usize) -> (Vec<Duration>, usize) {
    let mut runner = KeepAlive::connect_unix(socket);
    let mut errors = 0;
    let times = (0..count)
        .map(|_| {
            let started = Instant::now();
            let (status, _) = runner.post("", invoke, INPUT);
            errors += usize::from(status != 200);
            started.elapsed()
        })
        .collect();
    (times, errors)
}
