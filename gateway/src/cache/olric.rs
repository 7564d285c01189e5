//! Olric through its RESP protocol (`DM.PUT`, `DM.GET`, `DM.DEL`, `DM.SCAN`, `PING`), written
//! to Olric's documented commands. A namespace's dmap is the Olric dmap named by its scoped
//! name. Olric answers a missing key with an error whose text says it was not found; that is
//! `None` here. Scans walk every partition (Olric's default partition count).

use std::time::Duration;

use super::redis::{LinkSettings, Resp};
use super::{engine::CacheError, engine::CacheFuture, engine::CacheStore, engine::Dmap, engine::MAX_SCAN_KEYS};

/// Olric's default partition count; `DM.SCAN` works one partition at a time.
const PARTITIONS: u64 = 271;

/// The Olric engine.
#[derive(Debug, Clone)]
pub struct OlricCache {
    resp: Resp,
}

impl OlricCache {
    /// A client of the Olric member at `url` (`redis://host:port`).
    pub fn new(url: &str, link: LinkSettings) -> Result<Self, CacheError> {
        Ok(OlricCache { resp: Resp::new(url, link)? })
    }

    async fn get_one(&self, dmap: String, key: String) -> Result<Option<Vec<u8>>, CacheError> {
        let mut cmd = redis::cmd("DM.GET");
        cmd.arg(dmap).arg(key);
        match self.resp.run::<Option<Vec<u8>>>(cmd).await {
            Err(CacheError::Engine(message)) if is_missing(&message) => Ok(None),
            other => other,
        }
    }
}

fn is_missing(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("not found") || message.contains("keynotfound")
}

impl CacheStore for OlricCache {
    fn put(&self, dmap: &Dmap, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> CacheFuture<'_, ()> {
        let mut cmd = redis::cmd("DM.PUT");
        cmd.arg(dmap.scoped()).arg(key).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
        }
        Box::pin(async move { self.resp.run::<()>(cmd).await })
    }

    fn get(&self, dmap: &Dmap, key: &str) -> CacheFuture<'_, Option<Vec<u8>>> {
        Box::pin(self.get_one(dmap.scoped(), key.to_owned()))
    }

    fn get_many(&self, dmap: &Dmap, keys: &[String]) -> CacheFuture<'_, Vec<Option<Vec<u8>>>> {
        let (scoped, keys) = (dmap.scoped(), keys.to_vec());
        Box::pin(async move {
            let mut values = Vec::with_capacity(keys.len());
            for key in keys {
                values.push(self.get_one(scoped.clone(), key).await?);
            }
            Ok(values)
        })
    }

    fn incr(&self, dmap: &Dmap, key: &str, delta: i64) -> CacheFuture<'_, i64> {
        let mut cmd = redis::cmd("DM.INCR");
        cmd.arg(dmap.scoped()).arg(key).arg(delta);
        Box::pin(async move { self.resp.run::<i64>(cmd).await })
    }

    fn delete(&self, dmap: &Dmap, key: &str) -> CacheFuture<'_, bool> {
        let mut cmd = redis::cmd("DM.DEL");
        cmd.arg(dmap.scoped()).arg(key);
        Box::pin(async move { Ok(self.resp.run::<i64>(cmd).await? > 0) })
    }

    fn keys(&self, dmap: &Dmap) -> CacheFuture<'_, Vec<String>> {
        let scoped = dmap.scoped();
        Box::pin(async move {
            let mut keys = Vec::new();
            for partition in 0..PARTITIONS {
                let mut cursor = 0u64;
                loop {
                    let mut cmd = redis::cmd("DM.SCAN");
                    cmd.arg(partition).arg(&scoped).arg(cursor).arg("COUNT").arg(1000);
                    let (next, batch): (u64, Vec<String>) = self.resp.run(cmd).await?;
                    keys.extend(batch);
                    if keys.len() > MAX_SCAN_KEYS {
                        return Err(CacheError::TooManyKeys(MAX_SCAN_KEYS));
                    }
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
            keys.sort();
            keys.dedup();
            Ok(keys)
        })
    }

    fn ping(&self) -> CacheFuture<'_, ()> {
        Box::pin(async move { self.resp.run::<String>(redis::cmd("PING")).await.map(drop) })
    }

    fn engine(&self) -> &'static str {
        "olric"
    }
}
