//! Supervisor benchmark (issue targets: kill-to-ready p50 <= 150 ms; supervisor RSS <= 15 MB and
//! idle CPU < 0.5 % with 4 children). Run on release builds: `scripts/bench-supervisor`.
//!
//! 1. Restart latency: SIGKILL the gateway N times, each after a stable run, and time from the
//!    kill until the supervisor reports a new gateway process ready (polling its control socket
//!    every millisecond).
//! 2. Idle cost: gateway, redis-server and two more children; once all are ready, the
//!    supervisor's CPU time and RSS over an idle window, from /proc.

use std::time::{Duration, Instant};

use orama_e2e::{Node, free_port, signal};
use rustix::process::Signal;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut kills: usize = 50;
    let mut idle_secs: usize = 60;
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--kills", Some(n)) => kills = n,
            ("--idle-secs", Some(n)) => idle_secs = n,
            _ => {
                eprintln!("usage: supervisor-bench [--kills N] [--idle-secs N]");
                std::process::exit(2);
            }
        }
    }
    restart_latency(kills);
    idle_cost(idle_secs as u64);
}

fn restart_latency(kills: usize) {
    let config = format!(
        "supervisor:\n  backoff: {{ initial: 200ms, max: 30s, reset_after: 100ms }}\ngateway:\n  listen: 127.0.0.1:{}\n",
        free_port()
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway"]);
    let mut samples = Vec::with_capacity(kills);
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(300)); // a stable run: past reset_after
        let old = node.pid("gateway");
        let started = Instant::now();
        signal(old, Signal::KILL);
        loop {
            let ready = node.status_direct().and_then(|all| all.into_iter().find(|c| c["name"] == "gateway"));
            if ready.is_some_and(|c| c["state"] == "ready" && c["pid"].as_u64().is_some_and(|p| p != u64::from(old))) {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                node.fail("gateway not ready 30 s after a kill");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        samples.push(started.elapsed());
    }
    samples.sort();
    let pick = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    let restarts = node.child("gateway")["restarts"].clone();
    println!(
        "restart latency over {kills} SIGKILLs (restarts counted: {restarts}): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(pick(0.99)),
        ms(samples[samples.len() - 1])
    );
}

fn idle_cost(idle_secs: u64) {
    let (gateway, redis) = (free_port(), free_port());
    let config = format!(
        "gateway:\n  listen: 127.0.0.1:{gateway}\n  depends_on: [redis]\nexternals:
  - name: redis
    command: redis-server
    args: [--port, '{redis}', --bind, 127.0.0.1, --save, '', --appendonly, 'no']
    health: {{ tcp: '127.0.0.1:{redis}' }}
  - name: sleeper-a
    command: sleep
    args: ['100000']
  - name: sleeper-b
    command: sleep
    args: ['100000']
    health: {{ command: ['true'] }}
"
    );
    let node = Node::start(&config);
    node.wait_ready(&["redis", "gateway", "sleeper-a", "sleeper-b"]);
    std::thread::sleep(Duration::from_secs(2));
    let pid = node.process.id();
    let (cpu_before, wall_before) = (cpu_ticks(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(idle_secs));
    let (cpu_after, wall) = (cpu_ticks(pid), wall_before.elapsed());
    let ticks_per_sec = rustix::param::clock_ticks_per_second() as f64;
    let cpu_percent = (cpu_after - cpu_before) as f64 / ticks_per_sec / wall.as_secs_f64() * 100.0;
    let (rss, peak) = (status_kib(pid, "VmRSS:"), status_kib(pid, "VmHWM:"));
    println!(
        "supervisor idle with 4 children over {idle_secs} s: CPU {cpu_percent:.3} % ({} ticks), RSS {:.1} MB (peak {:.1} MB)",
        cpu_after - cpu_before,
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat.rsplit_once(") ").map(|(_, rest)| rest.split(' ').collect()).unwrap_or_default();
    fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

/// A `kB` line of /proc/<pid>/status.
fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}
