//! `orama-wasm-runner`: loads the node config, binds its socket and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use orama_service::args::ProcessArgs;
use orama_service::config::NodeConfig;
use orama_service::paths::Dirs;

/// Runs an Orama node's WebAssembly functions (normally started by `orama-supervisor`).
#[derive(Debug, Parser)]
#[command(name = "orama-wasm-runner", version)]
struct Cli {
    #[command(flatten)]
    process: ProcessArgs,
}

fn main() -> ExitCode {
    let args = Cli::parse().process;
    let config = match NodeConfig::load_or_default(args.config.as_deref()) {
        Ok(config) => config,
        Err(err) => return fail(&err.to_string()),
    };
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(serve(args, config)),
        Err(err) => fail(&format!("cannot start the async runtime: {err}")),
    }
}

async fn serve(args: ProcessArgs, config: NodeConfig) -> ExitCode {
    let dirs = match Dirs::resolve(&args, &config.node) {
        Ok(dirs) => dirs,
        Err(err) => return fail(&err.to_string()),
    };
    let _telemetry = orama_service::telemetry::init("wasm-runner", &config.log);
    let shutdown = match orama_service::shutdown::on_signals() {
        Ok(token) => token,
        Err(err) => return fail(&format!("cannot install signal handlers: {err}")),
    };
    let socket_path = dirs.socket("wasm-runner");
    let socket = match orama_ipc::bind(&socket_path) {
        Ok(listener) => listener,
        Err(err) => return fail(&format!("socket: {err}")),
    };
    let result = orama_wasm_runner::run(&config.wasm_runner, &dirs.process_data("wasm-runner"), socket, shutdown).await;
    orama_ipc::socket::remove_socket(&socket_path);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    tracing::error!("{message}");
    eprintln!("orama-wasm-runner: {message}");
    ExitCode::FAILURE
}
