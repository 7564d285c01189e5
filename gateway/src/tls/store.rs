//! Small files of the TLS state in the data dir (account credentials, certificates, keys):
//! read when present, written owner-only and atomically (a temporary file renamed into place),
//! so a crash mid-write never leaves a torn key or chain behind.

use std::path::{Path, PathBuf};

/// Why a TLS state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file's content is not what it should be.
    #[error("{path}: unreadable content: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl StoreError {
    /// `path` holds something unusable.
    pub fn corrupt(path: &Path, message: impl std::fmt::Display) -> Self {
        StoreError::Corrupt { path: path.to_owned(), message: message.to_string() }
    }

    fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io { path: path.to_owned(), source }
    }
}

/// The content of `path`, or `None` when there is no such file.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(StoreError::io(path, err)),
    }
}

/// Replaces `path` with `content`, mode 0600, creating its directory (0700) if needed.
pub fn write_private(path: &Path, content: &[u8]) -> Result<(), StoreError> {
    orama_service::private_files::write_private(path, content).map_err(|e| StoreError::io(&e.path, e.source))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn writes_are_owner_only_and_replace_whole_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tls/acme/key.pem");
        assert!(read_optional(&path).expect("read").is_none());
        write_private(&path, b"first, longer content").expect("write");
        write_private(&path, b"second").expect("write");
        assert_eq!(read_optional(&path).expect("read").as_deref(), Some(&b"second"[..]));
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().expect("dir")), 0o700);
        assert!(!path.with_extension("partial").exists());
    }
}
