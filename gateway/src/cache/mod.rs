//! The cache API (`/v1/cache/*`, REFERENCE-API §4.5) over one [`CacheStore`] trait with three
//! engines: in-process ([`memory`], the default), Redis/Valkey ([`redis`]) and Olric
//! ([`olric`], its RESP `DM.*` commands). Every dmap belongs to a namespace ([`Dmap`]): the
//! engines only ever see names scoped by it, so tenants cannot collide or reach each other.
//! Values are stored as their JSON text, so they come back exactly as they were put.

pub mod memory;
pub mod olric;
pub mod redis;
pub mod routes;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use orama_service::config::{CacheBackendConfig, CacheEngine};

/// A cache call in flight.
pub type CacheFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CacheError>> + Send + 'a>>;

/// Why a cache call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CacheError {
    /// The engine cannot be reached or did not answer in time; worth retrying later.
    #[error("cache unavailable: {0}")]
    Unavailable(String),
    /// A dmap has more keys than one scan returns.
    #[error("the dmap has more than {0} keys; narrow the scan with match")]
    TooManyKeys(usize),
    /// The engine answered something unexpected.
    #[error("cache error: {0}")]
    Engine(String),
    /// An increment of a value that is not an integer (or would overflow).
    #[error("the value is not an integer or the increment overflows")]
    NotAnInteger,
}

/// A namespace's dmap.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dmap {
    /// The owning namespace.
    pub namespace: Arc<str>,
    /// The name the client gave.
    pub name: String,
}

impl Dmap {
    /// An unambiguous engine-side name: `<namespace>|<name>` with every byte of `name` other
    /// than `A-Z a-z 0-9 _ . -` percent-encoded (namespaces have none), so no two
    /// (namespace, name) pairs share it and it holds no `{`, `}`, `:`, `|` or glob character.
    pub fn scoped(&self) -> String {
        let mut out = format!("{}|", self.namespace);
        for byte in self.name.bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-') {
                out.push(char::from(byte));
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
        out
    }
}

/// Most keys one scan returns.
pub const MAX_SCAN_KEYS: usize = 100_000;

/// A cache engine.
pub trait CacheStore: Send + Sync + 'static {
    /// Stores `value` under `key`, expiring after `ttl` when given.
    fn put(&self, dmap: &Dmap, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> CacheFuture<'_, ()>;
    /// The value under `key`, if any.
    fn get(&self, dmap: &Dmap, key: &str) -> CacheFuture<'_, Option<Vec<u8>>>;
    /// The values under `keys`, in order.
    fn get_many(&self, dmap: &Dmap, keys: &[String]) -> CacheFuture<'_, Vec<Option<Vec<u8>>>>;
    /// Adds `delta` to the integer under `key` (a missing key counts as 0), atomically; the new
    /// value. A value that is not a decimal integer is an error and stays as it was.
    fn incr(&self, dmap: &Dmap, key: &str, delta: i64) -> CacheFuture<'_, i64>;
    /// Removes `key`; whether it was there.
    fn delete(&self, dmap: &Dmap, key: &str) -> CacheFuture<'_, bool>;
    /// Every key of `dmap` (at most [`MAX_SCAN_KEYS`]).
    fn keys(&self, dmap: &Dmap) -> CacheFuture<'_, Vec<String>>;
    /// Checks that the engine answers.
    fn ping(&self) -> CacheFuture<'_, ()>;
    /// The engine's name.
    fn engine(&self) -> &'static str;
}

/// The engine `config` names. Remote engines connect lazily and reconnect on their own.
pub fn open(config: &CacheBackendConfig) -> Result<Arc<dyn CacheStore>, CacheError> {
    let url = config.urls.first().cloned().unwrap_or_default();
    Ok(match config.engine {
        CacheEngine::Memory => Arc::new(memory::MemoryCache::new(config.max_memory)),
        CacheEngine::Redis if config.cluster => Arc::new(redis::RedisCache::cluster(&config.urls, config.timeout)?),
        CacheEngine::Redis => Arc::new(redis::RedisCache::new(&url, config.timeout)?),
        CacheEngine::Olric => Arc::new(olric::OlricCache::new(&url, config.timeout)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_names_are_unambiguous_and_inert() {
        let dmap = |ns: &str, name: &str| Dmap { namespace: ns.into(), name: name.into() }.scoped();
        assert_eq!(dmap("shop", "carts"), "shop|carts");
        assert_ne!(dmap("a", "b|c"), dmap("a|b", "c"));
        assert_ne!(dmap("a", "x%41"), dmap("a", "xA"));
        let odd = dmap("a", "{*}:[?]\\ é");
        assert!(!odd.chars().any(|c| "{}:*?[]\\ ".contains(c)), "{odd}");
    }
}
