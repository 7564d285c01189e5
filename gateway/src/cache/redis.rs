//! Redis and Valkey over RESP (the `redis` crate's connection manager: multiplexed, reconnects
//! on its own, so the API recovers when the server returns without a gateway restart), or a
//! Redis Cluster. A key is `orama:{<scoped dmap>}:<key>`: the hash tag keeps a dmap in one
//! cluster slot (so `MGET` works and one node's `SCAN` sees the whole dmap), and the scoped
//! name holds no glob character, so `SCAN MATCH` lists exactly one dmap.

use std::time::Duration;

use std::sync::Arc;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, FromRedisValue, RedisResult};
use tokio::sync::Mutex;

use super::{engine::CacheError, engine::CacheFuture, engine::CacheStore, engine::Dmap, engine::MAX_SCAN_KEYS};

/// How a [`Resp`] connects: the time limit on every command, and for `rediss://` the CA and
/// client certificate (without them, the system's roots and no client certificate).
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// Connecting and each command.
    pub timeout: Duration,
    /// PEM certificates for TLS.
    pub tls: Option<redis::TlsCertificates>,
}

/// A RESP connection with a time limit on every command; shared with [`super::olric`].
#[derive(Clone)]
pub struct Resp {
    link: Link,
    timeout: Duration,
}

/// One server through a reconnecting manager, or a Redis Cluster through a cluster connection
/// established on first use (and re-established after a failure to connect).
#[derive(Clone)]
enum Link {
    Single(ConnectionManager),
    Cluster { client: Box<ClusterClient>, connection: Arc<Mutex<Option<ClusterConnection>>> },
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resp").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl Resp {
    /// A lazily connecting client of `url`.
    pub fn new(url: &str, link: LinkSettings) -> Result<Self, CacheError> {
        let timeout = link.timeout;
        let client = match link.tls {
            Some(certificates) => redis::Client::build_with_tls(url, certificates),
            None => redis::Client::open(url),
        }
        .map_err(|e| CacheError::Engine(format!("{}: {e}", orama_service::cluster::without_credentials(url))))?;
        // No response timeout of redis' own: `run_at` bounds every command (and a reconnect it
        // waits on) with the same `timeout`, and a second one would be a second timer entry
        // per command. Neither makes the manager reconnect; only a dropped connection does.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(None)
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let manager = client.get_connection_manager_lazy(config).map_err(|e| CacheError::Engine(e.to_string()))?;
        Ok(Resp { link: Link::Single(manager), timeout })
    }

    /// A client of the Redis Cluster that `seeds` belong to.
    pub fn cluster(seeds: &[String], link: LinkSettings) -> Result<Self, CacheError> {
        let timeout = link.timeout;
        let mut builder =
            ClusterClient::builder(seeds.iter().cloned()).connection_timeout(timeout).response_timeout(timeout);
        if let Some(certificates) = link.tls {
            builder = builder.certs(certificates);
        }
        let client = builder.build().map_err(|e| {
            let seeds: Vec<String> = seeds.iter().map(|s| orama_service::cluster::without_credentials(s)).collect();
            CacheError::Engine(format!("cluster seeds {seeds:?}: {e}"))
        })?;
        Ok(Resp { link: Link::Cluster { client: Box::new(client), connection: Arc::default() }, timeout })
    }

    async fn cluster_connection(
        client: &ClusterClient,
        slot: &Mutex<Option<ClusterConnection>>,
    ) -> RedisResult<ClusterConnection> {
        let mut slot = slot.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = client.get_async_connection().await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Runs `cmd` (on a cluster, on the node owning `key`'s slot when given, else where the
    /// command's own key routes it); a transport failure or a timeout is
    /// [`CacheError::Unavailable`].
    pub async fn run_at<T: FromRedisValue>(&self, cmd: Cmd, key: Option<&[u8]>) -> Result<T, CacheError> {
        let call = async {
            match &self.link {
                Link::Single(manager) => cmd.query_async::<T>(&mut manager.clone()).await,
                Link::Cluster { client, connection } => {
                    let mut connection = Self::cluster_connection(client, connection).await?;
                    match key {
                        Some(key) => {
                            let route = SingleNodeRoutingInfo::SpecificNode(Route::with_key(key, SlotAddr::Master));
                            let value = connection.route_command(cmd, RoutingInfo::SingleNode(route)).await?;
                            T::from_redis_value(value).map_err(Into::into)
                        }
                        None => cmd.query_async::<T>(&mut connection).await,
                    }
                }
            }
        };
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(CacheError::Unavailable(format!("no answer within {:?}", self.timeout))),
            Ok(Err(err)) if err.is_io_error() || err.is_connection_dropped() || err.is_timeout() => {
                Err(CacheError::Unavailable(err.to_string()))
            }
            Ok(Err(err)) if err.is_connection_refusal() || err.is_cluster_error() => {
                Err(CacheError::Unavailable(err.to_string()))
            }
            Ok(Err(err)) => Err(CacheError::Engine(err.to_string())),
            Ok(Ok(value)) => Ok(value),
        }
    }

    /// Runs `cmd` where its key routes it.
    pub async fn run<T: FromRedisValue>(&self, cmd: Cmd) -> Result<T, CacheError> {
        self.run_at(cmd, None).await
    }
}

/// The Redis/Valkey engine.
#[derive(Debug, Clone)]
pub struct RedisCache {
    resp: Resp,
}

impl RedisCache {
    /// A client of the server at `url`.
    pub fn new(url: &str, link: LinkSettings) -> Result<Self, CacheError> {
        Ok(RedisCache { resp: Resp::new(url, link)? })
    }

    /// A client of the Redis Cluster that `seeds` belong to.
    pub fn cluster(seeds: &[String], link: LinkSettings) -> Result<Self, CacheError> {
        Ok(RedisCache { resp: Resp::cluster(seeds, link)? })
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

    fn incr(&self, dmap: &Dmap, k: &str, delta: i64) -> CacheFuture<'_, i64> {
        let mut cmd = redis::cmd("INCRBY");
        cmd.arg(key(dmap, k)).arg(delta);
        Box::pin(async move {
            self.resp.run::<i64>(cmd).await.map_err(|err| match err {
                CacheError::Engine(message) if message.contains("not an integer") || message.contains("overflow") => {
                    CacheError::NotAnInteger
                }
                other => other,
            })
        })
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
                let (next, batch): (u64, Vec<Vec<u8>>) = self.resp.run_at(cmd, Some(prefix.as_bytes())).await?;
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
