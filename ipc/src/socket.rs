//! Socket naming and binding with owner-only permissions.
//!
//! The runtime directory is created `0700` and each socket is `0600`: only the node's user can
//! connect. A socket file left behind by a crashed process is detected (nobody accepts on it)
//! and replaced; one that a live process still serves is never stolen.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

use crate::error::IpcError;

/// The socket of `process` in `runtime_dir`: `<runtime_dir>/<process>.sock`.
///
/// ```
/// let path = orama_ipc::socket_path(std::path::Path::new("/run/orama"), "gateway");
/// assert_eq!(path, std::path::Path::new("/run/orama/gateway.sock"));
/// ```
pub fn socket_path(runtime_dir: &Path, process: &str) -> PathBuf {
    runtime_dir.join(format!("{process}.sock"))
}

/// The directory of the gateway's host-call socket: its own directory, so the WASM runner can be
/// shown it (and nothing else of the runtime directory), and so a restarted gateway's new socket
/// appears where the runner looks.
pub fn host_calls_dir(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("host")
}

/// The gateway's host-call socket, the only socket the WASM runner reaches.
pub fn host_calls_socket(runtime_dir: &Path) -> PathBuf {
    host_calls_dir(runtime_dir).join("gateway.sock")
}

/// Creates `dir` (and parents) if missing and restricts it to its owner.
pub fn ensure_private_dir(dir: &Path) -> Result<(), IpcError> {
    let fail = |source| IpcError::Socket { path: dir.to_path_buf(), source };
    std::fs::create_dir_all(dir).map_err(fail)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)
}

/// Binds a listener at `path` with mode `0600`, replacing a stale socket file.
///
/// Fails with [`IpcError::InUse`] when a live process accepts on `path`, and refuses to
/// remove anything that is not a socket.
pub fn bind(path: &Path) -> Result<UnixListener, IpcError> {
    let listener = bind_std(path)?;
    UnixListener::from_std(listener).map_err(|source| IpcError::Socket { path: path.to_path_buf(), source })
}

/// [`bind`] without an async runtime: a blocking-mode standard listener, for a process that
/// must bind before it starts any thread (the WASM runner, which then isolates itself).
/// Convert it with `tokio::net::UnixListener::from_std` once a runtime runs.
pub fn bind_std(path: &Path) -> Result<std::os::unix::net::UnixListener, IpcError> {
    let fail = |source| IpcError::Socket { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        ensure_private_dir(dir)?;
    }
    remove_stale(path)?;
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(fail)?;
    listener.set_nonblocking(true).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    Ok(listener)
}

/// Where a successor (started while its predecessor still serves) binds the socket `path`:
/// beside it. Renamed over `path` once the successor is ready ([`take_over`]), so connections
/// made from then on reach it and none finds the path missing; removed if it never is.
pub fn successor_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{name}.next"))
}

/// Moves the successor's socket over `path` (atomically: `rename`).
pub fn take_over(path: &Path) -> std::io::Result<()> {
    std::fs::rename(successor_path(path), path)
}

/// What identifies the socket file at `path` (its device and inode), if there is one.
pub fn socket_file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::symlink_metadata(path).ok().filter(|m| m.file_type().is_socket()).map(|m| (m.dev(), m.ino()))
}

/// Removes `path` if it is still the socket file `id` named when this process bound it: a
/// successor's socket, renamed over it since, is left alone.
pub fn remove_socket_if_same(path: &Path, id: Option<(u64, u64)>) {
    if id.is_some() && socket_file_id(path) == id {
        remove_socket(path);
    }
}

/// Removes `path` if it is a socket nobody accepts on. Leaves a live one alone.
fn remove_stale(path: &Path) -> Result<(), IpcError> {
    let fail = |source| IpcError::Socket { path: path.to_path_buf(), source };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(fail(err)),
    };
    if !meta.file_type().is_socket() {
        return Err(fail(std::io::Error::new(std::io::ErrorKind::AlreadyExists, "path exists and is not a socket")));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(IpcError::InUse(path.to_path_buf()));
    }
    std::fs::remove_file(path).map_err(fail)
}

/// Removes the socket file at `path` if it exists (used on clean shutdown).
pub fn remove_socket(path: &Path) {
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.file_type().is_socket()
    {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_owner_only_and_replaces_stale_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = socket_path(&dir.path().join("run"), "gateway");
        let first = bind(&path).expect("first bind");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(dir.path().join("run")).expect("meta").permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        assert!(matches!(bind(&path), Err(IpcError::InUse(_))), "live socket must not be stolen");
        drop(first);
        bind(&path).expect("stale socket replaced");
    }

    #[test]
    fn refuses_to_remove_a_regular_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.sock");
        std::fs::write(&path, b"data").expect("write");
        assert!(matches!(remove_stale(&path), Err(IpcError::Socket { .. })));
        assert!(path.exists());
    }
}
