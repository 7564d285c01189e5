//! The in-process engine (moka): values weighed by their size against `max_memory`, the least
//! recently used evicted beyond it, each entry expiring after its own TTL. Listing a dmap's
//! keys walks the whole cache, which is fine at the sizes one process holds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;

use super::{engine::CacheError, engine::CacheFuture, engine::CacheStore, engine::Dmap, engine::MAX_SCAN_KEYS};

/// (scoped dmap, key).
type Key = (String, String);

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    ttl: Option<Duration>,
}

struct EntryTtl;

impl Expiry<Key, Arc<Entry>> for EntryTtl {
    fn expire_after_create(&self, _: &Key, entry: &Arc<Entry>, _: Instant) -> Option<Duration> {
        entry.ttl
    }

    fn expire_after_update(&self, _: &Key, entry: &Arc<Entry>, _: Instant, _: Option<Duration>) -> Option<Duration> {
        entry.ttl
    }
}

/// The in-process cache.
#[derive(Debug, Clone)]
pub struct MemoryCache {
    entries: Cache<Key, Arc<Entry>>,
}

impl MemoryCache {
    /// A cache holding about `max_memory` bytes of keys and values.
    pub fn new(max_memory: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(max_memory)
            .weigher(|key: &Key, entry: &Arc<Entry>| {
                u32::try_from(key.0.len() + key.1.len() + entry.value.len() + 64).unwrap_or(u32::MAX)
            })
            .expire_after(EntryTtl)
            .build();
        MemoryCache { entries }
    }
}

/// A stored value read as a decimal integer, as Redis reads them for `INCRBY`.
fn parse_integer(value: &[u8]) -> Option<i64> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

fn key(dmap: &Dmap, key: &str) -> Key {
    (dmap.scoped(), key.to_owned())
}

impl CacheStore for MemoryCache {
    fn put(&self, dmap: &Dmap, k: &str, value: Vec<u8>, ttl: Option<Duration>) -> CacheFuture<'_, ()> {
        let key = key(dmap, k);
        Box::pin(async move {
            self.entries.insert(key, Arc::new(Entry { value, ttl })).await;
            Ok(())
        })
    }

    fn get(&self, dmap: &Dmap, k: &str) -> CacheFuture<'_, Option<Vec<u8>>> {
        let key = key(dmap, k);
        Box::pin(async move { Ok(self.entries.get(&key).await.map(|e| e.value.clone())) })
    }

    fn get_many(&self, dmap: &Dmap, keys: &[String]) -> CacheFuture<'_, Vec<Option<Vec<u8>>>> {
        let keys: Vec<Key> = keys.iter().map(|k| key(dmap, k)).collect();
        Box::pin(async move {
            let mut values = Vec::with_capacity(keys.len());
            for key in &keys {
                values.push(self.entries.get(key).await.map(|e| e.value.clone()));
            }
            Ok(values)
        })
    }

    fn incr(&self, dmap: &Dmap, k: &str, delta: i64) -> CacheFuture<'_, i64> {
        use moka::ops::compute::{CompResult, Op};
        let key = key(dmap, k);
        Box::pin(async move {
            let computed = self
                .entries
                .entry(key)
                .and_compute_with(|existing| async move {
                    let (current, ttl) = match &existing {
                        Some(entry) => (parse_integer(&entry.value().value), entry.value().ttl),
                        None => (Some(0), None),
                    };
                    match current.and_then(|n| n.checked_add(delta)) {
                        Some(n) => Op::Put(Arc::new(Entry { value: n.to_string().into_bytes(), ttl })),
                        None => Op::Nop,
                    }
                })
                .await;
            match computed {
                CompResult::Inserted(entry) | CompResult::ReplacedWith(entry) => {
                    parse_integer(&entry.value().value).ok_or(CacheError::NotAnInteger)
                }
                _ => Err(CacheError::NotAnInteger),
            }
        })
    }

    fn delete(&self, dmap: &Dmap, k: &str) -> CacheFuture<'_, bool> {
        let key = key(dmap, k);
        Box::pin(async move { Ok(self.entries.remove(&key).await.is_some()) })
    }

    fn keys(&self, dmap: &Dmap) -> CacheFuture<'_, Vec<String>> {
        let scoped = dmap.scoped();
        Box::pin(async move {
            let mut keys = Vec::new();
            for (key, _) in self.entries.iter() {
                if key.0 == scoped {
                    if keys.len() == MAX_SCAN_KEYS {
                        return Err(CacheError::TooManyKeys(MAX_SCAN_KEYS));
                    }
                    keys.push(key.1.clone());
                }
            }
            Ok(keys)
        })
    }

    fn ping(&self) -> CacheFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn engine(&self) -> &'static str {
        "memory"
    }
}
