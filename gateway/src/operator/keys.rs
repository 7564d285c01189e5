//! Operator keys: credentials for the operator page, made by `orama-supervisor ctl
//! operator-key create` through the gateway's internal socket (so whoever can run `ctl` as
//! the node's user may make one) and never a tenant's. They belong to this node: their
//! SHA-256 digests are kept in an owner-only file in the gateway's data directory, read on
//! each use (a gateway that takes over sees keys made by its predecessor at once), and a
//! revoked key stops working at its next use.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What every operator key starts with (a tenant's API key never does).
pub const PREFIX: &str = "op_";

/// Keys a node keeps, at most (a bound on the file, not a limit anyone meets).
const MAX_KEYS: usize = 100;

/// One key, as listed (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OperatorKey {
    /// Its number on this node.
    pub id: u32,
    /// The label it was made with.
    pub name: String,
    /// When it was made (unix seconds).
    pub created_at: u64,
    /// Hex SHA-256 of the key.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    digest: String,
}

/// A node's operator keys.
#[derive(Debug)]
pub struct OperatorKeys {
    path: PathBuf,
    writing: Mutex<()>,
}

impl OperatorKeys {
    /// The keys kept in `dir`.
    pub fn in_dir(dir: &Path) -> OperatorKeys {
        OperatorKeys { path: dir.join("operator-keys.json"), writing: Mutex::new(()) }
    }

    /// Makes a key labelled `name`: its id and the key, which is shown only this once.
    pub fn create(&self, name: &str) -> Result<(u32, String), String> {
        let _writing = self.writing.lock().map_err(|_| "the operator keys' lock is poisoned")?;
        let mut keys = self.read()?;
        if keys.len() >= MAX_KEYS {
            return Err(format!("this node has {MAX_KEYS} operator keys: revoke some first"));
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| format!("no randomness: {e}"))?;
        let key = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
        let id = keys.iter().map(|k| k.id).max().unwrap_or(0) + 1;
        let created_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        keys.push(OperatorKey { id, name: name.chars().take(100).collect(), created_at, digest: digest(&key) });
        self.write(&keys)?;
        Ok((id, key))
    }

    /// Every key, without digests.
    pub fn list(&self) -> Result<Vec<OperatorKey>, String> {
        Ok(self.read()?.into_iter().map(|k| OperatorKey { digest: String::new(), ..k }).collect())
    }

    /// Revokes key `id`; whether there was one.
    pub fn revoke(&self, id: u32) -> Result<bool, String> {
        let _writing = self.writing.lock().map_err(|_| "the operator keys' lock is poisoned")?;
        let mut keys = self.read()?;
        let before = keys.len();
        keys.retain(|k| k.id != id);
        if keys.len() == before {
            return Ok(false);
        }
        self.write(&keys)?;
        Ok(true)
    }

    /// The id of the key `presented` is, if it is one.
    pub fn check(&self, presented: &str) -> Option<u32> {
        if !presented.starts_with(PREFIX) || presented.len() > 100 {
            return None;
        }
        let presented = digest(presented);
        let keys = self.read().ok()?;
        keys.iter()
            .find(|k| {
                aws_lc_rs::constant_time::verify_slices_are_equal(k.digest.as_bytes(), presented.as_bytes()).is_ok()
            })
            .map(|k| k.id)
    }

    /// Whether key `id` still exists.
    pub fn is_live(&self, id: u32) -> bool {
        self.read().is_ok_and(|keys| keys.iter().any(|k| k.id == id))
    }

    fn read(&self) -> Result<Vec<OperatorKey>, String> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", self.path.display())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(err) => Err(format!("{}: {err}", self.path.display())),
        }
    }

    fn write(&self, keys: &[OperatorKey]) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(keys).map_err(|e| e.to_string())?;
        orama_service::private_files::write_private(&self.path, &bytes).map_err(|e| e.to_string())
    }
}

fn digest(key: &str) -> String {
    crate::http::wire::hex(&Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_works_until_revoked_and_its_secret_is_never_listed() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = OperatorKeys::in_dir(dir.path());
        let (id, key) = keys.create("laptop").expect("create");
        let (other, _) = keys.create("phone").expect("create");
        assert_eq!(keys.check(&key), Some(id));
        assert_eq!(keys.check("op_not-a-key"), None);
        assert_eq!(keys.check(&key.replacen(PREFIX, "ak_", 1)), None);
        let listed = keys.list().expect("list");
        assert_eq!(
            listed.iter().map(|k| (k.id, k.name.as_str())).collect::<Vec<_>>(),
            [(id, "laptop"), (other, "phone")]
        );
        assert!(!serde_json::to_string(&listed).expect("json").contains("digest"));
        assert!(keys.revoke(id).expect("revoke"));
        assert!(!keys.revoke(id).expect("again"));
        assert_eq!(keys.check(&key), None);
        assert!(!keys.is_live(id) && keys.is_live(other));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("operator-keys.json")).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
