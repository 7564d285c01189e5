//! The API keys a wallet holds in a namespace. A key's secret is stored hashed and shown once,
//! so a wallet that already has a key cannot be shown it again; signing in therefore never
//! touches the wallet's keys (it gets a token, and a key only when it has none), and only an
//! explicit request for a key (`/v1/auth/api-key`) makes another. A wallet holds at most
//! [`MAX_WALLET_KEYS`] live keys per namespace: a request past that revokes the oldest and
//! names them in its answer, never silently.

use super::api_keys::{NewKey, ensure_namespace, unix_now};
use super::sessions::{SessionError, Sessions};
use crate::database::Statement;

/// Live keys a wallet may hold in one namespace.
pub const MAX_WALLET_KEYS: usize = 10;

/// What a request for a new key did.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The new key (its secret shown this once).
    pub key: NewKey,
    /// The wallet's oldest keys revoked to stay within [`MAX_WALLET_KEYS`].
    pub revoked: Vec<i64>,
}

/// The name a wallet's keys carry (how they are found again).
fn key_name(wallet: &str) -> String {
    format!("wallet {wallet}")
}

impl Sessions {
    /// The wallet's first key in `namespace`: made when it holds no live key there, `None`
    /// when it already does (that key keeps working).
    pub async fn first_wallet_key(&self, wallet: &str, namespace: &str) -> Result<Option<NewKey>, SessionError> {
        if !self.live_wallet_keys(wallet, namespace).await?.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.new_wallet_key(wallet, namespace).await?.key))
    }

    /// Another key for `wallet` in `namespace`; beyond [`MAX_WALLET_KEYS`] live keys the
    /// oldest are revoked (and returned).
    pub async fn new_wallet_key(&self, wallet: &str, namespace: &str) -> Result<IssuedKey, SessionError> {
        let namespace_id = ensure_namespace(self.db.as_ref(), namespace).await?;
        let key = self.api_keys.create(namespace, &key_name(wallet)).await?;
        self.db
            .execute(
                Statement::new(
                    "INSERT INTO wallet_api_keys (namespace_id, wallet, api_key_id, created_at) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (namespace_id, wallet) DO UPDATE SET api_key_id = excluded.api_key_id",
                )
                .bind(namespace_id)
                .bind(wallet)
                .bind(key.id)
                .bind(unix_now()),
            )
            .await?;
        let live = self.live_wallet_keys(wallet, namespace).await?;
        let excess = live.len().saturating_sub(MAX_WALLET_KEYS);
        let mut revoked = Vec::new();
        for id in live.into_iter().take(excess) {
            if self.api_keys.revoke(id).await? {
                revoked.push(id);
            }
        }
        if !revoked.is_empty() {
            tracing::info!(%wallet, %namespace, ?revoked, "oldest wallet keys revoked past the limit");
        }
        Ok(IssuedKey { key, revoked })
    }

    /// The ids of the wallet's live keys in `namespace`, oldest first.
    async fn live_wallet_keys(&self, wallet: &str, namespace: &str) -> Result<Vec<i64>, SessionError> {
        let rows = self
            .db
            .query(
                Statement::new(
                    "SELECT k.id FROM api_keys k JOIN namespaces n ON n.id = k.namespace_id \
                     WHERE n.name = ? AND k.name = ? AND k.revoked_at IS NULL ORDER BY k.id",
                )
                .bind(namespace)
                .bind(key_name(wallet)),
            )
            .await?;
        Ok(rows.rows.iter().filter_map(|row| row.first()?.as_i64()).collect())
    }

    /// Whether some wallet owns `namespace`.
    pub async fn wallet_owned(&self, namespace: &str) -> Result<bool, SessionError> {
        let rows = self
            .db
            .query(
                Statement::new(
                    "SELECT 1 FROM namespace_ownership o JOIN namespaces n ON n.id = o.namespace_id \
                     WHERE n.name = ? AND o.owner_type = 'wallet' LIMIT 1",
                )
                .bind(namespace),
            )
            .await?;
        Ok(!rows.is_empty())
    }
}
