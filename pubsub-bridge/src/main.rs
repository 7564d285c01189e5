//! `orama-pubsub-bridge`: loads the node config, binds its socket and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use orama_service::args::ProcessArgs;
use orama_service::config::NodeConfig;

/// Carries an Orama node's pub/sub messages to the other nodes (normally started by
/// `orama-supervisor`).
#[derive(Debug, Parser)]
#[command(name = "orama-pubsub-bridge", version)]
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
    let (started, socket) = match orama_service::process::start("pubsub-bridge", &args, &config) {
        Ok(started) => started,
        Err(err) => return fail(&err),
    };
    let data_dir = started.dirs.process_data("pubsub-bridge");
    let outcome = orama_pubsub_bridge::run(&config.pubsub, &data_dir, socket, started.shutdown.clone()).await;
    started.finish(outcome)
}

fn fail(message: &str) -> ExitCode {
    orama_service::process::fail("pubsub-bridge", message)
}
