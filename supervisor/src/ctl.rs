//! `orama-supervisor ctl`: the operator's client of the control API (whose routes and replies
//! are in [`crate::control_protocol`]), and the front of the subcommands that talk to the
//! gateway ([`crate::apikey`]) or the pub/sub bridge ([`crate::peers`]).
//!
//! `start` and `restart` return once the child is ready (the supervisor answers then, see
//! [`crate::ready`]), or fail naming the state the child is in; `--no-wait` returns as soon as
//! the action was taken.
//!
//! Every failure is one line on stderr and a non-zero exit ([`CtlError`]): no supervisor
//! running, unknown child, a child that did not become ready, or a supervisor that answered
//! an error.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use http::Method;
use http_body_util::BodyExt;
use orama_ipc::{IpcClient, IpcError};

use crate::apikey::{ApikeyCommand, JwtCommand};
use crate::control_protocol::{
    CHILDREN_PATH, ChildAction, ChildReport, DEFAULT_LOG_LINES, ReloadReport, StatusReport, UpgradeReport, Wait,
    action_path, logs_path,
};
use crate::ctl_error::CtlError;
use crate::ctl_status::{status_json, status_text};
use crate::operator_key::OperatorKeyCommand;
use crate::peers::PeersCommand;

/// Bound on stop, and on start/restart with `--no-wait` (stop may take the grace period).
const ACTION_TIMEOUT: Duration = Duration::from_secs(120);

/// How much longer than the supervisor's own wait for readiness the client waits for its answer.
const ANSWER_MARGIN: Duration = Duration::from_secs(15);

/// How `start` and `restart` wait for the child.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct WaitArgs {
    /// Return as soon as the action was taken, without waiting for the child to be ready.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for the child to be ready (e.g. `90s`; default: the grace period plus
    /// the startup timeout of the node's config).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, conflicts_with = "no_wait")]
    pub timeout: Option<Duration>,
}

/// What `ctl` was asked to do.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CtlCommand {
    /// Show every child: state, pid, restarts, uptime, CPU, memory, last exit.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Restart a child (resets its backoff and crash-loop state); returns once it is ready.
    Restart {
        /// The child's name.
        name: String,
        /// How to wait for it.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Read the config file again: restart the children whose settings changed (the gateway
    /// without dropping a connection); on any problem, change nothing and print each.
    Reload,
    /// After new binaries were put in place: restart each of our children on its new binary
    /// in turn (the gateway without dropping a connection), rolling a child back to its
    /// previous binary when the new one never gets ready; then re-execute the supervisor in
    /// place, its children running on.
    Upgrade,
    /// Stop a child; it stays stopped until `ctl start`.
    Stop {
        /// The child's name.
        name: String,
    },
    /// Start a stopped child (after its dependencies are ready); returns once it is ready.
    Start {
        /// The child's name.
        name: String,
        /// How to wait for it.
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Manage API keys (through the gateway).
    Apikey {
        /// What to do with keys.
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Manage the keys of the operator page (`/v1/operator/status` on the gateway).
    OperatorKey {
        /// What to do with them.
        #[command(subcommand)]
        command: OperatorKeyCommand,
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

/// Runs `command` against the node whose sockets are in `runtime_dir`; `start` and `restart`
/// wait at most `ready_timeout` for the child to be ready unless told otherwise.
pub async fn run(runtime_dir: &Path, ready_timeout: Duration, command: CtlCommand) -> Result<(), CtlError> {
    let gateway = orama_ipc::socket_path(runtime_dir, "gateway");
    let command = match command {
        CtlCommand::Apikey { command } => return crate::apikey::run(&gateway, command).await,
        CtlCommand::Jwt { command } => return crate::apikey::run_jwt(&gateway, command).await,
        CtlCommand::OperatorKey { command } => return crate::operator_key::run(&gateway, command).await,
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
            let text = if json { format!("{}\n", status_json(&report)) } else { status_text(&report) };
            out.write_all(text.as_bytes())?;
        }
        CtlCommand::Restart { ref name, wait } | CtlCommand::Start { ref name, wait } => {
            let action =
                if matches!(command, CtlCommand::Restart { .. }) { ChildAction::Restart } else { ChildAction::Start };
            let (wait, client) = if wait.no_wait {
                (Wait::Settled, client.with_timeout(ACTION_TIMEOUT))
            } else {
                let timeout = wait.timeout.unwrap_or(ready_timeout);
                (Wait::Ready(Some(timeout)), client.with_timeout(timeout + ANSWER_MARGIN))
            };
            let report: ChildReport =
                client.post_json(&action_path(name, action, wait), &serde_json::json!({})).await?;
            writeln!(out, "{}", one_line(&report))?;
        }
        CtlCommand::Stop { ref name } => {
            let path = action_path(name, ChildAction::Stop, Wait::Settled);
            let report: ChildReport =
                client.with_timeout(ACTION_TIMEOUT).post_json(&path, &serde_json::json!({})).await?;
            writeln!(out, "{}", one_line(&report))?;
        }
        CtlCommand::Reload => {
            let report: ReloadReport =
                client.with_timeout(ACTION_TIMEOUT).post_json("/v1/reload", &serde_json::json!({})).await?;
            if report.restarted.is_empty() && report.applied_live.is_empty() {
                writeln!(out, "reloaded: no child's settings changed")?;
            }
            if !report.restarted.is_empty() {
                writeln!(out, "reloaded: restarted {} with the new settings", report.restarted.join(", "))?;
            }
            if !report.applied_live.is_empty() {
                writeln!(out, "reloaded: {} applied the new settings live", report.applied_live.join(", "))?;
            }
        }
        CtlCommand::Upgrade => {
            let client = client.with_timeout(ACTION_TIMEOUT);
            let report: UpgradeReport = client.post_json("/v1/upgrade", &serde_json::json!({})).await?;
            writeln!(out, "upgraded: {} restarted on the new binaries", report.upgraded.join(", "))?;
            out.flush()?;
            let status = crate::upgrade::await_reexec(&client, &report, ACTION_TIMEOUT).await?;
            writeln!(out, "upgraded: the supervisor re-executed as {}; every child kept its process", status.version)?;
        }
        CtlCommand::Apikey { .. }
        | CtlCommand::Jwt { .. }
        | CtlCommand::OperatorKey { .. }
        | CtlCommand::Peers { .. } => {}
        CtlCommand::Logs { name, lines, follow } => {
            let status: StatusReport = client.get_json(CHILDREN_PATH).await?;
            if let Some(socket) = status.journal.filter(|_| status.children.iter().any(|c| c.name == name)) {
                out.flush()?;
                return Ok(crate::ctl_journal::show(&socket, &name, lines, follow)?);
            }
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

/// `name: state (pid N)`, what start, stop and restart print.
fn one_line(report: &ChildReport) -> String {
    let pid = report.pid.map_or(String::new(), |p| format!(" (pid {p})"));
    format!("{}: {}{pid}", report.name, report.state)
}
