//! How many anonymous requests may be in flight: per namespace (so one tenant cannot hold
//! every circuit) and for the node. A [`Slot`] is held for the whole request and given back
//! when dropped, however the request ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    /// The namespace has its share in flight.
    #[error("too many anonymous requests in flight for this namespace (limit {0})")]
    Namespace(usize),
    /// The node has its limit in flight.
    #[error("the anonymous proxy is busy ({0} requests in flight)")]
    Node(usize),
}

/// The counters.
#[derive(Debug)]
pub struct Limits {
    per_namespace: usize,
    total: usize,
    state: Arc<Mutex<Counts>>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    namespaces: HashMap<String, usize>,
}

/// One request's place; freed on drop.
#[derive(Debug)]
pub struct Slot {
    namespace: String,
    state: Arc<Mutex<Counts>>,
}

impl Limits {
    /// At most `per_namespace` per namespace and `total` in all.
    pub fn new(per_namespace: usize, total: usize) -> Limits {
        Limits { per_namespace, total, state: Arc::default() }
    }

    /// A slot for `namespace`, or why there is none.
    pub fn acquire(&self, namespace: &str) -> Result<Slot, Busy> {
        let mut counts = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if counts.total >= self.total {
            return Err(Busy::Node(self.total));
        }
        let mine = counts.namespaces.entry(namespace.to_owned()).or_default();
        if *mine >= self.per_namespace {
            return Err(Busy::Namespace(self.per_namespace));
        }
        *mine += 1;
        counts.total += 1;
        Ok(Slot { namespace: namespace.to_owned(), state: self.state.clone() })
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.state.lock().unwrap_or_else(|e| e.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(mine) = counts.namespaces.get_mut(&self.namespace) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                counts.namespaces.remove(&self.namespace);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_have_their_share_and_slots_come_back() {
        let limits = Limits::new(2, 3);
        let a1 = limits.acquire("a").expect("first");
        let _a2 = limits.acquire("a").expect("second");
        assert_eq!(limits.acquire("a").err(), Some(Busy::Namespace(2)));
        let _b1 = limits.acquire("b").expect("b has its own share");
        assert_eq!(limits.acquire("c").err(), Some(Busy::Node(3)));
        drop(a1);
        assert!(limits.acquire("a").is_ok());
        assert_eq!(limits.in_flight(), 2);
    }
}
