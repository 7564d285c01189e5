//! Children's stdout and stderr: read line by line (each line capped in length), kept in a
//! bounded per-child ring for `ctl logs`, broadcast to followers (`ctl logs -f`), and forwarded
//! to the supervisor's own log sink.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::broadcast;

use crate::forward::Forwarder;

/// Longest line kept; the rest of a longer line is dropped and the line marked truncated.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Lines a slow follower may fall behind before it is told it missed some.
const FOLLOW_QUEUE: usize = 1024;

/// The recent output of one child.
#[derive(Debug)]
pub struct LogBuffer {
    lines: Mutex<VecDeque<Arc<str>>>,
    capacity: usize,
    followers: broadcast::Sender<Arc<str>>,
}

impl LogBuffer {
    /// A buffer keeping the last `capacity` lines.
    pub fn new(capacity: usize) -> LogBuffer {
        let (followers, _) = broadcast::channel(FOLLOW_QUEUE);
        LogBuffer { lines: Mutex::new(VecDeque::with_capacity(capacity.min(1024))), capacity, followers }
    }

    /// Appends a line, evicting the oldest past capacity.
    pub fn push(&self, line: Arc<str>) {
        {
            let mut lines = self.lock();
            if lines.len() == self.capacity {
                lines.pop_front();
            }
            lines.push_back(line.clone());
        }
        let _ = self.followers.send(line);
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<Arc<str>> {
        let lines = self.lock();
        lines.iter().skip(lines.len().saturating_sub(n)).cloned().collect()
    }

    /// The last `n` lines and a receiver for every line after them, with nothing lost between.
    pub fn tail_and_follow(&self, n: usize) -> (Vec<Arc<str>>, broadcast::Receiver<Arc<str>>) {
        let lines = self.lock();
        let receiver = self.followers.subscribe();
        let tail = lines.iter().skip(lines.len().saturating_sub(n)).cloned().collect();
        (tail, receiver)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<str>>> {
        self.lines.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Reads `reader` to its end, line by line, into `buffer` and `forwarder`.
pub async fn capture<R: AsyncRead + Unpin>(
    reader: R,
    stream: &'static str,
    buffer: Arc<LogBuffer>,
    forwarder: Forwarder,
) {
    let mut reader = BufReader::with_capacity(8 * 1024, reader);
    let mut raw = Vec::with_capacity(256);
    loop {
        raw.clear();
        match read_capped_line(&mut reader, &mut raw).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(err) => {
                tracing::debug!(error = %err, stream, "reading child output failed");
                break;
            }
        }
        let line: Arc<str> = String::from_utf8_lossy(&raw).into();
        forwarder.forward(stream, &line);
        buffer.push(line);
    }
}

/// Reads one line without its terminator into `out`, keeping at most [`MAX_LINE_BYTES`] and
/// skipping the rest. Returns the bytes consumed (0 at end of input).
async fn read_capped_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    out: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let mut consumed = 0;
    let mut truncated = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            break;
        }
        let (chunk, done) = match memchr(available) {
            Some(pos) => (&available[..pos], pos + 1),
            None => (available, 0),
        };
        let room = MAX_LINE_BYTES.saturating_sub(out.len());
        truncated |= chunk.len() > room;
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = if done > 0 { done } else { available.len() };
        reader.consume(used);
        consumed += used;
        if done > 0 {
            break;
        }
    }
    if out.last() == Some(&b'\r') {
        out.pop();
    }
    if truncated {
        out.extend_from_slice(" [line truncated]".as_bytes());
    }
    Ok(consumed)
}

fn memchr(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_last_lines() {
        let buffer = LogBuffer::new(3);
        for i in 0..5 {
            buffer.push(format!("line {i}").into());
        }
        let tail: Vec<String> = buffer.tail(10).iter().map(|l| l.to_string()).collect();
        assert_eq!(tail, ["line 2", "line 3", "line 4"]);
        assert_eq!(buffer.tail(1).len(), 1);
    }

    #[tokio::test]
    async fn long_lines_are_capped_and_marked() {
        let mut input = vec![b'x'; MAX_LINE_BYTES * 2];
        input.extend_from_slice(b"\nshort\r\nlast");
        let mut reader = BufReader::with_capacity(1024, &input[..]);
        let mut line = Vec::new();
        read_capped_line(&mut reader, &mut line).await.expect("read");
        assert!(line.ends_with(b"[line truncated]"));
        assert_eq!(line.len(), MAX_LINE_BYTES + " [line truncated]".len());
        for expected in [&b"short"[..], b"last"] {
            line.clear();
            read_capped_line(&mut reader, &mut line).await.expect("read");
            assert_eq!(line, expected);
        }
        line.clear();
        assert_eq!(read_capped_line(&mut reader, &mut line).await.expect("read"), 0);
    }
}
