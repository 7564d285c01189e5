//! Hot content in memory: whole files up to `cache_max_file` bytes, kept in an LRU bounded by
//! `cache_bytes` in front of the engine, so popular content is served without a disk read or
//! an IPFS round trip. Content is immutable by address, so an entry is never stale; one is
//! dropped when nothing pins its content any more (so unpinned content stops being served
//! from here) or when the LRU needs room.
//!
//! What a request can make this allocate is bounded: only files up to `cache_max_file` are
//! read whole, and at most [`FILLS`] such reads run at once (a request beyond that streams
//! from the engine as if uncached). Concurrent misses on one CID share a single engine read.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use metrics::Counter;
use moka::future::Cache;
use tokio::sync::Semaphore;

use super::cid::{Cid, Codec, Multihash};
use super::engine::{StorageEngine, StorageError};

/// Cache fills (whole-file reads from the engine) in flight at once.
pub const FILLS: usize = 8;

/// Where a file's bytes come from.
#[derive(Debug, Clone)]
pub enum Held {
    /// The whole file, in memory.
    Hot(Bytes),
    /// Not cached (too large, caching off, or fills busy): stream it from the engine.
    Cold {
        /// The file's length.
        size: u64,
    },
}

/// The in-memory LRU of whole files.
#[derive(Clone)]
pub struct HotContent {
    cache: Option<Cache<(Codec, Multihash), Bytes>>,
    max_file: u64,
    fills: Arc<Semaphore>,
    hits: Counter,
    misses: Counter,
}

impl std::fmt::Debug for HotContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotContent").field("max_file", &self.max_file).finish_non_exhaustive()
    }
}

impl HotContent {
    /// A cache of at most `capacity` bytes holding files of at most `max_file` bytes
    /// (`capacity` 0: nothing is cached).
    pub fn new(capacity: u64, max_file: u64) -> Self {
        let cache = (capacity > 0 && max_file > 0).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .weigher(|_, bytes: &Bytes| u32::try_from(bytes.len()).unwrap_or(u32::MAX).max(1))
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build()
        });
        metrics::describe_counter!("orama_storage_cache_hits_total", "Content reads served from memory");
        metrics::describe_counter!("orama_storage_cache_misses_total", "Content reads that went to the engine");
        HotContent {
            cache,
            max_file: max_file.min(capacity),
            fills: Arc::new(Semaphore::new(FILLS)),
            hits: metrics::counter!("orama_storage_cache_hits_total"),
            misses: metrics::counter!("orama_storage_cache_misses_total"),
        }
    }

    /// Where the file at `cid` is read from, or `None` when the node does not hold it.
    pub async fn lookup(&self, engine: &Arc<dyn StorageEngine>, cid: Cid) -> Result<Option<Held>, StorageError> {
        let key = (cid.codec, cid.hash);
        if let Some(cache) = &self.cache
            && let Some(bytes) = cache.get(&key).await
        {
            self.hits.increment(1);
            return Ok(Some(Held::Hot(bytes)));
        }
        self.misses.increment(1);
        let Some(size) = engine.size(cid).await? else { return Ok(None) };
        let Some(cache) = self.cache.as_ref().filter(|_| size <= self.max_file) else {
            return Ok(Some(Held::Cold { size }));
        };
        let Ok(_permit) = self.fills.try_acquire() else { return Ok(Some(Held::Cold { size })) };
        let bytes = cache.try_get_with(key, read_whole(engine.clone(), cid, size)).await;
        bytes.map(|bytes| Some(Held::Hot(bytes))).map_err(|err| (*err).clone())
    }

    /// Drops every file (a collection deleted blocks that some may have been read from).
    pub fn forget_all(&self) {
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
    }

    /// Drops the file at `cid` (its content is no longer pinned anywhere).
    pub async fn forget(&self, cid: Cid) {
        if let Some(cache) = &self.cache {
            cache.invalidate(&(cid.codec, cid.hash)).await;
        }
    }
}

/// The whole file at `cid` (`size` bytes) from the engine; more or fewer bytes is an error.
pub async fn read_whole(engine: Arc<dyn StorageEngine>, cid: Cid, size: u64) -> Result<Bytes, StorageError> {
    let mut stream = engine.read(cid, 0..size).await?;
    let mut whole = BytesMut::with_capacity(usize::try_from(size).unwrap_or(0));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if (whole.len() + chunk.len()) as u64 > size {
            return Err(StorageError::Internal(format!("{cid} is longer than its {size} bytes")));
        }
        whole.extend_from_slice(&chunk);
    }
    if whole.len() as u64 != size {
        return Err(StorageError::Internal(format!("{cid} ended after {} of {size} bytes", whole.len())));
    }
    Ok(whole.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::cid::CidVersion;
    use crate::storage::embedded::EmbeddedStorage;

    async fn add(engine: &Arc<dyn StorageEngine>, data: Vec<u8>, version: CidVersion) -> Cid {
        let content = Box::pin(futures_util::stream::once(async move { Ok(Bytes::from(data)) }));
        engine.add(content, version).await.expect("add").cid
    }

    #[tokio::test]
    async fn small_files_are_served_from_memory_and_large_ones_stream() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine: Arc<dyn StorageEngine> = Arc::new(EmbeddedStorage::open(dir.path(), 1 << 30).expect("open"));
        let hot = HotContent::new(1 << 20, 300_000);
        let small = add(&engine, vec![7; 300_000], CidVersion::V0).await;
        let large = add(&engine, vec![8; 300_001], CidVersion::V0).await;
        assert!(matches!(hot.lookup(&engine, small).await, Ok(Some(Held::Hot(b))) if b.len() == 300_000));
        // Served from memory even with the blocks gone from disk; the CIDv1 of it too.
        std::fs::remove_dir_all(dir.path()).expect("remove blocks");
        assert!(matches!(hot.lookup(&engine, small).await, Ok(Some(Held::Hot(_)))));
        let v1 = small.as_version(CidVersion::V1);
        assert!(matches!(hot.lookup(&engine, v1).await, Ok(Some(Held::Hot(_)))));
        assert!(matches!(hot.lookup(&engine, large).await, Ok(None)), "not cached: read from disk");
        hot.forget(small).await;
        assert!(matches!(hot.lookup(&engine, small).await, Ok(None)), "forgotten");
    }

    #[tokio::test]
    async fn the_lru_stays_within_its_capacity() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine: Arc<dyn StorageEngine> = Arc::new(EmbeddedStorage::open(dir.path(), 1 << 30).expect("open"));
        let hot = HotContent::new(1 << 20, 1 << 20);
        for i in 0..20u8 {
            let cid = add(&engine, vec![i; 200_000], CidVersion::V1).await;
            assert!(matches!(hot.lookup(&engine, cid).await, Ok(Some(Held::Hot(_)))));
        }
        let cache = hot.cache.as_ref().expect("cache");
        cache.run_pending_tasks().await;
        assert!(cache.weighted_size() <= 1 << 20, "{} bytes held", cache.weighted_size());
        assert!(cache.entry_count() >= 4, "{} entries", cache.entry_count());
    }
}
