//! The `node` and `log` sections: where the node keeps its data and sockets, and how every
//! process logs, with how each is read from the YAML tree.

use std::path::PathBuf;

use serde::Serialize;

use super::read::{Field, Problems};

/// The `node` section.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeSection {
    /// Data directory (default `~/.orama`, or `/var/lib/orama` as root under systemd).
    pub data_dir: Option<PathBuf>,
    /// Runtime directory for sockets (default `$XDG_RUNTIME_DIR/orama` or `<data_dir>/run`).
    pub runtime_dir: Option<PathBuf>,
}

/// Where logs go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// journald under systemd, JSON lines on stderr otherwise.
    #[default]
    Auto,
    /// JSON lines on stderr.
    Json,
    /// Human-readable lines on stderr.
    Text,
    /// The systemd journal.
    Journald,
}

/// The `log` section.
#[derive(Debug, Clone, Serialize)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `info,orama_gateway=debug`; `RUST_LOG` wins.
    pub level: String,
    /// Output format.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info".into(), format: LogFormat::Auto }
    }
}

/// Reads the `node` section.
pub(super) fn node_section(f: &Field, p: &mut Problems) -> NodeSection {
    let mut t = f.table(p);
    let section = NodeSection {
        data_dir: t.take("data_dir").and_then(|f| f.absolute_path(p)),
        runtime_dir: t.take("runtime_dir").and_then(|f| f.absolute_path(p)),
    };
    t.finish(p);
    section
}

/// Reads the `log` section; the level must be a valid tracing filter.
pub(super) fn log_section(f: &Field, p: &mut Problems) -> LogConfig {
    let mut t = f.table(p);
    let mut log = LogConfig::default();
    if let Some(f) = t.take("level")
        && let Some(level) = f.non_empty_string(p)
    {
        match tracing_subscriber::EnvFilter::try_new(&level) {
            Ok(_) => log.level = level,
            Err(err) => f.problem(p, format!("invalid log filter {level:?}: {err}")),
        }
    }
    if let Some(f) = t.take("format") {
        log.format = match f.one_of(p, &["auto", "json", "text", "journald"]) {
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some("journald") => LogFormat::Journald,
            _ => LogFormat::Auto,
        };
    }
    t.finish(p);
    log
}
