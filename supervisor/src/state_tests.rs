//! Unit tests of the child state machine: scripts of events, checked phase by phase.

use std::time::{Duration, Instant};

use orama_service::config::{BackoffConfig, RestartPolicy};

use super::*;

fn policy(restart: RestartPolicy) -> Policy {
    Policy {
        restart,
        backoff: BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            reset_after: Duration::from_secs(10),
        },
        crashloop_after: 4,
        failure_threshold: 3,
    }
}

fn exit(success: bool) -> Exit {
    Exit { success, description: if success { "exited with status 0" } else { "exited with status 1" }.into() }
}

/// A running, ready child as of `t0`.
fn ready_child(t0: Instant, p: &Policy) -> ChildState {
    let mut s = ChildState::default();
    assert_eq!(s.step(Event::Start, p), vec![Action::Spawn]);
    s.step(Event::Spawned { pid: 10, at: t0 }, p);
    s.step(Event::ProbeOk { at: t0 }, p);
    assert_eq!(s.phase, Phase::Ready);
    s
}

#[test]
fn first_failure_after_a_stable_run_restarts_at_once() {
    let (t0, p) = (Instant::now(), policy(RestartPolicy::Always));
    let mut s = ready_child(t0, &p);
    let actions = s.step(Event::Exited { exit: exit(false), at: t0 + Duration::from_secs(60) }, &p);
    assert_eq!(actions, vec![Action::Spawn]);
    assert_eq!((s.phase, s.restarts, s.quick_failures), (Phase::Starting, 1, 1));
    assert_eq!(s.last_exit.as_deref(), Some("exited with status 1"));
}

#[test]
fn quick_failures_back_off_exponentially_then_crashloop_at_the_cap() {
    let (t0, p) = (Instant::now(), policy(RestartPolicy::Always));
    let mut s = ChildState::default();
    s.step(Event::Start, &p);
    let mut seen = Vec::new();
    for i in 0..6 {
        let at = t0 + Duration::from_millis(i * 10);
        s.step(Event::Spawned { pid: 100 + i as u32, at }, &p);
        let actions = s.step(Event::Exited { exit: exit(false), at }, &p);
        seen.push((s.phase, actions.clone()));
        if actions != vec![Action::Spawn] {
            s.step(Event::RetryDue, &p);
        }
    }
    let ms = Duration::from_millis;
    assert_eq!(
        seen,
        vec![
            (Phase::Starting, vec![Action::Spawn]),
            (Phase::Backoff, vec![Action::RetryIn(ms(100))]),
            (Phase::Backoff, vec![Action::RetryIn(ms(200))]),
            (Phase::Crashloop, vec![Action::RetryIn(ms(2000))]),
            (Phase::Crashloop, vec![Action::RetryIn(ms(2000))]),
            (Phase::Crashloop, vec![Action::RetryIn(ms(2000))]),
        ]
    );
    assert_eq!(s.restarts, 6);
}

#[test]
fn operator_restart_resets_crashloop() {
    let (t0, p) = (Instant::now(), policy(RestartPolicy::Always));
    let mut s = ChildState::default();
    s.step(Event::Start, &p);
    for _ in 0..4 {
        s.step(Event::Spawned { pid: 1, at: t0 }, &p);
        s.step(Event::Exited { exit: exit(false), at: t0 }, &p);
    }
    assert_eq!(s.phase, Phase::Crashloop);
    assert_eq!(s.step(Event::Restart, &p), vec![Action::Spawn]);
    assert_eq!((s.phase, s.quick_failures), (Phase::Starting, 0));
    s.step(Event::Spawned { pid: 2, at: t0 }, &p);
    assert_eq!(s.step(Event::Exited { exit: exit(false), at: t0 }, &p), vec![Action::Spawn]);
}

#[test]
fn liveness_failures_past_the_threshold_terminate_and_restart() {
    let (t0, p) = (Instant::now(), policy(RestartPolicy::OnFailure));
    let mut s = ready_child(t0, &p);
    assert!(s.step(Event::ProbeFailed { reason: "timeout".into() }, &p).is_empty());
    assert_eq!(s.phase, Phase::Unhealthy);
    s.step(Event::ProbeOk { at: t0 }, &p);
    assert_eq!((s.phase, s.probe_failures), (Phase::Ready, 0));
    s.step(Event::ProbeFailed { reason: "timeout".into() }, &p);
    s.step(Event::ProbeFailed { reason: "timeout".into() }, &p);
    let actions = s.step(Event::ProbeFailed { reason: "timeout".into() }, &p);
    assert!(matches!(&actions[..], [Action::Terminate { reason }] if reason.contains("liveness probe failed 3 times")));
    let killed = Exit { success: false, description: "killed by SIGTERM".into() };
    assert_eq!(s.step(Event::Exited { exit: killed, at: t0 + Duration::from_secs(60) }, &p), vec![Action::Spawn]);
    assert!(s.last_exit.as_deref().is_some_and(|e| e.starts_with("killed by SIGTERM (liveness probe failed")));
}

#[test]
fn a_child_killed_for_a_probe_counts_as_failed_even_if_it_exits_zero() {
    let (t0, p) = (Instant::now(), policy(RestartPolicy::OnFailure));
    let mut s = ready_child(t0, &p);
    s.step(Event::StartupTimedOut { after: Duration::from_secs(1) }, &p);
    assert!(s.terminating.is_none(), "startup timeout only applies while starting");
    for _ in 0..3 {
        s.step(Event::ProbeFailed { reason: "refused".into() }, &p);
    }
    assert_eq!(s.step(Event::Exited { exit: exit(true), at: t0 }, &p), vec![Action::Spawn]);
}

#[test]
fn restart_policies_decide_after_an_exit() {
    let t0 = Instant::now();
    let cases = [
        (RestartPolicy::Always, true, Phase::Starting),
        (RestartPolicy::OnFailure, true, Phase::Stopped),
        (RestartPolicy::OnFailure, false, Phase::Starting),
        (RestartPolicy::Never, false, Phase::Stopped),
    ];
    for (restart, success, expected) in cases {
        let p = policy(restart);
        let mut s = ready_child(t0, &p);
        s.step(Event::Exited { exit: exit(success), at: t0 + Duration::from_secs(60) }, &p);
        assert_eq!(s.phase, expected, "{restart:?} after success={success}");
    }
}

#[test]
fn stop_terminates_and_stays_stopped() {
    let (t0, p) = (Instant::now(), policy(RestartPolicy::Always));
    let mut s = ready_child(t0, &p);
    assert!(matches!(&s.step(Event::Stop, &p)[..], [Action::Terminate { .. }]));
    assert!(s.step(Event::Stop, &p).is_empty(), "a second stop does not signal twice");
    assert!(s.step(Event::Exited { exit: exit(true), at: t0 }, &p).is_empty());
    assert_eq!(s.phase, Phase::Stopped);
    assert!(s.step(Event::RetryDue, &p).is_empty());
    assert_eq!(s.step(Event::Start, &p), vec![Action::Spawn]);
}

#[test]
fn stop_during_backoff_cancels_the_retry() {
    let (t0, p) = (Instant::now(), policy(RestartPolicy::Always));
    let mut s = ChildState::default();
    s.step(Event::Start, &p);
    for _ in 0..2 {
        s.step(Event::Spawned { pid: 1, at: t0 }, &p);
        s.step(Event::Exited { exit: exit(false), at: t0 }, &p);
    }
    assert_eq!(s.phase, Phase::Backoff);
    assert!(s.step(Event::Stop, &p).is_empty());
    assert_eq!(s.phase, Phase::Stopped);
    assert!(s.step(Event::RetryDue, &p).is_empty(), "a stale timer must not start it again");
}

#[test]
fn restart_of_a_running_child_respawns_after_exit() {
    let (t0, p) = (Instant::now(), policy(RestartPolicy::Never));
    let mut s = ready_child(t0, &p);
    assert!(matches!(&s.step(Event::Restart, &p)[..], [Action::Terminate { reason }] if reason == "restart requested"));
    let actions = s.step(Event::Exited { exit: exit(true), at: t0 }, &p);
    assert_eq!(actions, vec![Action::Spawn], "requested restarts ignore the restart policy");
    assert_eq!(s.restarts, 1);
}

#[test]
fn spawn_failure_is_a_quick_failure() {
    let (t0, p) = (Instant::now(), policy(RestartPolicy::Always));
    let mut s = ChildState::default();
    s.step(Event::Start, &p);
    s.step(Event::SpawnFailed { reason: "No such file".into(), at: t0 }, &p);
    let actions = s.step(Event::SpawnFailed { reason: "No such file".into(), at: t0 }, &p);
    assert_eq!(actions, vec![Action::RetryIn(Duration::from_millis(100))]);
    assert_eq!(s.last_exit.as_deref(), Some("failed to start: No such file"));
}

#[test]
fn backoff_delay_saturates() {
    let b = BackoffConfig {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(30),
        reset_after: Duration::ZERO,
    };
    assert_eq!(backoff_delay(1, &b), Duration::ZERO);
    assert_eq!(backoff_delay(3, &b), Duration::from_millis(200));
    assert_eq!(backoff_delay(200, &b), Duration::from_secs(30));
}

#[test]
fn a_hand_over_keeps_the_child_ready_under_its_successors_pid() {
    let (t0, p) = (Instant::now(), policy(RestartPolicy::Always));
    let mut s = ready_child(t0, &p);
    let actions = s.step(Event::HandedOver { pid: 11, at: t0 + Duration::from_secs(5) }, &p);
    assert!(actions.is_empty(), "nothing to spawn or stop: the actor did both");
    assert_eq!((s.phase, s.pid, s.restarts), (Phase::Ready, Some(11), 1));
    assert_eq!(s.started_at, Some(t0 + Duration::from_secs(5)));
    // The successor's own exit is an ordinary exit.
    let actions = s.step(Event::Exited { exit: exit(false), at: t0 + Duration::from_secs(60) }, &p);
    assert_eq!(actions, vec![Action::Spawn]);
}
