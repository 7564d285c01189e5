//! Harness for end-to-end tests: a real `orama-supervisor` with its real children in a temp
//! dir, on free loopback ports, driven through the real `ctl` command.
//!
//! Waits poll a condition with a deadline ([`eventually`]); a failed wait panics with the
//! supervisor's status and log so the failure explains itself. Dropping a [`Node`] SIGKILLs the
//! supervisor, and its children die with it.
//!
//! The binaries are found beside the test executable's target dir; `cargo nextest run
//! --workspace` builds them (the supervisor and gateway packages have tests of their own).

pub mod browser;
pub mod cluster;
mod guests;
mod http_client;
pub mod jsipfs;
pub mod keepalive;
pub mod load;
mod node;
pub mod origin;
pub mod pebble;
mod process;
pub mod steady_load;

pub use guests::{guest_wasm, manifest_dir};
pub use http_client::{Reply, Streamed, http, http_bytes, stream_post, try_http, unix_get};
pub use node::Node;
pub use process::{WAIT, alive, bin, eventually, free_port, memory, reset_peak_memory, signal};
