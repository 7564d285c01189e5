//! What is left of a caller's rate-limit bucket, and the `RateLimit-*` headers that say it:
//! written on every reply to a caller with a limit, and on its 429s. The numbers most replies
//! carry (below [`RENDERED`]) are rendered once per process, so the three headers cost no
//! allocation.

use std::sync::LazyLock;

use warp::http::{HeaderMap, HeaderName, HeaderValue};

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
    headers.insert(LIMIT, number(allowance.limit.into()));
    headers.insert(REMAINING, number(allowance.remaining.into()));
    headers.insert(RESET, number(allowance.reset_secs));
}

/// Numbers below this are rendered once.
const RENDERED: u64 = 1024;

/// `n` as a header value: from the rendered table when it is there.
fn number(n: u64) -> HeaderValue {
    static TABLE: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
        // One string of every number, leaked once (under 3 KB), so each value is a static slice of
        // it and cloning one copies a pointer.
        let digits: &'static str = Box::leak((0..RENDERED).map(|n| n.to_string()).collect::<String>().into_boxed_str());
        let mut start = 0;
        (0..RENDERED)
            .map(|n| {
                let width = n.checked_ilog10().map_or(1, |log| log as usize + 1);
                let value = HeaderValue::from_static(&digits[start..start + width]);
                start += width;
                value
            })
            .collect()
    });
    usize::try_from(n).ok().and_then(|i| TABLE.get(i)).cloned().unwrap_or_else(|| n.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_reads_as_itself() {
        for n in (0..1100).chain([u64::from(u32::MAX), u64::MAX]) {
            assert_eq!(number(n).to_str().ok(), Some(n.to_string().as_str()), "{n}");
        }
    }
}
