//! Token-bucket rate limits: one bucket per API key (or JWT subject) for authenticated calls,
//! one per client address for failed authentications and the public auth handshake, so neither
//! a busy tenant nor a key-guessing client can take the gateway from everyone else.
//! Refusals are 429 with `Retry-After`; every limited reply carries `RateLimit-*` headers.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::{StateInformationMiddleware, StateSnapshot};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use orama_service::config::{RateLimitsConfig, RateQuota};

use super::allowance::Allowance;
use super::error::ApiError;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// Who a bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// An API key, by id.
    Key(i64),
    /// A JWT subject within its namespace.
    Subject(Arc<str>),
}

/// The gateway's buckets.
#[derive(Clone)]
pub struct RateLimits {
    per_key: Option<Arc<Keyed<Caller>>>,
    per_ip: Option<Arc<Keyed<IpAddr>>>,
    quotas: RateLimitsConfig,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").field("quotas", &self.quotas).finish_non_exhaustive()
    }
}

impl RateLimits {
    /// Buckets with the configured quotas.
    pub fn new(config: &RateLimitsConfig) -> RateLimits {
        RateLimits {
            per_key: config.per_key.map(|q| Arc::new(RateLimiter::keyed(quota(q)).with_middleware())),
            per_ip: config.per_ip.map(|q| Arc::new(RateLimiter::keyed(quota(q)).with_middleware())),
            quotas: config.clone(),
        }
    }

    /// Charges one request to `caller`'s bucket.
    pub fn charge_caller(&self, caller: &Caller) -> Result<Option<Allowance>, ApiError> {
        match (&self.per_key, self.quotas.per_key) {
            (Some(limiter), Some(q)) => outcome(limiter.check_key(caller), q).map(Some),
            _ => Ok(None),
        }
    }

    /// Charges one request to the bucket of client address `ip` (its /64 for IPv6).
    pub fn charge_ip(&self, ip: IpAddr) -> Result<Option<Allowance>, ApiError> {
        match (&self.per_ip, self.quotas.per_ip) {
            (Some(limiter), Some(q)) => outcome(limiter.check_key(&client_bucket(ip)), q).map(Some),
            _ => Ok(None),
        }
    }

    /// Forgets buckets that are full again (run now and then to bound memory).
    pub fn forget_idle(&self) {
        if let Some(l) = &self.per_key {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_ip {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

/// The bucket of a client address: an IPv4 address is one client; an IPv6 client is its /64,
/// since one subscriber usually holds a whole /64 and could otherwise take a fresh bucket for
/// every request. IPv4-mapped IPv6 addresses count as their IPv4 address.
pub fn client_bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

fn quota(q: RateQuota) -> Quota {
    let per_second = NonZeroU32::new(q.per_second).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(NonZeroU32::new(q.burst).unwrap_or(per_second))
}

fn outcome(
    result: Result<StateSnapshot, governor::NotUntil<<DefaultClock as Clock>::Instant>>,
    q: RateQuota,
) -> Result<Allowance, ApiError> {
    match result {
        Ok(snapshot) => {
            let remaining = snapshot.remaining_burst_capacity();
            let reset_secs = u64::from(q.burst.saturating_sub(remaining)).div_ceil(u64::from(q.per_second.max(1)));
            Ok(Allowance { limit: q.burst, remaining, reset_secs })
        }
        Err(not_until) => {
            metrics::counter!("orama_http_rate_limited_total").increment(1);
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Err(ApiError::RateLimited { retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64, limit: q.burst })
        }
    }
}

/// Drops full rate-limit buckets every minute so their memory stays bounded.
pub async fn forget_idle_buckets(limits: RateLimits, shutdown: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => limits.forget_idle(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("address");
        assert_eq!(client_bucket(ip("2001:db8:1:2:aaaa::1")), client_bucket(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(client_bucket(ip("2001:db8:1:2::1")), client_bucket(ip("2001:db8:1:3::1")));
        assert_eq!(client_bucket(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_bucket(ip("192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn buckets_refuse_past_their_burst_and_are_separate() {
        let limits =
            RateLimits::new(&RateLimitsConfig { per_key: Some(RateQuota { per_second: 1, burst: 3 }), per_ip: None });
        let first = limits.charge_caller(&Caller::Key(1)).expect("allowed").expect("limited");
        assert_eq!((first.limit, first.remaining), (3, 2));
        limits.charge_caller(&Caller::Key(1)).expect("second");
        limits.charge_caller(&Caller::Key(1)).expect("third");
        let refused = limits.charge_caller(&Caller::Key(1)).expect_err("fourth");
        assert!(matches!(refused, ApiError::RateLimited { retry_after_secs: 1, limit: 3 }), "{refused:?}");
        assert!(limits.charge_caller(&Caller::Key(2)).is_ok(), "another key has its own bucket");
        assert_eq!(limits.charge_ip("10.0.0.1".parse().expect("ip")).expect("off"), None);
    }
}
