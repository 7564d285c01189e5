//! What is left of a caller's rate-limit bucket, and the `RateLimit-*` headers that say it:
//! written on every reply to a caller with a limit, and on its 429s.

use warp::http::{HeaderMap, HeaderName};

/// What is left of a caller's bucket after a request, for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Bucket size.
    pub limit: u32,
    /// Requests left right now.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
}

/// Adds the `RateLimit-*` headers of `allowance`.
pub fn add_headers(headers: &mut HeaderMap, allowance: &Allowance) {
    const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
    const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
    const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
    headers.insert(LIMIT, allowance.limit.into());
    headers.insert(REMAINING, allowance.remaining.into());
    headers.insert(RESET, allowance.reset_secs.into());
}
