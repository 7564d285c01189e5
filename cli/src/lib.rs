//! The `orama` command line, over [`orama_client`]: parses the arguments ([`args`]), finds
//! the gateway and credential (flags, environment, the saved [`profile`]), runs one command
//! ([`commands`]) and prints its result for people (tables) or scripts (`--json`). A failure
//! is one line on stderr and an exit code scripts can rely on (see [`args::Cli`]).

pub mod args;
mod commands;
mod failure;
pub mod output;
pub mod profile;
mod progress;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use orama_client::{ClientConfig, NetworkClient};

use args::{AuthCommand, Cli, Command};
pub use failure::Failure;
use output::Output;

/// The gateway used when none is named anywhere.
pub const DEFAULT_GATEWAY: &str = "http://127.0.0.1:6001";

/// Runs the command line `args` (the program name first); the process's exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("orama: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("orama: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Runs one parsed command.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let out = Output::new(cli.json);
    // A broken profile must not stop the commands that replace or remove it.
    let replacing = matches!(cli.command, Command::Auth(AuthCommand::Login { .. } | AuthCommand::Logout));
    let saved = profile::load().or_else(|failure| if replacing { Ok(None) } else { Err(failure) })?;
    let gateways = match (&cli.gateway[..], &saved) {
        ([], Some(saved)) => vec![saved.gateway.clone()],
        ([], None) => vec![DEFAULT_GATEWAY.to_owned()],
        (named, _) => named.to_vec(),
    };
    // The saved key goes only to the gateway it was saved for.
    let saved_key = saved.filter(|s| gateways.iter().any(|g| same_gateway(g, &s.gateway))).map(|s| s.api_key);
    let mut config = ClientConfig::new(&gateways[0])?.timeout(cli.timeout.into());
    for gateway in &gateways[1..] {
        config = config.gateway(gateway)?;
    }
    if let Some(key) = cli.api_key.clone().or(saved_key) {
        config = config.api_key(key);
    }
    let client = NetworkClient::new(config)?;
    commands::run(cli.command, &client, &gateways[0], &out).await
}

/// Whether two gateway URLs name the same gateway (scheme, host, port and path).
fn same_gateway(a: &str, b: &str) -> bool {
    let normal = |u: &str| url::Url::parse(u).map(|u| u.as_str().trim_end_matches('/').to_owned()).ok();
    normal(a).is_some() && normal(a) == normal(b)
}
