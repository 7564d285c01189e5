//! A minimal HTTP/1.1 client on one keep-alive connection, for load generators: what they
//! measure is the node, not a client library's connection handling. The connection is TCP to
//! the gateway, or a Unix socket to one of the node's processes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// One keep-alive connection: to 127.0.0.1 (the default), or over a Unix socket.
pub struct KeepAlive<S = TcpStream> {
    stream: BufReader<S>,
}

impl KeepAlive {
    /// Connects to 127.0.0.1:`port` (no Nagle, 30 s read timeout).
    pub fn connect(port: u16) -> KeepAlive {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        KeepAlive { stream: BufReader::new(stream) }
    }
}

impl KeepAlive<UnixStream> {
    /// Connects to the Unix socket at `socket` (30 s read timeout).
    pub fn connect_unix(socket: &Path) -> KeepAlive<UnixStream> {
        let stream = UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect to {}: {e}", socket.display()));
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        KeepAlive { stream: BufReader::new(stream) }
    }
}

impl<S: Read + Write> KeepAlive<S> {
    /// `POST path` with extra header lines and a JSON `body`; (status, body).
    pub fn post(&mut self, header: &str, path: &str, body: &[u8]) -> (u16, String) {
        self.send(path, "application/json", header, body)
    }

    /// `POST path` with a `content_type` body and extra header lines; (status, body).
    pub fn send(&mut self, path: &str, content_type: &str, header: &str, body: &[u8]) -> (u16, String) {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{header}\r\n",
            body.len()
        );
        let writer = self.stream.get_mut();
        writer.write_all(request.as_bytes()).and_then(|()| writer.write_all(body)).expect("send");
        self.read_response()
    }

    fn read_response(&mut self) -> (u16, String) {
        let mut line = String::new();
        self.stream.read_line(&mut line).expect("status line");
        let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = 0;
        loop {
            line.clear();
            self.stream.read_line(&mut line).expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}
