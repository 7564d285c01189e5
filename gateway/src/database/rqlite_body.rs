//! Reading an rqlite node's reply within a cap: the body kept as the chunks it arrived in
//! (no buffer grown and copied), refused as soon as it passes what a result within the budget
//! can take, and read back as one stream by the decoder.

use super::engine::DbError;

/// The most reply bytes read for a result budget of `max_result`: blobs travel as base64
/// (4 bytes for 3), so a result within the budget fits, and nothing larger is ever held.
pub(super) fn reply_cap(max_result: usize) -> usize {
    max_result.saturating_add(max_result / 3).saturating_add(64 * 1024)
}

/// Reads `response`'s body as the chunks it arrived in, refusing it past `cap` bytes (as a
/// result past `max_result`). The chunks are kept as they came: no buffer is grown and copied.
pub(super) async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
    max_result: usize,
) -> Result<Chunks, DbError> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(DbError::ResultTooLarge(max_result));
    }
    let mut chunks = Chunks::default();
    while let Some(chunk) = response.chunk().await.map_err(|e| DbError::Unavailable(e.to_string()))? {
        if chunks.len + chunk.len() > cap {
            return Err(DbError::ResultTooLarge(max_result));
        }
        chunks.len += chunk.len();
        chunks.parts.push_back(chunk);
    }
    Ok(chunks)
}

/// A body as received; read as one stream, each chunk freed once it has been read.
#[derive(Debug, Default)]
pub(super) struct Chunks {
    /// The chunks not read yet.
    pub(super) parts: std::collections::VecDeque<bytes::Bytes>,
    len: usize,
}

impl Chunks {
    /// The whole body as text (for error replies, which are small).
    pub(super) fn text(mut self) -> String {
        let mut text = Vec::with_capacity(self.len);
        while let Some(part) = self.parts.pop_front() {
            text.extend_from_slice(&part);
        }
        String::from_utf8_lossy(&text).into_owned()
    }
}

impl std::io::Read for Chunks {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let Some(part) = self.parts.front_mut() else { return Ok(0) };
        let n = part.len().min(buffer.len());
        buffer[..n].copy_from_slice(&part[..n]);
        bytes::Buf::advance(part, n);
        if part.is_empty() {
            self.parts.pop_front();
        }
        Ok(n)
    }
}
