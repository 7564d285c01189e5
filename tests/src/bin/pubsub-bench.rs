//! Pub/sub benchmark (issue targets: >= 200,000 deliveries/s on one node, cross-node p50
//! <= 5 ms on loopback, <= 20 KiB per idle WebSocket connection). Release builds:
//! `scripts/bench-pubsub`.
//!
//! 1. Memory: the gateway's RSS before and after 1,000 idle subscribed WebSocket clients.
//! 2. Fan-out: one publisher's messages (64 bytes each, over its own WebSocket) to those 1,000
//!    subscribers on the same node: deliveries/s from the first send to the last delivery.
//! 3. Cross-node latency: a second node bootstrapped from the first; messages published on
//!    the first, paced, timed until a subscriber on the second has each one; p50/p99.
//!
//! Clients are tokio tasks with a minimal WebSocket reader, so the load generator spends
//! little of the two cores it shares with the node.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use orama_e2e::load::Latencies;
use orama_e2e::{Node, free_port, http};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const SUPERVISOR: &str = "log: { level: warn }\nwasm_runner: { enabled: false }\n";

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut clients, mut messages) = (1000usize, 1000usize);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--clients", Some(n)) => clients = n,
            ("--messages", Some(n)) => messages = n,
            _ => {
                eprintln!("usage: pubsub-bench [--clients N] [--messages N]");
                std::process::exit(2);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let (port, p2p) = (free_port(), free_port());
    let config = format!(
        "{SUPERVISOR}gateway:\n  listen: 127.0.0.1:{port}\n  rate_limits: {{ per_key: off }}\n\
         pubsub: {{ listen: ['/ip4/127.0.0.1/tcp/{p2p}'], client_queue: 4096 }}\n"
    );
    let first = Node::start(&config);
    first.wait_ready(&["gateway", "pubsub-bridge"]);
    let key =
        String::from_utf8_lossy(&first.ctl(&["apikey", "create", "--namespace", "bench"]).stdout).trim().to_owned();
    runtime.block_on(fan_out(&first, port, &key, clients, messages));

    let peer_id =
        http(port, "GET", "/v1/network/status", "", None).json["peer_id"].as_str().unwrap_or_default().to_owned();
    let port2 = free_port();
    let config2 = format!(
        "{SUPERVISOR}gateway:\n  listen: 127.0.0.1:{port2}\n  rate_limits: {{ per_key: off }}\n\
         pubsub: {{ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: ['/ip4/127.0.0.1/tcp/{p2p}/p2p/{peer_id}'] }}\n"
    );
    let second = Node::start(&config2);
    second.wait_ready(&["gateway", "pubsub-bridge"]);
    let key2 =
        String::from_utf8_lossy(&second.ctl(&["apikey", "create", "--namespace", "bench"]).stdout).trim().to_owned();
    runtime.block_on(cross_node(port, &key, port2, &key2));
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

async fn connect(port: u16, key: &str, topic: &str) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let request = format!(
        "GET /v1/pubsub/ws?topic={topic} HTTP/1.1\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-API-Key: {key}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("handshake");
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(reader.read_u8().await.expect("handshake reply"));
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    reader
}

/// One server frame's opcode and payload.
async fn read_frame(reader: &mut BufReader<TcpStream>) -> Option<(u8, Vec<u8>)> {
    let first = reader.read_u8().await.ok()?;
    let len = match reader.read_u8().await.ok()? & 0x7f {
        126 => u64::from(reader.read_u16().await.ok()?),
        127 => reader.read_u64().await.ok()?,
        n => u64::from(n),
    };
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    reader.read_exact(&mut payload).await.ok()?;
    Some((first & 0x0f, payload))
}

async fn send_text(stream: &mut BufReader<TcpStream>, text: &[u8]) {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.get_mut().write_all(&frame).await.expect("send");
}

async fn fan_out(node: &Node, port: u16, key: &str, clients: usize, messages: usize) {
    let gateway = node.pid("gateway");
    let before = rss_kib(gateway);
    let mut subscribers = Vec::with_capacity(clients);
    for _ in 0..clients {
        subscribers.push(connect(port, key, "fanout").await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(gateway);
    println!(
        "memory: gateway RSS {before} KiB -> {after} KiB with {clients} idle clients: {:.1} KiB per connection",
        after.saturating_sub(before) as f64 / clients as f64
    );
    let delivered = Arc::new(AtomicU64::new(0));
    let done = Arc::new(tokio::sync::Notify::new());
    let total = (clients * messages) as u64;
    for mut subscriber in subscribers {
        let (delivered, done) = (delivered.clone(), done.clone());
        tokio::spawn(async move {
            let mut got = 0;
            while got < messages {
                match read_frame(&mut subscriber).await {
                    Some((0x1, _)) => got += 1,
                    Some(_) => {}
                    None => break,
                }
            }
            if delivered.fetch_add(got as u64, Ordering::AcqRel) + got as u64 >= total {
                done.notify_one();
            }
        });
    }
    let mut publisher = connect(port, key, "fanout").await;
    let started = Instant::now();
    let body = [b'm'; 64];
    for _ in 0..messages {
        send_text(&mut publisher, &body).await;
    }
    let finished = tokio::time::timeout(Duration::from_secs(120), done.notified()).await.is_ok();
    let elapsed = started.elapsed();
    let got = delivered.load(Ordering::Acquire);
    println!(
        "fan-out: {messages} messages x {clients} subscribers = {got} deliveries in {elapsed:.2?}: {:.0} deliveries/s{}",
        got as f64 / elapsed.as_secs_f64(),
        if finished { "" } else { " (not all delivered within 120 s)" }
    );
}

async fn cross_node(port: u16, key: &str, port2: u16, key2: &str) {
    let mut subscriber = connect(port2, key2, "latency").await;
    let mut publisher = connect(port, key, "latency").await;
    let topic_seen = async {
        loop {
            send_text(&mut publisher, b"warmup").await;
            if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(200), read_frame(&mut subscriber)).await {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), topic_seen).await.expect("the second node hears the first");
    tokio::time::sleep(Duration::from_millis(300)).await;
    while tokio::time::timeout(Duration::from_millis(100), read_frame(&mut subscriber)).await.is_ok() {}
    let mut times = Vec::new();
    for _ in 0..500 {
        let sent = Instant::now();
        send_text(&mut publisher, b"tick").await;
        loop {
            match tokio::time::timeout(Duration::from_secs(5), read_frame(&mut subscriber)).await {
                Ok(Some((0x1, _))) => break,
                Ok(Some(_)) => {}
                _ => panic!("a message did not cross"),
            }
        }
        times.push(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
    let times = Latencies::new(times);
    println!(
        "cross-node publish-to-receive (500 messages, paced): p50 {:.2?}, p99 {:.2?}",
        times.at(0.5),
        times.at(0.99)
    );
}
