//! A progress line for long transfers, on stderr and only when it is a terminal: bytes done,
//! of how many, and the rate, redrawn at most ten times a second.

use std::io::{IsTerminal, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, ReadBuf};

/// See the module docs.
pub struct Progress {
    label: String,
    total: Option<u64>,
    done: u64,
    started: Instant,
    drawn: Option<Instant>,
    visible: bool,
    finished: bool,
}

impl Progress {
    /// A progress line for `label`, of `total` bytes when known.
    pub fn new(label: &str, total: Option<u64>) -> Progress {
        let visible = std::io::stderr().is_terminal();
        Progress {
            label: label.to_owned(),
            total,
            done: 0,
            started: Instant::now(),
            drawn: None,
            visible,
            finished: false,
        }
    }

    /// `bytes` more are done.
    pub fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        if self.visible && self.drawn.is_none_or(|at| at.elapsed() >= Duration::from_millis(100)) {
            self.draw();
        }
    }

    /// Draws the last state and ends the line.
    pub fn finish(&mut self) {
        if self.visible && !std::mem::replace(&mut self.finished, true) {
            self.draw();
            eprintln!();
        }
    }

    fn draw(&mut self) {
        self.drawn = Some(Instant::now());
        let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let of = match self.total {
            Some(total) if total > 0 => format!(" / {} {:>3}%", size(total), self.done * 100 / total),
            _ => String::new(),
        };
        eprint!("\r\x1b[2K{}  {}{of}  {}/s", self.label, size(self.done), size(rate as u64));
        let _ = std::io::stderr().flush();
    }
}

/// Bytes for people: `812 B`, `4.2 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// A reader that reports what passes through it to a [`Progress`].
pub struct Counted<R> {
    inner: R,
    progress: Progress,
}

impl<R> Counted<R> {
    /// `inner`, counted into `progress`.
    pub fn new(inner: R, progress: Progress) -> Counted<R> {
        Counted { inner, progress }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        if read > 0 {
            self.progress.advance(read);
        } else if matches!(polled, Poll::Ready(Ok(()))) {
            self.progress.finish(); // end of the input
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(super::size(812), "812 B");
        assert_eq!(super::size(4_404_019), "4.2 MiB");
    }
}
