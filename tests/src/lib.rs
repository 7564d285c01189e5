//! Harness for end-to-end tests: a real `orama-supervisor` with its real children in a temp
//! dir, on free loopback ports, driven through the real `ctl` command.
//!
//! Waits poll a condition with a deadline (never a fixed sleep); a failed wait panics with the
//! supervisor's status and log so the failure explains itself. Dropping a [`Node`] SIGKILLs the
//! supervisor, and its children die with it.
//!
//! The binaries are found beside the test executable's target dir; `cargo nextest run
//! --workspace` builds them (the supervisor and gateway packages have tests of their own).

pub mod jsipfs;
pub mod keepalive;
pub mod load;
mod node;
pub mod origin;
pub mod pebble;

pub use node::Node;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Default bound on a wait.
pub const WAIT: Duration = Duration::from_secs(20);

/// Path of one of our binaries in the target dir this executable was built into: beside it
/// (a bench binary) or one level up (a test, which lives in `deps/`).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir");
    let candidates = [dir.join(name), dir.parent().map(|d| d.join(name)).unwrap_or_default()];
    let found = candidates.iter().find(|p| p.is_file());
    found.cloned().unwrap_or_else(|| panic!("{name} is missing beside {}: build the workspace first", exe.display()))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("pid");
    rustix::process::kill_process(pid, signal).expect("kill");
}

/// Memory of process `pid` in bytes: resident now, and the peak resident size since it started
/// or since the last [`reset_peak_memory`].
pub fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_default();
        line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()).unwrap_or(0) * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Makes `pid`'s peak resident size its current one, so a later [`memory`] shows the peak
/// reached since now.
pub fn reset_peak_memory(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset the peak resident size");
}

/// `GET path` over the Unix socket at `socket`; the raw response, or `None` if it cannot connect.
pub fn unix_get(socket: &Path, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// A reply read by [`http`].
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// The head, lowercased (for header checks).
    pub head: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: Value,
    /// The body as text.
    pub body: String,
}

/// `method path` on 127.0.0.1:`port` with extra header lines and an optional JSON body.
pub fn http(port: u16, method: &str, path: &str, headers: &str, body: Option<&Value>) -> Reply {
    let body = body.map(Value::to_string).unwrap_or_default();
    let content_type = if body.is_empty() { "" } else { "application/json" };
    http_bytes(port, method, path, headers, content_type, body.as_bytes())
}

/// `method path` on 127.0.0.1:`port` with extra header lines and a raw body of `content_type`
/// (none when empty).
pub fn http_bytes(port: u16, method: &str, path: &str, headers: &str, content_type: &str, body: &[u8]) -> Reply {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let content_type =
        if content_type.is_empty() { String::new() } else { format!("Content-Type: {content_type}\r\n") };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{content_type}Content-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body)).expect("write");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let json = serde_json::from_str(body.trim()).unwrap_or_default();
    Reply { status, head: head.to_ascii_lowercase(), json, body: body.to_owned() }
}

/// An answer to [`stream_post`].
#[derive(Debug)]
pub struct Streamed {
    /// Status code.
    pub status: u16,
    /// The body as text.
    pub body: String,
    /// Bytes of the body the client had sent when the answer began.
    pub sent_at_answer: u64,
}

/// `POST path` on 127.0.0.1:`port` declaring a body of `preamble`, `size` filler bytes and
/// `closing`, sent in 64 KiB chunks from another thread while the answer is read: shows how
/// much the server let in before it answered (a server that refuses early stops reading).
pub fn stream_post(port: u16, path: &str, headers: &str, (preamble, size, closing): (&str, u64, &str)) -> Streamed {
    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let length = preamble.len() as u64 + size + closing.len() as u64;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: t\r\n{headers}Content-Length: {length}\r\nConnection: close\r\n\r\n{preamble}"
    )
    .expect("head");
    let sent = Arc::new(AtomicU64::new(0));
    let (mut writer, counter, closing) = (stream.try_clone().expect("clone"), sent.clone(), closing.to_owned());
    let sending = std::thread::spawn(move || {
        let chunk = vec![0x5a_u8; 64 * 1024];
        while counter.load(Ordering::SeqCst) < size {
            let n = chunk.len().min((size - counter.load(Ordering::SeqCst)) as usize);
            if writer.write_all(&chunk[..n]).is_err() {
                return;
            }
            counter.fetch_add(n as u64, Ordering::SeqCst);
        }
        let _ = writer.write_all(closing.as_bytes());
    });
    let (mut response, mut buffer, mut sent_at_answer) = (Vec::new(), [0u8; 4096], None);
    while let Ok(n) = stream.read(&mut buffer) {
        if n == 0 {
            break;
        }
        sent_at_answer.get_or_insert(sent.load(Ordering::SeqCst));
        response.extend_from_slice(&buffer[..n]);
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = sending.join();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Streamed { status, body, sent_at_answer: sent_at_answer.unwrap_or(u64::MAX) }
}

/// The package's directory, as cargo tells the running test (a binary built from another
/// checkout sharing the target dir would otherwise point at that checkout).
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The module of guest program `name` (`wasm-runner/guests/<name>`, Rust for wasm32-wasip1),
/// built on first use into the target dir (needs `rustup target add wasm32-wasip1`).
pub fn guest_wasm(name: &str) -> PathBuf {
    let manifest = manifest_dir().join(format!("../wasm-runner/guests/{name}/Cargo.toml"));
    let target = bin("orama-supervisor").parent().expect("bin dir").join("guests");
    let built = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip1", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo");
    assert!(built.success(), "building guest {name} failed (is the wasm32-wasip1 target installed?)");
    target.join(format!("wasm32-wasip1/release/{name}.wasm"))
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
