//! What each of our processes does before its own work, in the same order everywhere: resolve
//! its directories, start logging, install the signal handlers, bind its internal socket. A
//! thin `main.rs` calls [`start`], then its library's `run`, then [`Started::finish`].

use std::path::PathBuf;
use std::process::ExitCode;

use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

use crate::args::ProcessArgs;
use crate::config::NodeConfig;
use crate::paths::Dirs;
use crate::telemetry::Telemetry;

/// A process ready to serve.
pub struct Started {
    /// Its data and runtime directories.
    pub dirs: Dirs,
    /// Cancelled on SIGTERM/SIGINT.
    pub shutdown: CancellationToken,
    socket_path: PathBuf,
    name: &'static str,
    _telemetry: Telemetry,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started").field("name", &self.name).field("dirs", &self.dirs).finish_non_exhaustive()
    }
}

/// Sets up the process `name` (inside a Tokio runtime): the process, and its internal socket
/// bound owner-only. The error is ready to print.
pub fn start(name: &'static str, args: &ProcessArgs, config: &NodeConfig) -> Result<(Started, UnixListener), String> {
    let dirs = Dirs::resolve(args, &config.node).map_err(|e| e.to_string())?;
    let telemetry = crate::telemetry::init(name, &config.log);
    let shutdown = crate::shutdown::on_signals().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let socket_path = dirs.socket(name);
    let socket = orama_ipc::bind(&socket_path).map_err(|e| format!("internal socket: {e}"))?;
    Ok((Started { dirs, shutdown, socket_path, name, _telemetry: telemetry }, socket))
}

impl Started {
    /// Removes the socket and turns the work's outcome into the exit code (logging a failure).
    pub fn finish<E: std::fmt::Display>(self, outcome: Result<(), E>) -> ExitCode {
        orama_ipc::socket::remove_socket(&self.socket_path);
        match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(self.name, &err.to_string()),
        }
    }
}

/// Logs and prints `message` as the reason process `name` exits; the failure exit code.
pub fn fail(name: &str, message: &str) -> ExitCode {
    tracing::error!("{message}");
    eprintln!("orama-{name}: {message}");
    ExitCode::FAILURE
}
