//! Redis and Valkey over RESP (the `redis` crate's connection manager: multiplexed, reconnects
//! on its own, so the API recovers when the server returns without a gateway restart). A key
//! is `orama:{<scoped dmap>}:<key>`: the hash tag keeps a dmap in one cluster slot, and the
//! scoped name holds no glob character, so `SCAN MATCH` lists exactly one dmap.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue};

use super::{CacheError, CacheFuture, CacheStore, Dmap, MAX_SCAN_KEYS};

/// A RESP connection with a time limit on every command; shared with [`super::olric`].
#[derive(Clone)]
pub struct Resp {
    manager: ConnectionManager,
    timeout: Duration,
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resp").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl Resp {
    /// A lazily connecting client of `url`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, CacheError> {
        let client = redis::Client::open(url).map_err(|e| CacheError::Engine(format!("{url}: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let manager = client.get_connection_manager_lazy(config).map_err(|e| CacheError::Engine(e.to_string()))?;
        Ok(Resp { manager, timeout })
    }

    /// Runs `cmd`; a transport failure or a timeout is [`CacheError::Unavailable`].
    pub async fn run<T: FromRedisValue>(&self, cmd: Cmd) -> Result<T, CacheError> {
        let mut connection = self.manager.clone();
        match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut connection)).await {
            Err(_) => Err(CacheError::Unavailable(format!("no answer within {:?}", self.timeout))),
            Ok(Err(err)) if err.is_io_error() || err.is_connection_dropped() || err.is_timeout() => {
                Err(CacheError::Unavailable(err.to_string()))
            }
            Ok(Err(err)) if err.is_connection_refusal() => Err(CacheError::Unavailable(err.to_string())),
            Ok(Err(err)) => Err(CacheError::Engine(err.to_string())),
            Ok(Ok(value)) => Ok(value),
        }
    }
}

/// The Redis/Valkey engine.
#[derive(Debug, Clone)]
pub struct RedisCache {
    resp: Resp,
}

impl RedisCache {
    /// A client of the server at `url`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, CacheError> {
        Ok(RedisCache { resp: Resp::new(url, timeout)? })
    }
}

fn prefix(dmap: &Dmap) -> String {
    format!("orama:{{{}}}:", dmap.scoped())
}

fn key(dmap: &Dmap, key: &str) -> Vec<u8> {
    let mut full = prefix(dmap).into_bytes();
    full.extend_from_slice(key.as_bytes());
    full
}

impl CacheStore for RedisCache {
    fn put(&self, dmap: &Dmap, k: &str, value: Vec<u8>, ttl: Option<Duration>) -> CacheFuture<'_, ()> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key(dmap, k)).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(ttl.as_millis().max(1) as u64);
        }
        Box::pin(async move { self.resp.run::<()>(cmd).await })
    }

    fn get(&self, dmap: &Dmap, k: &str) -> CacheFuture<'_, Option<Vec<u8>>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key(dmap, k));
        Box::pin(async move { self.resp.run(cmd).await })
    }

    fn get_many(&self, dmap: &Dmap, keys: &[String]) -> CacheFuture<'_, Vec<Option<Vec<u8>>>> {
        let mut cmd = redis::cmd("MGET");
        for k in keys {
            cmd.arg(key(dmap, k));
        }
        Box::pin(async move { self.resp.run(cmd).await })
    }

    fn delete(&self, dmap: &Dmap, k: &str) -> CacheFuture<'_, bool> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(key(dmap, k));
        Box::pin(async move { Ok(self.resp.run::<i64>(cmd).await? > 0) })
    }

    fn keys(&self, dmap: &Dmap) -> CacheFuture<'_, Vec<String>> {
        let prefix = prefix(dmap);
        Box::pin(async move {
            let (mut cursor, mut keys) = (0u64, Vec::new());
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor).arg("MATCH").arg(format!("{prefix}*")).arg("COUNT").arg(1000);
                let (next, batch): (u64, Vec<Vec<u8>>) = self.resp.run(cmd).await?;
                for full in batch {
                    if let Some(k) = full.strip_prefix(prefix.as_bytes()) {
                        keys.push(String::from_utf8_lossy(k).into_owned());
                    }
                }
                if keys.len() > MAX_SCAN_KEYS {
                    return Err(CacheError::TooManyKeys(MAX_SCAN_KEYS));
                }
                if next == 0 {
                    keys.sort();
                    keys.dedup();
                    return Ok(keys);
                }
                cursor = next;
            }
        })
    }

    fn ping(&self) -> CacheFuture<'_, ()> {
        Box::pin(async move { self.resp.run::<String>(redis::cmd("PING")).await.map(drop) })
    }

    fn engine(&self) -> &'static str {
        "redis"
    }
}
