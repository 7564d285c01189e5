//! Idle connections, kept per (namespace, scheme, host, port) for [`IDLE`]: a namespace's
//! next request to the same site reuses its connection (and so its circuit), and a
//! connection is never handed to another namespace.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;

use crate::target::TargetHost;

/// How long an idle connection is kept.
pub const IDLE: Duration = Duration::from_secs(30);
/// Idle connections kept per key.
const PER_KEY: usize = 4;
/// Keys kept at most; past it the oldest connections go first.
const MAX_KEYS: usize = 1024;

/// What a kept connection may serve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    /// The namespace it belongs to.
    pub namespace: String,
    /// https.
    pub tls: bool,
    /// The target host.
    pub host: TargetHost,
    /// The target port.
    pub port: u16,
}

type Idle = (Instant, SendRequest<Full<Bytes>>);

/// The idle connections.
#[derive(Debug, Default)]
pub struct Pool {
    idle: Mutex<HashMap<PoolKey, Vec<Idle>>>,
}

impl Pool {
    /// A ready connection for `key`, if one is kept.
    pub fn take(&self, key: &PoolKey) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.get_mut(key)?;
        let mut found = None;
        while let Some((since, sender)) = list.pop() {
            if since.elapsed() < IDLE && sender.is_ready() {
                found = Some(sender);
                break;
            }
        }
        if list.is_empty() {
            idle.remove(key);
        }
        found
    }

    /// Keeps `sender` for `key`.
    pub fn put(&self, key: PoolKey, sender: SendRequest<Full<Bytes>>) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= MAX_KEYS && !idle.contains_key(&key) {
            prune(&mut idle, Duration::ZERO);
        }
        let list = idle.entry(key).or_default();
        if list.len() >= PER_KEY {
            list.remove(0);
        }
        list.push((Instant::now(), sender));
    }

    /// Drops connections idle longer than [`IDLE`] (or closed).
    pub fn sweep(&self) {
        prune(&mut self.idle.lock().unwrap_or_else(|e| e.into_inner()), IDLE);
    }

    /// Connections kept.
    pub fn len(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).values().map(Vec::len).sum()
    }

    /// Whether none are kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn prune(idle: &mut HashMap<PoolKey, Vec<Idle>>, older_than: Duration) {
    for list in idle.values_mut() {
        list.retain(|(since, sender)| since.elapsed() < older_than && !sender.is_closed());
    }
    idle.retain(|_, list| !list.is_empty());
}
