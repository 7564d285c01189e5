//! A small WebSocket (RFC 6455) server side of our own, for the routes that need what a
//! general library does not give: text frames taken as bytes without UTF-8 validation (the
//! reference's clients send arbitrary bytes in text frames), buffers that stay small on idle
//! connections, and writes batched under load. [`keep_upgrade`] hands such routes the
//! connection's upgrade, [`handshake`] checks a request and answers `101`, [`Reader`] reads
//! client frames (masked, possibly fragmented), [`encode`] writes server frames.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use hyper::upgrade::OnUpgrade;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The paths whose routes speak WebSocket through this module.
const OWN_PATHS: &[&str] = &["/v1/pubsub/ws"];
/// Read buffer of an idle connection.
const IDLE_BUFFER: usize = 512;

/// Opcodes.
pub mod opcode {
    /// Continuation of a fragmented message.
    pub const CONTINUATION: u8 = 0x0;
    /// Text.
    pub const TEXT: u8 = 0x1;
    /// Binary.
    pub const BINARY: u8 = 0x2;
    /// Close.
    pub const CLOSE: u8 = 0x8;
    /// Ping.
    pub const PING: u8 = 0x9;
    /// Pong.
    pub const PONG: u8 = 0xA;
}

/// A request's upgrade, taken out of its extensions so a warp route can have it.
#[derive(Debug, Clone)]
pub struct PendingUpgrade(Arc<Mutex<Option<OnUpgrade>>>);

impl PendingUpgrade {
    /// The upgrade, once.
    pub fn take(&self) -> Option<OnUpgrade> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// For the paths served here, moves hyper's upgrade into a [`PendingUpgrade`] extension.
pub fn keep_upgrade<B>(mut request: Request<B>) -> Request<B> {
    if OWN_PATHS.contains(&request.uri().path())
        && let Some(upgrade) = request.extensions_mut().remove::<OnUpgrade>()
    {
        request.extensions_mut().insert(PendingUpgrade(Arc::new(Mutex::new(Some(upgrade)))));
    }
    request
}

/// Checks a WebSocket upgrade request; the `Sec-WebSocket-Accept` value, or the status and
/// reason to refuse it with.
pub fn handshake(headers: &HeaderMap) -> Result<HeaderValue, (StatusCode, &'static str)> {
    let has = |name: &str, token: &str| {
        headers
            .get_all(name)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|part| part.trim().eq_ignore_ascii_case(token))))
    };
    if !has("connection", "upgrade") || !has("upgrade", "websocket") {
        return Err((StatusCode::UPGRADE_REQUIRED, "a WebSocket upgrade is required"));
    }
    if headers.get("sec-websocket-version").and_then(|v| v.to_str().ok()) != Some("13") {
        return Err((StatusCode::BAD_REQUEST, "Sec-WebSocket-Version must be 13"));
    }
    let key = headers.get("sec-websocket-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if key.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing"));
    }
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{}258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key.trim()).as_bytes(),
    );
    HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(digest.as_ref()))
        .map_err(|_| (StatusCode::BAD_REQUEST, "invalid Sec-WebSocket-Key"))
}

/// Appends a server frame (unmasked, final) to `out`.
pub fn encode(opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// The payload of a close frame.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(&reason.as_bytes()[..reason.len().min(123)]);
    payload
}

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message, as bytes (not validated as UTF-8).
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping with its payload.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// A close, with its code when given.
    Close(Option<u16>),
    /// A message over the limit, of this many bytes, read and thrown away (the connection
    /// goes on).
    Oversized(u64),
}

/// Why the connection must end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsError {
    /// The peer broke the protocol (close 1002).
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// A message over the limit (close 1009).
    #[error("message larger than {0} bytes")]
    TooBig(usize),
    /// The connection failed or closed without a close frame.
    #[error("connection closed")]
    Closed,
}

impl WsError {
    /// The close code to answer with.
    pub fn code(&self) -> u16 {
        match self {
            WsError::Protocol(_) => 1002,
            WsError::TooBig(_) => 1009,
            WsError::Closed => 1006,
        }
    }
}

/// Reads client frames into messages.
#[derive(Debug)]
pub struct Reader<R> {
    io: R,
    buffer: BytesMut,
    limit: usize,
    partial: Option<(u8, BytesMut)>,
    /// Bytes of an oversized frame still to throw away, and its whole length.
    discarding: Option<(u64, u64)>,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// Reads from `io`, refusing messages over `limit` bytes.
    pub fn new(io: R, limit: usize) -> Self {
        Reader { io, buffer: BytesMut::new(), limit, partial: None, discarding: None }
    }

    /// The next message.
    pub async fn next(&mut self) -> Result<Message, WsError> {
        loop {
            if let Some(message) = self.parse()? {
                return Ok(message);
            }
            if self.buffer.capacity() - self.buffer.len() < IDLE_BUFFER {
                self.buffer.reserve(IDLE_BUFFER.max(self.buffer.len()));
            }
            match self.io.read_buf(&mut self.buffer).await {
                Ok(0) | Err(_) => return Err(WsError::Closed),
                Ok(_) => {}
            }
        }
    }

    /// A whole message from the buffer, if one is there.
    fn parse(&mut self) -> Result<Option<Message>, WsError> {
        loop {
            if let Some((left, whole)) = self.discarding {
                let skip = usize::try_from(left).unwrap_or(usize::MAX).min(self.buffer.len());
                self.buffer.advance(skip);
                let left = left - skip as u64;
                if left > 0 {
                    self.discarding = Some((left, whole));
                    return Ok(None);
                }
                self.discarding = None;
                return Ok(Some(Message::Oversized(whole)));
            }
            let Some((fin, code, payload)) = self.frame()? else {
                if self.discarding.is_some() {
                    continue;
                }
                return Ok(None);
            };
            if self.buffer.is_empty() && self.buffer.capacity() > 64 * 1024 {
                self.buffer = BytesMut::new();
            }
            match code {
                opcode::PING => return Ok(Some(Message::Ping(payload))),
                opcode::PONG => return Ok(Some(Message::Pong)),
                opcode::CLOSE => {
                    let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    return Ok(Some(Message::Close(code)));
                }
                opcode::TEXT | opcode::BINARY if self.partial.is_some() => {
                    return Err(WsError::Protocol("a new message inside a fragmented one"));
                }
                opcode::TEXT | opcode::BINARY if fin => return Ok(Some(message(code, payload))),
                opcode::TEXT | opcode::BINARY => self.partial = Some((code, BytesMut::from(&payload[..]))),
                opcode::CONTINUATION => {
                    let Some((first, mut gathered)) = self.partial.take() else {
                        return Err(WsError::Protocol("a continuation without a message"));
                    };
                    if gathered.len() + payload.len() > self.limit {
                        return Err(WsError::TooBig(self.limit));
                    }
                    gathered.extend_from_slice(&payload);
                    if fin {
                        return Ok(Some(message(first, gathered.freeze())));
                    }
                    self.partial = Some((first, gathered));
                }
                _ => return Err(WsError::Protocol("unknown opcode")),
            }
        }
    }

    /// One frame (final bit, opcode, unmasked payload), if the buffer holds one.
    fn frame(&mut self) -> Result<Option<(bool, u8, Bytes)>, WsError> {
        let b = &self.buffer;
        if b.len() < 2 {
            return Ok(None);
        }
        let (fin, rsv, code, masked) = (b[0] & 0x80 != 0, b[0] & 0x70, b[0] & 0x0F, b[1] & 0x80 != 0);
        if rsv != 0 {
            return Err(WsError::Protocol("reserved bits set"));
        }
        if !masked {
            return Err(WsError::Protocol("client frames must be masked"));
        }
        let (len, head) = match b[1] & 0x7F {
            126 if b.len() >= 4 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 if b.len() >= 10 => (u64::from_be_bytes([b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9]]), 10),
            126 | 127 => return Ok(None),
            n => (u64::from(n), 2),
        };
        let control = code & 0x8 != 0;
        if control && (len > 125 || !fin) {
            return Err(WsError::Protocol("control frames are short and whole"));
        }
        if len > self.limit as u64 {
            if control || !fin || self.partial.is_some() || code == opcode::CONTINUATION {
                return Err(WsError::TooBig(self.limit));
            }
            // A whole data frame over the limit: thrown away as it arrives, the client told.
            if b.len() < head + 4 {
                return Ok(None);
            }
            self.buffer.advance(head + 4);
            self.discarding = Some((len, len));
            return Ok(None);
        }
        let len = len as usize;
        let available = b.len();
        if available < head + 4 + len {
            self.buffer.reserve(head + 4 + len - available);
            return Ok(None);
        }
        let b = &self.buffer;
        let mask = [b[head], b[head + 1], b[head + 2], b[head + 3]];
        self.buffer.advance(head + 4);
        let mut payload = self.buffer.split_to(len);
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= mask[i % 4];
        }
        Ok(Some((fin, code, payload.freeze())))
    }
}

fn message(code: u8, payload: Bytes) -> Message {
    if code == opcode::TEXT { Message::Text(payload) } else { Message::Binary(payload) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1, 2, 3, 4];
        let mut out = vec![first];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[tokio::test]
    async fn messages_fragments_and_controls_are_read_and_bytes_are_not_validated() {
        let mut wire = client_frame(0x81, &[0xff, 0x00, 0xfe]);
        wire.extend(client_frame(0x02, b"frag"));
        wire.extend(client_frame(0x89, b"p"));
        wire.extend(client_frame(0x80, &vec![7u8; 300]));
        wire.extend(client_frame(0x88, &close_payload(1000, "bye")));
        let mut reader = Reader::new(&wire[..], 1024);
        assert_eq!(reader.next().await, Ok(Message::Text(Bytes::from_static(&[0xff, 0x00, 0xfe]))));
        assert_eq!(
            reader.next().await,
            Ok(Message::Ping(Bytes::from_static(b"p"))),
            "a control frame between fragments"
        );
        let mut whole = b"frag".to_vec();
        whole.extend(vec![7u8; 300]);
        assert_eq!(reader.next().await, Ok(Message::Binary(Bytes::from(whole))));
        assert_eq!(reader.next().await, Ok(Message::Close(Some(1000))));
        assert_eq!(reader.next().await, Err(WsError::Closed));

        let mut big = client_frame(0x82, &[0u8; 2000]);
        big.extend(client_frame(0x81, b"next"));
        let mut reader = Reader::new(&big[..], 1024);
        assert_eq!(reader.next().await, Ok(Message::Oversized(2000)), "thrown away, the connection goes on");
        assert_eq!(reader.next().await, Ok(Message::Text(Bytes::from_static(b"next"))));
        let fragment = client_frame(0x01, &[0u8; 2000]);
        assert_eq!(Reader::new(&fragment[..], 1024).next().await, Err(WsError::TooBig(1024)));
        let unmasked = [0x81u8, 0x01, b'x'];
        assert!(matches!(Reader::new(&unmasked[..], 1024).next().await, Err(WsError::Protocol(_))));
    }

    #[test]
    fn the_handshake_answers_the_rfc_example_and_server_frames_are_sized() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("keep-alive, Upgrade"));
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        headers.insert("sec-websocket-version", HeaderValue::from_static("13"));
        headers.insert("sec-websocket-key", HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(handshake(&headers).expect("accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        headers.remove("upgrade");
        assert_eq!(handshake(&headers).map_err(|e| e.0), Err(StatusCode::UPGRADE_REQUIRED));
        for (len, head) in [(10usize, 2usize), (200, 4), (70_000, 10)] {
            let mut out = Vec::new();
            encode(opcode::TEXT, &vec![0u8; len], &mut out);
            assert_eq!(out.len(), head + len);
        }
    }
}
