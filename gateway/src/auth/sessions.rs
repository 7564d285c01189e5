//! Wallet sessions in the system store: challenge nonces, namespace ownership, refresh tokens
//! and the API key a wallet gets.
//!
//! What the reference skips, done here: a nonce is used once, only by the wallet and namespace
//! it was issued for, and only within 5 minutes (one conditional UPDATE, so two concurrent
//! verifies cannot both use it). A namespace with owners cannot be joined by a new wallet.
//! Refresh tokens are stored hashed, rotated on every use, and presenting an already-rotated
//! token (a sign of theft) revokes every token of that subject.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::api_keys::{ApiKeys, ensure_namespace, unix_now};
use crate::database::{Database, DbError, Statement};

/// Life of a challenge nonce.
pub const NONCE_TTL_SECS: i64 = 5 * 60;
/// Life of a refresh token.
pub const REFRESH_TTL_SECS: i64 = 30 * 24 * 3600;

/// Why a session step was refused.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The nonce is unknown, not this wallet's, expired or used.
    #[error("invalid, expired or already used nonce")]
    BadNonce,
    /// The namespace belongs to other identities.
    #[error("namespace {0:?} is owned by another identity")]
    NamespaceTaken(String),
    /// The refresh token is unknown, expired or revoked.
    #[error("invalid or expired refresh token")]
    BadRefreshToken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] DbError),
}

/// A freshly issued challenge.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// The nonce to sign.
    pub nonce: String,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
}

/// The session store.
#[derive(Clone)]
pub struct Sessions {
    pub(super) db: Arc<dyn Database>,
    pub(super) api_keys: ApiKeys,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions stored in `db`, issuing wallet keys through `api_keys`.
    pub fn new(db: Arc<dyn Database>, api_keys: ApiKeys) -> Sessions {
        Sessions { db, api_keys }
    }

    /// Issues a challenge for `wallet` (normalized) in `namespace`: `compose` turns a random
    /// nonce, the issue time and the expiry into the text to sign (see
    /// [`sign_in`](super::sign_in)), which is what the challenge hands out and verify expects.
    /// Drops long-expired challenges.
    pub async fn challenge(
        &self,
        wallet: &str,
        namespace: &str,
        purpose: &str,
        compose: impl FnOnce(&str, i64, i64) -> String,
    ) -> Result<Challenge, SessionError> {
        let namespace_id = ensure_namespace(self.db.as_ref(), namespace).await?;
        let now = unix_now();
        let expires_at = now + NONCE_TTL_SECS;
        let nonce = compose(&random_hex()?, now, expires_at);
        self.db
            .transaction(vec![
                Statement::new("DELETE FROM nonces WHERE expires_at < ?").bind(now - 3600),
                Statement::new(
                    "INSERT INTO nonces (namespace_id, wallet, nonce, purpose, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(namespace_id)
                .bind(wallet)
                .bind(nonce.as_str())
                .bind(purpose)
                .bind(expires_at)
                .bind(now),
            ])
            .await?;
        Ok(Challenge { nonce, expires_at })
    }

    /// Uses `nonce` for `wallet` in `namespace`: succeeds once, within its life.
    pub async fn consume_nonce(&self, wallet: &str, namespace: &str, nonce: &str) -> Result<(), SessionError> {
        let now = unix_now();
        let used = self
            .db
            .execute(
                Statement::new(
                    "UPDATE nonces SET used_at = ? WHERE nonce = ? AND wallet = ? AND used_at IS NULL AND expires_at > ? \
                     AND namespace_id = (SELECT id FROM namespaces WHERE name = ?)",
                )
                .bind(now)
                .bind(nonce)
                .bind(wallet)
                .bind(now)
                .bind(namespace),
            )
            .await?;
        if used.rows_affected == 1 { Ok(()) } else { Err(SessionError::BadNonce) }
    }

    /// Makes `wallet` an owner of `namespace` if it has no owner yet; refuses if others own it.
    pub async fn claim_namespace(&self, wallet: &str, namespace: &str) -> Result<(), SessionError> {
        let namespace_id = ensure_namespace(self.db.as_ref(), namespace).await?;
        // Insert only when no other owner exists; one statement, so two wallets cannot race in.
        self.db
            .execute(
                Statement::new(
                    "INSERT OR IGNORE INTO namespace_ownership (namespace_id, owner_type, owner_id, created_at) \
                     SELECT ?, 'wallet', ?, ? WHERE NOT EXISTS (SELECT 1 FROM namespace_ownership WHERE namespace_id = ? \
                     AND NOT (owner_type = 'wallet' AND owner_id = ?))",
                )
                .bind(namespace_id)
                .bind(wallet)
                .bind(unix_now())
                .bind(namespace_id)
                .bind(wallet),
            )
            .await?;
        let owned = self
            .db
            .query(
                Statement::new(
                    "SELECT COUNT(*) AS n FROM namespace_ownership WHERE namespace_id = ? AND owner_type = 'wallet' AND owner_id = ?",
                )
                .bind(namespace_id)
                .bind(wallet),
            )
            .await?;
        match owned.get(0, "n").and_then(|v| v.as_i64()) {
            Some(n) if n > 0 => Ok(()),
            _ => Err(SessionError::NamespaceTaken(namespace.to_owned())),
        }
    }

    /// True when `namespace` exists and has at least one owner.
    pub async fn has_owner(&self, namespace: &str) -> Result<bool, SessionError> {
        let rows = self
            .db
            .query(
                Statement::new(
                    "SELECT COUNT(*) AS n FROM namespace_ownership o JOIN namespaces n ON n.id = o.namespace_id WHERE n.name = ?",
                )
                .bind(namespace),
            )
            .await?;
        Ok(rows.get(0, "n").and_then(|v| v.as_i64()).unwrap_or(0) > 0)
    }

    /// Registers an app named `name` for `wallet` in `namespace`; returns its id (`app_...`).
    pub async fn register_app(&self, wallet: &str, namespace: &str, name: &str) -> Result<String, SessionError> {
        let namespace_id = ensure_namespace(self.db.as_ref(), namespace).await?;
        let mut bytes = [0u8; 12];
        getrandom::fill(&mut bytes).map_err(|e| DbError::Internal(format!("no randomness: {e}")))?;
        let app_id = format!("app_{}", URL_SAFE_NO_PAD.encode(bytes));
        self.db
            .execute(
                Statement::new(
                    "INSERT INTO apps (namespace_id, app_id, name, wallet, created_at) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(namespace_id)
                .bind(app_id.as_str())
                .bind(name)
                .bind(wallet)
                .bind(unix_now()),
            )
            .await?;
        Ok(app_id)
    }

    /// Issues a refresh token for `subject` in `namespace`.
    pub async fn issue_refresh(&self, subject: &str, namespace: &str) -> Result<String, SessionError> {
        let namespace_id = ensure_namespace(self.db.as_ref(), namespace).await?;
        let (token, now) = (random_token()?, unix_now());
        self.db
            .execute(
                Statement::new(
                    "INSERT INTO refresh_tokens (namespace_id, subject, token_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(namespace_id)
                .bind(subject)
                .bind(hash(&token))
                .bind(now + REFRESH_TTL_SECS)
                .bind(now),
            )
            .await?;
        Ok(token)
    }

    /// Rotates `token`: returns a new token and the subject. A token used twice revokes them all.
    pub async fn refresh(&self, token: &str, namespace: &str) -> Result<(String, String), SessionError> {
        let rows = self
            .db
            .query(
                Statement::new(
                    "SELECT t.id, t.namespace_id, t.subject, t.expires_at, t.revoked_at, t.replaced_by FROM refresh_tokens t \
                     JOIN namespaces n ON n.id = t.namespace_id WHERE t.token_hash = ? AND n.name = ?",
                )
                .bind(hash(token))
                .bind(namespace),
            )
            .await?;
        let Some(row) = rows.rows.first() else { return Err(SessionError::BadRefreshToken) };
        let (id, namespace_id) = (row[0].as_i64().unwrap_or(0), row[1].as_i64().unwrap_or(0));
        let subject = row[2].as_str().unwrap_or_default().to_owned();
        if row[4].as_i64().is_some() {
            if row[5].as_i64().is_some() {
                tracing::warn!(%namespace, "a rotated refresh token was used again: revoking the subject's tokens");
                self.revoke_all(&subject, namespace).await?;
            }
            return Err(SessionError::BadRefreshToken);
        }
        if row[3].as_i64().unwrap_or(0) <= unix_now() {
            return Err(SessionError::BadRefreshToken);
        }
        let (fresh, now) = (random_token()?, unix_now());
        let fresh_hash = hash(&fresh);
        // Insert the successor only while the old token is still live, then retire the old one:
        // in one transaction, so of two concurrent refreshes only one gets a successor.
        let results = self
            .db
            .transaction(vec![
                Statement::new(
                    "INSERT INTO refresh_tokens (namespace_id, subject, token_hash, expires_at, created_at) \
                     SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM refresh_tokens WHERE id = ? AND revoked_at IS NULL)",
                )
                .bind(namespace_id)
                .bind(subject.as_str())
                .bind(fresh_hash.as_str())
                .bind(now + REFRESH_TTL_SECS)
                .bind(now)
                .bind(id),
                Statement::new(
                    "UPDATE refresh_tokens SET revoked_at = ?, replaced_by = (SELECT id FROM refresh_tokens WHERE token_hash = ?) \
                     WHERE id = ? AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(fresh_hash.as_str())
                .bind(id),
            ])
            .await?;
        if results.first().is_none_or(|r| r.rows_affected != 1) {
            return Err(SessionError::BadRefreshToken);
        }
        Ok((fresh, subject))
    }

    /// Revokes `token` in `namespace` (unknown tokens are not an error, as in the reference).
    pub async fn revoke(&self, token: &str, namespace: &str) -> Result<(), SessionError> {
        self.db
            .execute(
                Statement::new(
                    "UPDATE refresh_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL \
                     AND namespace_id = (SELECT id FROM namespaces WHERE name = ?)",
                )
                .bind(unix_now())
                .bind(hash(token))
                .bind(namespace),
            )
            .await?;
        Ok(())
    }

    /// Revokes every refresh token of `subject` in `namespace`.
    pub async fn revoke_all(&self, subject: &str, namespace: &str) -> Result<(), SessionError> {
        self.db
            .execute(
                Statement::new(
                    "UPDATE refresh_tokens SET revoked_at = ? WHERE subject = ? AND revoked_at IS NULL \
                     AND namespace_id = (SELECT id FROM namespaces WHERE name = ?)",
                )
                .bind(unix_now())
                .bind(subject)
                .bind(namespace),
            )
            .await?;
        Ok(())
    }
}

/// 32 random bytes, base64url without padding (43 characters).
/// 128 random bits as 32 hex digits (a sign-in message's nonce must be alphanumeric).
fn random_hex() -> Result<String, DbError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| DbError::Internal(format!("no randomness: {e}")))?;
    Ok(crate::http::wire::hex(&bytes))
}

fn random_token() -> Result<String, DbError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| DbError::Internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn hash(token: &str) -> String {
    crate::http::wire::hex(&Sha256::digest(token.as_bytes()))
}
