//! What the operator routes are built with.

use std::sync::Arc;

use super::keys::OperatorKeys;
use super::session::Sessions;
use super::snapshot::Sources;
use crate::http::rate_limit::RateLimits;

/// What the operator routes need.
#[derive(Debug, Clone)]
pub struct OperatorContext {
    /// This node's operator keys.
    pub keys: Arc<OperatorKeys>,
    /// Signs and checks the page's sessions.
    pub sessions: Sessions,
    /// Where the page's facts come from.
    pub sources: Sources,
    /// Failed sign-ins are charged to the client's address.
    pub limits: RateLimits,
    /// Whether the gateway serves TLS (the cookie is then `Secure`).
    pub secure_cookie: bool,
}
