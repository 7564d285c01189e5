//! Function secrets, sealed at rest: AES-256-GCM under the cluster's functions-secrets key (a
//! shared key in the system store, itself sealed by the cluster secret; see
//! `auth/shared_keys.rs`), a fresh random nonce per value, and the owner (namespace, function,
//! secret name) bound in as associated data, so a sealed value copied into another function's
//! row does not open. The store only ever holds `v1:<base64(nonce || ciphertext || tag)>`.
//! Every node of a cluster opens every function's secrets.

use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;

use crate::auth::shared_keys::{KeyPurpose, SharedKey, SharedKeys};
use crate::tls::store::read_optional;

const PREFIX: &str = "v1:";

/// The sealing key.
#[derive(Clone)]
pub struct SecretBox {
    key: Arc<LessSafeKey>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

/// Whose secret a value is.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The function.
    pub function: &'a str,
    /// The secret's name.
    pub name: &'a str,
}

impl Owner<'_> {
    fn aad(&self) -> Vec<u8> {
        [self.namespace, self.function, self.name].join("\u{0}").into_bytes()
    }
}

impl SecretBox {
    /// The cluster's key in `shared`. When there is none yet, this node's key from before keys
    /// were shared (`legacy_dir/secrets.key`) becomes the cluster's, or a new one is made; of
    /// nodes starting together, the first to write wins.
    pub async fn open_shared(shared: &SharedKeys, legacy_dir: &Path) -> Result<SecretBox, String> {
        if shared.list(KeyPurpose::FunctionSecrets).await.map_err(|e| e.to_string())?.is_empty() {
            let legacy = legacy_dir.join("secrets.key");
            let material = match read_optional(&legacy).map_err(|e| e.to_string())? {
                Some(bytes) if bytes.len() != 32 => {
                    return Err(format!("{}: a secrets key must be 32 bytes, not {}", legacy.display(), bytes.len()));
                }
                Some(bytes) => bytes,
                None => {
                    let mut fresh = [0u8; 32];
                    getrandom::fill(&mut fresh).map_err(|e| format!("no randomness: {e}"))?;
                    fresh.to_vec()
                }
            };
            let key = SharedKey { kid: "functions".into(), material };
            shared.add(KeyPurpose::FunctionSecrets, &key, true).await.map_err(|e| e.to_string())?;
            // Sealed in the store now: no clear copy stays behind.
            if let Err(err) = std::fs::remove_file(&legacy)
                && err.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %legacy.display(), error = %err, "cannot remove the imported secrets key");
            }
        }
        let keys = shared.list(KeyPurpose::FunctionSecrets).await.map_err(|e| e.to_string())?;
        let key = keys.first().ok_or("the cluster has no functions secrets key")?;
        SecretBox::from_bytes(&key.material)
    }

    /// A box sealing with `bytes` (32 bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<SecretBox, String> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| "the functions secrets key must be 32 bytes".to_owned())?;
        Ok(SecretBox { key: Arc::new(LessSafeKey::new(unbound)) })
    }

    /// `value` sealed for `owner`.
    pub fn seal(&self, owner: Owner<'_>, value: &str) -> Result<String, String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness: {e}"))?;
        let mut sealed = value.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(owner.aad()), &mut sealed)
            .map_err(|_| "cannot seal the secret".to_owned())?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(stored)))
    }

    /// The value `stored` holds for `owner`; `None` when it does not open (another owner,
    /// another key, or tampered with).
    pub fn open(&self, owner: Owner<'_>, stored: &str) -> Option<String> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(stored.strip_prefix(PREFIX)?).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let opened = self.key.open_in_place(nonce, Aad::from(owner.aad()), &mut sealed).ok()?;
        String::from_utf8(opened.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sealed_values_open_only_for_their_owner_and_key() {
        let (_dir, shared) = crate::auth::shared_keys::tests::shared_keys("a").await;
        let legacy = tempfile::tempdir().expect("tempdir");
        let secrets = SecretBox::open_shared(&shared, legacy.path()).await.expect("key");
        let owner = Owner { namespace: "shop", function: "pay", name: "STRIPE" };
        let sealed = secrets.seal(owner, "sk_live_123").expect("seal");
        assert!(!sealed.contains("sk_live"), "{sealed}");
        assert_ne!(sealed, secrets.seal(owner, "sk_live_123").expect("seal"), "a fresh nonce each time");
        assert_eq!(secrets.open(owner, &sealed).as_deref(), Some("sk_live_123"));
        let thief = Owner { namespace: "other", function: "pay", name: "STRIPE" };
        assert_eq!(secrets.open(thief, &sealed), None, "bound to its owner");
        let reloaded = SecretBox::open_shared(&shared, legacy.path()).await.expect("same key");
        assert_eq!(reloaded.open(owner, &sealed).as_deref(), Some("sk_live_123"));
        let other_key = SecretBox::from_bytes(&[7u8; 32]).expect("key");
        assert_eq!(other_key.open(owner, &sealed), None);
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(secrets.open(owner, &String::from_utf8(tampered).expect("utf8")), None);
    }

    #[tokio::test]
    async fn a_node_key_from_before_sharing_becomes_the_clusters() {
        let (_dir, shared) = crate::auth::shared_keys::tests::shared_keys("a").await;
        let legacy = tempfile::tempdir().expect("tempdir");
        std::fs::write(legacy.path().join("secrets.key"), [9u8; 32]).expect("legacy key");
        let owner = Owner { namespace: "shop", function: "pay", name: "STRIPE" };
        let sealed_before = SecretBox::from_bytes(&[9u8; 32]).expect("key").seal(owner, "kept").expect("seal");
        let secrets = SecretBox::open_shared(&shared, legacy.path()).await.expect("key");
        assert_eq!(secrets.open(owner, &sealed_before).as_deref(), Some("kept"));
        assert!(!legacy.path().join("secrets.key").exists(), "no clear copy left behind");
    }
}
