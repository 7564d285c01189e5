//! What every Orama process shares: the node config, the command line of a process, logging,
//! shutdown on signals, the cluster secret, the readiness latch, the `/health` + `/ready` handler, and the rule of
//! which addresses egress may reach.

pub mod args;
pub mod cluster;
pub mod config;
pub mod egress;
pub mod health;
pub mod listen_fds;
pub mod live;
pub mod paths;
pub mod private_files;
pub mod process;
pub mod readiness;
pub mod shutdown;
pub mod telemetry;
