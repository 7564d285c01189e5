//! What every cache engine offers ([`CacheStore`]), the namespaced map a key lives in ([`Dmap`]), and their errors.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

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
