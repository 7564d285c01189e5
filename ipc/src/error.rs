//! Errors of the internal transport, typed so callers can tell "peer is down" from
//! "peer answered badly".

use std::path::PathBuf;

/// Everything that can go wrong binding, serving or calling an internal socket.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    /// The socket file could not be created, inspected or removed.
    #[error("socket {path}: {source}")]
    Socket {
        /// The socket path involved.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// Another live process already serves this socket.
    #[error("socket {0} is already served by a live process")]
    InUse(PathBuf),
    /// Connecting to the peer failed (it is not running, or the socket is stale).
    #[error("cannot connect to {path}: {source}")]
    Connect {
        /// The socket path involved.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The exchange did not finish within the client's timeout.
    #[error("request to {path} timed out after {after:?}")]
    Timeout {
        /// The socket path involved.
        path: PathBuf,
        /// The timeout that expired.
        after: std::time::Duration,
    },
    /// The HTTP exchange failed after connecting.
    #[error("request to {path} failed: {message}")]
    Http {
        /// The socket path involved.
        path: PathBuf,
        /// A description of the transport failure.
        message: String,
    },
    /// The peer answered with a non-success status.
    #[error("{path} answered {status}: {message}")]
    Status {
        /// The socket path involved.
        path: PathBuf,
        /// The HTTP status received.
        status: http::StatusCode,
        /// The `error` field of the body, or the raw body.
        message: String,
    },
    /// The peer's body was not the JSON expected.
    #[error("{path} sent an unreadable body: {source}")]
    Decode {
        /// The socket path involved.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
}

impl IpcError {
    /// True when the peer could not be reached at all (down, restarting, or hung), as opposed
    /// to a peer that answered. Callers map this to 503.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, IpcError::Connect { .. } | IpcError::Timeout { .. } | IpcError::Http { .. })
    }
}
