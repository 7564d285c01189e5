//! The credential a client holds, shared by all its sub-clients, and the JWT's renewal: a
//! token with a refresh token is renewed a minute before it expires, once however many
//! requests notice it at the same time.

use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use http::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::config::Credential;

/// Renew a JWT this long before it expires.
const RENEW_BEFORE_SECS: u64 = 60;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Session {
    credential: RwLock<Option<Credential>>,
    /// Held while a refresh is in flight, so concurrent requests wait for it instead of
    /// spending the (rotating) refresh token twice.
    pub(crate) refreshing: tokio::sync::Mutex<()>,
}

impl Session {
    pub(crate) fn new(credential: Option<Credential>) -> Session {
        Session { credential: RwLock::new(credential), refreshing: tokio::sync::Mutex::new(()) }
    }

    /// The credential now.
    pub(crate) fn get(&self) -> Option<Credential> {
        self.credential.read().map(|c| c.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Replaces the credential.
    pub(crate) fn set(&self, credential: Option<Credential>) {
        match self.credential.write() {
            Ok(mut slot) => *slot = credential,
            Err(poisoned) => *poisoned.into_inner() = credential,
        }
    }

    /// The header carrying the credential.
    pub(crate) fn header(&self) -> Option<(HeaderName, HeaderValue)> {
        let (name, value) = match self.get()? {
            Credential::ApiKey(key) => (HeaderName::from_static("x-api-key"), key),
            Credential::Jwt { access_token, .. } => (http::header::AUTHORIZATION, format!("Bearer {access_token}")),
        };
        let mut value = HeaderValue::from_str(&value).ok()?;
        value.set_sensitive(true);
        Some((name, value))
    }

    /// The refresh token and its namespace, when the credential is a JWT that can be renewed.
    pub(crate) fn refresh_token(&self) -> Option<(String, String)> {
        match self.get()? {
            Credential::Jwt { refresh_token: Some(token), namespace, .. } => Some((token, namespace)),
            _ => None,
        }
    }

    /// Whether the credential is a renewable JWT within a minute of its expiry (or past it).
    pub(crate) fn expiring(&self) -> bool {
        match self.get() {
            Some(Credential::Jwt { access_token, refresh_token: Some(_), .. }) => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                jwt_expiry(&access_token).is_some_and(|exp| exp <= now + RENEW_BEFORE_SECS)
            }
            _ => false,
        }
    }
}

/// Tokens from `/v1/auth/token`, `/v1/auth/refresh` or a sign-in. Its `Debug` hides them.
#[derive(Clone, Deserialize, Serialize)]
pub struct Tokens {
    /// The JWT.
    pub access_token: String,
    /// Seconds it is valid for.
    #[serde(default)]
    pub expires_in: u64,
    /// The refresh token (rotating), when the flow gives one.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The token's namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The subject (a wallet), on sign-in and refresh.
    #[serde(default)]
    pub subject: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .field("namespace", &self.namespace)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A JWT's `exp` claim, read without verifying the token (the gateway verifies it; the client
/// only needs to know when to renew).
pub(crate) fn jwt_expiry(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(exp: u64) -> String {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{{\"exp\":{exp}}}"));
        format!("e30.{payload}.sig")
    }

    #[test]
    fn a_jwt_near_its_expiry_is_renewed_only_with_a_refresh_token() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let jwt = |exp, refresh: Option<&str>| Credential::Jwt {
            access_token: token(exp),
            refresh_token: refresh.map(str::to_owned),
            namespace: "demo".into(),
        };
        assert!(Session::new(Some(jwt(now + 30, Some("r")))).expiring());
        assert!(!Session::new(Some(jwt(now + 600, Some("r")))).expiring());
        assert!(!Session::new(Some(jwt(now + 30, None))).expiring());
        assert!(!Session::new(Some(Credential::ApiKey("k".into()))).expiring());
        assert_eq!(jwt_expiry("not a token"), None);
    }

    #[test]
    fn the_header_is_marked_sensitive() {
        let session = Session::new(Some(Credential::ApiKey("ak_x:demo".into())));
        let (name, value) = session.header().expect("header");
        assert_eq!(name, "x-api-key");
        assert!(value.is_sensitive());
    }
}
