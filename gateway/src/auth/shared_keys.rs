//! Keys every node of a cluster must hold alike (the JWT signing keys, the functions' secrets
//! key), kept in the system store's `node_keys` table, so they live in the RQLite cluster with
//! everything else the nodes share. Each is sealed with AES-256-GCM under a key derived from
//! the cluster secret (HKDF-SHA256), its purpose and id bound in as associated data: the store,
//! its Raft log and its backups never hold a usable key, and a node given another secret cannot
//! open them (it refuses to start rather than sign with keys of its own).

use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use orama_service::cluster::ClusterSecret;

use super::api_keys::unix_now;
use crate::database::{Database, DbError, Statement};

/// What a shared key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// A JWT signing key (an RSA key as PKCS#8 DER).
    Jwt,
    /// The key sealing functions' secrets (32 bytes).
    FunctionSecrets,
}

impl KeyPurpose {
    fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Jwt => "jwt",
            KeyPurpose::FunctionSecrets => "function-secrets",
        }
    }
}

/// One shared key, opened.
#[derive(Clone)]
pub struct SharedKey {
    /// Its id (a JWT key's `kid`).
    pub kid: String,
    /// The key itself.
    pub material: Vec<u8>,
}

/// Why a shared key could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SharedKeyError {
    /// The system store failed.
    #[error("shared keys: {0}")]
    Store(#[from] DbError),
    /// A stored key does not open: it was sealed under another cluster secret, or altered.
    #[error(
        "shared key {purpose}/{kid} does not open with this node's cluster secret: give the node the cluster's secret (node.cluster_secret_file)"
    )]
    Sealed {
        /// What the key is for.
        purpose: &'static str,
        /// Its id.
        kid: String,
    },
    /// Sealing failed (no randomness).
    #[error("shared keys: {0}")]
    Seal(String),
}

/// The shared keys in the system store, and the key sealing them.
#[derive(Clone)]
pub struct SharedKeys {
    db: Arc<dyn Database>,
    sealing: Arc<LessSafeKey>,
}

impl std::fmt::Debug for SharedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKeys").field("engine", &self.db.engine()).finish_non_exhaustive()
    }
}

impl SharedKeys {
    /// The keys in `db`, sealed under a key derived from `secret`.
    pub fn new(db: Arc<dyn Database>, secret: &ClusterSecret) -> SharedKeys {
        let pseudo_random = Salt::new(HKDF_SHA256, b"orama-cluster").extract(secret.expose().as_bytes());
        let okm = pseudo_random.expand(&[b"shared keys v1"], &AES_256_GCM);
        // HKDF-SHA256 can expand to 32 bytes for any input, so neither step can fail.
        let unbound = match okm {
            Ok(okm) => UnboundKey::from(okm),
            Err(_) => unreachable!("HKDF-SHA256 expands to 32 bytes"),
        };
        SharedKeys { db, sealing: Arc::new(LessSafeKey::new(unbound)) }
    }

    /// The keys for `purpose`, newest first.
    pub async fn list(&self, purpose: KeyPurpose) -> Result<Vec<SharedKey>, SharedKeyError> {
        let rows = self
            .db
            .query(
                Statement::new("SELECT kid, sealed FROM node_keys WHERE purpose = ? ORDER BY id DESC")
                    .bind(purpose.as_str()),
            )
            .await?;
        (0..rows.len())
            .map(|row| {
                let text = |column| rows.get(row, column).and_then(|v| v.as_str()).unwrap_or_default();
                let kid = text("kid").to_owned();
                let material = self.open(purpose, &kid, text("sealed"));
                material
                    .map(|material| SharedKey { kid: kid.clone(), material })
                    .ok_or(SharedKeyError::Sealed { purpose: purpose.as_str(), kid })
            })
            .collect()
    }

    /// Adds a key for `purpose`; with `only_first`, only when there is none yet (so nodes
    /// starting together keep one). Returns whether it was added.
    pub async fn add(&self, purpose: KeyPurpose, key: &SharedKey, only_first: bool) -> Result<bool, SharedKeyError> {
        let sealed = self.seal(purpose, key)?;
        let condition = if only_first { " WHERE NOT EXISTS (SELECT 1 FROM node_keys WHERE purpose = ?)" } else { "" };
        let mut statement = Statement::new(format!(
            "INSERT INTO node_keys (purpose, kid, sealed, created_at) SELECT ?, ?, ?, ?{condition}"
        ))
        .bind(purpose.as_str())
        .bind(key.kid.as_str())
        .bind(sealed)
        .bind(unix_now());
        if only_first {
            statement = statement.bind(purpose.as_str());
        }
        Ok(self.db.execute(statement).await?.rows_affected > 0)
    }

    /// Deletes all but the newest `kept` keys of `purpose`.
    pub async fn keep_newest(&self, purpose: KeyPurpose, kept: usize) -> Result<(), SharedKeyError> {
        let statement = Statement::new(
            "DELETE FROM node_keys WHERE purpose = ? AND id NOT IN \
             (SELECT id FROM node_keys WHERE purpose = ? ORDER BY id DESC LIMIT ?)",
        )
        .bind(purpose.as_str())
        .bind(purpose.as_str())
        .bind(i64::try_from(kept).unwrap_or(i64::MAX));
        self.db.execute(statement).await?;
        Ok(())
    }

    fn seal(&self, purpose: KeyPurpose, key: &SharedKey) -> Result<String, SharedKeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SharedKeyError::Seal(format!("no randomness: {e}")))?;
        let mut sealed = key.material.clone();
        self.sealing
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), aad(purpose, &key.kid), &mut sealed)
            .map_err(|_| SharedKeyError::Seal("cannot seal the key".into()))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(STANDARD.encode(stored))
    }

    fn open(&self, purpose: KeyPurpose, kid: &str, stored: &str) -> Option<Vec<u8>> {
        let bytes = STANDARD.decode(stored).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        Some(self.sealing.open_in_place(nonce, aad(purpose, kid), &mut sealed).ok()?.to_vec())
    }
}

fn aad(purpose: KeyPurpose, kid: &str) -> Aad<Vec<u8>> {
    Aad::from(format!("orama node key\u{0}{}\u{0}{kid}", purpose.as_str()).into_bytes())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A migrated embedded system store in a temporary directory, and shared keys over it.
    pub(crate) async fn shared_keys(secret: &str) -> (tempfile::TempDir, SharedKeys) {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = orama_service::config::SqlBackendConfig::default();
        let db = crate::database::system_store::open(&config, dir.path()).await.expect("store");
        let secret = ClusterSecret::parse(&secret.repeat(40)).expect("secret");
        (dir, SharedKeys::new(db, &secret))
    }

    #[tokio::test]
    async fn keys_are_sealed_bound_to_their_id_and_refused_under_another_secret() {
        let (dir, keys) = shared_keys("a").await;
        let key = SharedKey { kid: "k1".into(), material: b"key material".to_vec() };
        assert!(keys.add(KeyPurpose::Jwt, &key, true).await.expect("add"));
        let second = SharedKey { kid: "k2".into(), material: b"another".to_vec() };
        assert!(!keys.add(KeyPurpose::Jwt, &second, true).await.expect("add"), "only the first");
        assert!(keys.add(KeyPurpose::FunctionSecrets, &second, true).await.expect("add"), "per purpose");
        let listed = keys.list(KeyPurpose::Jwt).await.expect("list");
        assert_eq!((listed.len(), listed[0].material.as_slice()), (1, &b"key material"[..]));

        let raw = std::fs::read(dir.path().join("system.db")).expect("db");
        assert!(!raw.windows(12).any(|w| w == b"key material"), "never stored in the clear");

        let db = crate::database::system_store::open(&Default::default(), dir.path()).await.expect("store");
        let stranger = SharedKeys::new(db.clone(), &ClusterSecret::parse(&"b".repeat(40)).expect("secret"));
        assert!(matches!(stranger.list(KeyPurpose::Jwt).await, Err(SharedKeyError::Sealed { .. })));
        // A sealed key moved to another id does not open.
        db.execute(Statement::new("UPDATE node_keys SET kid = 'k9' WHERE kid = 'k1'")).await.expect("update");
        assert!(matches!(keys.list(KeyPurpose::Jwt).await, Err(SharedKeyError::Sealed { .. })));
    }

    #[tokio::test]
    async fn only_the_newest_are_kept() {
        let (_dir, keys) = shared_keys("a").await;
        for kid in ["1", "2", "3"] {
            let key = SharedKey { kid: kid.into(), material: kid.as_bytes().to_vec() };
            keys.add(KeyPurpose::Jwt, &key, false).await.expect("add");
        }
        keys.keep_newest(KeyPurpose::Jwt, 2).await.expect("trim");
        let kids: Vec<String> = keys.list(KeyPurpose::Jwt).await.expect("list").into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, ["3", "2"]);
    }
}
