//! `orama-wasm-runner`: parses its arguments and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use orama_service::args::ProcessArgs;

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
    orama_service::process::main("wasm-runner", Cli::parse().process, async |config, started, socket| {
        let paths = orama_wasm_runner::RunnerPaths {
            data_dir: started.dirs.process_data("wasm-runner"),
            gateway_socket: started.dirs.socket("gateway"),
        };
        orama_wasm_runner::run(&config.wasm_runner, &paths, socket, started.shutdown.clone()).await
    })
}
