//! The lifecycle of one child as a pure function: `(state, event) -> actions`.
//!
//! No processes, clocks or channels here: events carry the time they happened, and actions say
//! what the caller must do (spawn, terminate, arm a retry timer). That keeps every rule of
//! restart, backoff, crash-looping and liveness testable in microseconds (Horust's
//! service handler, with reasons instead of booleans).

use std::time::{Duration, Instant};

use orama_service::config::{BackoffConfig, RestartPolicy};
use serde::Serialize;

/// What `ctl status` shows as a child's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Spawned (or about to be) and not yet ready.
    Starting,
    /// Answering its probes.
    Ready,
    /// Was ready; its liveness probe is failing.
    Unhealthy,
    /// Waiting to be restarted after an exit.
    Backoff,
    /// Failed quickly too many times in a row; still retried at the backoff cap.
    Crashloop,
    /// Not running and not to be restarted (stopped, or its policy says so).
    Stopped,
}

impl Phase {
    /// True for the phases in which a process exists or is about to.
    pub fn is_running(self) -> bool {
        matches!(self, Phase::Starting | Phase::Ready | Phase::Unhealthy)
    }
}

/// The rules a child is run by.
#[derive(Debug, Clone)]
pub struct Policy {
    /// When an exited child is restarted.
    pub restart: RestartPolicy,
    /// Restart delays and the stable-run reset.
    pub backoff: BackoffConfig,
    /// Quick failures in a row that mean crash-looping.
    pub crashloop_after: u32,
    /// Failed liveness probes in a row that get a ready child restarted.
    pub failure_threshold: u32,
}

/// How a child's process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// Exited with status 0 of its own accord.
    pub success: bool,
    /// Human-readable: "exited with status 1", "killed by SIGKILL", ...
    pub description: String,
}

/// Something that happened to a child.
#[derive(Debug, Clone)]
pub enum Event {
    /// Operator or start-up sequence asks for the child to run.
    Start,
    /// Operator asks for the child to stop and stay stopped.
    Stop,
    /// Operator asks for a fresh start; resets the backoff and crash-loop state.
    Restart,
    /// The process was spawned.
    Spawned {
        /// Its pid (and process group id).
        pid: u32,
        /// When.
        at: Instant,
    },
    /// The process could not be spawned.
    SpawnFailed {
        /// The OS error.
        reason: String,
        /// When.
        at: Instant,
    },
    /// A probe succeeded.
    ProbeOk {
        /// When.
        at: Instant,
    },
    /// A probe failed.
    ProbeFailed {
        /// What the probe saw.
        reason: String,
    },
    /// The child did not become ready in time.
    StartupTimedOut {
        /// The timeout that expired.
        after: Duration,
    },
    /// The retry timer fired.
    RetryDue,
    /// A requested restart was done by hand-over: a successor, started beside the running
    /// process, is ready and serving; the old one drains on its own and is no longer tracked.
    HandedOver {
        /// The successor's pid.
        pid: u32,
        /// When it became ready.
        at: Instant,
    },
    /// The process ended.
    Exited {
        /// How.
        exit: Exit,
        /// When.
        at: Instant,
    },
}

/// What the caller must do after an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Spawn the process now.
    Spawn,
    /// Stop the running process (SIGTERM to its group, SIGKILL after the grace period).
    Terminate {
        /// Why, for the log and the next exit description.
        reason: String,
    },
    /// Arm the retry timer.
    RetryIn(Duration),
}

/// Everything known about one child.
#[derive(Debug, Clone)]
pub struct ChildState {
    /// Current phase.
    pub phase: Phase,
    /// Pid of the running process.
    pub pid: Option<u32>,
    /// Restarts since the supervisor started (automatic or requested).
    pub restarts: u32,
    /// Quick failures in a row (reset by a stable run or an operator start/restart).
    pub quick_failures: u32,
    /// Failed probes in a row while ready.
    pub probe_failures: u32,
    /// When the current process was spawned.
    pub started_at: Option<Instant>,
    /// When the current process became ready.
    pub ready_at: Option<Instant>,
    /// How the last process ended, with the reason we stopped it if we did.
    pub last_exit: Option<String>,
    /// Why the supervisor is terminating the current process, if it is.
    pub terminating: Option<String>,
    /// The operator wants the child running.
    pub wanted: bool,
    /// A requested restart is waiting for the current process to exit.
    pub restart_pending: bool,
}

impl Default for ChildState {
    fn default() -> Self {
        ChildState {
            phase: Phase::Stopped,
            pid: None,
            restarts: 0,
            quick_failures: 0,
            probe_failures: 0,
            started_at: None,
            ready_at: None,
            last_exit: None,
            terminating: None,
            wanted: false,
            restart_pending: false,
        }
    }
}

impl ChildState {
    /// Applies `event` under `policy`; returns the actions to carry out.
    pub fn step(&mut self, event: Event, policy: &Policy) -> Vec<Action> {
        match event {
            Event::Start => self.on_start(),
            Event::Stop => self.on_stop(),
            Event::Restart => self.on_restart(),
            Event::Spawned { pid, at } => {
                self.pid = Some(pid);
                self.started_at = Some(at);
                self.ready_at = None;
                self.probe_failures = 0;
                self.phase = Phase::Starting;
                Vec::new()
            }
            Event::SpawnFailed { reason, at } => {
                self.last_exit = Some(format!("failed to start: {reason}"));
                self.after_failure(true, at, policy)
            }
            Event::ProbeOk { at } => self.on_probe_ok(at),
            Event::ProbeFailed { reason } => self.on_probe_failed(reason, policy),
            Event::StartupTimedOut { after } => match (self.phase, self.pid) {
                (Phase::Starting, Some(_)) => {
                    self.terminate(format!("not ready within {}", humantime::format_duration(after)))
                }
                _ => Vec::new(),
            },
            Event::RetryDue => match self.phase {
                Phase::Backoff | Phase::Crashloop if self.wanted && self.pid.is_none() => self.spawn(),
                _ => Vec::new(),
            },
            Event::Exited { exit, at } => self.on_exit(exit, at, policy),
            Event::HandedOver { pid, at } => {
                self.wanted = true;
                self.quick_failures = 0;
                self.restarts += 1;
                self.pid = Some(pid);
                self.started_at = Some(at);
                self.ready_at = Some(at);
                self.probe_failures = 0;
                self.phase = Phase::Ready;
                self.last_exit = Some("replaced by its successor (restart requested)".into());
                Vec::new()
            }
        }
    }

    /// True while a process is running.
    pub fn running(&self) -> bool {
        self.pid.is_some()
    }

    fn spawn(&mut self) -> Vec<Action> {
        self.phase = Phase::Starting;
        vec![Action::Spawn]
    }

    fn terminate(&mut self, reason: String) -> Vec<Action> {
        if self.terminating.is_some() {
            return Vec::new();
        }
        self.terminating = Some(reason.clone());
        vec![Action::Terminate { reason }]
    }

    fn on_start(&mut self) -> Vec<Action> {
        self.wanted = true;
        if self.running() {
            return Vec::new();
        }
        self.quick_failures = 0;
        self.spawn()
    }

    fn on_stop(&mut self) -> Vec<Action> {
        self.wanted = false;
        self.restart_pending = false;
        if self.running() {
            return self.terminate("stop requested".into());
        }
        self.phase = Phase::Stopped;
        Vec::new()
    }

    fn on_restart(&mut self) -> Vec<Action> {
        self.wanted = true;
        self.quick_failures = 0;
        if self.running() {
            self.restart_pending = true;
            return self.terminate("restart requested".into());
        }
        self.restarts += 1;
        self.spawn()
    }

    fn on_probe_ok(&mut self, at: Instant) -> Vec<Action> {
        if self.terminating.is_some() {
            return Vec::new();
        }
        match self.phase {
            Phase::Starting => {
                self.phase = Phase::Ready;
                self.ready_at = Some(at);
            }
            Phase::Unhealthy => self.phase = Phase::Ready,
            _ => {}
        }
        self.probe_failures = 0;
        Vec::new()
    }

    fn on_probe_failed(&mut self, reason: String, policy: &Policy) -> Vec<Action> {
        if !matches!(self.phase, Phase::Ready | Phase::Unhealthy) || self.terminating.is_some() {
            return Vec::new();
        }
        self.phase = Phase::Unhealthy;
        self.probe_failures += 1;
        if self.probe_failures >= policy.failure_threshold {
            return self.terminate(format!("liveness probe failed {} times: {reason}", self.probe_failures));
        }
        Vec::new()
    }

    fn on_exit(&mut self, exit: Exit, at: Instant, policy: &Policy) -> Vec<Action> {
        let killed_for = self.terminating.take();
        self.last_exit = Some(match &killed_for {
            Some(reason) => format!("{} ({reason})", exit.description),
            None => exit.description.clone(),
        });
        self.pid = None;
        self.probe_failures = 0;
        if self.restart_pending {
            self.restart_pending = false;
            self.restarts += 1;
            return self.spawn();
        }
        if !self.wanted {
            self.phase = Phase::Stopped;
            return Vec::new();
        }
        let failed = !exit.success || killed_for.is_some();
        self.after_failure(failed, at, policy)
    }

    /// Decides what follows an unwanted end of the process (or a failed spawn).
    fn after_failure(&mut self, failed: bool, at: Instant, policy: &Policy) -> Vec<Action> {
        let restart = match policy.restart {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => failed,
            RestartPolicy::Never => false,
        };
        if !restart {
            self.wanted = false;
            self.phase = Phase::Stopped;
            return Vec::new();
        }
        let stable =
            self.ready_at.is_some_and(|ready| at.saturating_duration_since(ready) >= policy.backoff.reset_after);
        if stable {
            self.quick_failures = 0;
        }
        self.quick_failures += 1;
        self.restarts += 1;
        let crashlooping = self.quick_failures >= policy.crashloop_after;
        let delay = if crashlooping { policy.backoff.max } else { backoff_delay(self.quick_failures, &policy.backoff) };
        if delay.is_zero() {
            return self.spawn();
        }
        self.phase = if crashlooping { Phase::Crashloop } else { Phase::Backoff };
        vec![Action::RetryIn(delay)]
    }
}

/// Delay before restarting after the `n`th quick failure in a row: none for the first (a
/// child that ran stably gets straight back up), then `initial` doubling up to `max`.
pub fn backoff_delay(n: u32, backoff: &BackoffConfig) -> Duration {
    if n <= 1 {
        return Duration::ZERO;
    }
    let factor = 1u32.checked_shl(n - 2).unwrap_or(u32::MAX);
    backoff.initial.saturating_mul(factor).min(backoff.max)
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
