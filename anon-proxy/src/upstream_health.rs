//! What the proxy knows of its upstream's health: written by whatever follows the upstream
//! (the SOCKS5 checker that [`crate::run`] starts, or arti's bootstrap), read by
//! [`crate::proxy`] for `/ready` and the gateway's `/v1/status`.

/// What the proxy knows of its upstream.
#[derive(Debug, Clone, Default)]
pub struct UpstreamHealth {
    /// Whether the last check reached it.
    pub reachable: bool,
    /// Why not, when not.
    pub error: Option<String>,
}
