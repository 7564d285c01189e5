//! One module per API area; each turns its subcommand into client calls and prints the result.

mod auth;
mod cache;
mod db;
mod functions;
mod network;
mod pubsub;
mod storage;

use orama_client::NetworkClient;

use crate::args::Command;
use crate::failure::Failure;
use crate::output::Output;

/// Runs `command` with `client`; `gateway` is the first gateway URL (saved by `auth login`).
pub async fn run(command: Command, client: &NetworkClient, gateway: &str, out: &Output) -> Result<(), Failure> {
    match command {
        Command::Auth(command) => auth::run(command, client, gateway, out).await,
        Command::Db(command) => db::run(command, client, out).await,
        Command::Cache(command) => cache::run(command, client, out).await,
        Command::Storage(command) => storage::run(command, client, out).await,
        Command::Functions(command) => functions::run(command, client, out).await,
        Command::Pubsub(command) => pubsub::run(command, client, out).await,
        Command::Network(command) => network::run(command, client, out).await,
    }
}
