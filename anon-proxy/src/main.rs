//! `orama-anon-proxy`: parses its arguments and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use orama_service::args::ProcessArgs;

/// Sends an Orama node's anonymous HTTP(S) requests through the Anyone network (normally
/// started by `orama-supervisor`).
#[derive(Debug, Parser)]
#[command(name = "orama-anon-proxy", version)]
struct Cli {
    #[command(flatten)]
    process: ProcessArgs,
}

fn main() -> ExitCode {
    orama_service::process::main("anon-proxy", Cli::parse().process, async |config, started, socket| {
        let data_dir = started.dirs.process_data("anon-proxy");
        orama_anon_proxy::run(&config.anon, &data_dir, socket, started.shutdown.clone()).await
    })
}
