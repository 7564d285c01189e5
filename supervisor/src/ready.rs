//! Waiting for a started or restarted child to be ready, as `systemctl restart` does: the
//! control API answers `ctl start`/`ctl restart` once the child's (new) process passed its
//! readiness probe, and otherwise says which state the child is in.

use std::time::Duration;

use orama_service::config::SupervisorConfig;

use crate::child::{ChildHandle, ChildStatus};
use crate::control_protocol::phase_name;
use crate::state::Phase;

/// Why a child is not ready at the end of a wait.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// Its new process ended or could not be spawned: no use waiting longer.
    #[error("{name} did not become ready: it is {state}{detail}")]
    Failed {
        /// The child.
        name: String,
        /// Its state (see [`phase_name`]).
        state: &'static str,
        /// Its pid or last exit, in parentheses.
        detail: String,
    },
    /// The wait ran out while the child was still in `state`.
    #[error("{name} is not ready after {after}: still {state}{detail}")]
    TimedOut {
        /// The child.
        name: String,
        /// How long was waited.
        after: String,
        /// Its state (see [`phase_name`]).
        state: &'static str,
        /// Its pid or last exit, or what it waits for, in parentheses.
        detail: String,
    },
}

impl NotReady {
    /// The child was still `status` when `after` ran out; `waiting_for` names unready
    /// dependencies, if it has not been started for them.
    pub fn timed_out(status: &ChildStatus, after: Duration, waiting_for: &[String]) -> NotReady {
        let detail = match waiting_for {
            [] => detail(status),
            deps => format!(" (waiting for {})", deps.join(", ")),
        };
        NotReady::TimedOut {
            name: status.name.clone(),
            after: humantime::format_duration(after).to_string(),
            state: phase_name(status.state),
            detail,
        }
    }

    fn failed(status: &ChildStatus) -> NotReady {
        NotReady::Failed { name: status.name.clone(), state: phase_name(status.state), detail: detail(status) }
    }

    /// True when the child failed rather than ran out of time.
    pub fn is_failure(&self) -> bool {
        matches!(self, NotReady::Failed { .. })
    }
}

/// `(pid N)` for a running child, `(last exit: ...)` for one that is not.
fn detail(status: &ChildStatus) -> String {
    match (status.pid, &status.last_exit) {
        (Some(pid), _) => format!(" (pid {pid})"),
        (None, Some(exit)) => format!(" (last exit: {exit})"),
        (None, None) => String::new(),
    }
}

/// True once the child is ready in a process other than `replaced` (the one a restart ends).
fn is_ready(status: &ChildStatus, replaced: Option<u32>) -> bool {
    status.state == Phase::Ready && status.pid.is_some() && status.pid != replaced
}

/// How long `start` and `restart` wait for readiness unless told otherwise: the old process
/// may take the grace period to stop, and the new one gets the startup timeout to be ready
/// (after which the supervisor gives up on it, and the wait ends as a failure).
pub fn default_timeout(config: &SupervisorConfig) -> Duration {
    config.grace_period + config.startup_timeout
}

/// Waits for `child` (just sent a `Start` or `Restart`) to be ready in a process other than
/// `replaced`. A child that stops running meanwhile failed: its new process ended or could
/// not be spawned (a restart keeps the old process's state until it ends, then spawns the new
/// one straight away, so the child is "running" throughout a restart that works).
pub async fn settled(child: &ChildHandle, replaced: Option<u32>) -> Result<ChildStatus, NotReady> {
    let status = child.wait_until(|s| is_ready(s, replaced) || !s.state.is_running()).await;
    if is_ready(&status, replaced) { Ok(status) } else { Err(NotReady::failed(&status)) }
}

/// [`settled`], at most `timeout`.
pub async fn until_ready(
    child: &ChildHandle,
    replaced: Option<u32>,
    timeout: Duration,
) -> Result<ChildStatus, NotReady> {
    match tokio::time::timeout(timeout, settled(child, replaced)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(NotReady::timed_out(&child.status(), timeout, &[])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: Phase, pid: Option<u32>, last_exit: Option<&str>) -> ChildStatus {
        ChildStatus {
            name: "gateway".into(),
            state,
            pid,
            restarts: 1,
            started_at: None,
            last_exit: last_exit.map(str::to_owned),
        }
    }

    #[test]
    fn only_a_new_ready_process_counts() {
        assert!(!is_ready(&status(Phase::Ready, Some(7), None), Some(7)), "the old process, still terminating");
        assert!(!is_ready(&status(Phase::Starting, Some(8), None), Some(7)));
        assert!(is_ready(&status(Phase::Ready, Some(8), None), Some(7)));
        assert!(is_ready(&status(Phase::Ready, Some(7), None), None), "start of a running child");
    }

    #[test]
    fn messages_name_the_state_and_what_is_known() {
        let crashed = NotReady::failed(&status(Phase::Backoff, None, Some("exited with status 3")));
        assert_eq!(
            crashed.to_string(),
            "gateway did not become ready: it is backoff (last exit: exited with status 3)"
        );
        assert!(crashed.is_failure());
        let slow = NotReady::timed_out(&status(Phase::Starting, Some(9), None), Duration::from_secs(40), &[]);
        assert_eq!(slow.to_string(), "gateway is not ready after 40s: still starting (pid 9)");
        let blocked = NotReady::timed_out(
            &status(Phase::Stopped, None, None),
            Duration::from_secs(2),
            &["redis: backoff".into()],
        );
        assert_eq!(blocked.to_string(), "gateway is not ready after 2s: still stopped (waiting for redis: backoff)");
    }
}
