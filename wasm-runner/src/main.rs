//! `orama-wasm-runner`: loads the node config, binds its socket and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use orama_service::args::ProcessArgs;
use orama_service::config::NodeConfig;

/// mimalloc: each invocation allocates and frees its store, pipes and buffers across threads,
/// which glibc's allocator serves with visibly more time in `malloc`/`free`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let (started, socket) = match orama_service::process::start("wasm-runner", &args, &config) {
        Ok(started) => started,
        Err(err) => return fail(&err),
    };
    let paths = orama_wasm_runner::RunnerPaths {
        data_dir: started.dirs.process_data("wasm-runner"),
        gateway_socket: started.dirs.socket("gateway"),
    };
    let outcome = orama_wasm_runner::run(&config.wasm_runner, &paths, socket, started.shutdown.clone()).await;
    started.finish(outcome)
}

fn fail(message: &str) -> ExitCode {
    orama_service::process::fail("wasm-runner", message)
}
