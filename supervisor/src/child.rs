//! One child's actor: owns its [`ChildState`], its process and its timers, and carries out
//! the state machine's actions. Everything else talks to it through [`ChildHandle`]: commands
//! in over a bounded channel, status out through a watch channel.

use std::collections::VecDeque;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use orama_service::config::SupervisorConfig;
use rustix::process::Signal;
use tokio::process::Child;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::control_protocol::phase_name;
use crate::forward::{Forwarder, Sink};
use crate::output::{LogBuffer, capture};
use crate::probe::{ProbeReport, Prober, probe_loop};
use crate::process;
use crate::running::{AdoptedProcess, Adoption, Process};
use crate::spec::ChildSpec;
use crate::state::{Action, ChildState, Event, Exit, Phase};

pub use crate::child_handle::{ChildHandle, ChildStatus, OutputFds, Request};

/// Starts the actor of `spec` (its process is not started until a `Start`).
pub fn launch(spec: ChildSpec, config: &SupervisorConfig, sink: Sink, adoption: Option<Adoption>) -> ChildHandle {
    let spec = Arc::new(spec);
    let output: OutputFds = Arc::new(Mutex::new(None));
    let (requests, requests_rx) = mpsc::channel(16);
    let (reports_tx, reports_rx) = mpsc::channel(16);
    let state = ChildState::default();
    let (status_tx, status) = watch::channel(snapshot(&spec.name, &state));
    let logs = Arc::new(LogBuffer::new(config.log_lines));
    let actor = Actor {
        spec: spec.clone(),
        config: config.clone(),
        forwarder: Forwarder::new(&spec.name, sink),
        prober: Prober::new(spec.probe.clone()),
        logs: logs.clone(),
        output: output.clone(),
        adoption,
        state,
        running: None,
        generation: 0,
        retry_at: None,
        kill_at: None,
        requests: requests_rx,
        reports_tx,
        reports: reports_rx,
        status: status_tx,
    };
    tokio::spawn(actor.run());
    ChildHandle { spec, requests, status, logs, output }
}

fn snapshot(name: &str, state: &ChildState) -> ChildStatus {
    ChildStatus {
        name: name.to_owned(),
        state: state.phase,
        pid: state.pid,
        restarts: state.restarts,
        started_at: state.started_at.filter(|_| state.pid.is_some()),
        last_exit: state.last_exit.clone(),
    }
}

struct Running {
    child: Process,
    pid: u32,
    probe: JoinHandle<()>,
}

struct Actor {
    spec: Arc<ChildSpec>,
    config: SupervisorConfig,
    forwarder: Forwarder,
    prober: Prober,
    logs: Arc<LogBuffer>,
    output: OutputFds,
    adoption: Option<Adoption>,
    state: ChildState,
    running: Option<Running>,
    generation: u64,
    retry_at: Option<tokio::time::Instant>,
    kill_at: Option<tokio::time::Instant>,
    requests: mpsc::Receiver<Request>,
    reports_tx: mpsc::Sender<ProbeReport>,
    reports: mpsc::Receiver<ProbeReport>,
    status: watch::Sender<ChildStatus>,
}

impl Actor {
    async fn run(mut self) {
        if let Some(adoption) = self.adoption.take() {
            self.adopt(adoption);
        }
        let mut orphaned = false;
        loop {
            if orphaned && self.running.is_none() {
                return;
            }
            let startup_deadline = self.startup_deadline();
            let (event, applied) = tokio::select! {
                // Every handle is gone: stop the process, then end. The branch is disabled from
                // then on, since a closed channel would answer at once on every turn.
                request = self.requests.recv(), if !orphaned => match request {
                    Some(Request { event, applied, spec }) => {
                        if let Some(spec) = spec {
                            self.prober = Prober::new(spec.probe.clone());
                            self.spec = spec;
                        }
                        (event, Some(applied))
                    }
                    None => {
                        orphaned = true;
                        (Event::Stop, None)
                    }
                },
                Some(report) = self.reports.recv() => {
                    if report.generation != self.generation { continue; }
                    (report.event, None)
                }
                status = wait_exit(&mut self.running) => {
                    let exit = match status {
                        Ok(status) => Exit { success: status.success(), description: process::describe_exit(status) },
                        Err(err) => Exit { success: false, description: format!("wait failed: {err}") },
                    };
                    self.reap();
                    (Event::Exited { exit, at: Instant::now() }, None)
                }
                _ = sleep_until(self.retry_at) => {
                    self.retry_at = None;
                    (Event::RetryDue, None)
                }
                _ = sleep_until(startup_deadline) => (Event::StartupTimedOut { after: self.config.startup_timeout }, None),
                _ = sleep_until(self.kill_at) => {
                    self.kill_at = None;
                    if let Some(running) = &self.running {
                        tracing::warn!(child = %self.spec.name, pid = running.pid, "grace period over: SIGKILL");
                        process::signal_group(running.pid, Signal::KILL);
                    }
                    continue;
                }
            };
            let outcome = if matches!(event, Event::Restart) && self.can_hand_over() {
                self.hand_over().await
            } else {
                self.handle(event);
                Ok(())
            };
            if let Some(applied) = applied {
                let _ = applied.send(outcome);
            }
        }
    }

    /// Applies an event and every action it leads to, then publishes the new status.
    fn handle(&mut self, event: Event) {
        let before = self.state.phase;
        let mut queue: VecDeque<Action> = self.state.step(event, &self.spec.policy).into();
        while let Some(action) = queue.pop_front() {
            queue.extend(self.apply(action));
        }
        if before != self.state.phase {
            self.log_transition(before);
        }
        self.status.send_replace(snapshot(&self.spec.name, &self.state));
    }

    fn apply(&mut self, action: Action) -> Vec<Action> {
        match action {
            Action::Spawn => self.spawn(),
            Action::Terminate { reason } => {
                if let Some(running) = &self.running {
                    tracing::info!(child = %self.spec.name, pid = running.pid, %reason, "stopping child");
                    process::signal_group(running.pid, Signal::TERM);
                    self.kill_at = Some(tokio::time::Instant::now() + self.config.grace_period);
                }
                Vec::new()
            }
            Action::RetryIn(delay) => {
                self.retry_at = Some(tokio::time::Instant::now() + delay);
                tracing::info!(child = %self.spec.name, delay = %humantime::format_duration(delay), "restart scheduled");
                Vec::new()
            }
        }
    }

    /// Whether a requested restart can start the successor first: one of our processes that
    /// is handed held sockets, ready and not being stopped.
    fn can_hand_over(&self) -> bool {
        self.spec.own
            && !self.spec.listeners.is_empty()
            && !self.spec.handover_sockets.is_empty()
            && self.spec.socket.is_some()
            && self.running.is_some()
            && self.state.phase == Phase::Ready
            && self.state.terminating.is_none()
    }

    /// A restart by hand-over: the successor made ready ([`crate::hand_over::successor`]),
    /// then made the child while the old process drains. When the successor fails, the
    /// running process keeps serving and the error says why.
    async fn hand_over(&mut self) -> Result<(), String> {
        let (mut child, pid) =
            crate::hand_over::successor(&self.spec, self.config.startup_timeout, |c| self.capture_output(c)).await?;
        let Some(old) = self.running.take() else {
            process::signal_group(pid, Signal::KILL);
            let _ = child.wait().await;
            return Err(format!("{} stopped meanwhile", self.spec.name));
        };
        old.probe.abort();
        crate::hand_over::drain(old.child, old.pid, self.config.grace_period, self.spec.name.clone());
        // A fresh prober: the old one's pooled connection reaches the predecessor.
        self.prober = Prober::new(self.spec.probe.clone());
        self.run_and_probe(Process::Spawned(child), pid);
        tracing::info!(child = %self.spec.name, pid, "the successor serves; the old process drains");
        self.handle(Event::HandedOver { pid, at: Instant::now() });
        Ok(())
    }

    /// Forwards the child's stdout and stderr to its log buffer and the sink, keeping a
    /// duplicate of each pipe for a re-exec to pass on.
    fn capture_output(&self, child: &mut Child) {
        let kept = match (&child.stdout, &child.stderr) {
            (Some(out), Some(err)) => out.as_fd().try_clone_to_owned().ok().zip(err.as_fd().try_clone_to_owned().ok()),
            _ => None,
        };
        if let Ok(mut output) = self.output.lock() {
            *output = kept.map(|(out, err)| [out, err]);
        }
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(capture(stdout, "stdout", self.logs.clone(), self.forwarder.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(capture(stderr, "stderr", self.logs.clone(), self.forwarder.clone()));
        }
    }

    /// Takes charge of a process the supervisor's previous image started: its output read
    /// again from the pipes handed over, probed until ready as after a spawn.
    fn adopt(&mut self, adoption: Adoption) {
        let Adoption { pid, restarts, age, output: [stdout, stderr], .. } = adoption;
        let process = match AdoptedProcess::adopt(pid) {
            Ok(process) => process,
            Err(err) => return tracing::error!(child = %self.spec.name, pid, error = %err, "cannot adopt the child"),
        };
        for (fd, stream) in [(&stdout, "stdout"), (&stderr, "stderr")] {
            let reader = fd.try_clone().map(tokio::net::unix::pipe::Receiver::from_owned_fd);
            match reader {
                Ok(Ok(reader)) => {
                    tokio::spawn(capture(reader, stream, self.logs.clone(), self.forwarder.clone()));
                }
                _ => tracing::warn!(child = %self.spec.name, stream, "cannot read the adopted child's output"),
            }
        }
        if let Ok(mut output) = self.output.lock() {
            *output = Some([stdout, stderr]);
        }
        self.run_and_probe(Process::Adopted(process), pid);
        self.state.wanted = true;
        self.state.restarts = restarts;
        let at = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        tracing::info!(child = %self.spec.name, pid, "child adopted from the previous supervisor image");
        self.handle(Event::Spawned { pid, at });
    }

    fn spawn(&mut self) -> Vec<Action> {
        self.retry_at = None;
        if let Some(socket) = &self.spec.socket {
            orama_ipc::socket::remove_socket(socket);
        }
        let mut child = match process::spawn(&self.spec) {
            Ok(child) => child,
            Err(err) => {
                tracing::error!(child = %self.spec.name, program = ?self.spec.program, error = %err, "cannot start child");
                return self
                    .state
                    .step(Event::SpawnFailed { reason: err.to_string(), at: Instant::now() }, &self.spec.policy);
            }
        };
        let pid = child.id().unwrap_or_default();
        self.capture_output(&mut child);
        self.run_and_probe(Process::Spawned(child), pid);
        tracing::info!(child = %self.spec.name, pid, "child started");
        self.state.step(Event::Spawned { pid, at: Instant::now() }, &self.spec.policy)
    }

    /// Makes `process` the running one and starts probing it, in a new generation (reports
    /// about an earlier process are ignored from now on).
    fn run_and_probe(&mut self, process: Process, pid: u32) {
        self.generation += 1;
        let probe_config = self.config.probe.clone();
        let probe =
            tokio::spawn(probe_loop(self.prober.clone(), probe_config, self.generation, self.reports_tx.clone()));
        self.running = Some(Running { child: process, pid, probe });
    }

    /// Cleans up after the process exited: probe stopped, stragglers of its group killed,
    /// its socket removed so the next start binds a fresh one.
    fn reap(&mut self) {
        self.kill_at = None;
        if let Some(running) = self.running.take() {
            running.probe.abort();
            process::signal_group(running.pid, Signal::KILL);
        }
        if let Ok(mut output) = self.output.lock() {
            *output = None;
        }
        if let Some(socket) = &self.spec.socket {
            orama_ipc::socket::remove_socket(socket);
        }
    }

    fn startup_deadline(&self) -> Option<tokio::time::Instant> {
        let started = self.state.started_at?;
        let waiting = self.state.phase == Phase::Starting && self.running.is_some() && self.state.terminating.is_none();
        waiting.then(|| tokio::time::Instant::from_std(started + self.config.startup_timeout))
    }

    fn log_transition(&self, before: Phase) {
        let (name, phase, exit) = (&self.spec.name, self.state.phase, self.state.last_exit.as_deref());
        match phase {
            Phase::Ready => tracing::info!(child = %name, pid = self.state.pid.unwrap_or_default(), "child ready"),
            Phase::Crashloop => {
                tracing::error!(child = %name, last_exit = exit.unwrap_or("-"), restarts = self.state.restarts, "child is crash-looping")
            }
            Phase::Unhealthy => tracing::warn!(child = %name, "child failed its liveness probe"),
            Phase::Backoff | Phase::Stopped => {
                let (before, phase) = (phase_name(before), phase_name(phase));
                tracing::info!(child = %name, before, phase, last_exit = exit.unwrap_or("-"), "child not running")
            }
            Phase::Starting => {}
        }
    }
}

async fn wait_exit(running: &mut Option<Running>) -> std::io::Result<std::process::ExitStatus> {
    match running {
        Some(running) => running.child.wait().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
