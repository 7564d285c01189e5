//! A steady load on a gateway: client threads sending `GET /v1/health`, each on a new
//! connection per request or on one kept alive, until stopped, counting what was served,
//! refused and failed, with every latency (the gateway restart tests and `restart-bench`).
//!
//! Keep-alive clients do what HTTP clients do with a pooled connection the server closed
//! while it was idle (a draining gateway closes its idle connections): a request that got no
//! byte of response on a reused connection is sent again on a new one, and counted as
//! retried, not failed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::load::Latencies;

/// What the load saw.
#[derive(Debug, Default)]
pub struct Counts {
    /// Requests answered 200.
    pub served: AtomicUsize,
    /// Connections refused.
    pub refused: AtomicUsize,
    /// Requests that failed (an error, a broken or non-200 answer).
    pub failed: AtomicUsize,
    /// Requests sent again after a reused connection closed before answering.
    pub retried: AtomicUsize,
    times: Mutex<Vec<Duration>>,
}

impl Counts {
    /// `served`, `refused`, `failed`, `retried`.
    pub fn totals(&self) -> [usize; 4] {
        [&self.served, &self.refused, &self.failed, &self.retried].map(|c| c.load(Ordering::Relaxed))
    }

    /// The served requests' latencies.
    pub fn latencies(&self) -> Latencies {
        Latencies::new(self.times.lock().map(|t| t.clone()).unwrap_or_default())
    }
}

/// Client threads sending `GET /v1/health` until stopped (or for at most two minutes).
pub struct Load {
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    clients: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts `fresh_clients` (a new connection per request) and `keep_alive_clients`.
    pub fn start(port: u16, fresh_clients: usize, keep_alive_clients: usize) -> Load {
        let (stop, counts) = (Arc::new(AtomicBool::new(false)), Arc::new(Counts::default()));
        let mut clients = Vec::new();
        for i in 0..fresh_clients + keep_alive_clients {
            let (stop, counts) = (stop.clone(), counts.clone());
            let keep_alive = i >= fresh_clients;
            clients.push(std::thread::spawn(move || client(port, keep_alive, &stop, &counts)));
        }
        Load { stop, counts, clients }
    }

    /// Stops the clients; what they saw.
    pub fn finish(self) -> Arc<Counts> {
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
        let sent = Instant::now();
        match exchange(&mut stream, keep_alive) {
            Ok((200, close)) => {
                counts.served.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut times) = counts.times.lock() {
                    times.push(sent.elapsed());
                }
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
