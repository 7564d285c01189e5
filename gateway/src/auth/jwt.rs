//! Access tokens as the reference issues them (REFERENCE-API §3.2-3.3): RS256 JWTs with
//! `iss = debros-gateway`, `aud = gateway`, a `namespace` claim and a 15-minute life.
//!
//! Unlike the reference, the signing keys are the cluster's: kept in the system store sealed
//! by the cluster secret (`shared_keys.rs`), so a token issued by one node verifies on every
//! other. The first node to start makes the first key; rotation (on any node) adds a new
//! current key and keeps the previous one for verification; JWKS publishes both. Each node
//! reloads the keys every 10 s, and at once (at most every 100 ms) when a token names a key
//! it does not hold, so a rotation elsewhere is followed within seconds. Verification accepts
//! RS256 only (`alg: none` and HMAC confusion are refused by construction), checks `iss` and
//! `aud` exactly and allows 60 s of clock skew.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::api_keys::unix_now;
use super::jwt_material::{SigningKey, from_der, generate, legacy_keys};
use super::shared_keys::{KeyPurpose, SharedKey, SharedKeyError, SharedKeys};

/// The `iss` of every token.
pub const ISSUER: &str = "debros-gateway";
/// The `aud` of every token.
pub const AUDIENCE: &str = "gateway";
/// Life of an access token, in seconds.
pub const TOKEN_TTL_SECS: i64 = 15 * 60;
/// Clock skew allowed on `exp`, `nbf`, `iat`.
const LEEWAY_SECS: u64 = 60;
/// Keys kept: the current one and the one before it.
const KEYS_KEPT: usize = 2;
/// How often every node reloads the keys.
const RELOAD_EVERY: Duration = Duration::from_secs(10);
/// Least time between two reloads asked for by tokens naming an unknown key.
const RELOAD_AT_MOST_EVERY: Duration = Duration::from_millis(100);

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: a wallet address, or `apikey:<id>` for tokens exchanged for an API key.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Not before (unix seconds).
    pub nbf: i64,
    /// Expires at (unix seconds).
    pub exp: i64,
    /// The namespace the token acts in.
    #[serde(default)]
    pub namespace: String,
}

/// Why a key could not be loaded or a token issued or verified.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Reading or writing the shared keys failed.
    #[error("signing keys: {0}")]
    Keys(String),
    /// The token is not one of ours, or no longer valid.
    #[error("invalid token: {0}")]
    Invalid(String),
}

impl From<SharedKeyError> for JwtError {
    fn from(err: SharedKeyError) -> Self {
        JwtError::Keys(err.to_string())
    }
}

/// The cluster's signing keys as this node last read them, newest first.
#[derive(Clone)]
pub struct JwtKeys {
    shared: SharedKeys,
    keys: Arc<RwLock<Vec<SigningKey>>>,
    /// When the keys were last read; held while reading them (one reload at a time).
    last_reload: Arc<tokio::sync::Mutex<Instant>>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys").field("kids", &self.kids()).finish()
    }
}

impl JwtKeys {
    /// The cluster's keys in `shared`. When there are none yet, this node's keys from before
    /// keys were shared (PEM files in `legacy_dir`) become the cluster's, or a new key is made;
    /// of nodes starting together, the first to write wins and all use its key.
    pub async fn open(shared: SharedKeys, legacy_dir: &Path) -> Result<JwtKeys, JwtError> {
        if shared.list(KeyPurpose::Jwt).await?.is_empty() {
            let mut keys = legacy_keys(legacy_dir).map_err(JwtError::Keys)?;
            let imported = !keys.is_empty();
            if keys.is_empty() {
                keys.push(generate().map_err(JwtError::Keys)?);
            }
            let mut keys = keys.into_iter();
            let first = keys.next().map(|k| SharedKey { kid: k.kid, material: k.der });
            if let Some(first) = first
                && shared.add(KeyPurpose::Jwt, &first, true).await?
            {
                for key in keys {
                    shared.add(KeyPurpose::Jwt, &SharedKey { kid: key.kid, material: key.der }, false).await?;
                }
                shared.keep_newest(KeyPurpose::Jwt, KEYS_KEPT).await?;
                let how =
                    if imported { "imported this node's JWT signing keys" } else { "generated the JWT signing key" };
                tracing::info!(kid = %first.kid, "{how} for the cluster");
            }
            if imported {
                // Sealed in the store now (or the cluster has keys of its own): no clear copy
                // stays behind to be imported again.
                remove_legacy_keys(legacy_dir);
            }
        }
        let keys = JwtKeys {
            shared,
            keys: Arc::new(RwLock::new(Vec::new())),
            last_reload: Arc::new(tokio::sync::Mutex::new(Instant::now())),
        };
        keys.reload().await?;
        Ok(keys)
    }

    /// Reads the cluster's keys again.
    pub async fn reload(&self) -> Result<(), JwtError> {
        let mut last = self.last_reload.lock().await;
        let read = self.read().await;
        *last = Instant::now();
        read
    }

    async fn read(&self) -> Result<(), JwtError> {
        let stored = self.shared.list(KeyPurpose::Jwt).await?;
        let mut loaded = Vec::with_capacity(stored.len());
        for key in stored.iter().take(KEYS_KEPT) {
            loaded.push(from_der(&key.material).map_err(|e| JwtError::Keys(format!("key {}: {e}", key.kid)))?);
        }
        if loaded.is_empty() {
            return Err(JwtError::Keys("the cluster has no signing key".into()));
        }
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if keys.first().map(|k| &k.kid) != loaded.first().map(|k| &k.kid) && !keys.is_empty() {
            tracing::info!(kid = %loaded[0].kid, "following the cluster's new JWT signing key");
        }
        *keys = loaded;
        Ok(())
    }

    /// Makes a new current key for the whole cluster; the previous one keeps verifying until
    /// the next rotation. Other nodes follow within [`RELOAD_EVERY`].
    pub async fn rotate(&self) -> Result<String, JwtError> {
        let key = generate().map_err(JwtError::Keys)?;
        let kid = key.kid.clone();
        self.shared.add(KeyPurpose::Jwt, &SharedKey { kid: key.kid, material: key.der }, false).await?;
        self.shared.keep_newest(KeyPurpose::Jwt, KEYS_KEPT).await?;
        self.reload().await?;
        tracing::info!(%kid, "rotated the cluster's JWT signing key");
        Ok(kid)
    }

    /// Reloads the keys every [`RELOAD_EVERY`] until `shutdown`.
    pub async fn keep_fresh(self, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RELOAD_EVERY) => {}
            }
            if let Err(err) = self.reload().await {
                tracing::warn!(error = %err, "cannot reload the JWT signing keys");
            }
        }
    }

    /// [`JwtKeys::verify`], reloading the keys first when the token names one this node does
    /// not hold (a rotation on another node). Reloads are one at a time and at most one every
    /// [`RELOAD_AT_MOST_EVERY`]: a token waits for the next reload that starts after it came
    /// (so a key added just after the last one is still found), and any number of tokens
    /// naming unknown keys cost one reload per period.
    pub async fn verify_current(&self, token: &str) -> Result<Claims, JwtError> {
        let arrived = Instant::now();
        // Only a token that could be ours: RS256 and a kid shaped like ours (16 hex).
        let unknown_kid = jsonwebtoken::decode_header(token)
            .ok()
            .filter(|h| h.alg == Algorithm::RS256)
            .and_then(|h| h.kid)
            .filter(|kid| kid.len() == 16 && kid.bytes().all(|b| b.is_ascii_hexdigit()) && !self.holds(kid));
        if let Some(kid) = unknown_kid {
            let mut last = self.last_reload.lock().await;
            if *last < arrived && !self.holds(&kid) {
                tokio::time::sleep(RELOAD_AT_MOST_EVERY.saturating_sub(last.elapsed())).await;
                if let Err(err) = self.read().await {
                    tracing::warn!(error = %err, "cannot reload the JWT signing keys");
                }
                *last = Instant::now();
            }
        }
        self.verify(token)
    }

    fn holds(&self, kid: &str) -> bool {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).iter().any(|k| k.kid == kid)
    }

    /// Issues a token for `subject` in `namespace`; returns it and its life in seconds.
    pub fn issue(&self, subject: &str, namespace: &str) -> Result<(String, i64), JwtError> {
        let now = unix_now();
        let claims = Claims {
            iss: ISSUER.into(),
            sub: subject.into(),
            aud: AUDIENCE.into(),
            iat: now,
            nbf: now,
            exp: now + TOKEN_TTL_SECS,
            namespace: namespace.into(),
        };
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let current = keys.first().ok_or_else(|| JwtError::Invalid("no signing key".into()))?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(current.kid.clone());
        let token =
            jsonwebtoken::encode(&header, &claims, &current.encoding).map_err(|e| JwtError::Invalid(e.to_string()))?;
        Ok((token, TOKEN_TTL_SECS))
    }

    /// Verifies `token`: our signature (by `kid`, or any kept key without one), RS256, issuer,
    /// audience, and the time claims with 60 s of skew.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| JwtError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(JwtError::Invalid(format!("algorithm {:?} is not accepted", header.alg)));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let candidates = keys.iter().filter(|k| header.kid.as_deref().is_none_or(|kid| kid == k.kid));
        let mut last_error = JwtError::Invalid("unknown signing key".into());
        for key in candidates {
            match jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(err) => last_error = JwtError::Invalid(err.to_string()),
            }
        }
        Err(last_error)
    }

    /// The JSON Web Key Set of the kept keys, newest first.
    pub fn jwks(&self) -> serde_json::Value {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let jwks: Vec<serde_json::Value> = keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid,
                    "n": URL_SAFE_NO_PAD.encode(&k.modulus), "e": URL_SAFE_NO_PAD.encode(&k.exponent),
                })
            })
            .collect();
        serde_json::json!({ "keys": jwks })
    }

    /// Key ids, newest first.
    pub fn kids(&self) -> Vec<String> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).iter().map(|k| k.kid.clone()).collect()
    }
}

/// Deletes the PEM files of `dir` (keys from before keys were shared).
fn remove_legacy_keys(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for path in entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "pem")) {
        if let Err(err) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %err, "cannot remove an imported key file");
        }
    }
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
