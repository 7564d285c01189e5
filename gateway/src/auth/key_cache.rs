//! Recent API key lookups and their last uses, under one lock, so an authenticated request
//! with a cached key costs one map lookup: the entry holds the holder, when it was read from
//! the store and when it was last used since the last flush. Keyed by the key's SHA-256 under
//! std's seeded hasher: unknown keys are cached too, and an unseeded hash of the digest would
//! let a client who grinds digests offline pile its keys into one probe chain.
//!
//! A revocation empties the cache and starts a new generation; a store read begun in an older
//! generation is not remembered, so a lookup racing a revocation cannot cache the revoked key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a lookup is trusted.
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// Most cached lookups; past this the cache starts over (guards against random-key floods).
const CACHE_MAX: usize = 100_000;

/// A key holder as authentication sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHolder {
    /// The key's id.
    pub id: i64,
    /// Its namespace.
    pub namespace: Arc<str>,
    /// A recognisable, non-secret prefix such as `ak_X32jj2…` (shared: a holder is cloned
    /// into every request it authenticates).
    pub hint: Arc<str>,
}

/// A key's SHA-256.
pub type KeyDigest = [u8; 32];

/// See the module docs.
#[derive(Default)]
pub struct KeyCache {
    lookups: Mutex<Lookups>,
}

#[derive(Default)]
struct Lookups {
    entries: HashMap<KeyDigest, Entry>,
    /// Digests of the entries used since the last flush (a digest may be listed twice).
    used: Vec<KeyDigest>,
    /// Last uses of entries dropped before a flush wrote them, by key id.
    orphaned: HashMap<i64, i64>,
    generation: u64,
}

struct Entry {
    /// The key's holder, `None` for an unknown or revoked key.
    holder: Option<KeyHolder>,
    read_at: Instant,
    /// `read_at` in unix seconds, so a use needs no second clock.
    read_unix: i64,
    /// Unix seconds of the last use not yet flushed.
    used_unix: Option<i64>,
}

/// Where a store read began: the generation to remember its answer in.
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

impl KeyCache {
    /// The current generation, read before asking the store.
    pub fn generation(&self) -> Generation {
        Generation(self.lock().generation)
    }

    /// The cached answer for `digest` when it is fresh, counted as a use; `None` when the
    /// store must be asked.
    pub fn holder(&self, digest: &KeyDigest) -> Option<Option<KeyHolder>> {
        let now = Instant::now();
        let mut lookups = self.lock();
        let Lookups { entries, used, .. } = &mut *lookups;
        let entry = entries.get_mut(digest)?;
        let age = now.saturating_duration_since(entry.read_at);
        if age >= CACHE_TTL {
            return None;
        }
        if entry.holder.is_some() {
            if entry.used_unix.is_none() {
                used.push(*digest);
            }
            entry.used_unix = Some(entry.read_unix.saturating_add(i64::try_from(age.as_secs()).unwrap_or(0)));
        }
        Some(entry.holder.clone())
    }

    /// Caches what the store said of `digest` (a use at `read_unix`, unix seconds, when it
    /// names a holder), unless the cache was emptied since `read` began: then only the use is
    /// kept.
    pub fn remember(&self, digest: KeyDigest, holder: Option<KeyHolder>, read: Generation, read_unix: i64) {
        let read_at = Instant::now();
        let mut lookups = self.lock();
        if lookups.generation != read.0 {
            lookups.orphan(Entry { holder, read_at, read_unix, used_unix: Some(read_unix) });
            return;
        }
        if lookups.entries.len() >= CACHE_MAX {
            lookups.drop_entries();
        }
        let used_unix = holder.as_ref().map(|_| read_unix);
        if used_unix.is_some() {
            lookups.used.push(digest);
        }
        let replaced = lookups.entries.insert(digest, Entry { holder, read_at, read_unix, used_unix });
        if let Some(old) = replaced {
            lookups.orphan(old);
        }
    }

    /// Forgets every lookup and starts a new generation (a key was revoked).
    pub fn forget_all(&self) {
        let mut lookups = self.lock();
        lookups.generation = lookups.generation.wrapping_add(1);
        lookups.drop_entries();
    }

    /// The last uses since the previous call, as (key id, unix seconds).
    pub fn take_uses(&self) -> Vec<(i64, i64)> {
        let mut lookups = self.lock();
        let Lookups { entries, used, orphaned, .. } = &mut *lookups;
        let mut uses = std::mem::take(orphaned);
        for digest in used.drain(..) {
            let Some(entry) = entries.get_mut(&digest) else { continue };
            if let (Some(holder), Some(at)) = (&entry.holder, entry.used_unix.take()) {
                let last = uses.entry(holder.id).or_insert(at);
                *last = (*last).max(at);
            }
        }
        uses.into_iter().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lookups> {
        self.lookups.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Lookups {
    /// Empties the cache, keeping the uses not yet flushed.
    fn drop_entries(&mut self) {
        let entries = std::mem::take(&mut self.entries);
        for (_, entry) in entries {
            self.orphan(entry);
        }
        self.used.clear();
    }

    /// Keeps `entry`'s unflushed use after the entry is gone.
    fn orphan(&mut self, entry: Entry) {
        if let (Some(holder), Some(at)) = (entry.holder, entry.used_unix) {
            let last = self.orphaned.entry(holder.id).or_insert(at);
            *last = (*last).max(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn holder(id: i64) -> Option<KeyHolder> {
        Some(KeyHolder { id, namespace: "ns".into(), hint: "ak_x…".into() })
    }

    #[test]
    fn a_fresh_lookup_is_served_and_its_uses_are_taken_once() {
        let cache = KeyCache::default();
        assert!(cache.holder(&[1; 32]).is_none(), "nothing cached yet");
        cache.remember([1; 32], holder(7), cache.generation(), NOW);
        cache.remember([2; 32], None, cache.generation(), NOW);
        assert_eq!(cache.holder(&[1; 32]), Some(holder(7)));
        assert_eq!(cache.holder(&[1; 32]), Some(holder(7)));
        assert_eq!(cache.holder(&[2; 32]), Some(None), "an unknown key is cached as unknown");
        let uses = cache.take_uses();
        assert_eq!(uses.len(), 1, "{uses:?}");
        assert_eq!(uses[0].0, 7);
        assert!((0..=1).contains(&(uses[0].1 - NOW)), "{uses:?}");
        assert!(cache.take_uses().is_empty(), "taken");
        cache.holder(&[1; 32]);
        assert_eq!(cache.take_uses().len(), 1, "used again");
    }

    #[test]
    fn a_read_begun_before_a_revocation_is_not_remembered() {
        let cache = KeyCache::default();
        let before = cache.generation();
        cache.forget_all();
        cache.remember([1; 32], holder(7), before, NOW);
        assert!(cache.holder(&[1; 32]).is_none(), "the stale read must not be cached");
        assert_eq!(cache.take_uses(), [(7, NOW)], "but its use is kept");
        cache.remember([1; 32], None, cache.generation(), NOW);
        assert_eq!(cache.holder(&[1; 32]), Some(None));
    }

    #[test]
    fn uses_survive_the_cache_being_emptied_or_replaced() {
        let cache = KeyCache::default();
        cache.remember([1; 32], holder(7), cache.generation(), NOW);
        cache.forget_all();
        cache.remember([2; 32], holder(8), cache.generation(), NOW);
        cache.remember([2; 32], None, cache.generation(), NOW);
        let mut uses: Vec<i64> = cache.take_uses().into_iter().map(|(id, _)| id).collect();
        uses.sort_unstable();
        assert_eq!(uses, [7, 8]);
    }
}
