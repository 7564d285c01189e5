//! `orama-supervisor ctl`: the operator's client of the control API (whose routes and replies
//! are in [`crate::control_protocol`]), and the front of the subcommands that talk to the
//! gateway ([`crate::apikey`]) or the pub/sub bridge ([`crate::peers`]).
//!
//! Every failure is one line on stderr and a non-zero exit ([`CtlError`]): no supervisor
//! running, unknown child, or a supervisor that answered an error.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use http::Method;
use http_body_util::BodyExt;
use orama_ipc::{IpcClient, IpcError};

use crate::apikey::{ApikeyCommand, JwtCommand};
use crate::control_protocol::{
    CHILDREN_PATH, ChildAction, ChildReport, DEFAULT_LOG_LINES, StatusReport, action_path, logs_path,
};
use crate::ctl_error::CtlError;
use crate::peers::PeersCommand;
use crate::text_table::render_table;

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
        command: ApikeyCommand,
    },
    /// Manage the gateway's token signing keys.
    Jwt {
        /// What to do with them.
        #[command(subcommand)]
        command: JwtCommand,
    },
    /// The node's libp2p peers; connect or disconnect one (through the pub/sub bridge).
    Peers {
        /// What to do with peers.
        #[command(subcommand)]
        command: PeersCommand,
    },
    /// Show a child's recent output.
    Logs {
        /// The child's name.
        name: String,
        /// Number of lines.
        #[arg(short = 'n', long = "lines", default_value_t = DEFAULT_LOG_LINES)]
        lines: usize,
        /// Keep printing new lines as they come.
        #[arg(short = 'f', long)]
        follow: bool,
    },
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
            let report: StatusReport = client.get_json(CHILDREN_PATH).await?;
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
            let action = match command {
                CtlCommand::Restart { .. } => ChildAction::Restart,
                CtlCommand::Stop { .. } => ChildAction::Stop,
                _ => ChildAction::Start,
            };
            let path = action_path(name, action);
            let client = client.with_timeout(ACTION_TIMEOUT);
            let report: ChildReport = client.post_json(&path, &serde_json::json!({})).await?;
            let pid = report.pid.map_or(String::new(), |p| format!(" (pid {p})"));
            writeln!(out, "{}: {}{pid}", report.name, report.state)?;
        }
        CtlCommand::Apikey { .. } | CtlCommand::Jwt { .. } | CtlCommand::Peers { .. } => {}
        CtlCommand::Logs { name, lines, follow } => {
            let path = logs_path(&name, lines, follow);
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
