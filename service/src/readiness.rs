//! Readiness as a latch: a process is ready once every condition it registered has been
//! released. Conditions are named, so `/ready` can say what is still missing.
//!
//! A condition is released only by an explicit [`Pending::ready`]; dropping it on an error path
//! leaves the process not ready, which is the truth (linkerd's admin readiness, made explicit).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// A process's readiness: cheap to clone, shared by the health handler and the start-up code.
#[derive(Clone, Debug)]
pub struct Readiness {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pending: Mutex<BTreeMap<u64, String>>,
    next_id: std::sync::atomic::AtomicU64,
    ready_tx: watch::Sender<bool>,
}

/// One registered condition; call [`Pending::ready`] when it holds.
#[derive(Debug)]
#[must_use = "a condition that is never released keeps the process not ready"]
pub struct Pending {
    id: u64,
    readiness: Readiness,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness::new()
    }
}

impl Readiness {
    /// A readiness with no condition yet: not ready until the first condition is registered
    /// and released, so a process cannot look ready before it has said what it waits for.
    pub fn new() -> Readiness {
        let (ready_tx, _) = watch::channel(false);
        Readiness {
            inner: Arc::new(Inner { pending: Mutex::new(BTreeMap::new()), next_id: Default::default(), ready_tx }),
        }
    }

    /// Registers a condition described by `reason` (e.g. "binding the public listener").
    pub fn pending(&self, reason: impl Into<String>) -> Pending {
        let id = self.inner.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.lock().insert(id, reason.into());
        self.inner.ready_tx.send_replace(false);
        Pending { id, readiness: self.clone() }
    }

    /// `Ok(())` when ready, else the reasons still pending.
    pub fn check(&self) -> Result<(), Vec<String>> {
        if *self.inner.ready_tx.borrow() {
            return Ok(());
        }
        let pending: Vec<String> = self.lock().values().cloned().collect();
        if pending.is_empty() { Err(vec!["starting".to_owned()]) } else { Err(pending) }
    }

    /// Waits until ready.
    pub async fn wait(&self) {
        let mut rx = self.inner.ready_tx.subscribe();
        let _ = rx.wait_for(|ready| *ready).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, String>> {
        self.inner.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Pending {
    /// Releases this condition; the process is ready when none is left.
    pub fn ready(self) {
        let mut pending = self.readiness.lock();
        pending.remove(&self.id);
        if pending.is_empty() {
            self.readiness.inner.ready_tx.send_replace(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_condition_is_released() {
        let readiness = Readiness::new();
        assert!(readiness.check().is_err(), "not ready before any condition");
        let a = readiness.pending("a");
        let b = readiness.pending("b");
        assert_eq!(readiness.check(), Err(vec!["a".to_owned(), "b".to_owned()]));
        a.ready();
        assert_eq!(readiness.check(), Err(vec!["b".to_owned()]));
        drop(b);
        assert!(readiness.check().is_err(), "dropping is not releasing");
        readiness.pending("c").ready();
        assert!(readiness.check().is_err(), "b is still pending");
    }

    #[tokio::test]
    async fn wait_returns_once_ready() {
        let readiness = Readiness::new();
        let p = readiness.pending("x");
        let waiter = tokio::spawn({
            let r = readiness.clone();
            async move { r.wait().await }
        });
        p.ready();
        waiter.await.expect("waiter");
        assert_eq!(readiness.check(), Ok(()));
    }
}
