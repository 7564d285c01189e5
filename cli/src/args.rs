//! The command line's grammar: global options, and one subcommand per API area.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The `orama` command line: an Orama network's data APIs from a terminal.
///
/// Exit codes: 0 success, 1 failure, 2 usage error, 3 not authenticated or not allowed
/// (401/403), 4 not found (404), 5 the network is unavailable (no gateway answered, 503).
#[derive(Debug, Parser)]
#[command(name = "orama", version)]
pub struct Cli {
    /// Gateway URL(s), comma-separated (tried in turn). Else ORAMA_GATEWAY, the saved profile,
    /// or http://127.0.0.1:6001.
    #[arg(long, global = true, env = "ORAMA_GATEWAY", value_delimiter = ',')]
    pub gateway: Vec<String>,
    /// API key. Else ORAMA_API_KEY, or the saved profile's (only for the profile's gateway).
    #[arg(long, global = true, env = "ORAMA_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print JSON (one value per result) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// The longest a request may wait for its answer (`30s`, `2m`); function calls get at
    /// least 90 s.
    #[arg(long, global = true, default_value = "30s")]
    pub timeout: humantime::Duration,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The areas.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in, see who you are, sign out.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// The namespace's SQL database.
    #[command(subcommand)]
    Db(DbCommand),
    /// The namespace's cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Content-addressed storage.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Serverless functions.
    #[command(subcommand)]
    Functions(FunctionsCommand),
    /// Pub/sub topics.
    #[command(subcommand)]
    Pubsub(PubsubCommand),
    /// The node's status and peers.
    #[command(subcommand)]
    Network(NetworkCommand),
}

/// `orama auth`.
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Saves a credential in the profile: the key given, or one made by signing in with a
    /// wallet in the browser (the gateway's login page).
    Login {
        /// Use this key instead of the browser (`-`: read it from stdin, keeping it out of
        /// the process list).
        #[arg(long = "key")]
        key: Option<String>,
        /// The namespace to sign in to (browser flow).
        #[arg(long, default_value = "default")]
        namespace: String,
        /// Print the sign-in URL instead of opening a browser.
        #[arg(long)]
        no_browser: bool,
    },
    /// Who the credential is.
    Whoami,
    /// Forgets the saved profile.
    Logout,
}

/// `orama db`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Runs a read and prints its rows.
    Query(Statement),
    /// Runs a write.
    Exec(Statement),
    /// Lists the tables and views.
    Tables,
    /// Prints the statement that made a table (every table's without a name).
    Schema {
        /// The table.
        table: Option<String>,
    },
}

/// An SQL statement and its `?` arguments.
#[derive(Debug, Args)]
pub struct Statement {
    /// The SQL.
    pub sql: String,
    /// Values for its `?` placeholders: JSON (`42`, `true`, `null`, `"text"`), else text.
    pub args: Vec<String>,
}

/// `orama cache`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Prints a value.
    Get {
        /// The dmap.
        dmap: String,
        /// The key.
        key: String,
    },
    /// Stores a value (JSON, else text).
    Put {
        /// The dmap.
        dmap: String,
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Expiry (`30s`, `10m`, `1h`).
        #[arg(long)]
        ttl: Option<humantime::Duration>,
    },
    /// Deletes a key.
    Delete {
        /// The dmap.
        dmap: String,
        /// The key.
        key: String,
    },
    /// Lists a dmap's keys.
    Scan {
        /// The dmap.
        dmap: String,
        /// Only keys matching this regular expression.
        #[arg(long = "match")]
        pattern: Option<String>,
    },
}

/// `orama storage`.
#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Uploads a file (`-` for stdin) and pins it.
    Upload {
        /// The file.
        path: PathBuf,
        /// Answer a CIDv1.
        #[arg(long)]
        cid_v1: bool,
        /// Do not pin.
        #[arg(long)]
        no_pin: bool,
    },
    /// Downloads a file to `--output` (else stdout).
    Get {
        /// Its CID.
        cid: String,
        /// Where to write it.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Pins content the node holds.
    Pin {
        /// Its CID.
        cid: String,
        /// A name for the pin.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Unpins content.
    Unpin {
        /// Its CID.
        cid: String,
    },
    /// A pin's status.
    Status {
        /// Its CID.
        cid: String,
    },
}

/// `orama functions`.
#[derive(Debug, Subcommand)]
pub enum FunctionsCommand {
    /// Deploys a WebAssembly module as a new version.
    Deploy {
        /// The function's name.
        name: String,
        /// The module (`.wasm` or `.wat`).
        wasm: PathBuf,
        /// Anyone may invoke it.
        #[arg(long)]
        public: bool,
        /// Memory limit, MiB.
        #[arg(long)]
        memory: Option<u32>,
        /// Time limit of one invocation, seconds.
        #[arg(long)]
        time_limit: Option<u32>,
    },
    /// Invokes a function with INPUT (or stdin) and prints its output.
    Invoke {
        /// `name` or `name@version`.
        name: String,
        /// The input; stdin when absent.
        input: Option<String>,
    },
    /// Lists the functions.
    List,
    /// Prints a function's newest log lines.
    Logs {
        /// The function.
        name: String,
        /// How many lines.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Deletes a function (every version).
    Delete {
        /// The function.
        name: String,
    },
}

/// `orama pubsub`.
#[derive(Debug, Subcommand)]
pub enum PubsubCommand {
    /// Publishes a message.
    Publish {
        /// The topic.
        topic: String,
        /// The message.
        message: String,
    },
    /// Prints a topic's messages as they come (until interrupted, or `--count`).
    Subscribe {
        /// The topic.
        topic: String,
        /// Stop after this many messages.
        #[arg(long)]
        count: Option<u64>,
    },
}

/// `orama network`.
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// The node's status.
    Status,
    /// The node's peers.
    Peers,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_grammar_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
