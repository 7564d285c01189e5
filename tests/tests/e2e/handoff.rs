//! The gateway's public socket, held by the supervisor and handed to each gateway (issue 17):
//! under a steady load of new-connection and keep-alive requests, ten `ctl restart gateway`
//! in a row refuse no connection and fail no request, and a SIGKILLed gateway's successor
//! serves the connections made while it was gone.
//!
//! The load's keep-alive clients do what HTTP clients do with a pooled connection the server
//! closed while it was idle (a draining gateway closes its idle connections): a request that
//! got no byte of response on a reused connection is sent again on a new one, and counted as
//! retried, not failed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use orama_e2e::{Node, free_port, signal};
use rustix::process::Signal;

use crate::FAST_SUPERVISOR_ALONE;

/// What the load saw.
#[derive(Debug, Default)]
struct Counts {
    served: AtomicUsize,
    refused: AtomicUsize,
    failed: AtomicUsize,
    retried: AtomicUsize,
}

/// Client threads sending `GET /v1/health` until stopped (or for at most two minutes).
struct Load {
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    clients: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, fresh_clients: usize, keep_alive_clients: usize) -> Load {
        let (stop, counts) = (Arc::new(AtomicBool::new(false)), Arc::new(Counts::default()));
        let mut clients = Vec::new();
        for i in 0..fresh_clients + keep_alive_clients {
            let (stop, counts) = (stop.clone(), counts.clone());
            let keep_alive = i >= fresh_clients;
            clients.push(std::thread::spawn(move || client(port, keep_alive, &stop, &counts)));
        }
        Load { stop, counts, clients }
    }

    fn finish(self) -> Arc<Counts> {
        self.stop.store(true, Ordering::Relaxed);
        for client in self.clients {
            client.join().expect("load client");
        }
        self.counts
    }
}

/// One client: a request at a time, on a new connection each, or on one kept alive.
fn client(port: u16, keep_alive: bool, stop: &AtomicBool, counts: &Counts) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut kept: Option<TcpStream> = None;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let reused = kept.is_some();
        let mut stream = match kept.take() {
            Some(stream) => stream,
            None => match TcpStream::connect(("127.0.0.1", port)) {
                Ok(stream) => stream,
                Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
                    counts.refused.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                Err(_) => {
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            },
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
        match exchange(&mut stream, keep_alive) {
            Ok((200, close)) => {
                counts.served.fetch_add(1, Ordering::Relaxed);
                if keep_alive && !close {
                    kept = Some(stream);
                }
            }
            Err(Reply::Nothing) if reused => {
                counts.retried.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                counts.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// How an exchange went wrong.
enum Reply {
    /// Not one byte came back.
    Nothing,
    /// Part of a response, or a broken one.
    Broken,
}

/// Sends one request and reads its response: the status and whether the server closes.
fn exchange(stream: &mut TcpStream, keep_alive: bool) -> Result<(u16, bool), Reply> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let request = format!("GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: {connection}\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|_| Reply::Nothing)?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) if response.is_empty() => return Err(Reply::Nothing),
            Ok(0) | Err(_) => return Err(Reply::Broken),
            Ok(n) => response.extend_from_slice(&chunk[..n]),
        }
        if let Some(at) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&response[..head_end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or(Reply::Broken)?;
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or(Reply::Broken)?;
    while response.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(Reply::Broken),
            Ok(n) => response.extend_from_slice(&chunk[..n]),
        }
    }
    Ok((status, head.contains("connection: close")))
}

fn node_with_gateway_on(port: u16) -> Node {
    let node = Node::start(&format!("{FAST_SUPERVISOR_ALONE}gateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway"]);
    node
}

#[test]
fn ten_gateway_restarts_under_load_refuse_no_connection_and_fail_no_request() {
    let port = free_port();
    let node = node_with_gateway_on(port);
    let load = Load::start(port, 3, 2);
    std::thread::sleep(Duration::from_millis(300));
    for round in 0..10 {
        let restarted = node.ctl(&["restart", "gateway"]);
        assert!(restarted.status.success(), "restart {round}: {restarted:?}");
    }
    std::thread::sleep(Duration::from_millis(300));
    let counts = load.finish();
    let served = counts.served.load(Ordering::Relaxed);
    eprintln!("served {served}, retried {} on reused connections", counts.retried.load(Ordering::Relaxed));
    assert_eq!(counts.refused.load(Ordering::Relaxed), 0, "refused connections: {counts:?}");
    assert_eq!(counts.failed.load(Ordering::Relaxed), 0, "failed requests: {counts:?}");
    assert!(served > 100, "the load ran: {served}");
    assert_eq!(node.child("gateway")["restarts"], 10);
}

#[test]
fn a_killed_gateways_successor_serves_the_connections_made_meanwhile() {
    let port = free_port();
    let node = node_with_gateway_on(port);
    let load = Load::start(port, 4, 0);
    std::thread::sleep(Duration::from_millis(300));
    let old = node.pid("gateway");
    signal(old, Signal::KILL);
    node.wait_child("gateway", "ready again", |c| c["state"] == "ready" && c["pid"] != old);
    std::thread::sleep(Duration::from_millis(300));
    let counts = load.finish();
    assert_eq!(counts.refused.load(Ordering::Relaxed), 0, "refused connections");
    // Only a request the killed gateway was serving at that instant can fail: one per client.
    assert!(counts.failed.load(Ordering::Relaxed) <= 4, "{counts:?}");
    assert!(counts.served.load(Ordering::Relaxed) > 50, "{counts:?}");
}
