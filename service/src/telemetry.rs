//! Logging set-up shared by every process: journald under systemd (or when configured),
//! readable lines (in colour) on a terminal, JSON lines on stderr otherwise, which the supervisor captures and forwards. The filter comes from
//! `RUST_LOG` when set, else from the config.
//!
//! Stderr is written by a background thread through a bounded queue that drops lines when full:
//! a reader that falls behind (the supervisor, a paused terminal) costs log lines, never a
//! blocked request thread.

use std::io::IsTerminal as _;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::config::{LogConfig, LogFormat};

/// Where this process's logs ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSink {
    /// The systemd journal.
    Journald,
    /// JSON lines on stderr.
    JsonStderr,
    /// Human-readable lines on stderr.
    TextStderr,
}

/// Bytes the stderr writer gathers before a write, at most.
const STDERR_BATCH_BYTES: usize = 64 * 1024;

/// Lines the stderr writer holds before it starts dropping.
const STDERR_QUEUE_LINES: usize = 65_536;

/// The installed logging; keep it alive for the life of the process (dropping it flushes and
/// stops the stderr writer).
#[must_use = "dropping the telemetry stops the log writer"]
pub struct Telemetry {
    /// Where logs go.
    pub sink: LogSink,
    /// Changes the filter while the process runs.
    pub level: LogLevel,
    _writer: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// The process's log filter, changeable while it runs (`ctl reload` of `log.level`).
#[derive(Clone)]
pub struct LogLevel {
    handle: reload::Handle<EnvFilter, Registry>,
}

impl std::fmt::Debug for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogLevel").finish_non_exhaustive()
    }
}

impl LogLevel {
    /// Filters by `level` (a tracing filter such as `debug` or `info,orama_gateway=trace`)
    /// from now on; `Ok(false)` when `RUST_LOG` is set, which wins over the config.
    pub fn set(&self, level: &str) -> Result<bool, String> {
        if from_environment().is_some() {
            return Ok(false);
        }
        let filter = EnvFilter::try_new(level).map_err(|e| format!("log level {level:?}: {e}"))?;
        self.handle.reload(filter).map_err(|e| format!("cannot change the log level: {e}"))?;
        Ok(true)
    }
}

/// The filter `RUST_LOG` sets, which wins over the config's; an empty one sets none.
fn from_environment() -> Option<String> {
    std::env::var("RUST_LOG").ok().filter(|directives| !directives.trim().is_empty())
}

/// Whether this process was started by the supervisor, which reads its stderr: it then
/// writes JSON there whatever the config says, and the supervisor passes each event on to the
/// node's sink (the journal under its own name, a terminal as text).
pub fn supervised() -> bool {
    std::env::var_os("ORAMA_SUPERVISED").is_some()
}

/// Whether `log` sends this process's logs to journald: asked for, or `auto` under systemd
/// (never for a supervised child).
pub fn wants_journald(log: &LogConfig) -> bool {
    if supervised() {
        return false;
    }
    match log.format {
        LogFormat::Journald => true,
        LogFormat::Auto => crate::paths::under_systemd(),
        LogFormat::Json | LogFormat::Text => false,
    }
}

/// Installs the global subscriber for `process` (its journald identity is `orama-<process>`).
/// Falls back to JSON on stderr when journald was asked for but cannot be reached, and says so.
pub fn init(process: &str, log: &LogConfig) -> Telemetry {
    let filter = from_environment()
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .or_else(|| EnvFilter::try_new(&log.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let want_journald = wants_journald(log);
    let (filter, handle) = reload::Layer::new(filter);
    let level = LogLevel { handle };
    let registry = tracing_subscriber::registry().with(filter);
    let mut journald_error = None;
    if want_journald {
        match tracing_journald::layer() {
            Ok(layer) => {
                let _ = registry.with(layer.with_syslog_identifier(format!("orama-{process}"))).try_init();
                return Telemetry { sink: LogSink::Journald, level, _writer: None };
            }
            Err(err) => journald_error = Some(err),
        }
    }
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(STDERR_QUEUE_LINES)
        // The worker drains every queued line into the buffer and then flushes: one write()
        // per batch rather than per line (under load, the per-line writes were a fifth of the
        // gateway's time and most of the supervisor's).
        .finish(std::io::BufWriter::with_capacity(STDERR_BATCH_BYTES, std::io::stderr()));
    let terminal = std::io::stderr().is_terminal();
    let text = log.format == LogFormat::Text || (log.format == LogFormat::Auto && terminal);
    let sink = if text && !supervised() {
        let colour = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let _ = registry.with(tracing_subscriber::fmt::layer().with_ansi(colour).with_writer(writer)).try_init();
        LogSink::TextStderr
    } else {
        let json =
            tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(false).with_writer(writer);
        let _ = registry.with(json).try_init();
        LogSink::JsonStderr
    };
    if let Some(err) = journald_error {
        tracing::warn!(error = %err, "journald is not reachable; logging JSON to stderr instead");
    }
    Telemetry { sink, level, _writer: Some(guard) }
}
