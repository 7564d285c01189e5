//! The command line of `orama-supervisor`.

use std::path::PathBuf;

use orama_service::args::ProcessArgs;

use crate::ctl::CtlCommand;

/// `orama-supervisor`: run the node in the foreground, or drive a running one.
#[derive(Debug, clap::Parser)]
#[command(name = "orama-supervisor", version, about = "Runs and supervises the processes of an Orama node")]
pub struct Cli {
    /// Where the node's config, data and sockets are.
    #[command(flatten)]
    pub process: ProcessArgs,
    /// What to do instead of running the node.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Talk to the running supervisor.
    Ctl {
        /// The node's runtime directory (where `supervisor.sock` is).
        #[arg(long, value_name = "DIR")]
        runtime_dir: Option<PathBuf>,
        /// The node's data directory (its `run/` holds the sockets when no runtime dir is set).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// The node config, if it sets the runtime directory.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// What to do.
        #[command(subcommand)]
        command: CtlCommand,
    },
    /// A whole cluster on this machine: `up`, `status`, `down`.
    Dev {
        /// What to do.
        #[command(subcommand)]
        command: crate::dev::DevCommand,
    },
    /// Make this machine a node: its user, directories, keys, config and systemd unit.
    Install(Box<crate::install::InstallArgs>),
    /// Stop and remove the node's unit and config (its data and keys stay, unless --purge).
    Uninstall(crate::install::UninstallArgs),
    /// Run this node's IPFS (Kubo) daemon, its repo made and set up first (the node config
    /// of an installed node starts it as an external).
    IpfsDaemon(crate::ipfs_daemon::IpfsDaemonArgs),
    /// Keep this node's cache servers in the cluster's Redis Cluster (the node config of an
    /// installed node runs it as an external).
    CacheMember(crate::cache_member::CacheMemberArgs),
    /// Validate a config file without starting anything.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
}
