//! A small blocking WebSocket client for the tests (masked frames of any length, pings
//! answered), so the tests can send what a real client sends, bytes of any kind included.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Its opcode.
    pub opcode: u8,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// A connected client.
pub struct WsClient {
    stream: TcpStream,
}

impl WsClient {
    /// Opens `path` on 127.0.0.1:`port` with extra header lines; the refusal's status and body
    /// when the server does not switch protocols.
    pub fn connect(port: u16, path: &str, headers: &str) -> Result<WsClient, (u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{headers}\r\n"
        );
        stream.write_all(request.as_bytes()).expect("handshake");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read_exact(&mut byte).is_err() {
                break;
            }
            head.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        if status == 101 {
            return Ok(WsClient { stream });
        }
        let length = text
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        let _ = stream.read_exact(&mut body);
        Err((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// Sets how long a read may wait.
    pub fn read_timeout(&self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).expect("timeout");
    }

    /// Sends one masked frame.
    pub fn send(&mut self, opcode: u8, payload: &[u8]) {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= usize::from(u16::MAX) => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        let _ = self.stream.write_all(&frame);
    }

    /// Sends a text frame.
    pub fn send_text(&mut self, text: &str) {
        self.send(0x1, text.as_bytes());
    }

    /// The next frame, or `None` when the connection ended or the read timed out.
    pub fn read(&mut self) -> Option<Frame> {
        let mut head = [0u8; 2];
        self.stream.read_exact(&mut head).ok()?;
        let len = match head[1] & 0x7f {
            126 => {
                let mut ext = [0u8; 2];
                self.stream.read_exact(&mut ext).ok()?;
                u64::from(u16::from_be_bytes(ext))
            }
            127 => {
                let mut ext = [0u8; 8];
                self.stream.read_exact(&mut ext).ok()?;
                u64::from_be_bytes(ext)
            }
            n => u64::from(n),
        };
        let mut payload = vec![0u8; usize::try_from(len).ok()?];
        self.stream.read_exact(&mut payload).ok()?;
        Some(Frame { opcode: head[0] & 0x0f, payload })
    }

    /// The next data or close frame, answering pings on the way.
    pub fn next(&mut self) -> Option<Frame> {
        loop {
            let frame = self.read()?;
            match frame.opcode {
                0x9 => self.send(0xA, &frame.payload),
                0xA => {}
                _ => return Some(frame),
            }
        }
    }

    /// The next pub/sub envelope, as JSON; `None` at a close, the end or a timeout.
    pub fn envelope(&mut self) -> Option<Value> {
        let frame = self.next()?;
        if frame.opcode == 0x8 {
            return None;
        }
        serde_json::from_slice(&frame.payload).ok()
    }
}
