//! What every Orama process shares: the node config, the command line of a process, logging,
//! shutdown on signals, the readiness latch and the `/health` + `/ready` handler.

pub mod args;
pub mod config;
pub mod health;
pub mod paths;
pub mod process;
pub mod readiness;
pub mod shutdown;
pub mod telemetry;
