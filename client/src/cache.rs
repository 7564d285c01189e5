//! `/v1/cache/*`: the namespace's distributed maps (dmaps). Values are any serde type; the
//! gateway stores their JSON and gives it back exactly.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::call::Call;
use crate::error::{Error, Result};
use crate::transport::Transport;

/// `/v1/cache/*`. Get one from [`crate::NetworkClient::cache`].
#[derive(Clone)]
pub struct CacheClient {
    pub(crate) transport: Transport,
}

impl CacheClient {
    /// The value of `key` in `dmap`, or `None` when there is none.
    pub async fn get<T: DeserializeOwned>(&self, dmap: &str, key: &str) -> Result<Option<T>> {
        let call = Call::post_json("v1/cache/get", &json!({ "dmap": dmap, "key": key }))?.idempotent();
        match self.transport.json::<Value>(call).await {
            Ok(mut answer) => Ok(Some(from_value(answer["value"].take())?)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Stores `value` under `key` in `dmap`, for `ttl` when given (at least a millisecond).
    pub async fn put<T: Serialize + ?Sized>(
        &self,
        dmap: &str,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<()> {
        let mut body = json!({ "dmap": dmap, "key": key, "value": value });
        if let Some(ttl) = ttl {
            if ttl.as_millis() == 0 {
                return Err(Error::Invalid("a TTL is at least 1 ms (None: no expiry)".into()));
            }
            body["ttl"] = Value::String(format!("{}ms", ttl.as_millis()));
        }
        let _: Value = self.transport.json(Call::post_json("v1/cache/put", &body)?.idempotent()).await?;
        Ok(())
    }

    /// Deletes `key` from `dmap`; whether it was there. Not retried after it was sent: a
    /// second attempt would find the key gone and answer `false` for a key that was there.
    pub async fn delete(&self, dmap: &str, key: &str) -> Result<bool> {
        let call = Call::post_json("v1/cache/delete", &json!({ "dmap": dmap, "key": key }))?;
        match self.transport.json::<Value>(call).await {
            Ok(_) => Ok(true),
            Err(error) if error.is_not_found() => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The values of those of `keys` that exist in `dmap` (at most 1000 keys), as
    /// `(key, value)` in the order the gateway gives them.
    pub async fn multi_get<T: DeserializeOwned>(&self, dmap: &str, keys: &[&str]) -> Result<Vec<(String, T)>> {
        let call = Call::post_json("v1/cache/mget", &json!({ "dmap": dmap, "keys": keys }))?.idempotent();
        let mut answer: Value = self.transport.json(call).await?;
        let Value::Array(results) = answer["results"].take() else {
            return Err(Error::decode("mget answered without results"));
        };
        results
            .into_iter()
            .map(|mut entry| {
                let key =
                    entry["key"].as_str().ok_or_else(|| Error::decode("an mget result without a key"))?.to_owned();
                Ok((key, from_value(entry["value"].take())?))
            })
            .collect()
    }

    /// The keys of `dmap`, those matching the regular expression `pattern` when given.
    pub async fn scan(&self, dmap: &str, pattern: Option<&str>) -> Result<Vec<String>> {
        let mut body = json!({ "dmap": dmap });
        if let Some(pattern) = pattern {
            body["match"] = Value::String(pattern.to_owned());
        }
        let mut answer: Value = self.transport.json(Call::post_json("v1/cache/scan", &body)?.idempotent()).await?;
        serde_json::from_value(answer["keys"].take()).map_err(Error::decode)
    }

    /// Whether the cache engine works (`memory`, `redis` or `olric`).
    pub async fn health(&self) -> Result<String> {
        let answer: Value = self.transport.json(Call::get("v1/cache/health")).await?;
        Ok(answer["service"].as_str().unwrap_or_default().to_owned())
    }
}

/// A value as `T`, with a message saying what did not fit.
fn from_value<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::decode(format!("cache value: {e}")))
}
