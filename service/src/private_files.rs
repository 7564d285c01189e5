//! Files only the node's user may read (keys, secrets, passwords in config files): written
//! with mode 0600 in a 0700 directory, whole or not at all (a temporary file renamed into
//! place, so a crash mid-write never leaves a torn key). Used by the gateway's TLS store and
//! by `dev up`.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Why a private file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct FileError {
    /// The file (or directory) that failed.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

fn at(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError { path: path.to_path_buf(), source }
}

/// Replaces `path` with `content`, mode 0600, creating its directory (0700) if needed.
pub fn write_private(path: &Path, content: &[u8]) -> Result<(), FileError> {
    let temporary = path.with_extension("partial");
    // A leftover from a crash may have another mode: start afresh.
    let _ = std::fs::remove_file(&temporary);
    write_new_private(&temporary, content)?;
    std::fs::rename(&temporary, path).map_err(at(path))
}

/// Writes `content` to a new `path` (0600, its directory 0700); a file already there is kept
/// as it is. Returns whether this call wrote it.
pub fn write_new_private(path: &Path, content: &[u8]) -> Result<bool, FileError> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(at(dir))?;
    }
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut file) => file.write_all(content).and_then(|()| file.sync_all()).map(|()| true).map_err(at(path)),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(err) => Err(at(path)(err)),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn private_files_are_owner_only_replaced_whole_or_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/key");
        assert!(write_new_private(&path, b"first").expect("new"));
        assert!(!write_new_private(&path, b"other").expect("kept"));
        assert_eq!(std::fs::read(&path).expect("read"), b"first");
        write_private(&path, b"second").expect("replace");
        assert_eq!(std::fs::read(&path).expect("read"), b"second");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!((mode(&path), mode(path.parent().expect("dir"))), (0o600, 0o700));
    }
}
