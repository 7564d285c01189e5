//! The control API's protocol, shared by its server ([`crate::control`]) and its client
//! ([`crate::ctl`]): the routes, the replies, and the names it gives phases. Both sides
//! depend on this module and neither on the other.
//!
//! - `GET  /v1/children`                          a [`StatusReport`]
//! - `POST /v1/children/{name}/{start|stop|restart}`  a [`ChildReport`], once the child settled
//! - `POST /v1/children/{name}/{start|restart}?wait=ready&timeout_ms=N`  a [`ChildReport`] once
//!   the child is ready; a 503 (its new process failed) or 504 (not ready in time) naming the
//!   state it is in otherwise (see [`Wait`])
//! - `GET  /v1/children/{name}/logs?lines=N&follow=1` recent output as text, then new lines
//! - `POST /v1/reload`                            a [`ReloadReport`], or a 422 naming each problem
//! - `POST /v1/upgrade`                           an [`UpgradeReport`], or a 503 saying where it stopped

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::state::Phase;

pub use orama_ipc::control::{CHILDREN_PATH, ChildReport, StatusReport};

/// Default number of lines `logs` returns.
pub const DEFAULT_LOG_LINES: usize = 100;

/// What an upgrade did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UpgradeReport {
    /// The children restarted on their new binaries, in the order they were.
    pub upgraded: Vec<String>,
    /// Each child's pid once upgraded: the supervisor's re-exec, which follows the answer,
    /// must leave them as they are.
    #[serde(default)]
    pub pids: std::collections::BTreeMap<String, u32>,
    /// When the answering supervisor image started (see [`StatusReport::image_started_ms`]).
    #[serde(default)]
    pub image_started_ms: u64,
}

/// What a reload did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReloadReport {
    /// The children restarted with their new settings, in the order they were.
    pub restarted: Vec<String>,
    /// The processes that applied their new settings without a restart (the log level, the
    /// gateway's rate limits), the supervisor among them when its log level changed.
    #[serde(default)]
    pub applied_live: Vec<String>,
}

/// What the control API can do to one child (the last segment of its `POST` route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildAction {
    /// Start a stopped child, after its dependencies are ready.
    Start,
    /// Stop a child; it stays stopped until started.
    Stop,
    /// Restart a child, resetting its backoff and crash-loop state.
    Restart,
}

impl ChildAction {
    /// The action's route segment.
    pub fn as_str(self) -> &'static str {
        match self {
            ChildAction::Start => "start",
            ChildAction::Stop => "stop",
            ChildAction::Restart => "restart",
        }
    }

    /// The action a route segment names, if any.
    pub fn parse(segment: &str) -> Option<ChildAction> {
        match segment {
            "start" => Some(ChildAction::Start),
            "stop" => Some(ChildAction::Stop),
            "restart" => Some(ChildAction::Restart),
            _ => None,
        }
    }
}

/// When the reply to an action comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Once the request took effect: a restarted child was respawned, a stopped child's process
    /// ended, a start was requested (after the child's dependencies were ready).
    Settled,
    /// Once a started or restarted child is ready, or its new process failed, or after the
    /// given time (the server's default when none), as `systemctl restart` does.
    Ready(Option<Duration>),
}

impl Wait {
    /// The query that asks for this wait (empty for [`Wait::Settled`]).
    fn query(self) -> String {
        match self {
            Wait::Settled => String::new(),
            Wait::Ready(None) => "?wait=ready".to_owned(),
            Wait::Ready(Some(timeout)) => format!("?wait=ready&timeout_ms={}", timeout.as_millis()),
        }
    }

    /// Reads an action's query: `wait=ready`, optionally `timeout_ms=N`; anything else settles.
    pub fn parse(query: &str) -> Wait {
        let mut ready = false;
        let mut timeout = None;
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("wait", "ready")) => ready = true,
                Some(("timeout_ms", n)) => timeout = n.parse().ok().map(Duration::from_millis),
                _ => {}
            }
        }
        if ready { Wait::Ready(timeout) } else { Wait::Settled }
    }
}

/// The route that applies `action` to the child `name`, answering as `wait` says.
pub fn action_path(name: &str, action: ChildAction, wait: Wait) -> String {
    format!("{CHILDREN_PATH}/{}/{}{}", encode(name), action.as_str(), wait.query())
}

/// The route of the child `name`'s last `lines` lines of output, then new ones if `follow`.
pub fn logs_path(name: &str, lines: usize, follow: bool) -> String {
    format!("{CHILDREN_PATH}/{}/logs?lines={lines}&follow={follow}", encode(name))
}

/// Reads a logs query: `lines=N` (default [`DEFAULT_LOG_LINES`]) and `follow=1|true`.
pub fn parse_log_query(query: &str) -> (usize, bool) {
    let mut lines = DEFAULT_LOG_LINES;
    let mut follow = false;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("lines", n)) => lines = n.parse().unwrap_or(DEFAULT_LOG_LINES),
            Some(("follow", v)) => follow = v == "1" || v == "true",
            _ => {}
        }
    }
    (lines, follow)
}

/// The name the control API (and so `ctl`), the logs and systemd's status line give a phase.
pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Starting => "starting",
        Phase::Ready => "ready",
        Phase::Unhealthy => "unhealthy",
        Phase::Backoff => "backoff",
        Phase::Crashloop => "crashloop",
        Phase::Stopped => "stopped",
    }
}

/// Percent-encodes a child name for a path segment (names are `[a-z0-9-]`, but the operator
/// may type anything).
fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_the_child_and_action_the_server_reads() {
        assert_eq!(action_path("gateway", ChildAction::Restart, Wait::Settled), "/v1/children/gateway/restart");
        assert_eq!(action_path("a b/c", ChildAction::Stop, Wait::Settled), "/v1/children/a%20b%2Fc/stop");
        for action in [ChildAction::Start, ChildAction::Stop, ChildAction::Restart] {
            assert_eq!(ChildAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(ChildAction::parse("kill"), None);
    }

    #[test]
    fn the_logs_query_the_client_sends_is_the_one_the_server_reads() {
        let path = logs_path("ipfs", 20, true);
        assert_eq!(path, "/v1/children/ipfs/logs?lines=20&follow=true");
        let query = path.split_once('?').map_or("", |(_, q)| q);
        assert_eq!(parse_log_query(query), (20, true));
        assert_eq!(parse_log_query("follow=1"), (DEFAULT_LOG_LINES, true));
        assert_eq!(parse_log_query("lines=x"), (DEFAULT_LOG_LINES, false));
    }

    #[test]
    fn the_wait_the_client_asks_for_is_the_one_the_server_reads() {
        for wait in [Wait::Settled, Wait::Ready(None), Wait::Ready(Some(Duration::from_millis(1500)))] {
            let path = action_path("gateway", ChildAction::Restart, wait);
            let query = path.split_once('?').map_or("", |(_, q)| q);
            assert_eq!(Wait::parse(query), wait, "{path}");
        }
        assert_eq!(Wait::parse("wait=ready&timeout_ms=x"), Wait::Ready(None));
        assert_eq!(Wait::parse("wait=no"), Wait::Settled);
    }
}
