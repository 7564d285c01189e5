//! Plain HTTP/1.1 requests from tests: over TCP to a node's public port (whole bodies or a
//! body streamed while the answer is read) and over a Unix socket to an internal API.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

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
    let timeout = Duration::from_secs(30);
    exchange(port, method, path, headers, content_type, body, timeout).expect("connect and send")
}

/// [`http`] for a server that may be down: `None` when it cannot be reached or sends nothing
/// within `timeout`.
pub fn try_http(
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> Option<Reply> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let content_type = if body.is_empty() { "" } else { "application/json" };
    exchange(port, method, path, headers, content_type, body.as_bytes(), timeout).filter(|reply| reply.status != 0)
}

fn exchange(
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> Option<Reply> {
    use std::io::{Read, Write};
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&address, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    let content_type =
        if content_type.is_empty() { String::new() } else { format!("Content-Type: {content_type}\r\n") };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{content_type}Content-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body)).ok()?;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let json = serde_json::from_str(body.trim()).unwrap_or_default();
    Some(Reply { status, head: head.to_ascii_lowercase(), json, body: body.to_owned() })
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
