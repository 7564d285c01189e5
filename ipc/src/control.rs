//! The supervisor's status report, as its control API (`GET /v1/children` on
//! `<runtime_dir>/supervisor.sock`) serves it: here because the supervisor's `ctl` and the
//! gateway's operator page both read it, and neither depends on the other.

use serde::{Deserialize, Serialize};

/// The route listing every child.
pub const CHILDREN_PATH: &str = "/v1/children";

/// A child's status as the control API reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChildReport {
    /// Name.
    pub name: String,
    /// starting, ready, unhealthy, backoff, crashloop or stopped .
    pub state: String,
    /// Pid of the running process.
    pub pid: Option<u32>,
    /// Restarts since the supervisor started.
    pub restarts: u32,
    /// Seconds since the running process was spawned.
    pub uptime_secs: Option<f64>,
    /// How the last process ended.
    pub last_exit: Option<String>,
    /// CPU use in percent of one core.
    pub cpu_percent: Option<f32>,
    /// Resident memory in bytes.
    pub rss_bytes: Option<u64>,
    /// The Orama version of our own processes; none for external daemons.
    #[serde(default)]
    pub version: Option<String>,
    /// The gateway's public URL (on the gateway's entry only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The node's libp2p peer id (on the pub/sub bridge's entry, while the bridge answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
    /// The addresses the node listens on for other nodes (with `peer_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_addrs: Option<Vec<String>>,
}

/// The body of `GET /v1/children`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatusReport {
    /// Every child in start order.
    pub children: Vec<ChildReport>,
    /// Children's output lines dropped because the supervisor's log could not keep up.
    #[serde(default)]
    pub dropped_log_lines: u64,
    /// The node's (the supervisor's) version.
    #[serde(default)]
    pub version: String,
    /// The journal socket the children's lines go to, when the node logs to journald.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
    /// When the supervisor's running image started (unix milliseconds): it changes when the
    /// supervisor re-executes itself, its pid does not.
    #[serde(default)]
    pub image_started_ms: u64,
}
