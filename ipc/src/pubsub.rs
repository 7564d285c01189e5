//! The frames of a pub/sub stream between the bridge and the gateway: each is
//! `[u32 length][u8 kind][u64 timestamp ms][payload]`, the length counting kind, timestamp and
//! payload. The bridge writes them, the gateway reads them back with [`FrameReader`], across
//! however the bytes were chunked.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// A client's message.
pub const MESSAGE: u8 = 0;
/// A presence event (the reference's JSON).
pub const PRESENCE: u8 = 1;
/// The first frame of a stream: its id (payload: 8 bytes, big-endian).
pub const HELLO: u8 = 2;

/// Bytes before the payload.
const HEAD: usize = 13;

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubsubFrame {
    /// [`MESSAGE`], [`PRESENCE`] or [`HELLO`].
    pub kind: u8,
    /// When it was published (ms since the epoch).
    pub timestamp_ms: u64,
    /// The payload.
    pub payload: Bytes,
}

/// The wire bytes of a frame.
pub fn encode(kind: u8, timestamp_ms: u64, payload: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(HEAD + payload.len());
    frame.put_u32((HEAD - 4 + payload.len()) as u32);
    frame.put_u8(kind);
    frame.put_u64(timestamp_ms);
    frame.put_slice(payload);
    frame.freeze()
}

/// Reassembles frames from chunks, refusing any longer than its limit.
#[derive(Debug)]
pub struct FrameReader {
    buffer: BytesMut,
    limit: usize,
}

/// A frame announced longer than the reader's limit: the stream is not to be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a pub/sub frame of {0} bytes is over the limit")]
pub struct FrameTooLong(pub usize);

impl FrameReader {
    /// A reader of frames up to `limit` bytes of payload.
    pub fn new(limit: usize) -> Self {
        FrameReader { buffer: BytesMut::new(), limit }
    }

    /// Adds a chunk.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
    }

    /// The next whole frame, if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<PubsubFrame>, FrameTooLong> {
        if self.buffer.len() < 4 {
            return Ok(None);
        }
        let length = u32::from_be_bytes([self.buffer[0], self.buffer[1], self.buffer[2], self.buffer[3]]) as usize;
        if length < HEAD - 4 || length > self.limit + HEAD {
            return Err(FrameTooLong(length));
        }
        if self.buffer.len() < 4 + length {
            return Ok(None);
        }
        let mut frame = self.buffer.split_to(4 + length);
        frame.advance(4);
        let kind = frame.get_u8();
        let timestamp_ms = frame.get_u64();
        Ok(Some(PubsubFrame { kind, timestamp_ms, payload: frame.freeze() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_chunking_and_oversized_ones_are_refused() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&encode(HELLO, 1, &7u64.to_be_bytes()));
        wire.extend_from_slice(&encode(MESSAGE, 2, b""));
        wire.extend_from_slice(&encode(PRESENCE, 3, &[0xff; 300]));
        for chunk in [1, 3, 13, 64, wire.len()] {
            let mut reader = FrameReader::new(1024);
            let mut frames = Vec::new();
            for piece in wire.chunks(chunk) {
                reader.push(piece);
                while let Some(frame) = reader.next_frame().expect("frame") {
                    frames.push(frame);
                }
            }
            let kinds: Vec<(u8, u64, usize)> =
                frames.iter().map(|f| (f.kind, f.timestamp_ms, f.payload.len())).collect();
            assert_eq!(kinds, [(HELLO, 1, 8), (MESSAGE, 2, 0), (PRESENCE, 3, 300)], "chunks of {chunk}");
        }
        let mut reader = FrameReader::new(10);
        reader.push(&encode(MESSAGE, 0, &[0; 64]));
        assert!(reader.next_frame().is_err());
    }
}
