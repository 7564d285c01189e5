//! `orama-supervisor ctl`: the operator's client of the control API.
//!
//! Every failure is one line on stderr and a non-zero exit: no supervisor running, unknown
//! child, or a supervisor that answered an error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::Method;
use http_body_util::BodyExt;
use orama_ipc::{IpcClient, IpcError};

use crate::control::{ChildReport, StatusReport};

/// Bound on start/stop/restart, which wait for the child (stop may take the grace period).
const ACTION_TIMEOUT: Duration = Duration::from_secs(120);

/// What `ctl` was asked to do.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CtlCommand {
    /// Show every child: state, pid, restarts, uptime, CPU, memory, last exit.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Restart a child (resets its backoff and crash-loop state).
    Restart {
        /// The child's name.
        name: String,
    },
    /// Stop a child; it stays stopped until `ctl start`.
    Stop {
        /// The child's name.
        name: String,
    },
    /// Start a stopped child (after its dependencies are ready).
    Start {
        /// The child's name.
        name: String,
    },
    /// Manage API keys (through the gateway).
    Apikey {
        /// What to do with keys.
        #[command(subcommand)]
        command: crate::apikey::ApikeyCommand,
    },
    /// Manage the gateway's token signing keys.
    Jwt {
        /// What to do with them.
        #[command(subcommand)]
        command: crate::apikey::JwtCommand,
    },
    /// The node's libp2p peers; connect or disconnect one (through the pub/sub bridge).
    Peers {
        /// What to do with peers.
        #[command(subcommand)]
        command: crate::peers::PeersCommand,
    },
    /// Show a child's recent output.
    Logs {
        /// The child's name.
        name: String,
        /// Number of lines.
        #[arg(short = 'n', long = "lines", default_value_t = 100)]
        lines: usize,
        /// Keep printing new lines as they come.
        #[arg(short = 'f', long)]
        follow: bool,
    },
}

/// Why a `ctl` command failed.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Nothing answers on the control socket.
    #[error("no supervisor is running (cannot connect to {0})")]
    NotRunning(PathBuf),
    /// The supervisor answered with an error.
    #[error("{0}")]
    Refused(String),
    /// Anything else on the way.
    #[error("{0}")]
    Transport(IpcError),
    /// Writing to stdout failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl From<IpcError> for CtlError {
    fn from(err: IpcError) -> Self {
        match err {
            IpcError::Connect { path, .. } => CtlError::NotRunning(path),
            IpcError::Status { message, .. } => CtlError::Refused(message),
            other => CtlError::Transport(other),
        }
    }
}

impl CtlError {
    /// Maps an error talking straight to the child `name` (not through the supervisor): an
    /// unreachable socket says that child is not running.
    pub fn from_child(name: &'static str) -> impl Fn(IpcError) -> CtlError {
        move |err| match err {
            IpcError::Connect { path, .. } => {
                CtlError::Refused(format!("the {name} is not running (cannot connect to {})", path.display()))
            }
            other => CtlError::from(other),
        }
    }
}

/// Runs `command` against the node whose sockets are in `runtime_dir`.
pub async fn run(runtime_dir: &Path, command: CtlCommand) -> Result<(), CtlError> {
    let gateway = orama_ipc::socket_path(runtime_dir, "gateway");
    let command = match command {
        CtlCommand::Apikey { command } => return crate::apikey::run(&gateway, command).await,
        CtlCommand::Jwt { command } => return crate::apikey::run_jwt(&gateway, command).await,
        CtlCommand::Peers { command } => {
            return crate::peers::run(&orama_ipc::socket_path(runtime_dir, "pubsub-bridge"), command).await;
        }
        other => other,
    };
    let socket = orama_ipc::socket_path(runtime_dir, "supervisor");
    let socket = socket.as_path();
    let client = IpcClient::new(socket).with_timeout(Duration::from_secs(15));
    let mut out = std::io::stdout().lock();
    match command {
        CtlCommand::Status { json } => {
            let report: StatusReport = client.get_json("/v1/children").await?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report.children).unwrap_or_default())?;
            } else {
                write!(out, "{}", status_table(&report.children))?;
                if report.dropped_log_lines > 0 {
                    writeln!(out, "({} output lines dropped: the log could not keep up)", report.dropped_log_lines)?;
                }
            }
        }
        CtlCommand::Restart { ref name } | CtlCommand::Stop { ref name } | CtlCommand::Start { ref name } => {
            let verb = match command {
                CtlCommand::Restart { .. } => "restart",
                CtlCommand::Stop { .. } => "stop",
                _ => "start",
            };
            let path = format!("/v1/children/{}/{verb}", encode(name));
            let client = client.with_timeout(ACTION_TIMEOUT);
            let report: ChildReport = client.post_json(&path, &serde_json::json!({})).await?;
            let pid = report.pid.map_or(String::new(), |p| format!(" (pid {p})"));
            writeln!(out, "{}: {}{pid}", report.name, report.state)?;
        }
        CtlCommand::Apikey { .. } | CtlCommand::Jwt { .. } | CtlCommand::Peers { .. } => {}
        CtlCommand::Logs { name, lines, follow } => {
            let path = format!("/v1/children/{}/logs?lines={lines}&follow={follow}", encode(&name));
            let response = client.send(Method::GET, &path, None).await?;
            if !response.status().is_success() {
                let _: serde_json::Value = client.read_json(response).await?;
                return Ok(());
            }
            let mut body = response.into_body();
            while let Some(frame) = body.frame().await {
                let frame = frame
                    .map_err(|e| CtlError::Transport(IpcError::Http { path: socket.into(), message: e.to_string() }))?;
                if let Some(data) = frame.data_ref() {
                    out.write_all(data)?;
                    out.flush()?;
                }
            }
        }
    }
    Ok(())
}

/// Percent-encodes a child name for a path segment (names are `[a-z0-9-]`, but the operator
/// may type anything).
fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The human table of `ctl status`.
pub fn status_table(children: &[ChildReport]) -> String {
    let mut rows =
        vec![["NAME", "STATE", "PID", "RESTARTS", "UPTIME", "CPU", "RSS", "LAST EXIT"].map(String::from).to_vec()];
    for c in children {
        rows.push(vec![
            c.name.clone(),
            c.state.clone(),
            c.pid.map_or("-".into(), |p| p.to_string()),
            c.restarts.to_string(),
            c.uptime_secs.map_or("-".into(), |s| humantime::format_duration(Duration::from_secs(s as u64)).to_string()),
            c.cpu_percent.map_or("-".into(), |p| format!("{p:.1}%")),
            c.rss_bytes.map_or("-".into(), |b| format!("{:.1}M", b as f64 / 1_048_576.0)),
            c.last_exit.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    render_table(&rows)
}

/// Rows as left-aligned columns two spaces apart, the first row being the header.
pub fn render_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}
