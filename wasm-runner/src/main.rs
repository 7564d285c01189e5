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
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    process: ProcessArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Confine this process exactly as the runner confines itself, try what a compromised
    /// runner would try, and print what it reached as JSON (for tests and operators).
    #[command(hide = true)]
    ProbeConfinement {
        #[command(flatten)]
        process: ProcessArgs,
        /// A process the probe tries to signal (a liveness check, signal 0).
        #[arg(long)]
        signal_pid: Option<i32>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => orama_wasm_runner::main(&cli.process),
        Some(Command::ProbeConfinement { process, signal_pid }) => orama_wasm_runner::probe::main(&process, signal_pid),
    }
}
