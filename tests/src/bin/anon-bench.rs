//! Anonymous egress benchmark (issue: the overhead per request through the proxy versus curl
//! through the same SOCKS5 server, in the same run). Run on release builds:
//! `scripts/bench-anon`.
//!
//! One microsocks on loopback, the test origin on 127.0.0.2, a node whose `anon-proxy` uses
//! that microsocks. Each row is `--requests` sequential requests for the same small answer:
//! - curl, a process per request, fresh SOCKS5 + TCP connection each (curl's own
//!   `time_total`, so process start-up is not counted);
//! - curl, one process for all, its connection through SOCKS5 kept;
//! - `/v1/proxy/anon` on a keep-alive connection to the gateway, to `/close` (the origin closes
//!   after each answer: a fresh SOCKS5 + TCP connection each, as the first curl row) and to
//!   `/echo` (the proxy keeps the connection: as the second row);
//!
//! then 16 clients on `/echo` for `--seconds` (requests/s).

use std::process::Command;
use std::time::{Duration, Instant};

use orama_e2e::keepalive::KeepAlive;
use orama_e2e::load::Latencies;
use orama_e2e::origin::{Origin, microsocks};
use orama_e2e::{Node, free_port};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut requests, mut seconds) = (500usize, 5u64);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().and_then(|n| n.parse().ok())) {
            ("--requests", Some(n)) => requests = n,
            ("--seconds", Some(n)) => seconds = n as u64,
            _ => {
                eprintln!("usage: anon-bench [--requests N] [--seconds N]");
                std::process::exit(2);
            }
        }
    }
    let origin = Origin::start();
    let socks_port = free_port();
    let _socks = microsocks(socks_port, None);
    let port = free_port();
    let config = format!(
        "log: {{ level: warn }}\ngateway:\n  listen: 127.0.0.1:{port}\n  rate_limits:\n    per_key: {{ per_second: 1000000, burst: 10000000 }}\n\
         anon: {{ socks: '127.0.0.1:{socks_port}', allow_networks: [127.0.0.2/32], namespace_concurrency: 1000 }}\n"
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway", "anon-proxy"]);
    let key =
        String::from_utf8_lossy(&node.ctl(&["apikey", "create", "--namespace", "bench"]).stdout).trim().to_owned();
    let header = format!("X-API-Key: {key}\r\n");
    let socks = format!("127.0.0.1:{socks_port}");

    println!("{requests} sequential requests per row; latency p50 / p99 / mean");
    let rows = [
        ("curl, fresh connection each", curl_each(&socks, &origin.url("/echo"), requests)),
        ("curl, one kept connection", curl_kept(&socks, &origin.url("/echo"), requests)),
        ("proxy, fresh connection each", through_proxy(port, &header, &origin.url("/close"), requests)),
        ("proxy, kept connection", through_proxy(port, &header, &origin.url("/echo"), requests)),
    ];
    for (name, times) in rows {
        report(name, &Latencies::new(times));
    }
    throughput(port, &header, &origin.url("/echo"), 16, Duration::from_secs(seconds));
}

fn report(name: &str, times: &Latencies) {
    println!("{name:>30}: p50 {:>9.1?}  p99 {:>9.1?}  mean {:>9.1?}", times.at(0.5), times.at(0.99), times.mean());
}

/// curl's `time_total` of each transfer, one per line.
fn curl_times(output: &[u8]) -> Vec<Duration> {
    String::from_utf8_lossy(output)
        .lines()
        .filter_map(|l| l.trim().parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .collect()
}

fn curl_each(socks: &str, url: &str, requests: usize) -> Vec<Duration> {
    (0..requests)
        .flat_map(|_| {
            let output = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{time_total}\n", "--socks5-hostname", socks, url])
                .output()
                .expect("curl");
            curl_times(&output.stdout)
        })
        .collect()
}

fn curl_kept(socks: &str, url: &str, requests: usize) -> Vec<Duration> {
    let mut command = Command::new("curl");
    command.args(["-s", "-w", "%{time_total}\n", "--socks5-hostname", socks]);
    for _ in 0..requests {
        command.args(["-o", "/dev/null", url]);
    }
    curl_times(&command.output().expect("curl").stdout)
}

fn through_proxy(port: u16, header: &str, url: &str, requests: usize) -> Vec<Duration> {
    let mut client = KeepAlive::connect(port);
    let body = serde_json::json!({ "url": url }).to_string();
    let mut times = Vec::with_capacity(requests);
    for _ in 0..requests {
        let sent = Instant::now();
        let (status, answer) = client.post(header, "/v1/proxy/anon", body.as_bytes());
        assert!(status == 200 && answer.contains("\"status_code\":200"), "{status} {answer}");
        times.push(sent.elapsed());
    }
    times
}

fn throughput(port: u16, header: &str, url: &str, clients: usize, duration: Duration) {
    let body = serde_json::json!({ "url": url }).to_string();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (header, body) = (header.to_owned(), body.clone());
            std::thread::spawn(move || {
                let mut client = KeepAlive::connect(port);
                let (start, mut times, mut errors) = (Instant::now(), Vec::new(), 0usize);
                while start.elapsed() < duration {
                    let sent = Instant::now();
                    let (status, _) = client.post(&header, "/v1/proxy/anon", body.as_bytes());
                    errors += usize::from(status != 200);
                    times.push(sent.elapsed());
                }
                (times, errors)
            })
        })
        .collect();
    let (times, errors) = Latencies::join(threads);
    println!(
        "{clients} clients, kept connections, {:.0} requests/s, errors {errors}",
        times.len() as f64 / duration.as_secs_f64()
    );
    report("latency under that load", &times);
}
