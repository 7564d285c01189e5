//! The cluster secret: what makes a node a member of its cluster. The first node generates it
//! (32 random bytes, written as 64 hex characters, mode 0600); every node that joins is given
//! the same file. RQLite's `-auth` users, the gateway's credentials for its rqlited and the
//! sealing of the keys the nodes share (JWT signing keys, the functions' secrets key) all
//! derive from it, so a node without it can neither join nor read what the others keep.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Characters in a generated secret (hex of 32 bytes).
const GENERATED_LEN: usize = 64;
/// Shortest secret accepted from a file an operator wrote.
pub const MIN_LEN: usize = 32;

/// The cluster secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSecret(String);

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(..)")
    }
}

/// Why the secret could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Reading or writing the file failed.
    #[error("cluster secret {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds something that cannot be a secret.
    #[error("cluster secret {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl ClusterSecret {
    /// The secret's text (for RQLite's auth file and basic-auth credentials).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A new random secret.
    pub fn generate() -> Result<ClusterSecret, String> {
        let mut bytes = [0u8; GENERATED_LEN / 2];
        getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
        Ok(ClusterSecret(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// Reads the secret in `path` (a file others may read is reported, not refused).
    pub fn read(path: &Path) -> Result<ClusterSecret, SecretError> {
        let text = std::fs::read_to_string(path).map_err(|source| SecretError::Io { path: path.into(), source })?;
        if std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            tracing::warn!(path = %path.display(), "the cluster secret's file is readable by others: chmod 600 it");
        }
        ClusterSecret::parse(&text).map_err(|message| SecretError::Invalid { path: path.into(), message })
    }

    /// Reads the secret in `path`, generating it there first when there is no such file (the
    /// first node of a cluster). Two processes racing to create it end up with the same one.
    pub fn read_or_create(path: &Path) -> Result<ClusterSecret, SecretError> {
        match ClusterSecret::read(path) {
            Err(SecretError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        let io = |source| SecretError::Io { path: path.into(), source };
        let secret =
            ClusterSecret::generate().map_err(|message| SecretError::Invalid { path: path.into(), message })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
        let temporary = path.with_extension(format!(
            "partial-{}",
            &ClusterSecret::generate().map_err(|message| SecretError::Invalid { path: path.into(), message })?.0[..16]
        ));
        let mut file =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary).map_err(io)?;
        file.write_all(format!("{}\n", secret.0).as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
        // A hard link fails when the name exists: whoever linked first decides the secret.
        let linked = std::fs::hard_link(&temporary, path);
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => {
                tracing::info!(
                    path = %path.display(),
                    "generated the cluster secret: nodes joining this cluster need a copy of this file"
                );
                Ok(secret)
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => ClusterSecret::read(path),
            Err(err) => Err(io(err)),
        }
    }

    /// A password for one use of the secret (`rqlite`, `redis`): HMAC-SHA256 of the label under
    /// the secret, in hex. Services only ever see these, so one that gives its password away
    /// (Redis answers `CONFIG GET requirepass`; basic auth crosses the wire) gives neither the
    /// secret nor what it seals.
    pub fn password_for(&self, label: &str) -> String {
        hmac_sha256(self.0.as_bytes(), format!("orama cluster password: {label}").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// 32 bytes for one key derived from the secret (`redis-bus-ca`): HMAC-SHA256 of the label
    /// under the secret, so every node holding the secret derives the same key, and the key
    /// gives the secret away no more than a password does.
    pub fn key_seed(&self, label: &str) -> [u8; 32] {
        hmac_sha256(self.0.as_bytes(), format!("orama cluster key: {label}").as_bytes())
    }

    /// `url` with the password for its service (`http(s)` is RQLite, `redis(s)` Redis) as the
    /// password of a user named without one (`http://orama-gateway@host:4001` becomes
    /// `http://orama-gateway:<password>@host:4001`), so config files name the user and never
    /// hold a password. Other URLs are returned as they are.
    pub fn fill_password(&self, url: &str) -> String {
        let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
        let label = match scheme {
            "http" | "https" => "rqlite",
            "redis" | "rediss" => "redis",
            _ => return url.to_owned(),
        };
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        match authority.rsplit_once('@') {
            Some((user, host)) if !user.is_empty() && !user.contains(':') => {
                format!("{scheme}://{user}:{}@{host}{path}", self.password_for(label))
            }
            _ => url.to_owned(),
        }
    }

    /// A secret from text: surrounding whitespace ignored, at least [`MIN_LEN`] characters of
    /// `A-Z a-z 0-9 . _ ~ -` (safe in URLs and config files as it is).
    pub fn parse(text: &str) -> Result<ClusterSecret, String> {
        let secret = text.trim();
        if secret.len() < MIN_LEN {
            return Err(format!("a cluster secret needs at least {MIN_LEN} characters"));
        }
        if !secret.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-')) {
            return Err("a cluster secret is made of A-Z a-z 0-9 . _ ~ -".into());
        }
        Ok(ClusterSecret(secret.to_owned()))
    }
}

/// `url` without the `user:password@` of its authority, for messages and logs.
pub fn without_credentials(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let path = if path.is_empty() { String::new() } else { format!("/{path}") };
    if scheme.is_empty() { format!("{host}{path}") } else { format!("{scheme}://{host}{path}") }
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_read_creates_an_owner_only_secret_that_later_reads_return() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("node/cluster.secret");
        let first = ClusterSecret::read_or_create(&path).expect("create");
        assert_eq!(first.expose().len(), GENERATED_LEN);
        assert_eq!(ClusterSecret::read_or_create(&path).expect("read"), first);
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        assert_eq!(format!("{first:?}"), "ClusterSecret(..)");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir")).expect("list").collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn racing_creators_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cluster.secret");
        let secrets: Vec<ClusterSecret> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8).map(|_| scope.spawn(|| ClusterSecret::read_or_create(&path))).collect();
            handles.into_iter().map(|h| h.join().expect("join").expect("secret")).collect()
        });
        assert!(secrets.iter().all(|s| *s == secrets[0]));
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn a_user_without_a_password_gets_the_password_for_its_service() {
        let secret = ClusterSecret::parse(&"s".repeat(40)).expect("secret");
        let (rqlite, redis) = (secret.password_for("rqlite"), secret.password_for("redis"));
        assert!(rqlite != redis && rqlite.len() == 64 && !rqlite.contains(&"s".repeat(40)));
        let filled = secret.fill_password("http://orama-gateway@127.0.0.1:4001/x");
        assert_eq!(filled, format!("http://orama-gateway:{rqlite}@127.0.0.1:4001/x"));
        assert_eq!(
            secret.fill_password("redis://default@127.0.0.1:6379"),
            format!("redis://default:{redis}@127.0.0.1:6379")
        );
        for unchanged in ["http://127.0.0.1:4001", "http://u:p@127.0.0.1:4001", "127.0.0.1:4001", "ftp://u@h"] {
            assert_eq!(secret.fill_password(unchanged), unchanged);
        }
    }

    #[test]
    fn messages_name_nodes_without_their_credentials() {
        assert_eq!(without_credentials("http://orama:s3cret@127.0.0.1:4001"), "http://127.0.0.1:4001");
        assert_eq!(without_credentials("http://u:p@a:b@host:1/x"), "http://host:1/x");
        assert_eq!(without_credentials("redis://127.0.0.1:4001"), "redis://127.0.0.1:4001");
    }

    #[test]
    fn short_or_url_breaking_secrets_are_refused() {
        assert!(ClusterSecret::parse("short").is_err());
        assert!(ClusterSecret::parse(&"a:".repeat(20)).is_err());
        assert!(ClusterSecret::parse(&"a#".repeat(20)).is_err(), "would end a URL's authority");
        assert!(ClusterSecret::parse(&format!("  {}\n", "x".repeat(40))).is_ok());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cluster.secret");
        std::fs::write(&path, "too short").expect("write");
        assert!(matches!(ClusterSecret::read_or_create(&path), Err(SecretError::Invalid { .. })));
    }
}
