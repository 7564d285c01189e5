//! What dialling a target through an upstream gives: a byte stream ([`BoxIo`]), or why there
//! is none ([`DialError`]). Every upstream (the SOCKS5 client in [`crate::upstream`], arti
//! with the `arti` feature) makes these; the HTTP client and the control-port follower use
//! them.

use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream to a target.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A boxed [`Io`].
pub type BoxIo = Box<dyn Io>;

/// Why no connection to a target was made.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The upstream itself is down or refuses us (503).
    #[error("Anyone proxy not available at {addr}: {reason}")]
    Unavailable {
        /// The upstream's address (or `arti`).
        addr: String,
        /// Why.
        reason: String,
    },
    /// The upstream could not reach the target (502).
    #[error("{0}")]
    Failed(String),
}
