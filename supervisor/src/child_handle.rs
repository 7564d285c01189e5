//! What the rest of the supervisor holds of a child: a [`ChildHandle`] to send its actor
//! ([`crate::child`]) requests and read its status, recent output and output pipes.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use crate::output::LogBuffer;
use crate::spec::ChildSpec;
use crate::state::{Event, Phase};

/// The read ends of a running child's stdout and stderr pipes, duplicated (see
/// [`ChildHandle::output_fds`]).
pub type OutputFds = Arc<Mutex<Option<[OwnedFd; 2]>>>;

/// A request to a child's actor; the reply comes once it has been applied.
#[derive(Debug)]
pub struct Request {
    /// `Start`, `Stop` or `Restart`.
    pub event: Event,
    /// Answered after the event was applied: `Err` when a restart by hand-over was rolled
    /// back (the running process keeps serving).
    pub applied: oneshot::Sender<Result<(), String>>,
    /// New settings to run the child with from now on (a reload), applied before the event.
    pub spec: Option<Arc<ChildSpec>>,
}

/// What is known of a child at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct ChildStatus {
    /// The child's name.
    pub name: String,
    /// Its phase.
    pub state: Phase,
    /// Pid of the running process.
    pub pid: Option<u32>,
    /// Restarts since the supervisor started.
    pub restarts: u32,
    /// When the running process was spawned.
    #[serde(skip)]
    pub started_at: Option<Instant>,
    /// How the last process ended.
    pub last_exit: Option<String>,
}

/// The handle everyone else holds on a child.
#[derive(Debug, Clone)]
pub struct ChildHandle {
    /// The child's spec.
    pub spec: Arc<ChildSpec>,
    pub(crate) requests: mpsc::Sender<Request>,
    pub(crate) status: watch::Receiver<ChildStatus>,
    /// Its recent output.
    pub logs: Arc<LogBuffer>,
    pub(crate) output: OutputFds,
}

impl ChildHandle {
    /// The child's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Sends `event` (Start, Stop or Restart) and waits until the actor applied it.
    pub async fn send(&self, event: Event) -> Result<(), String> {
        self.request(event, None).await
    }

    /// Restarts the child with new settings (a reload; the handle keeps the name, sockets
    /// and dependencies, which a reload never changes); waits until the actor applied it.
    pub async fn restart_with(&self, spec: ChildSpec) -> Result<(), String> {
        self.request(Event::Restart, Some(Arc::new(spec))).await
    }

    async fn request(&self, event: Event, spec: Option<Arc<ChildSpec>>) -> Result<(), String> {
        let (applied, done) = oneshot::channel();
        if self.requests.send(Request { event, applied, spec }).await.is_ok() {
            return done.await.unwrap_or(Ok(()));
        }
        Ok(())
    }

    /// Duplicates of the read ends of the running process's stdout and stderr pipes (for a
    /// re-exec to hand on), when it runs.
    pub fn output_fds(&self) -> Option<[OwnedFd; 2]> {
        let output = self.output.lock().ok()?;
        let [out, err] = output.as_ref()?;
        Some([out.try_clone().ok()?, err.try_clone().ok()?])
    }

    /// The current status.
    pub fn status(&self) -> ChildStatus {
        self.status.borrow().clone()
    }

    /// A receiver of status changes.
    pub fn watch(&self) -> watch::Receiver<ChildStatus> {
        self.status.clone()
    }

    /// Waits until the child's phase satisfies `predicate`.
    pub async fn wait_for(&self, predicate: impl Fn(Phase) -> bool) {
        self.wait_until(|s| predicate(s.state)).await;
    }

    /// Waits until the child's status satisfies `predicate`; returns that status (or the last
    /// one, should the child's actor be gone).
    pub async fn wait_until(&self, predicate: impl Fn(&ChildStatus) -> bool) -> ChildStatus {
        let mut rx = self.status.clone();
        match rx.wait_for(|s| predicate(s)).await {
            Ok(status) => status.clone(),
            Err(_) => self.status(),
        }
    }
}
