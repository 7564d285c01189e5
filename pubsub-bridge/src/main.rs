//! `orama-pubsub-bridge`: parses its arguments and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use orama_service::args::ProcessArgs;

/// Carries an Orama node's pub/sub messages to the other nodes (normally started by
/// `orama-supervisor`).
#[derive(Debug, Parser)]
#[command(name = "orama-pubsub-bridge", version)]
struct Cli {
    #[command(flatten)]
    process: ProcessArgs,
}

fn main() -> ExitCode {
    orama_service::process::main("pubsub-bridge", Cli::parse().process, async |config, started, socket| {
        let data_dir = started.dirs.process_data("pubsub-bridge");
        orama_pubsub_bridge::run(&config.pubsub, &data_dir, socket, started.shutdown.clone()).await
    })
}
