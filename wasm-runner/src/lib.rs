//! `orama-wasm-runner`: runs untrusted WebAssembly functions in a process of its own, so a
//! hostile or broken function can at worst take this process down (the supervisor restarts
//! it), never the gateway. [`runtime`] configures wasmtime and runs one invocation within its
//! limits, keeping compiled modules in [`precompiled`] and each invocation's store data in
//! `guest`; [`host`] defines the host functions guests import (over any store that gives out
//! their state, so it never imports the runtime; `guest_memory` moves their arguments and
//! results across the guest boundary), [`backend`] carries the ones that need a backend to the
//! gateway; [`server`] is the API the gateway calls on the runner's Unix socket (modules named
//! by their hash, `module_hash`); [`isolation`] (before any thread) and [`containment`] (once
//! the runtime runs) confine the process itself, and [`probe`] reports what a compromised
//! runner could reach.

pub mod backend;
pub mod containment;
mod guest;
mod guest_memory;
pub mod host;
pub mod isolation;
mod module_hash;
pub mod precompiled;
pub mod probe;
pub mod runtime;
pub mod server;
pub mod shares;

use std::sync::Arc;

use orama_service::config::WasmRunnerConfig;
use orama_service::health::Health;
use orama_service::readiness::Readiness;
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

use runtime::{Runtime, RuntimeLimits};
use server::{Bounds, RunnerApi};

/// Why the runner cannot run.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// wasmtime refused the configuration (e.g. the pooling allocator cannot reserve memory).
    #[error("cannot set up the WebAssembly runtime: {0}")]
    Runtime(String),
    /// The process could not be confined.
    #[error("cannot confine the runner: {0}")]
    Containment(String),
}

/// Where the runner keeps its files and finds the gateway.
#[derive(Debug, Clone)]
pub struct RunnerPaths {
    /// The runner's data directory (precompiled modules, its empty working directory).
    pub data_dir: std::path::PathBuf,
    /// The gateway's host-call socket.
    pub gateway_socket: std::path::PathBuf,
    /// The node's uid, admitted to the runner's socket besides the runner's own (they differ
    /// when the runner became a user of its own).
    pub node_uid: u32,
}

/// The whole life of the runner process: prepared (config, directories, socket), isolated
/// while it has one thread ([`isolation`]), then served until a signal stops it.
pub fn main(args: &orama_service::args::ProcessArgs) -> std::process::ExitCode {
    use orama_service::process;
    let prepared = match process::prepare("wasm-runner", args) {
        Ok(prepared) => prepared,
        Err(err) => return process::fail("wasm-runner", &err),
    };
    let node_uid = rustix::process::getuid().as_raw();
    let isolated = isolation::isolate(&isolation::Plan::for_runner(&prepared.dirs, &prepared.config.wasm_runner));
    let isolation = match isolated {
        Ok(isolation) => isolation,
        Err(err) => return process::fail("wasm-runner", &format!("cannot isolate the runner: {err}")),
    };
    process::run_prepared("wasm-runner", prepared, async |config, started, socket| {
        isolation.log();
        let runtime_dir = &started.dirs.runtime_dir;
        let paths = RunnerPaths {
            data_dir: started.dirs.process_data("wasm-runner"),
            gateway_socket: orama_ipc::socket::host_calls_socket(runtime_dir),
            node_uid,
        };
        run(&config.wasm_runner, &paths, socket, started.shutdown.clone()).await
    })
}

/// Confines this process ([`containment`]), then serves the runner API on `socket` until
/// `shutdown`. Confinement is for good: call this only as the runner process.
pub async fn run(
    config: &WasmRunnerConfig,
    paths: &RunnerPaths,
    socket: UnixListener,
    shutdown: CancellationToken,
) -> Result<(), RunnerError> {
    let limits = RuntimeLimits {
        instances: config.instances,
        max_memory: usize::try_from(config.max_memory).unwrap_or(usize::MAX),
        ..RuntimeLimits::default()
    };
    let readiness = Readiness::new();
    let starting = readiness.pending("the WebAssembly runtime is not set up yet");
    let health = Health::new("wasm-runner", readiness);
    let data_dir = std::path::absolute(&paths.data_dir)
        .map_err(|e| RunnerError::Runtime(format!("{}: {e}", paths.data_dir.display())))?;
    let precompiled = precompiled::Precompiled::open(&data_dir.join("modules"))
        .map_err(|e| RunnerError::Runtime(format!("{}: {e}", data_dir.display())))?;
    let gateway = backend::GatewayBackend::new(&paths.gateway_socket, tokio::runtime::Handle::current());
    let runtime = Runtime::new(limits, Some(precompiled), Some(Arc::new(gateway)))
        .map_err(|e| RunnerError::Runtime(format!("{e:#}")))?;
    let runtime = Arc::new(runtime);
    containment::confine(&data_dir.join("empty")).map_err(|e| RunnerError::Containment(e.to_string()))?.log();
    let bounds = Bounds {
        max_timeout: config.max_timeout,
        max_memory: limits.max_memory,
        max_output: usize::try_from(config.max_output).unwrap_or(usize::MAX),
        queue: config.queue as usize,
        queue_timeout: config.queue_timeout,
    };
    let share =
        shares::Share::of(f64::from(config.namespace_share) / 100.0, config.instances as usize, config.queue as usize);
    let shares = shares::Shares::new(share);
    let api = Arc::new(RunnerApi::new(health, runtime, config.instances as usize, shares, bounds));
    tracing::info!(instances = config.instances, max_memory = config.max_memory, "wasm runner serving");
    starting.ready();
    let node_uid = paths.node_uid;
    orama_ipc::serve_peers(socket, api, shutdown, move |uid| uid == node_uid).await;
    tracing::info!("wasm runner stopped");
    Ok(())
}
