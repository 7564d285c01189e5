//! The `supervisor` section: how the supervisor treats its children (grace period, startup
//! timeout, restart backoff, crash-loop threshold, health probing, kept output), with how it
//! is read from the YAML tree.

use std::time::Duration;

use serde::Serialize;

use super::durations::{HOUR, MS, humantime_serde};
use super::read::{Field, Problems};

/// The `supervisor` section.
#[derive(Debug, Clone, Serialize)]
pub struct SupervisorConfig {
    /// Time a child gets between SIGTERM and SIGKILL.
    #[serde(with = "humantime_serde")]
    pub grace_period: Duration,
    /// Time a child gets to become ready before it is restarted.
    #[serde(with = "humantime_serde")]
    pub startup_timeout: Duration,
    /// Restart delays.
    pub backoff: BackoffConfig,
    /// Quick failures in a row that put a child into the crash-loop state.
    pub crashloop_after: u32,
    /// Health probing of ready children.
    pub probe: ProbeConfig,
    /// Lines of output kept per child for `ctl logs`.
    pub log_lines: usize,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            grace_period: Duration::from_secs(10),
            startup_timeout: Duration::from_secs(30),
            backoff: BackoffConfig::default(),
            crashloop_after: 5,
            probe: ProbeConfig::default(),
            log_lines: 1000,
        }
    }
}

/// Exponential restart backoff.
#[derive(Debug, Clone, Serialize)]
pub struct BackoffConfig {
    /// Delay after the second quick failure in a row (the first restarts at once).
    #[serde(with = "humantime_serde")]
    pub initial: Duration,
    /// The cap on the delay (crash-looping children are retried at this interval).
    #[serde(with = "humantime_serde")]
    pub max: Duration,
    /// A run at least this long after becoming ready counts as stable and resets the backoff.
    #[serde(with = "humantime_serde")]
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(30),
        }
    }
}

/// Liveness and readiness probing.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeConfig {
    /// Time between probes of a ready child.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Bound on one probe.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Failed probes in a row after which a ready child is restarted.
    pub failure_threshold: u32,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig { interval: Duration::from_secs(2), timeout: Duration::from_secs(2), failure_threshold: 3 }
    }
}

/// Reads the `supervisor` section; the backoff's initial delay must not exceed its cap.
pub(super) fn supervisor_section(f: &Field, p: &mut Problems) -> SupervisorConfig {
    let mut t = f.table(p);
    let mut s = SupervisorConfig::default();
    let span = |f: Field, p: &mut Problems, min, max, out: &mut Duration| {
        if let Some(d) = f.duration_in(p, min, max) {
            *out = d;
        }
    };
    if let Some(f) = t.take("grace_period") {
        span(f, p, MS, HOUR, &mut s.grace_period);
    }
    if let Some(f) = t.take("startup_timeout") {
        span(f, p, MS, HOUR, &mut s.startup_timeout);
    }
    if let Some(f) = t.take("crashloop_after") {
        s.crashloop_after = f.int_in(p, 1, 1000).map_or(s.crashloop_after, |n| n as u32);
    }
    if let Some(f) = t.take("log_lines") {
        s.log_lines = f.int_in(p, 1, 1_000_000).map_or(s.log_lines, |n| n as usize);
    }
    if let Some(f) = t.take("backoff") {
        let mut b = f.table(p);
        if let Some(f) = b.take("initial") {
            span(f, p, MS, HOUR, &mut s.backoff.initial);
        }
        if let Some(f) = b.take("max") {
            span(f, p, MS, HOUR, &mut s.backoff.max);
        }
        if let Some(f) = b.take("reset_after") {
            span(f, p, MS, 24 * HOUR, &mut s.backoff.reset_after);
        }
        b.finish(p);
        if s.backoff.initial > s.backoff.max {
            f.problem(p, "backoff.initial must not exceed backoff.max");
        }
    }
    if let Some(f) = t.take("probe") {
        let mut probe = f.table(p);
        if let Some(f) = probe.take("interval") {
            span(f, p, 10 * MS, HOUR, &mut s.probe.interval);
        }
        if let Some(f) = probe.take("timeout") {
            span(f, p, 10 * MS, HOUR, &mut s.probe.timeout);
        }
        if let Some(f) = probe.take("failure_threshold") {
            s.probe.failure_threshold = f.int_in(p, 1, 1000).map_or(s.probe.failure_threshold, |n| n as u32);
        }
        probe.finish(p);
    }
    t.finish(p);
    s
}
