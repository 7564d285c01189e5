//! What each of our processes does before its own work, in the same order everywhere: resolve
//! its directories, start logging, install the signal handlers, bind its internal socket. A
//! thin `main.rs` calls [`main`] with its library's `run` (or, when it needs more before it,
//! [`start`], its work, then [`Started::finish`]; or, when it must act before any thread
//! exists, [`prepare`], that action, then [`run_prepared`]).

use std::path::PathBuf;
use std::process::ExitCode;

use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

use crate::args::ProcessArgs;
use crate::config::NodeConfig;
use crate::live::LiveSettings;
use crate::paths::Dirs;
use crate::telemetry::Telemetry;

/// A process ready to serve.
pub struct Started {
    /// Its data and runtime directories.
    pub dirs: Dirs,
    /// Cancelled on SIGTERM/SIGINT.
    pub shutdown: CancellationToken,
    /// The config as last read (again on SIGHUP when supervised: [`crate::live`]).
    pub settings: LiveSettings,
    socket_path: PathBuf,
    /// The socket file this process bound (a successor may rename its own over it).
    socket_id: Option<(u64, u64)>,
    name: &'static str,
    _telemetry: Telemetry,
}

/// Set (to `1`) in the environment of a process started to take over from a running one (the
/// supervisor's hand-over): it binds its sockets over its predecessor's instead of refusing.
pub const SUCCESSOR_ENV: &str = "ORAMA_SUCCESSOR";

/// Whether this process takes over from a running predecessor ([`SUCCESSOR_ENV`]).
pub fn is_successor() -> bool {
    std::env::var_os(SUCCESSOR_ENV).is_some_and(|v| v == "1")
}

/// Where this process binds its Unix socket `path`: beside it when it is a successor (the
/// supervisor moves it over its predecessor's once it is ready; see
/// [`orama_ipc::socket::successor_path`]).
pub fn socket_to_bind(path: &std::path::Path) -> PathBuf {
    if is_successor() { orama_ipc::socket::successor_path(path) } else { path.to_path_buf() }
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
    let (shutdown, settings) = signals(config, args.config.clone(), &telemetry)?;
    let socket_path = dirs.socket(name);
    let bound = socket_to_bind(&socket_path);
    let socket = orama_ipc::bind(&bound).map_err(|e| format!("internal socket: {e}"))?;
    let socket_id = orama_ipc::socket::socket_file_id(&bound);
    Ok((Started { dirs, shutdown, settings, socket_path, socket_id, name, _telemetry: telemetry }, socket))
}

/// The handlers of the signals that stop the process and, when supervised, of SIGHUP, which
/// reads the config at `path` again.
fn signals(
    config: &NodeConfig,
    path: Option<PathBuf>,
    telemetry: &Telemetry,
) -> Result<(CancellationToken, LiveSettings), String> {
    let problem = |e: std::io::Error| format!("cannot install signal handlers: {e}");
    let shutdown = crate::shutdown::on_signals().map_err(problem)?;
    let settings = if crate::telemetry::supervised() {
        crate::live::reload_on_hangup(config.clone(), path, telemetry.level.clone(), shutdown.clone())
            .map_err(problem)?
    } else {
        LiveSettings::fixed(config.clone())
    };
    Ok((shutdown, settings))
}

impl Started {
    /// Removes the socket and turns the work's outcome into the exit code (logging a failure).
    pub fn finish<E: std::fmt::Display>(self, outcome: Result<(), E>) -> ExitCode {
        orama_ipc::socket::remove_socket_if_same(&self.socket_path, self.socket_id);
        match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(self.name, &err.to_string()),
        }
    }
}

/// A process before any thread: its config read, its directories decided, its socket bound.
#[derive(Debug)]
pub struct Prepared {
    /// The node config.
    pub config: NodeConfig,
    /// Its data and runtime directories.
    pub dirs: Dirs,
    /// Its internal socket, bound owner-only.
    pub socket: std::os::unix::net::UnixListener,
    /// The config file it was read from, read again on SIGHUP.
    pub config_path: Option<PathBuf>,
}

/// Prepares process `name` without starting a thread (no runtime, no logging yet): loads the
/// config `args` name, decides the directories and binds the socket. The error is ready to
/// print.
pub fn prepare(name: &'static str, args: &ProcessArgs) -> Result<Prepared, String> {
    let config = NodeConfig::load_or_default(args.config.as_deref()).map_err(|e| e.to_string())?;
    let dirs = Dirs::resolve(args, &config.node).map_err(|e| e.to_string())?;
    let socket = orama_ipc::bind_std(&dirs.socket(name)).map_err(|e| format!("internal socket: {e}"))?;
    Ok(Prepared { config, dirs, socket, config_path: args.config.clone() })
}

/// Runs a [`prepare`]d process `name`: starts a multi-threaded runtime, logging and the signal
/// handlers, runs `work` with the config, the started process and its socket, and turns the
/// outcome into the exit code.
pub fn run_prepared<F, E>(name: &'static str, prepared: Prepared, work: F) -> ExitCode
where
    F: AsyncFnOnce(NodeConfig, &Started, UnixListener) -> Result<(), E>,
    E: std::fmt::Display,
{
    let Prepared { config, dirs, socket, config_path } = prepared;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return fail(name, &format!("cannot start the async runtime: {err}")),
    };
    runtime.block_on(async move {
        let telemetry = crate::telemetry::init(name, &config.log);
        let socket_path = dirs.socket(name);
        let socket_id = orama_ipc::socket::socket_file_id(&socket_path);
        let started = match signals(&config, config_path, &telemetry) {
            Ok((shutdown, settings)) => {
                Started { dirs, shutdown, settings, socket_path, socket_id, name, _telemetry: telemetry }
            }
            Err(err) => return fail(name, &err),
        };
        let socket = match UnixListener::from_std(socket) {
            Ok(socket) => socket,
            Err(err) => return started.finish(Err(format!("internal socket: {err}"))),
        };
        let outcome = work(config, &started, socket).await;
        started.finish(outcome)
    })
}

/// The whole life of process `name`: [`prepare`], then [`run_prepared`] with `work`.
pub fn main<F, E>(name: &'static str, args: ProcessArgs, work: F) -> ExitCode
where
    F: AsyncFnOnce(NodeConfig, &Started, UnixListener) -> Result<(), E>,
    E: std::fmt::Display,
{
    match prepare(name, &args) {
        Ok(prepared) => run_prepared(name, prepared, work),
        Err(err) => fail(name, &err),
    }
}

/// Logs and prints `message` as the reason process `name` exits; the failure exit code.
pub fn fail(name: &str, message: &str) -> ExitCode {
    tracing::error!("{message}");
    eprintln!("orama-{name}: {message}");
    ExitCode::FAILURE
}
