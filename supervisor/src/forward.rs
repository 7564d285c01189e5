//! Where children's output lines go besides the ring buffer: the supervisor's own sink.
//!
//! On stderr, a child's JSON log line is passed on as JSON with a `child` field added, and any
//! other line is wrapped into a JSON event, so the stream stays one JSON object per line. Under
//! journald each line is sent with the child's own identity `orama-<name>` and the priority its
//! level implies, which is what `journalctl -t orama-gateway` expects.
//!
//! Neither path can block the supervisor's one runtime thread: stderr is written by a writer
//! thread fed through a bounded queue, and the journal socket is non-blocking; when either is
//! full, lines are dropped and counted rather than stalling supervision.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use serde_json::{Map, Value};

/// The default socket of the systemd journal's native protocol.
const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Bytes gathered into one write to stderr, at most (a line longer goes whole).
const STDERR_BATCH_BYTES: usize = 64 * 1024;

/// Lines queued for stderr before new ones are dropped.
const STDERR_QUEUE_LINES: usize = 65_536;

/// Lines dropped because stderr or the journal could not keep up.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// How many of the children's lines were dropped since start (stderr or journal too slow).
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Queues `bytes` for the stderr writer thread; drops them when the queue is full.
fn write_stderr(bytes: Vec<u8>) {
    static QUEUE: OnceLock<Option<SyncSender<Vec<u8>>>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = sync_channel::<Vec<u8>>(STDERR_QUEUE_LINES);
        let writer = std::thread::Builder::new().name("orama-log-forward".into()).spawn(move || {
            // One write() per batch: whatever queued while the last write ran goes in the next.
            let mut stderr = std::io::stderr();
            let mut batch = Vec::with_capacity(STDERR_BATCH_BYTES);
            while let Ok(line) = rx.recv() {
                batch.extend_from_slice(&line);
                while batch.len() < STDERR_BATCH_BYTES {
                    match rx.try_recv() {
                        Ok(more) => batch.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                let _ = stderr.write_all(&batch);
                batch.clear();
            }
        });
        writer.ok().map(|_| tx)
    });
    let queued = queue.as_ref().is_some_and(|tx| tx.try_send(bytes).is_ok());
    if !queued {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Forwards the lines of one child.
#[derive(Clone, Debug)]
pub struct Forwarder {
    child: Arc<str>,
    sink: Sink,
}

/// The supervisor's log sink.
#[derive(Clone, Debug)]
pub enum Sink {
    /// One JSON object per line on stderr.
    JsonStderr,
    /// One human-readable line per event on stderr ([`crate::log_text`]), in colour or not.
    TextStderr {
        /// ANSI colours (a terminal).
        colour: bool,
    },
    /// The systemd journal's native socket.
    Journald(Arc<UnixDatagram>, PathBuf),
}

impl Sink {
    /// A journald sink (the socket `ORAMA_JOURNAL_SOCKET` names, else the journal's own), or
    /// the JSON one if no socket can be made.
    pub fn journald() -> Sink {
        let path =
            std::env::var_os("ORAMA_JOURNAL_SOCKET").map_or_else(|| PathBuf::from(JOURNAL_SOCKET), PathBuf::from);
        match UnixDatagram::unbound().and_then(|s| s.set_nonblocking(true).map(|()| s)) {
            Ok(socket) => Sink::Journald(Arc::new(socket), path),
            Err(_) => Sink::JsonStderr,
        }
    }

    /// The journal's socket, when lines go to the journal.
    pub fn journal_socket(&self) -> Option<String> {
        match self {
            Sink::Journald(_, path) => Some(path.display().to_string()),
            _ => None,
        }
    }
}

impl Forwarder {
    /// A forwarder for `child` into `sink`.
    pub fn new(child: &str, sink: Sink) -> Forwarder {
        Forwarder { child: child.into(), sink }
    }

    /// Forwards one line that `child` wrote on `stream`.
    pub fn forward(&self, stream: &str, line: &str) {
        match &self.sink {
            Sink::TextStderr { colour } => {
                let event = self.as_json(stream, line);
                let text =
                    event.as_object().map_or_else(String::new, |e| crate::log_text::line(&self.child, e, *colour));
                write_stderr(format!("{text}\n").into_bytes());
            }
            Sink::JsonStderr => {
                let mut text = with_child(line, &self.child).unwrap_or_else(|| self.as_json(stream, line).to_string());
                text.push('\n');
                write_stderr(text.into_bytes());
            }
            Sink::Journald(socket, path) => {
                let event = self.as_json(stream, line);
                let message = event.as_object().map_or_else(|| line.to_owned(), crate::log_text::message);
                let level = event.get("level").and_then(Value::as_str).unwrap_or("INFO");
                let identifier = format!("orama-{}", self.child);
                let fields = [
                    ("MESSAGE", message.as_str()),
                    ("PRIORITY", priority(level)),
                    ("SYSLOG_IDENTIFIER", identifier.as_str()),
                    ("ORAMA_CHILD", &self.child),
                    ("ORAMA_STREAM", stream),
                ];
                if socket.send_to(&journal_datagram(&fields), path).is_err() {
                    DROPPED.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// The line as a JSON event carrying `child`: the child's own event if it wrote JSON.
    fn as_json(&self, stream: &str, line: &str) -> Value {
        let mut event = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => map,
            _ => {
                let mut map = Map::new();
                map.insert("timestamp".into(), humantime::format_rfc3339_micros(SystemTime::now()).to_string().into());
                map.insert("level".into(), if stream == "stderr" { "WARN" } else { "INFO" }.into());
                map.insert("message".into(), line.into());
                map.insert("stream".into(), stream.into());
                map
            }
        };
        event.insert("child".into(), Value::String(self.child.to_string()));
        Value::Object(event)
    }
}

/// `line` with `"child":"<child>"` spliced in after its opening brace, when it is a JSON
/// object (what our processes write): checked, but not built into a map and written again,
/// which was most of the supervisor's cost per forwarded line. `None` for any other line.
fn with_child(line: &str, child: &str) -> Option<String> {
    let body = line.trim_end().strip_prefix('{')?;
    if !line.trim_end().ends_with('}') || serde_json::from_str::<serde::de::IgnoredAny>(line).is_err() {
        return None;
    }
    let separator = if body.trim_start().starts_with('}') { "" } else { "," };
    let child = serde_json::to_string(child).ok()?;
    Some(format!("{{\"child\":{child}{separator}{body}"))
}

/// syslog priority of a tracing level.
fn priority(level: &str) -> &'static str {
    match level.to_ascii_uppercase().as_str() {
        "ERROR" => "3",
        "WARN" | "WARNING" => "4",
        "INFO" => "6",
        _ => "7",
    }
}

/// Encodes fields in the journal's native protocol: `KEY=value\n`, or for values holding a
/// newline `KEY\n` + little-endian u64 length + bytes + `\n`.
pub fn journal_datagram(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in fields {
        out.extend_from_slice(key.as_bytes());
        if value.contains('\n') {
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
        } else {
            out.push(b'=');
        }
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_keep_their_fields_and_gain_the_child() {
        let f = Forwarder::new("gateway", Sink::JsonStderr);
        let event = f.as_json("stderr", r#"{"level":"INFO","message":"listening"}"#);
        assert_eq!(event["child"], "gateway");
        assert_eq!(event["message"], "listening");
        let plain = f.as_json("stdout", "hello");
        assert_eq!((plain["message"].as_str(), plain["stream"].as_str()), (Some("hello"), Some("stdout")));
    }

    #[test]
    fn json_lines_gain_the_child_without_being_rebuilt() {
        let line = r#"{"level":"INFO","message":"a \"quoted\" word"}"#;
        let spliced = with_child(line, "gateway").expect("an object");
        let event: Value = serde_json::from_str(&spliced).expect("still JSON");
        assert_eq!((event["child"].as_str(), event["message"].as_str()), (Some("gateway"), Some("a \"quoted\" word")));
        assert_eq!(with_child("{}", "redis").as_deref(), Some(r#"{"child":"redis"}"#));
        assert_eq!(with_child("{not json}", "redis"), None);
        assert_eq!(with_child("plain text", "redis"), None);
    }

    #[test]
    fn journal_datagrams_follow_the_native_protocol() {
        let bytes = journal_datagram(&[("MESSAGE", "a\nb"), ("PRIORITY", "6")]);
        let mut expected = b"MESSAGE\n".to_vec();
        expected.extend_from_slice(&3u64.to_le_bytes());
        expected.extend_from_slice(b"a\nb\nPRIORITY=6\n");
        assert_eq!(bytes, expected);
    }

    #[test]
    fn journald_forwarding_uses_the_child_identity() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal.sock");
        let receiver = UnixDatagram::bind(&path).expect("bind");
        let sink = Sink::Journald(Arc::new(UnixDatagram::unbound().expect("socket")), path);
        Forwarder::new("redis", sink).forward("stdout", r#"{"level":"ERROR","message":"boom"}"#);
        let mut buf = vec![0u8; 4096];
        let n = receiver.recv(&mut buf).expect("recv");
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.contains("SYSLOG_IDENTIFIER=orama-redis\n"), "{text}");
        assert!(text.contains("PRIORITY=3\n") && text.contains("MESSAGE=boom\n"), "{text}");
    }
}
