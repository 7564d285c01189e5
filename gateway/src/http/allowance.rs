//! What is left of a caller's rate-limit bucket, and the `RateLimit-*` headers that say it:
//! written on every reply to a caller with a limit, and on its 429s.

use warp::http::HeaderMap;

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
    headers.insert("ratelimit-limit", allowance.limit.into());
    headers.insert("ratelimit-remaining", allowance.remaining.into());
    headers.insert("ratelimit-reset", allowance.reset_secs.into());
}
