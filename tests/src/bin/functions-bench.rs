//! Functions benchmark (issue targets: end-to-end p50 <= 1 ms at 16 clients, >= 5,000
//! invocations/s on 2 cores). Run on release builds: `scripts/bench-functions`.
//!
//! 1. Cold deploy-to-first-invoke: deploy a module the runner has never seen (the `hello`
//!    guest with a unique custom section, so its hash is new) and time until its first
//!    invocation answered.
//! 2. Load: `hello` invoked through the gateway by 1, 16 and 64 clients, each on its own
//!    keep-alive connection, for a fixed time after a warm-up; invocations/s and p50/p99.
//!    Closed loop (each client sends as soon as it has its answer), so at saturation p50 is
//!    about clients / throughput; then 16 clients paced to fixed total rates (open loop, each
//!    latency measured from the request's scheduled time, so a stall is not hidden).

use std::io::Write;
use std::time::{Duration, Instant};

use orama_e2e::keepalive::KeepAlive;
use orama_e2e::load::Latencies;
use orama_e2e::{Node, free_port, guest_wasm};

const BOUNDARY: &str = "bench-boundary-51c0";

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut seconds, mut clients, mut rates) = (5u64, vec![1usize, 16, 64], vec![1000u64, 2000, 4000]);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--seconds", Some(n)) => seconds = n.parse().unwrap_or(seconds),
            ("--clients", Some(list)) => clients = list.split(',').filter_map(|c| c.parse().ok()).collect(),
            ("--rates", Some(list)) => rates = list.split(',').filter_map(|c| c.parse().ok()).collect(),
            _ => {
                eprintln!("usage: functions-bench [--seconds N] [--clients 1,16,64] [--rates 1000,2000,4000]");
                std::process::exit(2);
            }
        }
    }
    let hello = std::fs::read(guest_wasm("hello")).expect("hello module");
    let port = free_port();
    let config = format!(
        "log: {{ level: warn }}\ngateway:\n  listen: 127.0.0.1:{port}\n  rate_limits:\n    per_key: {{ per_second: 1000000, burst: 10000000 }}\n"
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway", "wasm-runner"]);
    let key =
        String::from_utf8_lossy(&node.ctl(&["apikey", "create", "--namespace", "bench"]).stdout).trim().to_owned();
    let header = format!("X-API-Key: {key}\r\n");

    cold_deploys(port, &header, &hello);
    assert_eq!(deploy(port, &header, "hello", &hello), 201, "deploy hello");
    println!("load: POST /v1/functions/hello/invoke {{\"name\":\"Ada\"}}, {seconds} s per step");
    for n in clients {
        load(port, &header, n, None, Duration::from_secs(seconds));
    }
    for rate in rates {
        load(port, &header, 16, Some(rate), Duration::from_secs(seconds));
    }
}

fn cold_deploys(port: u16, header: &str, hello: &[u8]) {
    let mut times = Vec::new();
    for i in 0..10 {
        let mut unique = hello.to_vec();
        let name = format!("cold{i}");
        let payload = format!("{}-{}", std::process::id(), Instant::now().elapsed().as_nanos());
        unique.extend_from_slice(&custom_section("bench", payload.as_bytes()));
        let started = Instant::now();
        assert_eq!(deploy(port, header, &name, &unique), 201, "deploy {name}");
        let mut stream = KeepAlive::connect(port);
        let (status, _) = stream.post(header, &format!("/v1/functions/{name}/invoke"), b"{}");
        assert_eq!(status, 200, "first invoke of {name}");
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "cold deploy-to-first-invoke ({} KiB module, 10 fresh modules): p50 {:?}, max {:?}",
        hello.len() / 1024,
        times[times.len() / 2],
        times[times.len() - 1]
    );
}

fn custom_section(name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![name.len() as u8];
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut section = vec![0u8];
    let mut size = body.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        section.push(if size == 0 { byte } else { byte | 0x80 });
        if size == 0 {
            break;
        }
    }
    section.extend_from_slice(&body);
    section
}

/// `clients` connections invoking `hello` for `duration`, as fast as answers come or paced to
/// `rate` invocations/s in all.
fn load(port: u16, header: &str, clients: usize, rate: Option<u64>, duration: Duration) {
    let warmup = Duration::from_millis(500);
    let interval = rate.map(|r| Duration::from_secs_f64(clients as f64 / r as f64));
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let header = header.to_owned();
            std::thread::spawn(move || {
                let mut stream = KeepAlive::connect(port);
                let (start, mut times, mut errors) = (Instant::now(), Vec::new(), 0usize);
                let mut due = start + interval.map_or(Duration::ZERO, |every| every.mul_f64(i as f64 / clients as f64));
                while start.elapsed() < warmup + duration {
                    let sent = match interval {
                        Some(every) => {
                            let now = Instant::now();
                            if due > now {
                                std::thread::sleep(due - now);
                            }
                            let scheduled = due;
                            due += every;
                            scheduled
                        }
                        None => Instant::now(),
                    };
                    let (status, body) = stream.post(&header, "/v1/functions/hello/invoke", br#"{"name":"Ada"}"#);
                    if status != 200 || !body.contains("Hello, Ada!") {
                        errors += 1;
                    }
                    if start.elapsed() > warmup {
                        times.push(sent.elapsed());
                    }
                }
                (times, errors)
            })
        })
        .collect();
    let (times, errors) = Latencies::join(threads);
    let paced = rate.map_or_else(|| "closed loop".to_owned(), |r| format!("paced to {r}/s"));
    println!(
        "{clients:>3} clients, {paced:>15}: {:>7.0} invocations/s, p50 {:>9.1?}, p99 {:>9.1?}, errors {errors}",
        times.len() as f64 / duration.as_secs_f64(),
        times.at(0.5),
        times.at(0.99)
    );
}

fn deploy(port: u16, header: &str, name: &str, wasm: &[u8]) -> u16 {
    let mut body = Vec::new();
    write!(body, "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n").expect("form");
    write!(body, "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"wasm\"; filename=\"f.wasm\"\r\n\r\n")
        .expect("form");
    body.extend_from_slice(wasm);
    write!(body, "\r\n--{BOUNDARY}--\r\n").expect("form");
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    KeepAlive::connect(port).send("/v1/functions", &content_type, header, &body).0
}
