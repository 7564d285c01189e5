//! Restart benchmark (issue 17): what ten gateway restarts cost the clients of a loaded node.
//! Run on release builds: `scripts/bench-restarts`.
//!
//! A supervisor with a gateway on a free port; a steady load of `--fresh` clients opening a
//! connection per request and `--kept` clients on kept-alive connections
//! ([`orama_e2e::steady_load`]). First `--secs` seconds of load alone, then the same load while
//! the gateway is restarted ten times (`ctl restart gateway`, one after the other). For each
//! phase: requests served, refused, failed and retried, p50 and p99; then the p99 ratio.

use std::time::{Duration, Instant};

use orama_e2e::steady_load::Load;
use orama_e2e::{Node, free_port};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut fresh, mut kept, mut secs) = (4usize, 4usize, 10u64);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (arg.as_str(), value) {
            ("--fresh", Some(n)) => fresh = n as usize,
            ("--kept", Some(n)) => kept = n as usize,
            ("--secs", Some(n)) => secs = n,
            _ => {
                eprintln!("usage: restart-bench [--fresh N] [--kept N] [--secs N]");
                std::process::exit(2);
            }
        }
    }
    let port = free_port();
    let node = Node::start(&format!("gateway:\n  listen: 127.0.0.1:{port}\n"));
    node.wait_ready(&["gateway"]);

    let load = Load::start(port, fresh, kept);
    std::thread::sleep(Duration::from_secs(secs));
    let quiet = load.finish();
    report("load alone", &quiet, secs as f64);

    let load = Load::start(port, fresh, kept);
    let started = Instant::now();
    for round in 0..10 {
        let restarted = node.ctl(&["restart", "gateway"]);
        if !restarted.status.success() {
            node.fail(&format!("restart {round} failed: {}", String::from_utf8_lossy(&restarted.stderr)));
        }
    }
    let rest = Duration::from_secs(secs).saturating_sub(started.elapsed());
    std::thread::sleep(rest);
    let restarts_took = started.elapsed();
    let busy = load.finish();
    report("10 restarts", &busy, restarts_took.as_secs_f64());
    let ratio = busy.latencies().at(0.99).as_secs_f64() / quiet.latencies().at(0.99).as_secs_f64().max(1e-9);
    println!("p99 with restarts / p99 without: {ratio:.2}");
}

fn report(phase: &str, counts: &orama_e2e::steady_load::Counts, secs: f64) {
    let [served, refused, failed, retried] = counts.totals();
    let latencies = counts.latencies();
    println!(
        "{phase:<12} {served:>8} served ({:>7.0}/s)  {refused} refused  {failed} failed  {retried} retried  p50 {:.2} ms  p99 {:.2} ms",
        served as f64 / secs,
        latencies.at(0.5).as_secs_f64() * 1e3,
        latencies.at(0.99).as_secs_f64() * 1e3,
    );
}
