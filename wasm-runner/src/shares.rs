//! Each namespace's share of the runner: at most a set number of its invocations run at once
//! and a set number wait, so one namespace flooding the runner leaves the other slots and the
//! rest of the queue to everyone else. A namespace's calls first take one of its own slots
//! (waiting, within its share of the queue, for one of its calls to finish), then one of the
//! runner's. A namespace is tracked only while it has calls in the runner.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits one namespace is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Its calls running at once.
    pub running: usize,
    /// Its calls waiting at once.
    pub waiting: usize,
}

impl Share {
    /// `fraction` of `instances` slots and of a `queue` (at least one running call).
    pub fn of(fraction: f64, instances: usize, queue: usize) -> Share {
        let part = |n: usize| ((n as f64) * fraction).ceil() as usize;
        Share { running: part(instances).clamp(1, instances.max(1)), waiting: part(queue).min(queue) }
    }
}

/// The namespaces' shares.
#[derive(Debug)]
pub struct Shares {
    share: Share,
    namespaces: Mutex<HashMap<String, Arc<Tenant>>>,
}

#[derive(Debug)]
struct Tenant {
    slots: Arc<Semaphore>,
    waiting: Mutex<usize>,
}

/// A namespace's slot, held while its call runs.
#[derive(Debug)]
pub struct Held {
    _permit: OwnedSemaphorePermit,
    namespace: String,
    shares: Arc<Shares>,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.shares.forget_idle(&self.namespace);
    }
}

/// Why a namespace's call got no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its share of the queue is full.
    QueueFull(usize),
    /// No slot of its own came free in time.
    Busy,
}

impl Shares {
    /// Shares of `share` each.
    pub fn new(share: Share) -> Arc<Shares> {
        Arc::new(Shares { share, namespaces: Mutex::default() })
    }

    /// What each namespace may hold.
    pub fn share(&self) -> Share {
        self.share
    }

    /// One of `namespace`'s slots, waiting at most `patience` within its share of the queue.
    pub async fn acquire(self: &Arc<Self>, namespace: &str, patience: std::time::Duration) -> Result<Held, Refused> {
        let tenant = self.tenant(namespace);
        let held = |permit| Held { _permit: permit, namespace: namespace.to_owned(), shares: self.clone() };
        if let Ok(permit) = tenant.slots.clone().try_acquire_owned() {
            return Ok(held(permit));
        }
        let queued = {
            let mut waiting = tenant.waiting.lock().unwrap_or_else(|p| p.into_inner());
            let room = *waiting < self.share.waiting;
            *waiting += usize::from(room);
            room
        };
        if !queued {
            drop(tenant);
            self.forget_idle(namespace);
            return Err(Refused::QueueFull(self.share.waiting));
        }
        let waited = tokio::time::timeout(patience, tenant.slots.clone().acquire_owned()).await;
        *tenant.waiting.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        drop(tenant);
        match waited {
            Ok(Ok(permit)) => Ok(held(permit)),
            _ => {
                self.forget_idle(namespace);
                Err(Refused::Busy)
            }
        }
    }

    fn tenant(&self, namespace: &str) -> Arc<Tenant> {
        let mut namespaces = self.namespaces.lock().unwrap_or_else(|p| p.into_inner());
        let tenant = namespaces.entry(namespace.to_owned()).or_insert_with(|| {
            Arc::new(Tenant { slots: Arc::new(Semaphore::new(self.share.running)), waiting: Mutex::new(0) })
        });
        tenant.clone()
    }

    /// Stops tracking `namespace` once nothing of it is in the runner.
    fn forget_idle(&self, namespace: &str) {
        let mut namespaces = self.namespaces.lock().unwrap_or_else(|p| p.into_inner());
        let idle = namespaces
            .get(namespace)
            .is_some_and(|t| Arc::strong_count(t) == 1 && t.slots.available_permits() + 1 >= self.share.running);
        if idle {
            namespaces.remove(namespace);
        }
    }

    /// Namespaces tracked now (for tests and status).
    pub fn tracked(&self) -> usize {
        self.namespaces.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_share_is_a_fraction_rounded_up_with_at_least_one_slot() {
        assert_eq!(Share::of(0.25, 64, 256), Share { running: 16, waiting: 64 });
        assert_eq!(Share::of(0.25, 1, 0), Share { running: 1, waiting: 0 });
        assert_eq!(Share::of(1.0, 8, 10), Share { running: 8, waiting: 10 });
    }

    #[tokio::test]
    async fn one_namespace_fills_its_share_and_no_more() {
        let shares = Shares::new(Share { running: 2, waiting: 1 });
        let patience = Duration::from_millis(50);
        let first = shares.acquire("flood", patience).await.expect("first");
        let _second = shares.acquire("flood", patience).await.expect("second");
        let waiter = {
            let shares = shares.clone();
            tokio::spawn(async move { shares.acquire("flood", Duration::from_secs(5)).await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(shares.acquire("flood", patience).await.err(), Some(Refused::QueueFull(1)));
        let _other = shares.acquire("other", patience).await.expect("another namespace is not held back");
        drop(first);
        assert_eq!(waiter.await.expect("task"), Ok(()), "the waiter got the freed slot");
    }

    #[tokio::test]
    async fn idle_namespaces_are_forgotten() {
        let shares = Shares::new(Share { running: 1, waiting: 0 });
        let held = shares.acquire("a", Duration::from_millis(10)).await.expect("slot");
        assert_eq!(shares.tracked(), 1);
        assert_eq!(shares.acquire("a", Duration::from_millis(10)).await.err(), Some(Refused::QueueFull(0)));
        drop(held);
        assert_eq!(shares.tracked(), 0);
    }
}
